//! The views: the mode switch and index sliders, three linked planes with one crosshair (click
//! or drag moves it, arrow keys step it, Page Up/Down step the third axis), the montage of every
//! slice (click one to see it in the planes) and the projection along an axis.

use std::sync::Arc;

use egui::{Color32, FontId, Key, Modifiers, Rect, RichText, Sense, Stroke, pos2, vec2};

use crate::panels::viewer::colour::Scale;
use crate::panels::viewer::compute::{Image, Reduce, Tiles};
use crate::panels::viewer::texture::{colour_image, scaled_key};
use crate::panels::viewer::{Mode, Volume, VolumeViewer, axes, table::fmt_value};

const FULL_UV: Rect = Rect::from_min_max(pos2(0.0, 0.0), pos2(1.0, 1.0));

/// The size of a `rows × cols` image fitted into a `side × side` square.
fn fit(rows: usize, cols: usize, side: f32) -> egui::Vec2 {
    let (r, c) = (rows.max(1) as f32, cols.max(1) as f32);
    if r > c {
        vec2(side * c / r, side)
    } else {
        vec2(side, side * r / c)
    }
    .max(vec2(8.0, 8.0))
}

/// The cell of a `rows × cols` image drawn in `rect` under point `p`.
fn cell_at(rect: Rect, p: egui::Pos2, rows: usize, cols: usize) -> (usize, usize) {
    let fx = ((p.x - rect.left()) / rect.width()).clamp(0.0, 0.999_999);
    let fy = ((p.y - rect.top()) / rect.height()).clamp(0.0, 0.999_999);
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "in [0, n)"
    )]
    let rc = ((fy * rows as f32) as usize, (fx * cols as f32) as usize);
    rc
}

/// Draws the crosshair lines through cell `(r, c)`.
fn crosshair(p: &egui::Painter, rect: Rect, rows: usize, cols: usize, r: usize, c: usize) {
    let x = rect.left() + (c as f32 + 0.5) * rect.width() / cols.max(1) as f32;
    let y = rect.top() + (r as f32 + 0.5) * rect.height() / rows.max(1) as f32;
    for (w, col) in [
        (3.0, Color32::from_black_alpha(150)),
        (1.0, Color32::from_rgb(255, 230, 80)),
    ] {
        p.line_segment(
            [pos2(rect.left(), y), pos2(rect.right(), y)],
            Stroke::new(w, col),
        );
        p.line_segment(
            [pos2(x, rect.top()), pos2(x, rect.bottom())],
            Stroke::new(w, col),
        );
    }
}

impl VolumeViewer {
    /// The view switch and the choices of the montage and projection.
    pub(super) fn mode_ui(&mut self, ui: &mut egui::Ui, vol: &Volume, spatial: &[usize]) {
        let three = spatial.len() == 3;
        let names = vol.names();
        ui.horizontal_wrapped(|ui| {
            ui.label("View");
            ui.selectable_value(
                &mut self.mode,
                Mode::Planes,
                if three { "Three planes" } else { "Slice" },
            )
            .on_hover_text(
                "Planes through the crosshair (yellow). Click or drag in a plane to move it; the \
                 other planes follow. Arrow keys step it, Page Up/Down step the third axis.",
            );
            let why = "Needs a tensor with three spatial axes (rank ≥ 3)";
            ui.add_enabled_ui(three, |ui| {
                ui.selectable_value(&mut self.mode, Mode::Montage, "Montage")
                    .on_hover_text("Every slice along one axis in a grid; click a slice to see it in the three planes")
                    .on_disabled_hover_text(why);
                ui.selectable_value(&mut self.mode, Mode::Projection, "Projection")
                    .on_hover_text("The volume reduced along one axis: max, min, mean or max |x|")
                    .on_disabled_hover_text(why);
            });
        });
        if !three {
            self.mode = Mode::Planes;
        }
        let axis_combo = |ui: &mut egui::Ui, id: &str, axis: &mut usize| {
            egui::ComboBox::from_id_salt(id)
                .width(50.0)
                .selected_text(names.get(*axis).cloned().unwrap_or_default())
                .show_ui(ui, |ui| {
                    for &a in spatial {
                        ui.selectable_value(axis, a, format!("{} ({})", names[a], vol.shape()[a]));
                    }
                });
        };
        match self.mode {
            Mode::Montage => {
                ui.horizontal(|ui| {
                    ui.label("slices along");
                    axis_combo(ui, "viewer-montage-axis", &mut self.montage_axis);
                });
            }
            Mode::Projection => {
                ui.horizontal(|ui| {
                    ui.label("reduce");
                    egui::ComboBox::from_id_salt("viewer-reduce")
                        .width(70.0)
                        .selected_text(self.reduce.label())
                        .show_ui(ui, |ui| {
                            for r in Reduce::ALL {
                                ui.selectable_value(&mut self.reduce, r, r.label());
                            }
                        });
                    ui.label("along");
                    axis_combo(ui, "viewer-projection-axis", &mut self.projection_axis);
                });
            }
            Mode::Planes => {}
        }
    }

