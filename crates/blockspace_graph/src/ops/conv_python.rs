//! The Python form of the three 3-D convolution blocks (their `python` hook), for TensorFlow and
//! PyTorch, with TensorFlow's layout and SAME padding reproduced exactly.
//!
//! The padding `(before, after)` of every spatial dimension is computed here, with the clamped
//! SAME definition the kernels use ([`windowed_output_size`]), from the shapes known at check
//! time, and written into the script.
//!
//! TensorFlow: the plain `tf.raw_ops` call where every TensorFlow CPU kernel computes what the op
//! defines; otherwise a helper doing the same computation in a form they all get right. Its
//! Eigen kernels (which float64 always takes) refuse `NCDHW` and dilations > 1, and its Eigen
//! `Conv3D` shifts the window where SAME padding would be negative (`(out − 1)·s + k_eff < in`);
//! the helpers transpose to NDHWC, dilate the filter with zeros, pad explicitly (`tf.pad`) and
//! run VALID. PyTorch: the forms of `shared/docs/framework-equivalents.md` (permutes to NCDHW,
//! `F.pad` with the asymmetric padding, `F.conv3d`, `F.conv_transpose3d` then a crop,
//! `torch.nn.grad.conv3d_weight`).

use super::OpError;
use super::common::known_ints;
use super::conv_common::conv_attrs;
use crate::kernels::conv3d_backprop_input::windowed_output_size;
use crate::kernels::{DataFormat, KernelError, Padding};
use crate::ops::InferInput;
use crate::ops::python::{Framework, PyBlock, PyCall, PyHelper, PyInput};

/// Which of the three convolution ops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConvOp {
    /// `Conv3D(input, filter)`.
    Forward,
    /// `Conv3DBackpropInputV2(input_sizes, filter, out_backprop)`.
    BackpropInput,
    /// `Conv3DBackpropFilterV2(input, filter_sizes, out_backprop)`.
    BackpropFilter,
}

impl ConvOp {
    fn type_id(self) -> &'static str {
        match self {
            ConvOp::Forward => "Conv3D",
            ConvOp::BackpropInput => "Conv3DBackpropInputV2",
            ConvOp::BackpropFilter => "Conv3DBackpropFilterV2",
        }
    }
}

static TF_TO_NDHWC: PyHelper = PyHelper {
    name: "_tf_to_ndhwc",
    code: r#"def _tf_to_ndhwc(x, data_format):
    return tf.transpose(x, [0, 2, 3, 4, 1]) if data_format == "NCDHW" else x"#,
    deps: &[],
};

static TF_FROM_NDHWC: PyHelper = PyHelper {
    name: "_tf_from_ndhwc",
    code: r#"def _tf_from_ndhwc(x, data_format):
    return tf.transpose(x, [0, 4, 1, 2, 3]) if data_format == "NCDHW" else x"#,
    deps: &[],
};

static TF_DILATE_FILTER: PyHelper = PyHelper {
    name: "_tf_dilate_filter",
    code: r#"def _tf_dilate_filter(f, dilations):
    """Spreads the taps of a [KD, KH, KW, IC, OC] filter apart with zeros: tap k moves to k * d."""
    for axis, d in enumerate(dilations):
        if d > 1:
            shape = f.shape.as_list()
            k = shape[axis]
            paddings = [[0, 0]] * 6
            paddings[axis + 1] = [0, d - 1]
            f = tf.pad(tf.expand_dims(f, axis + 1), paddings)
            shape[axis] = k * d
            size = list(shape)
            size[axis] = (k - 1) * d + 1
            f = tf.slice(tf.reshape(f, shape), [0] * 5, size)
    return f"#,
    deps: &[],
};

static TF_CONV3D: PyHelper = PyHelper {
    name: "_tf_conv3d",
    code: r#"def _tf_conv3d(x, f, strides, pads, dilations, data_format):
    """Conv3D as the op defines it, in the form every TensorFlow CPU kernel gets right: NDHWC,
    the filter dilated with zeros, explicit zero padding [[before, after]] per spatial dim, VALID."""
    x = tf.pad(_tf_to_ndhwc(x, data_format), [[0, 0], *pads, [0, 0]])
    y = tf.raw_ops.Conv3D(input=x, filter=_tf_dilate_filter(f, dilations),
                          strides=[1, *strides, 1], padding="VALID")
    return _tf_from_ndhwc(y, data_format)"#,
    deps: &[&TF_TO_NDHWC, &TF_FROM_NDHWC, &TF_DILATE_FILTER],
};

