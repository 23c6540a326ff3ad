//! The viewer panel: statistics, a heatmap of one 2-D slice, a colour bar, a hover read-out and a
//! paged value table for one tensor.
//!
//! The panel does not know the graph crate: the app hands it a [`ViewTensor`] (values converted
//! to `f64` once per result) and receives [`ViewerAction`]s back (export, copy). Everything that
//! costs more than a few microseconds per frame is cached: the statistics are computed once per
//! tensor, and the slice texture is rebuilt only when the slice, the axes or the colour scale
//! change. That keeps a 5-D tensor of a million elements smooth to browse.

use std::fmt::Write as _;
use std::sync::Arc;

use egui::{Color32, ColorImage, Rect, Sense, TextureHandle, TextureOptions, pos2, vec2};
use ndarray::{ArrayD, Axis, IxDyn};

pub use crate::panels::tensor_format::{axis_names, colormap, fmt_value};
use crate::panels::tensor_format::{default_axes, nested_text, value_color};

/// One tensor as the viewer sees it.
#[derive(Clone, Debug)]
pub struct ViewTensor {
    /// A key that changes whenever the tensor changes (e.g. block id + run revision).
    pub key: u64,
    /// The element type as text, e.g. `"float32"`.
    pub dtype: String,
    /// The values, converted to `f64` for viewing.
    pub values: Arc<ArrayD<f64>>,
    /// One name per axis (e.g. `N D H W C`), or empty to use `dim0…`.
    pub axis_names: Vec<String>,
    /// Statistics computed ahead (e.g. on a worker thread for big tensors); `None`: the viewer
    /// computes them once.
    pub stats: Option<Stats>,
}

/// Statistics over the finite values of a tensor (the graph crate's, one implementation).
pub use blockspace_graph::TensorStats as Stats;

/// What the user asked the viewer to do with the tensor; the app carries it out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ViewerAction {
    /// Export the tensor (in its own dtype) as a `.npy` file.
    ExportNpy,
}

/// How the colour scale is chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColorScale {
    /// Min/max over the whole tensor: colours compare across slices.
    Tensor,
    /// Min/max over the visible slice: more contrast inside one slice.
    Slice,
}

#[derive(Clone, Debug, PartialEq)]
struct SliceKey {
    tensor: u64,
    row_axis: usize,
    col_axis: usize,
    index: Vec<usize>,
    scale: ColorScale,
    dark: bool,
}

/// The viewer's state (kept per app, reset when a different tensor is shown).
pub struct TensorViewer {
    tensor_key: Option<u64>,
    stats: Stats,
    /// The heatmap's vertical axis.
    pub row_axis: usize,
    /// The heatmap's horizontal axis.
    pub col_axis: usize,
    /// The index along every axis (only those not shown in the heatmap matter).
    pub index: Vec<usize>,
    /// The colour scale.
    pub scale: ColorScale,
    slice_key: Option<SliceKey>,
    slice_range: (f64, f64),
    texture: Option<TextureHandle>,
    colorbar: Option<TextureHandle>,
    table_row_page: usize,
    table_col_page: usize,
    /// Number of slice textures built since start (for tests: browsing must not rebuild per frame).
    pub texture_builds: usize,
    /// Tallest the heatmap may be (the app fits it to the panel).
    pub heatmap_max_height: f32,
}

impl Default for TensorViewer {
    fn default() -> Self {
        Self {
            tensor_key: None,
            stats: Stats::default(),
            row_axis: 0,
            col_axis: 0,
            index: Vec::new(),
            scale: ColorScale::Tensor,
            slice_key: None,
            slice_range: (0.0, 1.0),
            texture: None,
            colorbar: None,
            table_row_page: 0,
            table_col_page: 0,
            texture_builds: 0,
            heatmap_max_height: 240.0,
        }
    }
}

const TABLE_ROWS: usize = 12;
const TABLE_COLS: usize = 6;

