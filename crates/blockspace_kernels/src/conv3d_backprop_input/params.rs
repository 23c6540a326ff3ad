//! Attributes, validation in TensorFlow's order, and the padding arithmetic.

use std::fmt;
use std::str::FromStr;

use crate::KernelError;

/// Padding scheme of the forward convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Padding {
    /// Output size `ceil(I / S)`, zero padding split evenly (the odd pixel after).
    #[default]
    Same,
    /// No padding: output size `(I - E + S) / S`, truncating.
    Valid,
}

impl Padding {
    /// TensorFlow's spelling: `"SAME"` or `"VALID"`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Same => "SAME",
            Self::Valid => "VALID",
        }
    }
}

impl fmt::Display for Padding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Padding {
    type Err = KernelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "SAME" => Ok(Self::Same),
            "VALID" => Ok(Self::Valid),
            other => Err(KernelError::InvalidPadding {
                value: other.to_owned(),
            }),
        }
    }
}

/// Memory layout of `input_sizes`, `out_backprop` and the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DataFormat {
    /// `[batch, depth, height, width, channels]`.
    #[default]
    Ndhwc,
    /// `[batch, channels, depth, height, width]`.
    Ncdhw,
}

impl DataFormat {
    /// TensorFlow's spelling: `"NDHWC"` or `"NCDHW"`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ndhwc => "NDHWC",
            Self::Ncdhw => "NCDHW",
        }
    }

    /// Index of the channel dimension in a 5-D shape of this layout.
    #[must_use]
    pub fn channel_dim(self) -> usize {
        match self {
            Self::Ndhwc => 4,
            Self::Ncdhw => 1,
        }
    }

    /// Index of spatial dimension `i` (0 = depth, 1 = height, 2 = width) in this layout.
    #[must_use]
    pub fn spatial_dim(self, i: usize) -> usize {
        match self {
            Self::Ndhwc => 1 + i,
            Self::Ncdhw => 2 + i,
        }
    }

    /// Builds a 5-D shape in this layout from `[N, D, H, W, C]`.
    #[must_use]
    pub fn shape_from_ndhwc(self, [n, d, h, w, c]: [usize; 5]) -> [usize; 5] {
        match self {
            Self::Ndhwc => [n, d, h, w, c],
            Self::Ncdhw => [n, c, d, h, w],
        }
    }
}

impl fmt::Display for DataFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DataFormat {
    type Err = KernelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "NDHWC" => Ok(Self::Ndhwc),
            "NCDHW" => Ok(Self::Ncdhw),
            other => Err(KernelError::InvalidDataFormat {
                value: other.to_owned(),
            }),
        }
    }
}

/// The attributes of TensorFlow's 3-D convolution ops (`Conv3D`, `Conv3DBackpropInputV2`,
/// `Conv3DBackpropFilterV2`), as TensorFlow names them. Lists are in `data_format` order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Conv3dAttrs {
    /// Window strides; exactly 5, with 1 in the batch and channel entries.
    pub strides: Vec<i64>,
    /// `SAME` or `VALID`.
    pub padding: Padding,
    /// Layout of the activations (`input`, `out_backprop`, the output; not the filter).
    pub data_format: DataFormat,
    /// Filter dilations; exactly 5, with 1 in the batch and channel entries.
    pub dilations: Vec<i64>,
}

/// The attributes of `Conv3DBackpropInputV2`: the same as [`Conv3dAttrs`].
pub type Conv3dBackpropInputAttrs = Conv3dAttrs;

impl Default for Conv3dAttrs {
    fn default() -> Self {
        Self {
            strides: vec![1; 5],
            padding: Padding::Same,
            data_format: DataFormat::Ndhwc,
            dilations: vec![1; 5],
        }
    }
}

/// Output size and padding of one spatial dimension (`GetWindowedOutputSizeVerbose`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowedOutput {
    /// Output size of the forward convolution.
    pub output: i64,
    /// Zero padding before the first element.
    pub pad_before: i64,
    /// Zero padding after the last element.
    pub pad_after: i64,
}

