//! `Conv3DBackpropFilterV2`: the gradient of a 3-D convolution with respect to its filter.
//!
//! # Definition
//! ```text
//! df[kd, kh, kw, ic, oc] = Σ_{n, od, oh, ow} x[n, od·SD + kd·DD − PD, oh·SH + kh·DH − PH,
//!                                               ow·SW + kw·DW − PW, ic] · dy[n, od, oh, ow, oc]
//! ```
//! with `x` read as zero outside the input, and the padding `P` of TensorFlow's
//! `GetWindowedOutputSizeVerbose` (clamped at zero), exactly as the forward `Conv3D` and
//! [`conv3d_backprop_input_v2`](crate::conv3d_backprop_input_v2) use it, so the three are
//! adjoint.
//!
//! # Algorithm
//! With `P` = every output position `(n, od, oh, ow)` flattened, the transposed gradient is
//! one GEMM, `dfᵀ[oc, (tap, ic)] = Σ_p dy[p, oc] · col[p, (tap, ic)]`, where `col` is the
//! im2col matrix of `x` — never materialised: for a fixed `(kd, kh)` (and unit W dilation)
//! the columns `(kw, ic)` of one position are a contiguous run of `KW·IC` values of `x`
//! (NDHWC), so the register-blocked `MR × NV` microkernels of the crate (AVX-512, AVX2+FMA or
//! portable) read `x` and `dy` where they lie: a tile's rows are `MR` consecutive output
//! channels of `dy` (`lda = 1`), its columns `NV·L` consecutive values of such a run (`L` =
//! SIMD lanes), and each output position is one microkernel *tap* of length 1. Positions
//! whose `(kd, kh)` tap falls outside the input are skipped; the few whose run straddles the
//! W border are copied, zero-filled, into a small buffer. No packing, no transposition.
//!
//! Positions are taken in fixed chunks (1024 with AVX-512, 256 otherwise); a tile sums one
//! chunk in registers and is added into its accumulator. Chunks are grouped into fixed *spans*
//! (at least 2048 positions, more when
//! the output is large, so that all spans' partial sums stay within 8 MiB), each summed into
//! its own partial accumulators, which are added in span order at the end. Work is split over
//! (span × column block group × `oc` row group) tasks on rayon's global pool — blocks and rows
//! only when the spans cannot feed every thread, since each block group re-reads `dy` and
//! each row group re-reads `x` — so even a pointwise filter uses every thread. Chunk and span
//! sizes depend only on the problem, and every element is summed in the same order (span by
//! span, chunk by chunk, positions in order inside a chunk, border positions after the
//! others), so the result is identical for any thread count. Extra memory: the output, the
//! partial accumulators (the output padded to whole vectors, per span), small per-task lists;
//! NCDHW operands are first copied to NDHWC. Denormals are not
//! flushed to zero (TensorFlow flushes them). Unlike TensorFlow's im2col, taps outside the
//! input are skipped rather than multiplied by zero, so an infinite `dy` next to the padding
//! does not turn into NaN there.
//!
//! `3×3×3` filters at stride 1 without dilation and with at least 16 input and output
//! channels take the Winograd kernel instead (F(3, 2) per dimension, 3.375× fewer multiplies;
//! see `winograd.rs` and `docs/op-reference.md` for its exact error bound); it is also
//! thread-count independent, and a result with a non-finite element is recomputed by the
//! direct kernel.
//!
//! # Shapes
//! - `input`: `[N, D, H, W, IC]` (NDHWC) or `[N, IC, D, H, W]` (NCDHW).
//! - `filter_sizes`: a vector of 5 sizes, `[KD, KH, KW, IC, OC]`.
//! - `out_backprop`: `[N, OD, OH, OW, OC]` (NDHWC) or `[N, OC, OD, OH, OW]` (NCDHW).
//! - output: `[KD, KH, KW, IC, OC]` whatever the layout.

mod fast;
mod params;
pub mod reference;
mod winograd;
mod winograd_transform;

use ndarray::{ArrayD, ArrayView5, ArrayViewD, Ix5};

pub use params::Conv3dBackpropFilterParams;

use crate::conv3d_backprop_input::{Conv3dAttrs, to_ndhwc};
use crate::simd::Isa;
use crate::{Element, KernelContext, KernelError, KernelPath};

/// Computes TensorFlow's `Conv3DBackpropFilterV2`.
///
/// Validates exactly as TensorFlow's stock CPU kernel does (plus NCDHW and dilations, which we
/// support), refuses buffers beyond `ctx.limit`, and honours `ctx.cancel` between chunks.
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
/// use blockspace_kernels::{conv3d_backprop_filter_v2, Conv3dAttrs, KernelContext};
/// use ndarray::{arr1, ArrayD, IxDyn};
///
/// let x = ArrayD::<f32>::ones(IxDyn(&[1, 2, 2, 2, 1]));
/// let dy = ArrayD::<f32>::ones(IxDyn(&[1, 2, 2, 2, 1]));
/// let df = conv3d_backprop_filter_v2(
///     x.view(), arr1(&[2i64, 2, 2, 1, 1]).into_dyn().view(), dy.view(),
///     &Conv3dAttrs::default(), &KernelContext::default(),
/// )?;
/// assert_eq!(df.shape(), &[2, 2, 2, 1, 1]);
/// assert_eq!(df[[0, 0, 0, 0, 0]], 8.0); // tap (0, 0, 0) sees x at every position
/// assert_eq!(df[[1, 1, 1, 0, 0]], 1.0); // tap (1, 1, 1) only at position (0, 0, 0)
/// # Ok::<(), blockspace_kernels::KernelError>(())
/// ```
pub fn conv3d_backprop_filter_v2<T: Element>(
    input: ArrayViewD<'_, T>,
    filter_sizes: ArrayViewD<'_, i64>,
    out_backprop: ArrayViewD<'_, T>,
    attrs: &Conv3dAttrs,
    ctx: &KernelContext,
) -> Result<ArrayD<T>, KernelError> {
    let p = Conv3dBackpropFilterParams::from_operands(
        input.shape(),
        filter_sizes,
        out_backprop.shape(),
        attrs,
    )?;
    conv3d_backprop_filter_v2_with_params(&p, input, out_backprop, ctx)
}