impl TensorViewer {
    /// The statistics of the tensor shown last.
    #[must_use]
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Resets per-tensor state when a new tensor arrives; keeps the axes and index when the shape
    /// stays the same (so re-running a page keeps the slice the user was looking at).
    fn prepare(&mut self, t: &ViewTensor) {
        if self.tensor_key == Some(t.key) {
            return;
        }
        let shape = t.values.shape();
        let same_rank = self.index.len() == shape.len();
        self.tensor_key = Some(t.key);
        self.stats = t
            .stats
            .unwrap_or_else(|| Stats::of_values(t.values.iter().copied()));
        if same_rank && self.index.iter().zip(shape).all(|(&i, &n)| i < n.max(1)) {
            if self.row_axis >= shape.len().max(1) || self.col_axis >= shape.len().max(1) {
                (self.row_axis, self.col_axis) = default_axes(shape, &t.axis_names);
            }
        } else {
            self.index = vec![0; shape.len()];
            (self.row_axis, self.col_axis) = default_axes(shape, &t.axis_names);
            self.table_row_page = 0;
            self.table_col_page = 0;
        }
        self.slice_key = None;
    }

    /// Rows and columns of the visible slice.
    fn slice_dims(&self, shape: &[usize]) -> (usize, usize) {
        match shape.len() {
            0 => (1, 1),
            1 => (1, shape[0]),
            _ => (shape[self.row_axis], shape[self.col_axis]),
        }
    }

    /// The full index of slice cell `(r, c)`.
    fn full_index(&self, rank: usize, r: usize, c: usize) -> Vec<usize> {
        let mut idx = self.index.clone();
        match rank {
            0 => {}
            1 => idx[0] = c,
            _ => {
                idx[self.row_axis] = r;
                idx[self.col_axis] = c;
            }
        }
        idx
    }

    fn value_at(&self, values: &ArrayD<f64>, r: usize, c: usize) -> f64 {
        let idx = self.full_index(values.ndim(), r, c);
        values.get(IxDyn(&idx)).copied().unwrap_or(f64::NAN)
    }

    /// The visible 2-D slice as a row-major vector (rows, cols, values).
    fn slice_values(&self, values: &ArrayD<f64>) -> (usize, usize, Vec<f64>) {
        let rank = values.ndim();
        let (rows, cols) = self.slice_dims(values.shape());
        if rank < 2 {
            return (rows, cols, values.iter().copied().collect());
        }
        // Fix every other axis by index_axis, from the highest axis down so numbers stay valid.
        let mut view = values.view();
        let mut keep = Vec::new();
        for ax in (0..rank).rev() {
            if ax == self.row_axis || ax == self.col_axis {
                keep.push(ax);
            } else {
                view = view.index_axis_move(Axis(ax), self.index[ax]);
            }
        }
        // The remaining view has two axes in increasing original order.
        let mut out = Vec::with_capacity(rows * cols);
        let transpose = self.row_axis > self.col_axis;
        for r in 0..rows {
            for c in 0..cols {
                let (a, b) = if transpose { (c, r) } else { (r, c) };
                out.push(view.get(IxDyn(&[a, b])).copied().unwrap_or(f64::NAN));
            }
        }
        (rows, cols, out)
    }

