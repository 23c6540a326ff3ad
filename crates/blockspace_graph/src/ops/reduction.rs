//! What `Sum` and `Max` share: ports, the `keep_dims` attribute, inference and evaluation.

use super::common::{
    FLOATS, INDICES, Ty, check_dtypes, float_one, kernel_error, known_ints, sized_output, wired,
};
use super::{
    AttrDefault, AttrKind, AttrSpec, EvalCtx, EvalFn, InferCtx, InferFn, InferInput, OpDescriptor,
    OpError, PortLayout, PortSpec, attr_bool,
};
use crate::kernels::{KernelContext, ReduceOp, ReduceParams, reduce_with_params};
use crate::ops::python::{Framework, PyBlock, PyCall, PythonFn};
use crate::tensor::{Tensor, TensorMeta};
use crate::value::Attrs;

/// A descriptor for TensorFlow's reduction `type_id` (`input`, `axis` → `output`).
pub(crate) const fn reduction_descriptor(
    type_id: &'static str,
    doc: &'static str,
    infer: InferFn,
    eval: EvalFn,
    python: PythonFn,
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
        python: Some(python),
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

/// The value Blockspace's `Max` gives over an empty extent (the kernel's own answer: TensorFlow
/// 2.21 gives `-inf`; older kernels gave the lowest finite value), asked of the kernel so the
/// export follows it.
fn max_of_nothing() -> Option<f64> {
    let p = ReduceParams::new(&[0], &[0], false).ok()?;
    let x = ndarray::ArrayD::<f64>::zeros(ndarray::IxDyn(&[0]));
    let y = reduce_with_params(ReduceOp::Max, &p, x.view(), &KernelContext::default()).ok()?;
    y.iter().next().copied()
}

/// The Python form of a reduction: TensorFlow's `tf.raw_ops.<Sum|Max>(input=…, axis=…,
/// keep_dims=…)`, or PyTorch's `torch.sum` / `torch.amax` over the axes known at check time,
/// made non-negative and distinct. PyTorch reduces everything for `dim=[]`, so no axes is a
/// copy. `torch.amax` refuses an empty extent, so `Max` over one is written as the constant
/// Blockspace's kernel gives there; for TensorFlow too, unless that constant is TensorFlow's
/// own `-inf`.
pub(crate) fn reduction_python(b: &PyBlock<'_>, op: ReduceOp) -> Result<PyCall, OpError> {
    let [x, axis] = b.inputs else {
        return Err(OpError::new("expected 2 inputs"));
    };
    let keep_dims = attr_bool(b.attrs, "keep_dims")?;
    let keep = if keep_dims { "True" } else { "False" };
    let axes = known_ints(
        "axis",
        InferInput {
            meta: axis.meta,
            value: axis.value,
        },
    )?;
    let p = params(&x.meta.shape, &axes, b.attrs)?;
    let rank = x.meta.shape.len() as i64;
    let mut dims: Vec<i64> = axes
        .iter()
        .map(|&a| if a < 0 { a + rank } else { a })
        .collect();
    dims.sort_unstable();
    dims.dedup();
    let empty_extent = dims
        .iter()
        .any(|&d| x.meta.shape.get(d as usize).copied() == Some(0));
    let (xv, shape) = (x.var, &p.output_shape);
    let identity = if op == ReduceOp::Max && empty_extent {
        max_of_nothing()
    } else {
        None
    };
    let tf_gives_it = identity.is_some_and(|v| v == f64::NEG_INFINITY);
    if let Some(v) = identity
        && !(b.framework == Framework::TensorFlow && tf_gives_it)
    {
        let value = if v == f64::NEG_INFINITY {
            "float(\"-inf\")".to_owned()
        } else {
            match b.framework {
                Framework::TensorFlow => format!("{xv}.dtype.min"),
                Framework::PyTorch => format!("torch.finfo({xv}.dtype).min"),
            }
        };
        let expr = match b.framework {
            Framework::TensorFlow => {
                format!("tf.fill({shape:?}, tf.constant({value}, dtype={xv}.dtype))")
            }
            Framework::PyTorch => format!("torch.full({shape:?}, {value}, dtype={xv}.dtype)"),
        };
        return Ok(PyCall {
            expr,
            helpers: Vec::new(),
            notes: vec![format!(
                "Max over an empty extent: {}, as Blockspace gives it ({}).",
                if tf_gives_it {
                    "-inf"
                } else {
                    "the dtype's lowest finite value"
                },
                match b.framework {
                    Framework::TensorFlow => "TensorFlow 2.21's CPU kernel gives -inf",
                    Framework::PyTorch => "torch.amax refuses an empty extent",
                }
            )],
        });
    }
    let tf_op = match op {
        ReduceOp::Sum => "Sum",
        ReduceOp::Max => "Max",
    };
    let expr = match b.framework {
        Framework::TensorFlow => format!(
            "tf.raw_ops.{tf_op}(input={xv}, axis={}, keep_dims={keep})",
            axis.var
        ),
        Framework::PyTorch if dims.is_empty() => {
            return Ok(PyCall {
                expr: format!("{xv}.clone()"),
                helpers: Vec::new(),
                notes: vec![
                    "No axes: nothing is reduced (PyTorch would reduce everything for dim=[])."
                        .into(),
                ],
            });
        }
        Framework::PyTorch => match op {
            ReduceOp::Max => format!("torch.amax({xv}, dim={dims:?}, keepdim={keep})"),
            ReduceOp::Sum => format!("torch.sum({xv}, dim={dims:?}, keepdim={keep})"),
        },
    };
    Ok(PyCall::plain(expr))
}
