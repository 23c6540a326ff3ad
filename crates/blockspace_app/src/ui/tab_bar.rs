//! The tab bar: one tab per open page; click to show, double-click to rename, drag to move,
//! × to close.

use egui::RichText;

use crate::app::dialog::Dialog;
use crate::app::{AppCommand, BlockspaceApp};
use crate::ui::ui_command::UiCommand;

impl BlockspaceApp {
    pub(crate) fn tab_bar(&mut self, ui: &mut egui::Ui) {
        let mut close = None;
        let mut activate = None;
        let mut rename = None;
        let mut swap = None;
        let mut new_page = false;
        let mut rects = Vec::with_capacity(self.tabs.len());
        ui.horizontal_wrapped(|ui| {
            let n = self.tabs.len();
            for (i, t) in self.tabs.iter().enumerate() {
                let selected = i == self.active;
                let title = t.display_title();
                let r = ui
                    .selectable_label(selected, RichText::new(&title).strong())
                    .interact(egui::Sense::drag());
                rects.push(r.rect);
                if r.drag_started() {
                    self.tab_drag = Some(i);
                }
                let tip = match &t.path {
                    Some(p) => p.display().to_string(),
                    None => "not saved yet".to_owned(),
                };
                let r = r.on_hover_text(format!(
                    "{tip}\nDrag to move; double-click to rename; right-click for more"
                ));
                if r.clicked() {
                    activate = Some(i);
                }
                if r.double_clicked() {
                    rename = Some(i);
                }
                r.context_menu(|ui| {
                    if ui.button("Rename…").clicked() {
                        rename = Some(i);
                        ui.close();
                    }
                    if ui
                        .add_enabled(i > 0, egui::Button::new("Move left"))
                        .clicked()
                    {
                        swap = Some((i, i - 1));
                        ui.close();
                    }
                    if ui
                        .add_enabled(i + 1 < n, egui::Button::new("Move right"))
                        .clicked()
                    {
                        swap = Some((i, i + 1));
                        ui.close();
                    }
                    if ui.button("Close").clicked() {
                        close = Some(i);
                        ui.close();
                    }
                });
                let x = ui
                    .small_button("×")
                    .on_hover_text(format!("Close {}", t.title));
                if x.clicked() {
                    close = Some(i);
                }
                // A tab's place in the bar spans its label and its close button.
                rects[i] = rects[i].union(x.rect);
                ui.separator();
            }
            if ui
                .button("+")
                .on_hover_text(UiCommand::NewPage.tooltip())
                .clicked()
            {
                new_page = true;
            }
        });
        if new_page {
            self.push(AppCommand::Ui(UiCommand::NewPage));
        }
        if let Some(i) = activate {
            self.push(AppCommand::ActivateTab(i));
        }
        if let Some(i) = rename
            && let Some(t) = self.tabs.get(i)
        {
            let dialog = Dialog::RenameTab {
                tab: t.uid,
                text: t.title.clone(),
            };
            self.push(AppCommand::ShowDialog(dialog));
        }
        if let Some(from) = self.tab_drag {
            self.drag_tab(ui, from, &rects);
        }
        if let Some((from, to)) = swap {
            self.push(AppCommand::MoveTab { from, to });
        }
        if let Some(i) = close {
            self.push(AppCommand::CloseTab(i));
        }
    }

    /// While tab `from` is dragged: marks where it would land (the tab under the pointer,
    /// `rects` being the tabs' places) and moves it there on release.
    fn drag_tab(&mut self, ui: &egui::Ui, from: usize, rects: &[egui::Rect]) {
        let (pointer, down) = ui.input(|i| (i.pointer.interact_pos(), i.pointer.primary_down()));
        let target = pointer.and_then(|p| {
            rects
                .iter()
                .enumerate()
                .min_by(|(_, a), (_, b)| a.center().distance(p).total_cmp(&b.center().distance(p)))
                .map(|(i, _)| i)
        });
        match (target, down) {
            (Some(to), true) if to != from && from < rects.len() => {
                // A bar on the side of the target tab where the dragged one would go.
                let r = rects[to];
                let x = if to > from {
                    r.right() + 2.0
                } else {
                    r.left() - 2.0
                };
                ui.painter().vline(
                    x,
                    r.y_range(),
                    egui::Stroke::new(2.0, ui.visuals().selection.stroke.color),
                );
            }
            (_, true) => {}
            (target, false) => {
                if let Some(to) = target {
                    self.push(AppCommand::MoveTab { from, to });
                }
                self.tab_drag = None;
            }
        }
    }
}
