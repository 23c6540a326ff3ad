//! The worker side of a run: the dependency-driven schedule on the executor's pool, the cache,
//! and one block's evaluation (inputs bound through [`Step::bind`](crate::plan::Step::bind),
//! panics caught).

use super::{BlockResult, Cache, Cached, ExecEvent, Msg, Node, Outputs, Progress};
use crate::check::BlockError;
use crate::ids::BlockId;
use crate::kernels::{CancelToken, KernelContext, MemoryLedger, MemoryLimit, Reservation};
use crate::ops::{EvalCtx, OpError};
use crate::plan::{BindError, Bound, Source};
use crate::tensor::{DType, Tensor};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

pub(super) struct RunningGuard(pub(super) Arc<AtomicBool>);

impl Drop for RunningGuard {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

pub(super) struct Worker {
    pub(super) run_id: u64,
    pub(super) revision: u64,
    pub(super) wake: Arc<dyn Fn() + Send + Sync>,
    pub(super) tx: Sender<(u64, Msg)>,
    pub(super) cache: Cache,
    pub(super) cancel: CancelToken,
    pub(super) evaluations: Arc<AtomicUsize>,
    pub(super) limit: MemoryLimit,
    pub(super) ledger: MemoryLedger,
    pub(super) base_dir: Option<PathBuf>,
    pub(super) progress: Progress,
    pub(super) pool: Option<Arc<rayon::ThreadPool>>,
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
    Ok(Arc<Outputs>),
    Failed,
    Cancelled,
}

impl Worker {
    fn send(&self, msg: Msg) {
        let _ = self.tx.send((self.run_id, msg));
        (self.wake)();
    }

