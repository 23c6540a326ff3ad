//! The status bar: file dialogs waiting, run progress or the last run's time, problems, counts,
//! and the last frame's UI time.

use crate::app::BlockspaceApp;
use crate::canvas::block_view::fmt_duration;
use blockspace_graph::format_size;

impl BlockspaceApp {
    pub(crate) fn status_bar(&self, ui: &mut egui::Ui) {
        let dialogs_open = self.dialogs.open;
        let Some(tab) = self.tab() else { return };
        ui.horizontal(|ui| {
            if dialogs_open > 0 {
                ui.add(egui::Spinner::new());
                ui.label("Waiting for the file dialog…").on_hover_text(
                    "If no dialog appeared, use File → Open by path… or File → Save to path…",
                );
                ui.separator();
            }
            if tab.run.active {
                ui.add(egui::Spinner::new());
                let names: Vec<String> = tab
                    .run
                    .running
                    .iter()
                    .filter_map(|id| tab.page.block(*id).map(|b| b.name.clone()))
                    .collect();
                ui.label(format!(
                    "Running {}/{}{}",
                    tab.run.done,
                    tab.run.total,
                    if names.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", names.join(", "))
                    }
                ));
                let frac = if tab.run.total > 0 {
                    tab.run.done as f32 / tab.run.total as f32
                } else {
                    0.0
                };
                ui.add(egui::ProgressBar::new(frac).desired_width(120.0));
            } else if let Some((rev, cancelled, took)) = tab.run.last {
                let stale = rev != tab.page.model_revision();
                let text = if cancelled {
                    "Run cancelled".to_owned()
                } else {
                    format!("Evaluated in {}", fmt_duration(took))
                };
                ui.label(if stale {
                    format!("{text} (page changed since; press F5 to run)")
                } else {
                    text
                });
            } else {
                ui.label("Not evaluated yet — press F5 to run");
            }
            ui.separator();
            if let Some(why) = &tab.run.refused {
                ui.colored_label(
                    ui.visuals().error_fg_color,
                    "⚠ Not run: over the memory budget",
                )
                .on_hover_text(why.as_str());
                ui.separator();
            }
            let errors = tab.views_snapshot_errors();
            if errors > 0 {
                ui.colored_label(
                    ui.visuals().error_fg_color,
                    format!("⚠ {errors} block(s) with problems"),
                );
                ui.separator();
            }
            ui.label(format!(
                "{} blocks, {} wires",
                tab.page.blocks().count(),
                tab.page.wires().count()
            ));
            ui.separator();
            let (live, budget) = (
                format_size(tab.executor.memory_live()),
                format_size(tab.memory_budget),
            );
            ui.label(format!("Memory {live} of {budget}"))
                .on_hover_text(format!(
                    "Tensors held now by every open page (results, and buffers of running blocks): \
                 {live}. Most held at once since the last run started: {}. Budget of all pages \
                 together: {budget} (Run ▸ Memory limit…).",
                    format_size(tab.executor.memory_peak()),
                ));
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                ui.weak(format!(
                    "UI {:.1} ms",
                    self.last_frame_time.as_secs_f64() * 1e3
                ));
            });
        });
    }
}
