//! Python exports run on named worker threads: materialising a page's inputs and writing the
//! script and its `.npy` files can take a while for large inputs, and the window keeps drawing.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender, channel};

use blockspace_graph::{
    ExportError, ExportOptions, Framework, Page, Registry, export_page, write_export,
};

/// A finished export.
#[derive(Debug)]
pub struct ExportDone {
    /// The script written (or not).
    pub path: PathBuf,
    /// The framework it was for.
    pub framework: Framework,
    /// How many input files were written beside it, or why it failed.
    pub result: Result<usize, ExportError>,
}

/// The export's worker thread could not start.
#[derive(Debug, thiserror::Error)]
#[error("could not start the export thread: {0}")]
pub struct ExportStartError(#[from] std::io::Error);

/// Runs exports off the UI thread; answers arrive through [`ExportJobs::poll`].
pub struct ExportJobs {
    tx: Sender<ExportDone>,
    rx: Receiver<ExportDone>,
    /// Exports still running.
    pub running: usize,
}

impl Default for ExportJobs {
    fn default() -> Self {
        let (tx, rx) = channel();
        Self { tx, rx, running: 0 }
    }
}

impl ExportJobs {
    /// Starts exporting a snapshot of `page` to `path`.
    ///
    /// # Errors
    /// [`ExportStartError`] when the worker thread cannot start.
    pub fn spawn(
        &mut self,
        ctx: &egui::Context,
        registry: &Registry,
        page: &Page,
        base_dir: Option<PathBuf>,
        framework: Framework,
        path: &Path,
    ) -> Result<(), ExportStartError> {
        let (tx, ctx, registry, page, path) = (
            self.tx.clone(),
            ctx.clone(),
            registry.clone(),
            page.clone(),
            path.to_owned(),
        );
        std::thread::Builder::new()
            .name("blockspace-export".into())
            .spawn(move || {
                let opts = ExportOptions::script(framework, &path);
                let result = export_page(&registry, &page, base_dir.as_deref(), &opts)
                    .and_then(|e| write_export(&e, &path).map(|()| e.files.len()));
                // The app may have quit meanwhile; then nobody needs the answer.
                let _ = tx.send(ExportDone {
                    path,
                    framework,
                    result,
                });
                ctx.request_repaint();
            })
            .map(|_| self.running += 1)
            .map_err(ExportStartError)
    }

    /// Exports that finished since the last call.
    pub fn poll(&mut self) -> Vec<ExportDone> {
        let done: Vec<ExportDone> = self.rx.try_iter().collect();
        self.running = self.running.saturating_sub(done.len());
        done
    }
}
