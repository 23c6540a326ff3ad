//! `AddV2`: `z = x + y` elementwise with NumPy broadcasting (TensorFlow's `tf.raw_ops.AddV2`).

use super::elementwise::{binary_descriptor, binary_python, eval_binary, infer_binary};
use super::{EvalCtx, InferCtx, InferInput, OpDescriptor, OpError};
use crate::kernels::BinaryOp;
use crate::ops::python::{PyBlock, PyCall};
use crate::tensor::{Tensor, TensorMeta};
use crate::value::Attrs;

/// The `AddV2` block type.
pub static DESCRIPTOR: OpDescriptor = binary_descriptor(
    "AddV2",
    "Sum z = x + y, elementwise; x and y broadcast as in NumPy (TensorFlow's AddV2). \
     float32 or float64, both the same.",
    infer,
    eval,
    python,
);

fn eval(ctx: &EvalCtx<'_>, _attrs: &Attrs, inputs: &[&Tensor]) -> Result<Vec<Tensor>, OpError> {
    eval_binary(BinaryOp::AddV2, ctx, inputs)
}

fn infer(
    ctx: &InferCtx<'_>,
    _attrs: &Attrs,
    inputs: &[Option<InferInput<'_>>],
) -> Result<Vec<TensorMeta>, OpError> {
    infer_binary("AddV2", ctx, inputs)
}

fn python(b: &PyBlock<'_>) -> Result<PyCall, OpError> {
    binary_python(b, "AddV2", "torch.add")
}
