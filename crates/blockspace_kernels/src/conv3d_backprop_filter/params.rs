//! Validation of `Conv3DBackpropFilterV2` in TensorFlow's order, with TensorFlow's texts.
//!
//! The order is that of `Conv3DCustomBackpropFilterOp` (the stock CPU kernel for `float` and
//! `double`) in `tensorflow/core/kernels/conv_grad_filter_ops_3d.cc`: the op definition's
//! `strides` length; the constructor's dilation and stride rules; then `Compute`: `filter_sizes`
//! must be a vector, `TensorShapeUtils::MakeShape` of it, the ranks of `input`, `filter_sizes`
//! and `out_backprop`, the two channel matches, `ConvBackpropComputeDimensions`
//! (`"Conv3DBackpropFilterOp"`: batch, filter depth, then per spatial dimension the windowed
//! output size and the size match), an empty `input` gives zeros, and finally the
//! `work_unit_size > 0` rule (CVE-2021-29522).

use crate::KernelError;
use crate::conv3d_backprop_input::{Conv3dAttrs, DataFormat};
use crate::conv3d_backprop_input::{
    check_attrs, make_shape, nonzero_dims_fit, spatial_dims, work_is_empty,
};

/// TensorFlow's label for this op's dimension errors.
const OP: &str = "Conv3DBackpropFilterOp";

/// A validated `Conv3DBackpropFilterV2` problem: every size in NDHWC terms, ready for a kernel.
///
/// Built only by [`Conv3dBackpropFilterParams::new`], which applies every TensorFlow rule.
///
/// # Shapes
/// - `input`: `[N, D, H, W, IC]` (NDHWC) or `[N, IC, D, H, W]` (NCDHW)
/// - `filter_sizes`: the 5 values `[KD, KH, KW, IC, OC]`
/// - `out_backprop`: `[N, OD, OH, OW, OC]` (NDHWC) or `[N, OC, OD, OH, OW]` (NCDHW)
/// - output: `[KD, KH, KW, IC, OC]` in both layouts
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conv3dBackpropFilterParams {
    /// Batch size.
    pub n: usize,
    /// `input` spatial size `[D, H, W]`.
    pub input_spatial: [usize; 3],
    /// Input channels `IC`.
    pub ic: usize,
    /// Filter spatial size `[KD, KH, KW]`.
    pub kernel: [usize; 3],
    /// Output channels `OC`.
    pub oc: usize,
    /// `out_backprop` spatial size `[OD, OH, OW]`.
    pub out_spatial: [usize; 3],
    /// Spatial strides.
    pub strides: [usize; 3],
    /// Spatial dilations.
    pub dilations: [usize; 3],
    /// Padding before each spatial dimension.
    pub pad_before: [usize; 3],
    /// Layout of `input` and `out_backprop`.
    pub data_format: DataFormat,
}