    /// Sliders for the axes the views do not span (batch, channel), and the crosshair position.
    pub(super) fn sliders_ui(&mut self, ui: &mut egui::Ui, vol: &Volume, spatial: &[usize]) {
        let names = vol.names().to_vec();
        for (ax, &n) in vol.shape().iter().enumerate() {
            if spatial.contains(&ax) || n <= 1 {
                continue;
            }
            ui.horizontal(|ui| {
                ui.add_sized(
                    [64.0, 18.0],
                    egui::Label::new(format!("{} (of {n})", names[ax])),
                );
                ui.add(egui::Slider::new(&mut self.index[ax], 0..=n - 1))
                    .on_hover_text(format!("index along {}", names[ax]));
            });
        }
        ui.horizontal_wrapped(|ui| {
            ui.label("crosshair").on_hover_text(
                "Where the three planes cross; type or drag a number, or click in a plane",
            );
            for &ax in spatial {
                let n = vol.shape()[ax];
                ui.add(
                    egui::DragValue::new(&mut self.index[ax])
                        .range(0..=n.saturating_sub(1))
                        .prefix(format!("{} ", names[ax])),
                )
                .on_hover_text(format!(
                    "index along {} (0 … {})",
                    names[ax],
                    n.saturating_sub(1)
                ));
            }
        });
    }

    /// The value at `idx` as text (with a and b when comparing).
    pub(super) fn value_text(vol: &Volume, idx: &[usize]) -> String {
        let at = axes::index_text(idx, vol.names());
        if vol.b().is_some() {
            format!(
                "{at}  a − b = {}   (a = {}, b = {})",
                fmt_value(vol.value(idx)),
                fmt_value(vol.a_value(idx)),
                fmt_value(vol.b_value(idx))
            )
        } else {
            format!("{at} = {}", fmt_value(vol.value(idx)))
        }
    }