    fn rebuild_texture(&mut self, ctx: &egui::Context, t: &ViewTensor, dark: bool) {
        let key = SliceKey {
            tensor: t.key,
            row_axis: self.row_axis,
            col_axis: self.col_axis,
            index: self.index.clone(),
            scale: self.scale,
            dark,
        };
        if self.slice_key.as_ref() == Some(&key) && self.texture.is_some() {
            return;
        }
        let (rows, cols, vals) = self.slice_values(&t.values);
        let (lo, hi) = match self.scale {
            ColorScale::Tensor => (self.stats.min, self.stats.max),
            ColorScale::Slice => {
                let s = Stats::of_values(vals.iter().copied());
                (s.min, s.max)
            }
        };
        self.slice_range = (lo, hi);
        let pixels: Vec<Color32> = vals.iter().map(|&v| value_color(v, lo, hi)).collect();
        let image = ColorImage::new([cols.max(1), rows.max(1)], pixels);
        match &mut self.texture {
            Some(tex) => tex.set(image, TextureOptions::NEAREST),
            None => {
                self.texture =
                    Some(ctx.load_texture("viewer-slice", image, TextureOptions::NEAREST));
            }
        }
        if self.colorbar.is_none() {
            let pixels: Vec<Color32> = (0..256)
                .rev()
                .map(|i| colormap(f64::from(i) / 255.0))
                .collect();
            self.colorbar = Some(ctx.load_texture(
                "viewer-colorbar",
                ColorImage::new([1, 256], pixels),
                TextureOptions::LINEAR,
            ));
        }
        self.texture_builds += 1;
        self.slice_key = Some(key);
    }

    /// Shows the viewer for `t`. Returns what the user asked for (export).
    pub fn ui(&mut self, ui: &mut egui::Ui, t: &ViewTensor) -> Option<ViewerAction> {
        self.prepare(t);
        let mut action = None;
        let shape = t.values.shape().to_vec();
        let rank = shape.len();
        let names = if t.axis_names.len() == rank {
            t.axis_names.clone()
        } else {
            axis_names(rank, None)
        };

        // Header: dtype and shape, then the buttons.
        let dims: Vec<String> = shape
            .iter()
            .zip(&names)
            .map(|(n, name)| format!("{name}={n}"))
            .collect();
        ui.label(egui::RichText::new(format!("{} [{}]", t.dtype, dims.join(", "))).strong());
        ui.horizontal(|ui| {
            if ui
                .button("Export .npy…")
                .on_hover_text("Save this tensor as a NumPy .npy file (in its own dtype)")
                .clicked()
            {
                action = Some(ViewerAction::ExportNpy);
            }
            if ui
                .button("Copy as text")
                .on_hover_text(
                    "Copy the values to the clipboard (the whole tensor when it has at most \
                     100 000 elements, else the visible slice)",
                )
                .clicked()
            {
                ui.ctx().copy_text(self.as_text(t, &names));
            }
        });

        self.stats_ui(ui);
        ui.separator();

        if t.values.is_empty() {
            ui.label("The tensor is empty (a dimension is 0): nothing to draw.");
            return action;
        }

        if let (1, Some(&v)) = (t.values.len(), t.values.iter().next()) {
            // A scalar (or one element): its value, large; a 1 × 1 heatmap says nothing.
            ui.label(
                egui::RichText::new(format!("{v:.6e}"))
                    .monospace()
                    .size(22.0),
            )
            .on_hover_text(format!("{v:?}"));
            return action;
        }
        self.axes_ui(ui, &shape, &names);
        let dark = ui.visuals().dark_mode;
        self.rebuild_texture(ui.ctx(), t, dark);
        self.heatmap_ui(ui, t, &names);
        ui.separator();
        self.table_ui(ui, t, &names);
        action
    }

    fn stats_ui(&self, ui: &mut egui::Ui) {
        let s = &self.stats;
        egui::Grid::new("viewer-stats")
            .num_columns(4)
            .spacing([12.0, 2.0])
            .show(ui, |ui| {
                ui.label("elements");
                ui.monospace(s.count.to_string());
                ui.label("mean");
                ui.monospace(fmt_value(s.mean));
                ui.end_row();
                ui.label("min");
                ui.monospace(fmt_value(s.min));
                ui.label("std");
                ui.monospace(fmt_value(s.std));
                ui.end_row();
                ui.label("max");
                ui.monospace(fmt_value(s.max));
                ui.label("NaN / Inf");
                let bad = s.nan_count + s.inf_count > 0;
                let text =
                    egui::RichText::new(format!("{} / {}", s.nan_count, s.inf_count)).monospace();
                ui.label(if bad {
                    text.color(ui.visuals().warn_fg_color)
                } else {
                    text
                });
                ui.end_row();
            });
    }

