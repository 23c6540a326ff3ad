//! Conformance vectors: TensorFlow-made cases, read and checked.
//!
//! Two file formats, told apart case by case (see `shared/conformance/README.md` and
//! `shared/conformance/ops/README.md`): one JSON object with `cases`, each a value case
//! (`expected` + `compare`) or an error case (`error.message`).
//! - `Conv3DBackpropInputV2` cases with the operands as top-level fields ([`BackpropInputCase`]),
//!   run through the production kernel.
//! - Generic cases naming their `op`, `inputs` by argument name and `attrs` ([`OpCase`]), run
//!   through the block registry exactly as a block on a page runs: the op's descriptor checks
//!   the operands (TensorFlow's errors) and evaluates them.
//!
//! [`load_file`] parses every case up front (a file that cannot be read or parsed is an
//! error naming the file and the JSON path); [`run_case`] evaluates one case and says what
//! differed.

mod document;
mod op_case;

pub use op_case::{OpCase, TypedOperand};

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use blockspace_kernels::{
    Conv3dBackpropInputAttrs, DataFormat, Element, KernelContext, KernelError, Padding,
    conv3d_backprop_input_v2,
};
use ndarray::{ArrayD, IxDyn};
use serde_json::Value;

/// A conformance file that could not be read or understood.
#[derive(Debug, thiserror::Error)]
#[error("{json_path}: {message} in {}", path.display())]
pub struct ConformanceFileError {
    /// Where in the JSON document (`$` for the whole file).
    pub json_path: String,
    /// What was wrong.
    pub message: String,
    /// The file.
    pub path: PathBuf,
}

/// A tensor operand of a case.
#[derive(Debug, Clone, PartialEq)]
pub struct Operand {
    /// Its shape.
    pub shape: Vec<usize>,
    /// Row-major values.
    pub data: Vec<f64>,
}

/// How a value case's output is compared.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Compare {
    /// Equal values (NaN equals NaN).
    Exact,
    /// `|actual - expected| <= atol + rtol * |expected|` elementwise.
    AllClose {
        /// Relative tolerance.
        rtol: f64,
        /// Absolute tolerance.
        atol: f64,
    },
}

/// What a case expects; `O` is the expected output's type.
#[derive(Debug, Clone, PartialEq)]
pub enum Expectation<O = Operand> {
    /// The op succeeds with this output.
    Value {
        /// The output.
        output: O,
        /// How to compare.
        compare: Compare,
    },
    /// The op fails with an error whose message contains `message`.
    Error {
        /// TensorFlow's message text.
        message: String,
    },
}

/// One conformance case, in either format.
#[derive(Debug, Clone, PartialEq)]
pub enum Case {
    /// A `Conv3DBackpropInputV2` case of `conv3d_backprop_input_v2.json`.
    BackpropInput(BackpropInputCase),
    /// A generic case naming its op (`ops/*.json`).
    Op(OpCase),
}

impl Case {
    /// The case's unique name.
    pub fn name(&self) -> &str {
        match self {
            Case::BackpropInput(c) => &c.name,
            Case::Op(c) => &c.name,
        }
    }
}

/// One `Conv3DBackpropInputV2` case of the original format.
#[derive(Debug, Clone, PartialEq)]
pub struct BackpropInputCase {
    /// Unique name.
    pub name: String,
    /// Shape of the `input_sizes` operand (normally `[5]`).
    pub input_sizes_shape: Vec<usize>,
    /// Values of `input_sizes`.
    pub input_sizes: Vec<i64>,
    /// The filter.
    pub filter: Operand,
    /// The incoming gradient.
    pub out_backprop: Operand,
    /// `strides` attribute.
    pub strides: Vec<i64>,
    /// `dilations` attribute.
    pub dilations: Vec<i64>,
    /// `padding` attribute as written.
    pub padding: String,
    /// `data_format` attribute as written.
    pub data_format: String,
    /// `float32` or `float64`.
    pub dtype: String,
    /// What must happen.
    pub expect: Expectation,
}

/// Reads and parses every case of a conformance file, within the machine's default memory
/// budget (see [`load_file_within`]).
///
/// # Errors
/// A [`ConformanceFileError`] naming the file and the JSON path of the first problem.
pub fn load_file(path: &Path) -> Result<Vec<Case>, ConformanceFileError> {
    load_file_within(path, crate::MachineMemory::detect().default_budget())
}

