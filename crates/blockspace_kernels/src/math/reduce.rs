//! `Sum` and `Max` over a list of axes (TensorFlow's `reduction_indices` rules).
//!
//! The input is viewed as `[A, R, B]`: `A` the kept axes before the reduced ones, `R` the
//! reduced axes (contiguous once size-1 axes are dropped), `B` the kept axes after them; an
//! input whose reduced axes are not one contiguous run is first copied with them moved last.
//! Each `[R, B]` slab is reduced by a fixed binary tree over blocks of rows (pairwise
//! summation), whose halves run in parallel when large: the tree does not depend on the
//! thread count, so neither does the result.

use ndarray::{ArrayD, ArrayViewD, IxDyn};

use super::PARALLEL_MIN;
use crate::{Element, KernelContext, KernelError};

/// A reduction, by TensorFlow's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReduceOp {
    /// Sum of the elements (`0` over an empty extent).
    Sum,
    /// Largest element, NaN if any is NaN (`-inf` over an empty extent, as TensorFlow 2.21).
    Max,
}

impl ReduceOp {
    /// TensorFlow's op name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Sum => "Sum",
            Self::Max => "Max",
        }
    }

    fn identity<T: Element>(self) -> T {
        match self {
            Self::Sum => T::ZERO,
            Self::Max => T::NEG_INFINITY,
        }
    }

    fn combine<T: Element>(self, a: T, b: T) -> T {
        match self {
            Self::Sum => a + b,
            Self::Max => {
                if a > b || a.is_nan() {
                    a
                } else {
                    b
                }
            }
        }
    }
}

/// A validated reduction: which axes are reduced and the output shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReduceParams {
    /// `reduced[i]`: whether input axis `i` is reduced.
    pub reduced: Vec<bool>,
    /// Whether reduced axes stay as size 1.
    pub keep_dims: bool,
    /// The input's shape.
    pub input_shape: Vec<usize>,
    /// The output's shape.
    pub output_shape: Vec<usize>,
}

impl ReduceParams {
    /// Validates `axis` for an input of `input_shape`, as TensorFlow's `ReductionHelper`:
    /// each entry in `[-rank, rank)` (negative counts from the end), none repeated.
    ///
    /// # Errors
    /// [`KernelError::InvalidReductionDimension`] or [`KernelError::DuplicateReductionAxis`]
    /// with TensorFlow's texts.
    pub fn new(input_shape: &[usize], axis: &[i64], keep_dims: bool) -> Result<Self, KernelError> {
        let rank = input_shape.len();
        let r = i64::try_from(rank).unwrap_or(i64::MAX);
        let mut reduced = vec![false; rank];
        for &a in axis {
            if a < -r || a >= r {
                return Err(KernelError::InvalidReductionDimension { index: a, rank });
            }
            let i = usize::try_from((a + r) % r).unwrap_or(0);
            if reduced[i] {
                return Err(KernelError::DuplicateReductionAxis { index: i });
            }
            reduced[i] = true;
        }
        let output_shape = input_shape
            .iter()
            .zip(&reduced)
            .filter_map(|(&d, &red)| if red { keep_dims.then_some(1) } else { Some(d) })
            .collect();
        Ok(Self {
            reduced,
            keep_dims,
            input_shape: input_shape.to_vec(),
            output_shape,
        })
    }
}

/// Reduces `input` over `axis` (TensorFlow's `Sum` / `Max` with `keep_dims`).
///
/// # Errors
/// As [`ReduceParams::new`], plus [`KernelError::TooLarge`] and [`KernelError::Cancelled`].
///
/// # Example
/// ```
/// use blockspace_kernels::{KernelContext, ReduceOp, reduce};
/// use ndarray::{arr1, arr2};
///
/// let x = arr2(&[[1.0f64, 5.0, 3.0], [4.0, 2.0, 6.0]]).into_dyn();
/// let s = reduce(ReduceOp::Sum, x.view(), &[-1], false, &KernelContext::default())?;
/// assert_eq!(s, arr1(&[9.0, 12.0]).into_dyn());
/// let m = reduce(ReduceOp::Max, x.view(), &[0], true, &KernelContext::default())?;
/// assert_eq!(m, arr2(&[[4.0, 5.0, 6.0]]).into_dyn());
/// # Ok::<(), blockspace_kernels::KernelError>(())
/// ```
pub fn reduce<T: Element>(
    op: ReduceOp,
    input: ArrayViewD<'_, T>,
    axis: &[i64],
    keep_dims: bool,
    ctx: &KernelContext,
) -> Result<ArrayD<T>, KernelError> {
    let params = ReduceParams::new(input.shape(), axis, keep_dims)?;
    reduce_with_params(op, &params, input, ctx)
}

