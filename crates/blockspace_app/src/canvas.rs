//! The block canvas: an egui-snarl view of one page.
//!
//! The page model is the source of truth. `Snarl<BlockId>` is only a mirror, reconciled from the
//! page whenever its revision changes ([`Mirror::sync`]). Gestures in the canvas never touch the
//! mirror's wires: the [`CanvasViewer`] hooks turn them into [`Command`]s, which the app applies
//! to the page after the frame; the next sync shows the result.
//!
//! Node drags are the one exception: snarl moves its own nodes while the pointer is down (so the
//! drag feels live), and when the pointer is released one `MoveBlocks` command is emitted (one
//! drag = one undo step).

use std::collections::{BTreeSet, HashMap};

use blockspace_graph::{BlockId, Command, InPort, OutPort, Page, Registry, Wire};
use egui::emath::TSTransform;
use egui::{Color32, Pos2, Rect, RichText, Ui};
use egui_snarl::ui::{AnyPins, PinInfo, PinShape, SnarlStyle, SnarlViewer};
use egui_snarl::{InPin, InPinId, NodeId, OutPin, OutPinId, Snarl};

/// One edit of the page, with the label shown in the undo menu.
#[derive(Clone, Debug)]
pub struct Edit {
    /// E.g. "Connect", "Move 3 blocks".
    pub label: String,
    /// The command to apply.
    pub cmd: Command,
}

/// A request from the canvas that is not a page edit.
#[derive(Clone, Debug, PartialEq)]
pub enum CanvasRequest {
    /// Add a block of this type at this graph position.
    AddBlock {
        /// Registry type id.
        type_id: String,
        /// Graph position.
        pos: [f32; 2],
        /// Connect the new block to this dragged-out output (first compatible input).
        from: Option<OutPort>,
        /// Connect the new block's first output to this dragged-out input.
        to: Option<InPort>,
    },
    /// Delete these blocks.
    Delete(Vec<BlockId>),
    /// Duplicate these blocks.
    Duplicate(Vec<BlockId>),
    /// Copy these blocks.
    Copy(Vec<BlockId>),
    /// Select only this block and focus its name in the inspector.
    Rename(BlockId),
}

/// What the canvas shows for one block; rebuilt when the page, the check or a result changes.
#[derive(Clone, Debug, Default)]
pub struct BlockView {
    /// Scope name (unique in the page).
    pub name: String,
    /// The block type's display name.
    pub type_name: String,
    /// Header colour (by category).
    pub color: Color32,
    /// Input port names.
    pub inputs: Vec<String>,
    /// Output port names.
    pub outputs: Vec<String>,
    /// Text on each output pin: inferred `dtype [shape]`.
    pub output_meta: Vec<String>,
    /// Key attrs as `name = value` lines.
    pub key_attrs: Vec<String>,
    /// What is wrong (check or run), if anything.
    pub error: Option<String>,
    /// Whether the block is being computed now.
    pub running: bool,
    /// Last run time, as text.
    pub run_time: Option<String>,
    /// The result is from an older revision of the page.
    pub stale: bool,
}

/// Header colour for a block category (stable hash → hue).
#[must_use]
pub fn category_color(category: &str, dark: bool) -> Color32 {
    let mut h: u32 = 2_166_136_261;
    for b in category.bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(16_777_619);
    }
    let hue = (h % 360) as f32 / 360.0;
    let (s, v) = if dark { (0.45, 0.42) } else { (0.35, 0.85) };
    egui::ecolor::Hsva::new(hue, s, v, 1.0).into()
}

/// The snarl mirror of one page.
#[derive(Default)]
pub struct Mirror {
    /// The snarl graph (view only).
    pub snarl: Snarl<BlockId>,
    /// Block → snarl node.
    pub nodes: HashMap<BlockId, NodeId>,
    synced: Option<u64>,
}

