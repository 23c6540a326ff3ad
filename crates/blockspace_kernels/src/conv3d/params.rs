//! Validation of a `Conv3D` problem in TensorFlow's order, and its sizes.

use crate::KernelError;
use crate::conv3d_backprop_input::params::nonzero_dims_fit;
use crate::conv3d_backprop_input::{Conv3dAttrs, DataFormat, windowed_output_size};

/// A validated `Conv3D` problem: every size in NDHWC terms, ready for a kernel.
///
/// Built only by [`Conv3dParams::new`], which applies every TensorFlow rule.
///
/// # Shapes
/// - `input`: `[N, D, H, W, C]` (NDHWC) or `[N, C, D, H, W]` (NCDHW)
/// - `filter`: `[KD, KH, KW, C, M]` in both layouts
/// - output: `[N, OD, OH, OW, M]` (NDHWC) or `[N, M, OD, OH, OW]` (NCDHW)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conv3dParams {
    /// Batch size.
    pub n: usize,
    /// Input spatial size `[D, H, W]`.
    pub input_spatial: [usize; 3],
    /// Input channels `C`.
    pub ic: usize,
    /// Filter spatial size `[KD, KH, KW]`.
    pub kernel: [usize; 3],
    /// Filter input channels (filter dimension 3): equal to `ic` whenever the output has
    /// elements (a grouped convolution with an empty output is accepted, as TensorFlow does).
    pub filter_ic: usize,
    /// Output channels `M`.
    pub oc: usize,
    /// Output spatial size `[OD, OH, OW]`.
    pub out_spatial: [usize; 3],
    /// Spatial strides.
    pub strides: [usize; 3],
    /// Spatial dilations.
    pub dilations: [usize; 3],
    /// Padding before each spatial dimension (clamped at zero: the op's definition).
    pub pad_before: [usize; 3],
    /// Layout of `input` and the output.
    pub data_format: DataFormat,
}

impl Conv3dParams {
    /// Validates a problem with every rule of TensorFlow's `Conv3D` CPU kernel, in its order
    /// (op definition, kernel construction, `Compute`, `Get3dOutputSizeV2`, the CPU launcher).
    ///
    /// Our extensions over the stock CPU kernel: `NCDHW` and spatial dilations above 1 are
    /// accepted. Grouped convolutions are refused with the CPU kernel's error (only when the
    /// output has elements, since TensorFlow returns an empty output before launching).
    ///
    /// # Errors
    /// The first rule that fails, as a [`KernelError`] whose text is TensorFlow's.
    pub fn new(
        input_shape: &[usize],
        filter_shape: &[usize],
        attrs: &Conv3dAttrs,
    ) -> Result<Self, KernelError> {
        let fmt = attrs.data_format;
        let cdim = fmt.channel_dim();
        let (strides, dilations) = (&attrs.strides, &attrs.dilations);
        // Op definition: `strides: list(int) >= 5`.
        if strides.len() < 5 {
            return Err(KernelError::StridesTooShort { len: strides.len() });
        }
        // Kernel construction.
        if strides.len() != 5 {
            return Err(KernelError::StridesLength { len: strides.len() });
        }
        if strides[0] != 1 || strides[cdim] != 1 {
            return Err(KernelError::StrideInBatchOrChannel {
                strides: strides.clone(),
            });
        }
        if (0..3).any(|i| strides[fmt.spatial_dim(i)] <= 0) {
            return Err(KernelError::SpatialStridesNotPositive {
                strides: strides.clone(),
            });
        }
        if dilations.len() != 5 {
            return Err(KernelError::DilationsLength {
                len: dilations.len(),
            });
        }
        if dilations[0] != 1 || dilations[cdim] != 1 {
            return Err(KernelError::DilationInBatchOrChannel {
                dilations: dilations.clone(),
            });
        }
        if (0..3).any(|i| dilations[fmt.spatial_dim(i)] <= 0) {
            return Err(KernelError::SpatialDilationsNotPositive {
                dilations: dilations.clone(),
            });
        }
        // Compute.
        let input: [usize; 5] =
            input_shape
                .try_into()
                .map_err(|_| KernelError::Conv3dInputRank {
                    shape: input_shape.to_vec(),
                })?;
        let filter: [usize; 5] =
            filter_shape
                .try_into()
                .map_err(|_| KernelError::Conv3dFilterRank {
                    shape: filter_shape.to_vec(),
                })?;
        let (ic, filter_ic, oc) = (input[cdim], filter[3], filter[4]);
        if filter_ic == 0 {
            return Err(KernelError::Conv3dFilterDepthZero);
        }
        if !ic.is_multiple_of(filter_ic) {
            return Err(KernelError::InputDepthNotDivisible {
                input: ic,
                filter: filter_ic,
            });
        }
        if filter.contains(&0) {
            return Err(KernelError::FilterEmpty {
                shape: filter_shape.to_vec(),
            });
        }
        // Get3dOutputSizeV2: GetWindowedOutputSizeVerbose per spatial dimension (z, y, x).
        let to_i64 = |v: usize| {
            i64::try_from(v).map_err(|_| KernelError::Overflow {
                what: "a tensor dimension",
            })
        };
        let to_usize = |v: i64| {
            usize::try_from(v).map_err(|_| KernelError::Overflow {
                what: "a spatial size",
            })
        };
        let mut p = Self {
            n: input[0],
            input_spatial: [0; 3],
            ic,
            kernel: [filter[0], filter[1], filter[2]],
            filter_ic,
            oc,
            out_spatial: [0; 3],
            strides: [0; 3],
            dilations: [0; 3],
            pad_before: [0; 3],
            data_format: fmt,
        };
        for (i, &k) in filter[..3].iter().enumerate() {
            let t = fmt.spatial_dim(i);
            let win = windowed_output_size(
                to_i64(input[t])?,
                to_i64(k)?,
                dilations[t],
                strides[t],
                attrs.padding,
            )?;
            p.input_spatial[i] = input[t];
            p.out_spatial[i] = to_usize(win.output)?;
            p.pad_before[i] = to_usize(win.pad_before)?;
            p.strides[i] = to_usize(strides[t])?;
            p.dilations[i] = to_usize(dilations[t])?;
        }
        // The output must be describable (TensorFlow: ShapeFromFormat; ndarray: isize).
        if !nonzero_dims_fit(&p.output_ndhwc()) {
            return Err(KernelError::Overflow {
                what: "the output shape (its non-zero dimensions multiply past isize::MAX)",
            });
        }
        // TensorFlow returns an empty output before launching; the CPU launcher refuses
        // grouped convolutions.
        if p.output_len() > 0 && ic != filter_ic {
            return Err(KernelError::GroupedConvolution {
                input: ic,
                filter: filter_ic,
            });
        }
        Ok(p)
    }

