//! Text around the views: the header (what, dtype, shape, export and copy buttons), the
//! statistics grid, the paged value table of the plane in focus, and value formatting.

use std::fmt::Write as _;

use ndarray::{ArrayD, Axis, IxDyn};

use crate::panels::viewer::compute::{self, Image, Summary};
use crate::panels::viewer::{Shown, ViewerAction, Volume, VolumeViewer, axes};

const TABLE_ROWS: usize = 12;
const TABLE_COLS: usize = 6;
/// Tensors up to this many elements are copied whole as text; bigger ones copy one plane.
const COPY_WHOLE_MAX: usize = 100_000;

/// Formats a value compactly for read-outs and tables.
#[must_use]
pub fn fmt_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 { "inf" } else { "-inf" }.to_owned()
    } else if v == v.trunc() && v.abs() < 1e9 {
        format!("{v:.0}")
    } else if v.abs() >= 1e5 || v.abs() < 1e-3 {
        format!("{v:.4e}")
    } else {
        format!("{v:.5}")
    }
}

/// The header line and its buttons.
pub(super) fn header_ui(
    ui: &mut egui::Ui,
    shown: &Shown,
    vol: &Volume,
    index: &[usize],
    action: &mut Option<ViewerAction>,
) {
    let t = shown.volume.a().tensor();
    let dims: Vec<String> = t
        .shape()
        .iter()
        .zip(&shown.volume.names()[shown.volume.pad()..])
        .map(|(n, name)| format!("{name}={n}"))
        .collect();
    ui.label(
        egui::RichText::new(format!(
            "{}  {} [{}]",
            shown.label,
            t.dtype(),
            dims.join(", ")
        ))
        .strong(),
    );
    if vol.b().is_some() {
        ui.colored_label(
            ui.visuals().warn_fg_color,
            "Showing a − b (this result minus the reference)",
        );
    }
    ui.horizontal(|ui| {
        if ui
            .button("Export .npy…")
            .on_hover_text("Save this tensor as a NumPy .npy file (in its own dtype)")
            .clicked()
        {
            *action = Some(ViewerAction::ExportNpy);
        }
        if ui
            .button("Copy as text")
            .on_hover_text(
                "Copy the values to the clipboard (the whole tensor when it has at most \
                 100 000 elements, else the H × W plane through the crosshair)",
            )
            .clicked()
        {
            ui.ctx().copy_text(as_text(vol, index));
        }
    });
}

