//! The volume viewer: a result tensor as three linked planes with a crosshair, a montage of
//! every slice, projections along an axis, a histogram with the colour range, and a comparison
//! with a reference (another block's output, a pinned result or a `.npy` file).
//!
//! The viewer does not know the graph's pages: the app hands it a [`Shown`] (the tensor, shared
//! with the executor and read in its own dtype, with axis names and the references it could be
//! compared with) and receives [`ViewerAction`]s back. Everything that reads many elements runs
//! through [`jobs::Slot`]s: off the UI thread when big, cancelled when the user moves on, cached
//! per tensor and view parameters; textures are rebuilt only when their image or colour scale
//! changes.
//!
//! | file | concern |
//! |---|---|
//! | `mod.rs` | the viewer's state and one frame: header, mode, colour controls, which view |
//! | `data.rs` | [`Volume`]: a tensor (or a − b) read in its own dtype |
//! | `axes.rs` | spatial axes, planes, index text |
//! | `compute.rs` | statistics, histogram, percentiles, planes, projections, tiles, allclose |
//! | `jobs.rs` | background computation: cached, cancellable slots |
//! | `colour.rs` | colour maps, scales, NaN/±Inf colours, ticks |
//! | `views.rs` | the three planes with the crosshair, the montage, the projection |
//! | `scale_ui.rs` | colour controls, the colour bar and the histogram |
//! | `compare.rs` | references, pinning, the comparison report |
//! | `table.rs` | statistics grid, value table, text copy |
//! | `texture.rs` | textures rebuilt only when their key changes |
//! | `thumbnails.rs` | previews of each block's output on the canvas |

pub mod axes;
pub mod colour;
pub mod compare;
pub mod compute;
pub mod data;
pub mod jobs;
pub mod scale_ui;
pub mod table;
pub mod texture;
pub mod thumbnails;
pub mod views;

use std::sync::Arc;

pub use compare::{CompareState, Reference};
pub use data::{TensorRef, Volume};

use crate::panels::viewer::colour::{MapChoice, Scale};
use crate::panels::viewer::compute::{Comparison, Image, Reduce, Stats, Summary, Tiles};
use crate::panels::viewer::jobs::{Slot, Status, key_of};
use crate::panels::viewer::texture::Tex;

/// What the views show.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Three linked planes through the crosshair.
    Planes,
    /// Every slice along one axis in a grid.
    Montage,
    /// The volume reduced along one axis (max, min, mean, max |x|).
    Projection,
}

/// Which values set the colour range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RangeMode {
    /// Min and max of the whole tensor: colours compare across slices.
    Tensor,
    /// Min and max of what is shown now: more contrast.
    Visible,
    /// The 1st and 99th percentiles of the tensor: a few outliers do not wash out the rest.
    Robust,
    /// Typed (or dragged on the histogram).
    Manual,
}

impl RangeMode {
    /// Every mode, in menu order.
    pub const ALL: [RangeMode; 4] = [
        RangeMode::Tensor,
        RangeMode::Visible,
        RangeMode::Robust,
        RangeMode::Manual,
    ];

    /// The name in menus.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            RangeMode::Tensor => "whole tensor",
            RangeMode::Visible => "shown slices",
            RangeMode::Robust => "robust 1–99 %",
            RangeMode::Manual => "typed min/max",
        }
    }
}

/// The tensor to show and what it can be compared with.
#[derive(Clone, Debug)]
pub struct Shown {
    /// The tensor.
    pub volume: Volume,
    /// What it is, e.g. `upsample:output`.
    pub label: String,
    /// Other results of the same shape on the page.
    pub candidates: Vec<Reference>,
}

impl Shown {
    /// One tensor with these axis names, nothing to compare with (tests, benchmarks).
    #[must_use]
    pub fn tensor(key: u64, label: &str, t: blockspace_graph::Tensor, names: &[String]) -> Self {
        Self {
            volume: Volume::new(key, TensorRef::single(t), names),
            label: label.to_owned(),
            candidates: Vec::new(),
        }
    }
}

