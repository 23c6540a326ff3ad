//! The canvas room: an egui-snarl view of the active page.
//!
//! The page model is the source of truth. `Snarl<BlockId>` is only a mirror, reconciled from the
//! page whenever its revision changes ([`mirror::Mirror::sync`]). Gestures in the canvas never
//! touch the mirror's wires: the [`viewer::CanvasViewer`] hooks turn them into
//! [`AppCommand`]s, which the app applies after the frame; the next sync
//! shows the result.
//!
//! Node drags are the one exception: snarl moves its own nodes while the pointer is down (so the
//! drag feels live), and when the pointer is released one `MoveBlocks` edit is queued (one drag =
//! one undo step). Selection and drag bookkeeping live in [`interaction`].
//!
//! | file | concern |
//! |---|---|
//! | `mod.rs` | one frame of the canvas: sync, draw, interaction, queue |
//! | `mirror.rs` | the snarl mirror of a page |
//! | `viewer.rs` | the `SnarlViewer`: blocks, pins, menus; hooks → commands |
//! | `block_view.rs` | what each block shows (names, shapes, errors, times) |
//! | `geometry.rs` | recorded geometry: hit tests, zoom to fit, free spots |
//! | `interaction.rs` | selection (click, Shift, box) and group drags |
//! | `add_menu.rs` | the add-block search list |

pub mod add_menu;
pub mod block_view;
pub mod geometry;
pub mod interaction;
pub mod mirror;
pub mod viewer;

use std::collections::HashMap;
use std::sync::Arc;

use blockspace_graph::{BlockId, Registry};
use egui::RichText;
use egui_snarl::ui::SnarlWidget;

use crate::app::{AppCommand, BlockspaceApp, PageTab};
use crate::canvas::geometry::CanvasGeometry;
use crate::canvas::viewer::{CanvasViewer, snarl_style};
use crate::panels::view_prep::axes_of_output;
use crate::panels::viewer::TensorRef;
use crate::panels::viewer::thumbnails::PreviewSource;

impl BlockspaceApp {
    pub(crate) fn canvas(&mut self, ui: &mut egui::Ui) {
        let reg = Arc::clone(&self.registry);
        let dark = ui.visuals().dark_mode;
        let Some(tab) = self.tabs.get_mut(self.active) else {
            return;
        };
        tab.mirror.sync(&tab.page);

        let snarl_id = egui::Id::new(("canvas", tab.uid));
        let before = tab.mirror.positions();
        let mut commands = Vec::new();
        let mut geometry = CanvasGeometry::default();
        // Zoom to fit when asked (and after a page opens, once node sizes are known).
        let mut set_transform = tab.set_transform.take();
        match tab.fit_in_frames {
            Some(0) => {
                // Model positions are authoritative; the sizes come from the last frame.
                if let Some(t) = tab.geometry.fit_page(&tab.page) {
                    set_transform = Some(t);
                }
                tab.fit_in_frames = None;
            }
            Some(n) => {
                tab.fit_in_frames = Some(n - 1);
                ui.ctx().request_repaint();
            }
            None => {}
        }
        let views = tab.views(&reg, dark);
        let previews = if self.viewer.thumbnails.enabled {
            let sources = preview_sources(tab, &reg);
            self.viewer.thumbnails.update(ui.ctx(), sources)
        } else {
            HashMap::new()
        };
        let progress: HashMap<BlockId, f64> = tab
            .run
            .running
            .iter()
            .filter_map(|id| tab.executor.block_progress(*id).map(|p| (*id, p)))
            .collect();
        let canvas_rect = ui.available_rect_before_wrap();
        let resp = {
            let mut viewer = CanvasViewer {
                registry: &reg,
                page: &tab.page,
                views: &views,
                previews: &previews,
                selection: &tab.selection,
                commands: &mut commands,
                geometry: &mut geometry,
                search: &mut self.add_search,
                set_transform,
                progress: &progress,
                menu_at: tab.menu_at,
            };
            SnarlWidget::new().id(snarl_id).style(snarl_style()).show(
                &mut tab.mirror.snarl,
                &mut viewer,
                ui,
            )
        };
        geometry.screen_rect = canvas_rect;

        let pointer_was_down = &mut self.pointer_was_down;
        if let Some(edit) = interaction::select_and_drag(
            ui,
            tab,
            &resp,
            snarl_id,
            canvas_rect,
            &geometry,
            &before,
            pointer_was_down,
        ) {
            commands.push(AppCommand::Edit(edit));
        }
        tab.geometry = geometry;
        let empty = tab.page.blocks().next().is_none();
        self.commands.append(&mut commands);

        if empty {
            let rect = canvas_rect;
            ui.put(
                egui::Rect::from_center_size(rect.center(), egui::vec2(420.0, 60.0)),
                egui::Label::new(
                    RichText::new(
                        "Empty page. Right-click the canvas or press Shift+A to add a block.",
                    )
                    .size(15.0)
                    .weak(),
                ),
            );
        }
    }
}

/// Every block's first output, for the previews on the canvas.
fn preview_sources(tab: &PageTab, reg: &Registry) -> Vec<PreviewSource> {
    tab.page
        .blocks()
        .filter_map(|b| {
            let outs = tab.executor.result(b.id)?.outputs.as_ref().ok()?;
            let t = TensorRef::new(Arc::clone(outs), 0)?;
            let rank = t.tensor().shape().len();
            Some(PreviewSource {
                block: b.id.0,
                names: axes_of_output(tab, reg, b.id, 0, rank),
                tensor: t,
            })
        })
        .collect()
}