/// TensorFlow's `GetWindowedOutputSizeVerbose`, with checked 64-bit arithmetic.
///
/// # Errors
/// A stride below 1, a dilation below 1, a negative output size, or overflow.
pub fn windowed_output_size(
    input: i64,
    filter: i64,
    dilation: i64,
    stride: i64,
    padding: Padding,
) -> Result<WindowedOutput, KernelError> {
    if stride <= 0 {
        return Err(KernelError::StrideNotPositive { stride });
    }
    if dilation < 1 {
        return Err(KernelError::DilationNotPositive { dilation });
    }
    let overflow = |what| KernelError::Overflow { what };
    let effective = effective_filter_size(filter, dilation)?;
    let (output, pad_before, pad_after) = match padding {
        Padding::Valid => {
            let out = input
                .checked_sub(effective)
                .and_then(|v| v.checked_add(stride))
                .ok_or(overflow("the VALID output size"))?
                / stride;
            (out, 0, 0)
        }
        Padding::Same => {
            let out = input
                .checked_add(stride - 1)
                .ok_or(overflow("the SAME output size"))?
                / stride;
            let needed = (out - 1)
                .checked_mul(stride)
                .and_then(|v| v.checked_add(effective))
                .and_then(|v| v.checked_sub(input))
                .ok_or(overflow("the SAME padding"))?
                .max(0);
            let before = needed / 2;
            (out, before, needed - before)
        }
    };
    if output < 0 {
        return Err(KernelError::NegativeOutputSize {
            output,
            input_size: input,
            effective_filter_size: effective,
            stride,
        });
    }
    Ok(WindowedOutput {
        output,
        pad_before,
        pad_after,
    })
}

fn effective_filter_size(filter: i64, dilation: i64) -> Result<i64, KernelError> {
    (filter - 1)
        .checked_mul(dilation)
        .and_then(|v| v.checked_add(1))
        .ok_or(KernelError::Overflow {
            what: "the dilated filter size",
        })
}

/// Whether the non-zero entries of `dims` multiply to at most `isize::MAX` (what ndarray needs
/// to describe a shape; TensorFlow lets a 0 absorb any product).
pub(crate) fn nonzero_dims_fit(dims: &[usize]) -> bool {
    dims.iter()
        .filter(|&&v| v != 0)
        .try_fold(1usize, |acc, &v| acc.checked_mul(v))
        .is_some_and(|v| isize::try_from(v).is_ok())
}

/// A validated problem: every size in NDHWC terms, ready for a kernel.
///
/// Built only by [`Conv3dBackpropInputParams::new`], which applies every TensorFlow rule.
///
/// # Shapes
/// - output (`input_sizes`): `[N, D, H, W, C]` (NDHWC) or `[N, C, D, H, W]` (NCDHW)
/// - `filter`: `[KD, KH, KW, C, M]` in both layouts
/// - `out_backprop`: `[N, OD, OH, OW, M]` (NDHWC) or `[N, M, OD, OH, OW]` (NCDHW)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conv3dBackpropInputParams {
    /// Batch size.
    pub n: usize,
    /// Output spatial size `[D, H, W]`.
    pub input_spatial: [usize; 3],
    /// Input channels `C`.
    pub c: usize,
    /// Filter spatial size `[KD, KH, KW]`.
    pub kernel: [usize; 3],
    /// Output channels `M`.
    pub m: usize,
    /// `out_backprop` spatial size `[OD, OH, OW]`.
    pub out_spatial: [usize; 3],
    /// Spatial strides.
    pub strides: [usize; 3],
    /// Spatial dilations.
    pub dilations: [usize; 3],
    /// Padding before each spatial dimension.
    pub pad_before: [usize; 3],
    /// Layout of the operands and the output.
    pub data_format: DataFormat,
}