/// What the user asked the viewer to do; the app carries it out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ViewerAction {
    /// Export the tensor (in its own dtype) as a `.npy` file.
    ExportNpy,
    /// Pick a `.npy` file to compare with.
    PickReferenceNpy,
}

/// The background computations of the viewer, one slot per kind of view.
#[derive(Default)]
pub struct Jobs {
    /// Statistics, histogram and percentiles of the whole shown tensor.
    pub summary: Slot<Summary>,
    /// The same for the slice in focus.
    pub slice_summary: Slot<Summary>,
    /// The three planes.
    pub planes: [Slot<Image>; 3],
    /// The montage tiles.
    pub montage: Slot<Tiles>,
    /// The projection.
    pub projection: Slot<Image>,
    /// The comparison with the reference.
    pub comparison: Slot<Comparison>,
    /// A `.npy` reference being read.
    pub reference: Slot<blockspace_graph::Outputs>,
}

impl Jobs {
    /// Sets how many elements a request may read on the UI thread, for every slot (tests set 0
    /// to run everything on worker threads).
    pub fn set_inline_max(&mut self, n: usize) {
        self.summary.inline_max = n;
        self.slice_summary.inline_max = n;
        for p in &mut self.planes {
            p.inline_max = n;
        }
        self.montage.inline_max = n;
        self.projection.inline_max = n;
        self.comparison.inline_max = n;
        self.reference.inline_max = n;
    }

    /// Whether any computation is running.
    #[must_use]
    pub fn busy(&self) -> bool {
        self.summary.busy()
            || self.slice_summary.busy()
            || self.planes.iter().any(Slot::busy)
            || self.montage.busy()
            || self.projection.busy()
            || self.comparison.busy()
            || self.reference.busy()
    }
}

/// The viewer's state (one per app; the crosshair is kept while the shape stays the same).
pub struct VolumeViewer {
    /// The crosshair: an index along every axis.
    pub index: Vec<usize>,
    /// The view.
    pub mode: Mode,
    /// The colour map choice.
    pub map: MapChoice,
    /// How the colour range is chosen.
    pub range: RangeMode,
    /// The typed range.
    pub manual: (f64, f64),
    /// The axis the montage steps through.
    pub montage_axis: usize,
    /// The axis projected away.
    pub projection_axis: usize,
    /// How the projection reduces.
    pub reduce: Reduce,
    /// The plane the arrow keys move in (0, 1, 2).
    pub focus_plane: usize,
    /// The histogram counts the slice in focus instead of the whole tensor.
    pub hist_of_slice: bool,
    /// The histogram's counts on a log scale.
    pub hist_log: bool,
    /// References and the comparison.
    pub compare: CompareState,
    /// Background computations.
    pub jobs: Jobs,
    /// Textures built since start (tests: browsing rebuilds only what changed).
    pub texture_builds: usize,
    /// The colour scale used last frame.
    pub last_scale: Option<Scale>,
    /// The read-out under the views (hovered element, else the crosshair).
    pub readout: String,
    /// Largest side of one plane, in points (the app fits it to the panel).
    pub plane_max: f32,
    /// Shown in its own window instead of the side panel.
    pub popped_out: bool,
    /// Previews of every block's output on the canvas.
    pub thumbnails: thumbnails::Thumbnails,
    /// Where the planes (or the projection) were drawn last frame (tests aim clicks with it).
    pub plane_rects: Vec<egui::Rect>,
    /// Where each montage tile was drawn last frame.
    pub tile_rects: Vec<egui::Rect>,
    /// Where the histogram was drawn last frame.
    pub hist_rect: Option<egui::Rect>,
    /// The colour bar was drawn in the planes' free cell this frame.
    bar_in_grid: bool,
    shape: Vec<usize>,
    summary_key: u64,
    shown_key: u64,
    hist_drag: Option<usize>,
    plane_tex: [Tex; 3],
    montage_tex: Tex,
    projection_tex: Tex,
    colourbar_tex: Tex,
    table_page: (usize, usize),
}

