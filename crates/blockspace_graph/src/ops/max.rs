//! `Max`: the largest element over `axis` (TensorFlow's `tf.raw_ops.Max`).

use super::reduction::{eval_reduction, reduction_descriptor, reduction_python};
use super::{EvalCtx, OpDescriptor, OpError};
use crate::export::{PyBlock, PyCall};
use crate::kernels::ReduceOp;
use crate::tensor::Tensor;
use crate::value::Attrs;

/// The `Max` block type.
pub static DESCRIPTOR: OpDescriptor = reduction_descriptor(
    "Max",
    "Largest element of input over the axes in axis (TensorFlow's Max): NaN if any element is \
     NaN; over an empty extent, the dtype's lowest finite value.",
    eval,
    python,
);

fn eval(ctx: &EvalCtx<'_>, attrs: &Attrs, inputs: &[&Tensor]) -> Result<Vec<Tensor>, OpError> {
    eval_reduction(ReduceOp::Max, ctx, attrs, inputs)
}

fn python(b: &PyBlock<'_>) -> Result<PyCall, OpError> {
    reduction_python(b, ReduceOp::Max)
}