/// The label TensorFlow's `ConvBackpropComputeDimensionsV2` puts before its errors here.
const OP: &str = "Conv3DBackpropInputOp";

/// Largest rank TensorFlow's `TensorShape` allows.
const MAX_DIMS: usize = 254;

/// The attribute checks every 3-D convolution kernel makes before it looks at a tensor, in
/// TensorFlow's order: the op definition's `strides` minimum length, then the kernel
/// constructor's dilation and stride rules (`data_format`'s channel entry is the "depth" one).
///
/// # Errors
/// The first rule that fails.
pub(crate) fn check_attrs(attrs: &Conv3dAttrs) -> Result<(), KernelError> {
    let cdim = attrs.data_format.channel_dim();
    // Op definition.
    if attrs.strides.len() < 5 {
        return Err(KernelError::StridesTooShort {
            len: attrs.strides.len(),
        });
    }
    // Kernel construction.
    if attrs.dilations.len() != 5 {
        return Err(KernelError::DilationsLength {
            len: attrs.dilations.len(),
        });
    }
    if attrs.dilations[0] != 1 || attrs.dilations[cdim] != 1 {
        return Err(KernelError::DilationInBatchOrChannel {
            dilations: attrs.dilations.clone(),
        });
    }
    if (0..3).any(|i| attrs.dilations[attrs.data_format.spatial_dim(i)] < 1) {
        return Err(KernelError::GradientDilationNotPositive {
            dilations: attrs.dilations.clone(),
        });
    }
    if attrs.strides.len() != 5 {
        return Err(KernelError::StridesLength {
            len: attrs.strides.len(),
        });
    }
    if attrs.strides[0] != 1 || attrs.strides[cdim] != 1 {
        return Err(KernelError::StrideInBatchOrChannel {
            strides: attrs.strides.clone(),
        });
    }
    Ok(())
}

/// TensorFlow's `TensorShapeUtils::MakeShape` on a vector of sizes: at most 254 entries, none
/// negative, and a product within `2^63 - 1` (a 0 absorbs everything after it).
///
/// # Errors
/// [`KernelError::TooManyDimensions`], [`KernelError::NegativeDimension`] or
/// [`KernelError::ShapeOverflow`], as TensorFlow checks them.
pub(crate) fn make_shape(sizes: &[i64]) -> Result<(), KernelError> {
    if sizes.len() > MAX_DIMS {
        return Err(KernelError::TooManyDimensions { len: sizes.len() });
    }
    let mut elements: i64 = 1;
    for &dim in sizes {
        if dim < 0 {
            return Err(KernelError::NegativeDimension { value: dim });
        }
        // MultiplyWithoutOverflow: 0 absorbs everything after it.
        elements = if elements == 0 {
            0
        } else {
            elements
                .checked_mul(dim)
                .ok_or_else(|| KernelError::ShapeOverflow {
                    dims: sizes.to_vec(),
                })?
        };
    }
    Ok(())
}

/// The spatial part of a validated problem, in `[D, H, W]` order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SpatialDims {
    /// Input (activation) sizes.
    pub(crate) input: [usize; 3],
    /// `out_backprop` sizes.
    pub(crate) out: [usize; 3],
    /// Strides.
    pub(crate) strides: [usize; 3],
    /// Dilations.
    pub(crate) dilations: [usize; 3],
    /// Padding before the first element.
    pub(crate) pad_before: [usize; 3],
}