impl Default for VolumeViewer {
    fn default() -> Self {
        Self {
            index: Vec::new(),
            mode: Mode::Planes,
            map: MapChoice::Auto,
            range: RangeMode::Tensor,
            manual: (0.0, 1.0),
            montage_axis: 0,
            projection_axis: 0,
            reduce: Reduce::Max,
            focus_plane: 2,
            hist_of_slice: false,
            hist_log: false,
            compare: CompareState::default(),
            jobs: Jobs::default(),
            texture_builds: 0,
            last_scale: None,
            readout: String::new(),
            plane_max: 260.0,
            popped_out: false,
            thumbnails: thumbnails::Thumbnails::default(),
            plane_rects: Vec::new(),
            tile_rects: Vec::new(),
            hist_rect: None,
            bar_in_grid: false,
            shape: Vec::new(),
            summary_key: 0,
            shown_key: 0,
            hist_drag: None,
            plane_tex: Default::default(),
            montage_tex: Tex::default(),
            projection_tex: Tex::default(),
            colourbar_tex: Tex::default(),
            table_page: (0, 0),
        }
    }
}

/// The images the current mode shows, and their keys.
enum Shows {
    Planes(Vec<Option<(u64, Arc<Image>)>>),
    Montage(Option<(u64, Arc<Tiles>)>),
    Projection(Option<(u64, Arc<Image>)>),
    Nothing,
}

impl VolumeViewer {
    /// Statistics of the whole shown tensor (zero count until computed).
    #[must_use]
    pub fn stats(&self) -> Stats {
        self.shown_summary().map(|s| s.stats).unwrap_or_default()
    }

    fn shown_summary(&self) -> Option<Arc<Summary>> {
        self.jobs.summary.peek(self.summary_key)
    }

    /// Shows the viewer. Returns what the user asked for.
    pub fn ui(&mut self, ui: &mut egui::Ui, shown: &Shown) -> Option<ViewerAction> {
        let mut action = None;
        self.adopt_shape(&shown.volume);
        self.shown_key = shown.volume.key;
        let ctx = ui.ctx().clone();
        let vol = self.compare.shown_volume(&shown.volume);
        let spatial = axes::spatial_axes(vol.shape(), vol.names());
        if !spatial.contains(&self.montage_axis) {
            self.montage_axis = spatial.first().copied().unwrap_or(0);
        }
        if !spatial.contains(&self.projection_axis) {
            self.projection_axis = spatial.first().copied().unwrap_or(0);
        }

        // Header: what, dtype and shape; buttons.
        table::header_ui(ui, shown, &vol, &self.index, &mut action);

        // Statistics of the whole tensor (off the UI thread when big).
        let summary = self.summary(&ctx, &vol);
        if vol.is_empty() || shown.volume.a().tensor().len() == 1 {
            table::stats_ui(ui, summary.as_deref(), vol.b().is_some());
            if vol.is_empty() {
                ui.label("The tensor is empty (a dimension is 0): nothing to draw.");
                return action;
            }
            let v = shown.volume.a_value(&vec![0; vol.shape().len()]);
            ui.label(
                egui::RichText::new(table::fmt_value(v))
                    .monospace()
                    .size(22.0),
            )
            .on_hover_text(format!("{v:?}"));
            self.compare_section(ui, shown, &mut action);
            return action;
        }
        // The views first (what a user looks at), their controls around them; the numbers below.
        self.mode_ui(ui, &vol, &spatial);
        let shows = self.request_views(&ctx, &vol, &spatial);
        self.plane_rects.clear();
        self.tile_rects.clear();
        let visible = visible_range(&shows);
        let scale = self.resolve_scale(summary.as_deref(), visible);
        self.last_scale = Some(scale);
        self.colour_controls_ui(ui, &scale);
        match &shows {
            Shows::Planes(images) => self.planes_ui(ui, &vol, &spatial, images, &scale),
            Shows::Montage(tiles) => self.montage_ui(ui, &vol, tiles.as_ref(), &scale),
            Shows::Projection(image) => {
                self.projection_ui(ui, &vol, &spatial, image.as_ref(), &scale)
            }
            Shows::Nothing => {}
        }
        if !(self.bar_in_grid && self.mode == Mode::Planes) {
            self.colourbar_ui(ui, &scale);
        }
        self.special_legend_ui(ui, summary.as_deref());
        ui.add(egui::Label::new(egui::RichText::new(&self.readout).monospace()).wrap());
        self.sliders_ui(ui, &vol, &spatial);
        ui.separator();
        table::stats_ui(ui, summary.as_deref(), vol.b().is_some());
        self.histogram_section(ui, &ctx, &vol, summary.as_deref(), &scale);
        self.compare_section(ui, shown, &mut action);
        if let Shows::Planes(images) = &shows {
            let focus = self.focus_plane.min(images.len().saturating_sub(1));
            if let Some(Some((_, img))) = images.get(focus) {
                let pl = axes::planes(&spatial);
                if let Some(&(r, c)) = pl.get(focus) {
                    self.table_ui(ui, &vol, img, r, c);
                }
            }
        }
        action
    }

