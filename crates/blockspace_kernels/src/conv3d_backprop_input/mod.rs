//! `Conv3DBackpropInputV2`: the gradient of a 3-D convolution with respect to its input.
//!
//! # Algorithm
//! The production kernel ([`conv3d_backprop_input_v2`]) is a *gather*: every output element
//! `dx[n, d, h, w, c]` is computed once, as a dot product over exactly the filter taps that
//! reach it (`kd` with `d + pad_before - kd·dilation` divisible by the stride and inside
//! `out_backprop`), times the `M` output channels. There is no zero-insertion (unlike Eigen's
//! inflated-stride path), no column buffer (unlike TensorFlow's GEMM + `Col2im`), no separate
//! zero-fill pass and no read-modify-write of the output.
//!
//! Stride-phase decomposition: in one output row `(n, d, h)`, the columns `w = rw + SW·j` of
//! one W phase `rw` see the same taps, and tap `kw` reads `out_backprop` column `j + const`; so
//! a run of consecutive `j` is a small GEMM `Σ_taps dy[j.., :M] · F_tap[:M, :C]` with
//! contiguous operands. The filter is packed once per call into per-tap `M × (NV·L)` panels
//! (zero-padded channel blocks, `L` = SIMD lanes), and register-blocked microkernels (AVX-512,
//! AVX2+FMA or portable, chosen at run time) keep an `MR × NV·L` tile of `dx` in registers over
//! all taps and all `M`, storing it once. The rows of one H stride phase that see the same
//! taps run as one flattened GEMM (their `out_backprop` rows are consecutive); the columns at
//! the W borders, where some taps fall outside `out_backprop`, are then recomputed with only
//! their valid taps, all rows of a run at once. A 1×1×1 filter with unit strides runs as one
//! GEMM over whole planes.
//!
//! Work is split over chunks of consecutive output rows `(n, d, h)`, which are disjoint
//! contiguous slices of the output, on rayon's global pool (small problems stay on the calling
//! thread); each element is summed in a fixed order (taps `kd, kh, kw`, then `m`), so the
//! result is identical for any thread count. Extra memory: the output, the packed filter, and
//! per thread a stage of about 128 KiB of output rows and a few small lists.
//! Error against the exact value is within `γ_{T·M} · Σ|F·dy|` (the accuracy bound of the op specification). Denormals are not
//! flushed to zero (TensorFlow flushes them), so results can differ from TensorFlow's where
//! inputs or partial sums are denormal.
//!
//! For `f64` operands whose filter is exactly two strides wide in every dimension (no
//! dilation, at least 32 channels each way), each stride phase is a 2-tap correlation and the
//! Winograd kernel (`winograd/`: `F(2×2×2, 2×2×2)`, 27 products per `2×2×2` output tile
//! instead of 64) runs instead; see its module docs for exactness and the fallback on
//! non-finite values.
//!
//! NCDHW operands are transposed to NDHWC on the way in and back on the way out.
//!
//! # Shapes
//! - `input_sizes`: a vector of 5 sizes in `data_format` order.
//! - `filter`: `[KD, KH, KW, C, M]` whatever the layout.
//! - `out_backprop`: `[N, OD, OH, OW, M]` (NDHWC) or `[N, M, OD, OH, OW]` (NCDHW).
//! - output: exactly `input_sizes`.

mod fast;
pub(crate) mod params;
pub mod reference;
mod unit_stride;
mod winograd;

use ndarray::{Array5, ArrayD, ArrayView5, ArrayViewD, Ix5};

pub use params::{
    Conv3dAttrs, Conv3dBackpropInputAttrs, Conv3dBackpropInputParams, DataFormat, Padding,
    WindowedOutput, windowed_output_size,
};
pub(crate) use params::{check_attrs, make_shape, nonzero_dims_fit, spatial_dims, work_is_empty};

use crate::simd::Isa;
use crate::{Element, KernelContext, KernelError, KernelPath, Reservation};

/// Computes TensorFlow's `Conv3DBackpropInputV2`.
///
/// Validates exactly as TensorFlow's stock CPU kernel does (plus NCDHW and dilations, which we
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
/// use blockspace_kernels::{conv3d_backprop_input_v2, Conv3dBackpropInputAttrs, KernelContext};
/// use ndarray::{arr1, ArrayD, IxDyn};
///
/// let input_sizes = arr1(&[1i64, 2, 2, 2, 1]).into_dyn();
/// let filter = ArrayD::<f32>::ones(IxDyn(&[2, 2, 2, 1, 1]));
/// let dy = ArrayD::<f32>::ones(IxDyn(&[1, 2, 2, 2, 1]));
/// let dx = conv3d_backprop_input_v2(
///     input_sizes.view(), filter.view(), dy.view(),
///     &Conv3dBackpropInputAttrs::default(), &KernelContext::default(),
/// )?;
/// assert_eq!(dx.shape(), &[1, 2, 2, 2, 1]);
/// assert_eq!(dx[[0, 1, 1, 1, 0]], 8.0); // every tap reaches the last element
/// # Ok::<(), blockspace_kernels::KernelError>(())
/// ```
pub fn conv3d_backprop_input_v2<T: Element>(
    input_sizes: ArrayViewD<'_, i64>,
    filter: ArrayViewD<'_, T>,
    out_backprop: ArrayViewD<'_, T>,
    attrs: &Conv3dBackpropInputAttrs,
    ctx: &KernelContext,
) -> Result<ArrayD<T>, KernelError> {
    let p = Conv3dBackpropInputParams::from_operands(
        input_sizes,
        filter.shape(),
        out_backprop.shape(),
        attrs,
    )?;
    conv3d_backprop_input_v2_with_params(&p, filter, out_backprop, ctx)
}

