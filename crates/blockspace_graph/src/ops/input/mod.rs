//! `Input`: produces one tensor from literal text, a constant, a range, a seeded random
//! distribution, or a `.npy` file.
//!
//! One module per mode family: `literal` (the text parser), `generated` (fill, range and the
//! seeded random distributions), `npy_file` (the `.npy` mode; the file format itself lives in
//! [`crate::npy`]). This file holds the descriptor, the attributes shared by every mode and the
//! dispatch.
//!
//! Random values are portable: the generator is ChaCha8 seeded with the 8 little-endian bytes of
//! `seed` (the rest of the 32-byte key zero), a uniform number is `(next_u64 >> 11) * 2^-53`, and
//! normal numbers come from Box-Muller with the pure-Rust `libm` functions, so the same seed gives
//! the same tensor on every machine.

use super::{
    AttrDefault, AttrKind, AttrSpec, EvalCtx, InferCtx, InferInput, OpDescriptor, OpError,
    PortLayout, PortSpec, attr_f64, attr_i64, attr_list, attr_str,
};
use crate::kernels::{KernelContext, KernelError, MemoryLimit, Reservation};
use crate::tensor::{DType, Tensor, TensorMeta};
use crate::value::Attrs;
use ndarray::{ArrayD, IxDyn};
use std::path::Path;

mod generated;
mod literal;
mod npy_file;

use generated::{check_mode_params, generate};
use literal::literal_shape;
pub use literal::{Literal, parse_literal};
use npy_file::{npy_header, npy_path, read_npy};

const MODES: &[&str] = &["literal", "fill", "range", "uniform", "normal", "npy"];
const DTYPES: &[&str] = &["int32", "int64", "float32", "float64"];

/// The `Input` block type.
pub static DESCRIPTOR: OpDescriptor = OpDescriptor {
    type_id: "Input",
    display_name: "Input",
    category: "Inputs",
    doc: "Produces one tensor: literal values, a constant, a range, seeded random numbers, or a .npy file.",
    inputs: &[],
    outputs: &[PortSpec {
        name: "output",
        doc: "The tensor.",
        dtypes: &DType::ALL,
        rank: None,
        layout: PortLayout::Plain,
    }],
    attrs: &[
        AttrSpec {
            name: "mode",
            doc: "Where the values come from: literal text, fill, range, uniform, normal or npy file.",
            kind: AttrKind::Enum(MODES),
            default: AttrDefault::Str("literal"),
            visible_when: None,
        },
        AttrSpec {
            name: "dtype",
            doc: "Element type. For npy it must match the file.",
            kind: AttrKind::Enum(DTYPES),
            default: AttrDefault::Str("float32"),
            visible_when: None,
        },
        AttrSpec {
            name: "shape",
            doc: "Tensor shape, e.g. [1, 4, 4, 4, 3]. For literal and npy: empty means \"as given\", otherwise it must match.",
            kind: AttrKind::Shape,
            default: AttrDefault::IntList(&[]),
            visible_when: None,
        },
        AttrSpec {
            name: "values",
            doc: "Literal values: `1, 2, 3` or nested brackets such as `[[1, 2], [3, 4]]`.",
            kind: AttrKind::Text,
            default: AttrDefault::Str("1, 2, 3"),
            visible_when: Some(("mode", &["literal"])),
        },
        AttrSpec {
            name: "value",
            doc: "The constant every element gets.",
            kind: AttrKind::Float,
            default: AttrDefault::Float(0.0),
            visible_when: Some(("mode", &["fill"])),
        },
        AttrSpec {
            name: "start",
            doc: "First value of the range.",
            kind: AttrKind::Float,
            default: AttrDefault::Float(0.0),
            visible_when: Some(("mode", &["range"])),
        },
        AttrSpec {
            name: "step",
            doc: "Difference between consecutive values of the range (row-major order).",
            kind: AttrKind::Float,
            default: AttrDefault::Float(1.0),
            visible_when: Some(("mode", &["range"])),
        },
        AttrSpec {
            name: "low",
            doc: "Uniform: smallest value (inclusive).",
            kind: AttrKind::Float,
            default: AttrDefault::Float(0.0),
            visible_when: Some(("mode", &["uniform"])),
        },
        AttrSpec {
            name: "high",
            doc: "Uniform: upper bound (exclusive for integer dtypes).",
            kind: AttrKind::Float,
            default: AttrDefault::Float(1.0),
            visible_when: Some(("mode", &["uniform"])),
        },
        AttrSpec {
            name: "mean",
            doc: "Normal: mean.",
            kind: AttrKind::Float,
            default: AttrDefault::Float(0.0),
            visible_when: Some(("mode", &["normal"])),
        },
        AttrSpec {
            name: "std",
            doc: "Normal: standard deviation (>= 0).",
            kind: AttrKind::Float,
            default: AttrDefault::Float(1.0),
            visible_when: Some(("mode", &["normal"])),
        },
        AttrSpec {
            name: "seed",
            doc: "Random seed: the same seed gives the same tensor on every machine.",
            kind: AttrKind::Int {
                min: 0,
                max: i64::MAX,
            },
            default: AttrDefault::Int(0),
            visible_when: Some(("mode", &["uniform", "normal"])),
        },
        AttrSpec {
            name: "path",
            doc: "The .npy file, relative to the page file.",
            kind: AttrKind::Path {
                extensions: &["npy"],
            },
            default: AttrDefault::Str(""),
            visible_when: Some(("mode", &["npy"])),
        },
    ],
    infer,
    eval,
    fold_constants: true,
    cache_salt: Some(cache_salt),
    python: None,
};

