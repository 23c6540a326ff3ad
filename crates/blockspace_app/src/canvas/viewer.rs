//! The snarl viewer: draws blocks and pins from the prepared [`BlockView`]s and turns snarl's
//! hooks (connect, disconnect, menus) into [`AppCommand`]s. It changes nothing itself.

use std::collections::{BTreeSet, HashMap};

use blockspace_graph::{BlockId, Command, InPort, OutPort, Page, Registry, Wire};
use egui::emath::TSTransform;
use egui::{Color32, Pos2, Rect, RichText, Ui};
use egui_snarl::ui::{AnyPins, PinInfo, PinShape, SnarlStyle, SnarlViewer};
use egui_snarl::{InPin, NodeId, OutPin, Snarl};

use crate::app::{AppCommand, Edit};
use crate::canvas::add_menu::add_block_list;
use crate::canvas::block_view::BlockView;
use crate::canvas::geometry::CanvasGeometry;

/// The snarl style of the canvas.
#[must_use]
pub fn snarl_style() -> SnarlStyle {
    SnarlStyle {
        // Our own selection is drawn by `node_frame`; snarl's is made invisible.
        select_style: Some(egui_snarl::ui::SelectionStyle {
            margin: egui::Margin::same(0),
            rounding: egui::CornerRadius::same(0),
            fill: Color32::TRANSPARENT,
            stroke: egui::Stroke::NONE,
        }),
        collapsible: Some(false),
        header_drag_space: Some(egui::vec2(0.0, 0.0)),
        centering: Some(true),
        min_scale: Some(0.2),
        max_scale: Some(2.0),
        pin_size: Some(10.0),
        pin_placement: Some(egui_snarl::ui::PinPlacement::Edge),
        wire_width: Some(2.0),
        bg_pattern: Some(egui_snarl::ui::BackgroundPattern::grid(
            egui::vec2(40.0, 40.0),
            0.0,
        )),
        bg_pattern_stroke: Some(egui::Stroke::new(
            1.0,
            Color32::from_rgba_unmultiplied(128, 128, 128, 28),
        )),
        ..SnarlStyle::new()
    }
}

/// The snarl viewer for one page. Reads the page and the prepared block views; pushes commands;
/// records geometry.
pub struct CanvasViewer<'a> {
    /// Block types.
    pub registry: &'a Registry,
    /// The page shown.
    pub page: &'a Page,
    /// What to show per block.
    pub views: &'a HashMap<BlockId, BlockView>,
    /// Previews of block outputs (block number → texture and size), when shown.
    pub previews: &'a HashMap<u64, (egui::TextureId, egui::Vec2)>,
    /// The app's selection.
    pub selection: &'a BTreeSet<BlockId>,
    /// What the gestures ask for this frame (drained by the app after the frame).
    pub commands: &'a mut Vec<AppCommand>,
    /// Geometry recorded this frame.
    pub geometry: &'a mut CanvasGeometry,
    /// The add-block search text.
    pub search: &'a mut String,
    /// A transform to impose this frame (zoom to fit).
    pub set_transform: Option<TSTransform>,
    /// Progress (0..1) of the blocks computing now, as reported by their kernels.
    pub progress: &'a HashMap<BlockId, f64>,
    /// Where (graph coordinates) the canvas was right-clicked: new blocks from the menu go
    /// there (snarl's own position is the menu's corner, which moves to stay on screen).
    pub menu_at: Option<Pos2>,
}

impl CanvasViewer<'_> {
    fn block_of(snarl: &Snarl<BlockId>, node: NodeId) -> Option<BlockId> {
        snarl.get_node(node).copied()
    }
}

fn pin_color(ui: &Ui, connected: bool, error: bool) -> Color32 {
    if error {
        ui.visuals().error_fg_color
    } else if connected {
        Color32::from_rgb(90, 170, 250)
    } else {
        ui.visuals().widgets.inactive.fg_stroke.color
    }
}

