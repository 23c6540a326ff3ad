//! `Conv3D`: TensorFlow's forward 3-D convolution.
//!
//! ```text
//! y[n, od, oh, ow, m] = Σ_{kd, kh, kw, c} x[n, od·SD - PD + kd·DD, oh·SH - PH + kh·DH,
//!                                           ow·SW - PW + kw·DW, c] · F[kd, kh, kw, c, m]
//! ```
//!
//! with input positions outside the input reading as zero, and the padding `P*` of
//! TensorFlow's `GetWindowedOutputSizeVerbose` (SAME: `max((out - 1)·s + k_eff - in, 0)` in
//! total, the odd one after; VALID: none). The padding is clamped at zero, the op's definition
//! (TensorFlow's Eigen CPU path shifts the window where SAME would need negative padding; its
//! oneDNN and GPU paths and both gradients do not), so [`conv3d`] is exactly the adjoint of
//! [`crate::conv3d_backprop_input_v2`].
//!
//! # Algorithm
//! The production kernel is a direct convolution on the register-blocked microkernels of the
//! gather kernel (`Conv3DBackpropInputV2`): one output row `(n, od, oh)` is a small GEMM per
//! run of columns, `Σ_taps x[ow.., C] · F_tap[C, M]`, where consecutive columns read input rows
//! `SW·C` apart. The filter is packed once per call into per-tap `C × (NV·L)` panels
//! (zero-padded output-channel blocks, `L` = SIMD lanes); interior columns run as `MR × NV·L`
//! tiles held in registers over all taps and all `C`, border columns run one by one with only
//! their valid taps. No im2col buffer, no padded copy of the input. A 1×1×1 filter with unit
//! strides runs as one GEMM over whole planes.
//!
//! Work is split over output rows on rayon's global pool (small problems stay on the calling
//! thread); each element is summed in a fixed order (taps `kd, kh, kw`, then `c`), so the
//! result is identical for any thread count. Denormals are not flushed to zero (TensorFlow
//! flushes them).
//!
//! NCDHW operands are transposed to NDHWC on the way in and back on the way out.
//!
//! # Shapes
//! - `input`: `[N, D, H, W, C]` (NDHWC) or `[N, C, D, H, W]` (NCDHW).
//! - `filter`: `[KD, KH, KW, C, M]` whatever the layout.
//! - output: `[N, OD, OH, OW, M]` (NDHWC) or `[N, M, OD, OH, OW]` (NCDHW).

mod fast;
mod params;
pub mod reference;
mod winograd;

use ndarray::{Array5, ArrayD, ArrayView5, ArrayViewD, Ix5};

pub use params::Conv3dParams;

use crate::conv3d_backprop_input::{Conv3dAttrs, from_ndhwc, reserve_layout_copies, to_ndhwc};
use crate::simd::Isa;
use crate::{Element, KernelContext, KernelError, KernelPath};

/// Computes TensorFlow's `Conv3D`.
///
/// Validates exactly as TensorFlow's CPU kernel does (plus NCDHW and dilations, which we
/// support), refuses buffers beyond `ctx.limit`, and honours `ctx.cancel` between rows.
///
/// # Shapes
/// See the [module docs](self).
///
/// # Errors
/// Every TensorFlow validation rule as a [`KernelError`] (TensorFlow's text), plus
/// [`KernelError::TooLarge`] and [`KernelError::Cancelled`].
///
/// # Example
/// ```
/// use blockspace_kernels::{conv3d, Conv3dAttrs, KernelContext, Padding};
/// use ndarray::{ArrayD, IxDyn};
///
/// // A 3x3x3 box filter, stride 2, SAME: 4^3 -> 2^3.
/// let attrs = Conv3dAttrs { strides: vec![1, 2, 2, 2, 1], padding: Padding::Same, ..Default::default() };
/// let y = conv3d(
///     ArrayD::<f32>::ones(IxDyn(&[1, 4, 4, 4, 1])).view(),
///     ArrayD::<f32>::ones(IxDyn(&[3, 3, 3, 1, 2])).view(),
///     &attrs,
///     &KernelContext::default(),
/// )?;
/// assert_eq!(y.shape(), &[1, 2, 2, 2, 2]);
/// // Total padding 1 per dimension, all of it after (the odd pixel goes to the end):
/// assert_eq!(y[[0, 0, 0, 0, 0]], 27.0); // inputs 0..3 along each dimension
/// assert_eq!(y[[0, 1, 1, 1, 1]], 8.0); // inputs 2..4, then padding
/// # Ok::<(), blockspace_kernels::KernelError>(())
/// ```
pub fn conv3d<T: Element>(
    input: ArrayViewD<'_, T>,
    filter: ArrayViewD<'_, T>,
    attrs: &Conv3dAttrs,
    ctx: &KernelContext,
) -> Result<ArrayD<T>, KernelError> {
    let p = Conv3dParams::new(input.shape(), filter.shape(), attrs)?;
    conv3d_with_params(&p, input, filter, ctx)
}

