//! `Max`: the largest element over `axis` (TensorFlow's `tf.raw_ops.Max`).

use super::reduction::{eval_reduction, infer_reduction, reduction_descriptor, reduction_python};
use super::{EvalCtx, InferCtx, InferInput, OpDescriptor, OpError};
use crate::kernels::ReduceOp;
use crate::ops::python::{PyBlock, PyCall};
use crate::tensor::{Tensor, TensorMeta};
use crate::value::Attrs;

/// The `Max` block type.
pub static DESCRIPTOR: OpDescriptor = reduction_descriptor(
    "Max",
    "Largest element of input over the axes in axis (TensorFlow's Max): NaN if any element is \
     NaN; over an empty extent -inf (as TensorFlow 2.21 gives).",
    infer,
    eval,
    python,
);

fn eval(ctx: &EvalCtx<'_>, attrs: &Attrs, inputs: &[&Tensor]) -> Result<Vec<Tensor>, OpError> {
    eval_reduction(ReduceOp::Max, ctx, attrs, inputs)
}

fn infer(
    ctx: &InferCtx<'_>,
    attrs: &Attrs,
    inputs: &[Option<InferInput<'_>>],
) -> Result<Vec<TensorMeta>, OpError> {
    infer_reduction("Max", ctx, attrs, inputs)
}

fn python(b: &PyBlock<'_>) -> Result<PyCall, OpError> {
    reduction_python(b, ReduceOp::Max)
}
