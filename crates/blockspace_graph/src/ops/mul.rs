//! `Mul`: `z = x * y` elementwise with NumPy broadcasting (TensorFlow's `tf.raw_ops.Mul`).

use super::elementwise::{binary_descriptor, binary_python, eval_binary, infer_binary};
use super::{EvalCtx, InferCtx, InferInput, OpDescriptor, OpError};
use crate::kernels::BinaryOp;
use crate::ops::python::{PyBlock, PyCall};
use crate::tensor::{Tensor, TensorMeta};
use crate::value::Attrs;

/// The `Mul` block type.
pub static DESCRIPTOR: OpDescriptor = binary_descriptor(
    "Mul",
    "Product z = x * y, elementwise; x and y broadcast as in NumPy (TensorFlow's Mul). \
     float32 or float64, both the same.",
    infer,
    eval,
    python,
);

fn eval(ctx: &EvalCtx<'_>, _attrs: &Attrs, inputs: &[&Tensor]) -> Result<Vec<Tensor>, OpError> {
    eval_binary(BinaryOp::Mul, ctx, inputs)
}

fn infer(
    ctx: &InferCtx<'_>,
    _attrs: &Attrs,
    inputs: &[Option<InferInput<'_>>],
) -> Result<Vec<TensorMeta>, OpError> {
    infer_binary("Mul", ctx, inputs)
}

fn python(b: &PyBlock<'_>) -> Result<PyCall, OpError> {
    binary_python(b, "Mul", "torch.mul")
}
