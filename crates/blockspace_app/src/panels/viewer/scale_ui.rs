//! The colour controls (map, range, typed min/max), the colour bar with tick values and the
//! NaN/±Inf legend, and the histogram with the colour range marked and draggable.

use egui::{Color32, FontId, Rect, Sense, Stroke, pos2, vec2};

use crate::panels::viewer::colour::{
    ColourMap, MapChoice, NAN_COLOUR, NEG_INF_COLOUR, POS_INF_COLOUR, Scale, nice_ticks,
};
use crate::panels::viewer::compute::{self, Summary};
use crate::panels::viewer::jobs::{Status, key_of};
use crate::panels::viewer::{RangeMode, Volume, VolumeViewer, axes, table::fmt_value};

impl VolumeViewer {
    /// Map and range choices.
    pub(super) fn colour_controls_ui(&mut self, ui: &mut egui::Ui, scale: &Scale) {
        ui.horizontal_wrapped(|ui| {
            ui.label("Colours");
            let text = match self.map {
                MapChoice::Auto => format!("auto: {}", scale.map.label()),
                MapChoice::Fixed(m) => m.label().to_owned(),
            };
            egui::ComboBox::from_id_salt("viewer-map")
                .selected_text(text)
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut self.map, MapChoice::Auto, "auto")
                        .on_hover_text(
                            "Diverging (blue below zero, white at zero, red above) when the \
                             tensor has negative values, else viridis",
                        );
                    for m in ColourMap::ALL {
                        ui.selectable_value(&mut self.map, MapChoice::Fixed(m), m.label());
                    }
                })
                .response
                .on_hover_text("The colour map");
            ui.label("range");
            let before = self.range;
            egui::ComboBox::from_id_salt("viewer-range")
                .selected_text(self.range.label())
                .show_ui(ui, |ui| {
                    for r in RangeMode::ALL {
                        ui.selectable_value(&mut self.range, r, r.label());
                    }
                })
                .response
                .on_hover_text(
                    "Which values span the colour map: min–max of the whole tensor, of the \
                     slices shown, the 1st–99th percentiles, or numbers you type (or drag on \
                     the histogram)",
                );
            if self.range == RangeMode::Manual {
                if before != RangeMode::Manual {
                    self.manual = (scale.lo, scale.hi);
                }
                let speed = ((self.manual.1 - self.manual.0).abs() / 200.0).max(1e-9);
                ui.add(
                    egui::DragValue::new(&mut self.manual.0)
                        .speed(speed)
                        .prefix("min "),
                )
                .on_hover_text("The value drawn at the bottom of the map");
                ui.add(
                    egui::DragValue::new(&mut self.manual.1)
                        .speed(speed)
                        .prefix("max "),
                )
                .on_hover_text("The value drawn at the top of the map");
            }
        });
    }

    /// The map's texture (256 steps, left to right).
    fn bar_texture(&mut self, ctx: &egui::Context, map: ColourMap) -> egui::TextureHandle {
        self.colourbar_tex
            .get(ctx, "viewer-colourbar", key_of(&map), || {
                let px = (0..256).map(|i| map.at(f64::from(i) / 255.0)).collect();
                egui::ColorImage::new([256, 1], px)
            })
            .0
    }

    /// A horizontal colour bar with tick values, as wide as the views.
    pub(super) fn colourbar_ui(&mut self, ui: &mut egui::Ui, scale: &Scale) {
        let tex = self.bar_texture(ui.ctx(), scale.map);
        let w = ui.available_width().min(self.plane_max * 3.0);
        let (rect, _) = ui.allocate_exact_size(vec2(w, 28.0), Sense::hover());
        let bar = Rect::from_min_size(rect.min, vec2(w, 12.0));
        let p = ui.painter_at(rect.expand(2.0));
        p.image(
            tex.id(),
            bar,
            Rect::from_min_max(pos2(0.0, 0.0), pos2(1.0, 1.0)),
            Color32::WHITE,
        );
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "a small count"
        )]
        let max_ticks = ((w / 70.0) as usize).clamp(2, 9);
        let text = ui.visuals().text_color();
        for t in nice_ticks(scale.lo, scale.hi, max_ticks) {
            let x = bar.left() + ((t - scale.lo) / (scale.hi - scale.lo)) as f32 * w;
            p.line_segment(
                [pos2(x, bar.bottom()), pos2(x, bar.bottom() + 3.0)],
                Stroke::new(1.0, text),
            );
            let align = if x < bar.left() + 20.0 {
                egui::Align2::LEFT_TOP
            } else if x > bar.right() - 20.0 {
                egui::Align2::RIGHT_TOP
            } else {
                egui::Align2::CENTER_TOP
            };
            p.text(
                pos2(x, bar.bottom() + 3.0),
                align,
                fmt_value(t),
                FontId::proportional(10.0),
                text,
            );
        }
    }

    /// A vertical colour bar (high values on top) with tick values, `height` tall.
    pub(super) fn colourbar_vertical(&mut self, ui: &mut egui::Ui, scale: &Scale, height: f32) {
        let tex = self.bar_texture(ui.ctx(), scale.map);
        let (rect, _) = ui.allocate_exact_size(vec2(90.0, height), Sense::hover());
        let bar = Rect::from_min_size(rect.min, vec2(14.0, height));
        let p = ui.painter_at(rect.expand(2.0));
        // The texture runs left to right; rotate it: bottom of the bar = low values.
        let mut mesh = egui::Mesh::with_texture(tex.id());
        let uv = |u: f32| pos2(u, 0.5);
        mesh.vertices.extend([
            egui::epaint::Vertex {
                pos: bar.left_bottom(),
                uv: uv(0.0),
                color: Color32::WHITE,
            },
            egui::epaint::Vertex {
                pos: bar.right_bottom(),
                uv: uv(0.0),
                color: Color32::WHITE,
            },
            egui::epaint::Vertex {
                pos: bar.right_top(),
                uv: uv(1.0),
                color: Color32::WHITE,
            },
            egui::epaint::Vertex {
                pos: bar.left_top(),
                uv: uv(1.0),
                color: Color32::WHITE,
            },
        ]);
        mesh.indices.extend([0, 1, 2, 0, 2, 3]);
        p.add(egui::Shape::mesh(mesh));
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "a small count"
        )]
        let max_ticks = ((height / 28.0) as usize).clamp(2, 9);
        let text = ui.visuals().text_color();
        for t in nice_ticks(scale.lo, scale.hi, max_ticks) {
            let y = bar.bottom() - ((t - scale.lo) / (scale.hi - scale.lo)) as f32 * height;
            p.line_segment(
                [pos2(bar.right(), y), pos2(bar.right() + 3.0, y)],
                Stroke::new(1.0, text),
            );
            p.text(
                pos2(
                    bar.right() + 5.0,
                    y.clamp(bar.top() + 6.0, bar.bottom() - 6.0),
                ),
                egui::Align2::LEFT_CENTER,
                fmt_value(t),
                FontId::proportional(10.0),
                text,
            );
        }
    }

    /// The colours of NaN and ±Inf, when the tensor has any.
    pub(super) fn special_legend_ui(&mut self, ui: &mut egui::Ui, summary: Option<&Summary>) {
        if let Some(s) = summary
            && s.stats.nan_count + s.stats.inf_count > 0
        {
            ui.horizontal(|ui| {
                for (c, label) in [
                    (NAN_COLOUR, "NaN"),
                    (POS_INF_COLOUR, "+Inf"),
                    (NEG_INF_COLOUR, "−Inf"),
                ] {
                    let (r, _) = ui.allocate_exact_size(vec2(10.0, 10.0), Sense::hover());
                    ui.painter().rect_filled(r, 1.0, c);
                    ui.small(label);
                }
                ui.small(format!(
                    "({} NaN, {} ±Inf in the tensor)",
                    s.stats.nan_count, s.stats.inf_count
                ));
            });
        }
    }

    /// The histogram of the tensor (or of the slice in focus) with the colour range marked; drag
    /// a mark to change the range.
    pub(super) fn histogram_section(
        &mut self,
        ui: &mut egui::Ui,
        ctx: &egui::Context,
        vol: &Volume,
        whole: Option<&Summary>,
        scale: &Scale,
    ) {
        egui::CollapsingHeader::new("Histogram")
            .id_salt("viewer-histogram")
            .default_open(true)
            .show(ui, |ui| {
                ui.horizontal(|ui| {
                    ui.selectable_value(&mut self.hist_of_slice, false, "whole tensor");
                    ui.selectable_value(&mut self.hist_of_slice, true, "slice in focus")
                        .on_hover_text(
                            "The plane with the blue outline (click a plane to focus it)",
                        );
                    ui.checkbox(&mut self.hist_log, "log counts")
                        .on_hover_text("Counts on a logarithmic scale: rare values stay visible");
                });
                let slice;
                let s = if self.hist_of_slice {
                    slice = self.slice_summary(ctx, vol);
                    slice.as_deref()
                } else {
                    whole
                };
                match s {
                    Some(s) => self.histogram_plot(ui, s, scale),
                    None => {
                        ui.horizontal(|ui| {
                            ui.add(egui::Spinner::new());
                            ui.label("Counting…");
                        });
                    }
                }
            });
    }

    fn slice_summary(
        &mut self,
        ctx: &egui::Context,
        vol: &Volume,
    ) -> Option<std::sync::Arc<Summary>> {
        let spatial = axes::spatial_axes(vol.shape(), vol.names());
        let pl = axes::planes(&spatial);
        let &(r, c) = pl.get(self.focus_plane.min(pl.len().saturating_sub(1)))?;
        let fixed: Vec<Option<usize>> = self
            .index
            .iter()
            .enumerate()
            .map(|(a, &i)| (a != r && a != c).then_some(i))
            .collect();
        let key = key_of(&(vol.key, "slice-summary", &fixed));
        let v = vol.clone();
        let cost = vol.shape()[r] * vol.shape()[c];
        match self.jobs.slice_summary.get(ctx, key, cost, move |cancel| {
            Ok(compute::summary(|| v.iter_fixed(&fixed), cancel).ok())
        }) {
            Status::Ready(s) => Some(s),
            _ => None,
        }
    }

    fn histogram_plot(&mut self, ui: &mut egui::Ui, s: &Summary, scale: &Scale) {
        let (lo, hi) = (s.stats.min, s.stats.max);
        if !(lo.is_finite() && hi.is_finite()) {
            ui.weak("No finite values to count.");
            return;
        }
        let w = ui.available_width().min(self.plane_max * 3.0);
        let (rect, resp) = ui.allocate_exact_size(vec2(w, 80.0), Sense::click_and_drag());
        let p = ui.painter_at(rect);
        p.rect_filled(rect, 2.0, ui.visuals().extreme_bg_color);
        let max = s.hist.iter().copied().max().unwrap_or(0).max(1);
        #[expect(clippy::cast_precision_loss, reason = "counts below 2^53")]
        let height = |c: u64| -> f32 {
            let f = if self.hist_log {
                ((c as f64).ln_1p() / (max as f64).ln_1p()) as f32
            } else {
                c as f32 / max as f32
            };
            f * (rect.height() - 4.0)
        };
        let n = s.hist.len().max(1);
        let bw = w / n as f32;
        for (i, &c) in s.hist.iter().enumerate() {
            if c == 0 {
                continue;
            }
            let v = lo + (i as f64 + 0.5) / n as f64 * (hi - lo);
            let x = rect.left() + i as f32 * bw;
            let top = rect.bottom() - height(c).max(1.0);
            p.rect_filled(
                Rect::from_min_max(pos2(x, top), pos2(x + bw.max(1.0), rect.bottom())),
                0.0,
                scale.pixel(v),
            );
        }
        let span = if hi > lo { hi - lo } else { 1.0 };
        let x_of = |v: f64| rect.left() + (((v - lo) / span).clamp(0.0, 1.0) as f32) * w;
        let v_of = |x: f32| lo + f64::from((x - rect.left()) / w) * span;
        // The colour range: a line and a grip at the top for each end (kept inside the plot when
        // the range reaches past the data).
        let mark = ui.visuals().strong_text_color();
        for v in [scale.lo, scale.hi] {
            let x = x_of(v).clamp(rect.left() + 3.0, rect.right() - 3.0);
            p.line_segment(
                [pos2(x, rect.top()), pos2(x, rect.bottom())],
                Stroke::new(1.5, mark),
            );
            p.rect_filled(
                Rect::from_center_size(pos2(x, rect.top() + 6.0), vec2(6.0, 12.0)),
                1.0,
                mark,
            );
        }
        self.hist_rect = Some(rect);
        if resp.drag_started()
            && let Some(pp) = resp.interact_pointer_pos()
        {
            let near_lo = (pp.x - x_of(scale.lo)).abs() <= (pp.x - x_of(scale.hi)).abs();
            self.hist_drag = Some(usize::from(!near_lo));
            self.range = RangeMode::Manual;
            self.manual = (scale.lo, scale.hi);
        }
        if resp.dragged()
            && let (Some(which), Some(pp)) = (self.hist_drag, resp.interact_pointer_pos())
        {
            let v = v_of(pp.x);
            if which == 0 {
                self.manual.0 = v;
            } else {
                self.manual.1 = v;
            }
        }
        if resp.drag_stopped() {
            self.hist_drag = None;
        }
        resp.on_hover_text("Drag a mark to change the colour range (it becomes a typed range)");
        let (axis, _) = ui.allocate_exact_size(vec2(w, 14.0), Sense::hover());
        let text = ui.visuals().text_color();
        let font = FontId::proportional(10.0);
        ui.painter().text(
            axis.left_top(),
            egui::Align2::LEFT_TOP,
            fmt_value(lo),
            font.clone(),
            text,
        );
        ui.painter().text(
            axis.right_top(),
            egui::Align2::RIGHT_TOP,
            fmt_value(hi),
            font,
            text,
        );
        ui.small(format!(
            "{} finite values; colour range {} … {}",
            s.stats.count - s.stats.nan_count - s.stats.inf_count,
            fmt_value(scale.lo),
            fmt_value(scale.hi)
        ));
    }
}
