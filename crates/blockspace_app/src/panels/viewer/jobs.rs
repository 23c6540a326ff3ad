//! Background preparation of the viewer's views: each kind of view (summary, montage,
//! projection, comparison, a loaded reference) has a [`Slot`] that keeps the last few answers by
//! key (the tensor and the view's parameters) and runs at most one computation.
//!
//! Cheap requests (fewer elements than [`Slot::inline_max`]) are answered at once on the UI
//! thread; others run on a named worker thread while the viewer shows a spinner. Asking for a
//! different key cancels the running one (its cancel flag is set; the computations check it
//! every few thousand elements), so dragging a slider never queues up stale work.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError};

/// Answers kept per slot.
const CACHE: usize = 4;

/// Requests touching up to this many elements are answered on the UI thread.
pub const INLINE_MAX: usize = 1 << 18;

/// Where a request stands.
#[derive(Debug)]
pub enum Status<T> {
    /// The answer.
    Ready(Arc<T>),
    /// Being computed on a worker thread.
    Pending,
    /// The computation failed (the message says why).
    Failed(String),
}

struct Running<T> {
    key: u64,
    cancel: Arc<AtomicBool>,
    rx: Receiver<Result<T, JobError>>,
}

/// One kind of view: its cached answers and its running computation.
pub struct Slot<T> {
    cache: VecDeque<(u64, Result<Arc<T>, JobError>)>,
    running: Option<Running<T>>,
    /// Requests up to this many elements run inline (tests set 0 to force the worker path).
    pub inline_max: usize,
    /// Computations started on worker threads (for tests).
    pub spawned: usize,
    /// Computations that were cancelled (for tests).
    pub cancelled: usize,
}

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Self {
            cache: VecDeque::new(),
            running: None,
            inline_max: INLINE_MAX,
            spawned: 0,
            cancelled: 0,
        }
    }
}

/// Why a view could not be computed (the viewer shows the text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// The computation refused, saying why (e.g. a reference file cannot be read).
    #[error("{0}")]
    Failed(String),
    /// The worker thread ended without sending an answer.
    #[error("the viewer's worker thread stopped without an answer")]
    Stopped,
}

/// What a computation returns: the answer, `Ok(None)` when cancelled, or why it failed.
pub type Outcome<T> = Result<Option<T>, JobError>;

