//! Autosave of unsaved pages into this window's recovery folder, and restoring pages that a
//! window which did not close cleanly left behind.

use std::time::{Duration, Instant};

use crate::app::BlockspaceApp;
use crate::app::recovery::Recovered;

const AUTOSAVE_EVERY: Duration = Duration::from_secs(20);

impl BlockspaceApp {
    pub(crate) fn autosave(&mut self) {
        if self.last_autosave.elapsed() < AUTOSAVE_EVERY {
            return;
        }
        self.last_autosave = Instant::now();
        self.write_recovery();
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