/// Like [`reduce`], for an axis list already validated into `params`.
///
/// # Errors
/// [`KernelError::Overflow`] when `input` is not of `params.input_shape`,
/// [`KernelError::TooLarge`], [`KernelError::Cancelled`].
pub fn reduce_with_params<T: Element>(
    op: ReduceOp,
    params: &ReduceParams,
    input: ArrayViewD<'_, T>,
    ctx: &KernelContext,
) -> Result<ArrayD<T>, KernelError> {
    if input.shape() != params.input_shape.as_slice() {
        return Err(KernelError::Overflow {
            what: "the reduction input (its shape differs from the checked one)",
        });
    }
    let out_len: usize = params.output_shape.iter().product();
    let size = std::mem::size_of::<T>() as u64;
    let _output = ctx.reserve_output("the output", out_len as u64, size)?;
    ctx.check_cancelled()?;
    let out_dim = IxDyn(&params.output_shape);
    if input.is_empty() {
        return Ok(ArrayD::from_elem(out_dim, op.identity()));
    }
    // Drop size-1 axes, then merge neighbours of the same kind: `(size, reduced)` runs.
    let mut runs: Vec<(usize, bool)> = Vec::new();
    for (&d, &red) in input.shape().iter().zip(&params.reduced) {
        if d == 1 {
            continue;
        }
        match runs.last_mut() {
            Some((size, r)) if *r == red => *size *= d,
            _ => runs.push((d, red)),
        }
    }
    let reduced_runs = runs.iter().filter(|r| r.1).count();
    let owned;
    let mut _copy = crate::Reservation::default();
    let (data, a, r, b) = if reduced_runs <= 1 {
        let split = runs.iter().position(|r| r.1).unwrap_or(runs.len());
        let a: usize = runs[..split].iter().map(|r| r.0).product();
        let r = runs.get(split).map_or(1, |r| r.0);
        let b: usize = runs[(split + 1).min(runs.len())..]
            .iter()
            .map(|r| r.0)
            .product();
        owned = input.as_standard_layout();
        (owned.as_slice(), a, r, b)
    } else {
        // Reduced axes in several runs: one copy with the kept axes first.
        _copy = ctx.reserve("a reordered copy of the input", input.len() as u64, size)?;
        let order: Vec<usize> = (0..params.reduced.len())
            .filter(|&i| !params.reduced[i])
            .chain((0..params.reduced.len()).filter(|&i| params.reduced[i]))
            .collect();
        let total = input.len();
        owned = input
            .permuted_axes(IxDyn(&order))
            .as_standard_layout()
            .into_owned()
            .into();
        (owned.as_slice(), out_len, total / out_len.max(1), 1)
    };
    let data = data.ok_or(KernelError::Overflow {
        what: "the reduction input layout",
    })?;
    let mut out = vec![op.identity::<T>(); a * b];
    let slab = r * b;
    let parallel = data.len() >= PARALLEL_MIN && rayon::current_num_threads() > 1;
    if parallel && a > 1 {
        use rayon::prelude::*;
        out.par_chunks_mut(b)
            .zip(data.par_chunks(slab))
            .with_min_len((PARALLEL_MIN / slab.max(1)).max(1))
            .for_each(|(o, x)| reduce_rows(op, x, r, b, o, true));
    } else {
        for (o, x) in out.chunks_mut(b).zip(data.chunks(slab)) {
            reduce_rows(op, x, r, b, o, parallel);
        }
    }
    ctx.check_cancelled()?;
    ArrayD::from_shape_vec(out_dim, out).map_err(|_| KernelError::Overflow {
        what: "the output shape",
    })
}

