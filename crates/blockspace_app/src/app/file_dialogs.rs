//! Native file dialogs off the UI thread, and file-name helpers for page files.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender, channel};

use blockspace_graph::{BlockId, Framework};

use crate::app::page_tab::TabId;

/// The file name suffix of page files.
pub const PAGE_SUFFIX: &str = ".bspage.json";

/// What a native file dialog was opened for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DialogPurpose {
    /// Open page files.
    Open,
    /// Save this tab under a new name (then close it if `close_after`).
    SaveAs {
        /// The tab.
        tab: TabId,
        /// Close the tab after saving.
        close_after: bool,
    },
    /// Export the tensor shown in the viewer.
    ExportNpy,
    /// Pick a `.npy` file to compare the viewer's result with.
    ReferenceNpy,
    /// Export this tab as a Python script for `framework`.
    ExportPython {
        /// The tab.
        tab: TabId,
        /// The framework.
        framework: Framework,
    },
    /// Pick a file for an attribute (tab, block, attr).
    AttrPath {
        /// The tab.
        tab: TabId,
        /// The block.
        block: BlockId,
        /// The attribute.
        attr: String,
    },
}

/// The answer of a native file dialog.
#[derive(Clone, Debug)]
pub struct DialogAnswer {
    /// Why it was opened.
    pub purpose: DialogPurpose,
    /// The chosen paths (empty when cancelled).
    pub paths: Vec<PathBuf>,
    /// How long the dialog was open (an empty answer within moments means no dialog could open).
    pub open_for: std::time::Duration,
}

/// A native file dialog could not be started.
#[derive(Debug, thiserror::Error)]
#[error("could not open a file dialog: {source}")]
pub struct DialogError {
    /// Why the dialog thread did not start.
    #[source]
    pub source: std::io::Error,
}

/// Runs native file dialogs on named worker threads so the UI keeps drawing.
pub struct Dialogs {
    tx: Sender<DialogAnswer>,
    rx: Receiver<DialogAnswer>,
    /// How many dialogs are open.
    pub open: usize,
}

impl Default for Dialogs {
    fn default() -> Self {
        let (tx, rx) = channel();
        Self { tx, rx, open: 0 }
    }
}

impl Dialogs {
    /// Opens a dialog; the answer arrives through [`Dialogs::poll`].
    pub fn spawn(
        &mut self,
        ctx: &egui::Context,
        purpose: DialogPurpose,
        start_dir: Option<PathBuf>,
        file_name: Option<String>,
    ) -> Result<(), DialogError> {
        let tx = self.tx.clone();
        let ctx = ctx.clone();
        let p = purpose.clone();
        let spawned = std::thread::Builder::new()
            .name("blockspace-file-dialog".into())
            .spawn(move || {
                let started = std::time::Instant::now();
                let mut d = rfd::FileDialog::new();
                if let Some(dir) = start_dir {
                    d = d.set_directory(dir);
                }
                let paths = match &p {
                    DialogPurpose::Open => d
                        .add_filter("Blockspace page", &["json"])
                        .set_title("Open page")
                        .pick_files()
                        .unwrap_or_default(),
                    DialogPurpose::SaveAs { .. } => {
                        let d = d
                            .add_filter("Blockspace page", &["json"])
                            .set_title("Save page as");
                        let d = match file_name {
                            Some(n) => d.set_file_name(n),
                            None => d,
                        };
                        d.save_file()
                            .map(|p| vec![with_page_suffix(&p)])
                            .unwrap_or_default()
                    }
                    DialogPurpose::ExportNpy => {
                        let d = d
                            .add_filter("NumPy array", &["npy"])
                            .set_title("Export tensor as .npy");
                        let d = match file_name {
                            Some(n) => d.set_file_name(n),
                            None => d,
                        };
                        d.save_file().into_iter().collect()
                    }
                    DialogPurpose::ExportPython { framework, .. } => {
                        let d = d
                            .add_filter("Python script", &["py"])
                            .set_title(format!("Export page as Python ({framework})"));
                        let d = match file_name {
                            Some(n) => d.set_file_name(n),
                            None => d,
                        };
                        d.save_file().into_iter().collect()
                    }
                    DialogPurpose::ReferenceNpy => d
                        .add_filter("NumPy array", &["npy"])
                        .set_title("Choose a .npy reference to compare with")
                        .pick_file()
                        .into_iter()
                        .collect(),
                    DialogPurpose::AttrPath { .. } => d
                        .add_filter("NumPy array", &["npy"])
                        .set_title("Choose a .npy file")
                        .pick_file()
                        .into_iter()
                        .collect(),
                };
                // The app may have quit meanwhile; then nobody needs the answer.
                let _ = tx.send(DialogAnswer {
                    purpose: p,
                    paths,
                    open_for: started.elapsed(),
                });
                ctx.request_repaint();
            });
        match spawned {
            Ok(_) => {
                self.open += 1;
                Ok(())
            }
            Err(source) => Err(DialogError { source }),
        }
    }

    /// Answers that arrived since the last call.
    pub fn poll(&mut self) -> Vec<DialogAnswer> {
        let answers: Vec<DialogAnswer> = self.rx.try_iter().collect();
        self.open = self.open.saturating_sub(answers.len());
        answers
    }
}

/// Adds `.bspage.json` unless the name already ends with `.json`.
#[must_use]
pub fn with_page_suffix(p: &Path) -> PathBuf {
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if name.ends_with(".json") {
        p.to_path_buf()
    } else {
        p.with_file_name(format!("{name}{PAGE_SUFFIX}"))
    }
}

/// The tab title for a page file: its name without `.bspage.json`/`.json`.
#[must_use]
pub fn title_for(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    name.strip_suffix(PAGE_SUFFIX)
        .or_else(|| name.strip_suffix(".json"))
        .unwrap_or(&name)
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_and_suffixes() {
        assert_eq!(
            title_for(Path::new("/a/minimal.bspage.json")),
            "minimal",
            "title"
        );
        assert_eq!(
            with_page_suffix(Path::new("/a/x")),
            Path::new("/a/x.bspage.json"),
            "suffix"
        );
        assert_eq!(
            with_page_suffix(Path::new("/a/x.json")),
            Path::new("/a/x.json"),
            "kept"
        );
    }
}
