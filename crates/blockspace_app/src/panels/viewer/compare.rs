//! Comparing the result with a reference: another block's output of the same shape, a pinned
//! result (to compare before and after an edit), or a `.npy` file (read with the graph crate's
//! strict reader, off the UI thread when big). The views can show `a − b`; the report gives the
//! largest absolute and relative errors, the worst element and NumPy's `allclose` verdict.

use std::path::PathBuf;

use blockspace_graph::npy::read_npy;
use blockspace_graph::{Outputs, Tensor};
use blockspace_kernels::MemoryLimit;

use crate::panels::viewer::compute::{self, Comparison};
use crate::panels::viewer::jobs::{JobError, Status, key_of};
use crate::panels::viewer::table::fmt_value;
use crate::panels::viewer::{Mode, Shown, TensorRef, ViewerAction, Volume, VolumeViewer, axes};

/// A tensor to compare with, and what to call it.
#[derive(Clone, Debug)]
pub struct Reference {
    /// E.g. `conv:output`, `ref.npy`, `upsample:output (pinned)`.
    pub label: String,
    /// The tensor.
    pub tensor: TensorRef,
}

/// The comparison's settings and references.
#[derive(Debug)]
pub struct CompareState {
    /// What the result is compared with.
    pub against: Option<Reference>,
    /// A result kept to compare later results with.
    pub pinned: Option<Reference>,
    /// Relative tolerance of `allclose`.
    pub rtol: f64,
    /// Absolute tolerance of `allclose`.
    pub atol: f64,
    /// Show `a − b` in the views (else `a`).
    pub show_difference: bool,
    /// A `.npy` file being read.
    pub loading: Option<PathBuf>,
    /// Why the last reference could not be used.
    pub error: Option<String>,
}

impl Default for CompareState {
    fn default() -> Self {
        Self {
            against: None,
            pinned: None,
            rtol: 1e-5,
            atol: 1e-8,
            show_difference: true,
            loading: None,
            error: None,
        }
    }
}

impl CompareState {
    /// What the views show: `a − b` when comparing (and the shapes match), else `a`.
    #[must_use]
    pub fn shown_volume(&self, a: &Volume) -> Volume {
        match &self.against {
            Some(r) if self.show_difference => {
                let key = key_of(&(a.key, r.tensor.id()));
                a.minus(r.tensor.clone(), key).unwrap_or_else(|_| a.clone())
            }
            _ => a.clone(),
        }
    }
}

impl VolumeViewer {
    /// Starts reading a `.npy` file to compare with (the file dialog's answer).
    pub fn load_reference(&mut self, path: PathBuf) {
        self.compare.error = None;
        self.compare.loading = Some(path);
    }

    /// Keeps `r` to compare later results with, and compares with it.
    pub fn pin(&mut self, r: Reference) {
        self.compare.pinned = Some(r);
    }

    /// Reads the `.npy` being loaded, if any.
    fn poll_reference(&mut self, ctx: &egui::Context) {
        let Some(path) = self.compare.loading.clone() else {
            return;
        };
        let key = key_of(&path);
        // Small files are read at once; big ones on a worker thread.
        let cost = std::fs::metadata(&path)
            .map_or(0, |m| usize::try_from(m.len() / 4).unwrap_or(usize::MAX));
        let p = path.clone();
        match self.jobs.reference.get(ctx, key, cost, move |_| {
            read_npy(&p, &MemoryLimit::default())
                .map(|t| Some(Outputs::new(vec![t])))
                .map_err(|e| JobError::Failed(e.to_string()))
        }) {
            Status::Ready(outputs) => {
                self.compare.loading = None;
                let name = path.file_name().map_or_else(
                    || path.display().to_string(),
                    |n| n.to_string_lossy().into_owned(),
                );
                if let Some(t) = TensorRef::new(outputs, 0) {
                    self.compare.against = Some(Reference {
                        label: name,
                        tensor: t,
                    });
                }
            }
            Status::Failed(e) => {
                self.compare.loading = None;
                self.compare.error = Some(e);
            }
            Status::Pending => {}
        }
    }