    fn axes_ui(&mut self, ui: &mut egui::Ui, shape: &[usize], names: &[String]) {
        let rank = shape.len();
        if rank >= 2 {
            ui.horizontal_wrapped(|ui| {
                ui.label("rows");
                axis_combo(ui, "viewer-row-axis", &mut self.row_axis, names, shape);
                ui.label("columns");
                axis_combo(ui, "viewer-col-axis", &mut self.col_axis, names, shape);
                if self.row_axis == self.col_axis {
                    self.col_axis = (self.row_axis + 1) % rank;
                }
                ui.label("scale");
                egui::ComboBox::from_id_salt("viewer-scale")
                    .selected_text(match self.scale {
                        ColorScale::Tensor => "whole tensor",
                        ColorScale::Slice => "this slice",
                    })
                    .show_ui(ui, |ui| {
                        ui.selectable_value(&mut self.scale, ColorScale::Tensor, "whole tensor");
                        ui.selectable_value(&mut self.scale, ColorScale::Slice, "this slice");
                    });
            });
        }
        for ax in 0..rank {
            if rank >= 2 && (ax == self.row_axis || ax == self.col_axis) {
                continue;
            }
            if rank == 1 {
                continue;
            }
            let n = shape[ax];
            if n <= 1 {
                continue;
            }
            ui.horizontal(|ui| {
                ui.add_sized(
                    [48.0, 18.0],
                    egui::Label::new(format!("{} (of {n})", names[ax])),
                );
                ui.add(egui::Slider::new(&mut self.index[ax], 0..=n - 1))
                    .on_hover_text(format!("index along {}", names[ax]));
            });
        }
    }