impl Mirror {
    /// Reconciles the mirror with `page` if the page changed since the last sync: adds missing
    /// nodes, removes stale ones, moves nodes to the model's positions and re-sets the wires. It
    /// diffs instead of rebuilding, so snarl's per-node state (sizes, draw order) stays valid.
    pub fn sync(&mut self, page: &Page) {
        if self.synced == Some(page.revision()) {
            return;
        }
        self.synced = Some(page.revision());
        let live: BTreeSet<BlockId> = page.blocks().map(|b| b.id).collect();
        let stale: Vec<BlockId> = self
            .nodes
            .keys()
            .filter(|id| !live.contains(id))
            .copied()
            .collect();
        for id in stale {
            if let Some(node) = self.nodes.remove(&id) {
                self.snarl.remove_node(node);
            }
        }
        for b in page.blocks() {
            let pos = egui::pos2(b.pos[0], b.pos[1]);
            match self.nodes.get(&b.id) {
                Some(&node) => {
                    if let Some(info) = self.snarl.get_node_info_mut(node) {
                        info.pos = pos;
                    }
                }
                None => {
                    let node = self.snarl.insert_node(pos, b.id);
                    self.nodes.insert(b.id, node);
                }
            }
        }
        let want: BTreeSet<(OutPinId, InPinId)> = page
            .wires()
            .filter_map(|w| {
                let from = *self.nodes.get(&w.from.block)?;
                let to = *self.nodes.get(&w.to.block)?;
                Some((
                    OutPinId {
                        node: from,
                        output: w.from.port,
                    },
                    InPinId {
                        node: to,
                        input: w.to.port,
                    },
                ))
            })
            .collect();
        let have: BTreeSet<(OutPinId, InPinId)> = self.snarl.wires().collect();
        for (o, i) in have.difference(&want) {
            self.snarl.disconnect(*o, *i);
        }
        for (o, i) in want.difference(&have) {
            self.snarl.connect(*o, *i);
        }
    }

    /// Forces a full position/wire reconcile at the next [`Mirror::sync`].
    pub fn invalidate(&mut self) {
        self.synced = None;
    }

    /// The block shown by a snarl node.
    #[must_use]
    pub fn block(&self, node: NodeId) -> Option<BlockId> {
        self.snarl.get_node(node).copied()
    }

    /// Positions of all nodes in the mirror.
    #[must_use]
    pub fn positions(&self) -> HashMap<BlockId, Pos2> {
        self.snarl.nodes_info().map(|n| (n.value, n.pos)).collect()
    }
}

/// Geometry recorded while drawing, in graph coordinates, plus the graph → screen transform.
/// Used for hit tests (selection), zoom-to-fit and by UI tests to aim real pointer gestures.
#[derive(Clone, Debug)]
pub struct CanvasGeometry {
    /// Graph → screen.
    pub to_screen: TSTransform,
    /// The canvas rectangle on screen.
    pub screen_rect: Rect,
    /// Each node's rectangle (graph coordinates), in draw order (topmost last).
    pub node_rects: Vec<(BlockId, Rect)>,
    /// Input pin rows (graph coordinates): block, port → row rectangle.
    pub input_rows: HashMap<(BlockId, usize), Rect>,
    /// Output pin rows (graph coordinates).
    pub output_rows: HashMap<(BlockId, usize), Rect>,
    /// Error badges (graph coordinates).
    pub badges: HashMap<BlockId, Rect>,
}

impl Default for CanvasGeometry {
    fn default() -> Self {
        Self {
            to_screen: TSTransform::IDENTITY,
            screen_rect: Rect::NOTHING,
            node_rects: Vec::new(),
            input_rows: HashMap::new(),
            output_rows: HashMap::new(),
            badges: HashMap::new(),
        }
    }
}

impl CanvasGeometry {
    /// The topmost block under a screen position.
    #[must_use]
    pub fn block_at(&self, screen: Pos2) -> Option<BlockId> {
        let p = self.to_screen.inverse() * screen;
        self.node_rects
            .iter()
            .rev()
            .find(|(_, r)| r.contains(p))
            .map(|(id, _)| *id)
    }