impl Conv3dBackpropFilterParams {
    /// Validates a problem with every rule of TensorFlow's stock CPU kernel, in its order.
    ///
    /// `input_shape` and `out_backprop_shape` are the operands' shapes, `filter_sizes_shape`
    /// the shape of the `filter_sizes` operand and `filter_sizes` its values (TensorFlow's
    /// int32 widened to `i64`; larger values are accepted). Our extensions over the stock
    /// kernel: `NCDHW` (the channel checks use `data_format`'s channel dimension where
    /// TensorFlow's NDHWC-only code reads dimension 4) and spatial dilations above 1.
    ///
    /// # Errors
    /// The first rule that fails, as a [`KernelError`] whose text is TensorFlow's.
    pub fn new(
        input_shape: &[usize],
        filter_sizes_shape: &[usize],
        filter_sizes: &[i64],
        out_backprop_shape: &[usize],
        attrs: &Conv3dAttrs,
    ) -> Result<Self, KernelError> {
        let fmt = attrs.data_format;
        let cdim = fmt.channel_dim();
        check_attrs(attrs)?;
        // Compute: filter_sizes -> shape.
        if filter_sizes_shape.len() != 1 {
            return Err(KernelError::FilterSizesNotVector {
                rank: filter_sizes_shape.len(),
            });
        }
        make_shape(filter_sizes)?;
        let x: [usize; 5] = input_shape
            .try_into()
            .map_err(|_| KernelError::FilterOpInputRank {
                shape: input_shape.to_vec(),
            })?;
        let f: [i64; 5] = filter_sizes
            .try_into()
            .map_err(|_| KernelError::FilterSizesRank {
                sizes: filter_sizes.to_vec(),
            })?;
        let dy: [usize; 5] =
            out_backprop_shape
                .try_into()
                .map_err(|_| KernelError::OutBackpropRank {
                    shape: out_backprop_shape.to_vec(),
                })?;
        let to_i64 = |v: usize| {
            i64::try_from(v).map_err(|_| KernelError::Overflow {
                what: "a tensor dimension",
            })
        };
        let to_usize = |v: i64| {
            usize::try_from(v).map_err(|_| KernelError::Overflow {
                what: "a filter size",
            })
        };
        if to_i64(x[cdim])? != f[3] {
            return Err(KernelError::FilterOpInputChannelMismatch {
                input: x[cdim],
                filter: f[3],
            });
        }
        if to_i64(dy[cdim])? != f[4] {
            return Err(KernelError::OutputChannelMismatch {
                out_backprop: dy[cdim],
                filter: to_usize(f[4])?,
            });
        }
        // ConvBackpropComputeDimensions("Conv3DBackpropFilterOp", ...).
        if x[0] != dy[0] {
            return Err(KernelError::BatchMismatch {
                op: OP,
                input: to_i64(x[0])?,
                out_backprop: dy[0],
            });
        }
        if f[3] <= 0 {
            return Err(KernelError::FilterDepthNotPositive { op: OP });
        }
        let input = [
            to_i64(x[0])?,
            to_i64(x[1])?,
            to_i64(x[2])?,
            to_i64(x[3])?,
            to_i64(x[4])?,
        ];
        let sp = spatial_dims(OP, input, [f[0], f[1], f[2]], dy, attrs)?;
        let kernel = [to_usize(f[0])?, to_usize(f[1])?, to_usize(f[2])?];
        let (ic, oc) = (to_usize(f[3])?, to_usize(f[4])?);
        // allocate_output: TensorFlow accepts e.g. [0, 2^31-1, 2^31-1, 2^31-1, 1], but an
        // ndarray cannot describe it: its non-zero dimensions must multiply within isize.
        if !nonzero_dims_fit(&[kernel[0], kernel[1], kernel[2], ic, oc]) {
            return Err(KernelError::Overflow {
                what: "the output shape (its non-zero dimensions multiply past isize::MAX)",
            });
        }
        let params = Self {
            n: dy[0],
            input_spatial: sp.input,
            ic,
            kernel,
            oc,
            out_spatial: sp.out,
            strides: sp.strides,
            dilations: sp.dilations,
            pad_before: sp.pad_before,
            data_format: fmt,
        };
        // An empty input gives zeros before the work-size rule is looked at.
        let [d, h, w] = sp.input;
        let input_empty = [params.n, d, h, w, ic].contains(&0);
        if !input_empty && work_is_empty(sp.out, kernel, ic, oc) {
            return Err(KernelError::EmptyWork);
        }
        Ok(params)
    }

    /// [`Conv3dBackpropFilterParams::new`] for a `filter_sizes` operand given as an array (any
    /// rank: a non-vector is refused with TensorFlow's error).
    ///
    /// # Errors
    /// As [`Conv3dBackpropFilterParams::new`].
    pub fn from_operands(
        input_shape: &[usize],
        filter_sizes: ndarray::ArrayViewD<'_, i64>,
        out_backprop_shape: &[usize],
        attrs: &Conv3dAttrs,
    ) -> Result<Self, KernelError> {
        let values: Vec<i64> = filter_sizes.iter().copied().collect();
        Self::new(
            input_shape,
            filter_sizes.shape(),
            &values,
            out_backprop_shape,
            attrs,
        )
    }

