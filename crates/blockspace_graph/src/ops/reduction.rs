//! What `Sum` and `Max` share: ports, the `keep_dims` attribute, inference and evaluation.

use super::common::{
    FLOATS, INDICES, Ty, check_dtypes, float_one, kernel_error, known_ints, sized_output, wired,
};
use super::{
    AttrDefault, AttrKind, AttrSpec, EvalCtx, EvalFn, InferCtx, InferFn, InferInput, OpDescriptor,
    OpError, PortLayout, PortSpec, attr_bool,
};
use crate::kernels::{ReduceOp, ReduceParams, reduce_with_params};
use crate::tensor::{Tensor, TensorMeta};
use crate::value::Attrs;

/// A descriptor for TensorFlow's reduction `type_id` (`input`, `axis` → `output`).
pub(crate) const fn reduction_descriptor(
    type_id: &'static str,
    doc: &'static str,
    infer: InferFn,
    eval: EvalFn,
) -> OpDescriptor {
    OpDescriptor {
        type_id,
        display_name: type_id,
        category: "Reduction",
        doc,
        inputs: &[
            PortSpec {
                name: "input",
                doc: "The tensor to reduce (float32 or float64, any shape).",
                dtypes: FLOATS,
                rank: None,
                layout: PortLayout::Plain,
            },
            PortSpec {
                name: "axis",
                doc: "Axes to reduce: int32 or int64, a scalar or a vector; negative axes count \
                      from the end; [] reduces nothing.",
                dtypes: INDICES,
                rank: None,
                layout: PortLayout::Plain,
            },
        ],
        outputs: &[PortSpec {
            name: "output",
            doc: "The reduced tensor, dtype of input.",
            dtypes: FLOATS,
            rank: None,
            layout: PortLayout::Plain,
        }],
        attrs: &[AttrSpec {
            name: "keep_dims",
            doc: "Keep each reduced axis as size 1 (true) or drop it (false).",
            kind: AttrKind::Bool,
            default: AttrDefault::Bool(false),
            visible_when: None,
        }],
        infer,
        eval,
        fold_constants: false,
        cache_salt: None,
    }
}

fn params(shape: &[usize], axis: &[i64], attrs: &Attrs) -> Result<ReduceParams, OpError> {
    let keep_dims = attr_bool(attrs, "keep_dims")?;
    ReduceParams::new(shape, axis, keep_dims).map_err(|e| kernel_error(e, Some("axis"), None))
}

/// Infers the output of the reduction `op_name`, with TensorFlow's dtype and axis checks.
pub(crate) fn infer_reduction(
    op_name: &str,
    ctx: &InferCtx<'_>,
    attrs: &Attrs,
    inputs: &[Option<InferInput<'_>>],
) -> Result<Vec<TensorMeta>, OpError> {
    let [input, axis] = wired(inputs, ["input", "axis"])?;
    check_dtypes(
        op_name,
        &[
            ("input", input.meta.dtype, Ty::T(None)),
            ("axis", axis.meta.dtype, Ty::Index("Tidx")),
        ],
    )?;
    let p = params(&input.meta.shape, &known_ints("axis", axis)?, attrs)?;
    sized_output(ctx, "the result", "input", input.meta.dtype, p.output_shape)
}

/// Evaluates the reduction `op` on the block's inputs.
pub(crate) fn eval_reduction(
    op: ReduceOp,
    ctx: &EvalCtx<'_>,
    attrs: &Attrs,
    inputs: &[&Tensor],
) -> Result<Vec<Tensor>, OpError> {
    let [input, axis] = inputs else {
        return Err(OpError::new(format!(
            "expected 2 inputs, got {}",
            inputs.len()
        )));
    };
    let axis: Vec<i64> = axis
        .to_i64()
        .ok_or_else(|| {
            OpError::port(
                "axis",
                format!("`axis` is {}; use int32 or int64", axis.dtype()),
            )
        })?
        .iter()
        .copied()
        .collect();
    let p = params(input.shape(), &axis, attrs)?;
    let out = float_one!(("input", input), |x| reduce_with_params(
        op,
        &p,
        x.view(),
        ctx.kernel
    )
    .map_err(|e| kernel_error(e, Some("input"), None))?);
    Ok(vec![out])
}