    /// The comparison section: pick a reference, pin, tolerances, the report.
    pub(super) fn compare_section(
        &mut self,
        ui: &mut egui::Ui,
        shown: &Shown,
        action: &mut Option<ViewerAction>,
    ) {
        let ctx = ui.ctx().clone();
        self.poll_reference(&ctx);
        egui::CollapsingHeader::new("Compare with a reference")
            .id_salt("viewer-compare")
            .default_open(true)
            .show(ui, |ui| {
                ui.horizontal_wrapped(|ui| {
                    if ui
                        .button("📌 Pin this result")
                        .on_hover_text(
                            "Keep this result as it is now, to compare later results with \
                             (e.g. before and after you change an attribute)",
                        )
                        .clicked()
                    {
                        let r = Reference {
                            label: format!("{} (pinned)", shown.label),
                            tensor: shown.volume.a().clone(),
                        };
                        self.pin(r.clone());
                        self.compare.against = Some(r);
                    }
                    if ui
                        .button("Open .npy reference…")
                        .on_hover_text(
                            "Compare with a NumPy .npy file of the same shape, e.g. the output \
                             of TensorFlow or PyTorch",
                        )
                        .clicked()
                    {
                        *action = Some(ViewerAction::PickReferenceNpy);
                    }
                });
                self.reference_combo(ui, shown);
                if let Some(p) = &self.compare.loading {
                    ui.horizontal(|ui| {
                        ui.add(egui::Spinner::new());
                        ui.label(format!("Reading {}…", p.display()));
                    });
                }
                if let Some(e) = &self.compare.error {
                    ui.colored_label(ui.visuals().error_fg_color, e);
                }
                if let Some(r) = self.compare.against.clone() {
                    self.report_ui(ui, &ctx, shown, &r);
                }
            });
    }

    fn reference_combo(&mut self, ui: &mut egui::Ui, shown: &Shown) {
        let mut options: Vec<Reference> = Vec::new();
        if let Some(p) = &self.compare.pinned {
            options.push(p.clone());
        }
        options.extend(shown.candidates.iter().cloned());
        if let Some(a) = &self.compare.against
            && !options.iter().any(|o| o.tensor.same(&a.tensor))
        {
            options.push(a.clone());
        }
        ui.horizontal(|ui| {
            ui.label("compare with");
            let current = self
                .compare
                .against
                .as_ref()
                .map_or("nothing".to_owned(), |r| r.label.clone());
            egui::ComboBox::from_id_salt("viewer-reference")
                .selected_text(current)
                .width(180.0)
                .show_ui(ui, |ui| {
                    if ui
                        .selectable_label(self.compare.against.is_none(), "nothing")
                        .clicked()
                    {
                        self.compare.against = None;
                    }
                    for o in options {
                        let on = self
                            .compare
                            .against
                            .as_ref()
                            .is_some_and(|a| a.tensor.same(&o.tensor));
                        if ui.selectable_label(on, &o.label).clicked() {
                            self.compare.error = None;
                            self.compare.against = Some(o);
                        }
                    }
                })
                .response
                .on_hover_text(
                    "Other results of the same shape on this page, the pinned result, or an \
                     opened .npy file",
                );
        });
    }

