//! Elementwise binary ops with NumPy broadcasting (`AddV2`, `Sub`, `Mul`) and `Abs`.

use ndarray::{ArrayD, ArrayViewD, IxDyn, Zip};

use super::PARALLEL_MIN;
use crate::{Element, KernelContext, KernelError};

/// An elementwise binary op, by TensorFlow's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `x + y`.
    AddV2,
    /// `x - y`.
    Sub,
    /// `x * y`.
    Mul,
}

impl BinaryOp {
    /// TensorFlow's op name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::AddV2 => "AddV2",
            Self::Sub => "Sub",
            Self::Mul => "Mul",
        }
    }

    /// Applies the op to one pair of elements (IEEE arithmetic in `T`).
    #[must_use]
    pub fn apply<T: Element>(self, x: T, y: T) -> T {
        match self {
            Self::AddV2 => x + y,
            Self::Sub => x - y,
            Self::Mul => x * y,
        }
    }
}

/// The shape two operands broadcast to (NumPy's rule, as TensorFlow's `BCast`): shapes are
/// aligned at the last dimension; each pair of sizes must be equal or contain a 1.
///
/// # Errors
/// [`KernelError::IncompatibleShapes`] (TensorFlow's text) when a pair differs and neither is 1.
pub fn broadcast_shape(x: &[usize], y: &[usize]) -> Result<Vec<usize>, KernelError> {
    let rank = x.len().max(y.len());
    let at = |s: &[usize], i: usize| {
        (i + s.len())
            .checked_sub(rank)
            .map_or(1, |j| s.get(j).copied().unwrap_or(1))
    };
    (0..rank)
        .map(|i| match (at(x, i), at(y, i)) {
            (a, b) if a == b => Ok(a),
            (1, b) => Ok(b),
            (a, 1) => Ok(a),
            _ => Err(KernelError::IncompatibleShapes {
                x: x.to_vec(),
                y: y.to_vec(),
            }),
        })
        .collect()
}

fn checked_len(shape: &[usize]) -> Result<usize, KernelError> {
    shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .filter(|&n| isize::try_from(n).is_ok())
        .ok_or(KernelError::Overflow {
            what: "the output shape",
        })
}

/// Computes `op(x, y)` elementwise with broadcasting, in `T`.
///
/// # Errors
/// [`KernelError::IncompatibleShapes`], [`KernelError::TooLarge`] beyond `ctx.limit`,
/// [`KernelError::Cancelled`].
///
/// # Example
/// ```
/// use blockspace_kernels::{BinaryOp, KernelContext, binary};
/// use ndarray::{arr1, arr2};
///
/// let x = arr2(&[[1.0f32], [2.0]]).into_dyn();
/// let y = arr1(&[10.0f32, 20.0, 30.0]).into_dyn();
/// let z = binary(BinaryOp::AddV2, x.view(), y.view(), &KernelContext::default())?;
/// assert_eq!(z, arr2(&[[11.0f32, 21.0, 31.0], [12.0, 22.0, 32.0]]).into_dyn());
/// # Ok::<(), blockspace_kernels::KernelError>(())
/// ```
pub fn binary<T: Element>(
    op: BinaryOp,
    x: ArrayViewD<'_, T>,
    y: ArrayViewD<'_, T>,
    ctx: &KernelContext,
) -> Result<ArrayD<T>, KernelError> {
    let shape = broadcast_shape(x.shape(), y.shape())?;
    let len = checked_len(&shape)?;
    let _output = ctx.reserve_output("the output", len as u64, std::mem::size_of::<T>() as u64)?;
    ctx.check_cancelled()?;
    let dim = IxDyn(&shape);
    let incompatible = || KernelError::IncompatibleShapes {
        x: x.shape().to_vec(),
        y: y.shape().to_vec(),
    };
    let xb = x.broadcast(dim.clone()).ok_or_else(incompatible)?;
    let yb = y.broadcast(dim).ok_or_else(incompatible)?;
    let zip = Zip::from(&xb).and(&yb);
    let out = match op {
        BinaryOp::AddV2 => collect(zip, len, |a: T, b: T| a + b),
        BinaryOp::Sub => collect(zip, len, |a: T, b: T| a - b),
        BinaryOp::Mul => collect(zip, len, |a: T, b: T| a * b),
    };
    Ok(standard(out))
}

/// Two broadcast operands walked together.
type PairZip<'a, T> = Zip<
    (
        ndarray::ArrayView<'a, T, IxDyn>,
        ndarray::ArrayView<'a, T, IxDyn>,
    ),
    IxDyn,
>;