/// Like [`conv3d_backprop_input_v2`], for a problem already validated into `params`.
///
/// # Errors
/// [`KernelError::FilterRank`]/[`KernelError::OutBackpropRank`] if the operands do not have
/// the shapes `params` was built from, [`KernelError::TooLarge`], [`KernelError::Cancelled`].
pub fn conv3d_backprop_input_v2_with_params<T: Element>(
    params: &Conv3dBackpropInputParams,
    filter: ArrayViewD<'_, T>,
    out_backprop: ArrayViewD<'_, T>,
    ctx: &KernelContext,
) -> Result<ArrayD<T>, KernelError> {
    run(None, params, filter, out_backprop, ctx)
}

fn run<T: Element>(
    isa: Option<Isa>,
    params: &Conv3dBackpropInputParams,
    filter: ArrayViewD<'_, T>,
    out_backprop: ArrayViewD<'_, T>,
    ctx: &KernelContext,
) -> Result<ArrayD<T>, KernelError> {
    let p = params;
    let size = std::mem::size_of::<T>() as u64;
    let _output = ctx.reserve_output("the output", p.output_len(), size)?;
    let [kd, kh, kw] = p.kernel;
    let filter_shape = filter.shape().to_vec();
    let filter = filter
        .into_dimensionality::<Ix5>()
        .ok()
        .filter(|f| f.shape() == [kd, kh, kw, p.c, p.m])
        .ok_or(KernelError::FilterRank {
            shape: filter_shape,
        })?;
    let dy_shape = out_backprop.shape().to_vec();
    let dy = out_backprop
        .into_dimensionality::<Ix5>()
        .ok()
        .map(|dy| to_ndhwc(dy, p.data_format))
        .filter(|dy| dy.shape() == p.out_backprop_ndhwc())
        .ok_or(KernelError::OutBackpropRank { shape: dy_shape })?;
    let _copies = reserve_layout_copies(
        ctx,
        p.data_format,
        ("the NDHWC copy of out_backprop", dy.len() as u64),
        p.output_len(),
        size,
    )?;
    ctx.check_cancelled()?;
    if filter.is_empty() || dy.is_empty() {
        // Every sum is empty (M = 0, a zero-sized window or no output positions): zeros, at
        // once, instead of walking the window for each output row.
        return Ok(ArrayD::from_elem(p.output_shape(), T::ZERO));
    }
    let isa = isa.unwrap_or_else(|| Isa::best().for_width(p.c, std::mem::size_of::<T>()));
    let unit = match unit_stride::taps(p, std::mem::size_of::<T>()) {
        Some(r) => unit_stride::compute_on(isa, p, r, filter, dy, ctx)?,
        None => None,
    };
    let dx = if let Some(dx) = unit {
        dx
    } else if winograd::applies(p, std::mem::size_of::<T>())
        && winograd::values_fit(&filter)
        && winograd::values_fit(&dy)
    {
        winograd::compute_on(isa, p, filter, dy, ctx)?
    } else {
        fast::compute_on(isa, p, filter, dy, ctx)?
    };
    Ok(from_ndhwc(dx, p.data_format))
}

/// Like [`conv3d_backprop_input_v2_with_params`], on the microkernels of `path`; `Ok(None)`
/// when this CPU cannot run `path`. For tests and benchmarks that compare the paths.
///
/// # Errors
/// As [`conv3d_backprop_input_v2_with_params`].
#[doc(hidden)]
pub fn conv3d_backprop_input_v2_on_path<T: Element>(
    path: KernelPath,
    params: &Conv3dBackpropInputParams,
    filter: ArrayViewD<'_, T>,
    out_backprop: ArrayViewD<'_, T>,
    ctx: &KernelContext,
) -> Result<Option<ArrayD<T>>, KernelError> {
    let Some(isa) = Isa::new(path) else {
        return Ok(None);
    };
    run(Some(isa), params, filter, out_backprop, ctx).map(Some)
}

/// Views a tensor in `fmt` as NDHWC (no copy).
pub(crate) fn to_ndhwc<T>(a: ArrayView5<'_, T>, fmt: DataFormat) -> ArrayView5<'_, T> {
    match fmt {
        DataFormat::Ndhwc => a,
        DataFormat::Ncdhw => a.permuted_axes([0, 2, 3, 4, 1]),
    }
}

/// Reserves the copies a call in `fmt` makes besides its output: for NCDHW, its operand in
/// NDHWC (`operand`: name and elements) and its NDHWC result turned back into NCDHW
/// (`output_len` elements, by [`from_ndhwc`]); nothing for NDHWC.
///
/// # Errors
/// As [`KernelContext::reserve`].
pub(crate) fn reserve_layout_copies(
    ctx: &KernelContext,
    fmt: DataFormat,
    operand: (&'static str, u64),
    output_len: u64,
    size: u64,
) -> Result<[Reservation; 2], KernelError> {
    if fmt == DataFormat::Ndhwc {
        return Ok([Reservation::default(), Reservation::default()]);
    }
    Ok([
        ctx.reserve(operand.0, operand.1, size)?,
        ctx.reserve("the NCDHW copy of the output", output_len, size)?,
    ])
}

/// Turns an NDHWC result into a standard-layout tensor in `fmt`.
pub(crate) fn from_ndhwc<T: Element>(a: Array5<T>, fmt: DataFormat) -> ArrayD<T> {
    match fmt {
        DataFormat::Ndhwc => a.into_dyn(),
        DataFormat::Ncdhw => a
            .permuted_axes([0, 4, 1, 2, 3])
            .as_standard_layout()
            .into_owned()
            .into_dyn(),
    }
}
