//! Helpers the block types share: wired-input checks, dtype agreement, output size guards,
//! and mapping kernel errors onto the port or attribute they are about.

use super::{InferCtx, InferInput, OpError};
use crate::kernels::KernelError;
use crate::tensor::{DType, Tensor, TensorMeta};

/// The float dtypes every computing block accepts.
pub(crate) const FLOATS: &[DType] = &[DType::Float32, DType::Float64];
/// The integer dtypes of shape and axis operands.
pub(crate) const INDICES: &[DType] = &[DType::Int32, DType::Int64];

/// The inputs named `names`, all of which must be wired.
pub(crate) fn wired<'a, const N: usize>(
    inputs: &[Option<InferInput<'a>>],
    names: [&str; N],
) -> Result<[InferInput<'a>; N], OpError> {
    let mut out = Vec::with_capacity(N);
    for (i, name) in names.iter().enumerate() {
        match inputs.get(i).copied().flatten() {
            Some(x) => out.push(x),
            None => {
                return Err(OpError::port(
                    name,
                    format!("`{name}` is not connected; wire a tensor into it"),
                ));
            }
        }
    }
    out.try_into()
        .map_err(|_| OpError::new("internal: wrong number of inputs"))
}

/// Checks that `b` (port `b_name`) has the dtype of `a` (port `a_name`).
pub(crate) fn same_dtype(a_name: &str, a: DType, b_name: &str, b: DType) -> Result<(), OpError> {
    if a == b {
        Ok(())
    } else {
        Err(OpError::port(
            b_name,
            format!(
                "`{b_name}` is {b} but `{a_name}` is {a}; give both the same float dtype (float32 or float64)"
            ),
        ))
    }
}

/// How TensorFlow types an input: by the op's float attribute `T`, fixed int32, or by an index
/// attribute (`Tshape`, `Tidx`: int32 or int64).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ty {
    /// The op's `T`; `Some(list)` gives TensorFlow's allowed list for its error text.
    T(Option<&'static str>),
    /// Always int32.
    Int32,
    /// int32 or int64, by the named attribute.
    Index(&'static str),
}

/// TensorFlow's C++ name of a dtype, as its messages print it.
fn tf_name(d: DType) -> &'static str {
    match d {
        DType::Float32 => "float",
        DType::Float64 => "double",
        DType::Int32 => "int32",
        DType::Int64 => "int64",
    }
}

/// The conv ops' `T` list, as TensorFlow prints it.
pub(crate) const CONV_T: Option<&str> = Some("half, bfloat16, float, double");