static TF_CONV3D_BACKPROP_INPUT: PyHelper = PyHelper {
    name: "_tf_conv3d_backprop_input",
    code: r#"def _tf_conv3d_backprop_input(input_sizes, f, dy, strides, pads, dilations, data_format):
    """Conv3DBackpropInputV2 the same way: the gradient of the zero-padded input (NDHWC, VALID,
    filter dilated with zeros), cropped to the input's positions [before, before + size)."""
    if data_format == "NCDHW":
        input_sizes = [input_sizes[i] for i in (0, 2, 3, 4, 1)]
    n, d, h, w, c = input_sizes
    padded = [n] + [size + b + a for size, (b, a) in zip((d, h, w), pads)] + [c]
    dx = tf.raw_ops.Conv3DBackpropInputV2(
        input_sizes=padded, filter=_tf_dilate_filter(f, dilations),
        out_backprop=_tf_to_ndhwc(dy, data_format), strides=[1, *strides, 1], padding="VALID")
    (b0, _), (b1, _), (b2, _) = pads
    return _tf_from_ndhwc(dx[:, b0:b0 + d, b1:b1 + h, b2:b2 + w, :], data_format)"#,
    deps: &[&TF_TO_NDHWC, &TF_FROM_NDHWC, &TF_DILATE_FILTER],
};

static TF_CONV3D_BACKPROP_FILTER: PyHelper = PyHelper {
    name: "_tf_conv3d_backprop_filter",
    code: r#"def _tf_conv3d_backprop_filter(x, filter_sizes, dy, strides, pads, dilations, data_format):
    """Conv3DBackpropFilterV2 the same way: the gradient of the zero-dilated filter on the
    zero-padded input (NDHWC, VALID), taken at the taps k * d."""
    x = tf.pad(_tf_to_ndhwc(x, data_format), [[0, 0], *pads, [0, 0]])
    kd, kh, kw, ic, oc = filter_sizes
    dilated = [(k - 1) * d + 1 for k, d in zip((kd, kh, kw), dilations)]
    g = tf.raw_ops.Conv3DBackpropFilterV2(
        input=x, filter_sizes=[*dilated, ic, oc], out_backprop=_tf_to_ndhwc(dy, data_format),
        strides=[1, *strides, 1], padding="VALID")
    return g[::dilations[0], ::dilations[1], ::dilations[2]]"#,
    deps: &[&TF_TO_NDHWC],
};

static PT_TO_NCDHW: PyHelper = PyHelper {
    name: "_pt_to_ncdhw",
    code: r#"def _pt_to_ncdhw(x, data_format):
    return x.permute(0, 4, 1, 2, 3) if data_format == "NDHWC" else x"#,
    deps: &[],
};

static PT_FROM_NCDHW: PyHelper = PyHelper {
    name: "_pt_from_ncdhw",
    code: r#"def _pt_from_ncdhw(x, data_format):
    return (x.permute(0, 2, 3, 4, 1) if data_format == "NDHWC" else x).contiguous()"#,
    deps: &[],
};

static PT_WEIGHT: PyHelper = PyHelper {
    name: "_pt_weight",
    code: r#"def _pt_weight(f):
    """A TensorFlow filter [KD, KH, KW, IC, OC] as a PyTorch weight [OC, IC, KD, KH, KW]."""
    return f.permute(4, 3, 0, 1, 2)"#,
    deps: &[],
};

static PT_PAD_LIST: PyHelper = PyHelper {
    name: "_pt_pad_list",
    code: r#"def _pt_pad_list(pads):
    """[[before, after]] for D, H, W as F.pad's list, which starts with the last dimension."""
    return [amount for before_after in reversed(pads) for amount in before_after]"#,
    deps: &[],
};

static PT_CONV3D: PyHelper = PyHelper {
    name: "_pt_conv3d",
    code: r#"def _pt_conv3d(x, f, strides, pads, dilations, data_format):
    """TensorFlow's Conv3D: TensorFlow's (asymmetric) padding written out, then F.conv3d."""
    x = F.pad(_pt_to_ncdhw(x, data_format), _pt_pad_list(pads))
    y = F.conv3d(x, _pt_weight(f), stride=strides, dilation=dilations)
    return _pt_from_ncdhw(y, data_format)"#,
    deps: &[&PT_TO_NCDHW, &PT_FROM_NCDHW, &PT_WEIGHT, &PT_PAD_LIST],
};