/// Like [`conv3d`], for a problem already validated into `params`.
///
/// # Errors
/// [`KernelError::Conv3dInputRank`]/[`KernelError::Conv3dFilterRank`] if the operands do not
/// have the shapes `params` was built from, [`KernelError::TooLarge`],
/// [`KernelError::Cancelled`].
pub fn conv3d_with_params<T: Element>(
    params: &Conv3dParams,
    input: ArrayViewD<'_, T>,
    filter: ArrayViewD<'_, T>,
    ctx: &KernelContext,
) -> Result<ArrayD<T>, KernelError> {
    run(None, params, input, filter, ctx)
}

/// Like [`conv3d_with_params`], on the microkernels of `path`; `Ok(None)` when this CPU
/// cannot run `path`. For tests and benchmarks that compare the paths.
///
/// # Errors
/// As [`conv3d_with_params`].
#[doc(hidden)]
pub fn conv3d_on_path<T: Element>(
    path: KernelPath,
    params: &Conv3dParams,
    input: ArrayViewD<'_, T>,
    filter: ArrayViewD<'_, T>,
    ctx: &KernelContext,
) -> Result<Option<ArrayD<T>>, KernelError> {
    let Some(isa) = Isa::new(path) else {
        return Ok(None);
    };
    run(Some(isa), params, input, filter, ctx).map(Some)
}

/// Checks that the operands have the shapes of `p` and views them as NDHWC / 5-D.
fn operands<'a, 'b, T>(
    p: &Conv3dParams,
    input: ArrayViewD<'a, T>,
    filter: ArrayViewD<'b, T>,
) -> Result<(ArrayView5<'a, T>, ArrayView5<'b, T>), KernelError> {
    let in_shape = input.shape().to_vec();
    let x = input
        .into_dimensionality::<Ix5>()
        .ok()
        .filter(|x| x.shape() == p.input_shape())
        .map(|x| to_ndhwc(x, p.data_format))
        .ok_or(KernelError::Conv3dInputRank { shape: in_shape })?;
    let f_shape = filter.shape().to_vec();
    let f = filter
        .into_dimensionality::<Ix5>()
        .ok()
        .filter(|f| f.shape() == p.filter_shape())
        .ok_or(KernelError::Conv3dFilterRank { shape: f_shape })?;
    Ok((x, f))
}

fn run<T: Element>(
    isa: Option<Isa>,
    p: &Conv3dParams,
    input: ArrayViewD<'_, T>,
    filter: ArrayViewD<'_, T>,
    ctx: &KernelContext,
) -> Result<ArrayD<T>, KernelError> {
    let size = std::mem::size_of::<T>() as u64;
    let (x, f) = operands(p, input, filter)?;
    if p.output_len() == 0 {
        return Ok(ArrayD::from_elem(p.output_shape(), T::ZERO));
    }
    if x.is_empty() || f.is_empty() {
        // Every sum is empty (zero input channels or a zero-sized window): zeros, at once.
        let _output = ctx.reserve_output("the output", p.output_len(), size)?;
        return Ok(ArrayD::from_elem(p.output_shape(), T::ZERO));
    }
    if p.ic != p.filter_ic {
        // Only reachable with hand-built params: validation refuses it.
        return Err(KernelError::GroupedConvolution {
            input: p.ic,
            filter: p.filter_ic,
        });
    }
    let _output = ctx.reserve_output("the output", p.output_len(), size)?;
    let _copies = reserve_layout_copies(
        ctx,
        p.data_format,
        ("the NDHWC copy of the input", x.len() as u64),
        p.output_len(),
        size,
    )?;
    ctx.check_cancelled()?;
    let isa = isa.unwrap_or_else(|| Isa::best().for_width(p.oc, size as usize));
    let winograd = match winograd::taps(p, size as usize) {
        Some(r) => winograd::compute_on(isa, p, r, x, f, ctx)?,
        None => None,
    };
    let y: Array5<T> = match winograd {
        Some(y) => y,
        None => fast::compute_on(isa, p, x, f, ctx)?,
    };
    Ok(from_ndhwc(y, p.data_format))
}
