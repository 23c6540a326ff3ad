//! Generic conformance cases (`shared/conformance/ops/`): `op`, `inputs` by TensorFlow's
//! argument names, `attrs` by TensorFlow's attribute names, run through the block registry.

use ndarray::{ArrayD, IxDyn};
use serde_json::Value;

use super::CaseFailure;
use super::{
    Compare, Expectation, Operand, ParseProblem, ParseResult, compare_values, expectation, field,
    operand, string,
};
use crate::Registry;
use crate::kernels::KernelContext;
use crate::ops::{EvalCtx, InferCtx, InferInput, OpError};
use crate::tensor::{DType, Tensor};
use crate::value::{AttrValue, Attrs};

/// A tensor operand with its dtype.
#[derive(Debug, Clone, PartialEq)]
pub struct TypedOperand {
    /// Element type.
    pub dtype: DType,
    /// Shape and row-major values (integers are exact in `f64` up to 2^53).
    pub operand: Operand,
}

impl TypedOperand {
    /// The operand as a tensor of its dtype.
    ///
    /// # Errors
    /// When the values do not fill the shape, or an integer value does not fit the dtype.
    pub fn to_tensor(&self) -> Result<Tensor, CaseFailure> {
        self.tensor().map_err(CaseFailure)
    }

    fn tensor(&self) -> Result<Tensor, String> {
        let shape = IxDyn(&self.operand.shape);
        let data = &self.operand.data;
        let int = |v: f64| -> Result<i64, String> {
            if v.fract() == 0.0 && v.abs() < 9.007_199_254_740_992e15 {
                Ok(v as i64)
            } else {
                Err(format!("{v} is not an integer"))
            }
        };
        let bad =
            |e: ndarray::ShapeError| format!("bad operand shape {:?}: {e}", self.operand.shape);
        Ok(match self.dtype {
            DType::Float32 => Tensor::F32(
                ArrayD::from_shape_vec(shape, data.iter().map(|&v| v as f32).collect())
                    .map_err(bad)?,
            ),
            DType::Float64 => {
                Tensor::F64(ArrayD::from_shape_vec(shape, data.clone()).map_err(bad)?)
            }
            DType::Int64 => Tensor::I64(
                ArrayD::from_shape_vec(
                    shape,
                    data.iter().map(|&v| int(v)).collect::<Result<_, _>>()?,
                )
                .map_err(bad)?,
            ),
            DType::Int32 => {
                let values = data
                    .iter()
                    .map(|&v| {
                        int(v).and_then(|i| {
                            i32::try_from(i).map_err(|_| format!("{i} does not fit int32"))
                        })
                    })
                    .collect::<Result<_, _>>()?;
                Tensor::I32(ArrayD::from_shape_vec(shape, values).map_err(bad)?)
            }
        })
    }
}

/// One generic case.
#[derive(Debug, Clone, PartialEq)]
pub struct OpCase {
    /// Unique name.
    pub name: String,
    /// TensorFlow's op name, which is the block type.
    pub op: String,
    /// Operands by TensorFlow's argument name.
    pub inputs: Vec<(String, TypedOperand)>,
    /// Attributes by TensorFlow's name, as the JSON gives them.
    pub attrs: Vec<(String, Value)>,
    /// What must happen.
    pub expect: Expectation<TypedOperand>,
}

fn typed_operand(v: &Value, at: &str, key: &str) -> ParseResult<TypedOperand> {
    let (x, path) = field(v, at, key)?;
    let dtype = string(x, &path, "dtype")?
        .parse::<DType>()
        .map_err(|e| ParseProblem(format!("{path}.dtype"), e.to_string()))?;
    Ok(TypedOperand {
        dtype,
        operand: operand(v, at, key)?,
    })
}

/// Parses one generic case at JSON path `at`.
pub(super) fn parse(v: &Value, at: &str) -> ParseResult<OpCase> {
    let name = string(v, at, "name")?;
    let op = string(v, at, "op")?;
    let (inputs_v, inputs_path) = field(v, at, "inputs")?;
    let inputs_obj = inputs_v.as_object().ok_or(ParseProblem(
        inputs_path.clone(),
        "expected an object of operands".to_owned(),
    ))?;
    let inputs = inputs_obj
        .keys()
        .map(|k| Ok((k.clone(), typed_operand(inputs_v, &inputs_path, k)?)))
        .collect::<ParseResult<Vec<_>>>()?;
    let attrs = match v.get("attrs") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Object(m)) => m.iter().map(|(k, x)| (k.clone(), x.clone())).collect(),
        Some(other) => {
            return Err(ParseProblem(
                format!("{at}.attrs"),
                format!("expected an object, found {other}"),
            ));
        }
    };
    Ok(OpCase {
        name,
        op,
        inputs,
        attrs,
        expect: expectation(v, at, typed_operand)?,
    })
}