fn collect<T: Element>(
    zip: PairZip<'_, T>,
    len: usize,
    f: impl Fn(T, T) -> T + Sync + Send,
) -> ArrayD<T> {
    if len >= PARALLEL_MIN && rayon::current_num_threads() > 1 {
        zip.par_map_collect(|&a, &b| f(a, b))
    } else {
        zip.map_collect(|&a, &b| f(a, b))
    }
}

/// Row-major layout for every result (downstream kernels and `.npy` files expect it).
fn standard<T: Element>(a: ArrayD<T>) -> ArrayD<T> {
    if a.is_standard_layout() {
        a
    } else {
        a.as_standard_layout().into_owned()
    }
}

/// Computes `|x|` elementwise (TensorFlow's `Abs`: `-0` becomes `0`, NaN stays NaN).
///
/// # Errors
/// [`KernelError::TooLarge`] beyond `ctx.limit`, [`KernelError::Cancelled`].
pub fn abs<T: Element>(
    x: ArrayViewD<'_, T>,
    ctx: &KernelContext,
) -> Result<ArrayD<T>, KernelError> {
    let _output = ctx.reserve_output(
        "the output",
        x.len() as u64,
        std::mem::size_of::<T>() as u64,
    )?;
    ctx.check_cancelled()?;
    let zip = Zip::from(&x);
    let out = if x.len() >= PARALLEL_MIN && rayon::current_num_threads() > 1 {
        zip.par_map_collect(|&a| a.abs())
    } else {
        zip.map_collect(|&a| a.abs())
    };
    Ok(standard(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{ArrayD, arr0, arr1, arr2};

    #[test]
    fn broadcast_follows_numpy() {
        assert_eq!(broadcast_shape(&[2, 1, 3], &[4, 1]).unwrap(), [2, 4, 3]);
        assert_eq!(broadcast_shape(&[3], &[]).unwrap(), [3]);
        assert_eq!(
            broadcast_shape(&[0], &[1]).unwrap(),
            [0],
            "1 stretches to 0"
        );
        assert_eq!(broadcast_shape(&[], &[]).unwrap(), Vec::<usize>::new());
        assert_eq!(
            broadcast_shape(&[2, 2, 1, 3, 1], &[1, 2, 1])
                .unwrap_err()
                .to_string(),
            "Incompatible shapes: [2,2,1,3,1] vs. [1,2,1]"
        );
    }

    #[test]
    fn ops_broadcast_without_copies_and_keep_ieee_rules() {
        let ctx = KernelContext::default();
        let x = arr2(&[[1.0f64, -2.0, 3.0]]).into_dyn();
        let y = arr1(&[0.5f64]).into_dyn();
        let z = binary(BinaryOp::Sub, x.view(), y.view(), &ctx).unwrap();
        assert_eq!(z, arr2(&[[0.5, -2.5, 2.5]]).into_dyn());
        let inf = arr0(f32::INFINITY).into_dyn();
        let zero = arr0(0.0f32).into_dyn();
        let nan = binary(BinaryOp::Mul, inf.view(), zero.view(), &ctx).unwrap();
        assert!(nan[[]].is_nan(), "inf * 0 is NaN");
        let a = abs(arr1(&[-0.0f32, -3.0, f32::NAN]).into_dyn().view(), &ctx).unwrap();
        assert!(a[0].is_sign_positive() && a[1] == 3.0 && a[2].is_nan());
    }

    #[test]
    fn large_outputs_match_the_serial_result_and_are_row_major() {
        let ctx = KernelContext::default();
        let n = PARALLEL_MIN + 17;
        let x = ArrayD::from_shape_fn(IxDyn(&[n, 1]), |i| i[0] as f32 * 0.25);
        let y = ArrayD::from_shape_fn(IxDyn(&[1, 3]), |i| i[1] as f32 - 1.0);
        let z = binary(BinaryOp::Mul, x.view(), y.view(), &ctx).unwrap();
        assert!(z.is_standard_layout());
        for ((i, j), v) in [
            ((5usize, 0usize), -1.25f32),
            ((n - 1, 2), (n - 1) as f32 * 0.25),
        ] {
            assert_eq!(z[[i, j]], v);
        }
        let t = x.t();
        let a = abs(t.view(), &ctx).unwrap();
        assert!(a.is_standard_layout() && a.shape() == [1, n]);
    }

    #[test]
    fn limit_and_cancel_are_honoured() {
        let x = ArrayD::<f32>::zeros(IxDyn(&[1000]));
        let small = KernelContext {
            limit: crate::MemoryLimit::bytes(100),
            ..Default::default()
        };
        assert!(matches!(
            binary(BinaryOp::AddV2, x.view(), x.view(), &small),
            Err(KernelError::TooLarge { .. })
        ));
        let ctx = KernelContext::default();
        ctx.cancel.cancel();
        assert_eq!(abs(x.view(), &ctx).unwrap_err(), KernelError::Cancelled);
    }
}