/// Count, range, mean, std, NaN/Inf of the whole shown tensor.
pub(super) fn stats_ui(ui: &mut egui::Ui, s: Option<&Summary>, difference: bool) {
    let Some(s) = s.map(|s| s.stats) else {
        ui.horizontal(|ui| {
            ui.add(egui::Spinner::new());
            ui.label("Computing statistics…");
        });
        return;
    };
    let of = if difference { " of a − b" } else { "" };
    egui::Grid::new("viewer-stats")
        .num_columns(4)
        .spacing([12.0, 2.0])
        .show(ui, |ui| {
            ui.label("elements");
            ui.monospace(s.count.to_string());
            ui.label(format!("mean{of}"));
            ui.monospace(fmt_value(s.mean));
            ui.end_row();
            ui.label(format!("min{of}"));
            ui.monospace(fmt_value(s.min));
            ui.label("std");
            ui.monospace(fmt_value(s.std));
            ui.end_row();
            ui.label(format!("max{of}"));
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

impl VolumeViewer {
    /// A paged table of the values of the plane in focus.
    pub(super) fn table_ui(
        &mut self,
        ui: &mut egui::Ui,
        vol: &Volume,
        img: &Image,
        row_axis: usize,
        col_axis: usize,
    ) {
        let names = vol.names();
        egui::CollapsingHeader::new(format!(
            "Values ({} × {} plane in focus)",
            names[row_axis], names[col_axis]
        ))
        .id_salt("viewer-values")
        .default_open(false)
        .show(ui, |ui| {
            let row_pages = img.rows.div_ceil(TABLE_ROWS).max(1);
            let col_pages = img.cols.div_ceil(TABLE_COLS).max(1);
            self.table_page.0 = self.table_page.0.min(row_pages - 1);
            self.table_page.1 = self.table_page.1.min(col_pages - 1);
            ui.horizontal(|ui| {
                pager(ui, "rows", &mut self.table_page.0, row_pages);
                pager(ui, "cols", &mut self.table_page.1, col_pages);
            });
            let r0 = self.table_page.0 * TABLE_ROWS;
            let c0 = self.table_page.1 * TABLE_COLS;
            egui::ScrollArea::horizontal()
                .id_salt("viewer-table")
                .show(ui, |ui| {
                    egui::Grid::new("viewer-values-grid")
                        .striped(true)
                        .spacing([10.0, 2.0])
                        .show(ui, |ui| {
                            ui.small(format!("{}\\{}", names[row_axis], names[col_axis]));
                            for c in c0..(c0 + TABLE_COLS).min(img.cols) {
                                ui.small(c.to_string());
                            }
                            ui.end_row();
                            for r in r0..(r0 + TABLE_ROWS).min(img.rows) {
                                ui.small(r.to_string());
                                for c in c0..(c0 + TABLE_COLS).min(img.cols) {
                                    let mut idx = self.index.clone();
                                    idx[row_axis] = r;
                                    idx[col_axis] = c;
                                    // Read from the tensor: the plane holds f32.
                                    ui.monospace(fmt_value(vol.value(&idx)));
                                }
                                ui.end_row();
                            }
                        });
                });
        });
    }
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

/// The shown values as text: the whole tensor as nested brackets when small, else the last
/// plane through the crosshair as tab-separated rows.
#[must_use]
pub fn as_text(vol: &Volume, index: &[usize]) -> String {
    let shape = vol.a().tensor().shape().to_vec();
    let dtype = vol.a().tensor().dtype();
    let mut out = String::new();
    if vol.len() <= COPY_WHOLE_MAX {
        let all = vec![None; vol.shape().len()];
        let values: Vec<f64> = vol.iter_fixed(&all).collect();
        let _ = writeln!(out, "# {dtype} shape {shape:?}");
        if let Ok(a) = ArrayD::from_shape_vec(IxDyn(&shape), values) {
            nested_text(&mut out, &a.view(), 0);
        }
        out.push('\n');
        return out;
    }
    let spatial = axes::spatial_axes(vol.shape(), vol.names());
    let Some(&(r, c)) = axes::planes(&spatial).last() else {
        return out;
    };
    let img = compute::plane(vol, r, c, index);
    let _ = writeln!(
        out,
        "# {dtype} shape {shape:?}; plane {} × {} at {} ({} × {})",
        vol.names()[r],
        vol.names()[c],
        axes::index_text(index, vol.names()),
        img.rows,
        img.cols
    );
    // At most about COPY_WHOLE_MAX values: whole rows from the top.
    let rows = (COPY_WHOLE_MAX / img.cols.max(1)).clamp(1, img.rows.max(1));
    if rows < img.rows {
        let _ = writeln!(out, "# the first {rows} of {} rows", img.rows);
    }
    for row in img.values.chunks(img.cols.max(1)).take(rows) {
        let line: Vec<String> = row.iter().map(|&v| fmt_value(f64::from(v))).collect();
        out.push_str(&line.join("\t"));
        out.push('\n');
    }
    out
}

/// `v` as nested brackets, one row per line (NumPy-like).
fn nested_text(out: &mut String, v: &ndarray::ArrayViewD<'_, f64>, depth: usize) {
    if v.ndim() == 0 {
        out.push_str(&fmt_value(v.iter().next().copied().unwrap_or(f64::NAN)));
        return;
    }
    out.push('[');
    let n = v.shape()[0];
    for i in 0..n {
        if i > 0 {
            out.push(',');
            if v.ndim() > 1 {
                out.push('\n');
                out.push_str(&" ".repeat(depth + 1));
            } else {
                out.push(' ');
            }
        }
        nested_text(out, &v.index_axis(Axis(0), i), depth + 1);
    }
    out.push(']');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::panels::viewer::TensorRef;
    use blockspace_graph::Tensor;

    #[test]
    fn text_of_small_tensor() {
        let a = ArrayD::from_shape_vec(IxDyn(&[2, 2]), vec![1.0, 2.5, -3.0, f64::NAN]).unwrap();
        let v = Volume::new(1, TensorRef::single(Tensor::F64(a)), &[]);
        let text = as_text(&v, &[0, 0]);
        assert!(text.contains("[[1, 2.50000],\n [-3, NaN]]"), "{text}");
    }

    #[test]
    fn values_format_compactly() {
        assert_eq!(fmt_value(3.0), "3");
        assert_eq!(fmt_value(0.5), "0.50000");
        assert_eq!(fmt_value(1e-5), "1.0000e-5");
        assert_eq!(fmt_value(f64::NEG_INFINITY), "-inf");
    }
}
