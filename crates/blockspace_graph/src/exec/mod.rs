//! The executor: runs a page snapshot on a named worker thread, independent blocks in parallel
//! (rayon), with progress events, cancellation, per-block timing, a result cache and panic
//! isolation. The caller is never blocked: it calls [`Executor::poll`] (e.g. once per frame)
//! and is woken through the `wake` callback when events arrive.

mod worker;

use crate::check::BlockError;
use crate::ids::{BlockId, OutPort};
use crate::kernels::{CancelToken, MemoryLedger, MemoryLimit, Reservation};
use crate::ops::{OpDescriptor, Registry};
use crate::page::{Block, Page};
use crate::plan::{Step, plan_page};
use crate::tensor::Tensor;
use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use worker::{RunningGuard, Worker};

/// Something that happened during a run, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum ExecEvent {
    /// A run started: `total` blocks to produce.
    Started {
        /// Page revision being run.
        revision: u64,
        /// Number of blocks.
        total: usize,
    },
    /// A block began evaluating (not sent for cache hits).
    BlockStarted {
        /// The block.
        block: BlockId,
    },
    /// A block finished (evaluated or taken from the cache).
    BlockFinished {
        /// The block.
        block: BlockId,
        /// Evaluation time (the original time for cache hits).
        elapsed: Duration,
        /// Whether it produced outputs.
        ok: bool,
    },
    /// A block did not run.
    BlockSkipped {
        /// The block.
        block: BlockId,
        /// Why (e.g. an upstream block failed, or the run was cancelled).
        reason: String,
    },
    /// The run ended.
    Finished {
        /// Page revision that was run.
        revision: u64,
        /// Whether it was cancelled.
        cancelled: bool,
    },
}

/// A block's output tensors (one per output port). Their bytes count in the executor's memory
/// ledger as long as anything holds them: the executor's results, its cache, a viewer.
#[derive(Debug)]
pub struct Outputs {
    tensors: Vec<Tensor>,
    _held: Vec<Reservation>,
}

impl Outputs {
    /// Outputs not counted in any ledger (for results made outside an executor).
    #[must_use]
    pub fn new(tensors: Vec<Tensor>) -> Self {
        Self {
            tensors,
            _held: Vec::new(),
        }
    }

    /// Bytes of the tensors' elements.
    #[must_use]
    pub fn nbytes(&self) -> u64 {
        nbytes(&self.tensors)
    }

    /// Outputs whose bytes stay counted in `ledger` until they are dropped: `reserved` (what
    /// the block reserved for them before allocating), and a charge for any bytes it did not
    /// reserve.
    fn charged(
        tensors: Vec<Tensor>,
        ledger: &MemoryLedger,
        mut reserved: Vec<Reservation>,
    ) -> Self {
        let bytes = nbytes(&tensors);
        let covered = reserved
            .iter()
            .map(Reservation::bytes)
            .fold(0u64, u64::saturating_add);
        if bytes > covered {
            reserved.push(ledger.charge(bytes - covered));
        }
        Self {
            tensors,
            _held: reserved,
        }
    }
}

fn nbytes(tensors: &[Tensor]) -> u64 {
    tensors
        .iter()
        .map(Tensor::nbytes)
        .fold(0u64, u64::saturating_add)
}

impl std::ops::Deref for Outputs {
    type Target = [Tensor];
    fn deref(&self) -> &[Tensor] {
        &self.tensors
    }
}

/// The latest outcome of one block.
#[derive(Debug, Clone)]
pub struct BlockResult {
    /// The outputs, or what went wrong (including "not run because ...").
    pub outputs: Result<Arc<Outputs>, BlockError>,
    /// Evaluation time.
    pub elapsed: Duration,
    /// Page revision of the run that produced it.
    pub revision: u64,
    /// Whether the outputs came from the cache (nothing changed upstream).
    pub from_cache: bool,
}

enum Msg {
    Event(ExecEvent),
    Result(BlockId, BlockResult),
}

#[derive(Clone)]
struct Cached {
    outputs: Arc<Outputs>,
    elapsed: Duration,
}

type Cache = Arc<Mutex<HashMap<u64, Cached>>>;
type Progress = Arc<Mutex<HashMap<BlockId, f64>>>;

