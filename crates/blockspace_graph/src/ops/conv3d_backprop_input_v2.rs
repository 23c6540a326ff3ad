//! `Conv3DBackpropInputV2`: the gradient of a 3-D convolution with respect to its input
//! (TensorFlow semantics), evaluated by `blockspace_kernels`.

use super::common::{FLOATS, kernel_error, known_ints, same_dtype, sized_output, wired};
use super::{
    AttrDefault, AttrKind, AttrSpec, EvalCtx, InferCtx, InferInput, OpDescriptor, OpError,
    PortLayout, PortSpec, attr_list, attr_str,
};
use crate::kernels::{
    Conv3dBackpropInputAttrs, Conv3dBackpropInputParams, DataFormat, KernelError, Padding,
    conv3d_backprop_input_v2,
};
use crate::tensor::{DType, Tensor, TensorMeta};
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
            dtypes: &[DType::Int32, DType::Int64],
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
    attrs: &[
        AttrSpec {
            name: "strides",
            doc: "Window strides, 5 values in data_format order; batch and channel strides must be 1.",
            kind: AttrKind::IntList { len: 5 },
            default: AttrDefault::IntList(&[1, 1, 1, 1, 1]),
            visible_when: None,
        },
        AttrSpec {
            name: "padding",
            doc: "SAME (output size = ceil(input / stride)) or VALID (no padding).",
            kind: AttrKind::Enum(&["SAME", "VALID"]),
            default: AttrDefault::Str("SAME"),
            visible_when: None,
        },
        AttrSpec {
            name: "data_format",
            doc: "Layout of input_sizes, out_backprop and output: NDHWC or NCDHW.",
            kind: AttrKind::Enum(&["NDHWC", "NCDHW"]),
            default: AttrDefault::Str("NDHWC"),
            visible_when: None,
        },
        AttrSpec {
            name: "dilations",
            doc: "Filter dilation, 5 values in data_format order; batch and channel must be 1.",
            kind: AttrKind::IntList { len: 5 },
            default: AttrDefault::IntList(&[1, 1, 1, 1, 1]),
            visible_when: None,
        },
    ],
    infer,
    eval,
    fold_constants: false,
    cache_salt: None,
};

const PORTS: [&str; 3] = ["input_sizes", "filter", "out_backprop"];

fn kernel_attrs(attrs: &Attrs) -> Result<Conv3dBackpropInputAttrs, OpError> {
    let padding: Padding = attr_str(attrs, "padding")?
        .parse()
        .map_err(|e: KernelError| {
            OpError::attr("padding", format!("{e}; use \"SAME\" or \"VALID\""))
        })?;
    let data_format: DataFormat =
        attr_str(attrs, "data_format")?
            .parse()
            .map_err(|e: KernelError| {
                OpError::attr("data_format", format!("{e}; use \"NDHWC\" or \"NCDHW\""))
            })?;
    Ok(Conv3dBackpropInputAttrs {
        strides: attr_list(attrs, "strides")?.to_vec(),
        padding,
        data_format,
        dilations: attr_list(attrs, "dilations")?.to_vec(),
    })
}

/// Maps a kernel validation error onto the port or attribute it is about, keeping
/// TensorFlow's text and adding the kernel's hint on how to fix it.
fn blame(e: KernelError) -> OpError {
    use KernelError as K;
    let (port, attr) = match &e {
        K::Cancelled => return OpError::cancelled(),
        K::StridesTooShort { .. }
        | K::StridesLength { .. }
        | K::StrideInBatchOrChannel { .. }
        | K::StrideNotPositive { .. } => (None, Some("strides")),
        K::InvalidPadding { .. } => (None, Some("padding")),
        K::InvalidDataFormat { .. } => (None, Some("data_format")),
        K::DilationsLength { .. }
        | K::DilationInBatchOrChannel { .. }
        | K::DilationNotPositive { .. } => (None, Some("dilations")),
        K::InputSizesNotVector { .. }
        | K::TooManyDimensions { .. }
        | K::NegativeDimension { .. }
        | K::ShapeOverflow { .. }
        | K::InputRank { .. }
        | K::NegativeOutputSize { .. } => (Some("input_sizes"), None),
        K::FilterRank { .. } | K::FilterDepthZero | K::InputChannelMismatch { .. } => {
            (Some("filter"), None)
        }
        K::OutBackpropRank { .. }
        | K::OutputChannelMismatch { .. }
        | K::BatchMismatch { .. }
        | K::OutBackpropSizeMismatch { .. } => (Some("out_backprop"), None),
        _ => (None, None),
    };
    kernel_error(e, port, attr)
}

fn infer(
    ctx: &InferCtx<'_>,
    attrs: &Attrs,
    inputs: &[Option<InferInput<'_>>],
) -> Result<Vec<TensorMeta>, OpError> {
    let kattrs = kernel_attrs(attrs)?;
    let [sizes, filter, dy] = wired(inputs, PORTS)?;
    same_dtype("filter", filter.meta.dtype, "out_backprop", dy.meta.dtype)?;
    let values = known_ints("input_sizes", sizes)?;
    let params = Conv3dBackpropInputParams::new(
        &sizes.meta.shape,
        &values,
        &filter.meta.shape,
        &dy.meta.shape,
        &kattrs,
    )
    .map_err(blame)?;
    sized_output(
        ctx,
        "Conv3DBackpropInputV2 output",
        "input_sizes",
        filter.meta.dtype,
        params.output_shape(),
    )
}

fn eval(ctx: &EvalCtx<'_>, attrs: &Attrs, inputs: &[&Tensor]) -> Result<Vec<Tensor>, OpError> {
    let kattrs = kernel_attrs(attrs)?;
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
                .map_err(blame)?,
        ),
        (Tensor::F64(f), Tensor::F64(d)) => Tensor::F64(
            conv3d_backprop_input_v2(sizes.view(), f.view(), d.view(), &kattrs, ctx.kernel)
                .map_err(blame)?,
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