/// Rows (`b == 1`: elements) per leaf of the reduction tree.
const LEAF_ROWS: usize = 256;
/// Leaf elements per accumulator lane when reducing a contiguous run.
const LANES: usize = 8;

/// `out[j] = op over i < r of x[i·b + j]`, by a fixed pairwise tree over row blocks.
fn reduce_rows<T: Element>(op: ReduceOp, x: &[T], r: usize, b: usize, out: &mut [T], par: bool) {
    if b == 1 {
        out[0] = reduce_run(op, x, par);
        return;
    }
    let leaf = (LEAF_ROWS * 64 / b).clamp(2, LEAF_ROWS);
    if r <= leaf {
        out.copy_from_slice(&x[..b]);
        for row in x[b..r * b].chunks_exact(b) {
            for (o, &v) in out.iter_mut().zip(row) {
                *o = op.combine(*o, v);
            }
        }
        return;
    }
    let half = r.div_ceil(2);
    let (lo, hi) = x.split_at(half * b);
    let mut right = vec![T::ZERO; b];
    if par && x.len() >= PARALLEL_MIN {
        rayon::join(
            || reduce_rows(op, lo, half, b, out, par),
            || reduce_rows(op, hi, r - half, b, &mut right, par),
        );
    } else {
        reduce_rows(op, lo, half, b, out, par);
        reduce_rows(op, hi, r - half, b, &mut right, par);
    }
    for (o, v) in out.iter_mut().zip(right) {
        *o = op.combine(*o, v);
    }
}