/// Checks the inputs' dtypes as TensorFlow types `op`'s arguments, in input order, with
/// TensorFlow's texts (and how to fix it): `inputs` are `(port, dtype, how typed)`.
pub(crate) fn check_dtypes(op: &str, inputs: &[(&str, DType, Ty)]) -> Result<(), OpError> {
    let mut t: Option<(&str, DType)> = None;
    for (i, &(name, dt, ty)) in inputs.iter().enumerate() {
        match (ty, t) {
            (Ty::T(allowed), None) => {
                if !dt.is_float() {
                    let message = match allowed {
                        Some(list) => format!(
                            "Value for attr 'T' of {} is not in the list of allowed values: {list}; Blockspace computes float32 and float64: give `{name}` one of those",
                            tf_name(dt)
                        ),
                        None => format!(
                            "`{name}` is {dt}; Blockspace's {op} computes float32 and float64: give it one of those"
                        ),
                    };
                    return Err(OpError::port(name, message));
                }
                t = Some((name, dt));
            }
            (Ty::T(_), Some((first, tdt))) if tdt != dt => {
                return Err(OpError::port(
                    name,
                    format!(
                        "cannot compute {op} as input #{i}(zero-based) was expected to be a {} tensor but is a {} tensor; give `{name}` the dtype of `{first}` ({tdt})",
                        tf_name(tdt),
                        tf_name(dt)
                    ),
                ));
            }
            (Ty::Int32, _) if dt != DType::Int32 => {
                return Err(OpError::port(
                    name,
                    format!(
                        "cannot compute {op} as input #{i}(zero-based) was expected to be a int32 tensor but is a {} tensor; make `{name}` int32",
                        tf_name(dt)
                    ),
                ));
            }
            (Ty::Index(attr), _) if !matches!(dt, DType::Int32 | DType::Int64) => {
                return Err(OpError::port(
                    name,
                    format!(
                        "Value for attr '{attr}' of {} is not in the list of allowed values: int32, int64; make `{name}` int32 or int64",
                        tf_name(dt)
                    ),
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// The integer values of a shape or axis operand known at check time, or an error saying
/// how to make them known.
pub(crate) fn known_ints(port: &str, x: InferInput<'_>) -> Result<Vec<i64>, OpError> {
    match x.value.and_then(Tensor::to_i64) {
        Some(v) => Ok(v.iter().copied().collect()),
        None => Err(OpError::port(
            port,
            format!(
                "its values ({} {:?}) are not known before running; feed `{port}` from a small Input block",
                x.meta.dtype, x.meta.shape
            ),
        )),
    }
}

/// The output's meta, refused when it would exceed the memory limit.
pub(crate) fn sized_output(
    ctx: &InferCtx<'_>,
    op: &'static str,
    port: &str,
    dtype: DType,
    shape: Vec<usize>,
) -> Result<Vec<TensorMeta>, OpError> {
    let elements = shape
        .iter()
        .try_fold(1u64, |a, &d| a.checked_mul(d as u64))
        .unwrap_or(u64::MAX);
    ctx.limit
        .check(op, elements, dtype.size_of())
        .map_err(|e| OpError::port(port, format!("output shape {shape:?} is too large: {e}")))?;
    Ok(vec![TensorMeta { dtype, shape }])
}

/// A kernel error as a block error on `port` or `attr`: TensorFlow's text verbatim (so it can
/// be compared with TensorFlow's), then the kernel's hint on how to fix it.
pub(crate) fn kernel_error(e: KernelError, port: Option<&str>, attr: Option<&str>) -> OpError {
    if e == KernelError::Cancelled {
        return OpError::cancelled();
    }
    // Running out of the memory budget is the block's, not one input's.
    let (port, attr) = if matches!(e, KernelError::OverBudget { .. }) {
        (None, None)
    } else {
        (port, attr)
    };
    let text = e.to_string();
    let message = match e.hint() {
        Some(h) if text.ends_with('.') => {
            let mut c = h.chars();
            let first = c.next().map(|f| f.to_uppercase().collect::<String>());
            format!("{text} {}{}", first.unwrap_or_default(), c.as_str())
        }
        Some(h) => format!("{text}; {h}"),
        None => text,
    };
    OpError {
        port: port.map(str::to_owned),
        attr: attr.map(str::to_owned),
        message,
        cancelled: false,
    }
}

/// Runs `$body` on two tensors of the same float dtype (`$x`, `$y` bound to their arrays) and
/// wraps the result as a tensor of that dtype; any other pair returns a dtype error on `$b_name`.
macro_rules! float_pair {
    (($a_name:expr, $a:expr), ($b_name:expr, $b:expr), |$x:ident, $y:ident| $body:expr) => {
        match ($a, $b) {
            (Tensor::F32($x), Tensor::F32($y)) => Tensor::F32($body),
            (Tensor::F64($x), Tensor::F64($y)) => Tensor::F64($body),
            (a, b) => {
                let (da, db) = (a.dtype(), b.dtype());
                return Err(crate::ops::common::same_dtype($a_name, da, $b_name, db)
                    .err()
                    .unwrap_or_else(|| {
                        OpError::port($b_name, format!("expected float32 or float64, got {db}"))
                    }));
            }
        }
    };
}
pub(crate) use float_pair;

/// Runs `$body` on one float tensor (`$x` bound to its array) and wraps the result as a tensor
/// of that dtype; an integer tensor returns a dtype error on `$name`.
macro_rules! float_one {
    (($name:expr, $a:expr), |$x:ident| $body:expr) => {
        match $a {
            Tensor::F32($x) => Tensor::F32($body),
            Tensor::F64($x) => Tensor::F64($body),
            other => {
                return Err(OpError::port(
                    $name,
                    format!("`{}` is {}; use float32 or float64", $name, other.dtype()),
                ));
            }
        }
    };
}
pub(crate) use float_one;