struct RunState {
    id: u64,
    revision: u64,
    cancel: CancelToken,
    running: Arc<AtomicBool>,
    total: usize,
    done: usize,
}

/// Runs pages off the caller's thread. See the module docs.
pub struct Executor {
    registry: Arc<Registry>,
    wake: Arc<dyn Fn() + Send + Sync>,
    tx: Sender<(u64, Msg)>,
    rx: Receiver<(u64, Msg)>,
    cache: Cache,
    results: HashMap<BlockId, BlockResult>,
    current: Option<RunState>,
    runs: u64,
    evaluations: Arc<AtomicUsize>,
    limit: MemoryLimit,
    ledger: MemoryLedger,
    progress: Progress,
    pool: Option<Arc<rayon::ThreadPool>>,
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor")
            .field("runs", &self.runs)
            .finish_non_exhaustive()
    }
}

/// One block of the snapshot.
struct Node {
    block: Block,
    desc: &'static OpDescriptor,
    inputs: Vec<Option<OutPort>>,
    key: u64,
}

impl Node {
    fn step(&self) -> Step<'_> {
        Step {
            block: &self.block,
            desc: self.desc,
            inputs: self.inputs.clone(),
        }
    }
}

impl Executor {
    /// An executor for block types in `registry`; `wake` is called (from the worker thread)
    /// whenever events are waiting, e.g. `egui::Context::request_repaint`.
    pub fn new(registry: Arc<Registry>, wake: Arc<dyn Fn() + Send + Sync>) -> Self {
        Self::with_ledger(
            registry,
            wake,
            MemoryLedger::new(MemoryLimit::default().max_bytes),
        )
    }

    /// As [`Executor::new`], counting its memory in `ledger`, which other executors may share:
    /// then the budget covers all of their results together (e.g. every open page of an app).
    pub fn with_ledger(
        registry: Arc<Registry>,
        wake: Arc<dyn Fn() + Send + Sync>,
        ledger: MemoryLedger,
    ) -> Self {
        let (tx, rx) = channel();
        Self {
            registry,
            wake,
            tx,
            rx,
            cache: Arc::default(),
            results: HashMap::new(),
            current: None,
            runs: 0,
            evaluations: Arc::default(),
            limit: MemoryLimit::default(),
            ledger,
            progress: Arc::default(),
            // Blocks (and the kernels inside them) run on this executor's own pool, so one
            // page's long block never starves another executor's.
            // At least two threads, so independent blocks overlap even on one core.
            pool: rayon::ThreadPoolBuilder::new()
                .num_threads(std::thread::available_parallelism().map_or(2, |n| n.get().max(2)))
                .thread_name(|i| format!("blockspace-block-{i}"))
                .build()
                .map(Arc::new)
                .map_err(|e| log::warn!("using rayon's global pool: {e}"))
                .ok(),
        }
    }

    /// Sets the memory budget of runs: no single buffer may be larger, and every buffer a
    /// block allocates is reserved against the live total first ([`Executor::memory_live`]),
    /// which counts the results of earlier runs for as long as they are held.
    pub fn set_memory_limit(&mut self, limit: MemoryLimit) {
        self.limit = limit;
        self.ledger.set_budget(limit.max_bytes);
    }

    /// Bytes of tensors alive right now in this executor's ledger: results held by anyone
    /// (its results, its cache, a viewer) and the buffers of blocks that are running, of this
    /// executor and of those sharing its ledger.
    pub fn memory_live(&self) -> u64 {
        self.ledger.live()
    }

    /// The most bytes live at once in this executor's ledger (shared ones included) since its
    /// current (or last) run started.
    pub fn memory_peak(&self) -> u64 {
        self.ledger.peak()
    }

