//! The result section of the side panel: the selected block's result (or why there is none),
//! which output to show, and the tensor viewer; its export button queues a file dialog.

use std::sync::Arc;

use crate::app::{AppCommand, BlockspaceApp};
use crate::panels::tensor_viewer::ViewerAction;
use crate::panels::view_prep::{Prepared, axes_of, hash_key};

impl BlockspaceApp {
    pub(crate) fn viewer_ui(&mut self, ui: &mut egui::Ui) {
        ui.heading("Result");
        let Some(tab) = self.tabs.get_mut(self.active) else {
            return;
        };
        let Some(id) = tab.selection.iter().next_back().copied() else {
            ui.weak("Select a block to see its result.");
            return;
        };
        let Some(block) = tab.page.block(id).cloned() else {
            return;
        };
        let desc = self.registry.get(&block.type_id);
        let Some(res) = tab.executor.result(id) else {
            if tab.run.active {
                ui.horizontal(|ui| {
                    ui.add(egui::Spinner::new());
                    ui.label("Computing…");
                });
            } else {
                ui.weak(format!(
                    "{} has no result yet. Press F5 to run the page.",
                    block.name
                ));
            }
            return;
        };
        let revision = res.revision;
        let outputs = match &res.outputs {
            Ok(o) => Arc::clone(o),
            Err(e) => {
                ui.colored_label(ui.visuals().error_fg_color, format!("⚠ {e}"));
                return;
            }
        };
        if outputs.is_empty() {
            ui.weak("This block has no outputs.");
            return;
        }
        if outputs.len() > 1 {
            ui.horizontal(|ui| {
                ui.label("output");
                for i in 0..outputs.len() {
                    let name = desc
                        .and_then(|d| d.outputs.get(i))
                        .map_or_else(|| i.to_string(), |p| p.name.to_owned());
                    ui.selectable_value(&mut tab.viewer_output, i, name);
                }
            });
        }
        let out_idx = tab.viewer_output.min(outputs.len() - 1);
        let Some(tensor) = outputs.get(out_idx) else {
            return;
        };
        let ptr = Arc::as_ptr(&outputs) as usize as u64;
        let key = hash_key(&(tab.uid, id.0, out_idx, revision, ptr));
        let rank = tensor.shape().len();
        let reg = &self.registry;
        let tab: &_ = tab;
        let vt = match self.view_prep.get(&self.ctx, key, &outputs, out_idx, || {
            axes_of(tab, reg, id, rank)
        }) {
            Prepared::Ready(vt) => vt,
            Prepared::Pending => {
                ui.horizontal(|ui| {
                    ui.add(egui::Spinner::new());
                    ui.label(format!("Preparing the view of {} elements…", tensor.len()));
                });
                return;
            }
            Prepared::Failed(e) => {
                ui.colored_label(ui.visuals().error_fg_color, e);
                return;
            }
        };
        let action = self.viewer.ui(ui, &vt);
        if action == Some(ViewerAction::ExportNpy) {
            let file_name = format!("{}.npy", block.name.replace(['/', '\\'], "_"));
            self.push(AppCommand::ExportNpy { file_name });
        }
    }
}