    /// Keeps the crosshair when the shape stays; else centres it.
    fn adopt_shape(&mut self, vol: &Volume) {
        if self.shape == vol.shape() && self.index.len() == vol.shape().len() {
            return;
        }
        self.shape = vol.shape().to_vec();
        let spatial = axes::spatial_axes(vol.shape(), vol.names());
        self.index = vol
            .shape()
            .iter()
            .enumerate()
            .map(|(a, &n)| if spatial.contains(&a) { n / 2 } else { 0 })
            .collect();
        self.table_page = (0, 0);
        self.montage_axis = spatial.first().copied().unwrap_or(0);
        self.projection_axis = self.montage_axis;
    }

    fn summary(&mut self, ctx: &egui::Context, vol: &Volume) -> Option<Arc<Summary>> {
        let key = key_of(&(vol.key, "summary"));
        self.summary_key = key;
        let v = vol.clone();
        match self.jobs.summary.get(ctx, key, vol.len(), move |cancel| {
            let all = vec![None; v.shape().len()];
            Ok(compute::summary(|| v.iter_fixed(&all), cancel).ok())
        }) {
            Status::Ready(s) => Some(s),
            Status::Pending | Status::Failed(_) => None,
        }
    }

    /// The index with every spatial axis free and the others at the crosshair.
    fn fixed_others(&self, spatial: &[usize]) -> Vec<Option<usize>> {
        self.index
            .iter()
            .enumerate()
            .map(|(a, &i)| (!spatial.contains(&a)).then_some(i))
            .collect()
    }