    /// Drops the results a run of `nodes` will replace when what is live now, plus what the
    /// run will add (`needed` less what it reuses), is over the budget; returns the bytes
    /// released (see [`Executor::run_within`]).
    fn make_room(&mut self, nodes: &[Node], needed: u64) -> u64 {
        let keys: std::collections::HashSet<u64> = nodes.iter().map(|n| n.key).collect();
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        let reused: Vec<Arc<Outputs>> = cache
            .iter()
            .filter(|(k, _)| keys.contains(k))
            .map(|(_, c)| Arc::clone(&c.outputs))
            .collect();
        let reused_bytes = reused
            .iter()
            .map(|o| o.nbytes())
            .fold(0u64, u64::saturating_add);
        let before = self.ledger.live();
        let adds = needed.saturating_sub(reused_bytes);
        if before.saturating_add(adds) <= self.ledger.budget() {
            return 0;
        }
        cache.retain(|k, _| keys.contains(k));
        drop(cache);
        self.results.retain(|_, r| match &r.outputs {
            Ok(o) => reused.iter().any(|kept| Arc::ptr_eq(kept, o)),
            Err(_) => true,
        });
        drop(reused);
        before.saturating_sub(self.ledger.live())
    }

    /// Runs a snapshot of `page` (relative paths resolve against `base_dir`). Cancels any run in
    /// flight. Blocks whose type, attrs and upstream are unchanged since a previous run take
    /// their outputs from the cache instead of running again.
    pub fn run(&mut self, page: &Page, base_dir: Option<PathBuf>) {
        self.start(page, base_dir, None);
    }

    /// As [`Executor::run`], for a run that needs `needed` bytes at its peak (by
    /// [`plan_memory`](crate::plan_memory)). The previous results stay until the new ones
    /// replace them, unless what is live now plus what the run will add is over the budget:
    /// then the results this run will replace (blocks that changed, or whose upstream did) are
    /// dropped before it starts, so their memory is free before it allocates. Results it will
    /// reuse are kept. Returns the bytes released (0 when nothing was dropped, or when a viewer
    /// still holds them).
    pub fn run_within(&mut self, page: &Page, base_dir: Option<PathBuf>, needed: u64) -> u64 {
        self.start(page, base_dir, Some(needed))
    }

    fn start(&mut self, page: &Page, base_dir: Option<PathBuf>, needed: Option<u64>) -> u64 {
        // A run in flight is superseded: it stops between chunks and caches nothing more (see
        // the worker), so what it holds goes as it stops.
        self.cancel();
        self.runs += 1;
        let run_id = self.runs;
        let revision = page.revision();
        let cancel = CancelToken::new();
        let running = Arc::new(AtomicBool::new(true));
        let (nodes, cycle_errors) = self.plan(page, base_dir.as_deref());
        let released = needed.map_or(0, |needed| self.make_room(&nodes, needed));
        self.ledger.reset_peak();
        self.results.retain(|id, _| page.block(*id).is_some());
        self.current = Some(RunState {
            id: run_id,
            revision,
            cancel: cancel.clone(),
            running: Arc::clone(&running),
            total: nodes.len() + cycle_errors.len(),
            done: 0,
        });
        let worker = Worker {
            run_id,
            revision,
            wake: Arc::clone(&self.wake),
            tx: self.tx.clone(),
            cache: Arc::clone(&self.cache),
            cancel,
            evaluations: Arc::clone(&self.evaluations),
            limit: self.limit,
            ledger: self.ledger.clone(),
            base_dir,
            progress: Arc::clone(&self.progress),
            pool: self.pool.clone(),
        };
        let guard = RunningGuard(Arc::clone(&running));
        let spawned = std::thread::Builder::new()
            .name(format!("blockspace-exec-{run_id}"))
            .spawn(move || {
                let _guard = guard;
                worker.run(nodes, cycle_errors);
            });
        if let Err(e) = spawned {
            log::error!("could not start the executor thread: {e}");
            running.store(false, Ordering::SeqCst);
            let _ = self.tx.send((
                run_id,
                Msg::Event(ExecEvent::Finished {
                    revision,
                    cancelled: true,
                }),
            ));
            (self.wake)();
        }
        released
    }

