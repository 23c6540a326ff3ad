//! The naive reference `Conv3D`, kept as a test oracle (the definition, loop by loop).
//!
//! Slow by design: every output element walks every filter tap. Use it to check the
//! production kernel, never in production.

use ndarray::{Array5, ArrayD, ArrayViewD};

use super::params::Conv3dParams;
use super::{Conv3dAttrs, operands};
use crate::conv3d_backprop_input::from_ndhwc;
use crate::{Element, KernelError};

/// `Conv3D` by the definition, with the same validation as the production kernel.
///
/// Sums in the order taps `(kd, kh, kw)` lexicographic, then `c`, in `T`, one multiply and
/// one add per term. Input positions outside the input read as zero (padding clamped at zero).
///
/// # Errors
/// The same [`KernelError`]s as [`super::conv3d`] (no memory limit).
pub fn conv3d<T: Element>(
    input: ArrayViewD<'_, T>,
    filter: ArrayViewD<'_, T>,
    attrs: &Conv3dAttrs,
) -> Result<ArrayD<T>, KernelError> {
    let p = Conv3dParams::new(input.shape(), filter.shape(), attrs)?;
    let (x, f) = operands(&p, input, filter)?;
    let mut y = Array5::<T>::from_elem(p.output_ndhwc(), T::ZERO);
    let idx = |o: usize, k: usize, dim: usize| -> Option<usize> {
        let i = (o * p.strides[dim] + k * p.dilations[dim]).checked_sub(p.pad_before[dim])?;
        (i < p.input_spatial[dim]).then_some(i)
    };
    let [kd_, kh_, kw_] = p.kernel;
    for ((n, od, oh, ow, m), out) in y.indexed_iter_mut() {
        let mut acc = T::ZERO;
        for kd in 0..kd_ {
            let Some(d) = idx(od, kd, 0) else { continue };
            for kh in 0..kh_ {
                let Some(h) = idx(oh, kh, 1) else { continue };
                for kw in 0..kw_ {
                    let Some(w) = idx(ow, kw, 2) else { continue };
                    for c in 0..p.filter_ic {
                        acc += x[[n, d, h, w, c]] * f[[kd, kh, kw, c, m]];
                    }
                }
            }
        }
        *out = acc;
    }
    Ok(from_ndhwc(y, p.data_format))
}