    /// Screen position of an input pin (left edge of its row).
    #[must_use]
    pub fn input_pin_screen(&self, block: BlockId, port: usize) -> Option<Pos2> {
        let node = self.node_rects.iter().find(|(id, _)| *id == block)?.1;
        let row = self.input_rows.get(&(block, port))?;
        Some(self.to_screen * egui::pos2(node.left(), row.center().y))
    }

    /// Screen position of an output pin (right edge of its row).
    #[must_use]
    pub fn output_pin_screen(&self, block: BlockId, port: usize) -> Option<Pos2> {
        let node = self.node_rects.iter().find(|(id, _)| *id == block)?.1;
        let row = self.output_rows.get(&(block, port))?;
        Some(self.to_screen * egui::pos2(node.right(), row.center().y))
    }

    /// Screen position of a block's error badge, if it shows one.
    #[must_use]
    pub fn badge_screen(&self, block: BlockId) -> Option<Pos2> {
        Some(self.to_screen * self.badges.get(&block)?.center())
    }

    /// Screen rectangle of a block.
    #[must_use]
    pub fn block_screen_rect(&self, block: BlockId) -> Option<Rect> {
        let r = self.node_rects.iter().find(|(id, _)| *id == block)?.1;
        Some(self.to_screen * r)
    }

    /// The transform that fits `bounds` (graph coordinates) into the canvas.
    #[must_use]
    pub fn fit(&self, bounds: Rect) -> Option<TSTransform> {
        if !bounds.is_finite()
            || !self.screen_rect.is_finite()
            || bounds.width() <= 0.0
            || self.screen_rect.width() <= 0.0
        {
            return None;
        }
        let b = bounds.expand(40.0);
        let s = (self.screen_rect.width() / b.width())
            .min(self.screen_rect.height() / b.height())
            .clamp(0.2, 1.5);
        let t = self.screen_rect.center().to_vec2() - b.center().to_vec2() * s;
        Some(TSTransform::new(t, s))
    }
}

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

/// A text field plus a filtered list of block types; returns the chosen type id.
pub fn add_block_list(
    ui: &mut Ui,
    reg: &Registry,
    search: &mut String,
    focus: bool,
    in_menu: bool,
) -> Option<String> {
    let resp = ui.add(
        egui::TextEdit::singleline(search)
            .hint_text("Search blocks…")
            .desired_width(220.0),
    );
    resp.widget_info(|| {
        egui::WidgetInfo::labeled(egui::WidgetType::TextEdit, true, "Search blocks")
    });
    if focus {
        resp.request_focus();
    }
    let needle = search.to_lowercase();
    let mut matches: Vec<_> = reg
        .iter()
        .filter(|d| {
            needle.is_empty()
                || d.display_name.to_lowercase().contains(&needle)
                || d.type_id.to_lowercase().contains(&needle)
                || d.category.to_lowercase().contains(&needle)
        })
        .collect();
    // Best matches first (exact name, then name prefix, then anywhere), so Enter takes the
    // block the user most likely means; without a search, by category.
    let rank = |name: &str| {
        let name = name.to_lowercase();
        if needle.is_empty() || name == needle {
            0
        } else if name.starts_with(&needle) {
            1
        } else {
            2
        }
    };
    // Categories in registry order (Inputs, Convolution, Math, Reduction), blocks by name.
    let category_rank = |c: &str| {
        reg.iter()
            .position(|d| d.category == c)
            .unwrap_or(usize::MAX)
    };
    matches.sort_by_key(|d| {
        (
            rank(d.display_name),
            category_rank(d.category),
            d.display_name,
        )
    });
    let mut chosen = None;
    if matches.is_empty() {
        ui.weak("No block type matches.");
    }
    let enter = resp.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
    let mut category = "";
    for (i, d) in matches.iter().enumerate() {
        if d.category != category {
            category = d.category;
            ui.label(RichText::new(category).small().weak());
        }
        let r = ui
            .button(d.display_name)
            .on_hover_text(format!("{}\n\n{}", d.type_id, d.doc));
        if r.clicked() || (enter && i == 0) {
            chosen = Some(d.type_id.to_owned());
        }
    }
    if chosen.is_some() {
        search.clear();
        if in_menu {
            ui.close();
        }
    }
    chosen
}