/// Like [`load_file`], refusing a file whose parse could need more than `budget` bytes, so
/// a huge file is an error, never an out-of-memory abort. The cases are parsed one at a time
/// (see `document`): the parse needs the text twice, the parsed cases and the tree of the
/// largest case (a tree takes up to ~64× its text).
///
/// # Errors
/// A [`ConformanceFileError`] naming the file and the JSON path of the first problem.
pub fn load_file_within(path: &Path, budget: u64) -> Result<Vec<Case>, ConformanceFileError> {
    let err = |json_path: &str, message: String| ConformanceFileError {
        json_path: json_path.to_owned(),
        message,
        path: path.to_owned(),
    };
    let text =
        crate::file::strict_json::read_text_file(path, crate::file::strict_json::MAX_JSON_BYTES)
            .map_err(|e| err("$", format!("cannot read the file ({e})")))?;
    let text = non_finite_as_strings(&text);
    document::parse_cases(&text, budget, |at, case| {
        if case.get("op").is_some() {
            op_case::parse(case, at).map(Case::Op)
        } else {
            parse_case(case, at).map(Case::BackpropInput)
        }
    })
    .map_err(|ParseProblem(p, m)| err(&p, m))
}

/// A problem at a JSON path of a conformance file: `(path, message)`.
#[derive(Debug, thiserror::Error)]
#[error("{0}: {1}")]
struct ParseProblem(String, String);

type ParseResult<T> = Result<T, ParseProblem>;

fn field<'a>(v: &'a Value, at: &str, key: &str) -> ParseResult<(&'a Value, String)> {
    let path = format!("{at}.{key}");
    v.get(key)
        .map(|x| (x, path.clone()))
        .ok_or(ParseProblem(path, "missing".to_owned()))
}

fn string(v: &Value, at: &str, key: &str) -> ParseResult<String> {
    let (x, path) = field(v, at, key)?;
    x.as_str()
        .map(str::to_owned)
        .ok_or(ParseProblem(path, format!("expected a string, found {x}")))
}

fn int_list(v: &Value, at: &str, key: &str) -> ParseResult<Vec<i64>> {
    let (x, path) = field(v, at, key)?;
    let arr = x.as_array().ok_or(ParseProblem(
        path.clone(),
        format!("expected a list of integers, found {x}"),
    ))?;
    arr.iter()
        .enumerate()
        .map(|(i, e)| {
            e.as_i64().ok_or(ParseProblem(
                format!("{path}[{i}]"),
                format!("expected an integer, found {e}"),
            ))
        })
        .collect()
}

fn usize_list(v: &Value, at: &str, key: &str) -> ParseResult<Vec<usize>> {
    let path = format!("{at}.{key}");
    int_list(v, at, key)?
        .into_iter()
        .enumerate()
        .map(|(i, d)| {
            usize::try_from(d)
                .map_err(|_| ParseProblem(format!("{path}[{i}]"), format!("negative size {d}")))
        })
        .collect()
}

fn number(e: &Value, path: &str) -> ParseResult<f64> {
    match e {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.as_str() {
            NAN => Some(f64::NAN),
            INF => Some(f64::INFINITY),
            NEG_INF => Some(f64::NEG_INFINITY),
            _ => None,
        },
        _ => None,
    }
    .ok_or(ParseProblem(
        path.to_owned(),
        format!("expected a number, found {e}"),
    ))
}

fn operand(v: &Value, at: &str, key: &str) -> ParseResult<Operand> {
    let (x, path) = field(v, at, key)?;
    let shape = usize_list(x, &path, "shape")?;
    let (data, data_path) = field(x, &path, "data")?;
    let data = data
        .as_array()
        .ok_or(ParseProblem(
            data_path.clone(),
            "expected a list of numbers".to_owned(),
        ))?
        .iter()
        .enumerate()
        .map(|(i, e)| number(e, &format!("{data_path}[{i}]")))
        .collect::<ParseResult<Vec<f64>>>()?;
    let len = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    if len != Some(data.len()) {
        return Err(ParseProblem(
            data_path,
            format!(
                "has {} values but shape {shape:?} needs {len:?}",
                data.len()
            ),
        ));
    }
    Ok(Operand { shape, data })
}

