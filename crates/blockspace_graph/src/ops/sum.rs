//! `Sum`: the sum over `axis` (TensorFlow's `tf.raw_ops.Sum`).

use super::reduction::{eval_reduction, infer_reduction, reduction_descriptor, reduction_python};
use super::{EvalCtx, InferCtx, InferInput, OpDescriptor, OpError};
use crate::kernels::ReduceOp;
use crate::ops::python::{PyBlock, PyCall};
use crate::tensor::{Tensor, TensorMeta};
use crate::value::Attrs;

/// The `Sum` block type.
pub static DESCRIPTOR: OpDescriptor = reduction_descriptor(
    "Sum",
    "Sum of input over the axes in axis (TensorFlow's Sum; pairwise summation, so float32 sums \
     of millions of elements stay accurate). An empty extent sums to 0.",
    infer,
    eval,
    python,
);

fn eval(ctx: &EvalCtx<'_>, attrs: &Attrs, inputs: &[&Tensor]) -> Result<Vec<Tensor>, OpError> {
    eval_reduction(ReduceOp::Sum, ctx, attrs, inputs)
}

fn infer(
    ctx: &InferCtx<'_>,
    attrs: &Attrs,
    inputs: &[Option<InferInput<'_>>],
) -> Result<Vec<TensorMeta>, OpError> {
    infer_reduction("Sum", ctx, attrs, inputs)
}

fn python(b: &PyBlock<'_>) -> Result<PyCall, OpError> {
    reduction_python(b, ReduceOp::Sum)
}
