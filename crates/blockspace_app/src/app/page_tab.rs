//! One open page: the model, its history, its file, its executor, its canvas mirror.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use blockspace_graph::check::{CheckOptions, check_page_with};
use blockspace_graph::{
    BlockError, BlockId, Command, CommandError, ExecEvent, Executor, History, Page, PageCheck,
    Registry, TensorMeta,
};
use blockspace_kernels::MemoryLedger;
use egui::emath::TSTransform;

use crate::canvas::block_view::{BlockView, ViewSources, build_views};
use crate::canvas::geometry::CanvasGeometry;
use crate::canvas::mirror::Mirror;

/// A tab's identity, unique per process (egui ids, recovery files, dialogs that answer later).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TabId(pub u64);

impl std::fmt::Display for TabId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// One edit of a page, with the label shown in the undo menu.
#[derive(Clone, Debug, PartialEq)]
pub struct Edit {
    /// E.g. "Connect", "Move 3 blocks".
    pub label: String,
    /// The command to apply.
    pub cmd: Command,
}

impl Edit {
    /// An edit called `label`.
    #[must_use]
    pub fn new(label: impl Into<String>, cmd: Command) -> Self {
        Self {
            label: label.into(),
            cmd,
        }
    }
}

/// An edit was refused; the page is unchanged.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{label}: {source}")]
pub struct EditError {
    /// The edit's label ("Connect", "Set strides", ...).
    pub label: String,
    /// Why the page refused it.
    #[source]
    pub source: Box<CommandError>,
}

/// Run progress of one page.
#[derive(Clone, Debug, Default)]
pub struct RunState {
    /// Blocks being computed now.
    pub running: BTreeSet<BlockId>,
    /// Why the last run was not started: the page would not fit the memory budget (what is
    /// over and how to fix it).
    pub refused: Option<String>,
    /// The block that takes a refused run over the budget (its view shows why).
    pub over: Option<BlockId>,
    /// Blocks in the run in flight.
    pub total: usize,
    /// Blocks finished or skipped in the run in flight.
    pub done: usize,
    /// When the run in flight started.
    pub started: Option<Instant>,
    /// Whether a run is in flight.
    pub active: bool,
    /// The last finished run: the model revision it computed, cancelled, wall time.
    pub last: Option<(u64, bool, Duration)>,
}

/// One page tab.
pub struct PageTab {
    /// Unique per process (egui ids, recovery files).
    pub uid: TabId,
    /// Tab title (file stem, or "Untitled N").
    pub title: String,
    /// The page model: the source of truth.
    pub page: Page,
    /// Undo/redo of this page.
    pub history: History,
    /// The file this page is saved to.
    pub path: Option<PathBuf>,
    /// The page revision that matches the file.
    pub saved_revision: Option<u64>,
    /// The snarl mirror.
    pub mirror: Mirror,
    /// Geometry recorded while drawing the canvas last frame.
    pub geometry: CanvasGeometry,
    /// The selected blocks.
    pub selection: BTreeSet<BlockId>,
    /// The executor of this page.
    pub executor: Executor,
    /// Run progress.
    pub run: RunState,
    /// Evaluate after every change.
    pub auto_run: bool,
    /// The model revision ([`Page::model_revision`]) last sent to the executor: moving blocks
    /// does not change it, so a drag submits no run.
    pub submitted: Option<u64>,
    /// The page revision of that run and its model revision (to read the executor's events,
    /// which name page revisions).
    submitted_at: Option<(u64, u64)>,
    /// How many times this tab checked its page and submitted a run.
    pub counters: TabCounters,
    check: Option<(u64, PageCheck)>,
    views: Arc<HashMap<BlockId, BlockView>>,
    views_key: Option<(u64, u64, bool)>,
    /// Bumps on every executor event (invalidates the views).
    pub results_gen: u64,
    /// Frames to wait before zoom-to-fit (node sizes are known after the first frame).
    pub fit_in_frames: Option<u8>,
    /// A transform to impose on the canvas next frame.
    pub set_transform: Option<TSTransform>,
    /// The block pressed at the start of the current drag, and the positions at that time.
    pub drag_anchor: Option<BlockId>,
    /// The block whose output the viewer shows, and which output.
    pub viewer_output: usize,
    /// Where the canvas was last right-clicked (graph coordinates).
    pub menu_at: Option<egui::Pos2>,
    /// Snarl's own selection last frame (box selection is adopted from its changes).
    pub snarl_selected_prev: Vec<egui_snarl::NodeId>,
    /// The memory budget of this page's runs, in bytes (see `blockspace_graph::budget`).
    pub memory_budget: u64,
}