    fn heatmap_ui(&mut self, ui: &mut egui::Ui, t: &ViewTensor, names: &[String]) {
        let Some(tex) = &self.texture else { return };
        let (rows, cols) = self.slice_dims(t.values.shape());
        let bar_w = 14.0;
        let label_w = 70.0;
        let avail = ui.available_width() - bar_w - label_w - 16.0;
        let max_h = self.heatmap_max_height;
        let aspect = rows as f32 / cols.max(1) as f32;
        let mut w = avail.max(60.0);
        let mut h = w * aspect;
        if h > max_h {
            h = max_h;
            w = (h / aspect).min(avail.max(60.0));
        }
        h = h.max(12.0);
        let mut hover_text = None;
        ui.horizontal(|ui| {
            let (rect, resp) = ui.allocate_exact_size(vec2(w, h), Sense::hover());
            ui.painter().image(
                tex.id(),
                rect,
                Rect::from_min_max(pos2(0.0, 0.0), pos2(1.0, 1.0)),
                Color32::WHITE,
            );
            if let Some(p) = resp.hover_pos() {
                let fx = ((p.x - rect.left()) / rect.width()).clamp(0.0, 0.999_999);
                let fy = ((p.y - rect.top()) / rect.height()).clamp(0.0, 0.999_999);
                #[expect(
                    clippy::cast_possible_truncation,
                    clippy::cast_sign_loss,
                    reason = "in range"
                )]
                let (c, r) = ((fx * cols as f32) as usize, (fy * rows as f32) as usize);
                let idx = self.full_index(t.values.ndim(), r, c);
                let v = self.value_at(&t.values, r, c);
                let at: Vec<String> = idx
                    .iter()
                    .zip(names)
                    .map(|(i, n)| format!("{n}={i}"))
                    .collect();
                hover_text = Some(format!("[{}] = {}", at.join(", "), fmt_value(v)));
                // Outline the hovered cell.
                let cw = rect.width() / cols as f32;
                let ch = rect.height() / rows as f32;
                let cell = Rect::from_min_size(
                    pos2(rect.left() + c as f32 * cw, rect.top() + r as f32 * ch),
                    vec2(cw, ch),
                );
                ui.painter().rect_stroke(
                    cell,
                    0.0,
                    (1.0, Color32::WHITE),
                    egui::StrokeKind::Inside,
                );
            }
            // Colour bar with the range.
            if let Some(bar) = &self.colorbar {
                let (bar_rect, _) = ui.allocate_exact_size(vec2(bar_w, h), Sense::hover());
                ui.painter().image(
                    bar.id(),
                    bar_rect,
                    Rect::from_min_max(pos2(0.0, 0.0), pos2(1.0, 1.0)),
                    Color32::WHITE,
                );
                ui.vertical(|ui| {
                    ui.set_width(label_w);
                    ui.set_height(h);
                    let (lo, hi) = self.slice_range;
                    ui.small(fmt_value(hi));
                    ui.add_space((h - 2.0 * 16.0).max(0.0));
                    ui.small(fmt_value(lo));
                });
            }
        });
        ui.label(hover_text.unwrap_or_else(|| {
            format!("{rows} × {cols} slice; hover for values (NaN magenta, +inf white, -inf black)")
        }));
    }

    fn table_ui(&mut self, ui: &mut egui::Ui, t: &ViewTensor, names: &[String]) {
        let (rows, cols) = self.slice_dims(t.values.shape());
        let row_pages = rows.div_ceil(TABLE_ROWS).max(1);
        let col_pages = cols.div_ceil(TABLE_COLS).max(1);
        self.table_row_page = self.table_row_page.min(row_pages - 1);
        self.table_col_page = self.table_col_page.min(col_pages - 1);
        let rank = t.values.ndim();
        let (rname, cname) = match rank {
            0 => (String::new(), String::new()),
            1 => (String::new(), names.first().cloned().unwrap_or_default()),
            _ => (names[self.row_axis].clone(), names[self.col_axis].clone()),
        };
        ui.horizontal(|ui| {
            ui.label("Values");
            pager(ui, "rows", &mut self.table_row_page, row_pages);
            pager(ui, "cols", &mut self.table_col_page, col_pages);
        });
        let r0 = self.table_row_page * TABLE_ROWS;
        let c0 = self.table_col_page * TABLE_COLS;
        egui::ScrollArea::horizontal()
            .id_salt("viewer-table")
            .show(ui, |ui| {
                egui::Grid::new("viewer-values")
                    .striped(true)
                    .spacing([10.0, 2.0])
                    .show(ui, |ui| {
                        ui.small(format!("{rname}\\{cname}"));
                        for c in c0..(c0 + TABLE_COLS).min(cols) {
                            ui.small(c.to_string());
                        }
                        ui.end_row();
                        for r in r0..(r0 + TABLE_ROWS).min(rows) {
                            ui.small(r.to_string());
                            for c in c0..(c0 + TABLE_COLS).min(cols) {
                                ui.monospace(fmt_value(self.value_at(&t.values, r, c)));
                            }
                            ui.end_row();
                        }
                    });
            });
    }

    /// The tensor (or, when large, the visible slice) as text.
    #[must_use]
    pub fn as_text(&self, t: &ViewTensor, names: &[String]) -> String {
        let values = &t.values;
        let mut out = String::new();
        if values.len() <= 100_000 {
            let _ = writeln!(out, "# {} shape {:?}", t.dtype, values.shape());
            nested_text(&mut out, &values.view(), 0);
            out.push('\n');
        } else {
            let (rows, cols, vals) = self.slice_values(values);
            let fixed: Vec<String> = (0..values.ndim())
                .filter(|&a| a != self.row_axis && a != self.col_axis)
                .map(|a| {
                    format!(
                        "{}={}",
                        names.get(a).map_or("?", String::as_str),
                        self.index[a]
                    )
                })
                .collect();
            let _ = writeln!(
                out,
                "# {} shape {:?}; slice {} ({rows} × {cols})",
                t.dtype,
                values.shape(),
                fixed.join(", ")
            );
            for r in 0..rows {
                let line: Vec<String> = vals[r * cols..(r + 1) * cols]
                    .iter()
                    .map(|&v| fmt_value(v))
                    .collect();
                out.push_str(&line.join("\t"));
                out.push('\n');
            }
        }
        out
    }
}