/// `input_sizes` may be any nested list of integers (error cases use bad ranks).
fn nested_ints(
    v: &Value,
    path: &str,
    shape: &mut Vec<usize>,
    depth: usize,
    out: &mut Vec<i64>,
) -> ParseResult<()> {
    match v {
        Value::Array(items) => {
            if shape.len() == depth {
                shape.push(items.len());
            } else if shape[depth] != items.len() {
                return Err(ParseProblem(
                    path.to_owned(),
                    "ragged nested list".to_owned(),
                ));
            }
            for (i, item) in items.iter().enumerate() {
                nested_ints(item, &format!("{path}[{i}]"), shape, depth + 1, out)?;
            }
            Ok(())
        }
        Value::Number(n) if shape.len() == depth => {
            let x = n.as_i64().ok_or(ParseProblem(
                path.to_owned(),
                format!("expected an integer, found {n}"),
            ))?;
            out.push(x);
            Ok(())
        }
        other => Err(ParseProblem(
            path.to_owned(),
            format!("expected an integer or a list, found {other}"),
        )),
    }
}

fn parse_case(v: &Value, at: &str) -> ParseResult<BackpropInputCase> {
    let name = string(v, at, "name")?;
    let (sizes, sizes_path) = field(v, at, "input_sizes")?;
    let mut input_sizes_shape = Vec::new();
    let mut input_sizes = Vec::new();
    nested_ints(
        sizes,
        &sizes_path,
        &mut input_sizes_shape,
        0,
        &mut input_sizes,
    )?;
    let dilations = if v.get("dilations").is_some() {
        int_list(v, at, "dilations")?
    } else {
        vec![1; 5]
    };
    let data_format = if v.get("data_format").is_some() {
        string(v, at, "data_format")?
    } else {
        "NDHWC".to_owned()
    };
    let expect = expectation(v, at, operand)?;
    Ok(BackpropInputCase {
        name,
        input_sizes_shape,
        input_sizes,
        filter: operand(v, at, "filter")?,
        out_backprop: operand(v, at, "out_backprop")?,
        strides: int_list(v, at, "strides")?,
        dilations,
        padding: string(v, at, "padding")?,
        data_format,
        dtype: string(v, at, "dtype")?,
        expect,
    })
}

/// The `error` or `expected` + `compare` of a case; `output` parses the expected tensor.
fn expectation<O>(
    v: &Value,
    at: &str,
    output: impl Fn(&Value, &str, &str) -> ParseResult<O>,
) -> ParseResult<Expectation<O>> {
    if let Some(error) = v.get("error") {
        return Ok(Expectation::Error {
            message: string(error, &format!("{at}.error"), "message")?,
        });
    }
    let output = output(v, at, "expected")?;
    let (cmp, cmp_path) = field(v, at, "compare")?;
    let compare = match string(cmp, &cmp_path, "mode")?.as_str() {
        "exact" => Compare::Exact,
        "allclose" => {
            let get = |k: &str| -> ParseResult<f64> {
                let (x, p) = field(cmp, &cmp_path, k)?;
                number(x, &p)
            };
            Compare::AllClose {
                rtol: get("rtol")?,
                atol: get("atol")?,
            }
        }
        other => {
            return Err(ParseProblem(
                format!("{cmp_path}.mode"),
                format!("unknown compare mode {other:?}; expected \"exact\" or \"allclose\""),
            ));
        }
    };
    Ok(Expectation::Value { output, compare })
}

const NAN: &str = "__blockspace_NaN__";
const INF: &str = "__blockspace_Infinity__";
const NEG_INF: &str = "__blockspace_-Infinity__";