/// An attribute value as the JSON gives it; the block's own checks judge it (so that a bad
/// value gets TensorFlow's message, as in TensorFlow).
fn attr_value(name: &str, v: &Value) -> Result<AttrValue, String> {
    let list = |items: &[Value]| {
        items
            .iter()
            .map(Value::as_i64)
            .collect::<Option<Vec<i64>>>()
    };
    match v {
        Value::Bool(b) => Some(AttrValue::Bool(*b)),
        Value::String(s) => Some(AttrValue::Str(s.clone())),
        Value::Number(n) => n
            .as_i64()
            .map(AttrValue::Int)
            .or_else(|| n.as_f64().map(AttrValue::Float)),
        Value::Array(items) => list(items).map(AttrValue::IntList),
        Value::Null | Value::Object(_) => None,
    }
    .ok_or_else(|| format!("attribute {name:?} has a value blocks cannot hold: {v}"))
}

/// Runs a generic case through the registry: the descriptor's inference (TensorFlow's checks)
/// then its evaluation, as the executor would.
pub(super) fn run(case: &OpCase) -> Result<(), CaseFailure> {
    run_op(case).map_err(CaseFailure)
}

fn run_op(case: &OpCase) -> Result<(), String> {
    let reg = Registry::builtin();
    let d = reg.lookup(&case.op).map_err(|e| e.to_string())?;
    let mut attrs: Attrs = d.default_attrs();
    for (k, v) in &case.attrs {
        if d.attr(k).is_none() {
            return Err(format!(
                "{} has no attribute {k:?}; known: {}",
                d.type_id,
                d.attr_names()
            ));
        }
        attrs.insert(k.clone(), attr_value(k, v)?);
    }
    let mut tensors = Vec::with_capacity(d.inputs.len());
    for port in d.inputs {
        let operand = case
            .inputs
            .iter()
            .find(|(k, _)| k == port.name)
            .ok_or_else(|| format!("the case gives no operand {:?}", port.name))?;
        tensors.push(operand.1.tensor()?);
    }
    if let Some((k, _)) = case.inputs.iter().find(|(k, _)| d.input_index(k).is_none()) {
        return Err(format!("{} has no input {k:?}", d.type_id));
    }
    let metas: Vec<_> = tensors.iter().map(Tensor::meta).collect();
    let infer_inputs: Vec<Option<InferInput<'_>>> = metas
        .iter()
        .zip(&tensors)
        .map(|(meta, t)| {
            Some(InferInput {
                meta,
                value: Some(t),
            })
        })
        .collect();
    let kernel = KernelContext::default();
    let outcome: Result<Vec<Tensor>, OpError> = (d.infer)(
        &InferCtx {
            base_dir: None,
            limit: kernel.limit,
        },
        &attrs,
        &infer_inputs,
    )
    .and_then(|_| {
        let refs: Vec<&Tensor> = tensors.iter().collect();
        (d.eval)(
            &EvalCtx {
                kernel: &kernel,
                base_dir: None,
            },
            &attrs,
            &refs,
        )
    });
    match (&case.expect, outcome) {
        (Expectation::Error { message }, Err(e)) if e.message.contains(message.as_str()) => Ok(()),
        (Expectation::Error { message }, Err(e)) => Err(format!(
            "expected error {message:?}, got error {:?}",
            e.to_string()
        )),
        (Expectation::Error { message }, Ok(out)) => Err(format!(
            "expected error {message:?}, got a result of shape {:?}",
            out.first().map(Tensor::shape)
        )),
        (Expectation::Value { .. }, Err(e)) => {
            Err(format!("expected a result, got error {:?}", e.to_string()))
        }
        (Expectation::Value { output, compare }, Ok(out)) => {
            let got = out.first().ok_or("the block gave no output")?;
            if got.dtype() != output.dtype {
                return Err(format!(
                    "dtype differs: expected {}, got {}",
                    output.dtype,
                    got.dtype()
                ));
            }
            compare_tensor(&output.operand, *compare, got)
        }
    }
}

fn compare_tensor(expected: &Operand, compare: Compare, got: &Tensor) -> Result<(), String> {
    let shape = got.shape();
    match got {
        Tensor::F32(a) => compare_values(
            expected,
            compare,
            shape,
            a.iter().map(|&v| f64::from(v)),
            |w| f64::from(w as f32),
        ),
        Tensor::F64(a) => compare_values(expected, compare, shape, a.iter().copied(), |w| w),
        Tensor::I32(a) => compare_values(
            expected,
            compare,
            shape,
            a.iter().map(|&v| f64::from(v)),
            |w| w,
        ),
        Tensor::I64(a) => {
            compare_values(expected, compare, shape, a.iter().map(|&v| v as f64), |w| w)
        }
    }
}