static PT_CONV3D_BACKPROP_INPUT: PyHelper = PyHelper {
    name: "_pt_conv3d_backprop_input",
    code: r#"def _pt_conv3d_backprop_input(input_sizes, f, dy, strides, pads, dilations, data_format):
    """TensorFlow's Conv3DBackpropInputV2: the unpadded F.conv_transpose3d, then per spatial dim
    the positions [before, before + size) (F.pad crops with negative amounts; positions no
    window reaches get zeros)."""
    full = F.conv_transpose3d(_pt_to_ncdhw(dy, data_format), _pt_weight(f), stride=strides,
                              dilation=dilations)
    spatial = input_sizes[1:4] if data_format == "NDHWC" else input_sizes[2:5]
    amounts = []
    for axis in (2, 1, 0):
        before = pads[axis][0]
        amounts += [-before, spatial[axis] + before - full.shape[2 + axis]]
    return _pt_from_ncdhw(F.pad(full, amounts), data_format)"#,
    deps: &[&PT_TO_NCDHW, &PT_FROM_NCDHW, &PT_WEIGHT],
};

static PT_CONV3D_BACKPROP_FILTER: PyHelper = PyHelper {
    name: "_pt_conv3d_backprop_filter",
    code: r#"def _pt_conv3d_backprop_filter(x, filter_sizes, dy, strides, pads, dilations, data_format):
    """TensorFlow's Conv3DBackpropFilterV2: PyTorch's weight gradient on the padded input,
    permuted back to [KD, KH, KW, IC, OC]."""
    x = F.pad(_pt_to_ncdhw(x, data_format), _pt_pad_list(pads))
    kd, kh, kw, ic, oc = filter_sizes
    g = torch.nn.grad.conv3d_weight(x, [oc, ic, kd, kh, kw], _pt_to_ncdhw(dy, data_format),
                                    stride=strides, dilation=dilations)
    return g.permute(2, 3, 4, 1, 0).contiguous()"#,
    deps: &[&PT_TO_NCDHW, &PT_PAD_LIST],
};

/// The integer values of input `port` (index `i`), which checking knew.
fn ints(b: &PyBlock<'_>, i: usize, port: &str) -> Result<Vec<i64>, OpError> {
    let x = input(b, i, port)?;
    known_ints(
        port,
        InferInput {
            meta: x.meta,
            value: x.value,
        },
    )
}

fn input<'a>(b: &'a PyBlock<'a>, i: usize, port: &str) -> Result<&'a PyInput<'a>, OpError> {
    b.inputs
        .get(i)
        .ok_or_else(|| OpError::port(port, format!("`{port}` is not connected")))
}

fn dims(shape: &[usize]) -> Vec<i64> {
    shape.iter().map(|&d| d as i64).collect()
}

fn kernel_err(e: KernelError) -> OpError {
    OpError::new(e.to_string())
}

