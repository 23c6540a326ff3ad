//! Draining the intent queue: the one place where [`AppCommand`]s change the app's state, once
//! per frame, after everything is drawn. A command that opens a dialog (e.g. an error while
//! saving) simply queues nothing more: later commands see the new state, so no re-entry guard
//! is needed.

use std::sync::Arc;

use blockspace_graph::BlockId;

use crate::app::file_dialogs::{DialogPurpose, with_page_suffix};
use crate::app::{AppCommand, BlockspaceApp, PageTab};
use crate::ui::ui_command::UiCommand;

impl BlockspaceApp {
    /// Applies every queued command, in order. Commands queued while draining (none today)
    /// wait for the next frame.
    pub fn drain_commands(&mut self) {
        let commands = std::mem::take(&mut self.commands);
        if commands.is_empty() {
            return;
        }
        for c in commands {
            self.handle(c);
        }
        // Show the result now, not at the next input event.
        self.ctx.request_repaint();
    }

    /// Applies one command now.
    pub fn handle(&mut self, cmd: AppCommand) {
        match cmd {
            AppCommand::Ui(c) => self.run_command(c),
            AppCommand::Edit(e) => {
                self.apply_edit(e);
            }
            AppCommand::AddBlock {
                type_id,
                pos,
                from,
                to,
            } => {
                self.add_block(&type_id, pos, from, to);
            }
            AppCommand::OpenAddMenu(at) => self.add_menu = Some(at),
            AppCommand::Delete(ids) => self.delete(&ids),
            AppCommand::Duplicate(ids) => self.duplicate(&ids),
            AppCommand::Copy(ids) => self.copy(&ids),
            AppCommand::RenameBlock(id) => {
                if let Some(tab) = self.tab_mut() {
                    tab.selection = [id].into_iter().collect();
                }
                self.inspector.focus_name = true;
            }
            AppCommand::PasteText(text) => self.paste_text(&text),
            AppCommand::PickAttrPath { tab, block, attr } => {
                let dir = self.tab().and_then(PageTab::base_dir);
                let purpose = DialogPurpose::AttrPath { tab, block, attr };
                if let Err(e) = self.dialogs.spawn(&self.ctx, purpose, dir, None) {
                    self.error("Choose a file", &e.to_string());
                }
            }
            AppCommand::ExportNpy { file_name } => {
                let dir = self.tab().and_then(PageTab::base_dir);
                if let Err(e) =
                    self.dialogs
                        .spawn(&self.ctx, DialogPurpose::ExportNpy, dir, Some(file_name))
                {
                    self.error("Export", &e.to_string());
                }
            }
            AppCommand::PickReferenceNpy => {
                let dir = self.tab().and_then(PageTab::base_dir);
                if let Err(e) =
                    self.dialogs
                        .spawn(&self.ctx, DialogPurpose::ReferenceNpy, dir, None)
                {
                    self.error("Compare", &e.to_string());
                }
            }
            AppCommand::LoadReference(path) => self.viewer.load_reference(path),
            AppCommand::FileDialogAnswer(a) => self.handle_dialog_answer(a),
            AppCommand::OpenPath(p) => {
                self.open_path(&p);
            }
            AppCommand::OpenRecent(p) => {
                if !self.open_path(&p) {
                    self.recent.remove(&p);
                }
            }
            AppCommand::OpenDemo => self.open_demo(),
            AppCommand::SaveActiveTo(p) => {
                self.save_tab_to(self.active, &with_page_suffix(&p));
            }
            AppCommand::ActivateTab(i) => {
                if i < self.tabs.len() {
                    self.active = i;
                }
            }
            AppCommand::MoveTab { from, to } => self.move_tab(from, to),
            AppCommand::CloseTab(i) => self.request_close_tab(i),
            AppCommand::CloseTabNow(tab) => {
                if let Some(i) = self.tab_index(tab) {
                    self.close_tab_now(i);
                }
            }
            AppCommand::SaveAndCloseTab(tab) => {
                if let Some(i) = self.tab_index(tab) {
                    self.active = i;
                    self.save_active(false, true);
                }
            }
            AppCommand::RenameTab { tab, title } => {
                if let Some(i) = self.tab_index(tab) {
                    self.tabs[i].title.clone_from(&title);
                    self.tabs[i].page.set_name(title);
                }
            }
            AppCommand::SetAutoRun(on) => {
                if let Some(tab) = self.tab_mut() {
                    tab.auto_run = on;
                }
            }
            AppCommand::SetMemoryLimit(limit) => self.set_memory_limit(limit),
            AppCommand::ShowDialog(d) => self.dialog = Some(d),
            AppCommand::CloseDialog => self.dialog = None,
            AppCommand::Restore(pages) => self.restore(&pages),
            AppCommand::DiscardRecovery => self.recovery.discard_orphans(),
            AppCommand::SaveAllAndQuit => {
                self.quitting = true;
                let dirty: Vec<usize> = (0..self.tabs.len())
                    .filter(|&i| self.tabs[i].is_dirty())
                    .collect();
                for i in dirty {
                    self.active = i;
                    self.save_active(false, false);
                }
                if !self.tabs.iter().any(PageTab::is_dirty) {
                    self.ctx.send_viewport_cmd(egui::ViewportCommand::Close);
                }
            }
            AppCommand::QuitWithoutSaving => {
                for t in &mut self.tabs {
                    t.saved_revision = Some(t.page.revision());
                }
                self.recovery.clear_own();
                self.ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            }
            AppCommand::Quit => self.ctx.send_viewport_cmd(egui::ViewportCommand::Close),
        }
    }

