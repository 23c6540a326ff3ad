//! `Abs`: `y = |x|` elementwise (TensorFlow's `tf.raw_ops.Abs`).

use super::elementwise::{eval_abs, unary_descriptor};
use super::{EvalCtx, OpDescriptor, OpError};
use crate::tensor::Tensor;
use crate::value::Attrs;

/// The `Abs` block type.
pub static DESCRIPTOR: OpDescriptor = unary_descriptor(
    "Abs",
    "Absolute value y = |x|, elementwise (TensorFlow's Abs). float32 or float64.",
    eval,
);

fn eval(ctx: &EvalCtx<'_>, _attrs: &Attrs, inputs: &[&Tensor]) -> Result<Vec<Tensor>, OpError> {
    eval_abs(ctx, inputs)
}