/// How much work a tab has done, for tests and the frame-time benchmark.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TabCounters {
    /// Page checks computed (a cached check is not counted).
    pub checks: u64,
    /// Runs submitted to the executor.
    pub runs: u64,
}

/// Total output elements above which auto-run starts switched off.
const AUTO_RUN_MAX_ELEMENTS: u64 = 64 * 1024 * 1024;

impl PageTab {
    /// A tab for `page`.
    pub fn new(
        uid: TabId,
        title: String,
        page: Page,
        path: Option<PathBuf>,
        registry: &Arc<Registry>,
        ctx: &egui::Context,
        (ledger, memory_budget): (&MemoryLedger, u64),
    ) -> Self {
        let wake_ctx = ctx.clone();
        let executor = Executor::with_ledger(
            Arc::clone(registry),
            Arc::new(move || wake_ctx.request_repaint()),
            ledger.clone(),
        );
        let saved_revision = path.as_ref().map(|_| page.revision());
        let mut tab = Self {
            uid,
            title,
            page,
            history: History::default(),
            path,
            saved_revision,
            mirror: Mirror::default(),
            geometry: CanvasGeometry::default(),
            selection: BTreeSet::new(),
            executor,
            run: RunState::default(),
            auto_run: true,
            submitted: None,
            submitted_at: None,
            counters: TabCounters::default(),
            check: None,
            views: Arc::new(HashMap::new()),
            views_key: None,
            results_gen: 0,
            fit_in_frames: Some(2),
            set_transform: None,
            drag_anchor: None,
            viewer_output: 0,
            menu_at: None,
            snarl_selected_prev: Vec::new(),
            memory_budget,
        };
        tab.auto_run = tab.estimated_elements(registry) <= AUTO_RUN_MAX_ELEMENTS;
        tab
    }

    /// Whether the page differs from its file (or has no file and is not empty).
    #[must_use]
    pub fn is_dirty(&self) -> bool {
        match self.saved_revision {
            Some(r) => r != self.page.revision(),
            // Never saved: unsaved work when it has blocks, or when it is a restored page of a
            // file (emptying a page is an edit too).
            None => self.path.is_some() || self.page.blocks().next().is_some(),
        }
    }

    /// Tab title with the dirty marker.
    #[must_use]
    pub fn display_title(&self) -> String {
        if self.is_dirty() {
            format!("{} *", self.title)
        } else {
            self.title.clone()
        }
    }

    /// The directory that relative paths in the page (e.g. `.npy` inputs) are relative to.
    #[must_use]
    pub fn base_dir(&self) -> Option<PathBuf> {
        self.path
            .as_deref()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
    }

    /// The shape check of the current model revision (cached: moving blocks keeps it).
    pub fn check(&mut self, registry: &Registry) -> &PageCheck {
        let rev = self.page.model_revision();
        if self.check.as_ref().is_some_and(|(r, _)| *r != rev) {
            self.check = None;
        }
        let page = &self.page;
        let opts = CheckOptions {
            base_dir: self
                .path
                .as_deref()
                .and_then(Path::parent)
                .map(Path::to_path_buf),
            ..CheckOptions::default()
        };
        let counters = &mut self.counters;
        &self
            .check
            .get_or_insert_with(|| {
                counters.checks += 1;
                (rev, check_page_with(registry, page, &opts))
            })
            .1
    }