/// The per-dimension loop of TensorFlow's `ConvBackpropComputeDimensionsV2`
/// (`ConvBackpropExtractAndVerifyDimension`): the windowed output size of each spatial
/// dimension, which `out_backprop` must match. `input` and `dy` are in `data_format` order,
/// `kernel` is `[KD, KH, KW]`; `op` labels the size-mismatch error as TensorFlow does.
///
/// # Errors
/// The padding arithmetic's errors, then [`KernelError::OutBackpropSizeMismatch`].
pub(crate) fn spatial_dims(
    op: &'static str,
    input: [i64; 5],
    kernel: [i64; 3],
    dy: [usize; 5],
    attrs: &Conv3dAttrs,
) -> Result<SpatialDims, KernelError> {
    let fmt = attrs.data_format;
    let mut sp = SpatialDims {
        input: [0; 3],
        out: [0; 3],
        strides: [0; 3],
        dilations: [0; 3],
        pad_before: [0; 3],
    };
    for (i, &k) in kernel.iter().enumerate() {
        let t = fmt.spatial_dim(i);
        let (in_size, stride, dilation) = (input[t], attrs.strides[t], attrs.dilations[t]);
        let win = windowed_output_size(in_size, k, dilation, stride, attrs.padding)?;
        if i64::try_from(dy[t]).ok() != Some(win.output) {
            return Err(KernelError::OutBackpropSizeMismatch {
                op,
                actual: dy[t],
                computed: win.output,
                spatial_dim: i + 1,
                input: in_size,
                filter: effective_filter_size(k, dilation)?,
                stride,
                dilation: 1,
            });
        }
        let conv = |v: i64| {
            usize::try_from(v).map_err(|_| KernelError::Overflow {
                what: "a spatial size",
            })
        };
        sp.pad_before[i] = conv(win.pad_before)?;
        sp.strides[i] = conv(stride)?;
        sp.dilations[i] = conv(dilation)?;
        sp.input[i] = conv(in_size)?;
        sp.out[i] = dy[t];
    }
    Ok(sp)
}

/// TensorFlow's `work_unit_size` (CVE-2021-29522 fix) is zero: `OV·KV·C + OV·M + KV·C·M`
/// with `OV` the output volume and `KV` the filter volume.
pub(crate) fn work_is_empty(out: [usize; 3], kernel: [usize; 3], c: usize, m: usize) -> bool {
    let u = |v: usize| v as u128;
    let out_vol = u(out[0]) * u(out[1]) * u(out[2]);
    let k_vol = u(kernel[0]) * u(kernel[1]) * u(kernel[2]);
    out_vol * u(m) + k_vol * u(c) * u(m) + out_vol * k_vol * u(c) == 0
}