/// The snarl viewer for one page. Reads the page and the prepared block views; writes edits and
/// requests; records geometry.
pub struct CanvasViewer<'a> {
    /// Block types.
    pub registry: &'a Registry,
    /// The page shown.
    pub page: &'a Page,
    /// What to show per block.
    pub views: &'a HashMap<BlockId, BlockView>,
    /// The app's selection.
    pub selection: &'a BTreeSet<BlockId>,
    /// Page edits made this frame.
    pub edits: &'a mut Vec<Edit>,
    /// Other requests made this frame.
    pub requests: &'a mut Vec<CanvasRequest>,
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
    fn connect_edit(&self, from: OutPort, to: InPort) -> Edit {
        let wire = Wire { from, to };
        let old: Vec<Wire> = self.page.wires().filter(|w| w.to == to).copied().collect();
        if old.is_empty() {
            Edit {
                label: "Connect".into(),
                cmd: Command::Connect { wire },
            }
        } else {
            let mut cmds: Vec<Command> = old
                .into_iter()
                .map(|w| Command::Disconnect { wire: w })
                .collect();
            cmds.push(Command::Connect { wire });
            Edit {
                label: "Reconnect".into(),
                cmd: Command::Batch(cmds),
            }
        }
    }

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
        self.views
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
            self.requests.push(CanvasRequest::AddBlock {
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
            self.requests.push(CanvasRequest::AddBlock {
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
            self.requests.push(CanvasRequest::Rename(id));
            ui.close();
        }
        if ui.button("Copy").clicked() {
            self.requests.push(CanvasRequest::Copy(targets.clone()));
            ui.close();
        }
        if ui.button("Duplicate").clicked() {
            self.requests
                .push(CanvasRequest::Duplicate(targets.clone()));
            ui.close();
        }
        if ui.button("Delete").clicked() {
            self.requests.push(CanvasRequest::Delete(targets));
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
        let edit = self.connect_edit(
            OutPort {
                block: a,
                port: from.id.output,
            },
            InPort {
                block: b,
                port: to.id.input,
            },
        );
        self.edits.push(edit);
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
        self.edits.push(Edit {
            label: "Disconnect".into(),
            cmd: Command::Disconnect { wire },
        });
    }

    fn drop_outputs(&mut self, pin: &OutPin, snarl: &mut Snarl<BlockId>) {
        let Some(a) = Self::block_of(snarl, pin.id.node) else {
            return;
        };
        let from = OutPort {
            block: a,
            port: pin.id.output,
        };
        let cmds: Vec<Command> = self
            .page
            .wires()
            .filter(|w| w.from == from)
            .map(|w| Command::Disconnect { wire: *w })
            .collect();
        if !cmds.is_empty() {
            self.edits.push(Edit {
                label: "Disconnect".into(),
                cmd: Command::Batch(cmds),
            });
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
        let cmds: Vec<Command> = self
            .page
            .wires()
            .filter(|w| w.to == to)
            .map(|w| Command::Disconnect { wire: *w })
            .collect();
        if !cmds.is_empty() {
            self.edits.push(Edit {
                label: "Disconnect".into(),
                cmd: Command::Batch(cmds),
            });
        }
    }

    fn current_transform(&mut self, to_global: &mut TSTransform, _snarl: &mut Snarl<BlockId>) {
        if let Some(t) = self.set_transform.take() {
            *to_global = t;
        }
        self.geometry.to_screen = *to_global;
    }
}