    /// The check result of one block.
    pub fn block_check(
        &mut self,
        registry: &Registry,
        id: BlockId,
    ) -> Option<Result<Vec<TensorMeta>, BlockError>> {
        crate::adapter::block_check(self.check(registry), id).cloned()
    }

    fn estimated_elements(&mut self, registry: &Registry) -> u64 {
        let ids: Vec<BlockId> = self.page.blocks().map(|b| b.id).collect();
        let check = self.check(registry);
        ids.iter()
            .filter_map(|id| crate::adapter::block_check(check, *id))
            .filter_map(|r| r.as_ref().ok())
            .flat_map(|metas| metas.iter().map(TensorMeta::elements))
            .sum()
    }

    /// Applies one edit through the history.
    ///
    /// # Errors
    /// The page refused the command; the page is unchanged.
    pub fn apply(&mut self, registry: &Registry, edit: Edit) -> Result<(), EditError> {
        match self
            .history
            .apply(&mut self.page, registry, &edit.label, edit.cmd)
        {
            Ok(()) => Ok(()),
            Err(source) => {
                self.mirror.invalidate();
                Err(EditError {
                    label: edit.label,
                    source: Box::new(source),
                })
            }
        }
    }

    /// Undo; returns the label undone.
    pub fn undo(&mut self, registry: &Registry) -> Option<String> {
        let label = self.history.undo_label().map(str::to_owned);
        if self.history.undo(&mut self.page, registry) {
            self.selection.retain(|id| self.page.block(*id).is_some());
            label
        } else {
            None
        }
    }

    /// Redo; returns the label redone.
    pub fn redo(&mut self, registry: &Registry) -> Option<String> {
        let label = self.history.redo_label().map(str::to_owned);
        if self.history.redo(&mut self.page, registry) {
            self.selection.retain(|id| self.page.block(*id).is_some());
            label
        } else {
            None
        }
    }

    /// Starts a run of the current revision, unless the run would not fit the memory budget
    /// (then [`RunState::refused`] says why, and nothing runs).
    pub fn run_now(&mut self, registry: &Registry) {
        let budget = self.memory_budget;
        self.check(registry);
        let unchecked = PageCheck::default();
        let check = self.check.as_ref().map_or(&unchecked, |(_, c)| c);
        let plan = blockspace_graph::plan_memory(registry, &self.page, check, budget);
        self.run.refused = plan.refusal().map(|r| {
            format!(
                "{r}; in the app, set Run ▸ Memory limit… (or start Blockspace with BLOCKSPACE_MEMORY_LIMIT=SIZE)"
            )
        });
        let over = plan.over.as_ref().map(|b| b.block);
        if self.run.over != over {
            self.run.over = over;
            self.results_gen += 1; // the views show the refusal on that block
        }
        if self.run.refused.is_some() {
            // Not retried until the page changes.
            self.submitted = Some(self.page.model_revision());
            return;
        }
        self.executor
            .set_memory_limit(blockspace_kernels::MemoryLimit::bytes(budget));
        // The results of the last run stay on screen while this one computes, unless they and
        // the new ones together would not fit: then the ones this run replaces go first.
        self.executor
            .run_within(&self.page, self.base_dir(), plan.peak);
        self.submitted = Some(self.page.model_revision());
        self.submitted_at = Some((self.page.revision(), self.page.model_revision()));
        self.counters.runs += 1;
        self.run.started = Some(Instant::now());
        self.run.active = true;
    }