fn dtype_attr(attrs: &Attrs) -> Result<DType, OpError> {
    let s = attr_str(attrs, "dtype")?;
    s.parse()
        .map_err(|e: crate::tensor::ParseDTypeError| OpError::attr("dtype", e.to_string()))
}

fn shape_attr(attrs: &Attrs) -> Result<Vec<usize>, OpError> {
    attr_list(attrs, "shape")?
        .iter()
        .map(|&d| {
            usize::try_from(d).map_err(|_| {
                OpError::attr(
                    "shape",
                    format!("dimension {d} is negative; dimensions must be >= 0"),
                )
            })
        })
        .collect()
}

/// Elements of `shape`, or an error on the attribute `attr` when they overflow.
fn elements(shape: &[usize], attr: &str) -> Result<u64, OpError> {
    shape
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64))
        .ok_or_else(|| {
            OpError::attr(
                attr,
                format!("shape {shape:?} has more than 2^64 elements; use a smaller shape"),
            )
        })
}

fn too_large(shape: &[usize], dtype: DType, attr: &str) -> impl FnOnce(KernelError) -> OpError {
    move |e| match e {
        // Not the shape's fault alone: what is held already counts.
        KernelError::OverBudget { .. } => OpError::new(format!("shape {shape:?} ({dtype}): {e}")),
        e => OpError::attr(attr, format!("shape {shape:?} ({dtype}) is too large: {e}")),
    }
}

/// Checks `shape` x `dtype` against the size guard before anything is allocated.
fn guard(limit: &MemoryLimit, shape: &[usize], dtype: DType, attr: &str) -> Result<(), OpError> {
    limit
        .check("Input tensor", elements(shape, attr)?, dtype.size_of())
        .map_err(too_large(shape, dtype, attr))
}

/// As [`guard`], and reserves the tensor in the run's memory ledger (kept with the result, see
/// [`KernelContext::reserve_output`]; hold what is returned while the tensor is built).
fn reserve(
    kernel: &KernelContext,
    shape: &[usize],
    dtype: DType,
    attr: &str,
) -> Result<Reservation, OpError> {
    kernel
        .reserve_output("the Input tensor", elements(shape, attr)?, dtype.size_of())
        .map_err(too_large(shape, dtype, attr))
}