    /// The three planes (one for a matrix) with the crosshair.
    pub(super) fn planes_ui(
        &mut self,
        ui: &mut egui::Ui,
        vol: &Volume,
        spatial: &[usize],
        images: &[Option<(u64, Arc<Image>)>],
        scale: &Scale,
    ) {
        let pl = axes::planes(spatial);
        let names = vol.names().to_vec();
        let n = pl.len();
        let gap = ui.spacing().item_spacing.x;
        let w = ui.available_width();
        let per_row = if n >= 3 && w >= 3.0 * 140.0 + 2.0 * gap {
            3
        } else {
            n.clamp(1, 2)
        };
        let side = ((w - gap * (per_row as f32 - 1.0)) / per_row as f32)
            .min(self.plane_max)
            .max(48.0);
        let ctx = ui.ctx().clone();
        self.bar_in_grid = false;
        let mut hover = None;
        let mut pressed = None;
        let mut keys_here = false;
        let mut start = 0;
        while start < n {
            ui.horizontal_top(|ui| {
                for (i, &(ra, ca)) in pl.iter().enumerate().skip(start).take(per_row) {
                    let (rows, cols) = (vol.shape()[ra], vol.shape()[ca]);
                    ui.vertical(|ui| {
                        let third = spatial.iter().copied().find(|&a| a != ra && a != ca);
                        let title = match third {
                            Some(t) => format!(
                                "{} × {}  at {}={}",
                                names[ra], names[ca], names[t], self.index[t]
                            ),
                            None => format!("{} × {}", names[ra], names[ca]),
                        };
                        ui.label(RichText::new(title).small());
                        let (rect, resp) =
                            ui.allocate_exact_size(fit(rows, cols, side), Sense::click_and_drag());
                        self.plane_rects.push(rect);
                        match images.get(i) {
                            Some(Some((key, img))) => {
                                let (tex, rebuilt) = self.plane_tex[i].get(
                                    &ctx,
                                    "viewer-plane",
                                    scaled_key(*key, scale),
                                    || colour_image(img, scale),
                                );
                                self.texture_builds += usize::from(rebuilt);
                                ui.painter().image(tex.id(), rect, FULL_UV, Color32::WHITE);
                            }
                            _ => {
                                ui.put(rect, egui::Spinner::new());
                            }
                        }
                        crosshair(
                            ui.painter(),
                            rect,
                            rows,
                            cols,
                            self.index[ra],
                            self.index[ca],
                        );
                        if self.focus_plane == i && n > 1 {
                            ui.painter().rect_stroke(
                                rect.expand(1.5),
                                0.0,
                                Stroke::new(1.5, ui.visuals().selection.stroke.color),
                                egui::StrokeKind::Outside,
                            );
                        }
                        // A press held (or dragged), or a click whose press and release came
                        // in one frame.
                        if (resp.is_pointer_button_down_on() || resp.clicked())
                            && let Some(p) = resp.interact_pointer_pos()
                        {
                            pressed = Some((i, cell_at(rect, p, rows, cols)));
                        }
                        if resp.clicked() || resp.drag_started() {
                            resp.request_focus();
                        }
                        if resp.has_focus() {
                            keys_here = true;
                            ui.memory_mut(|m| {
                                m.set_focus_lock_filter(
                                    resp.id,
                                    egui::EventFilter {
                                        horizontal_arrows: true,
                                        vertical_arrows: true,
                                        ..Default::default()
                                    },
                                );
                            });
                        }
                        if let Some(p) = resp.hover_pos() {
                            keys_here = true;
                            let (r, c) = cell_at(rect, p, rows, cols);
                            let mut idx = self.index.clone();
                            idx[ra] = r;
                            idx[ca] = c;
                            hover = Some(Self::value_text(vol, &idx));
                        }
                    });
                }
                // Three planes two to a row leave a cell free: the colour bar goes there.
                if n == 3 && per_row == 2 && start + per_row > n {
                    ui.vertical(|ui| {
                        ui.label(RichText::new("colour").small());
                        self.colourbar_vertical(ui, scale, side);
                    });
                    self.bar_in_grid = true;
                }
            });
            start += per_row;
        }
        if let Some((i, (r, c))) = pressed {
            let (ra, ca) = pl[i];
            self.index[ra] = r;
            self.index[ca] = c;
            self.focus_plane = i;
        }
        if keys_here {
            self.step_keys(ui, vol, spatial, &pl);
        }
        self.readout =
            hover.unwrap_or_else(|| format!("crosshair {}", Self::value_text(vol, &self.index)));
    }