    fn report_ui(&mut self, ui: &mut egui::Ui, ctx: &egui::Context, shown: &Shown, r: &Reference) {
        let vol = match shown.volume.minus(r.tensor.clone(), 0) {
            Ok(v) => v,
            Err(e) => {
                ui.colored_label(ui.visuals().error_fg_color, e.to_string());
                return;
            }
        };
        ui.horizontal_wrapped(|ui| {
            ui.checkbox(&mut self.compare.show_difference, "show a − b in the views")
                .on_hover_text("a: this result; b: the reference");
            ui.label("rtol");
            ui.add(
                egui::DragValue::new(&mut self.compare.rtol)
                    .speed(1e-6)
                    .range(0.0..=1.0)
                    .custom_formatter(|v, _| format!("{v:e}")),
            )
            .on_hover_text(
                "Relative tolerance: close when |a − b| ≤ atol + rtol·|b| (NumPy's allclose)",
            );
            ui.label("atol");
            ui.add(
                egui::DragValue::new(&mut self.compare.atol)
                    .speed(1e-9)
                    .range(0.0..=f64::MAX)
                    .custom_formatter(|v, _| format!("{v:e}")),
            )
            .on_hover_text(
                "Absolute tolerance: close when |a − b| ≤ atol + rtol·|b| (NumPy's allclose)",
            );
        });
        let (rtol, atol) = (self.compare.rtol, self.compare.atol);
        let key = key_of(&(
            shown.volume.key,
            r.tensor.id(),
            rtol.to_bits(),
            atol.to_bits(),
        ));
        let v = vol.clone();
        let st = self
            .jobs
            .comparison
            .get(ctx, key, vol.len(), move |cancel| {
                let all = vec![None; v.shape().len()];
                Ok(compute::compare(v.iter_a(&all), v.iter_b(&all), rtol, atol, cancel).ok())
            });
        match st {
            Status::Ready(c) => self.verdict_ui(ui, &vol, &c),
            Status::Pending => {
                ui.horizontal(|ui| {
                    ui.add(egui::Spinner::new());
                    ui.label(format!("Comparing {} elements…", vol.len()));
                });
            }
            Status::Failed(e) => {
                ui.colored_label(ui.visuals().error_fg_color, e);
            }
        }
    }

    fn verdict_ui(&mut self, ui: &mut egui::Ui, vol: &Volume, c: &Comparison) {
        let (text, colour) = if c.allclose {
            (
                format!("✔ allclose: all {} elements are close", c.count),
                egui::Color32::from_rgb(60, 170, 90),
            )
        } else {
            (
                format!(
                    "✘ not allclose: {} of {} elements differ",
                    c.mismatches, c.count
                ),
                ui.visuals().error_fg_color,
            )
        };
        ui.label(egui::RichText::new(text).strong().color(colour))
            .on_hover_text(format!(
                "NumPy's allclose(a, b, rtol={:e}, atol={:e}): |a − b| ≤ atol + rtol·|b| for \
                 every element; NaN is never close",
                c.rtol, c.atol
            ));
        egui::Grid::new("viewer-compare-report")
            .num_columns(2)
            .spacing([12.0, 2.0])
            .show(ui, |ui| {
                ui.label("max abs error");
                ui.monospace(fmt_value(c.max_abs));
                ui.end_row();
                ui.label("max rel error");
                ui.monospace(fmt_value(c.max_rel));
                ui.end_row();
                if let Some(w) = c.worst {
                    let idx = compute::unravel(w, vol.shape());
                    ui.label("worst element");
                    ui.horizontal(|ui| {
                        ui.monospace(format!(
                            "{}  a = {}, b = {}",
                            axes::index_text(&idx, vol.names()),
                            fmt_value(c.worst_values.0),
                            fmt_value(c.worst_values.1)
                        ));
                        if ui
                            .small_button("show")
                            .on_hover_text("Move the crosshair to the worst element")
                            .clicked()
                        {
                            self.index = idx;
                            self.mode = Mode::Planes;
                        }
                    });
                    ui.end_row();
                }
            });
    }

    /// The last comparison's report, if computed (for tests and the status of the panel).
    #[must_use]
    pub fn comparison(&self) -> Option<std::sync::Arc<Comparison>> {
        let r = self.compare.against.as_ref()?;
        let (rtol, atol) = (self.compare.rtol, self.compare.atol);
        self.jobs.comparison.peek(key_of(&(
            self.shown_key,
            r.tensor.id(),
            rtol.to_bits(),
            atol.to_bits(),
        )))
    }
}

/// A reference that is one tensor (tests, files).
#[must_use]
pub fn reference_of(label: &str, t: Tensor) -> Reference {
    Reference {
        label: label.to_owned(),
        tensor: TensorRef::single(t),
    }
}