fn infer(
    ctx: &InferCtx<'_>,
    attrs: &Attrs,
    _inputs: &[Option<InferInput<'_>>],
) -> Result<Vec<TensorMeta>, OpError> {
    let dtype = dtype_attr(attrs)?;
    let shape = match attr_str(attrs, "mode")? {
        "literal" => {
            let lit = parse_literal(attr_str(attrs, "values")?, dtype)?;
            literal_shape(&lit, &shape_attr(attrs)?)?
        }
        "npy" => {
            let path = npy_path(attrs, ctx.base_dir)?;
            let header = npy_header(&path, dtype, &shape_attr(attrs)?)?;
            header.shape
        }
        mode => {
            check_mode_params(mode, attrs, dtype)?;
            shape_attr(attrs)?
        }
    };
    guard(&ctx.limit, &shape, dtype, "shape")?;
    Ok(vec![TensorMeta { dtype, shape }])
}

fn eval(ctx: &EvalCtx<'_>, attrs: &Attrs, _inputs: &[&Tensor]) -> Result<Vec<Tensor>, OpError> {
    let dtype = dtype_attr(attrs)?;
    let kernel = ctx.kernel;
    let tensor = match attr_str(attrs, "mode")? {
        "literal" => {
            let lit = parse_literal(attr_str(attrs, "values")?, dtype)?;
            let shape = literal_shape(&lit, &shape_attr(attrs)?)?;
            let _tensor = reserve(kernel, &shape, dtype, "shape")?;
            from_f64s(dtype, &shape, &lit.values, &lit.ints)?
        }
        "npy" => {
            let path = npy_path(attrs, ctx.base_dir)?;
            let header = npy_header(&path, dtype, &shape_attr(attrs)?)?;
            let _tensor = reserve(kernel, &header.shape, dtype, "shape")?;
            // The file's bytes are read whole, then decoded (a Fortran-order file once more).
            let copies = 1 + u64::from(header.fortran_order);
            let _staging = kernel
                .reserve(
                    "the .npy file's data while it is decoded",
                    elements(&header.shape, "shape")?.saturating_mul(copies),
                    dtype.size_of(),
                )
                .map_err(too_large(&header.shape, dtype, "shape"))?;
            read_npy(&path, &kernel.limit)?
        }
        mode => {
            check_mode_params(mode, attrs, dtype)?;
            let shape = shape_attr(attrs)?;
            let _tensor = reserve(kernel, &shape, dtype, "shape")?;
            let n: usize = shape.iter().product();
            generate(mode, attrs, dtype, &shape, n, ctx)?
        }
    };
    Ok(vec![tensor])
}

fn cache_salt(attrs: &Attrs, base_dir: Option<&Path>) -> String {
    // A .npy input re-runs when the file changes (size or modification time).
    if attrs.get("mode").and_then(|v| v.as_str()) != Some("npy") {
        return String::new();
    }
    match npy_path(attrs, base_dir) {
        Ok(p) => match std::fs::metadata(&p) {
            Ok(m) => format!("{}|{}|{:?}", p.display(), m.len(), m.modified().ok()),
            Err(_) => format!("{}|missing", p.display()),
        },
        Err(_) => String::new(),
    }
}

/// Builds a tensor from f64 values (or exact i64 values for integer literals).
pub(super) fn from_f64s(
    dtype: DType,
    shape: &[usize],
    values: &[f64],
    ints: &[i64],
) -> Result<Tensor, OpError> {
    let shape_err = |e: ndarray::ShapeError| OpError::attr("shape", format!("{shape:?}: {e}"));
    let s = IxDyn(shape);
    Ok(match dtype {
        DType::Int32 => {
            let v: Vec<i32> = if ints.is_empty() {
                values.iter().map(|&x| x as i32).collect()
            } else {
                ints.iter().map(|&x| x as i32).collect()
            };
            Tensor::I32(ArrayD::from_shape_vec(s, v).map_err(shape_err)?)
        }
        DType::Int64 => {
            let v: Vec<i64> = if ints.is_empty() {
                values.iter().map(|&x| x as i64).collect()
            } else {
                ints.to_vec()
            };
            Tensor::I64(ArrayD::from_shape_vec(s, v).map_err(shape_err)?)
        }
        DType::Float32 => Tensor::F32(
            ArrayD::from_shape_vec(s, values.iter().map(|&x| x as f32).collect())
                .map_err(shape_err)?,
        ),
        DType::Float64 => {
            Tensor::F64(ArrayD::from_shape_vec(s, values.to_vec()).map_err(shape_err)?)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::KernelContext;
    use crate::value::AttrValue;

    pub(super) fn attrs(pairs: &[(&str, AttrValue)]) -> Attrs {
        let mut a = DESCRIPTOR.default_attrs();
        for (k, v) in pairs {
            a.insert((*k).to_owned(), v.clone());
        }
        a
    }
    pub(super) fn s(v: &str) -> AttrValue {
        AttrValue::Str(v.to_owned())
    }
    pub(super) fn run(a: &Attrs) -> Result<Tensor, OpError> {
        let k = KernelContext::default();
        let ctx = EvalCtx {
            kernel: &k,
            base_dir: None,
        };
        eval(&ctx, a, &[]).map(|mut v| v.remove(0))
    }

    #[test]
    fn absurd_shapes_are_refused_before_allocating() {
        let a = attrs(&[
            ("mode", s("fill")),
            (
                "shape",
                AttrValue::IntList(vec![1_000_000, 1_000_000, 1000]),
            ),
        ]);
        let e = run(&a).unwrap_err();
        assert_eq!(e.attr.as_deref(), Some("shape"));
        assert!(
            e.message.contains("too large") || e.message.contains("2^64"),
            "{}",
            e.message
        );
        let ictx = InferCtx {
            base_dir: None,
            limit: MemoryLimit::default(),
        };
        assert!(infer(&ictx, &a, &[]).is_err());
        let huge = attrs(&[
            ("mode", s("fill")),
            ("shape", AttrValue::IntList(vec![i64::MAX, i64::MAX])),
        ]);
        assert!(run(&huge).is_err());
    }
}
