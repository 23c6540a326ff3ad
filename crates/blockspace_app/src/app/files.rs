//! Saving pages, answers of native file dialogs, exporting the viewer's tensor, and the page as
//! Python (File → Export as Python…, Edit → Copy as Python).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use blockspace_graph::{AttrValue, BlockId, Framework};

use crate::app::export_jobs::ExportDone;
use crate::app::file_dialogs::{DialogAnswer, DialogPurpose, PAGE_SUFFIX, title_for};
use crate::app::{BlockspaceApp, Edit, TabId};

impl BlockspaceApp {
    /// Saves tab `idx` to `path`. Errors are shown in a dialog.
    pub fn save_tab_to(&mut self, idx: usize, path: &Path) -> bool {
        let reg = Arc::clone(&self.registry);
        let Some(tab) = self.tabs.get_mut(idx) else {
            return false;
        };
        // Saving into another folder keeps relative .npy paths pointing at the same files.
        let old_base = tab.base_dir();
        if let Some(cmd) =
            blockspace_graph::edit::rebase_for_save_as(&reg, &tab.page, old_base.as_deref(), path)
            && let Err(e) = tab.apply(&reg, Edit::new("Rebase .npy paths", cmd))
        {
            self.error("Could not rebase the .npy paths", &e.to_string());
            return false;
        }
        let Some(tab) = self.tabs.get_mut(idx) else {
            return false;
        };
        match blockspace_graph::save_page(&self.registry, &tab.page, path) {
            Ok(()) => {
                tab.path = Some(std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()));
                tab.saved_revision = Some(tab.page.revision());
                tab.title = title_for(path);
                let uid = tab.uid;
                self.recovery.remove(uid);
                self.recent.add(path);
                self.info(format!("Saved {}", path.display()));
                true
            }
            Err(e) => {
                self.error(
                    &format!("Could not save {}", path.display()),
                    &e.to_string(),
                );
                false
            }
        }
    }

    pub(crate) fn save_active(&mut self, save_as: bool, close_after: bool) {
        let Some(tab) = self.tabs.get(self.active) else {
            return;
        };
        match (&tab.path, save_as) {
            (Some(p), false) => {
                let p = p.clone();
                if self.save_tab_to(self.active, &p) && close_after {
                    self.close_tab_now(self.active);
                }
            }
            _ => {
                let purpose = DialogPurpose::SaveAs {
                    tab: tab.uid,
                    close_after,
                };
                let dir = tab.base_dir().or_else(|| {
                    self.recent
                        .paths
                        .first()
                        .and_then(|p| p.parent().map(Path::to_path_buf))
                });
                let name = format!("{}{}", tab.title, PAGE_SUFFIX);
                if let Err(e) = self.dialogs.spawn(&self.ctx, purpose, dir, Some(name)) {
                    self.error("Save As", &e.to_string());
                }
            }
        }
    }

    pub(crate) fn handle_dialog_answer(&mut self, a: DialogAnswer) {
        let Some(first) = a.paths.first().cloned() else {
            if a.open_for < Duration::from_millis(300) {
                self.toast_error(
                    "No system file dialog could be opened here; use File → Open by path… or \
                     File → Save to path…"
                        .to_owned(),
                );
            }
            return;
        };
        match a.purpose {
            DialogPurpose::Open => {
                for p in &a.paths {
                    self.open_path(p);
                }
            }
            DialogPurpose::SaveAs { tab, close_after } => {
                if let Some(idx) = self.tab_index(tab)
                    && self.save_tab_to(idx, &first)
                    && close_after
                {
                    self.close_tab_now(idx);
                }
                if self.quitting {
                    self.ctx.send_viewport_cmd(egui::ViewportCommand::Close);
                }
            }
            DialogPurpose::ExportNpy => self.export_npy(&first),
            DialogPurpose::ReferenceNpy => self.viewer.load_reference(first),
            DialogPurpose::ExportPython { tab, framework } => {
                self.export_python(tab, framework, &first);
            }
            DialogPurpose::AttrPath { tab, block, attr } => {
                if let Some(idx) = self.tab_index(tab) {
                    let base = self.tabs[idx].base_dir();
                    // Stored relative to the page file, so the page folder can move.
                    let value = match base {
                        Some(b) => blockspace_graph::file::relative_path(&b, &first),
                        None => first.clone(),
                    }
                    .to_string_lossy()
                    .replace('\\', "/");
                    self.active = idx;
                    self.set_attr(block, &attr, AttrValue::Str(value));
                }
            }
        }
    }

    fn selected_tensor(&self) -> Option<blockspace_graph::Tensor> {
        let tab = self.tab()?;
        let id = *tab.selection.iter().next_back()?;
        let res = tab.executor.result(id)?;
        let outputs = res.outputs.as_ref().ok()?;
        let t = outputs.get(tab.viewer_output).or_else(|| outputs.first())?;
        Some(t.clone())
    }

    /// Writes the selected block's shown output to `path` as `.npy` (in its own dtype).
    pub fn export_npy(&mut self, path: &Path) {
        let Some(t) = self.selected_tensor() else {
            self.toast_error("Nothing to export: the selected block has no result".to_owned());
            return;
        };
        match t.write_npy(path) {
            Ok(()) => self.info(format!("Exported {}", path.display())),
            Err(e) => self.error(
                &format!("Could not export {}", path.display()),
                &e.to_string(),
            ),
        }
    }

    /// Writes `tab` as a Python script for `framework` to `path` (and its `.npy` inputs beside
    /// it); says so in a toast, or shows why not.
    pub fn export_python(&mut self, tab: TabId, framework: Framework, path: &Path) {
        let Some(idx) = self.tab_index(tab) else {
            return;
        };
        let t = &self.tabs[idx];
        let started = self.exports.spawn(
            &self.ctx,
            &self.registry,
            &t.page,
            t.base_dir(),
            framework,
            path,
        );
        if let Err(e) = started {
            self.error(
                &format!("Could not export {}", path.display()),
                &e.to_string(),
            );
        }
    }

    /// Python exports still running on worker threads.
    #[must_use]
    pub fn exports_running(&self) -> usize {
        self.exports.running
    }

    /// Reports an export that finished on its worker thread.
    pub(crate) fn export_finished(&mut self, done: ExportDone) {
        let ExportDone {
            path,
            framework,
            result,
        } = done;
        match result {
            Ok(files) => self.info(format!(
                "Exported {} for {framework}{}",
                path.display(),
                if files > 0 {
                    format!(" ({files} input file(s) beside it)")
                } else {
                    String::new()
                }
            )),
            Err(e) => self.error(
                &format!("Could not export {}", path.display()),
                &e.to_string(),
            ),
        }
    }

    /// Copies `ids` (and the blocks they read) as a Python snippet for `framework`.
    pub(crate) fn copy_python(&mut self, ids: &[BlockId], framework: Framework) {
        let Some(tab) = self.tab() else { return };
        let opts = blockspace_graph::ExportOptions::snippet(framework, ids.to_vec());
        match blockspace_graph::export_page(
            &self.registry,
            &tab.page,
            tab.base_dir().as_deref(),
            &opts,
        ) {
            Ok(e) => {
                self.ctx.copy_text(e.script);
                self.info(format!(
                    "Copied {} block(s) as Python ({framework})",
                    ids.len()
                ));
            }
            Err(e) => self.error("Copy as Python", &e.to_string()),
        }
    }
}