/// Like [`conv3d_backprop_filter_v2`], for a problem already validated into `params`.
///
/// # Errors
/// [`KernelError::FilterOpInputRank`]/[`KernelError::OutBackpropRank`] if the operands do not
/// have the shapes `params` was built from, [`KernelError::TooLarge`],
/// [`KernelError::Cancelled`].
pub fn conv3d_backprop_filter_v2_with_params<T: Element>(
    params: &Conv3dBackpropFilterParams,
    input: ArrayViewD<'_, T>,
    out_backprop: ArrayViewD<'_, T>,
    ctx: &KernelContext,
) -> Result<ArrayD<T>, KernelError> {
    run(None, params, input, out_backprop, ctx)
}

/// Like [`conv3d_backprop_filter_v2_with_params`], on the microkernels of `path`; `Ok(None)`
/// when this CPU cannot run `path`. For tests and benchmarks that compare the paths.
///
/// # Errors
/// As [`conv3d_backprop_filter_v2_with_params`].
#[doc(hidden)]
pub fn conv3d_backprop_filter_v2_on_path<T: Element>(
    path: KernelPath,
    params: &Conv3dBackpropFilterParams,
    input: ArrayViewD<'_, T>,
    out_backprop: ArrayViewD<'_, T>,
    ctx: &KernelContext,
) -> Result<Option<ArrayD<T>>, KernelError> {
    let Some(isa) = Isa::new(path) else {
        return Ok(None);
    };
    run(Some(isa), params, input, out_backprop, ctx).map(Some)
}

/// `input` and `out_backprop` as NDHWC views of the shapes `p` describes.
pub(crate) fn operands<'a, T>(
    p: &Conv3dBackpropFilterParams,
    input: ArrayViewD<'a, T>,
    out_backprop: ArrayViewD<'a, T>,
) -> Result<(ArrayView5<'a, T>, ArrayView5<'a, T>), KernelError> {
    let x_shape = input.shape().to_vec();
    let x = input
        .into_dimensionality::<Ix5>()
        .ok()
        .map(|x| to_ndhwc(x, p.data_format))
        .filter(|x| x.shape() == p.input_ndhwc())
        .ok_or(KernelError::FilterOpInputRank { shape: x_shape })?;
    let dy_shape = out_backprop.shape().to_vec();
    let dy = out_backprop
        .into_dimensionality::<Ix5>()
        .ok()
        .map(|dy| to_ndhwc(dy, p.data_format))
        .filter(|dy| dy.shape() == p.out_backprop_ndhwc())
        .ok_or(KernelError::OutBackpropRank { shape: dy_shape })?;
    Ok((x, dy))
}

fn run<T: Element>(
    isa: Option<Isa>,
    p: &Conv3dBackpropFilterParams,
    input: ArrayViewD<'_, T>,
    out_backprop: ArrayViewD<'_, T>,
    ctx: &KernelContext,
) -> Result<ArrayD<T>, KernelError> {
    let size = std::mem::size_of::<T>() as u64;
    let _output = ctx.reserve_output("the output", p.output_len(), size)?;
    let (x, dy) = operands(p, input, out_backprop)?;
    ctx.check_cancelled()?;
    if x.is_empty() || dy.is_empty() {
        // Every sum is empty (zero batch, zero input channels or no output positions): zeros,
        // at once.
        return Ok(ArrayD::from_elem(p.output_shape(), T::ZERO));
    }
    let isa = isa.unwrap_or_else(|| Isa::best().for_width(p.oc, size as usize));
    if let Some(scheme) = winograd::worth_it(p)
        && let Some(df) = winograd::compute_on(scheme, isa, p, x.view(), dy.view(), ctx)?
    {
        return Ok(df.into_dyn());
    }
    Ok(fast::compute_on(isa, p, x, dy, ctx)?.into_dyn())
}

/// The Winograd kernel alone (see the module docs' algorithm section), on the microkernels of
/// `path`, whatever the channel counts: `Ok(None)` when this CPU cannot run `path`, the
/// problem has no Winograd scheme (a `3×3×3` filter at stride 1, no dilation), or the result
/// has a
/// non-finite element (where the production entry points run the direct kernel). For tests
/// that check its error bound.
///
/// # Errors
/// As [`conv3d_backprop_filter_v2_with_params`].
#[doc(hidden)]
pub fn conv3d_backprop_filter_v2_winograd<T: Element>(
    path: KernelPath,
    params: &Conv3dBackpropFilterParams,
    input: ArrayViewD<'_, T>,
    out_backprop: ArrayViewD<'_, T>,
    ctx: &KernelContext,
) -> Result<Option<ArrayD<T>>, KernelError> {
    let Some(isa) = Isa::new(path) else {
        return Ok(None);
    };
    let Some(scheme) = winograd::scheme(params) else {
        return Ok(None);
    };
    let (x, dy) = operands(params, input, out_backprop)?;
    if x.is_empty() || dy.is_empty() {
        return Ok(None);
    }
    Ok(winograd::compute_on(scheme, isa, params, x, dy, ctx)?.map(ndarray::ArrayBase::into_dyn))
}
