//! The per-op hook: what a block type's [`PythonFn`] gets ([`PyBlock`]) and returns ([`PyCall`]).

use super::Framework;
use crate::ops::OpError;
use crate::tensor::{Tensor, TensorMeta};
use crate::value::Attrs;

/// One input of a block, as its Python hook sees it.
#[derive(Debug, Clone, Copy)]
pub struct PyInput<'a> {
    /// The Python variable holding the tensor.
    pub var: &'a str,
    /// Its dtype and shape (known from checking).
    pub meta: &'a TensorMeta,
    /// Its values, when known before running (small constants such as `input_sizes`).
    pub value: Option<&'a Tensor>,
}

/// What a block's Python hook gets: the framework, the block's attributes, its inputs (one per
/// input port, in port order) and its output metas.
#[derive(Debug, Clone, Copy)]
pub struct PyBlock<'a> {
    /// The framework to write for.
    pub framework: Framework,
    /// The block's attributes.
    pub attrs: &'a Attrs,
    /// The inputs, in port order.
    pub inputs: &'a [PyInput<'a>],
    /// The outputs' dtypes and shapes.
    pub outputs: &'a [TensorMeta],
}

/// A Python function a block's code calls, written once per script before `compute()`.
#[derive(Debug)]
pub struct PyHelper {
    /// The function's name (starts with `_`).
    pub name: &'static str,
    /// Its full `def` text.
    pub code: &'static str,
    /// Helpers it calls, written before it.
    pub deps: &'static [&'static PyHelper],
}

/// The Python code of one block.
#[derive(Debug, Clone, Default)]
pub struct PyCall {
    /// An expression giving the block's output (a tuple for several outputs).
    pub expr: String,
    /// Helper functions the expression calls.
    pub helpers: Vec<&'static PyHelper>,
    /// Comment lines (without `#`) saying why the code departs from the plain call.
    pub notes: Vec<String>,
}

impl PyCall {
    /// A call with no helpers and no notes.
    pub fn plain(expr: impl Into<String>) -> Self {
        Self {
            expr: expr.into(),
            ..Self::default()
        }
    }
}

/// A block type's Python code generator (the `python` field of
/// [`OpDescriptor`](crate::OpDescriptor)). Errors name the port or attribute at fault.
pub type PythonFn = fn(&PyBlock<'_>) -> Result<PyCall, OpError>;
