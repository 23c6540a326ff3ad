//! Naive reference implementation of `Conv3DBackpropFilterV2`, kept as a test oracle (the
//! definition in the [module docs](super), loop by loop).
//!
//! Slow by design: every output element walks every output position. Use it to check the
//! production kernel, never in production.

use ndarray::{Array5, ArrayD, ArrayViewD};

use super::params::Conv3dBackpropFilterParams;
use crate::conv3d_backprop_input::Conv3dAttrs;
use crate::{Element, KernelError};

/// `Conv3DBackpropFilterV2` by the definition, with the same validation as the production
/// kernel.
///
/// Sums in the order positions `(n, od, oh, ow)` lexicographic, in `T`, skipping positions
/// where the tap falls outside the input.
///
/// # Errors
/// The same [`KernelError`]s as [`super::conv3d_backprop_filter_v2`] (no memory limit).
pub fn conv3d_backprop_filter_v2<T: Element>(
    input: ArrayViewD<'_, T>,
    filter_sizes: ArrayViewD<'_, i64>,
    out_backprop: ArrayViewD<'_, T>,
    attrs: &Conv3dAttrs,
) -> Result<ArrayD<T>, KernelError> {
    let p = Conv3dBackpropFilterParams::from_operands(
        input.shape(),
        filter_sizes,
        out_backprop.shape(),
        attrs,
    )?;
    let (x, dy) = super::operands(&p, input, out_backprop)?;
    let [kd_, kh_, kw_] = p.kernel;
    let [od_, oh_, ow_] = p.out_spatial;
    let mut df = Array5::<T>::from_elem((kd_, kh_, kw_, p.ic, p.oc), T::ZERO);
    for ((kd, kh, kw, ic, oc), out) in df.indexed_iter_mut() {
        let mut acc = T::ZERO;
        for n in 0..p.n {
            for od in 0..od_ {
                let Some(d) = at(od, kd, 0, &p) else {
                    continue;
                };
                for oh in 0..oh_ {
                    let Some(h) = at(oh, kh, 1, &p) else {
                        continue;
                    };
                    for ow in 0..ow_ {
                        let Some(w) = at(ow, kw, 2, &p) else {
                            continue;
                        };
                        acc += x[[n, d, h, w, ic]] * dy[[n, od, oh, ow, oc]];
                    }
                }
            }
        }
        *out = acc;
    }
    Ok(df.into_dyn())
}

/// The input index that output index `o` reads through tap `k` along spatial dim `dim`.
fn at(o: usize, k: usize, dim: usize, p: &Conv3dBackpropFilterParams) -> Option<usize> {
    let i = (o * p.strides[dim] + k * p.dilations[dim]).checked_sub(p.pad_before[dim])?;
    (i < p.input_spatial[dim]).then_some(i)
}