    /// Arrow keys step the crosshair in the focused plane; Page Up/Down step the third axis.
    fn step_keys(&mut self, ui: &egui::Ui, vol: &Volume, spatial: &[usize], pl: &[(usize, usize)]) {
        let Some(&(ra, ca)) = pl.get(self.focus_plane.min(pl.len().saturating_sub(1))) else {
            return;
        };
        let third = spatial.iter().copied().find(|&a| a != ra && a != ca);
        let k = |i: &mut egui::InputState, key| i.consume_key(Modifiers::NONE, key);
        let (l, r, u, d, pu, pd) = ui.input_mut(|i| {
            (
                k(i, Key::ArrowLeft),
                k(i, Key::ArrowRight),
                k(i, Key::ArrowUp),
                k(i, Key::ArrowDown),
                k(i, Key::PageUp),
                k(i, Key::PageDown),
            )
        });
        let shape = vol.shape();
        let mut step = |ax: usize, back: bool, fwd: bool| {
            let n = shape[ax];
            if back {
                self.index[ax] = self.index[ax].saturating_sub(1);
            }
            if fwd {
                self.index[ax] = (self.index[ax] + 1).min(n.saturating_sub(1));
            }
        };
        step(ca, l, r);
        step(ra, u, d);
        if let Some(t) = third {
            step(t, pd, pu);
        }
    }

