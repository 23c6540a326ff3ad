//! Naive reference implementations, kept as test oracles (the defining formula, loop by loop).
//!
//! Slow by design: every output element walks every filter tap. Use them to check the
//! production kernel, never in production.

use ndarray::{ArrayD, ArrayView5, ArrayViewD, Ix5};

use super::params::{Conv3dBackpropInputParams, DataFormat, Padding};
use super::{Conv3dBackpropInputAttrs, from_ndhwc, to_ndhwc};
use crate::{Element, KernelError};

/// `Conv3DBackpropInputV2` by the definition, with the same validation as the production kernel.
///
/// Sums in the order taps `(kd, kh, kw)` lexicographic, then `m`, in `T`.
///
/// # Errors
/// The same [`KernelError`]s as [`super::conv3d_backprop_input_v2`] (no memory limit).
pub fn conv3d_backprop_input_v2<T: Element>(
    input_sizes: ArrayViewD<'_, i64>,
    filter: ArrayViewD<'_, T>,
    out_backprop: ArrayViewD<'_, T>,
    attrs: &Conv3dBackpropInputAttrs,
) -> Result<ArrayD<T>, KernelError> {
    let p = Conv3dBackpropInputParams::from_operands(
        input_sizes,
        filter.shape(),
        out_backprop.shape(),
        attrs,
    )?;
    let filter = as5(filter)?;
    let dy = to_ndhwc(as5(out_backprop)?, p.data_format);
    let [d_, h_, w_] = p.input_spatial;
    let mut dx = ndarray::Array5::<T>::from_elem((p.n, d_, h_, w_, p.c), T::ZERO);
    let [kd_, kh_, kw_] = p.kernel;
    for ((n, d, h, w, c), out) in dx.indexed_iter_mut() {
        let mut acc = T::ZERO;
        for kd in 0..kd_ {
            let Some(od) = tap(d, kd, 0, &p) else {
                continue;
            };
            for kh in 0..kh_ {
                let Some(oh) = tap(h, kh, 1, &p) else {
                    continue;
                };
                for kw in 0..kw_ {
                    let Some(ow) = tap(w, kw, 2, &p) else {
                        continue;
                    };
                    for m in 0..p.m {
                        acc += filter[[kd, kh, kw, c, m]] * dy[[n, od, oh, ow, m]];
                    }
                }
            }
        }
        *out = acc;
    }
    Ok(from_ndhwc(dx, p.data_format))
}

/// The `out_backprop` index that output index `i` reads through tap `k` along spatial dim `dim`.
fn tap(i: usize, k: usize, dim: usize, p: &Conv3dBackpropInputParams) -> Option<usize> {
    let num = (i + p.pad_before[dim]).checked_sub(k * p.dilations[dim])?;
    if num % p.strides[dim] != 0 {
        return None;
    }
    let o = num / p.strides[dim];
    (o < p.out_spatial[dim]).then_some(o)
}

fn as5<T>(a: ArrayViewD<'_, T>) -> Result<ArrayView5<'_, T>, KernelError> {
    let shape = a.shape().to_vec();
    a.into_dimensionality::<Ix5>()
        .map_err(|_| KernelError::FilterRank { shape })
}

/// Forward `Conv3D` by the definition, for adjoint tests: [`crate::conv3d::reference::conv3d`]
/// with the attributes given one by one.
///
/// # Errors
/// As [`crate::conv3d::reference::conv3d`].
pub fn conv3d<T: Element>(
    x: ArrayViewD<'_, T>,
    filter: ArrayViewD<'_, T>,
    strides: &[i64],
    padding: Padding,
    data_format: DataFormat,
    dilations: &[i64],
) -> Result<ArrayD<T>, KernelError> {
    let attrs = Conv3dBackpropInputAttrs {
        strides: strides.to_vec(),
        padding,
        data_format,
        dilations: dilations.to_vec(),
    };
    crate::conv3d::reference::conv3d(x, filter, &attrs)
}
