//! The side panel: the inspector on top, the result viewer below, and the background
//! preparation of big tensors for the viewer.
//!
//! | file | concern |
//! |---|---|
//! | `mod.rs` | the side panel's layout and the inspector's glue |
//! | `inspector.rs` | the inspector widget (attribute editors; edits buffered until released) |
//! | `number_text.rs` | numbers typed into the inspector: whole numbers exact, decimals as floats |
//! | `result.rs` | the result section: which output, its state, export, the pop-out window |
//! | `view_prep.rs` | a shown result's key and axis names |
//! | `viewer/` | the volume viewer (planes, montage, projection, histogram, compare) |

pub mod inspector;
pub mod number_text;
pub mod result;
pub mod view_prep;
pub mod viewer;

use std::sync::Arc;

use blockspace_graph::{BlockId, OutPort, Registry, TensorMeta};

use crate::app::{BlockspaceApp, PageTab};

impl BlockspaceApp {
    pub(crate) fn side_panel(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        if self.viewer.popped_out {
            self.viewer_window(&ctx);
        }
        if self.viewer.popped_out {
            // The viewer has its own window: the inspector takes the panel, the result one line
            // at the bottom.
            egui::Panel::bottom("side-result-docked")
                .frame(egui::Frame::NONE)
                .show(ui, |ui| {
                    ui.add_space(4.0);
                    ui.horizontal(|ui| {
                        ui.heading("Result");
                        if ui
                            .button("Dock ↙")
                            .on_hover_text("Put the viewer back into the side panel")
                            .clicked()
                        {
                            self.viewer.popped_out = false;
                        }
                    });
                    ui.weak("The result viewer is in its own window.");
                });
            self.inspector_scroll(ui);
            return;
        }
        // Inspector on top, result below, with a divider the user drags (the inspector starts
        // at 36 % of the height); each scrolls on its own.
        let height = ui.available_height();
        let min = 120.0_f32.min(height * 0.5);
        egui::Panel::top("side-inspector")
            .resizable(true)
            .default_size((height * 0.36).max(min))
            .size_range(min..=(height - min).max(min))
            .frame(egui::Frame::NONE)
            .show(ui, |ui| self.inspector_scroll(ui));
        ui.add_space(4.0);
        // Planes fit the panel; the pop-out window gives them more room.
        self.viewer.plane_max = 260.0;
        egui::ScrollArea::vertical()
            .id_salt("viewer-scroll")
            .auto_shrink([false, false])
            .show(ui, |ui| self.viewer_ui(ui));
    }

    /// The inspector in a scroll area filling `ui`.
    fn inspector_scroll(&mut self, ui: &mut egui::Ui) {
        egui::ScrollArea::vertical()
            .id_salt("inspector-scroll")
            .auto_shrink([false, false])
            .show(ui, |ui| self.inspector_ui(ui));
    }

    fn inspector_ui(&mut self, ui: &mut egui::Ui) {
        let reg = Arc::clone(&self.registry);
        ui.heading("Inspector");
        let Some(tab) = self.tabs.get_mut(self.active) else {
            return;
        };
        let selected = if tab.selection.len() == 1 {
            tab.selection.iter().next().copied()
        } else {
            None
        };
        if self.inspected != selected.map(|s| (tab.uid, s)) {
            self.inspector.retain_block(tab.uid, selected);
            self.inspected = selected.map(|s| (tab.uid, s));
            tab.viewer_output = 0;
        }
        match selected.and_then(|id| tab.page.block(id).cloned()) {
            Some(block) => {
                let inputs_meta = input_metas(tab, &reg, block.id);
                let outputs = tab.block_check(&reg, block.id);
                let page = &tab.page;
                let taken = |n: &str| page.blocks().any(|b| b.name == n);
                self.inspector.ui(
                    ui,
                    tab.uid,
                    &reg,
                    &block,
                    &taken,
                    &inputs_meta,
                    outputs.as_ref(),
                    &mut self.commands,
                );
            }
            None => {
                if tab.selection.len() > 1 {
                    ui.label(format!("{} blocks selected.", tab.selection.len()));
                } else {
                    ui.weak("Select a block to see and edit its attributes.");
                }
            }
        }
    }
}

/// Metas of the blocks feeding each input of `id` (for live checks in the inspector).
fn input_metas(tab: &mut PageTab, reg: &Registry, id: BlockId) -> Vec<Option<TensorMeta>> {
    let n = tab
        .page
        .block(id)
        .and_then(|b| reg.get(&b.type_id))
        .map_or(0, |d| d.inputs.len());
    let feeds: Vec<(usize, OutPort)> = tab
        .page
        .wires()
        .filter(|w| w.to.block == id)
        .map(|w| (w.to.port, w.from))
        .collect();
    let mut out = vec![None; n];
    for (port, from) in feeds {
        if let Some(Ok(metas)) = tab.block_check(reg, from.block)
            && let (Some(slot), Some(m)) = (out.get_mut(port), metas.get(from.port))
        {
            *slot = Some(m.clone());
        }
    }
    out
}
