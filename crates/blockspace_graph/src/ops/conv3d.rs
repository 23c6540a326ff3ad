//! `Conv3D`: the forward 3-D convolution (TensorFlow's `tf.raw_ops.Conv3D`), evaluated by
//! `blockspace_kernels`.

use super::common::{CONV_T, FLOATS, Ty, check_dtypes, sized_output, wired};
use super::conv_common::{CONV_ATTRS, blame, conv_attrs};
use super::conv_python::{ConvOp, conv_python};
use super::{EvalCtx, InferCtx, InferInput, OpDescriptor, OpError, PortLayout, PortSpec};
use crate::kernels::{Conv3dParams, KernelError, conv3d};
use crate::ops::python::{PyBlock, PyCall};
use crate::tensor::{Tensor, TensorMeta};
use crate::value::Attrs;

/// The `Conv3D` block type.
pub static DESCRIPTOR: OpDescriptor = OpDescriptor {
    type_id: "Conv3D",
    display_name: "Conv3D",
    category: "Convolution",
    doc: "3-D convolution (TensorFlow's Conv3D): output[n, od, oh, ow, oc] = sum over taps and \
          input channels of input at (od·stride + kd·dilation − pad, …) times filter[kd, kh, kw, \
          ic, oc]. Output [N, OD, OH, OW, OC] (NDHWC) or [N, OC, OD, OH, OW] (NCDHW).",
    inputs: &[
        PortSpec {
            name: "input",
            doc: "Activations [N, D, H, W, C] (NDHWC) or [N, C, D, H, W] (NCDHW).",
            dtypes: FLOATS,
            rank: Some(5),
            layout: PortLayout::DataFormat,
        },
        PortSpec {
            name: "filter",
            doc: "Filter [KD, KH, KW, C, OC] (always this layout), dtype of input.",
            dtypes: FLOATS,
            rank: Some(5),
            layout: PortLayout::Filter,
        },
    ],
    outputs: &[PortSpec {
        name: "output",
        doc: "The convolution, in data_format order, dtype of input.",
        dtypes: FLOATS,
        rank: Some(5),
        layout: PortLayout::DataFormat,
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
        K::Conv3dInputRank { .. } | K::NegativeOutputSize { .. } => Some("input"),
        K::Conv3dFilterRank { .. }
        | K::Conv3dFilterDepthZero
        | K::InputDepthNotDivisible { .. }
        | K::GroupedConvolution { .. }
        | K::FilterEmpty { .. } => Some("filter"),
        _ => None,
    }
}

fn infer(
    ctx: &InferCtx<'_>,
    attrs: &Attrs,
    inputs: &[Option<InferInput<'_>>],
) -> Result<Vec<TensorMeta>, OpError> {
    let kattrs = conv_attrs(attrs)?;
    let [input, filter] = wired(inputs, ["input", "filter"])?;
    check_dtypes(
        "Conv3D",
        &[
            ("input", input.meta.dtype, Ty::T(CONV_T)),
            ("filter", filter.meta.dtype, Ty::T(CONV_T)),
        ],
    )?;
    let params = Conv3dParams::new(&input.meta.shape, &filter.meta.shape, &kattrs)
        .map_err(|e| blame(e, port_of))?;
    sized_output(
        ctx,
        "Conv3D output",
        "input",
        input.meta.dtype,
        params.output_shape(),
    )
}

fn eval(ctx: &EvalCtx<'_>, attrs: &Attrs, inputs: &[&Tensor]) -> Result<Vec<Tensor>, OpError> {
    let kattrs = conv_attrs(attrs)?;
    let [input, filter] = inputs else {
        return Err(OpError::new(format!(
            "expected 2 inputs, got {}",
            inputs.len()
        )));
    };
    let out = super::common::float_pair!(("input", input), ("filter", filter), |x, f| {
        conv3d(x.view(), f.view(), &kattrs, ctx.kernel).map_err(|e| blame(e, port_of))?
    });
    Ok(vec![out])
}

fn python(b: &PyBlock<'_>) -> Result<PyCall, OpError> {
    conv_python(ConvOp::Forward, b)
}