fn axis_combo(ui: &mut egui::Ui, id: &str, axis: &mut usize, names: &[String], shape: &[usize]) {
    egui::ComboBox::from_id_salt(id)
        .width(60.0)
        .selected_text(names.get(*axis).cloned().unwrap_or_default())
        .show_ui(ui, |ui| {
            for (i, name) in names.iter().enumerate() {
                ui.selectable_value(axis, i, format!("{name} ({})", shape[i]));
            }
        });
}

fn pager(ui: &mut egui::Ui, what: &str, page: &mut usize, pages: usize) {
    if pages <= 1 {
        return;
    }
    if ui
        .small_button("◀")
        .on_hover_text(format!("previous {what}"))
        .clicked()
    {
        *page = page.saturating_sub(1);
    }
    ui.small(format!("{what} {}/{pages}", *page + 1));
    if ui
        .small_button("▶")
        .on_hover_text(format!("next {what}"))
        .clicked()
    {
        *page = (*page + 1).min(pages - 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_skip_non_finite() {
        let a = ArrayD::from_shape_vec(IxDyn(&[5]), vec![1.0, 2.0, 3.0, f64::NAN, f64::INFINITY])
            .unwrap();
        let s = Stats::of_values(a.iter().copied());
        assert_eq!(s.count, 5);
        assert_eq!(s.nan_count, 1);
        assert_eq!(s.inf_count, 1);
        assert!((s.mean - 2.0).abs() < 1e-12, "mean {}", s.mean);
        assert!(
            (s.min - 1.0).abs() < 1e-12 && (s.max - 3.0).abs() < 1e-12,
            "range"
        );
        assert!(
            (s.std - (2.0_f64 / 3.0).sqrt()).abs() < 1e-12,
            "std {}",
            s.std
        );
    }

    #[test]
    fn slice_of_5d_follows_axes() {
        // Shape N D H W C = 2 3 4 5 6, value = linear index.
        let shape = [2, 3, 4, 5, 6];
        let n: usize = shape.iter().product();
        #[expect(clippy::cast_precision_loss, reason = "small")]
        let a = ArrayD::from_shape_vec(IxDyn(&shape), (0..n).map(|i| i as f64).collect()).unwrap();
        let names = axis_names(5, Some("NDHWC"));
        let mut v = TensorViewer::default();
        let t = ViewTensor {
            key: 1,
            dtype: "float64".into(),
            values: Arc::new(a.clone()),
            axis_names: names,
            stats: None,
        };
        v.prepare(&t);
        assert_eq!((v.row_axis, v.col_axis), (2, 3), "H and W by default");
        v.index = vec![1, 2, 0, 0, 5];
        let (rows, cols, vals) = v.slice_values(&a);
        assert_eq!((rows, cols), (4, 5), "slice dims");
        assert_eq!(vals[2 * 5 + 3], a[[1, 2, 2, 3, 5]], "cell (2,3)");
        // Transposed axes.
        v.row_axis = 3;
        v.col_axis = 2;
        let (rows, cols, vals) = v.slice_values(&a);
        assert_eq!((rows, cols), (5, 4), "transposed dims");
        assert_eq!(vals[3 * 4 + 2], a[[1, 2, 2, 3, 5]], "transposed cell");
    }

    #[test]
    fn text_of_small_tensor() {
        let a = ArrayD::from_shape_vec(IxDyn(&[2, 2]), vec![1.0, 2.5, -3.0, f64::NAN]).unwrap();
        let v = TensorViewer::default();
        let t = ViewTensor {
            key: 1,
            dtype: "float32".into(),
            values: Arc::new(a),
            axis_names: vec![],
            stats: None,
        };
        let text = v.as_text(&t, &axis_names(2, None));
        assert!(text.contains("[[1, 2.50000],\n [-3, NaN]]"), "{text}");
    }
}
