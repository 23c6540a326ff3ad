//! Selection and drag interaction on the canvas: a press on a block selects it (Shift toggles),
//! a click on empty canvas clears, Shift+drag box selection is adopted from snarl, and a drag
//! moves exactly our selection, ending in one `MoveBlocks` edit on release.

use std::collections::{BTreeSet, HashMap};

use blockspace_graph::BlockId;
use egui::Pos2;

use crate::app::{Edit, PageTab};
use crate::canvas::geometry::CanvasGeometry;

/// One frame of selection and drag bookkeeping for `tab`, after snarl drew it (`resp`,
/// `geometry`), with the node positions from before the frame (`before`). Returns the move to
/// queue when a drag ended.
#[expect(clippy::too_many_arguments, reason = "one frame's canvas context")]
pub(crate) fn select_and_drag(
    ui: &egui::Ui,
    tab: &mut PageTab,
    resp: &egui::Response,
    snarl_id: egui::Id,
    canvas_rect: egui::Rect,
    geometry: &CanvasGeometry,
    before: &HashMap<BlockId, Pos2>,
    pointer_was_down: &mut bool,
) -> Option<Edit> {
    let (pressed, press_pos, shift, down) = ui.input(|i| {
        (
            i.pointer.primary_pressed(),
            i.pointer.press_origin(),
            i.modifiers.shift,
            i.pointer.primary_down(),
        )
    });
    if pressed
        && let Some(pos) = press_pos
        && canvas_rect.contains(pos)
        && ui
            .ctx()
            .layer_id_at(pos)
            .is_none_or(|l| l.order == egui::Order::Background)
    {
        match geometry.block_at(pos) {
            Some(b) => {
                if shift {
                    if !tab.selection.remove(&b) {
                        tab.selection.insert(b);
                    }
                } else if !tab.selection.contains(&b) {
                    tab.selection = [b].into_iter().collect();
                }
                tab.drag_anchor = Some(b);
            }
            None => tab.drag_anchor = None,
        }
    }
    // Remember where the canvas was right-clicked (the add-block menu puts blocks there).
    if let Some(pos) = ui.input(|i| {
        i.pointer
            .button_pressed(egui::PointerButton::Secondary)
            .then(|| i.pointer.interact_pos())
            .flatten()
    }) && canvas_rect.contains(pos)
    {
        tab.menu_at = Some(geometry.to_screen.inverse() * pos);
    }
    if resp.clicked() && !shift && !ui.input(|i| i.modifiers.command) {
        tab.selection.clear();
    }
    // Box selection (Shift+drag) happens inside snarl: adopt what it adds or removes.
    let snarl_sel = egui_snarl::ui::get_selected_nodes(snarl_id, ui.ctx());
    if snarl_sel != tab.snarl_selected_prev {
        if tab.drag_anchor.is_none() {
            let prev: BTreeSet<_> = tab.snarl_selected_prev.iter().copied().collect();
            let now: BTreeSet<_> = snarl_sel.iter().copied().collect();
            for n in now.difference(&prev) {
                if let Some(b) = tab.mirror.block(*n) {
                    tab.selection.insert(b);
                }
            }
            for n in prev.difference(&now) {
                if let Some(b) = tab.mirror.block(*n) {
                    tab.selection.remove(&b);
                }
            }
        }
        tab.snarl_selected_prev = snarl_sel;
    }

    // Dragging: snarl moves the dragged node (or its own selection); we move exactly our
    // selection by the anchor's delta, and emit one MoveBlocks when the pointer is released.
    if let Some(anchor) = tab.drag_anchor
        && let (Some(a0), Some(&node)) = (before.get(&anchor), tab.mirror.nodes.get(&anchor))
        && let Some(a1) = tab.mirror.snarl.get_node_info(node).map(|n| n.pos)
    {
        let delta = a1 - *a0;
        if delta != egui::Vec2::ZERO {
            let ids: Vec<(BlockId, egui_snarl::NodeId)> =
                tab.mirror.nodes.iter().map(|(b, n)| (*b, *n)).collect();
            for (b, n) in ids {
                let Some(p0) = before.get(&b) else { continue };
                let target = if b == anchor || tab.selection.contains(&b) {
                    *p0 + delta
                } else {
                    *p0
                };
                if let Some(info) = tab.mirror.snarl.get_node_info_mut(n) {
                    info.pos = target;
                }
            }
        }
    }
    // Snarl moves nodes only while the pointer is down, so compare positions on release.
    let mut moved = None;
    if !down && (tab.drag_anchor.is_some() || *pointer_was_down) {
        tab.drag_anchor = None;
        moved = tab.pending_moves();
    }
    *pointer_was_down = down;
    moved
}