impl SnarlViewer<BlockId> for CanvasViewer<'_> {
    fn title(&mut self, node: &BlockId) -> String {
        self.views
            .get(node)
            .map(|v| v.name.clone())
            .unwrap_or_default()
    }

    fn node_frame(
        &mut self,
        default: egui::Frame,
        node: NodeId,
        _inputs: &[InPin],
        _outputs: &[OutPin],
        snarl: &Snarl<BlockId>,
    ) -> egui::Frame {
        let Some(id) = Self::block_of(snarl, node) else {
            return default;
        };
        let view = self.views.get(&id);
        let mut frame = default.inner_margin(egui::Margin::symmetric(6, 4));
        if self.selection.contains(&id) {
            frame.stroke = egui::Stroke::new(2.5, Color32::from_rgb(255, 170, 40));
        } else if view.is_some_and(|v| v.error.is_some()) {
            frame.stroke = egui::Stroke::new(1.5, Color32::from_rgb(220, 60, 60));
        } else if view.is_some_and(|v| v.running) {
            frame.stroke = egui::Stroke::new(2.0, Color32::from_rgb(90, 170, 250));
        }
        frame
    }

    fn has_node_style(
        &mut self,
        _node: NodeId,
        _inputs: &[InPin],
        _outputs: &[OutPin],
        _snarl: &Snarl<BlockId>,
    ) -> bool {
        true
    }

    fn apply_node_style(
        &mut self,
        style: &mut egui::Style,
        _node: NodeId,
        _inputs: &[InPin],
        _outputs: &[OutPin],
        _snarl: &Snarl<BlockId>,
    ) {
        // Selectable labels would take a drag that starts on text for a text selection: a
        // block must move wherever it is grabbed.
        style.interaction.selectable_labels = false;
    }

    fn header_frame(
        &mut self,
        default: egui::Frame,
        node: NodeId,
        _inputs: &[InPin],
        _outputs: &[OutPin],
        snarl: &Snarl<BlockId>,
    ) -> egui::Frame {
        let Some(id) = Self::block_of(snarl, node) else {
            return default;
        };
        match self.views.get(&id) {
            Some(v) => default
                .fill(v.color)
                .corner_radius(4)
                .inner_margin(egui::Margin::symmetric(6, 3)),
            None => default,
        }
    }

    fn show_header(
        &mut self,
        node: NodeId,
        _inputs: &[InPin],
        _outputs: &[OutPin],
        ui: &mut Ui,
        snarl: &mut Snarl<BlockId>,
    ) {
        let Some(id) = Self::block_of(snarl, node) else {
            return;
        };
        let Some(v) = self.views.get(&id) else { return };
        ui.horizontal(|ui| {
            if v.running || self.progress.contains_key(&id) {
                ui.add(egui::Spinner::new().size(12.0));
                if let Some(p) = self.progress.get(&id) {
                    ui.label(RichText::new(format!("{:.0}%", p * 100.0)).small());
                }
            }
            let text = if ui.visuals().dark_mode {
                Color32::from_gray(235)
            } else {
                Color32::from_gray(20)
            };
            ui.add(egui::Label::new(RichText::new(&v.name).strong().color(text)).extend())
                .on_hover_text(format!("{} — scope name {:?}", v.type_name, v.name));
            ui.add(
                egui::Label::new(
                    RichText::new(&v.type_name)
                        .small()
                        .color(text.gamma_multiply(0.7)),
                )
                .extend(),
            );
            if let Some(err) = &v.error {
                let badge = RichText::new("⚠")
                    .color(ui.visuals().error_fg_color)
                    .strong();
                let r = ui.label(badge).on_hover_text(err);
                self.geometry.badges.insert(id, r.rect);
            }
        });
    }

    fn inputs(&mut self, node: &BlockId) -> usize {
        self.views.get(node).map_or(0, |v| v.inputs.len())
    }

    fn outputs(&mut self, node: &BlockId) -> usize {
        self.views.get(node).map_or(0, |v| v.outputs.len())
    }

    fn show_input(
        &mut self,
        pin: &InPin,
        ui: &mut Ui,
        snarl: &mut Snarl<BlockId>,
    ) -> impl egui_snarl::ui::SnarlPin + 'static {
        let Some(id) = Self::block_of(snarl, pin.id.node) else {
            return PinInfo::circle();
        };
        let name = self
            .views
            .get(&id)
            .and_then(|v| v.inputs.get(pin.id.input))
            .cloned()
            .unwrap_or_default();
        let missing = pin.remotes.is_empty();
        let text = if missing {
            RichText::new(&name).italics()
        } else {
            RichText::new(&name)
        };
        let r = ui.add(egui::Label::new(text).extend());
        let doc = self
            .page
            .block(id)
            .and_then(|b| self.registry.get(&b.type_id))
            .and_then(|d| d.inputs.get(pin.id.input))
            .map(|p| {
                let dtypes: Vec<String> = p.dtypes.iter().map(ToString::to_string).collect();
                format!("{}: {}\naccepts {}", p.name, p.doc, dtypes.join(", "))
            })
            .unwrap_or_default();
        let r = r.on_hover_text(if missing {
            format!("{doc}\n(not connected)")
        } else {
            doc
        });
        self.geometry.input_rows.insert((id, pin.id.input), r.rect);
        PinInfo::circle().with_fill(pin_color(ui, !missing, false))
    }

    fn show_output(
        &mut self,
        pin: &OutPin,
        ui: &mut Ui,
        snarl: &mut Snarl<BlockId>,
    ) -> impl egui_snarl::ui::SnarlPin + 'static {
        let Some(id) = Self::block_of(snarl, pin.id.node) else {
            return PinInfo::circle();
        };
        let v = self.views.get(&id);
        let name = v
            .and_then(|v| v.outputs.get(pin.id.output))
            .cloned()
            .unwrap_or_default();
        let meta = v
            .and_then(|v| v.output_meta.get(pin.id.output))
            .cloned()
            .unwrap_or_default();
        // A block with one output shows just what flows out of it; the port name is the tooltip.
        let single = v.is_some_and(|v| v.outputs.len() == 1);
        let r = ui
            .horizontal(|ui| {
                ui.add(egui::Label::new(RichText::new(&meta).monospace().small()).extend());
                if !single {
                    ui.add(egui::Label::new(&name).extend());
                }
            })
            .response
            .on_hover_text(format!("{name}: {meta}"));
        self.geometry
            .output_rows
            .insert((id, pin.id.output), r.rect);
        let error = v.is_some_and(|v| v.error.is_some());
        PinInfo::circle()
            .with_fill(pin_color(ui, !error, error))
            .with_shape(PinShape::Circle)
    }

    fn has_body(&mut self, node: &BlockId) -> bool {
        self.previews.contains_key(&node.0)
            || self
                .views
                .get(node)
                .is_some_and(|v| !v.key_attrs.is_empty())
    }

    fn show_body(
        &mut self,
        node: NodeId,
        _inputs: &[InPin],
        _outputs: &[OutPin],
        ui: &mut Ui,
        snarl: &mut Snarl<BlockId>,
    ) {
        let Some(id) = Self::block_of(snarl, node) else {
            return;
        };
        let Some(v) = self.views.get(&id) else { return };
        ui.vertical(|ui| {
            for line in &v.key_attrs {
                ui.add(egui::Label::new(RichText::new(line).small()).extend());
            }
            if let Some(&(tex, size)) = self.previews.get(&id.0) {
                // At most 96 points a side, whatever the tensor's aspect.
                let k = 96.0 / size.x.max(size.y).max(1.0);
                ui.add(egui::Image::new((tex, size * k))).on_hover_text(
                    "The middle slice of this block's output (select the block to explore it)",
                );
            }
        });
    }

    fn has_footer(&mut self, node: &BlockId) -> bool {
        self.views.get(node).is_some_and(|v| v.run_time.is_some())
    }

    fn show_footer(
        &mut self,
        node: NodeId,
        _inputs: &[InPin],
        _outputs: &[OutPin],
        ui: &mut Ui,
        snarl: &mut Snarl<BlockId>,
    ) {
        let Some(id) = Self::block_of(snarl, node) else {
            return;
        };
        let Some(v) = self.views.get(&id) else { return };
        if let Some(t) = &v.run_time {
            let text = if v.stale {
                format!("⏱ {t} (out of date)")
            } else {
                format!("⏱ {t}")
            };
            ui.label(RichText::new(text).small().weak());
        }
    }

    fn final_node_rect(
        &mut self,
        node: NodeId,
        rect: Rect,
        _ui: &mut Ui,
        snarl: &mut Snarl<BlockId>,
    ) {
        if let Some(id) = Self::block_of(snarl, node) {
            self.geometry.node_rects.push((id, rect));
        }
    }

    fn has_graph_menu(&mut self, _pos: Pos2, _snarl: &mut Snarl<BlockId>) -> bool {
        true
    }

    fn show_graph_menu(&mut self, pos: Pos2, ui: &mut Ui, _snarl: &mut Snarl<BlockId>) {
        ui.label(RichText::new("Add block").strong());
        let first = ui.ctx().memory(|m| m.focused().is_none());
        if let Some(type_id) = add_block_list(ui, self.registry, self.search, first, true) {
            let pos = self.menu_at.unwrap_or(pos);
            self.commands.push(AppCommand::AddBlock {
                type_id,
                pos: [pos.x, pos.y],
                from: None,
                to: None,
            });
        }
    }

    fn has_dropped_wire_menu(&mut self, _src: AnyPins<'_>, _snarl: &mut Snarl<BlockId>) -> bool {
        true
    }

    fn show_dropped_wire_menu(
        &mut self,
        pos: Pos2,
        ui: &mut Ui,
        src: AnyPins<'_>,
        snarl: &mut Snarl<BlockId>,
    ) {
        ui.label(RichText::new("Add and connect").strong());
        let first = ui.ctx().memory(|m| m.focused().is_none());
        if let Some(type_id) = add_block_list(ui, self.registry, self.search, first, true) {
            let (from, to) = match src {
                AnyPins::Out(pins) => (
                    pins.first().and_then(|p| {
                        Some(OutPort {
                            block: Self::block_of(snarl, p.node)?,
                            port: p.output,
                        })
                    }),
                    None,
                ),
                AnyPins::In(pins) => (
                    None,
                    pins.first().and_then(|p| {
                        Some(InPort {
                            block: Self::block_of(snarl, p.node)?,
                            port: p.input,
                        })
                    }),
                ),
            };
            self.commands.push(AppCommand::AddBlock {
                type_id,
                pos: [pos.x, pos.y],
                from,
                to,
            });
        }
    }

    fn has_node_menu(&mut self, _node: &BlockId) -> bool {
        true
    }

    fn show_node_menu(
        &mut self,
        node: NodeId,
        _inputs: &[InPin],
        _outputs: &[OutPin],
        ui: &mut Ui,
        snarl: &mut Snarl<BlockId>,
    ) {
        let Some(id) = Self::block_of(snarl, node) else {
            return;
        };
        let targets: Vec<BlockId> = if self.selection.contains(&id) {
            self.selection.iter().copied().collect()
        } else {
            vec![id]
        };
        if ui.button("Rename…").clicked() {
            self.commands.push(AppCommand::RenameBlock(id));
            ui.close();
        }
        if ui.button("Copy").clicked() {
            self.commands.push(AppCommand::Copy(targets.clone()));
            ui.close();
        }
        if ui.button("Duplicate").clicked() {
            self.commands.push(AppCommand::Duplicate(targets.clone()));
            ui.close();
        }
        if ui.button("Delete").clicked() {
            self.commands.push(AppCommand::Delete(targets));
            ui.close();
        }
    }

    fn connect(&mut self, from: &OutPin, to: &InPin, snarl: &mut Snarl<BlockId>) {
        let (Some(a), Some(b)) = (
            Self::block_of(snarl, from.id.node),
            Self::block_of(snarl, to.id.node),
        ) else {
            return;
        };
        let (cmd, replaced) = self.page.connect_replacing(
            OutPort {
                block: a,
                port: from.id.output,
            },
            InPort {
                block: b,
                port: to.id.input,
            },
        );
        let label = if replaced { "Reconnect" } else { "Connect" };
        self.commands.push(AppCommand::Edit(Edit::new(label, cmd)));
    }

    fn disconnect(&mut self, from: &OutPin, to: &InPin, snarl: &mut Snarl<BlockId>) {
        let (Some(a), Some(b)) = (
            Self::block_of(snarl, from.id.node),
            Self::block_of(snarl, to.id.node),
        ) else {
            return;
        };
        let wire = Wire {
            from: OutPort {
                block: a,
                port: from.id.output,
            },
            to: InPort {
                block: b,
                port: to.id.input,
            },
        };
        self.commands.push(AppCommand::Edit(Edit::new(
            "Disconnect",
            Command::Disconnect { wire },
        )));
    }

    fn drop_outputs(&mut self, pin: &OutPin, snarl: &mut Snarl<BlockId>) {
        let Some(a) = Self::block_of(snarl, pin.id.node) else {
            return;
        };
        let from = OutPort {
            block: a,
            port: pin.id.output,
        };
        if let Some(cmd) = self.page.disconnect_port(from) {
            self.commands
                .push(AppCommand::Edit(Edit::new("Disconnect", cmd)));
        }
    }

    fn drop_inputs(&mut self, pin: &InPin, snarl: &mut Snarl<BlockId>) {
        let Some(b) = Self::block_of(snarl, pin.id.node) else {
            return;
        };
        let to = InPort {
            block: b,
            port: pin.id.input,
        };
        if let Some(cmd) = self.page.disconnect_port(to) {
            self.commands
                .push(AppCommand::Edit(Edit::new("Disconnect", cmd)));
        }
    }

    fn current_transform(&mut self, to_global: &mut TSTransform, _snarl: &mut Snarl<BlockId>) {
        if let Some(t) = self.set_transform.take() {
            *to_global = t;
        }
        self.geometry.to_screen = *to_global;
    }
}
