//! Modal dialogs: errors, "save changes?", "quit?", "restore?", typed paths, tab renames, the
//! memory limit. The dialog's own text field is edited in place; every button pushes
//! [`AppCommand`]s (first [`AppCommand::CloseDialog`], then the action, so a dialog the action
//! opens, e.g. an error while saving, stays up).

use std::path::PathBuf;

use egui::RichText;

use crate::app::BlockspaceApp;
use crate::app::command::AppCommand;
pub use crate::app::dialog::Dialog;

impl BlockspaceApp {
    pub(crate) fn modals(&mut self, ctx: &egui::Context) {
        let Some(mut dialog) = self.dialog.take() else {
            return;
        };
        let mut close = false;
        let mut actions = Vec::new();
        let modal = egui::Modal::new(egui::Id::new("dialog")).show(ctx, |ui| {
            ui.set_max_width(520.0);
            self.dialog_ui(ui, &mut dialog, &mut close, &mut actions);
        });
        if modal.should_close() && !matches!(dialog, Dialog::Restore { .. }) {
            close = true;
        }
        self.dialog = Some(dialog);
        if close {
            self.push(AppCommand::CloseDialog);
        }
        for a in actions {
            self.push(a);
        }
    }

    fn dialog_ui(
        &self,
        ui: &mut egui::Ui,
        dialog: &mut Dialog,
        close: &mut bool,
        actions: &mut Vec<AppCommand>,
    ) {
        match dialog {
            Dialog::Error { title, message } => {
                ui.heading(title.as_str());
                ui.add_space(6.0);
                egui::ScrollArea::vertical()
                    .max_height(300.0)
                    .show(ui, |ui| {
                        ui.label(RichText::new(message.as_str()).monospace());
                    });
                ui.add_space(6.0);
                ui.horizontal(|ui| {
                    if ui.button("Copy message").clicked() {
                        ui.ctx().copy_text(format!("{title}\n{message}"));
                    }
                    if ui.button("OK").clicked() {
                        *close = true;
                    }
                });
            }
            Dialog::CloseTab { tab } => {
                let tab = *tab;
                let title = self
                    .tab_index(tab)
                    .map(|i| self.tabs[i].title.clone())
                    .unwrap_or_default();
                ui.heading(format!("Save changes to {title}?"));
                ui.label("Your changes will be lost if you close the page without saving.");
                ui.horizontal(|ui| {
                    if ui.button("Save").clicked() {
                        actions.push(AppCommand::SaveAndCloseTab(tab));
                        *close = true;
                    }
                    if ui.button("Close without saving").clicked() {
                        actions.push(AppCommand::CloseTabNow(tab));
                        *close = true;
                    }
                    if ui.button("Cancel").clicked() {
                        *close = true;
                    }
                });
            }
            Dialog::Quit => {
                ui.heading("Quit with unsaved changes?");
                for t in self.tabs.iter().filter(|t| t.is_dirty()) {
                    ui.label(format!("• {}", t.title));
                }
                ui.horizontal(|ui| {
                    if ui.button("Save all and quit").clicked() {
                        actions.push(AppCommand::SaveAllAndQuit);
                        *close = true;
                    }
                    if ui.button("Quit without saving").clicked() {
                        actions.push(AppCommand::QuitWithoutSaving);
                        *close = true;
                    }
                    if ui.button("Cancel").clicked() {
                        *close = true;
                    }
                });
            }
            Dialog::Restore { pages } => {
                ui.heading("Restore unsaved work?");
                ui.label(
                    "Blockspace did not close cleanly last time. These pages had unsaved changes:",
                );
                for p in pages.iter() {
                    let from = p
                        .origin
                        .as_ref()
                        .map_or_else(|| "never saved".to_owned(), |o| o.display().to_string());
                    ui.label(format!("• {} ({from})", p.title));
                }
                ui.horizontal(|ui| {
                    if ui.button("Restore").clicked() {
                        actions.push(AppCommand::Restore(pages.clone()));
                        *close = true;
                    }
                    if ui.button("Discard").clicked() {
                        actions.push(AppCommand::DiscardRecovery);
                        *close = true;
                    }
                });
            }
            Dialog::PathPrompt { save_as, text } => {
                let save_as = *save_as;
                ui.heading(if save_as {
                    "Save page to path"
                } else {
                    "Open page from path"
                });
                let r = ui.add(egui::TextEdit::singleline(text).desired_width(460.0));
                if !r.has_focus() && !r.lost_focus() {
                    r.request_focus();
                }
                let enter = ui.input(|i| i.key_pressed(egui::Key::Enter));
                ui.horizontal(|ui| {
                    let label = if save_as { "Save" } else { "Open" };
                    if (ui.button(label).clicked() || enter) && !text.trim().is_empty() {
                        *close = true;
                        let path = PathBuf::from(text.trim());
                        actions.push(if save_as {
                            AppCommand::SaveActiveTo(path)
                        } else {
                            AppCommand::OpenPath(path)
                        });
                    }
                    if ui.button("Cancel").clicked() {
                        *close = true;
                    }
                });
            }
            Dialog::MemoryLimit { text, error } => {
                ui.heading("Memory limit");
                ui.label(format!("In effect: {}", self.memory_budget()));
                ui.add_space(4.0);
                ui.label(
                    "The memory a whole run may take: every result kept for the viewer and each \
                     convolution's workspace. A page that does not fit is not run, and the block \
                     that takes it over says so. Kept for the next start.",
                );
                ui.add_space(6.0);
                let enter = ui.horizontal(|ui| {
                    let label = ui.label("Limit");
                    let r = ui
                        .add(egui::TextEdit::singleline(text).hint_text("e.g. 4GiB, 512MiB"))
                        .labelled_by(label.id);
                    r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter))
                });
                if let Some(e) = error {
                    ui.colored_label(ui.visuals().error_fg_color, e.as_str());
                }
                ui.horizontal(|ui| {
                    if ui.button("Set").clicked() || enter.inner {
                        match blockspace_graph::parse_size(text) {
                            Ok(bytes) => {
                                actions.push(AppCommand::SetMemoryLimit(Some(bytes)));
                                *close = true;
                            }
                            Err(e) => *error = Some(e),
                        }
                    }
                    if ui
                        .button("Use default")
                        .on_hover_text("BLOCKSPACE_MEMORY_LIMIT if it was set at start, else a fraction of the machine's memory")
                        .clicked()
                    {
                        actions.push(AppCommand::SetMemoryLimit(None));
                        *close = true;
                    }
                    if ui.button("Cancel").clicked() {
                        *close = true;
                    }
                });
            }
            Dialog::RenameTab { tab, text } => {
                let tab = *tab;
                ui.heading("Rename page");
                let r = ui.text_edit_singleline(text);
                if !r.has_focus() && !r.lost_focus() {
                    r.request_focus();
                }
                let enter = ui.input(|i| i.key_pressed(egui::Key::Enter));
                ui.horizontal(|ui| {
                    if (ui.button("Rename").clicked() || enter) && !text.trim().is_empty() {
                        actions.push(AppCommand::RenameTab {
                            tab,
                            title: text.trim().to_owned(),
                        });
                        *close = true;
                    }
                    if ui.button("Cancel").clicked() {
                        *close = true;
                    }
                });
            }
        }
    }
}
