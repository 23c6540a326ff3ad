//! `Conv3DBackpropFilterV2`: the gradient of a 3-D convolution with respect to its filter
//! (TensorFlow's `tf.raw_ops.Conv3DBackpropFilterV2`), evaluated by `blockspace_kernels`.

use super::common::{CONV_T, FLOATS, Ty, check_dtypes, known_ints, sized_output, wired};
use super::conv_common::{CONV_ATTRS, blame, conv_attrs};
use super::conv_python::{ConvOp, conv_python};
use super::{EvalCtx, InferCtx, InferInput, OpDescriptor, OpError, PortLayout, PortSpec};
use crate::kernels::{Conv3dBackpropFilterParams, KernelError, conv3d_backprop_filter_v2};
use crate::ops::python::{PyBlock, PyCall};
use crate::tensor::{DType, Tensor, TensorMeta};
use crate::value::Attrs;

/// The `Conv3DBackpropFilterV2` block type.
pub static DESCRIPTOR: OpDescriptor = OpDescriptor {
    type_id: "Conv3DBackpropFilterV2",
    display_name: "Conv3DBackpropFilterV2",
    category: "Convolution",
    doc: "Gradient of Conv3D with respect to its filter (TensorFlow's Conv3DBackpropFilterV2): \
          output[kd, kh, kw, ic, oc] = sum over batch and output positions of input at the tap \
          times out_backprop. Output shape = filter_sizes, always [KD, KH, KW, IC, OC].",
    inputs: &[
        PortSpec {
            name: "input",
            doc: "The forward input [N, D, H, W, C] (NDHWC) or [N, C, D, H, W] (NCDHW).",
            dtypes: FLOATS,
            rank: Some(5),
            layout: PortLayout::DataFormat,
        },
        PortSpec {
            name: "filter_sizes",
            doc: "Shape of the filter, 5 int32 values [KD, KH, KW, IC, OC] (int32, as in TensorFlow).",
            dtypes: &[DType::Int32],
            rank: Some(1),
            layout: PortLayout::Plain,
        },
        PortSpec {
            name: "out_backprop",
            doc: "Gradient of the forward output: [N, OD, OH, OW, OC] (NDHWC) or [N, OC, OD, OH, OW] (NCDHW).",
            dtypes: FLOATS,
            rank: Some(5),
            layout: PortLayout::DataFormat,
        },
    ],
    outputs: &[PortSpec {
        name: "output",
        doc: "Gradient of the filter, shape filter_sizes, dtype of input.",
        dtypes: FLOATS,
        rank: Some(5),
        layout: PortLayout::Filter,
    }],
    attrs: CONV_ATTRS,
    infer,
    eval,
    fold_constants: false,
    cache_salt: None,
    python: Some(python),
};

fn port_of(e: &KernelError) -> Option<&'static str> {
    use KernelError as K;
    match e {
        K::FilterOpInputRank { .. }
        | K::FilterOpInputChannelMismatch { .. }
        | K::NegativeOutputSize { .. } => Some("input"),
        K::FilterSizesNotVector { .. }
        | K::FilterSizesRank { .. }
        | K::TooManyDimensions { .. }
        | K::NegativeDimension { .. }
        | K::ShapeOverflow { .. }
        | K::FilterDepthNotPositive { .. } => Some("filter_sizes"),
        K::OutBackpropRank { .. }
        | K::OutputChannelMismatch { .. }
        | K::BatchMismatch { .. }
        | K::OutBackpropSizeMismatch { .. } => Some("out_backprop"),
        _ => None,
    }
}

fn infer(
    ctx: &InferCtx<'_>,
    attrs: &Attrs,
    inputs: &[Option<InferInput<'_>>],
) -> Result<Vec<TensorMeta>, OpError> {
    let kattrs = conv_attrs(attrs)?;
    let [input, sizes, dy] = wired(inputs, ["input", "filter_sizes", "out_backprop"])?;
    check_dtypes(
        "Conv3DBackpropFilterV2",
        &[
            ("input", input.meta.dtype, Ty::T(CONV_T)),
            ("filter_sizes", sizes.meta.dtype, Ty::Int32),
            ("out_backprop", dy.meta.dtype, Ty::T(CONV_T)),
        ],
    )?;
    let values = known_ints("filter_sizes", sizes)?;
    let params = Conv3dBackpropFilterParams::new(
        &input.meta.shape,
        &sizes.meta.shape,
        &values,
        &dy.meta.shape,
        &kattrs,
    )
    .map_err(|e| blame(e, port_of))?;
    sized_output(
        ctx,
        "Conv3DBackpropFilterV2 output",
        "filter_sizes",
        input.meta.dtype,
        params.output_shape(),
    )
}

fn eval(ctx: &EvalCtx<'_>, attrs: &Attrs, inputs: &[&Tensor]) -> Result<Vec<Tensor>, OpError> {
    let kattrs = conv_attrs(attrs)?;
    let [input, sizes, dy] = inputs else {
        return Err(OpError::new(format!(
            "expected 3 inputs, got {}",
            inputs.len()
        )));
    };
    let sizes = sizes.to_i64().ok_or_else(|| {
        OpError::port(
            "filter_sizes",
            format!("`filter_sizes` is {}; use int32 or int64", sizes.dtype()),
        )
    })?;
    let out = super::common::float_pair!(("input", input), ("out_backprop", dy), |x, d| {
        conv3d_backprop_filter_v2(x.view(), sizes.view(), d.view(), &kattrs, ctx.kernel)
            .map_err(|e| blame(e, port_of))?
    });
    Ok(vec![out])
}

fn python(b: &PyBlock<'_>) -> Result<PyCall, OpError> {
    conv_python(ConvOp::BackpropFilter, b)
}