    /// The input shape, in `data_format` order.
    #[must_use]
    pub fn input_shape(&self) -> Vec<usize> {
        let [d, h, w] = self.input_spatial;
        self.data_format
            .shape_from_ndhwc([self.n, d, h, w, self.ic])
            .to_vec()
    }

    /// The filter shape, `[KD, KH, KW, C, M]`.
    #[must_use]
    pub fn filter_shape(&self) -> [usize; 5] {
        let [kd, kh, kw] = self.kernel;
        [kd, kh, kw, self.filter_ic, self.oc]
    }

    /// The output shape in NDHWC order.
    #[must_use]
    pub fn output_ndhwc(&self) -> [usize; 5] {
        let [od, oh, ow] = self.out_spatial;
        [self.n, od, oh, ow, self.oc]
    }

    /// The output shape, in `data_format` order: `[N, OD, OH, OW, M]` or `[N, M, OD, OH, OW]`.
    #[must_use]
    pub fn output_shape(&self) -> Vec<usize> {
        self.data_format
            .shape_from_ndhwc(self.output_ndhwc())
            .to_vec()
    }

    /// Number of output elements.
    #[must_use]
    pub fn output_len(&self) -> u64 {
        self.output_ndhwc()
            .iter()
            .fold(1u64, |acc, &v| acc.saturating_mul(v as u64))
    }

