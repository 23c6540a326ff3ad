//! The result section: the selected block's result (or why there is none), which output to
//! show, the volume viewer (in the side panel or popped out into its own window), and the
//! viewer's requests (export, pick a `.npy` reference) turned into commands.

use std::sync::Arc;

use crate::app::{AppCommand, BlockspaceApp, PageTab};
use crate::panels::view_prep::{axes_of, hash_key};
use crate::panels::viewer::{Reference, Shown, TensorRef, ViewerAction, Volume};

impl BlockspaceApp {
    pub(crate) fn viewer_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.heading("Result");
            let (text, tip) = if self.viewer.popped_out {
                ("Dock ↙", "Put the viewer back into the side panel")
            } else {
                (
                    "Pop out ↗",
                    "Show the viewer in its own, bigger window (the canvas keeps working)",
                )
            };
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if ui.button(text).on_hover_text(tip).clicked() {
                    self.viewer.popped_out = !self.viewer.popped_out;
                }
            });
        });
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
        let port_name = |i: usize| {
            desc.and_then(|d| d.outputs.get(i))
                .map_or_else(|| i.to_string(), |p| p.name.to_owned())
        };
        if outputs.len() > 1 {
            ui.horizontal(|ui| {
                ui.label("output");
                for i in 0..outputs.len() {
                    ui.selectable_value(&mut tab.viewer_output, i, port_name(i));
                }
            });
        }
        let out_idx = tab.viewer_output.min(outputs.len() - 1);
        let Some(a) = TensorRef::new(Arc::clone(&outputs), out_idx) else {
            return;
        };
        let ptr = Arc::as_ptr(&outputs) as usize as u64;
        let key = hash_key(&(tab.uid, id.0, out_idx, revision, ptr));
        let rank = a.tensor().shape().len();
        let tab: &PageTab = tab;
        let names = axes_of(tab, &self.registry, id, rank);
        let shown = Shown {
            volume: Volume::new(key, a.clone(), &names),
            label: format!("{}:{}", block.name, port_name(out_idx)),
            candidates: candidates(tab, &self.registry, &a),
        };
        let action = self.viewer.ui(ui, &shown);
        match action {
            Some(ViewerAction::ExportNpy) => {
                let file_name = format!("{}.npy", block.name.replace(['/', '\\'], "_"));
                self.push(AppCommand::ExportNpy { file_name });
            }
            Some(ViewerAction::PickReferenceNpy) => self.push(AppCommand::PickReferenceNpy),
            None => {}
        }
    }

    /// The viewer in its own window (when popped out); closing the window docks it again.
    pub(crate) fn viewer_window(&mut self, ctx: &egui::Context) {
        if !self.viewer.popped_out {
            return;
        }
        let id = egui::ViewportId::from_hash_of("blockspace-viewer");
        let builder = egui::ViewportBuilder::default()
            .with_title("Blockspace — result viewer")
            .with_inner_size([960.0, 860.0]);
        ctx.show_viewport_immediate(id, builder, |ui, _class| {
            egui::CentralPanel::default().show(ui, |ui| {
                egui::ScrollArea::vertical()
                    .id_salt("viewer-window-scroll")
                    .auto_shrink([false, false])
                    .show(ui, |ui| {
                        self.viewer.plane_max = 420.0;
                        self.viewer_ui(ui);
                    });
            });
            if ui.ctx().input(|i| i.viewport().close_requested()) {
                self.viewer.popped_out = false;
            }
        });
    }
}

/// Other outputs on the page with the shape of `a` (to compare with).
fn candidates(tab: &PageTab, reg: &blockspace_graph::Registry, a: &TensorRef) -> Vec<Reference> {
    let shape = a.tensor().shape();
    let mut out = Vec::new();
    for b in tab.page.blocks() {
        let Some(Ok(outs)) = tab.executor.result(b.id).map(|r| &r.outputs) else {
            continue;
        };
        for (j, t) in outs.iter().enumerate() {
            if t.shape() != shape {
                continue;
            }
            let Some(r) = TensorRef::new(Arc::clone(outs), j) else {
                continue;
            };
            if r.same(a) {
                continue;
            }
            let port = reg
                .get(&b.type_id)
                .and_then(|d| d.outputs.get(j))
                .map_or_else(|| j.to_string(), |p| p.name.to_owned());
            out.push(Reference {
                label: format!("{}:{port}", b.name),
                tensor: r,
            });
        }
    }
    out
}