    /// Drains executor events; starts an auto-run when the page changed. Returns true when
    /// something changed.
    pub fn poll(&mut self, registry: &Registry) -> bool {
        let events = self.executor.poll();
        let changed = !events.is_empty();
        for ev in events {
            match ev {
                ExecEvent::Started { total, .. } => {
                    self.run.total = total;
                    self.run.done = 0;
                    self.run.running.clear();
                    self.run.started = self.run.started.or_else(|| Some(Instant::now()));
                    self.run.active = true;
                }
                ExecEvent::BlockStarted { block } => {
                    self.run.running.insert(block);
                }
                ExecEvent::BlockFinished { block, .. } | ExecEvent::BlockSkipped { block, .. } => {
                    self.run.running.remove(&block);
                    self.run.done += 1;
                }
                ExecEvent::Finished {
                    revision,
                    cancelled,
                } => {
                    let took = self.run.started.map_or(Duration::ZERO, |s| s.elapsed());
                    self.run.running.clear();
                    self.run.active = false;
                    self.run.started = None;
                    // The model revision the run computed (what staleness is judged by).
                    let model = match self.submitted_at {
                        Some((rev, model)) if rev == revision => model,
                        _ => self.page.model_revision(),
                    };
                    self.run.last = Some((model, cancelled, took));
                }
            }
        }
        if changed {
            self.results_gen += 1;
        }
        if self.auto_run && self.submitted != Some(self.page.model_revision()) {
            self.run_now(registry);
        }
        changed
    }

    /// Uses `bytes` as the memory budget from now on; the page is planned and, with auto-run,
    /// run again (a page refused before may fit now, or a page that ran may not).
    pub fn set_memory_budget(&mut self, bytes: u64) {
        if self.memory_budget != bytes {
            self.memory_budget = bytes;
            self.run.refused = None;
            self.submitted = None;
        }
    }

    /// The per-block view data for the canvas (rebuilt when the model, results or theme change;
    /// not when blocks only move).
    pub fn views(&mut self, registry: &Registry, dark: bool) -> Arc<HashMap<BlockId, BlockView>> {
        let key = (self.page.model_revision(), self.results_gen, dark);
        if self.views_key != Some(key) {
            self.check(registry);
            let unchecked = PageCheck::default();
            let sources = ViewSources {
                page: &self.page,
                check: self.check.as_ref().map_or(&unchecked, |(_, c)| c),
                executor: &self.executor,
                running: &self.run.running,
                active: self.run.active,
                last_model: self.run.last.map(|(r, _, _)| r),
            };
            let mut views = build_views(&sources, registry, dark);
            // A run refused for memory is reported on the block that takes it over the budget.
            if let (Some(id), Some(why)) = (self.run.over, &self.run.refused)
                && let Some(v) = views.get_mut(&id)
                && v.error.is_none()
            {
                v.error = Some(why.clone());
            }
            self.views = Arc::new(views);
            self.views_key = Some(key);
        }
        Arc::clone(&self.views)
    }

    /// The views built last (without rebuilding).
    #[must_use]
    pub fn cached_views(&self) -> &HashMap<BlockId, BlockView> {
        &self.views
    }

    /// Positions of all blocks in the model.
    #[must_use]
    pub fn model_positions(&self) -> HashMap<BlockId, [f32; 2]> {
        self.page.blocks().map(|b| (b.id, b.pos)).collect()
    }

    /// A `MoveBlocks` edit for every node whose mirror position differs from the model.
    #[must_use]
    pub fn pending_moves(&self) -> Option<Edit> {
        let model = self.model_positions();
        let mut moves: Vec<(BlockId, [f32; 2])> = self
            .mirror
            .positions()
            .into_iter()
            .filter(|(id, p)| {
                model
                    .get(id)
                    .is_some_and(|m| (m[0] - p.x).abs() > 0.01 || (m[1] - p.y).abs() > 0.01)
            })
            .map(|(id, p)| (id, [p.x, p.y]))
            .collect();
        if moves.is_empty() {
            return None;
        }
        moves.sort_by_key(|(id, _)| *id);
        let label = if moves.len() == 1 {
            "Move block".to_owned()
        } else {
            format!("Move {} blocks", moves.len())
        };
        Some(Edit {
            label,
            cmd: Command::MoveBlocks { moves },
        })
    }

    /// Number of blocks with a problem (from the cached views).
    #[must_use]
    pub fn views_snapshot_errors(&self) -> usize {
        self.cached_views()
            .values()
            .filter(|v| v.error.is_some())
            .count()
    }
}