    /// The output shape, `[KD, KH, KW, IC, OC]` whatever the layout.
    #[must_use]
    pub fn output_shape(&self) -> Vec<usize> {
        let [kd, kh, kw] = self.kernel;
        vec![kd, kh, kw, self.ic, self.oc]
    }

    /// `input`'s shape in NDHWC order.
    #[must_use]
    pub fn input_ndhwc(&self) -> [usize; 5] {
        let [d, h, w] = self.input_spatial;
        [self.n, d, h, w, self.ic]
    }

    /// `out_backprop`'s shape in NDHWC order.
    #[must_use]
    pub fn out_backprop_ndhwc(&self) -> [usize; 5] {
        let [od, oh, ow] = self.out_spatial;
        [self.n, od, oh, ow, self.oc]
    }

    /// Number of output elements.
    #[must_use]
    pub fn output_len(&self) -> u64 {
        self.output_shape()
            .iter()
            .fold(1u64, |acc, &v| acc.saturating_mul(v as u64))
    }

    /// Nominal multiply-adds ×2 (`2·N·OD·OH·OW·KD·KH·KW·IC·OC`), as benchmarks count FLOPs.
    #[must_use]
    pub fn nominal_flops(&self) -> f64 {
        let [od, oh, ow] = self.out_spatial;
        let [kd, kh, kw] = self.kernel;
        [self.n, od, oh, ow, kd, kh, kw, self.ic, self.oc]
            .iter()
            .fold(2.0, |acc, &v| acc * v as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conv3d_backprop_input::Padding;

    fn attrs(strides: &[i64]) -> Conv3dAttrs {
        Conv3dAttrs {
            strides: strides.to_vec(),
            ..Conv3dAttrs::default()
        }
    }

    fn err(x: &[usize], fs_shape: &[usize], fs: &[i64], dy: &[usize], a: &Conv3dAttrs) -> String {
        Conv3dBackpropFilterParams::new(x, fs_shape, fs, dy, a)
            .expect_err("must be refused")
            .to_string()
    }

    #[test]
    fn order_and_texts_follow_tensorflow() {
        let a = attrs(&[1; 5]);
        let x = [1, 4, 4, 4, 4];
        let f = [2, 2, 2, 4, 4];
        // Attributes come first, even with bad tensors.
        assert_eq!(
            err(&[1], &[2, 2], &[1], &[1], &attrs(&[1, 1, 1, 1])),
            "Length for attr 'strides' of 4 must be at least minimum 5"
        );
        let dilated = |d: i64| Conv3dAttrs {
            dilations: vec![1, 1, d, 1, 1],
            ..attrs(&[1; 5])
        };
        assert_eq!(
            err(&[4], &[1, 5], &f, &[1], &dilated(0)),
            "Current CPU implementation does not yet support dilation rates larger than 1.",
            "a spatial dilation below 1, before any tensor"
        );
        assert_eq!(
            err(&x, &[5], &f, &[1, 4, 5, 4, 4], &dilated(2)),
            "Conv3DBackpropFilterOp: Size of out_backprop doesn't match computed: actual = 5, computed = 4 spatial_dim: 2 input: 4 filter: 3 output: 5 stride: 1 dilation: 1",
            "a dilation above 1 runs (reported as the dilated-filter problem)"
        );
        assert_eq!(
            err(&x, &[1, 5], &f, &x, &a),
            "filter_sizes shape must be rank 1 but is rank 2"
        );
        assert_eq!(
            err(&[4], &[5], &[2, -2, 2, 4, 4], &x, &a),
            "Dimension -2 must be >= 0",
            "MakeShape before the input rank"
        );
        assert_eq!(
            err(&[4], &[4], &[2, 2, 2, 4], &[1], &a),
            "input tensor must have 5 dimensions"
        );
        assert_eq!(
            err(&x, &[4], &[2, 2, 2, 4], &[1], &a),
            "filter_sizes tensor must have 5 dimensions"
        );
        assert_eq!(
            err(&x, &[5], &f, &[1], &a),
            "out_backprop tensor must have 5 dimensions"
        );
        assert_eq!(
            err(&[2, 4, 4, 4, 3], &[5], &f, &[1, 4, 4, 4, 5], &a),
            "input and filter_sizes must have the same number of channels. Got 3 for input and 4 for filter_sizes"
        );
        assert_eq!(
            err(&x, &[5], &f, &[2, 4, 4, 4, 5], &a),
            "out_backprop and filter_sizes must have the same number of channels. Got 5 for out_backprop and 4 for filter_sizes"
        );
        assert_eq!(
            err(&x, &[5], &f, &[2, 3, 4, 4, 4], &a),
            "Conv3DBackpropFilterOp: input and out_backprop must have the same batch size. Input batch: 1, outbackprop batch: 2, batch_dim: 0"
        );
        assert_eq!(
            err(
                &[1, 4, 4, 4, 0],
                &[5],
                &[2, 2, 2, 0, 4],
                &[1, 3, 4, 4, 4],
                &a
            ),
            "Conv3DBackpropFilterOp: filter depth must be strictly greated than zero"
        );
        assert_eq!(
            err(&x, &[5], &f, &[1, 3, 4, 4, 4], &a),
            "Conv3DBackpropFilterOp: Size of out_backprop doesn't match computed: actual = 3, computed = 4 spatial_dim: 1 input: 4 filter: 2 output: 3 stride: 1 dilation: 1"
        );
        let valid = Conv3dAttrs {
            padding: Padding::Valid,
            ..a.clone()
        };
        assert_eq!(
            err(&x, &[5], &[2, 9, 2, 4, 4], &[1, 3, 1, 3, 4], &valid),
            "Computed output size would be negative: -4 [input_size: 4, effective_filter_size: 9, stride: 1]"
        );
    }

    #[test]
    fn empty_work_and_empty_input() {
        let valid = Conv3dAttrs {
            padding: Padding::Valid,
            strides: vec![1, 2, 2, 2, 1],
            ..Conv3dAttrs::default()
        };
        // No output positions and OC = 0: TensorFlow's work_unit_size rule.
        assert_eq!(
            err(
                &[1, 1, 1, 1, 2],
                &[5],
                &[3, 3, 3, 2, 0],
                &[1, 0, 0, 0, 0],
                &valid
            ),
            "input, filter_sizes and out_backprop tensors must all have at least 1 element"
        );
        // No output positions, OC > 0: zeros, not an error.
        let p = Conv3dBackpropFilterParams::new(
            &[1, 1, 1, 1, 2],
            &[5],
            &[3, 3, 3, 2, 4],
            &[1, 0, 0, 0, 4],
            &valid,
        )
        .expect("valid");
        assert_eq!(p.output_shape(), [3, 3, 3, 2, 4]);
        // An empty input returns zeros before the work rule.
        let same = Conv3dAttrs::default();
        let p = Conv3dBackpropFilterParams::new(
            &[0, 4, 4, 4, 2],
            &[5],
            &[0, 2, 2, 2, 0],
            &[0, 4, 4, 4, 0],
            &same,
        )
        .expect("empty input");
        assert_eq!(p.output_len(), 0);
    }

    #[test]
    fn ncdhw_reads_channels_at_dimension_1() {
        let a = Conv3dAttrs {
            data_format: DataFormat::Ncdhw,
            strides: vec![1, 1, 1, 2, 2],
            ..Conv3dAttrs::default()
        };
        let p = Conv3dBackpropFilterParams::new(
            &[2, 3, 5, 6, 7],
            &[5],
            &[1, 2, 3, 3, 4],
            &[2, 4, 5, 3, 4],
            &a,
        )
        .expect("valid NCDHW");
        assert_eq!((p.ic, p.oc, p.out_spatial), (3, 4, [5, 3, 4]));
        assert_eq!(p.nominal_flops(), 2.0 * (2 * 5 * 3 * 4 * 6 * 3 * 4) as f64);
    }
}