/// `op` over a contiguous run: leaves of `LEAF_ROWS` elements in `LANES` interleaved
/// accumulators, leaves combined pairwise.
fn reduce_run<T: Element>(op: ReduceOp, x: &[T], par: bool) -> T {
    if x.len() <= LEAF_ROWS {
        let mut acc = [op.identity::<T>(); LANES];
        let chunks = x.chunks_exact(LANES);
        let tail = chunks.remainder();
        for c in chunks {
            for (a, &v) in acc.iter_mut().zip(c) {
                *a = op.combine(*a, v);
            }
        }
        for (a, &v) in acc.iter_mut().zip(tail) {
            *a = op.combine(*a, v);
        }
        let [a0, a1, a2, a3, a4, a5, a6, a7] = acc;
        let p = |u, v| op.combine(u, v);
        return p(p(p(a0, a1), p(a2, a3)), p(p(a4, a5), p(a6, a7)));
    }
    let (lo, hi) = x.split_at(x.len().div_ceil(2));
    let (l, h) = if par && x.len() >= PARALLEL_MIN {
        rayon::join(|| reduce_run(op, lo, par), || reduce_run(op, hi, par))
    } else {
        (reduce_run(op, lo, par), reduce_run(op, hi, par))
    };
    op.combine(l, h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array, Dimension as _, arr0, arr1, arr2};

    fn naive<T: Element>(op: ReduceOp, x: &ArrayD<T>, axis: &[i64], keep: bool) -> ArrayD<T> {
        let p = ReduceParams::new(x.shape(), axis, keep).unwrap();
        let kept_shape: Vec<usize> = x
            .shape()
            .iter()
            .zip(&p.reduced)
            .map(|(&d, &r)| if r { 1 } else { d })
            .collect();
        let mut out = ArrayD::from_elem(IxDyn(&kept_shape), op.identity::<T>());
        for (idx, &v) in x.indexed_iter() {
            let mut o = idx.as_array_view().to_vec();
            for (i, r) in p.reduced.iter().enumerate() {
                if *r {
                    o[i] = 0;
                }
            }
            let slot = &mut out[IxDyn(&o)];
            *slot = op.combine(*slot, v);
        }
        out.into_shape_with_order(IxDyn(&p.output_shape)).unwrap()
    }

    #[test]
    fn tensorflow_errors() {
        assert_eq!(
            ReduceParams::new(&[2, 3], &[2], false)
                .unwrap_err()
                .to_string(),
            "Invalid reduction dimension (2 for input with 2 dimension(s)"
        );
        assert_eq!(
            ReduceParams::new(&[2, 3], &[-3], false)
                .unwrap_err()
                .to_string(),
            "Invalid reduction dimension (-3 for input with 2 dimension(s)"
        );
        assert_eq!(
            ReduceParams::new(&[2, 3], &[1, -1], false)
                .unwrap_err()
                .to_string(),
            "Invalid reduction arguments: Axes contains duplicate dimension: 1"
        );
        assert!(
            ReduceParams::new(&[], &[0], false).is_err(),
            "a scalar has no axis 0"
        );
    }

    #[test]
    fn every_axis_pattern_matches_the_naive_reduction() {
        let x = Array::from_shape_fn(IxDyn(&[2, 3, 1, 4, 5]), |i| {
            ((i[0] * 7 + i[1] * 5 + i[3] * 3 + i[4]) % 11) as f64 - 5.0
        });
        let axes: [&[i64]; 9] = [
            &[],
            &[0],
            &[1],
            &[4],
            &[1, 3],
            &[0, 4],
            &[0, 2, 4],
            &[-1, -2],
            &[0, 1, 2, 3, 4],
        ];
        for op in [ReduceOp::Sum, ReduceOp::Max] {
            for axis in axes {
                for keep in [false, true] {
                    let got = reduce(op, x.view(), axis, keep, &KernelContext::default()).unwrap();
                    assert_eq!(
                        got,
                        naive(op, &x, axis, keep),
                        "{op:?} {axis:?} keep={keep}"
                    );
                }
            }
        }
    }

    #[test]
    fn empty_extents_give_the_identity_and_nan_propagates() {
        let ctx = KernelContext::default();
        let e = ArrayD::<f32>::zeros(IxDyn(&[2, 0]));
        assert_eq!(
            reduce(ReduceOp::Sum, e.view(), &[1], false, &ctx).unwrap(),
            arr1(&[0.0f32, 0.0]).into_dyn()
        );
        assert_eq!(
            reduce(ReduceOp::Max, e.view(), &[1], false, &ctx).unwrap(),
            arr1(&[f32::NEG_INFINITY, f32::NEG_INFINITY]).into_dyn()
        );
        assert_eq!(
            reduce(ReduceOp::Max, e.view(), &[0], false, &ctx)
                .unwrap()
                .shape(),
            [0]
        );
        let x = arr2(&[[1.0f64, f64::NAN], [3.0, 2.0]]).into_dyn();
        let m = reduce(ReduceOp::Max, x.view(), &[0, 1], false, &ctx).unwrap();
        assert!(m[[]].is_nan());
        let s = reduce(
            ReduceOp::Sum,
            arr0(2.5f32).into_dyn().view(),
            &[],
            false,
            &ctx,
        )
        .unwrap();
        assert_eq!(s, arr0(2.5f32).into_dyn());
    }

    #[test]
    fn float32_sums_of_millions_stay_accurate_and_thread_independent() {
        let n = 1 << 22;
        let x = Array::from_shape_fn(IxDyn(&[n]), |i| 0.1f32 + (i[0] % 3) as f32 * 1e-3);
        let exact: f64 = x.iter().map(|&v| f64::from(v)).sum();
        let ctx = KernelContext::default();
        let got = reduce(ReduceOp::Sum, x.view(), &[0], false, &ctx).unwrap()[[]];
        let rel = ((f64::from(got) - exact) / exact).abs();
        assert!(rel < 1e-6, "pairwise sum error {rel:e}");
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let serial = one.install(|| reduce(ReduceOp::Sum, x.view(), &[0], false, &ctx).unwrap());
        assert_eq!(
            serial[[]].to_bits(),
            got.to_bits(),
            "same tree on any thread count"
        );
        // Column sums (rows accumulated) too.
        let y = x.into_shape_with_order(IxDyn(&[n / 4, 4])).unwrap();
        let cols = reduce(ReduceOp::Sum, y.view(), &[0], false, &ctx).unwrap();
        for (j, &c) in cols.iter().enumerate() {
            let e: f64 = y
                .index_axis(ndarray::Axis(1), j)
                .iter()
                .map(|&v| f64::from(v))
                .sum();
            assert!(((f64::from(c) - e) / e).abs() < 1e-6, "column {j}");
        }
    }
}
