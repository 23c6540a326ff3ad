//! Kernel parameter validation as a fuzz target: shapes, operand values and attributes from
//! bytes go through every op's validation; problems that validate and whose operands are small
//! are run under a small memory limit (the kernels must refuse or build any output themselves),
//! and the result must have the validated shape.

use ndarray::{ArrayD, IxDyn};

use crate::fuzzing::Bytes;
use crate::kernels::{
    BinaryOp, Conv3dAttrs, Conv3dBackpropFilterParams, Conv3dBackpropInputParams, Conv3dParams,
    DataFormat, KernelContext, MemoryLimit, Padding, ReduceOp, ReduceParams,
};

/// Problems up to this many nominal flops (or elements) are run.
const RUN_MAX: f64 = 2e6;

fn shape(b: &mut Bytes<'_>) -> Vec<usize> {
    let rank = usize::from(b.u8() % 8);
    (0..rank).map(|_| b.dim()).collect()
}

fn ints(b: &mut Bytes<'_>) -> Vec<i64> {
    let n = usize::from(b.u8() % 8);
    (0..n).map(|_| b.int()).collect()
}

fn attrs(b: &mut Bytes<'_>) -> Conv3dAttrs {
    let flags = b.u8();
    let mut a = Conv3dAttrs {
        padding: if flags & 1 == 0 {
            Padding::Same
        } else {
            Padding::Valid
        },
        data_format: if flags & 2 == 0 {
            DataFormat::Ndhwc
        } else {
            DataFormat::Ncdhw
        },
        ..Conv3dAttrs::default()
    };
    if flags & 4 != 0 {
        a.strides = ints(b);
    }
    if flags & 8 != 0 {
        a.dilations = ints(b);
    }
    a
}

/// The number of elements of `shape`, if an operand of that shape can be built and is small:
/// at most [`RUN_MAX`] elements, and (ndarray's rule, which zero-sized shapes with huge other
/// dimensions test) a product of the non-zero dimensions that fits `isize`.
fn small(shape: &[usize]) -> Option<usize> {
    let buildable = shape
        .iter()
        .filter(|&&d| d != 0)
        .try_fold(8usize, |acc, &d| acc.checked_mul(d))
        .is_some_and(|b| isize::try_from(b).is_ok());
    shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .filter(|&n| buildable && (n as f64) <= RUN_MAX)
}

fn ones(shape: &[usize]) -> Option<ArrayD<f32>> {
    small(shape).map(|_| ArrayD::from_elem(IxDyn(shape), 1.0))
}

fn ctx() -> KernelContext {
    KernelContext {
        limit: MemoryLimit::bytes(64 << 20),
        ..KernelContext::default()
    }
}

/// Kernel parameters from bytes (see the module docs).
///
/// # Panics
/// When validation or a kernel panics, or a result has another shape than validated.
pub fn op_params(data: &[u8]) {
    let mut b = Bytes(data);
    match b.u8() % 5 {
        0 => {
            let a = attrs(&mut b);
            let sizes = ints(&mut b);
            let (f, dy) = (shape(&mut b), shape(&mut b));
            let Ok(p) = Conv3dBackpropInputParams::new(&[sizes.len()], &sizes, &f, &dy, &a) else {
                return;
            };
            if p.nominal_flops() <= RUN_MAX
                && let (Some(f), Some(dy)) = (ones(&f), ones(&dy))
                && let Ok(y) = crate::kernels::conv3d_backprop_input_v2_with_params(
                    &p,
                    f.view(),
                    dy.view(),
                    &ctx(),
                )
            {
                assert_eq!(y.shape(), p.output_shape().as_slice());
            }
        }
        1 => {
            let a = attrs(&mut b);
            let (x, f) = (shape(&mut b), shape(&mut b));
            let Ok(p) = Conv3dParams::new(&x, &f, &a) else {
                return;
            };
            if p.nominal_flops() <= RUN_MAX
                && let (Some(x), Some(f)) = (ones(&x), ones(&f))
                && let Ok(y) = crate::kernels::conv3d_with_params(&p, x.view(), f.view(), &ctx())
            {
                assert_eq!(y.shape(), p.output_shape().as_slice());
            }
        }
        2 => {
            let a = attrs(&mut b);
            let sizes = ints(&mut b);
            let (x, dy) = (shape(&mut b), shape(&mut b));
            let Ok(p) = Conv3dBackpropFilterParams::new(&x, &[sizes.len()], &sizes, &dy, &a) else {
                return;
            };
            if p.nominal_flops() <= RUN_MAX
                && let (Some(x), Some(dy)) = (ones(&x), ones(&dy))
                && let Ok(y) = crate::kernels::conv3d_backprop_filter_v2_with_params(
                    &p,
                    x.view(),
                    dy.view(),
                    &ctx(),
                )
            {
                assert_eq!(y.shape(), p.output_shape().as_slice());
            }
        }
        3 => {
            let x = shape(&mut b);
            let axis = ints(&mut b);
            let keep = b.u8() & 1 == 1;
            let op = if b.u8() & 1 == 0 {
                ReduceOp::Sum
            } else {
                ReduceOp::Max
            };
            let Ok(p) = ReduceParams::new(&x, &axis, keep) else {
                return;
            };
            if let Some(x) = ones(&x)
                && let Ok(y) = crate::kernels::reduce_with_params(op, &p, x.view(), &ctx())
            {
                assert_eq!(y.shape(), p.output_shape.as_slice());
            }
        }
        _ => {
            let (x, y) = (shape(&mut b), shape(&mut b));
            let op = match b.u8() % 3 {
                0 => BinaryOp::AddV2,
                1 => BinaryOp::Sub,
                _ => BinaryOp::Mul,
            };
            let Ok(out) = crate::kernels::broadcast_shape(&x, &y) else {
                return;
            };
            // Small operands can broadcast to a large output: bound the work by the output.
            if small(&out).is_some()
                && let (Some(x), Some(y)) = (ones(&x), ones(&y))
                && let Ok(z) = crate::kernels::binary(op, x.view(), y.view(), &ctx())
            {
                assert_eq!(z.shape(), out.as_slice());
            }
        }
    }
}
