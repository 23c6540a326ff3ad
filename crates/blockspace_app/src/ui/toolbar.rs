//! The toolbar: add block (with its search window), undo/redo, run/cancel, auto-run, fit.

use std::sync::Arc;

use crate::app::{AddMenuAt, AppCommand, BlockspaceApp};
use crate::canvas::add_menu::add_block_list;
use crate::ui::ui_command::UiCommand;

impl BlockspaceApp {
    pub(crate) fn toolbar(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            let add = ui
                .button("➕ Add block")
                .on_hover_text(UiCommand::AddBlock.tooltip());
            if add.clicked() {
                self.push(AppCommand::Ui(UiCommand::AddBlock));
            }
            if let Some(at) = self.add_menu {
                self.add_block_window(ui, add.rect, at);
            }
            ui.separator();
            for c in [UiCommand::Undo, UiCommand::Redo] {
                let icon = if c == UiCommand::Undo {
                    "⟲ Undo"
                } else {
                    "⟳ Redo"
                };
                if ui
                    .add_enabled(self.command_enabled(c), egui::Button::new(icon))
                    .on_hover_text(c.tooltip())
                    .clicked()
                {
                    self.push(AppCommand::Ui(c));
                }
            }
            ui.separator();
            let running = self.tab().is_some_and(|t| t.run.active);
            if ui
                .button("▶ Run")
                .on_hover_text(format!("{} (F5)", UiCommand::Run.tooltip()))
                .clicked()
            {
                self.push(AppCommand::Ui(UiCommand::Run));
            }
            if ui
                .add_enabled(running, egui::Button::new("■ Cancel"))
                .on_hover_text(UiCommand::Cancel.tooltip())
                .clicked()
            {
                self.push(AppCommand::Ui(UiCommand::Cancel));
            }
            if let Some(tab) = self.tab() {
                let mut auto_run = tab.auto_run;
                if ui
                    .checkbox(&mut auto_run, "Auto-run")
                    .on_hover_text("Evaluate the page after every change")
                    .changed()
                {
                    self.push(AppCommand::SetAutoRun(auto_run));
                }
            }
            ui.separator();
            if ui
                .button("⛶ Fit")
                .on_hover_text(UiCommand::ZoomToFit.tooltip())
                .clicked()
            {
                self.push(AppCommand::Ui(UiCommand::ZoomToFit));
            }
        });
    }

    /// The search window, under the "Add block" button (a chosen type goes to a free spot
    /// near the centre of the view) or at a point on the canvas (the type goes there).
    fn add_block_window(&mut self, ui: &egui::Ui, button: egui::Rect, at: AddMenuAt) {
        let mut open = true;
        let reg = Arc::clone(&self.registry);
        let mut chosen = None;
        egui::Window::new("Add block")
            .id(egui::Id::new("add-block-window"))
            .open(&mut open)
            .collapsible(false)
            .resizable(false)
            .fixed_pos(match at {
                AddMenuAt::Toolbar => button.left_bottom() + egui::vec2(0.0, 4.0),
                AddMenuAt::Pointer(p) => p,
            })
            .show(ui.ctx(), |ui| {
                let focus = !ui.ctx().memory(|m| m.focused().is_some());
                chosen = add_block_list(ui, &reg, &mut self.add_search, focus, false);
                if ui.input(|i| i.key_pressed(egui::Key::Escape)) {
                    self.add_menu = None;
                }
            });
        if let Some(type_id) = chosen {
            let pos = self.tab().map_or([0.0, 0.0], |t| match at {
                AddMenuAt::Toolbar => t.geometry.free_spot_near_centre(),
                AddMenuAt::Pointer(p) => {
                    let g = t.geometry.to_screen.inverse() * p;
                    [g.x, g.y]
                }
            });
            self.push(AppCommand::AddBlock {
                type_id,
                pos,
                from: None,
                to: None,
            });
            self.add_menu = None;
        }
        if !open {
            self.add_menu = None;
        }
    }
}
