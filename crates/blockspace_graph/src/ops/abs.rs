//! `Abs`: `y = |x|` elementwise (TensorFlow's `tf.raw_ops.Abs`).

use super::elementwise::{eval_abs, infer_unary, unary_descriptor, unary_python};
use super::{EvalCtx, InferCtx, InferInput, OpDescriptor, OpError};
use crate::ops::python::{PyBlock, PyCall};
use crate::tensor::{Tensor, TensorMeta};
use crate::value::Attrs;

/// The `Abs` block type.
pub static DESCRIPTOR: OpDescriptor = unary_descriptor(
    "Abs",
    "Absolute value y = |x|, elementwise (TensorFlow's Abs). float32 or float64.",
    infer,
    eval,
    python,
);

fn eval(ctx: &EvalCtx<'_>, _attrs: &Attrs, inputs: &[&Tensor]) -> Result<Vec<Tensor>, OpError> {
    eval_abs(ctx, inputs)
}

fn infer(
    ctx: &InferCtx<'_>,
    _attrs: &Attrs,
    inputs: &[Option<InferInput<'_>>],
) -> Result<Vec<TensorMeta>, OpError> {
    infer_unary("Abs", ctx, inputs)
}

fn python(b: &PyBlock<'_>) -> Result<PyCall, OpError> {
    unary_python(b, "Abs", "torch.abs")
}