    fn request_views(&mut self, ctx: &egui::Context, vol: &Volume, spatial: &[usize]) -> Shows {
        match self.mode {
            Mode::Planes => {
                let planes = axes::planes(spatial);
                let mut out = Vec::new();
                for (i, &(r, c)) in planes.iter().enumerate() {
                    let fixed: Vec<usize> = self
                        .index
                        .iter()
                        .enumerate()
                        .map(|(a, &x)| if a == r || a == c { usize::MAX } else { x })
                        .collect();
                    let key = key_of(&(vol.key, "plane", r, c, &fixed));
                    let v = vol.clone();
                    let idx = self.index.clone();
                    let cost = vol.shape()[r] * vol.shape()[c];
                    let st = self.jobs.planes[i].get(ctx, key, cost, move |_| {
                        Ok(Some(compute::plane(&v, r, c, &idx)))
                    });
                    out.push(match st {
                        Status::Ready(img) => Some((key, img)),
                        _ => None,
                    });
                }
                Shows::Planes(out)
            }
            Mode::Montage | Mode::Projection if spatial.len() == 3 => {
                let fixed = self.fixed_others(spatial);
                let dims = [
                    vol.shape()[spatial[0]],
                    vol.shape()[spatial[1]],
                    vol.shape()[spatial[2]],
                ];
                let cost = dims.iter().product();
                let v = vol.clone();
                if self.mode == Mode::Montage {
                    let along = spatial
                        .iter()
                        .position(|&a| a == self.montage_axis)
                        .unwrap_or(0);
                    let key = key_of(&(vol.key, "montage", along, &fixed));
                    match self.jobs.montage.get(ctx, key, cost, move |cancel| {
                        // Tiles of at most 64 pixels, fewer when there are many slices, so the
                        // grid stays within the texture limit.
                        let n = dims[along];
                        #[expect(
                            clippy::cast_possible_truncation,
                            clippy::cast_sign_loss,
                            reason = "a small count"
                        )]
                        let grid = ((n as f64).sqrt().ceil() as usize).max(1);
                        let tile_max = (texture::MAX_SIDE / grid).saturating_sub(1).clamp(1, 64);
                        Ok(
                            compute::tiles(v.iter_fixed(&fixed), dims, along, tile_max, cancel)
                                .ok(),
                        )
                    }) {
                        Status::Ready(t) => Shows::Montage(Some((key, t))),
                        _ => Shows::Montage(None),
                    }
                } else {
                    let along = spatial
                        .iter()
                        .position(|&a| a == self.projection_axis)
                        .unwrap_or(0);
                    let how = self.reduce;
                    let key = key_of(&(vol.key, "projection", along, how, &fixed));
                    match self.jobs.projection.get(ctx, key, cost, move |cancel| {
                        Ok(compute::project(v.iter_fixed(&fixed), dims, along, how, cancel).ok())
                    }) {
                        Status::Ready(img) => Shows::Projection(Some((key, img))),
                        _ => Shows::Projection(None),
                    }
                }
            }
            Mode::Montage | Mode::Projection => Shows::Nothing,
        }
    }

    /// The colour scale from the range mode, the summary and what is visible.
    fn resolve_scale(&self, summary: Option<&Summary>, visible: Option<(f64, f64)>) -> Scale {
        let whole = summary
            .filter(|s| s.stats.min.is_finite())
            .map(|s| (s.stats.min, s.stats.max));
        let (lo, hi) = match self.range {
            RangeMode::Tensor => whole.or(visible),
            RangeMode::Visible => visible.or(whole),
            RangeMode::Robust => summary
                .filter(|s| s.p1.is_finite())
                .map(|s| (s.p1, s.p99))
                .or(visible),
            RangeMode::Manual => Some(self.manual),
        }
        .unwrap_or((0.0, 1.0));
        let min_for_map = summary
            .map(|s| if s.negative > 0 { -1.0 } else { 0.0 })
            .or(visible.map(|v| v.0))
            .unwrap_or(0.0);
        Scale::new(self.map.resolve(min_for_map), lo, hi)
    }
}

/// Min and max of the finite values of the images shown.
fn visible_range(shows: &Shows) -> Option<(f64, f64)> {
    let mut lo = f32::INFINITY;
    let mut hi = f32::NEG_INFINITY;
    let mut scan = |img: &Image| {
        for &v in &img.values {
            if v.is_finite() {
                lo = lo.min(v);
                hi = hi.max(v);
            }
        }
    };
    match shows {
        Shows::Planes(p) => p.iter().flatten().for_each(|(_, i)| scan(i)),
        Shows::Montage(Some((_, t))) => t.tiles.iter().for_each(&mut scan),
        Shows::Projection(Some((_, i))) => scan(i),
        _ => {}
    }
    (lo <= hi).then(|| (f64::from(lo), f64::from(hi)))
}
