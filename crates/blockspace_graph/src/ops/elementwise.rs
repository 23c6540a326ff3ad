//! What `AddV2`, `Sub`, `Mul` and `Abs` share: ports, broadcasting inference, evaluation.

use super::common::{
    FLOATS, Ty, check_dtypes, float_one, float_pair, kernel_error, sized_output, wired,
};
use super::{
    EvalCtx, EvalFn, InferCtx, InferFn, InferInput, OpDescriptor, OpError, PortLayout, PortSpec,
};
use crate::kernels::{BinaryOp, abs, binary, broadcast_shape};
use crate::ops::python::{Framework, PyBlock, PyCall, PythonFn};
use crate::tensor::{Tensor, TensorMeta};

/// A descriptor for TensorFlow's binary op `type_id` (`x`, `y` → `z`, NumPy broadcasting).
pub(crate) const fn binary_descriptor(
    type_id: &'static str,
    doc: &'static str,
    infer: InferFn,
    eval: EvalFn,
    python: PythonFn,
) -> OpDescriptor {
    OpDescriptor {
        type_id,
        display_name: type_id,
        category: "Math",
        doc,
        inputs: &[
            PortSpec {
                name: "x",
                doc: "Left operand (float32 or float64, any shape).",
                dtypes: FLOATS,
                rank: None,
                layout: PortLayout::Plain,
            },
            PortSpec {
                name: "y",
                doc: "Right operand, same dtype; its shape broadcasts against x (NumPy rules).",
                dtypes: FLOATS,
                rank: None,
                layout: PortLayout::Plain,
            },
        ],
        outputs: &[PortSpec {
            name: "z",
            doc: "Elementwise result in the broadcast shape of x and y.",
            dtypes: FLOATS,
            rank: None,
            layout: PortLayout::Plain,
        }],
        attrs: &[],
        infer,
        eval,
        fold_constants: false,
        cache_salt: None,
        python: Some(python),
    }
}

/// Infers the broadcast output of the binary op `op_name`, with TensorFlow's dtype checks.
pub(crate) fn infer_binary(
    op_name: &str,
    ctx: &InferCtx<'_>,
    inputs: &[Option<InferInput<'_>>],
) -> Result<Vec<TensorMeta>, OpError> {
    let [x, y] = wired(inputs, ["x", "y"])?;
    check_dtypes(
        op_name,
        &[
            ("x", x.meta.dtype, Ty::T(None)),
            ("y", y.meta.dtype, Ty::T(None)),
        ],
    )?;
    let shape = broadcast_shape(&x.meta.shape, &y.meta.shape)
        .map_err(|e| kernel_error(e, Some("y"), None))?;
    sized_output(ctx, "the result", "y", x.meta.dtype, shape)
}

/// Evaluates `op` on the block's two inputs.
pub(crate) fn eval_binary(
    op: BinaryOp,
    ctx: &EvalCtx<'_>,
    inputs: &[&Tensor],
) -> Result<Vec<Tensor>, OpError> {
    let [x, y] = inputs else {
        return Err(OpError::new(format!(
            "expected 2 inputs, got {}",
            inputs.len()
        )));
    };
    let z = float_pair!(("x", x), ("y", y), |a, b| binary(
        op,
        a.view(),
        b.view(),
        ctx.kernel
    )
    .map_err(|e| kernel_error(e, Some("y"), None))?);
    Ok(vec![z])
}

/// A descriptor for a unary op `type_id` (`x` → `y`, same shape and dtype).
pub(crate) const fn unary_descriptor(
    type_id: &'static str,
    doc: &'static str,
    infer: InferFn,
    eval: EvalFn,
    python: PythonFn,
) -> OpDescriptor {
    OpDescriptor {
        type_id,
        display_name: type_id,
        category: "Math",
        doc,
        inputs: &[PortSpec {
            name: "x",
            doc: "Operand (float32 or float64, any shape).",
            dtypes: FLOATS,
            rank: None,
            layout: PortLayout::Plain,
        }],
        outputs: &[PortSpec {
            name: "y",
            doc: "Elementwise result, same shape and dtype as x.",
            dtypes: FLOATS,
            rank: None,
            layout: PortLayout::Plain,
        }],
        attrs: &[],
        infer,
        eval,
        fold_constants: false,
        cache_salt: None,
        python: Some(python),
    }
}

/// Infers the output of the unary op `op_name` (same shape and dtype as `x`).
pub(crate) fn infer_unary(
    op_name: &str,
    ctx: &InferCtx<'_>,
    inputs: &[Option<InferInput<'_>>],
) -> Result<Vec<TensorMeta>, OpError> {
    let [x] = wired(inputs, ["x"])?;
    check_dtypes(op_name, &[("x", x.meta.dtype, Ty::T(None))])?;
    sized_output(ctx, "the result", "x", x.meta.dtype, x.meta.shape.clone())
}

/// Evaluates `Abs` on the block's input.
pub(crate) fn eval_abs(ctx: &EvalCtx<'_>, inputs: &[&Tensor]) -> Result<Vec<Tensor>, OpError> {
    let [x] = inputs else {
        return Err(OpError::new(format!(
            "expected 1 input, got {}",
            inputs.len()
        )));
    };
    let y = float_one!(("x", x), |a| abs(a.view(), ctx.kernel)
        .map_err(|e| kernel_error(e, Some("x"), None))?);
    Ok(vec![y])
}

/// The Python form of a binary op: TensorFlow's `tf.raw_ops.<tf_op>(x=…, y=…)` or PyTorch's
/// `<torch_fn>(x, y)` (both broadcast as NumPy does).
pub(crate) fn binary_python(
    b: &PyBlock<'_>,
    tf_op: &str,
    torch_fn: &str,
) -> Result<PyCall, OpError> {
    let [x, y] = b.inputs else {
        return Err(OpError::new("expected 2 inputs"));
    };
    Ok(PyCall::plain(match b.framework {
        Framework::TensorFlow => format!("tf.raw_ops.{tf_op}(x={}, y={})", x.var, y.var),
        Framework::PyTorch => format!("{torch_fn}({}, {})", x.var, y.var),
    }))
}

/// The Python form of a unary op: `tf.raw_ops.<tf_op>(x=…)` or `<torch_fn>(x)`.
pub(crate) fn unary_python(
    b: &PyBlock<'_>,
    tf_op: &str,
    torch_fn: &str,
) -> Result<PyCall, OpError> {
    let [x] = b.inputs else {
        return Err(OpError::new("expected 1 input"));
    };
    Ok(PyCall::plain(match b.framework {
        Framework::TensorFlow => format!("tf.raw_ops.{tf_op}(x={})", x.var),
        Framework::PyTorch => format!("{torch_fn}({})", x.var),
    }))
}