/// The block's Python code (the `python` hook of the three convolution blocks).
pub(crate) fn conv_python(op: ConvOp, b: &PyBlock<'_>) -> Result<PyCall, OpError> {
    let a = conv_attrs(b.attrs)?;
    let fmt = a.data_format;
    // The input's shape in data_format order and the filter's [KD, KH, KW, IC, OC].
    let (in_shape, filter) = match op {
        ConvOp::Forward => (
            dims(&input(b, 0, "input")?.meta.shape),
            dims(&input(b, 1, "filter")?.meta.shape),
        ),
        ConvOp::BackpropInput => (
            ints(b, 0, "input_sizes")?,
            dims(&input(b, 1, "filter")?.meta.shape),
        ),
        ConvOp::BackpropFilter => (
            dims(&input(b, 0, "input")?.meta.shape),
            ints(b, 1, "filter_sizes")?,
        ),
    };
    if in_shape.len() != 5 || filter.len() != 5 || a.strides.len() != 5 || a.dilations.len() != 5 {
        return Err(OpError::new("expected 5-D shapes, strides and dilations"));
    }
    let mut strides = [0i64; 3];
    let mut dilations = [0i64; 3];
    let mut pads = [(0i64, 0i64); 3];
    let mut negative = false;
    for i in 0..3 {
        let dim = fmt.spatial_dim(i);
        let (s, d) = (a.strides[dim], a.dilations[dim]);
        let w =
            windowed_output_size(in_shape[dim], filter[i], d, s, a.padding).map_err(kernel_err)?;
        strides[i] = s;
        dilations[i] = d;
        pads[i] = (w.pad_before, w.pad_after);
        let k_eff = (filter[i] - 1) * d + 1;
        negative |= a.padding == Padding::Same && (w.output - 1) * s + k_eff < in_shape[dim];
    }
    let pads_text = format!(
        "[[{}, {}], [{}, {}], [{}, {}]]",
        pads[0].0, pads[0].1, pads[1].0, pads[1].1, pads[2].0, pads[2].1
    );
    let padding = a.padding.as_str();
    let data_format = fmt.as_str();
    let x0 = input(b, 0, "input")?.var;
    let x1 = input(b, 1, "filter")?.var;
    let x2 = b.inputs.get(2).map_or("", |x| x.var);
    let ncdhw = fmt == DataFormat::Ncdhw;
    let dilated = dilations.iter().any(|&d| d > 1);
    let shifted = op == ConvOp::Forward && negative;
    let shape_arg = |v: &[i64]| format!("{v:?}");

    match b.framework {
        Framework::TensorFlow if !(ncdhw || dilated || shifted) => {
            let attrs = format!(
                "strides={:?}, padding=\"{padding}\", data_format=\"{data_format}\", dilations={:?}",
                a.strides, a.dilations
            );
            let expr = match op {
                ConvOp::Forward => {
                    format!("tf.raw_ops.Conv3D(input={x0}, filter={x1}, {attrs})")
                }
                ConvOp::BackpropInput => format!(
                    "tf.raw_ops.Conv3DBackpropInputV2(input_sizes={x0}, filter={x1}, \
                     out_backprop={x2}, {attrs})"
                ),
                // filter_sizes is int32, as TensorFlow requires (the check refuses int64).
                ConvOp::BackpropFilter => format!(
                    "tf.raw_ops.Conv3DBackpropFilterV2(input={x0}, filter_sizes={x1}, \
                     out_backprop={x2}, {attrs})"
                ),
            };
            Ok(PyCall::plain(expr))
        }
        Framework::TensorFlow => {
            let mut notes = Vec::new();
            if ncdhw {
                notes.push(format!(
                    "TensorFlow's CPU kernels refuse data_format NCDHW for {}: computed in NDHWC \
                     between transposes.",
                    op.type_id()
                ));
            }
            if dilated {
                notes.push(format!(
                    "TensorFlow's CPU kernels refuse dilations > 1: the filter is dilated with \
                     zeros (tap k at k*d, dilations {dilations:?}) and run undilated."
                ));
            }
            if shifted {
                notes.push(
                    "SAME padding here would be negative ((out-1)*stride + k_eff < in), where \
                     TensorFlow's Eigen Conv3D shifts the window; padding clamped at 0 (the op's \
                     definition) is written out instead."
                        .to_owned(),
                );
            }
            notes.push(format!(
                "{padding} padding written out per spatial dim as [before, after] = {pads_text}, \
                 then VALID."
            ));
            let tail = format!(
                "strides={strides:?}, pads={pads_text}, dilations={dilations:?}, \
                 data_format=\"{data_format}\""
            );
            let (helper, expr) = match op {
                ConvOp::Forward => (&TF_CONV3D, format!("_tf_conv3d({x0}, {x1}, {tail})")),
                ConvOp::BackpropInput => (
                    &TF_CONV3D_BACKPROP_INPUT,
                    format!(
                        "_tf_conv3d_backprop_input({}, {x1}, {x2}, {tail})",
                        shape_arg(&in_shape)
                    ),
                ),
                ConvOp::BackpropFilter => (
                    &TF_CONV3D_BACKPROP_FILTER,
                    format!(
                        "_tf_conv3d_backprop_filter({x0}, {}, {x2}, {tail})",
                        shape_arg(&filter)
                    ),
                ),
            };
            Ok(PyCall {
                expr,
                helpers: vec![helper],
                notes,
            })
        }
        Framework::PyTorch => {
            let tail = format!(
                "strides={strides:?}, pads={pads_text}, dilations={dilations:?}, \
                 data_format=\"{data_format}\""
            );
            let (helper, expr) = match op {
                ConvOp::Forward => (&PT_CONV3D, format!("_pt_conv3d({x0}, {x1}, {tail})")),
                ConvOp::BackpropInput => (
                    &PT_CONV3D_BACKPROP_INPUT,
                    format!(
                        "_pt_conv3d_backprop_input({}, {x1}, {x2}, {tail})",
                        shape_arg(&in_shape)
                    ),
                ),
                ConvOp::BackpropFilter => (
                    &PT_CONV3D_BACKPROP_FILTER,
                    format!(
                        "_pt_conv3d_backprop_filter({x0}, {}, {x2}, {tail})",
                        shape_arg(&filter)
                    ),
                ),
            };
            Ok(PyCall {
                expr,
                helpers: vec![helper],
                notes: vec![format!(
                    "TensorFlow's {padding} padding per spatial dim, [before, after] = {pads_text}."
                )],
            })
        }
    }
}