impl<T: Send + Sync + 'static> Slot<T> {
    /// The answer for `key`: cached, computed now (when `cost` ≤ [`Self::inline_max`]), or
    /// started on a worker thread (which wakes `ctx` when done). A different key running is
    /// cancelled.
    pub fn get(
        &mut self,
        ctx: &egui::Context,
        key: u64,
        cost: usize,
        compute: impl FnOnce(&AtomicBool) -> Outcome<T> + Send + 'static,
    ) -> Status<T> {
        self.poll();
        if let Some((_, r)) = self.cache.iter().find(|(k, _)| *k == key) {
            return match r {
                Ok(v) => Status::Ready(Arc::clone(v)),
                Err(e) => Status::Failed(e.to_string()),
            };
        }
        if let Some(run) = &self.running {
            if run.key == key {
                return Status::Pending;
            }
            run.cancel.store(true, Ordering::Relaxed);
            self.cancelled += 1;
            self.running = None;
        }
        if cost <= self.inline_max {
            let never = AtomicBool::new(false);
            return match compute(&never) {
                Ok(Some(v)) => self.store(key, Ok(Arc::new(v))),
                Ok(None) => Status::Pending,
                Err(e) => self.store(key, Err(e)),
            };
        }
        let cancel = Arc::new(AtomicBool::new(false));
        let (tx, rx) = std::sync::mpsc::channel();
        let flag = Arc::clone(&cancel);
        let ctx = ctx.clone();
        let spawned = std::thread::Builder::new()
            .name("blockspace-viewer".into())
            .spawn(move || {
                let out = match compute(&flag) {
                    Ok(Some(v)) => Ok(v),
                    Ok(None) => return,
                    Err(e) => Err(e),
                };
                // The viewer may have moved on; then nobody needs this.
                let _ = tx.send(out);
                ctx.request_repaint();
            });
        match spawned {
            Ok(_) => {
                self.spawned += 1;
                self.running = Some(Running { key, cancel, rx });
                Status::Pending
            }
            Err(e) => Status::Failed(format!("cannot start the viewer's worker thread: {e}")),
        }
    }

    /// The cached answer for `key`, without computing anything.
    #[must_use]
    pub fn peek(&self, key: u64) -> Option<Arc<T>> {
        self.cache
            .iter()
            .find(|(k, _)| *k == key)
            .and_then(|(_, r)| r.as_ref().ok().map(Arc::clone))
    }

    /// Whether a computation is running.
    #[must_use]
    pub fn busy(&self) -> bool {
        self.running.is_some()
    }

    /// Stops the running computation, if any.
    pub fn cancel(&mut self) {
        if let Some(run) = self.running.take() {
            run.cancel.store(true, Ordering::Relaxed);
            self.cancelled += 1;
        }
    }

    fn poll(&mut self) {
        let Some(run) = &self.running else { return };
        match run.rx.try_recv() {
            Ok(r) => {
                let key = run.key;
                self.running = None;
                let _ = self.store(key, r.map(Arc::new));
            }
            Err(TryRecvError::Empty) => {}
            Err(TryRecvError::Disconnected) => {
                let key = run.key;
                self.running = None;
                let _ = self.store(key, Err(JobError::Stopped));
            }
        }
    }

    fn store(&mut self, key: u64, r: Result<Arc<T>, JobError>) -> Status<T> {
        if self.cache.len() >= CACHE {
            self.cache.pop_front();
        }
        let status = match &r {
            Ok(v) => Status::Ready(Arc::clone(v)),
            Err(e) => Status::Failed(e.to_string()),
        };
        self.cache.push_back((key, r));
        status
    }
}

/// A key for a view: any hashable description of the tensor and the view's parameters.
pub fn key_of<H: std::hash::Hash>(v: &H) -> u64 {
    use std::hash::Hasher as _;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    v.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn wait<T: Send + Sync + 'static>(slot: &mut Slot<T>, ctx: &egui::Context, key: u64) -> Arc<T> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Status::Ready(v) = slot.get(ctx, key, usize::MAX, |_| Ok(None)) {
                return v;
            }
            assert!(Instant::now() < deadline, "no answer within 10 s");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    #[test]
    fn small_requests_are_answered_at_once_and_cached() {
        let ctx = egui::Context::default();
        let mut slot: Slot<u32> = Slot::default();
        assert!(matches!(slot.get(&ctx, 1, 10, |_| Ok(Some(7))), Status::Ready(v) if *v == 7));
        // Cached: the computation is not run again.
        assert!(matches!(
            slot.get(&ctx, 1, 10, |_| Err(JobError::Failed("ran again".into()))),
            Status::Ready(v) if *v == 7
        ));
        assert_eq!(slot.spawned, 0);
    }

    #[test]
    fn big_requests_run_on_a_worker_and_a_new_key_cancels_the_old() {
        let ctx = egui::Context::default();
        let mut slot: Slot<u32> = Slot {
            inline_max: 0,
            ..Slot::default()
        };
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let st = slot.get(&ctx, 1, 100, move |cancel| {
            let _ = started_tx.send(());
            while !cancel.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(1));
            }
            Ok(None)
        });
        assert!(matches!(st, Status::Pending));
        started_rx.recv().unwrap();
        assert!(matches!(
            slot.get(&ctx, 2, 100, |_| Ok(Some(5))),
            Status::Pending
        ));
        assert_eq!(slot.cancelled, 1, "asking for key 2 cancelled key 1");
        assert_eq!(*wait(&mut slot, &ctx, 2), 5);
        assert_eq!(slot.spawned, 2);
    }
}
