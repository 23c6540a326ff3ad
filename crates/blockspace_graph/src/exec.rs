//! The executor: runs a page snapshot on a named worker thread, independent blocks in parallel
//! (rayon), with progress events, cancellation, per-block timing, a result cache and panic
//! isolation. The caller is never blocked: it calls [`Executor::poll`] (e.g. once per frame)
//! and is woken through the `wake` callback when events arrive.

use crate::check::{BlockError, topo_order};
use crate::ids::{BlockId, OutPort};
use crate::kernels::{CancelToken, KernelContext, MemoryLimit};
use crate::ops::{EvalCtx, OpError, Registry, dtype_list};
use crate::page::Page;
use crate::tensor::Tensor;
use std::collections::{HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

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

/// The latest outcome of one block.
#[derive(Debug, Clone)]
pub struct BlockResult {
    /// The outputs, or what went wrong (including "not run because ...").
    pub outputs: Result<Arc<Vec<Tensor>>, BlockError>,
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
    outputs: Arc<Vec<Tensor>>,
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
    id: BlockId,
    name: String,
    type_id: String,
    attrs: crate::value::Attrs,
    inputs: Vec<Option<OutPort>>,
    key: u64,
}

impl Executor {
    /// An executor for block types in `registry`; `wake` is called (from the worker thread)
    /// whenever events are waiting, e.g. `egui::Context::request_repaint`.
    pub fn new(registry: Arc<Registry>, wake: Arc<dyn Fn() + Send + Sync>) -> Self {
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

    /// Sets the size guard passed to kernels and Input blocks.
    pub fn set_memory_limit(&mut self, limit: MemoryLimit) {
        self.limit = limit;
    }

    /// Runs a snapshot of `page` (relative paths resolve against `base_dir`). Cancels any run in
    /// flight. Blocks whose type, attrs and upstream are unchanged since a previous run take
    /// their outputs from the cache instead of running again.
    pub fn run(&mut self, page: &Page, base_dir: Option<PathBuf>) {
        self.cancel();
        self.runs += 1;
        let run_id = self.runs;
        let revision = page.revision();
        let cancel = CancelToken::new();
        let running = Arc::new(AtomicBool::new(true));
        let (nodes, cycle_errors) = self.plan(page, base_dir.as_deref());
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
            registry: Arc::clone(&self.registry),
            wake: Arc::clone(&self.wake),
            tx: self.tx.clone(),
            cache: Arc::clone(&self.cache),
            cancel,
            evaluations: Arc::clone(&self.evaluations),
            limit: self.limit,
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
    }

    fn plan(
        &self,
        page: &Page,
        base_dir: Option<&std::path::Path>,
    ) -> (Vec<Node>, Vec<(BlockId, BlockError)>) {
        let (order, mut cycle_errors) = match topo_order(page) {
            Ok(o) => (o, Vec::new()),
            Err(c) => {
                let errs: Vec<(BlockId, BlockError)> = c
                    .blocks
                    .iter()
                    .map(|id| {
                        let name = page.block(*id).map_or(String::new(), |b| b.name.clone());
                        (
                            *id,
                            BlockError::new(
                                *id,
                                &name,
                                "is in or behind a cycle; remove a wire so data flows one way",
                            ),
                        )
                    })
                    .collect();
                let stuck: HashSet<BlockId> = c.blocks.into_iter().collect();
                (
                    page.blocks
                        .keys()
                        .filter(|id| !stuck.contains(id))
                        .copied()
                        .collect(),
                    errs,
                )
            }
        };
        let mut keys: HashMap<BlockId, u64> = HashMap::new();
        let mut nodes = Vec::with_capacity(order.len());
        let wiring = page.inputs_index();
        for id in order {
            let Some(b) = page.block(id) else { continue };
            let Some(d) = self.registry.get(&b.type_id) else {
                cycle_errors.push((
                    id,
                    BlockError::new(
                        id,
                        &b.name,
                        format!(
                            "unknown block type {:?}; known: {}",
                            b.type_id,
                            self.registry.type_ids()
                        ),
                    ),
                ));
                continue;
            };
            let inputs = wiring.inputs_of(id, d.inputs.len());
            let mut h = DefaultHasher::new();
            b.type_id.hash(&mut h);
            format!("{:?}", b.attrs).hash(&mut h);
            if let Some(salt) = d.cache_salt {
                salt(&b.attrs, base_dir).hash(&mut h);
            }
            for src in &inputs {
                match src {
                    Some(s) => (keys.get(&s.block).copied().unwrap_or(0), s.port).hash(&mut h),
                    None => "unconnected".hash(&mut h),
                }
            }
            let key = h.finish();
            keys.insert(id, key);
            nodes.push(Node {
                id,
                name: b.name.clone(),
                type_id: b.type_id.clone(),
                attrs: b.attrs.clone(),
                inputs,
                key,
            });
        }
        (nodes, cycle_errors)
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

struct RunningGuard(Arc<AtomicBool>);

impl Drop for RunningGuard {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

struct Worker {
    run_id: u64,
    revision: u64,
    registry: Arc<Registry>,
    wake: Arc<dyn Fn() + Send + Sync>,
    tx: Sender<(u64, Msg)>,
    cache: Cache,
    cancel: CancelToken,
    evaluations: Arc<AtomicUsize>,
    limit: MemoryLimit,
    base_dir: Option<PathBuf>,
    progress: Progress,
    pool: Option<Arc<rayon::ThreadPool>>,
}

/// Shared state of one run's dependency-driven schedule.
#[derive(Clone, Copy)]
struct Schedule<'a> {
    nodes: &'a [Node],
    dependants: &'a [Vec<usize>],
    pending: &'a [AtomicUsize],
    outcomes: &'a Mutex<HashMap<BlockId, (Outcome, String)>>,
}

/// Outcome of one block inside a run.
#[derive(Clone)]
enum Outcome {
    Ok(Arc<Vec<Tensor>>),
    Failed,
    Cancelled,
}

impl Worker {
    fn send(&self, msg: Msg) {
        let _ = self.tx.send((self.run_id, msg));
        (self.wake)();
    }

    fn run(self, nodes: Vec<Node>, pre_errors: Vec<(BlockId, BlockError)>) {
        self.send(Msg::Event(ExecEvent::Started {
            revision: self.revision,
            total: nodes.len() + pre_errors.len(),
        }));
        let outcomes: Mutex<HashMap<BlockId, (Outcome, String)>> = Mutex::new(HashMap::new());
        for (id, err) in pre_errors {
            outcomes
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(id, (Outcome::Failed, err.block_name.clone()));
            self.finish_err(id, err, Duration::ZERO);
        }
        // Dependency-driven scheduling: a block starts as soon as all its upstream blocks are
        // done, on rayon's pool, so independent branches run in parallel.
        let index: HashMap<BlockId, usize> =
            nodes.iter().enumerate().map(|(i, n)| (n.id, i)).collect();
        let mut dependants: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
        let pending: Vec<AtomicUsize> = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let upstream: HashSet<usize> = n
                    .inputs
                    .iter()
                    .flatten()
                    .filter_map(|src| index.get(&src.block).copied())
                    .collect();
                for &u in &upstream {
                    dependants[u].push(i);
                }
                AtomicUsize::new(upstream.len())
            })
            .collect();
        let sched = Schedule {
            nodes: &nodes,
            dependants: &dependants,
            pending: &pending,
            outcomes: &outcomes,
        };
        let worker = &self;
        let schedule = || {
            rayon::scope(|scope| {
                for (i, p) in pending.iter().enumerate() {
                    if p.load(Ordering::SeqCst) == 0 {
                        scope.spawn(move |scope| worker.run_scheduled(scope, &sched, i));
                    }
                }
            });
        };
        match &self.pool {
            Some(pool) => pool.install(schedule),
            None => schedule(),
        }
        let cancelled = self.cancel.is_cancelled();
        if !cancelled {
            let keep: HashSet<u64> = nodes.iter().map(|n| n.key).collect();
            self.cache
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .retain(|k, _| keep.contains(k));
        }
        self.send(Msg::Event(ExecEvent::Finished {
            revision: self.revision,
            cancelled,
        }));
    }

    fn run_scheduled<'s>(&'s self, scope: &rayon::Scope<'s>, sched: &Schedule<'s>, i: usize) {
        let node = &sched.nodes[i];
        let outcome = self.run_node(node, sched.outcomes);
        sched
            .outcomes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(node.id, (outcome, node.name.clone()));
        for &d in &sched.dependants[i] {
            if sched.pending[d].fetch_sub(1, Ordering::SeqCst) == 1 {
                let sched = *sched;
                scope.spawn(move |scope| self.run_scheduled(scope, &sched, d));
            }
        }
    }

    fn finish_err(&self, id: BlockId, err: BlockError, elapsed: Duration) {
        self.send(Msg::Result(
            id,
            BlockResult {
                outputs: Err(err),
                elapsed,
                revision: self.revision,
                from_cache: false,
            },
        ));
        self.send(Msg::Event(ExecEvent::BlockFinished {
            block: id,
            elapsed,
            ok: false,
        }));
    }

    fn skip(&self, node: &Node, reason: String) {
        self.send(Msg::Result(
            node.id,
            BlockResult {
                outputs: Err(BlockError::new(
                    node.id,
                    &node.name,
                    format!("not run: {reason}"),
                )),
                elapsed: Duration::ZERO,
                revision: self.revision,
                from_cache: false,
            },
        ));
        self.send(Msg::Event(ExecEvent::BlockSkipped {
            block: node.id,
            reason,
        }));
    }

    fn run_node(
        &self,
        node: &Node,
        outcomes: &Mutex<HashMap<BlockId, (Outcome, String)>>,
    ) -> Outcome {
        if self.cancel.is_cancelled() {
            self.send(Msg::Event(ExecEvent::BlockSkipped {
                block: node.id,
                reason: "cancelled".into(),
            }));
            return Outcome::Cancelled;
        }
        let Some(d) = self.registry.get(&node.type_id) else {
            self.finish_err(
                node.id,
                BlockError::new(
                    node.id,
                    &node.name,
                    format!("unknown block type {:?}", node.type_id),
                ),
                Duration::ZERO,
            );
            return Outcome::Failed;
        };
        // Gather inputs.
        let mut inputs: Vec<Arc<Vec<Tensor>>> = Vec::with_capacity(node.inputs.len());
        let mut ports = Vec::with_capacity(node.inputs.len());
        for (spec, src) in d.inputs.iter().zip(&node.inputs) {
            let Some(src) = src else {
                let e = BlockError {
                    block: node.id,
                    block_name: node.name.clone(),
                    port: Some(spec.name.into()),
                    attr: None,
                    message: format!(
                        "`{}` is not connected; wire a {} tensor into it",
                        spec.name,
                        dtype_list(spec.dtypes)
                    ),
                };
                self.finish_err(node.id, e, Duration::ZERO);
                return Outcome::Failed;
            };
            let upstream = outcomes
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(&src.block)
                .cloned();
            match upstream {
                Some((Outcome::Ok(t), _)) => {
                    inputs.push(t);
                    ports.push(src.port);
                }
                Some((Outcome::Cancelled, _)) => {
                    self.send(Msg::Event(ExecEvent::BlockSkipped {
                        block: node.id,
                        reason: "cancelled".into(),
                    }));
                    return Outcome::Cancelled;
                }
                Some((Outcome::Failed, name)) => {
                    self.skip(
                        node,
                        format!("input `{}` comes from {name:?}, which failed", spec.name),
                    );
                    return Outcome::Failed;
                }
                None => {
                    self.skip(node, format!("input `{}` has no result", spec.name));
                    return Outcome::Failed;
                }
            }
        }
        let mut refs: Vec<&Tensor> = Vec::with_capacity(inputs.len());
        for ((t, &port), spec) in inputs.iter().zip(&ports).zip(d.inputs) {
            let Some(t) = t.get(port) else {
                self.finish_err(
                    node.id,
                    BlockError::new(
                        node.id,
                        &node.name,
                        format!("upstream output #{port} missing"),
                    ),
                    Duration::ZERO,
                );
                return Outcome::Failed;
            };
            if !spec.dtypes.contains(&t.dtype()) {
                let e = BlockError {
                    block: node.id,
                    block_name: node.name.clone(),
                    port: Some(spec.name.into()),
                    attr: None,
                    message: format!(
                        "`{}` got {} but accepts {}; change the upstream dtype",
                        spec.name,
                        t.dtype(),
                        dtype_list(spec.dtypes)
                    ),
                };
                self.finish_err(node.id, e, Duration::ZERO);
                return Outcome::Failed;
            }
            refs.push(t);
        }
        // Cache.
        let hit = self
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&node.key)
            .cloned();
        if let Some(c) = hit {
            self.send(Msg::Result(
                node.id,
                BlockResult {
                    outputs: Ok(Arc::clone(&c.outputs)),
                    elapsed: c.elapsed,
                    revision: self.revision,
                    from_cache: true,
                },
            ));
            self.send(Msg::Event(ExecEvent::BlockFinished {
                block: node.id,
                elapsed: c.elapsed,
                ok: true,
            }));
            return Outcome::Ok(c.outputs);
        }
        // Evaluate.
        self.send(Msg::Event(ExecEvent::BlockStarted { block: node.id }));
        self.evaluations.fetch_add(1, Ordering::SeqCst);
        let progress = Arc::clone(&self.progress);
        progress
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(node.id, 0.0);
        let report: crate::kernels::ProgressFn = {
            let (progress, wake, block) = (Arc::clone(&progress), Arc::clone(&self.wake), node.id);
            Arc::new(move |fraction| {
                progress
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(block, fraction);
                wake();
            })
        };
        let kernel = KernelContext {
            limit: self.limit,
            cancel: self.cancel.clone(),
            progress: Some(report),
        };
        let ctx = EvalCtx {
            kernel: &kernel,
            base_dir: self.base_dir.as_deref(),
        };
        let start = Instant::now();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            (d.eval)(&ctx, &node.attrs, &refs)
        }));
        let elapsed = start.elapsed();
        progress
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&node.id);
        let result = match result {
            Ok(r) => r,
            Err(payload) => {
                let msg = payload
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".to_owned());
                Err(OpError::new(format!(
                    "panicked: {msg}; this is a bug in the {} block type, please report it",
                    node.type_id
                )))
            }
        };
        match result {
            Ok(outs) if outs.len() == d.outputs.len() => {
                let outs = Arc::new(outs);
                self.cache
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(
                        node.key,
                        Cached {
                            outputs: Arc::clone(&outs),
                            elapsed,
                        },
                    );
                self.send(Msg::Result(
                    node.id,
                    BlockResult {
                        outputs: Ok(Arc::clone(&outs)),
                        elapsed,
                        revision: self.revision,
                        from_cache: false,
                    },
                ));
                self.send(Msg::Event(ExecEvent::BlockFinished {
                    block: node.id,
                    elapsed,
                    ok: true,
                }));
                Outcome::Ok(outs)
            }
            Ok(outs) => {
                let e = BlockError::new(
                    node.id,
                    &node.name,
                    format!(
                        "produced {} outputs, expected {} (a bug in the block type)",
                        outs.len(),
                        d.outputs.len()
                    ),
                );
                self.finish_err(node.id, e, elapsed);
                Outcome::Failed
            }
            Err(e) if e.cancelled => {
                self.send(Msg::Event(ExecEvent::BlockSkipped {
                    block: node.id,
                    reason: "cancelled".into(),
                }));
                Outcome::Cancelled
            }
            Err(e) => {
                self.finish_err(
                    node.id,
                    BlockError::from_op(node.id, &node.name, e),
                    elapsed,
                );
                Outcome::Failed
            }
        }
    }
}