impl Conv3dBackpropInputParams {
    /// Validates a problem with every rule of TensorFlow's stock CPU kernel, in its order.
    ///
    /// `input_sizes_shape` is the shape of the `input_sizes` operand and `input_sizes` its
    /// values (int32 operands widened to `i64`). Our extensions over the stock kernel:
    /// `NCDHW` and spatial dilations above 1 are accepted.
    ///
    /// # Errors
    /// The first rule that fails, as a [`KernelError`] whose text is TensorFlow's.
    pub fn new(
        input_sizes_shape: &[usize],
        input_sizes: &[i64],
        filter_shape: &[usize],
        out_backprop_shape: &[usize],
        attrs: &Conv3dAttrs,
    ) -> Result<Self, KernelError> {
        let fmt = attrs.data_format;
        let cdim = fmt.channel_dim();
        check_attrs(attrs)?;
        // Compute: input_sizes -> shape (tensor::MakeShape).
        if input_sizes_shape.len() != 1 {
            return Err(KernelError::InputSizesNotVector {
                shape: input_sizes_shape.to_vec(),
            });
        }
        make_shape(input_sizes)?;
        let input: [i64; 5] = input_sizes.try_into().map_err(|_| KernelError::InputRank {
            rank: input_sizes.len(),
        })?;
        let filter: [usize; 5] = filter_shape
            .try_into()
            .map_err(|_| KernelError::FilterRank {
                shape: filter_shape.to_vec(),
            })?;
        let dy: [usize; 5] =
            out_backprop_shape
                .try_into()
                .map_err(|_| KernelError::OutBackpropRank {
                    shape: out_backprop_shape.to_vec(),
                })?;
        if i64::try_from(filter[3]).ok() != Some(input[cdim]) {
            return Err(KernelError::InputChannelMismatch {
                input: input[cdim],
                filter: filter[3],
            });
        }
        if dy[cdim] != filter[4] {
            return Err(KernelError::OutputChannelMismatch {
                out_backprop: dy[cdim],
                filter: filter[4],
            });
        }
        // ConvBackpropComputeDimensionsV2.
        if i64::try_from(dy[0]).ok() != Some(input[0]) {
            return Err(KernelError::BatchMismatch {
                op: OP,
                input: input[0],
                out_backprop: dy[0],
            });
        }
        if filter[3] == 0 {
            return Err(KernelError::FilterDepthZero);
        }
        let to_i64 = |v: usize| {
            i64::try_from(v).map_err(|_| KernelError::Overflow {
                what: "a tensor dimension",
            })
        };
        let kernel = [to_i64(filter[0])?, to_i64(filter[1])?, to_i64(filter[2])?];
        let sp = spatial_dims(OP, input, kernel, dy, attrs)?;
        let params = Self {
            n: dy[0],
            input_spatial: sp.input,
            c: filter[3],
            kernel: [filter[0], filter[1], filter[2]],
            m: filter[4],
            out_spatial: sp.out,
            strides: sp.strides,
            dilations: sp.dilations,
            pad_before: sp.pad_before,
            data_format: fmt,
        };
        // Rule 20 (CVE-2021-29522): work_unit_size must be positive.
        if work_is_empty(sp.out, params.kernel, params.c, params.m) {
            return Err(KernelError::EmptyWork);
        }
        // TensorFlow accepts e.g. [0, 2^62, 2^62, 1, 1] (the 0 absorbs the product), but an
        // ndarray cannot even describe it: its non-zero dimensions must multiply within isize.
        let [d, h, w] = params.input_spatial;
        if !nonzero_dims_fit(&[params.n, d, h, w, params.c]) {
            return Err(KernelError::Overflow {
                what: "the output shape (its non-zero dimensions multiply past isize::MAX)",
            });
        }
        Ok(params)
    }

    /// [`Conv3dBackpropInputParams::new`] for an `input_sizes` operand given as an array
    /// (any rank: a non-vector is refused with TensorFlow's error).
    ///
    /// # Errors
    /// As [`Conv3dBackpropInputParams::new`].
    pub fn from_operands(
        input_sizes: ndarray::ArrayViewD<'_, i64>,
        filter_shape: &[usize],
        out_backprop_shape: &[usize],
        attrs: &Conv3dAttrs,
    ) -> Result<Self, KernelError> {
        let values: Vec<i64> = input_sizes.iter().copied().collect();
        Self::new(
            input_sizes.shape(),
            &values,
            filter_shape,
            out_backprop_shape,
            attrs,
        )
    }

    /// The output shape, in `data_format` order (equal to `input_sizes`).
    #[must_use]
    pub fn output_shape(&self) -> Vec<usize> {
        let [d, h, w] = self.input_spatial;
        self.data_format
            .shape_from_ndhwc([self.n, d, h, w, self.c])
            .to_vec()
    }

    /// `out_backprop`'s shape in NDHWC order.
    #[must_use]
    pub fn out_backprop_ndhwc(&self) -> [usize; 5] {
        let [od, oh, ow] = self.out_spatial;
        [self.n, od, oh, ow, self.m]
    }

    /// Number of output elements (fits: checked by validation against `2^63 - 1`).
    #[must_use]
    pub fn output_len(&self) -> u64 {
        let [d, h, w] = self.input_spatial;
        [self.n, d, h, w, self.c]
            .iter()
            .fold(1u64, |acc, &v| acc.saturating_mul(v as u64))
    }