    pub(super) fn run(self, nodes: Vec<Node>, pre_errors: Vec<(BlockId, BlockError)>) {
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
        let index: HashMap<BlockId, usize> = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.block.id, i))
            .collect();
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
        // The outcomes hold the blocks' outputs: release them before announcing the end, so a
        // caller that drops the results once `Finished` arrives frees their memory then (not
        // whenever this thread gets to it).
        drop(outcomes);
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
            .insert(node.block.id, (outcome, node.block.name.clone()));
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
            node.block.id,
            BlockResult {
                outputs: Err(BlockError::new(
                    node.block.id,
                    &node.block.name,
                    format!("not run: {reason}"),
                )),
                elapsed: Duration::ZERO,
                revision: self.revision,
                from_cache: false,
            },
        ));
        self.send(Msg::Event(ExecEvent::BlockSkipped {
            block: node.block.id,
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
                block: node.block.id,
                reason: "cancelled".into(),
            }));
            return Outcome::Cancelled;
        }
        let d = node.desc;
        let bound = node.step().bind(|src| {
            let upstream = outcomes
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(&src.block)
                .cloned();
            match upstream {
                Some((Outcome::Ok(outputs), name)) => {
                    let state = if src.port < outputs.len() {
                        Source::Ready(OutputOf {
                            outputs,
                            port: src.port,
                        })
                    } else {
                        Source::NoOutput
                    };
                    (state, name)
                }
                Some((Outcome::Cancelled, name)) => (Source::Cancelled, name),
                Some((Outcome::Failed, name)) => (Source::Failed, name),
                None => (Source::Missing, String::new()),
            }
        });
        let bound = match bound {
            Ok(bound) => bound,
            Err(BindError::Block(e)) => {
                self.finish_err(node.block.id, e, Duration::ZERO);
                return Outcome::Failed;
            }
            Err(BindError::Upstream { port, source }) => {
                self.skip(
                    node,
                    format!("input `{port}` comes from {source:?}, which failed"),
                );
                return Outcome::Failed;
            }
            Err(BindError::NoResult { port, .. }) => {
                self.skip(node, format!("input `{port}` has no result"));
                return Outcome::Failed;
            }
            Err(BindError::Cancelled { .. }) => {
                self.send(Msg::Event(ExecEvent::BlockSkipped {
                    block: node.block.id,
                    reason: "cancelled".into(),
                }));
                return Outcome::Cancelled;
            }
        };
        let refs: Vec<&Tensor> = bound.iter().map(OutputOf::tensor).collect();
        // Cache.
        let hit = self
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&node.key)
            .cloned();
        if let Some(c) = hit {
            self.send(Msg::Result(
                node.block.id,
                BlockResult {
                    outputs: Ok(Arc::clone(&c.outputs)),
                    elapsed: c.elapsed,
                    revision: self.revision,
                    from_cache: true,
                },
            ));
            self.send(Msg::Event(ExecEvent::BlockFinished {
                block: node.block.id,
                elapsed: c.elapsed,
                ok: true,
            }));
            return Outcome::Ok(c.outputs);
        }
        // Evaluate.
        self.send(Msg::Event(ExecEvent::BlockStarted {
            block: node.block.id,
        }));
        self.evaluations.fetch_add(1, Ordering::SeqCst);
        let progress = Arc::clone(&self.progress);
        progress
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(node.block.id, 0.0);
        let report: crate::kernels::ProgressFn = {
            let (progress, wake, block) =
                (Arc::clone(&progress), Arc::clone(&self.wake), node.block.id);
            Arc::new(move |fraction| {
                progress
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(block, fraction);
                wake();
            })
        };
        let kept: Arc<Mutex<Vec<Reservation>>> = Arc::default();
        let kernel = KernelContext {
            limit: self.limit,
            ledger: Some(self.ledger.clone()),
            kept: Some(Arc::clone(&kept)),
            cancel: self.cancel.clone(),
            progress: Some(report),
        };
        let ctx = EvalCtx {
            kernel: &kernel,
            base_dir: self.base_dir.as_deref(),
        };
        let start = Instant::now();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            (d.eval)(&ctx, &node.block.attrs, &refs)
        }));
        let elapsed = start.elapsed();
        progress
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&node.block.id);
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
                    node.block.type_id
                )))
            }
        };
        match result {
            Ok(outs) if outs.len() == d.outputs.len() => {
                let reserved =
                    std::mem::take(&mut *kept.lock().unwrap_or_else(PoisonError::into_inner));
                let outs = Arc::new(Outputs::charged(outs, &self.ledger, reserved));
                // A cancelled run was superseded: its results would only hold memory the new
                // run may need (the new run may have made room already).
                if !self.cancel.is_cancelled() {
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
                }
                self.send(Msg::Result(
                    node.block.id,
                    BlockResult {
                        outputs: Ok(Arc::clone(&outs)),
                        elapsed,
                        revision: self.revision,
                        from_cache: false,
                    },
                ));
                self.send(Msg::Event(ExecEvent::BlockFinished {
                    block: node.block.id,
                    elapsed,
                    ok: true,
                }));
                Outcome::Ok(outs)
            }
            Ok(outs) => {
                let e = BlockError::new(
                    node.block.id,
                    &node.block.name,
                    format!(
                        "produced {} outputs, expected {} (a bug in the block type)",
                        outs.len(),
                        d.outputs.len()
                    ),
                );
                self.finish_err(node.block.id, e, elapsed);
                Outcome::Failed
            }
            Err(e) if e.cancelled => {
                self.send(Msg::Event(ExecEvent::BlockSkipped {
                    block: node.block.id,
                    reason: "cancelled".into(),
                }));
                Outcome::Cancelled
            }
            Err(e) => {
                self.finish_err(
                    node.block.id,
                    BlockError::from_op(node.block.id, &node.block.name, e),
                    elapsed,
                );
                Outcome::Failed
            }
        }
    }
}

/// One output of an upstream block, kept alive by its `Arc` while the block runs.
struct OutputOf {
    outputs: Arc<Outputs>,
    port: usize,
}

impl OutputOf {
    fn tensor(&self) -> &Tensor {
        &self.outputs[self.port]
    }
}

impl Bound for OutputOf {
    fn dtype(&self) -> DType {
        self.tensor().dtype()
    }
    fn shape(&self) -> &[usize] {
        self.tensor().shape()
    }
}