    /// Nominal multiply-adds ×2 (`2·N·OD·OH·OW·KD·KH·KW·C·M`), as benchmarks count FLOPs.
    #[must_use]
    pub fn nominal_flops(&self) -> f64 {
        let [od, oh, ow] = self.out_spatial;
        let [kd, kh, kw] = self.kernel;
        [self.n, od, oh, ow, kd, kh, kw, self.filter_ic, self.oc]
            .iter()
            .fold(2.0, |acc, &v| acc * v as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conv3d_backprop_input::Padding;

    fn attrs(strides: [i64; 5], dilations: [i64; 5]) -> Conv3dAttrs {
        Conv3dAttrs {
            strides: strides.to_vec(),
            dilations: dilations.to_vec(),
            ..Conv3dAttrs::default()
        }
    }

    fn err(input: &[usize], filter: &[usize], a: &Conv3dAttrs) -> String {
        Conv3dParams::new(input, filter, a).unwrap_err().to_string()
    }

    #[test]
    fn sizes_and_padding() {
        let a = Conv3dAttrs {
            strides: vec![1, 2, 1, 3, 1],
            dilations: vec![1, 1, 2, 1, 1],
            ..Conv3dAttrs::default()
        };
        let p = Conv3dParams::new(&[2, 7, 7, 7, 3], &[2, 3, 2, 3, 5], &a).unwrap();
        assert_eq!(p.out_spatial, [4, 7, 3]);
        // D: (4-1)·2+2-7 = 1 → 0 before; H: k_eff 5 → 4 → 2; W: (3-1)·3+2-7 = 1 → 0.
        assert_eq!(p.pad_before, [0, 2, 0]);
        assert_eq!(p.output_shape(), vec![2, 4, 7, 3, 5]);
        assert_eq!(p.output_len(), 2 * 4 * 7 * 3 * 5);
        let flops = 2.0 * f64::from(2 * 4 * 7 * 3 * 2 * 3 * 2 * 3 * 5);
        assert!((p.nominal_flops() - flops).abs() < 1e-6);
        let nc = Conv3dAttrs {
            data_format: DataFormat::Ncdhw,
            strides: vec![1, 1, 2, 1, 3],
            padding: Padding::Valid,
            ..Conv3dAttrs::default()
        };
        let p = Conv3dParams::new(&[1, 3, 7, 7, 7], &[2, 3, 2, 3, 5], &nc).unwrap();
        assert_eq!(
            p.output_shape(),
            vec![1, 5, 3, 5, 2],
            "VALID: (7-2+2)/2, 7-3+1, (7-2+3)/3"
        );
    }

    /// A stride larger than the window needs negative padding: clamped at zero.
    #[test]
    fn negative_same_padding_is_clamped() {
        let a = attrs([1, 1, 3, 2, 1], [1; 5]);
        let p = Conv3dParams::new(&[2, 4, 6, 8, 2], &[1, 1, 1, 2, 3], &a).unwrap();
        assert_eq!(p.pad_before, [0, 0, 0]);
        assert_eq!(p.out_spatial, [4, 2, 4]);
    }

    #[test]
    fn errors_in_tensorflow_order() {
        let ok = [1; 5];
        let (x, f) = ([1, 4, 4, 4, 2], [2, 2, 2, 2, 3]);
        let short = Conv3dAttrs {
            strides: vec![1, 1, 1, 1],
            dilations: vec![0],
            ..Conv3dAttrs::default()
        };
        assert_eq!(
            err(&[1], &[1], &short),
            "Length for attr 'strides' of 4 must be at least minimum 5"
        );
        let long = Conv3dAttrs {
            strides: vec![1; 6],
            ..Conv3dAttrs::default()
        };
        assert_eq!(
            err(&x, &f, &long),
            "Sliding window strides field must specify 5 dimensions"
        );
        assert_eq!(
            err(&[1], &[1], &attrs([1, 1, 1, 1, 2], [0; 5])),
            "Current implementation does not yet support strides in the batch and depth dimensions."
        );
        assert_eq!(
            err(&[1], &[1], &attrs([1, 1, -1, 1, 1], [0; 5])),
            "Spatial strides should be larger than 0."
        );
        let no_dil = Conv3dAttrs {
            dilations: vec![1; 4],
            ..Conv3dAttrs::default()
        };
        assert_eq!(
            err(&[1], &[1], &no_dil),
            "Dilation rates field must specify 5 dimensions"
        );
        assert_eq!(
            err(&[1], &[1], &attrs(ok, [2, 1, 1, 1, 1])),
            "Current implementation does not yet support dilation rates in the batch and depth dimensions."
        );
        assert_eq!(
            err(&[1], &[1], &attrs(ok, [1, 1, 1, 0, 1])),
            "Dilated rates should be larger than 0."
        );
        let a = attrs(ok, ok);
        assert_eq!(err(&[1], &[1], &a), "input must be 5-dimensional");
        assert_eq!(err(&x, &[1], &a), "filter must be 5-dimensional");
        assert_eq!(
            err(&x, &[0, 2, 2, 0, 3], &a),
            "filter_depth must be non-zero"
        );
        assert_eq!(
            err(&x, &[0, 2, 2, 3, 3], &a),
            "Input depth must be evenly divisible by filter depth: 2 vs 3"
        );
        assert_eq!(
            err(&x, &[0, 2, 2, 2, 3], &a),
            "filter must not have zero elements (i.e. all dimensions must be non-zero)"
        );
        let valid = Conv3dAttrs {
            padding: Padding::Valid,
            ..a.clone()
        };
        assert_eq!(
            err(&x, &[6, 2, 2, 1, 3], &valid),
            "Computed output size would be negative: -1 [input_size: 4, effective_filter_size: 6, stride: 1]"
        );
        assert_eq!(
            err(&x, &[2, 2, 2, 1, 3], &a),
            "Number of channels in filter (1) must match last dimension of input (2)"
        );
        // An empty output returns before the grouped-convolution check.
        let p = Conv3dParams::new(&[0, 4, 4, 4, 2], &[2, 2, 2, 1, 3], &a).unwrap();
        assert_eq!(p.output_len(), 0);
    }
}