    /// Nominal multiply-adds ×2 (`2·N·OD·OH·OW·KD·KH·KW·C·M`), as benchmarks count FLOPs.
    #[must_use]
    pub fn nominal_flops(&self) -> f64 {
        let [od, oh, ow] = self.out_spatial;
        let [kd, kh, kw] = self.kernel;
        [self.n, od, oh, ow, kd, kh, kw, self.c, self.m]
            .iter()
            .fold(2.0, |acc, &v| acc * v as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same(i: i64, k: i64, s: i64) -> WindowedOutput {
        windowed_output_size(i, k, 1, s, Padding::Same).unwrap()
    }

    #[test]
    fn worked_examples_from_the_spec() {
        // The worked padding examples of the op specification.
        assert_eq!(
            same(7, 2, 3),
            WindowedOutput {
                output: 3,
                pad_before: 0,
                pad_after: 1
            },
            "in 7 k 2 s 3"
        );
        assert_eq!(
            same(7, 3, 1),
            WindowedOutput {
                output: 7,
                pad_before: 1,
                pad_after: 1
            },
            "in 7 k 3 s 1"
        );
        assert_eq!(
            same(8, 2, 3),
            WindowedOutput {
                output: 3,
                pad_before: 0,
                pad_after: 0
            },
            "in 8 k 2 s 3"
        );
        assert_eq!(
            same(6, 1, 2),
            WindowedOutput {
                output: 3,
                pad_before: 0,
                pad_after: 0
            },
            "in 6 k 1 s 2"
        );
    }

    #[test]
    fn valid_truncates_toward_zero() {
        let w = windowed_output_size(1, 4, 1, 2, Padding::Valid).unwrap();
        assert_eq!(w.output, 0, "(1-4+2)/2 truncates to 0");
        let w = windowed_output_size(2, 5, 1, 2, Padding::Valid).unwrap();
        assert_eq!(w.output, 0, "(2-5+2)/2 truncates to 0");
        let err = windowed_output_size(2, 5, 1, 1, Padding::Valid).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Computed output size would be negative: -2 [input_size: 2, effective_filter_size: 5, stride: 1]"
        );
    }

    #[test]
    fn dilation_and_zero_filter() {
        let w = windowed_output_size(7, 3, 2, 1, Padding::Same).unwrap();
        assert_eq!(
            (w.output, w.pad_before, w.pad_after),
            (7, 2, 2),
            "effective size 5"
        );
        let w = windowed_output_size(8, 0, 1, 2, Padding::Same).unwrap();
        assert_eq!(w.output, 4, "a zero-sized filter is accepted");
        assert_eq!(
            windowed_output_size(4, 2, 0, 1, Padding::Same)
                .unwrap_err()
                .to_string(),
            "Dilation rate must be >= 1, but got 0"
        );
        assert_eq!(
            windowed_output_size(4, 2, 1, -1, Padding::Same)
                .unwrap_err()
                .to_string(),
            "Stride must be > 0, but got -1"
        );
    }

    #[test]
    fn overflow_is_an_error_not_a_panic() {
        let err = windowed_output_size(i64::MAX, 1, 1, i64::MAX, Padding::Same).unwrap_err();
        assert!(matches!(err, KernelError::Overflow { .. }), "{err}");
        let err = windowed_output_size(4, i64::MAX, i64::MAX, 1, Padding::Valid).unwrap_err();
        assert!(matches!(err, KernelError::Overflow { .. }), "{err}");
    }

    #[test]
    fn string_attrs_parse_with_tf_errors() {
        assert_eq!("SAME".parse::<Padding>().unwrap(), Padding::Same);
        assert_eq!(
            "EXPLICIT".parse::<Padding>().unwrap_err().to_string(),
            "Value for attr 'padding' of \"EXPLICIT\" is not in the list of allowed values: \"SAME\", \"VALID\""
        );
        assert_eq!("NCDHW".parse::<DataFormat>().unwrap(), DataFormat::Ncdhw);
        assert!(
            "NHWC".parse::<DataFormat>().is_err(),
            "2-D layouts are refused"
        );
    }
}