/// Python's `json` writes `NaN`, `Infinity` and `-Infinity` as bare tokens, which are not
/// JSON; turn them into marker strings outside string literals.
fn non_finite_as_strings(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_string = false;
    let mut escaped = false;
    let mut rest = text;
    while let Some(ch) = rest.chars().next() {
        if in_string {
            out.push(ch);
            if escaped {
                escaped = false;
            } else if ch == '\\' {
                escaped = true;
            } else if ch == '"' {
                in_string = false;
            }
            rest = &rest[ch.len_utf8()..];
            continue;
        }
        let token = [("-Infinity", NEG_INF), ("Infinity", INF), ("NaN", NAN)]
            .into_iter()
            .find(|(t, _)| rest.starts_with(t));
        if let Some((t, marker)) = token {
            let _ = write!(out, "\"{marker}\"");
            rest = &rest[t.len()..];
            continue;
        }
        if ch == '"' {
            in_string = true;
        }
        out.push(ch);
        rest = &rest[ch.len_utf8()..];
    }
    out
}

/// The outcome of one case: `Ok` when it passed, else what differed.
///
/// # Errors
/// A one-line description of the difference (first mismatching index, expected vs actual,
/// or the error expected vs got).
pub fn run_case(case: &Case) -> Result<(), CaseFailure> {
    match case {
        Case::BackpropInput(c) => run_backprop_input(c).map_err(CaseFailure),
        Case::Op(c) => op_case::run(c),
    }
}

/// Why a conformance case failed: a one-line description of the difference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CaseFailure(pub String);

fn run_backprop_input(case: &BackpropInputCase) -> Result<(), String> {
    match case.dtype.as_str() {
        "float32" => run_typed::<f32>(case),
        "float64" => run_typed::<f64>(case),
        other => Err(format!(
            "unsupported dtype {other:?} (this op takes float32 or float64)"
        )),
    }
}

fn attrs_of(case: &BackpropInputCase) -> Result<Conv3dBackpropInputAttrs, KernelError> {
    // Op-definition checks, in the order TensorFlow validates the attributes.
    if case.strides.len() < 5 {
        return Err(KernelError::StridesTooShort {
            len: case.strides.len(),
        });
    }
    let padding: Padding = case.padding.parse()?;
    let data_format: DataFormat = case.data_format.parse()?;
    Ok(Conv3dBackpropInputAttrs {
        strides: case.strides.clone(),
        padding,
        data_format,
        dilations: case.dilations.clone(),
    })
}

fn tensor<T: Element>(op: &Operand) -> Result<ArrayD<T>, String> {
    ArrayD::from_shape_vec(
        IxDyn(&op.shape),
        op.data.iter().map(|&v| T::from_f64(v)).collect(),
    )
    .map_err(|e| format!("bad operand shape {:?}: {e}", op.shape))
}

fn run_typed<T: Element>(case: &BackpropInputCase) -> Result<(), String> {
    let filter = tensor::<T>(&case.filter)?;
    let dy = tensor::<T>(&case.out_backprop)?;
    let sizes = ArrayD::from_shape_vec(IxDyn(&case.input_sizes_shape), case.input_sizes.clone())
        .map_err(|e| format!("bad input_sizes: {e}"))?;
    let got = attrs_of(case).and_then(|attrs| {
        conv3d_backprop_input_v2(
            sizes.view(),
            filter.view(),
            dy.view(),
            &attrs,
            &KernelContext::default(),
        )
    });
    match (&case.expect, got) {
        (Expectation::Error { message }, Err(e)) => {
            let text = e.to_string();
            if text.contains(message.as_str()) {
                Ok(())
            } else {
                Err(format!("expected error {message:?}, got error {text:?}"))
            }
        }
        (Expectation::Error { message }, Ok(out)) => Err(format!(
            "expected error {message:?}, got a result of shape {:?}",
            out.shape()
        )),
        (Expectation::Value { .. }, Err(e)) => {
            Err(format!("expected a result, got error {:?}", e.to_string()))
        }
        (Expectation::Value { output, compare }, Ok(out)) => compare_output(output, *compare, &out),
    }
}

fn compare_output<T: Element>(
    expected: &Operand,
    compare: Compare,
    got: &ArrayD<T>,
) -> Result<(), String> {
    compare_values(
        expected,
        compare,
        got.shape(),
        got.iter().map(|v| v.to_f64()),
        |w| T::from_f64(w).to_f64(),
    )
}

