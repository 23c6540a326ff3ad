//! Cancellation, memory limits and progress reporting for kernel calls.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::KernelError;

/// A cooperative cancel flag, checked by kernels between chunks of work.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A token that is not cancelled.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks every holder of this token to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether [`CancelToken::cancel`] was called.
    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// An upper bound on the bytes a single buffer may take.
///
/// The default is half of the machine's physical memory (4 GiB where that cannot be read),
/// so absurd shapes fail fast with [`KernelError::TooLarge`] instead of aborting on allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryLimit {
    /// Largest allowed buffer, in bytes.
    pub max_bytes: u64,
}

impl Default for MemoryLimit {
    fn default() -> Self {
        let physical = physical_memory_bytes().unwrap_or(8 << 30);
        Self {
            max_bytes: physical / 2,
        }
    }
}

impl MemoryLimit {
    /// A limit of `max_bytes` bytes.
    #[must_use]
    pub fn bytes(max_bytes: u64) -> Self {
        Self { max_bytes }
    }

    /// Checks that a buffer of `elements` items of `elem_size` bytes fits.
    ///
    /// # Errors
    /// [`KernelError::TooLarge`] naming `what` when it does not.
    pub fn check(
        &self,
        what: &'static str,
        elements: u64,
        elem_size: u64,
    ) -> Result<(), KernelError> {
        let bytes = elements.saturating_mul(elem_size);
        // ndarray also refuses anything beyond isize::MAX bytes.
        let hard = u64::try_from(isize::MAX).unwrap_or(u64::MAX);
        if bytes > self.max_bytes || bytes > hard {
            return Err(KernelError::TooLarge {
                what,
                elements,
                bytes,
                limit: self.max_bytes.min(hard),
            });
        }
        Ok(())
    }
}

fn physical_memory_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// A progress callback: receives the finished fraction in `[0, 1]`.
pub type ProgressFn = Arc<dyn Fn(f64) + Send + Sync>;

/// How a kernel call may use resources, and how it reports back.
#[derive(Clone, Default)]
pub struct KernelContext {
    /// Largest buffer the call may allocate.
    pub limit: MemoryLimit,
    /// Checked between chunks of work; a cancelled call returns [`KernelError::Cancelled`].
    pub cancel: CancelToken,
    /// Called now and then with the finished fraction of the work.
    pub progress: Option<ProgressFn>,
}

impl std::fmt::Debug for KernelContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KernelContext")
            .field("limit", &self.limit)
            .field("cancel", &self.cancel)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

impl KernelContext {
    /// Returns [`KernelError::Cancelled`] if the call was cancelled.
    ///
    /// # Errors
    /// When the token is cancelled.
    pub fn check_cancelled(&self) -> Result<(), KernelError> {
        if self.cancel.is_cancelled() {
            Err(KernelError::Cancelled)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_rejects_absurd_sizes() {
        let limit = MemoryLimit::bytes(1 << 20);
        assert!(limit.check("x", 1 << 10, 4).is_ok(), "4 KiB fits in 1 MiB");
        let err = limit.check("output", u64::MAX, 8).unwrap_err();
        assert!(
            matches!(
                err,
                KernelError::TooLarge {
                    bytes: u64::MAX,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("memory limit"), "{err}");
    }

    #[test]
    fn default_limit_is_positive() {
        assert!(
            MemoryLimit::default().max_bytes > 0,
            "default limit must allow something"
        );
    }

    #[test]
    fn cancel_token_is_shared() {
        let a = CancelToken::new();
        let b = a.clone();
        assert!(!b.is_cancelled(), "new token is not cancelled");
        a.cancel();
        assert!(b.is_cancelled(), "clones share the flag");
    }
}
