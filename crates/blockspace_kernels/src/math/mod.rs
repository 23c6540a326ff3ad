//! Arithmetic and reductions to check convolution results on a page: TensorFlow's `AddV2`,
//! `Sub`, `Mul` (NumPy broadcasting), `Abs`, and `Sum` / `Max` over a list of axes.
//!
//! Broadcasting reads the operands through stride-0 views (no operand is copied); large
//! outputs are computed in parallel on rayon's pool. Sums are pairwise over fixed blocks, so a
//! float32 sum of millions of elements keeps an error of `O(log n · ε · Σ|x|)` rather than
//! `O(n · ε · Σ|x|)`, and the result does not depend on the number of threads.

mod binary;
mod reduce;

pub use binary::{BinaryOp, abs, binary, broadcast_shape};
pub use reduce::{ReduceOp, ReduceParams, reduce, reduce_with_params};

/// Outputs with at least this many elements are computed in parallel.
pub(crate) const PARALLEL_MIN: usize = 1 << 16;
