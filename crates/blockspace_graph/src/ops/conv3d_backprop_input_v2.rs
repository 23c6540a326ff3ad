//! `Conv3DBackpropInputV2`: the gradient of a 3-D convolution with respect to its input
//! (TensorFlow semantics), evaluated by `blockspace_kernels`.

use super::common::{CONV_T, FLOATS, INDICES, Ty, check_dtypes, known_ints, sized_output, wired};
use super::conv_common::{CONV_ATTRS, blame, conv_attrs};
use super::conv_python::{ConvOp, conv_python};
use super::{EvalCtx, InferCtx, InferInput, OpDescriptor, OpError, PortLayout, PortSpec};
use crate::kernels::{Conv3dBackpropInputParams, KernelError, conv3d_backprop_input_v2};
use crate::ops::python::{PyBlock, PyCall};
use crate::tensor::{Tensor, TensorMeta};
use crate::value::Attrs;

/// The `Conv3DBackpropInputV2` block type.
pub static DESCRIPTOR: OpDescriptor = OpDescriptor {
    type_id: "Conv3DBackpropInputV2",
    display_name: "Conv3DBackpropInputV2",
    category: "Convolution",
    doc: "Gradient of Conv3D with respect to its input (TensorFlow's Conv3DBackpropInputV2; \
          also known as conv3d_transpose). Output shape = input_sizes.",
    inputs: &[
        PortSpec {
            name: "input_sizes",
            doc: "Shape of the forward input, 5 integers in data_format order (int32 or int64).",
            dtypes: INDICES,
            rank: Some(1),
            layout: PortLayout::Plain,
        },
        PortSpec {
            name: "filter",
            doc: "Filter [KD, KH, KW, C, M] (always this layout).",
            dtypes: FLOATS,
            rank: Some(5),
            layout: PortLayout::Filter,
        },
        PortSpec {
            name: "out_backprop",
            doc: "Gradient of the forward output: [N, OD, OH, OW, M] (NDHWC) or [N, M, OD, OH, OW] (NCDHW).",
            dtypes: FLOATS,
            rank: Some(5),
            layout: PortLayout::DataFormat,
        },
    ],
    outputs: &[PortSpec {
        name: "output",
        doc: "Gradient of the forward input, shape input_sizes, dtype of filter.",
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

const PORTS: [&str; 3] = ["input_sizes", "filter", "out_backprop"];

fn port_of(e: &KernelError) -> Option<&'static str> {
    use KernelError as K;
    match e {
        K::InputSizesNotVector { .. }
        | K::TooManyDimensions { .. }
        | K::NegativeDimension { .. }
        | K::ShapeOverflow { .. }
        | K::InputRank { .. }
        | K::NegativeOutputSize { .. } => Some("input_sizes"),
        K::FilterRank { .. } | K::FilterDepthZero | K::InputChannelMismatch { .. } => {
            Some("filter")
        }
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
    let [sizes, filter, dy] = wired(inputs, PORTS)?;
    check_dtypes(
        "Conv3DBackpropInputV2",
        &[
            ("input_sizes", sizes.meta.dtype, Ty::Index("Tshape")),
            ("filter", filter.meta.dtype, Ty::T(CONV_T)),
            ("out_backprop", dy.meta.dtype, Ty::T(CONV_T)),
        ],
    )?;
    let values = known_ints("input_sizes", sizes)?;
    let params = Conv3dBackpropInputParams::new(
        &sizes.meta.shape,
        &values,
        &filter.meta.shape,
        &dy.meta.shape,
        &kattrs,
    )
    .map_err(|e| blame(e, port_of))?;
    sized_output(
        ctx,
        "Conv3DBackpropInputV2 output",
        "input_sizes",
        filter.meta.dtype,
        params.output_shape(),
    )
}

fn eval(ctx: &EvalCtx<'_>, attrs: &Attrs, inputs: &[&Tensor]) -> Result<Vec<Tensor>, OpError> {
    let kattrs = conv_attrs(attrs)?;
    let [sizes, filter, dy] = inputs else {
        return Err(OpError::new(format!(
            "expected 3 inputs, got {}",
            inputs.len()
        )));
    };
    let sizes = sizes.to_i64().ok_or_else(|| {
        OpError::port(
            "input_sizes",
            format!("is {}, expected int32 or int64", sizes.dtype()),
        )
    })?;
    let out = match (filter, dy) {
        (Tensor::F32(f), Tensor::F32(d)) => Tensor::F32(
            conv3d_backprop_input_v2(sizes.view(), f.view(), d.view(), &kattrs, ctx.kernel)
                .map_err(|e| blame(e, port_of))?,
        ),
        (Tensor::F64(f), Tensor::F64(d)) => Tensor::F64(
            conv3d_backprop_input_v2(sizes.view(), f.view(), d.view(), &kattrs, ctx.kernel)
                .map_err(|e| blame(e, port_of))?,
        ),
        (f, d) => {
            return Err(OpError::port(
                "out_backprop",
                format!(
                    "out_backprop is {} but filter is {}; give both the same float dtype (float32 or float64)",
                    d.dtype(),
                    f.dtype()
                ),
            ));
        }
    };
    Ok(vec![out])
}

fn python(b: &PyBlock<'_>) -> Result<PyCall, OpError> {
    conv_python(ConvOp::BackpropInput, b)
}
