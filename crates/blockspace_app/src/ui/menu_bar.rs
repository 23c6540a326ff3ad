//! The menu bar: File, Edit, View, Run, Help.

use blockspace_graph::Framework;
use egui::RichText;

use crate::app::dialog::Dialog;
use crate::app::file_dialogs::PAGE_SUFFIX;
use crate::app::{AppCommand, BlockspaceApp, PageTab};
use crate::ui::ui_command::UiCommand;

impl BlockspaceApp {
    pub(crate) fn menu_bar(&mut self, ui: &mut egui::Ui) {
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("File", |ui| self.file_menu(ui));
            ui.menu_button("Edit", |ui| self.edit_menu(ui));
            ui.menu_button("View", |ui| {
                if UiCommand::ZoomToFit.menu_button(ui, true) {
                    self.push(AppCommand::Ui(UiCommand::ZoomToFit));
                }
                ui.checkbox(
                    &mut self.viewer.thumbnails.enabled,
                    "Result previews on blocks",
                )
                .on_hover_text(
                    "Show a small picture of each block's output on the canvas (the middle \
                     slice, in the viewer's colours)",
                );
                ui.separator();
                ui.label("Theme");
                let mut pref = ui.ctx().options(|o| o.theme_preference);
                ui.horizontal(|ui| {
                    ui.selectable_value(&mut pref, egui::ThemePreference::Light, "Light");
                    ui.selectable_value(&mut pref, egui::ThemePreference::Dark, "Dark");
                    ui.selectable_value(&mut pref, egui::ThemePreference::System, "System");
                });
                if pref != ui.ctx().options(|o| o.theme_preference) {
                    ui.ctx().set_theme(pref);
                }
                ui.separator();
                ui.label("Interface scale");
                let zoom = ui.ctx().zoom_factor();
                ui.horizontal(|ui| {
                    for z in [1.0_f32, 1.25, 1.5, 2.0] {
                        if ui
                            .selectable_label((zoom - z).abs() < 0.01, format!("{:.0}%", z * 100.0))
                            .clicked()
                        {
                            ui.ctx().set_zoom_factor(z);
                        }
                    }
                });
            });
            ui.menu_button("Run", |ui| {
                for c in [UiCommand::Run, UiCommand::Cancel] {
                    if c.menu_button(ui, self.command_enabled(c)) {
                        self.push(AppCommand::Ui(c));
                    }
                }
                if let Some(tab) = self.tab() {
                    let mut auto_run = tab.auto_run;
                    if ui
                        .checkbox(&mut auto_run, "Run automatically after each change")
                        .changed()
                    {
                        self.push(AppCommand::SetAutoRun(auto_run));
                    }
                }
                ui.separator();
                if ui
                    .button("Memory limit…")
                    .on_hover_text(format!(
                        "The memory a whole run may take; a page that does not fit is not run.\nNow: {}",
                        self.memory_budget()
                    ))
                    .clicked()
                {
                    // The limit set before, as a size when that reads back exactly.
                    let text = self.settings.memory_limit.map_or_else(String::new, |b| {
                        let shown = blockspace_graph::format_size(b);
                        if blockspace_graph::parse_size(&shown) == Ok(b) {
                            shown
                        } else {
                            b.to_string()
                        }
                    });
                    self.push(AppCommand::ShowDialog(Dialog::MemoryLimit { text, error: None }));
                    ui.close();
                }
            });
            ui.menu_button("Help", |ui| {
                ui.label(RichText::new("Blockspace").strong());
                ui.label("Right-click the canvas (or press Shift+A) to add a block.");
                ui.label("Drag from an output pin to an input pin to wire them.");
                ui.label("Shift+drag on the canvas selects a box of blocks.");
                ui.label("Right-click a wire or a pin to disconnect it.");
                ui.label(
                    "Double-click a tab to rename it; drag the canvas or scroll to pan, \
                     Ctrl+scroll to zoom.",
                );
            });
        });
    }

    fn file_menu(&mut self, ui: &mut egui::Ui) {
        for c in [UiCommand::NewPage, UiCommand::Open] {
            if c.menu_button(ui, true) {
                self.push(AppCommand::Ui(c));
            }
        }
        ui.menu_button("Open recent", |ui| {
            if self.recent.paths.is_empty() {
                ui.weak("No recent files");
            }
            let mut chosen = None;
            for p in &self.recent.paths {
                if ui.button(p.display().to_string()).clicked() {
                    chosen = Some(p.clone());
                }
            }
            if let Some(p) = chosen {
                self.push(AppCommand::OpenRecent(p));
                ui.close();
            }
        });
        if ui
            .button("Open by path…")
            .on_hover_text("Type the path of a page file (when no file dialog is available)")
            .clicked()
        {
            let dir = self.tab().and_then(PageTab::base_dir).unwrap_or_default();
            self.push(AppCommand::ShowDialog(Dialog::PathPrompt {
                save_as: false,
                text: dir.join("").display().to_string(),
            }));
        }
        if ui.button("Open demo page").clicked() {
            self.push(AppCommand::OpenDemo);
        }
        ui.separator();
        for c in [UiCommand::Save, UiCommand::SaveAs] {
            if c.menu_button(ui, true) {
                self.push(AppCommand::Ui(c));
            }
        }
        if ui
            .button("Save to path…")
            .on_hover_text("Type the file path to save to (when no file dialog is available)")
            .clicked()
        {
            let text = self.tab().map_or_else(String::new, |t| match &t.path {
                Some(p) => p.display().to_string(),
                None => format!("{}{}", t.title, PAGE_SUFFIX),
            });
            self.push(AppCommand::ShowDialog(Dialog::PathPrompt {
                save_as: true,
                text,
            }));
        }
        ui.menu_button("Export as Python…", |ui| {
            for f in Framework::ALL {
                let c = UiCommand::ExportPython(f);
                if c.menu_button(ui, self.command_enabled(c)) {
                    self.push(AppCommand::Ui(c));
                }
            }
        });
        if UiCommand::CloseTab.menu_button(ui, true) {
            self.push(AppCommand::Ui(UiCommand::CloseTab));
        }
        ui.separator();
        if ui.button("Quit").clicked() {
            self.push(AppCommand::Quit);
        }
    }

    fn edit_menu(&mut self, ui: &mut egui::Ui) {
        let undo = self
            .tab()
            .and_then(|t| t.history.undo_label().map(str::to_owned));
        let redo = self
            .tab()
            .and_then(|t| t.history.redo_label().map(str::to_owned));
        for c in [UiCommand::Undo, UiCommand::Redo] {
            let enabled = self.command_enabled(c);
            let detail = if c == UiCommand::Undo { &undo } else { &redo };
            let mut b = egui::Button::new(match detail {
                Some(l) => format!("{} {l}", c.text()),
                None => c.text().to_owned(),
            });
            if let Some(sc) = c.shortcut() {
                b = b.shortcut_text(ui.ctx().format_shortcut(&sc));
            }
            if ui
                .add_enabled(enabled, b)
                .on_hover_text(c.tooltip())
                .clicked()
            {
                self.push(AppCommand::Ui(c));
            }
        }
        ui.separator();
        for c in [
            UiCommand::Cut,
            UiCommand::Copy,
            UiCommand::Paste,
            UiCommand::Duplicate,
            UiCommand::Delete,
            UiCommand::SelectAll,
            UiCommand::CopyPython(Framework::TensorFlow),
            UiCommand::CopyPython(Framework::PyTorch),
        ] {
            if c.menu_button(ui, self.command_enabled(c)) {
                self.push(AppCommand::Ui(c));
            }
        }
    }
}