    /// The snapshot of `page` the worker runs: the planned blocks (with their cache keys) and
    /// the blocks that cannot run (cycle, unknown type) with their errors.
    fn plan(
        &self,
        page: &Page,
        base_dir: Option<&std::path::Path>,
    ) -> (Vec<Node>, Vec<(BlockId, BlockError)>) {
        let plan = plan_page(&self.registry, page);
        let mut keys: HashMap<BlockId, u64> = HashMap::new();
        let mut nodes = Vec::with_capacity(plan.steps.len());
        for step in plan.steps {
            let (b, d) = (step.block, step.desc);
            let mut h = DefaultHasher::new();
            b.type_id.hash(&mut h);
            format!("{:?}", b.attrs).hash(&mut h);
            if let Some(salt) = d.cache_salt {
                salt(&b.attrs, base_dir).hash(&mut h);
            }
            for src in &step.inputs {
                match src {
                    Some(s) => (keys.get(&s.block).copied().unwrap_or(0), s.port).hash(&mut h),
                    None => "unconnected".hash(&mut h),
                }
            }
            let key = h.finish();
            keys.insert(b.id, key);
            nodes.push(Node {
                block: b.clone(),
                desc: d,
                inputs: step.inputs,
                key,
            });
        }
        (nodes, plan.errors)
    }

    /// Cancels the run in flight, if any (cooperatively; kernels stop between chunks).
    pub fn cancel(&self) {
        if let Some(r) = &self.current {
            r.cancel.cancel();
        }
    }

    /// Whether a run is in flight.
    pub fn is_running(&self) -> bool {
        self.current
            .as_ref()
            .is_some_and(|r| r.running.load(Ordering::SeqCst))
    }

    /// The finished fraction (0 to 1) of a block that is evaluating right now, as reported by
    /// its kernel; `None` when the block is not running. The `wake` callback is called on
    /// each report.
    pub fn block_progress(&self, block: BlockId) -> Option<f64> {
        self.progress
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&block)
            .copied()
    }

    /// `(finished blocks, total blocks)` of the current run, as of the last poll.
    pub fn progress(&self) -> Option<(usize, usize)> {
        self.current.as_ref().map(|r| (r.done, r.total))
    }

    /// Drains waiting events (never blocks). Results are updated as a side effect.
    pub fn poll(&mut self) -> Vec<ExecEvent> {
        let mut events = Vec::new();
        while let Ok((run, msg)) = self.rx.try_recv() {
            self.handle(run, msg, &mut events);
        }
        events
    }

    /// Blocks until the current run has finished and returns its remaining events
    /// (for headless use: tests and `blockspace run`).
    pub fn wait(&mut self) -> Vec<ExecEvent> {
        let mut events = Vec::new();
        loop {
            match self.rx.recv_timeout(Duration::from_millis(50)) {
                Ok((run, msg)) => {
                    let finished = matches!(msg, Msg::Event(ExecEvent::Finished { .. }))
                        && self.current.as_ref().is_some_and(|r| r.id == run);
                    self.handle(run, msg, &mut events);
                    if finished {
                        return events;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    if !self.is_running() {
                        events.extend(self.poll());
                        return events;
                    }
                }
                Err(RecvTimeoutError::Disconnected) => return events,
            }
        }
    }

    fn handle(&mut self, run: u64, msg: Msg, events: &mut Vec<ExecEvent>) {
        let Some(cur) = self.current.as_mut() else {
            return;
        };
        if cur.id != run {
            return; // a superseded run
        }
        match msg {
            Msg::Result(block, result) => {
                self.results.insert(block, result);
            }
            Msg::Event(e) => {
                if matches!(
                    e,
                    ExecEvent::BlockFinished { .. } | ExecEvent::BlockSkipped { .. }
                ) {
                    cur.done += 1;
                }
                if matches!(e, ExecEvent::Finished { .. }) {
                    // The last event of a run: it is over for the caller, even if the worker
                    // thread has not yet dropped its guard.
                    cur.running.store(false, Ordering::SeqCst);
                }
                events.push(e);
            }
        }
    }

    /// The latest result of `block` (possibly from an older revision: compare
    /// [`BlockResult::revision`] with the page's).
    pub fn result(&self, block: BlockId) -> Option<&BlockResult> {
        self.results.get(&block)
    }

    /// How many block evaluations ran since this executor was made (cache hits not counted).
    pub fn evaluations(&self) -> usize {
        self.evaluations.load(Ordering::SeqCst)
    }

    /// Drops all cached outputs, so the next run evaluates everything.
    pub fn clear_cache(&mut self) {
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// Revision of the current (or last) run.
    pub fn running_revision(&self) -> Option<u64> {
        self.current.as_ref().map(|r| r.revision)
    }
}

impl Drop for Executor {
    fn drop(&mut self) {
        self.cancel();
    }
}
