//! Autosave of unsaved pages into this window's recovery folder, and restoring pages that a
//! window which did not close cleanly left behind.
//!
//! Autosave runs from [`eframe::App::logic`], which eframe calls even while the window is
//! hidden or minimized. While a page is unsaved, each pass asks for another one when the rest
//! of the interval is over (`request_repaint_after`), so the recovery files are written within
//! the interval even when the window gets no events at all.

use std::time::{Duration, Instant};

use crate::app::BlockspaceApp;
use crate::app::page_tab::PageTab;
use crate::app::recovery::Recovered;

/// The autosave interval when neither [`crate::AppOptions::autosave_interval`] nor
/// `BLOCKSPACE_AUTOSAVE_SECS` says otherwise.
pub const AUTOSAVE_EVERY: Duration = Duration::from_secs(20);

/// The environment variable that sets the autosave interval in seconds (e.g. `2`, `0.5`).
pub const AUTOSAVE_ENV: &str = "BLOCKSPACE_AUTOSAVE_SECS";

/// `BLOCKSPACE_AUTOSAVE_SECS` is not a number of seconds in `0.05..=86400`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{AUTOSAVE_ENV}={value:?} is not a number of seconds between 0.05 and 86400; \
     set it to e.g. 5, or unset it for the default of {} s",
    AUTOSAVE_EVERY.as_secs()
)]
pub struct AutosaveEnvError {
    /// The variable's value (its first 80 characters).
    pub value: String,
}

/// The autosave interval `BLOCKSPACE_AUTOSAVE_SECS` asks for (`None` when unset).
///
/// # Errors
/// [`AutosaveEnvError`] naming the variable and its value when it is not a number of seconds
/// in `0.05..=86400`.
pub fn autosave_interval_from_env() -> Result<Option<Duration>, AutosaveEnvError> {
    let Some(v) = std::env::var_os(AUTOSAVE_ENV) else {
        return Ok(None);
    };
    let text = v.to_string_lossy();
    match text.trim().parse::<f64>() {
        Ok(secs) if (0.05..=86_400.0).contains(&secs) => Ok(Some(Duration::from_secs_f64(secs))),
        _ => Err(AutosaveEnvError {
            value: text.chars().take(80).collect(),
        }),
    }
}

impl BlockspaceApp {
    /// Writes the recovery files when the interval is over; while a page is unsaved, asks for
    /// a pass when the rest of the interval is over, so an idle window autosaves too.
    pub(crate) fn autosave(&mut self, ctx: &egui::Context) {
        let elapsed = self.last_autosave.elapsed();
        if elapsed >= self.autosave_every {
            self.last_autosave = Instant::now();
            self.write_recovery();
        }
        if self.tabs.iter().any(PageTab::is_dirty) {
            let remaining = self
                .autosave_every
                .saturating_sub(self.last_autosave.elapsed());
            ctx.request_repaint_after(remaining);
        }
    }

    /// The autosave interval.
    #[must_use]
    pub fn autosave_interval(&self) -> Duration {
        self.autosave_every
    }

    /// Writes recovery files for every tab with unsaved changes (and removes the others').
    pub fn write_recovery(&mut self) {
        let mut problems = Vec::new();
        for t in &self.tabs {
            if t.is_dirty() {
                let json = blockspace_graph::page_to_json(&self.registry, &t.page);
                if let Err(e) = self
                    .recovery
                    .write(t.uid, &t.title, t.path.as_deref(), &json)
                {
                    problems.push(e);
                }
            } else {
                self.recovery.remove(t.uid);
            }
        }
        for p in problems {
            self.toast_error(format!("Autosave failed: {p}"));
        }
    }

    pub(crate) fn restore(&mut self, pages: &[Recovered]) {
        for r in pages {
            match blockspace_graph::load_page(&self.registry, &r.file) {
                Ok(page) => {
                    let idx = self.push_tab(r.title.clone(), page, r.origin.clone());
                    if let Some(t) = self.tabs.get_mut(idx) {
                        // Restored work is unsaved work.
                        t.saved_revision = None;
                    }
                    self.recovery.forget(&r.file);
                }
                // The file stays, and is offered again next time.
                Err(e) => self.error("Could not restore a page", &e.to_string()),
            }
        }
        self.recovery.release_orphans();
        self.write_recovery();
    }
}