/// Compares `got` (row-major values of shape `shape`) with `expected`; `round` maps an
/// expected value to the output dtype (exact comparisons are made in that dtype).
fn compare_values(
    expected: &Operand,
    compare: Compare,
    shape: &[usize],
    got: impl Iterator<Item = f64>,
    round: impl Fn(f64) -> f64,
) -> Result<(), String> {
    if shape != expected.shape.as_slice() {
        return Err(format!(
            "shape differs: expected {:?}, got {shape:?}",
            expected.shape
        ));
    }
    for (flat, (actual, &want)) in got.zip(&expected.data).enumerate() {
        let want_t = round(want);
        let ok = match compare {
            Compare::Exact => actual == want_t || (actual.is_nan() && want_t.is_nan()),
            Compare::AllClose { rtol, atol } => {
                (actual - want).abs() <= atol + rtol * want.abs()
                    || (actual.is_nan() && want.is_nan())
                    || actual == want
            }
        };
        if !ok {
            return Err(format!(
                "first mismatch at index {:?}: expected {want_t}, got {actual}",
                unflatten(flat, shape)
            ));
        }
    }
    Ok(())
}

/// The multi-index of row-major position `flat` in `shape`.
fn unflatten(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut index = vec![0; shape.len()];
    for (i, &d) in shape.iter().enumerate().rev() {
        if d > 0 {
            index[i] = flat % d;
            flat /= d;
        }
    }
    index
}

/// Counts of a run over files.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// Cases that passed.
    pub passed: usize,
    /// Cases that failed.
    pub failed: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_non_finite_tokens_become_markers() {
        let t = non_finite_as_strings(
            r#"{"a": [NaN, -Infinity, Infinity, 1.5], "s": "NaN \" Infinity"}"#,
        );
        let v: Value = serde_json::from_str(&t).unwrap();
        let a = v["a"].as_array().unwrap();
        assert!(number(&a[0], "a").unwrap().is_nan(), "NaN");
        assert_eq!(number(&a[1], "a").unwrap(), f64::NEG_INFINITY, "-Infinity");
        assert_eq!(number(&a[2], "a").unwrap(), f64::INFINITY, "Infinity");
        assert_eq!(v["s"], "NaN \" Infinity", "strings are left alone");
    }

    #[test]
    fn nested_input_sizes_keep_their_shape() {
        let v: Value = serde_json::from_str("[[1, 4, 4, 4, 3]]").unwrap();
        let (mut shape, mut out) = (Vec::new(), Vec::new());
        nested_ints(&v, "$", &mut shape, 0, &mut out).unwrap();
        assert_eq!(shape, vec![1, 5], "rank-2 operand");
        let v: Value = serde_json::from_str("7").unwrap();
        let (mut shape, mut out) = (Vec::new(), Vec::new());
        nested_ints(&v, "$", &mut shape, 0, &mut out).unwrap();
        assert!(shape.is_empty() && out == vec![7], "scalar operand");
        let v: Value = serde_json::from_str("[[1], [2, 3]]").unwrap();
        assert!(
            nested_ints(&v, "$", &mut Vec::new(), 0, &mut Vec::new()).is_err(),
            "ragged"
        );
    }

    #[test]
    fn malformed_file_names_path_and_json_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.json");
        std::fs::write(
            &path,
            r#"{"cases": [{"name": "x", "input_sizes": [1, "a"]}]}"#,
        )
        .unwrap();
        let err = load_file(&path).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("$.cases[0].input_sizes[1]: "), "{text}");
        assert!(text.ends_with("bad.json"), "path goes last: {text}");
    }

    /// A file whose parsed tree would not fit the budget is refused before parsing, with the
    /// sizes and how to fix it; the same file within a budget loads.
    #[test]
    fn a_file_beyond_the_memory_budget_is_refused_before_parsing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.json");
        let data = vec!["1"; 100_000].join(",");
        std::fs::write(&path, format!(r#"{{"cases": [], "pad": [{data}]}}"#)).unwrap();
        let err = load_file_within(&path, 1 << 20).unwrap_err().to_string();
        assert!(
            err.contains("more than the memory budget of 1.00 MiB"),
            "{err}"
        );
        assert!(err.contains("--memory-limit"), "{err}");
        assert!(load_file_within(&path, 64 << 20).unwrap().is_empty());
        assert!(
            document::values("[1,2,3]") * document::BYTES_PER_VALUE
                >= 4 * document::BYTES_PER_VALUE
        );
    }
}