    /// Runs a menu, toolbar or keyboard command now.
    pub fn run_command(&mut self, c: UiCommand) {
        let reg = Arc::clone(&self.registry);
        let selection: Vec<BlockId> = self
            .tab()
            .map(|t| t.selection.iter().copied().collect())
            .unwrap_or_default();
        match c {
            UiCommand::NewPage => self.new_page(),
            UiCommand::Open => {
                let dir = self.tab().and_then(PageTab::base_dir);
                if let Err(e) = self
                    .dialogs
                    .spawn(&self.ctx, DialogPurpose::Open, dir, None)
                {
                    self.error("Open", &e.to_string());
                }
            }
            UiCommand::Save => self.save_active(false, false),
            UiCommand::SaveAs => self.save_active(true, false),
            UiCommand::CloseTab => self.request_close_tab(self.active),
            UiCommand::Undo => {
                if let Some(tab) = self.tabs.get_mut(self.active) {
                    match tab.undo(&reg) {
                        Some(l) => self.info(format!("Undid {l}")),
                        None => self.info("Nothing to undo".to_owned()),
                    }
                }
            }
            UiCommand::Redo => {
                if let Some(tab) = self.tabs.get_mut(self.active) {
                    match tab.redo(&reg) {
                        Some(l) => self.info(format!("Redid {l}")),
                        None => self.info("Nothing to redo".to_owned()),
                    }
                }
            }
            UiCommand::Copy => self.copy(&selection),
            UiCommand::Cut => {
                self.copy(&selection);
                self.delete(&selection);
            }
            UiCommand::Paste => self.paste(),
            UiCommand::Duplicate => self.duplicate(&selection),
            UiCommand::Delete => self.delete(&selection),
            UiCommand::SelectAll => {
                if let Some(tab) = self.tab_mut() {
                    tab.selection = tab.page.blocks().map(|b| b.id).collect();
                }
            }
            UiCommand::Run => {
                let registry = Arc::clone(&self.registry);
                if let Some(tab) = self.tab_mut() {
                    tab.run_now(&registry);
                }
            }
            UiCommand::Cancel => {
                if let Some(tab) = self.tab() {
                    tab.executor.cancel();
                }
            }
            UiCommand::ZoomToFit => {
                if let Some(tab) = self.tab_mut() {
                    tab.fit_in_frames = Some(0);
                }
            }
            UiCommand::AddBlock => self.add_menu = Some(super::command::AddMenuAt::Toolbar),
            UiCommand::ExportPython(framework) => {
                let Some(tab) = self.tab() else { return };
                let purpose = DialogPurpose::ExportPython {
                    tab: tab.uid,
                    framework,
                };
                let name = format!("{}_{}.py", tab.title, framework.as_str());
                let dir = tab.base_dir();
                if let Err(e) = self.dialogs.spawn(&self.ctx, purpose, dir, Some(name)) {
                    self.error("Export as Python", &e.to_string());
                }
            }
            UiCommand::CopyPython(framework) => self.copy_python(&selection, framework),
        }
    }

    /// Whether a menu command can run now (greys out menu entries and buttons).
    pub(crate) fn command_enabled(&self, c: UiCommand) -> bool {
        let Some(tab) = self.tab() else {
            return matches!(c, UiCommand::NewPage | UiCommand::Open);
        };
        match c {
            UiCommand::Undo => tab.history.can_undo(),
            UiCommand::Redo => tab.history.can_redo(),
            UiCommand::Copy | UiCommand::Cut | UiCommand::Duplicate | UiCommand::Delete => {
                !tab.selection.is_empty()
            }
            UiCommand::Paste => self.clipboard.is_some(),
            UiCommand::CopyPython(_) => !tab.selection.is_empty(),
            UiCommand::Cancel => tab.executor.is_running(),
            _ => true,
        }
    }
}
