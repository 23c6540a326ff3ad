//! What the three 3-D convolution blocks share: their four attributes (TensorFlow's names and
//! defaults), reading them, and putting kernel errors on the attribute they are about.

use super::common::kernel_error;
use super::{AttrDefault, AttrKind, AttrSpec, OpError, attr_list, attr_str};
use crate::kernels::{Conv3dAttrs, DataFormat, KernelError, Padding};
use crate::value::Attrs;

/// `strides`, `padding`, `data_format`, `dilations`, as TensorFlow defines them for `Conv3D`,
/// `Conv3DBackpropInputV2` and `Conv3DBackpropFilterV2`.
pub(crate) const CONV_ATTRS: &[AttrSpec] = &[
    AttrSpec {
        name: "strides",
        doc: "Window strides, 5 values in data_format order; batch and channel strides must be 1.",
        kind: AttrKind::IntList { len: 5 },
        default: AttrDefault::IntList(&[1, 1, 1, 1, 1]),
        visible_when: None,
    },
    AttrSpec {
        name: "padding",
        doc: "SAME (output size = ceil(input / stride), zeros split evenly, the odd one after) or \
              VALID (no padding).",
        kind: AttrKind::Enum(&["SAME", "VALID"]),
        default: AttrDefault::Str("SAME"),
        visible_when: None,
    },
    AttrSpec {
        name: "data_format",
        doc: "Layout of the 5-D activations (input, out_backprop, output): NDHWC or NCDHW. The \
              filter is always [KD, KH, KW, IC, OC].",
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
];

/// The block's convolution attributes. The op definition's checks come first, in the order of
/// its attributes (`strides` of at least 5 values, then `padding`, then `data_format`), with
/// TensorFlow's texts: TensorFlow makes them before it types the inputs or builds the kernel.
pub(crate) fn conv_attrs(attrs: &Attrs) -> Result<Conv3dAttrs, OpError> {
    let strides = attr_list(attrs, "strides")?;
    if strides.len() < 5 {
        let e = KernelError::StridesTooShort { len: strides.len() };
        return Err(kernel_error(e, None, Some("strides")));
    }
    let padding: Padding = attr_str(attrs, "padding")?
        .parse()
        .map_err(|e: KernelError| kernel_error(e, None, Some("padding")))?;
    let data_format: DataFormat = attr_str(attrs, "data_format")?
        .parse()
        .map_err(|e: KernelError| kernel_error(e, None, Some("data_format")))?;
    Ok(Conv3dAttrs {
        strides: strides.to_vec(),
        padding,
        data_format,
        dilations: attr_list(attrs, "dilations")?.to_vec(),
    })
}

/// The attribute a convolution error is about, if any.
fn attr_of(e: &KernelError) -> Option<&'static str> {
    use KernelError as K;
    match e {
        K::StridesTooShort { .. }
        | K::StridesLength { .. }
        | K::StrideInBatchOrChannel { .. }
        | K::StrideNotPositive { .. }
        | K::SpatialStridesNotPositive { .. } => Some("strides"),
        K::InvalidPadding { .. } => Some("padding"),
        K::InvalidDataFormat { .. } => Some("data_format"),
        K::DilationsLength { .. }
        | K::DilationInBatchOrChannel { .. }
        | K::DilationNotPositive { .. }
        | K::SpatialDilationsNotPositive { .. }
        | K::GradientDilationNotPositive { .. } => Some("dilations"),
        _ => None,
    }
}

/// A convolution kernel error on its attribute, or else on the port `port_of` names, with
/// TensorFlow's text and the kernel's hint.
pub(crate) fn blame(e: KernelError, port_of: fn(&KernelError) -> Option<&'static str>) -> OpError {
    let attr = attr_of(&e);
    let port = if attr.is_some() { None } else { port_of(&e) };
    kernel_error(e, port, attr)
}
