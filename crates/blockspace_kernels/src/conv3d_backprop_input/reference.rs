//! Naive reference implementations, kept as test oracles (the op-spec §4 formula, loop by loop).
//!
//! Slow by design: every output element walks every filter tap. Use them to check the
//! production kernel, never in production.

use ndarray::{ArrayD, ArrayView5, ArrayViewD, Ix5};

use super::params::{Conv3dBackpropInputParams, DataFormat, Padding, windowed_output_size};
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

/// Forward `Conv3D` by the definition (op-spec §4), for adjoint tests.
///
/// `x` is in `data_format` order, `filter` is `[KD, KH, KW, C, M]`; `strides` and `dilations`
/// are the 5-entry attributes. Out-of-range input positions read as zero.
///
/// # Errors
/// Wrong ranks, or the padding arithmetic's errors.
pub fn conv3d<T: Element>(
    x: ArrayViewD<'_, T>,
    filter: ArrayViewD<'_, T>,
    strides: &[i64],
    padding: Padding,
    data_format: DataFormat,
    dilations: &[i64],
) -> Result<ArrayD<T>, KernelError> {
    let shape = x.shape().to_vec();
    let x = to_ndhwc(
        x.into_dimensionality::<Ix5>()
            .map_err(|_| KernelError::InputRank { rank: shape.len() })?,
        data_format,
    );
    let filter = as5(filter)?;
    let (xs, fs) = (x.shape().to_vec(), filter.shape().to_vec());
    if xs[4] != fs[3] {
        return Err(KernelError::InputChannelMismatch {
            input: i64::try_from(xs[4]).unwrap_or(i64::MAX),
            filter: fs[3],
        });
    }
    let mut out = [0usize; 3];
    let mut pad = [0i64; 3];
    let mut st = [0i64; 3];
    let mut dil = [0i64; 3];
    for i in 0..3 {
        let t = data_format.spatial_dim(i);
        let (s, d) = (
            strides.get(t).copied().unwrap_or(1),
            dilations.get(t).copied().unwrap_or(1),
        );
        let to = |v: usize| i64::try_from(v).unwrap_or(i64::MAX);
        let win = windowed_output_size(to(xs[1 + i]), to(fs[i]), d, s, padding)?;
        out[i] = usize::try_from(win.output).unwrap_or(0);
        pad[i] = win.pad_before;
        st[i] = s;
        dil[i] = d;
    }
    let (c_, m_) = (fs[3], fs[4]);
    let mut y = ndarray::Array5::<T>::from_elem((xs[0], out[0], out[1], out[2], m_), T::ZERO);
    let idx = |o: usize, k: usize, i: usize, size: usize| -> Option<usize> {
        let o = i64::try_from(o).ok()?;
        let k = i64::try_from(k).ok()?;
        let v = o * st[i] - pad[i] + k * dil[i];
        usize::try_from(v).ok().filter(|&v| v < size)
    };
    for ((n, od, oh, ow, m), out) in y.indexed_iter_mut() {
        let mut acc = T::ZERO;
        for kd in 0..fs[0] {
            let Some(d) = idx(od, kd, 0, xs[1]) else {
                continue;
            };
            for kh in 0..fs[1] {
                let Some(h) = idx(oh, kh, 1, xs[2]) else {
                    continue;
                };
                for kw in 0..fs[2] {
                    let Some(w) = idx(ow, kw, 2, xs[3]) else {
                        continue;
                    };
                    for c in 0..c_ {
                        acc += x[[n, d, h, w, c]] * filter[[kd, kh, kw, c, m]];
                    }
                }
            }
        }
        *out = acc;
    }
    Ok(from_ndhwc(y, data_format))
}