    /// Every slice along the montage axis; a click shows that slice in the planes.
    pub(super) fn montage_ui(
        &mut self,
        ui: &mut egui::Ui,
        vol: &Volume,
        tiles: Option<&(u64, Arc<Tiles>)>,
        scale: &Scale,
    ) {
        let axis = self.montage_axis;
        let name = vol.names()[axis].clone();
        let Some((key, t)) = tiles else {
            ui.horizontal(|ui| {
                ui.add(egui::Spinner::new());
                ui.label(format!(
                    "Preparing {} slices along {name}…",
                    vol.shape()[axis]
                ));
            });
            return;
        };
        let n = t.tiles.len();
        let Some(first) = t.tiles.first() else { return };
        let (tr, tc) = (first.rows, first.cols);
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "a small count"
        )]
        let gc = ((n as f64).sqrt().ceil() as usize).max(1);
        let gr = n.div_ceil(gc);
        let (tw, th) = (tc + 1, tr + 1);
        let ctx = ui.ctx().clone();
        let bg = ui.visuals().extreme_bg_color;
        let (tex, rebuilt) =
            self.montage_tex
                .get(&ctx, "viewer-montage", scaled_key(*key, scale), || {
                    let mut px = vec![bg; gc * tw * gr * th];
                    for (s, img) in t.tiles.iter().enumerate() {
                        let (x0, y0) = ((s % gc) * tw, (s / gc) * th);
                        for r in 0..tr {
                            for c in 0..tc {
                                px[(y0 + r) * gc * tw + x0 + c] =
                                    scale.pixel(f64::from(img.at(r, c)));
                            }
                        }
                    }
                    egui::ColorImage::new([gc * tw, gr * th], px)
                });
        self.texture_builds += usize::from(rebuilt);
        let w = ui.available_width().min(self.plane_max * 3.0);
        let h = w * (gr * th) as f32 / (gc * tw) as f32;
        let (rect, resp) = ui.allocate_exact_size(vec2(w, h), Sense::click());
        let p = ui.painter_at(rect);
        p.image(tex.id(), rect, FULL_UV, Color32::WHITE);
        let (cw, ch) = (w / gc as f32, h / gr as f32);
        let tile_rect = |s: usize| {
            Rect::from_min_size(
                pos2(
                    rect.left() + (s % gc) as f32 * cw,
                    rect.top() + (s / gc) as f32 * ch,
                ),
                vec2(cw * tc as f32 / tw as f32, ch * tr as f32 / th as f32),
            )
        };
        let font = FontId::proportional(if cw > 40.0 { 11.0 } else { 9.0 });
        for s in 0..n {
            let tr_ = tile_rect(s);
            self.tile_rects.push(tr_);
            let galley = p.layout_no_wrap(s.to_string(), font.clone(), Color32::WHITE);
            let bgr = Rect::from_min_size(tr_.min, galley.size() + vec2(3.0, 0.0));
            p.rect_filled(bgr, 0.0, Color32::from_black_alpha(150));
            p.galley(tr_.min + vec2(1.5, 0.0), galley, Color32::WHITE);
        }
        if let Some(&cur) = self.index.get(axis)
            && cur < n
        {
            p.rect_stroke(
                tile_rect(cur),
                0.0,
                Stroke::new(2.0, Color32::from_rgb(255, 230, 80)),
                egui::StrokeKind::Inside,
            );
        }
        let under = |pos: egui::Pos2| {
            (0..n).find(|&s| {
                let r = tile_rect(s);
                r.expand2(vec2(cw - r.width(), ch - r.height()) * 0.5)
                    .contains(pos)
                    || Rect::from_min_size(r.min, vec2(cw, ch)).contains(pos)
            })
        };
        self.readout = match resp.hover_pos().and_then(under) {
            Some(s) => format!("slice {name}={s} — click to show it in the three planes"),
            None => format!("{n} slices along {name}; click one to show it in the three planes"),
        };
        if resp.clicked()
            && let Some(s) = resp.interact_pointer_pos().and_then(under)
        {
            self.index[axis] = s;
            self.mode = Mode::Planes;
        }
    }

    /// The projection image; clicking moves the crosshair there.
    pub(super) fn projection_ui(
        &mut self,
        ui: &mut egui::Ui,
        vol: &Volume,
        spatial: &[usize],
        image: Option<&(u64, Arc<Image>)>,
        scale: &Scale,
    ) {
        let names = vol.names().to_vec();
        let along = self.projection_axis;
        let rest: Vec<usize> = spatial.iter().copied().filter(|&a| a != along).collect();
        let [ra, ca] = rest[..] else { return };
        let Some((key, img)) = image else {
            ui.horizontal(|ui| {
                ui.add(egui::Spinner::new());
                ui.label(format!("Projecting along {}…", names[along]));
            });
            return;
        };
        ui.label(
            RichText::new(format!(
                "{} over {}: {} × {}",
                self.reduce.label(),
                names[along],
                names[ra],
                names[ca]
            ))
            .small(),
        );
        let ctx = ui.ctx().clone();
        let (tex, rebuilt) =
            self.projection_tex
                .get(&ctx, "viewer-projection", scaled_key(*key, scale), || {
                    colour_image(img, scale)
                });
        self.texture_builds += usize::from(rebuilt);
        let side = ui.available_width().min(self.plane_max * 2.0);
        let (rect, resp) = ui.allocate_exact_size(fit(img.rows, img.cols, side), Sense::click());
        self.plane_rects.push(rect);
        ui.painter().image(tex.id(), rect, FULL_UV, Color32::WHITE);
        crosshair(
            ui.painter(),
            rect,
            img.rows,
            img.cols,
            self.index[ra],
            self.index[ca],
        );
        self.readout = match resp.hover_pos() {
            Some(p) => {
                let (r, c) = cell_at(rect, p, img.rows, img.cols);
                let mut idx = self.index.clone();
                idx[ra] = r;
                idx[ca] = c;
                let at: Vec<String> = idx
                    .iter()
                    .zip(&names)
                    .enumerate()
                    .filter(|(a, (_, n))| *a != along && n.as_str() != "-" && n.as_str() != "row")
                    .map(|(_, (i, n))| format!("{n}={i}"))
                    .collect();
                format!(
                    "{} over {} at [{}] = {}",
                    self.reduce.label(),
                    names[along],
                    at.join(", "),
                    fmt_value(f64::from(img.at(r, c)))
                )
            }
            None => "hover for values; click to move the crosshair there".to_owned(),
        };
        if resp.clicked()
            && let Some(p) = resp.interact_pointer_pos()
        {
            let (r, c) = cell_at(rect, p, img.rows, img.cols);
            self.index[ra] = r;
            self.index[ca] = c;
        }
    }
}
