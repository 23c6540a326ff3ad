//! The per-op Python hook: the framework a script is written for, what a block type's
//! [`PythonFn`] gets ([`PyBlock`]) and returns ([`PyCall`]). [`crate::export`] writes the scripts
//! from these; they live with the block types so that the ops never depend on the exporter.

use super::OpError;
use crate::tensor::{Tensor, TensorMeta};
use crate::value::Attrs;
use std::fmt;
use std::str::FromStr;

/// The Python framework a script is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Framework {
    /// TensorFlow, eager, `tf.raw_ops` with the page's attributes.
    #[default]
    TensorFlow,
    /// PyTorch (`torch.nn.functional`), with TensorFlow's layouts and padding reproduced.
    PyTorch,
}

impl Framework {
    /// Both frameworks.
    pub const ALL: [Framework; 2] = [Framework::TensorFlow, Framework::PyTorch];
    /// The command-line spelling: `tensorflow` or `pytorch`.
    pub fn as_str(self) -> &'static str {
        match self {
            Framework::TensorFlow => "tensorflow",
            Framework::PyTorch => "pytorch",
        }
    }
    /// The name people write: `TensorFlow` or `PyTorch`.
    pub fn display_name(self) -> &'static str {
        match self {
            Framework::TensorFlow => "TensorFlow",
            Framework::PyTorch => "PyTorch",
        }
    }
}

impl fmt::Display for Framework {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.display_name())
    }
}

/// A framework name that is neither `tensorflow` nor `pytorch`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown framework {0:?}; use \"tensorflow\" or \"pytorch\"")]
pub struct ParseFrameworkError(pub String);

impl FromStr for Framework {
    type Err = ParseFrameworkError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "tensorflow" | "tf" => Ok(Framework::TensorFlow),
            "pytorch" | "torch" => Ok(Framework::PyTorch),
            _ => Err(ParseFrameworkError(s.to_owned())),
        }
    }
}

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
