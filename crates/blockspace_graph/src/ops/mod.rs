//! The block registry: one [`OpDescriptor`] per block type.
//!
//! Adding a block type means one new file in `src/ops/` that defines a `pub static DESCRIPTOR`
//! and one line in [`BUILTIN`]. The GUI, the checker, the executor and the page-file loader read
//! descriptors only; nothing else lists block types.

pub mod abs;
pub mod add_v2;
mod attr_error;
mod common;
pub mod conv3d;
pub mod conv3d_backprop_filter_v2;
pub mod conv3d_backprop_input_v2;
mod conv_common;
mod conv_python;
mod elementwise;
pub mod input;
pub mod max;
pub mod mul;
pub mod python;
mod reduction;
pub mod sub;
pub mod sum;

use crate::kernels::{KernelContext, KernelError, MemoryLimit};
use crate::ops::python::PythonFn;
use crate::tensor::{DType, Tensor, TensorMeta};
use crate::value::{AttrValue, Attrs};
pub use attr_error::{AttrValueError, AttrsError, MAX_SHAPE_RANK};
use std::fmt;
use std::path::Path;

/// The built-in block types, in "Add block" menu order. Add a line here for a new block type.
pub static BUILTIN: &[&OpDescriptor] = &[
    &input::DESCRIPTOR,
    &conv3d::DESCRIPTOR,
    &conv3d_backprop_input_v2::DESCRIPTOR,
    &conv3d_backprop_filter_v2::DESCRIPTOR,
    &add_v2::DESCRIPTOR,
    &sub::DESCRIPTOR,
    &mul::DESCRIPTOR,
    &abs::DESCRIPTOR,
    &sum::DESCRIPTOR,
    &max::DESCRIPTOR,
];

/// One input or output of a block type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortSpec {
    /// Port name, stable (used in page files).
    pub name: &'static str,
    /// One line for tooltips.
    pub doc: &'static str,
    /// The dtypes the port accepts (inputs) or may produce (outputs).
    pub dtypes: &'static [DType],
    /// The rank the port requires (inputs) or produces (outputs), if fixed.
    pub rank: Option<usize>,
    /// How the port's axes are laid out, for axis names in the viewer.
    pub layout: PortLayout,
}

/// How a port's tensor is laid out, so viewers can name its axes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortLayout {
    /// No fixed meaning (values, shapes, arithmetic results).
    Plain,
    /// A 5-D activation in the block's `data_format` attribute (`NDHWC` or `NCDHW`).
    DataFormat,
    /// A convolution filter, `[KD, KH, KW, IC, OC]` ("DHWIO").
    Filter,
}

/// What kind of value an attribute holds; the GUI picks its widget from this.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AttrKind {
    /// One of a fixed list of strings.
    Enum(&'static [&'static str]),
    /// An integer within `min..=max`.
    Int {
        /// Smallest allowed value.
        min: i64,
        /// Largest allowed value.
        max: i64,
    },
    /// A finite float.
    Float,
    /// A list of exactly `len` integers.
    IntList {
        /// Required length.
        len: usize,
    },
    /// A tensor shape: a list of non-negative dimensions, any length (`[]` is a scalar).
    Shape,
    /// Free text (e.g. literal tensor values).
    Text,
    /// `true` or `false` (e.g. `keep_dims`).
    Bool,
    /// A file path, stored relative to the page file.
    Path {
        /// Accepted file extensions, without the dot.
        extensions: &'static [&'static str],
    },
}

/// A compile-time default value of an attribute.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AttrDefault {
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// Text.
    Str(&'static str),
    /// A list of integers.
    IntList(&'static [i64]),
    /// A boolean.
    Bool(bool),
}

impl AttrDefault {
    /// The default as an [`AttrValue`].
    pub fn to_value(self) -> AttrValue {
        match self {
            AttrDefault::Int(v) => AttrValue::Int(v),
            AttrDefault::Float(v) => AttrValue::Float(v),
            AttrDefault::Str(s) => AttrValue::Str(s.to_owned()),
            AttrDefault::IntList(v) => AttrValue::IntList(v.to_vec()),
            AttrDefault::Bool(b) => AttrValue::Bool(b),
        }
    }
}

/// One attribute of a block type.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AttrSpec {
    /// Attribute name, stable (used in page files).
    pub name: &'static str,
    /// One line for tooltips.
    pub doc: &'static str,
    /// Value kind (and allowed values).
    pub kind: AttrKind,
    /// Value of a new block.
    pub default: AttrDefault,
    /// Only shown when attribute `.0` has one of the values `.1` (e.g. Input's mode-specific attrs).
    pub visible_when: Option<(&'static str, &'static [&'static str])>,
}

impl AttrSpec {
    /// The value a new block gets.
    pub fn default_value(&self) -> AttrValue {
        self.default.to_value()
    }

    /// Whether the attribute matters for the current values of the other attributes.
    pub fn visible(&self, attrs: &Attrs) -> bool {
        match self.visible_when {
            None => true,
            Some((other, values)) => match attrs.get(other) {
                Some(AttrValue::Str(s)) => values.contains(&s.as_str()),
                _ => true,
            },
        }
    }

    /// Checks that `value` fits this attribute; the error says what is wrong and how to fix it
    /// (without the attribute name, which the caller adds).
    ///
    /// # Errors
    /// [`AttrValueError`] naming the value and what would fit.
    pub fn validate(&self, value: &AttrValue) -> Result<(), AttrValueError> {
        match (self.kind, value) {
            (AttrKind::Enum(choices), AttrValue::Str(s)) => {
                if choices.contains(&s.as_str()) {
                    Ok(())
                } else {
                    Err(AttrValueError::NotAChoice {
                        value: s.clone(),
                        choices,
                    })
                }
            }
            (AttrKind::Int { min, max }, AttrValue::Int(v)) => {
                if (min..=max).contains(v) {
                    Ok(())
                } else {
                    Err(AttrValueError::OutOfRange {
                        value: *v,
                        min,
                        max,
                    })
                }
            }
            (AttrKind::Float, AttrValue::Float(v)) => {
                if v.is_finite() {
                    Ok(())
                } else {
                    Err(AttrValueError::NotFinite(*v))
                }
            }
            (AttrKind::Float, AttrValue::Int(_)) => Ok(()),
            (AttrKind::IntList { len }, AttrValue::IntList(v)) => {
                if v.len() == len {
                    Ok(())
                } else {
                    Err(AttrValueError::WrongLength {
                        list: v.clone(),
                        len,
                    })
                }
            }
            (AttrKind::Shape, AttrValue::IntList(v)) => {
                if let Some(&dim) = v.iter().find(|d| **d < 0) {
                    Err(AttrValueError::NegativeDimension {
                        list: v.clone(),
                        dim,
                    })
                } else if v.len() > MAX_SHAPE_RANK {
                    Err(AttrValueError::TooManyDimensions { list: v.clone() })
                } else {
                    Ok(())
                }
            }
            (AttrKind::Text, AttrValue::Str(_)) | (AttrKind::Bool, AttrValue::Bool(_)) => Ok(()),
            (AttrKind::Path { .. }, AttrValue::Str(_)) => Ok(()),
            (kind, value) => Err(AttrValueError::WrongType {
                value: value.clone(),
                kind,
            }),
        }
    }
}

/// Human text for an attribute kind, used in messages.
pub fn kind_text(kind: AttrKind) -> String {
    match kind {
        AttrKind::Enum(choices) => format!("one of {}", quoted_list(choices)),
        AttrKind::Int { min, max } => format!("a whole number from {min} to {max}"),
        AttrKind::Float => "a number".to_owned(),
        AttrKind::IntList { len } => format!("a list of {len} whole numbers"),
        AttrKind::Shape => "a shape (a list of whole numbers >= 0)".to_owned(),
        AttrKind::Text => "text".to_owned(),
        AttrKind::Bool => "true or false".to_owned(),
        AttrKind::Path { .. } => "a file path (text)".to_owned(),
    }
}

pub(crate) fn quoted_list(items: &[&str]) -> String {
    items
        .iter()
        .map(|s| format!("{s:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn dtype_list(dtypes: &[DType]) -> String {
    let names: Vec<&str> = dtypes.iter().map(|d| d.as_str()).collect();
    match names.as_slice() {
        [] => "nothing".to_owned(),
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// An error from a block's inference or evaluation, naming the port or attribute at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpError {
    /// The input port at fault, if any.
    pub port: Option<String>,
    /// The attribute at fault, if any.
    pub attr: Option<String>,
    /// What is wrong, the value, and how to fix it.
    pub message: String,
    /// The run was cancelled (not a real error).
    pub cancelled: bool,
}

impl OpError {
    /// An error about the block as a whole.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            port: None,
            attr: None,
            message: message.into(),
            cancelled: false,
        }
    }
    /// An error about an input port.
    pub fn port(port: &str, message: impl Into<String>) -> Self {
        Self {
            port: Some(port.to_owned()),
            ..Self::new(message)
        }
    }
    /// An error about an attribute.
    pub fn attr(attr: &str, message: impl Into<String>) -> Self {
        Self {
            attr: Some(attr.to_owned()),
            ..Self::new(message)
        }
    }
    /// The run was cancelled.
    pub fn cancelled() -> Self {
        Self {
            cancelled: true,
            ..Self::new("cancelled before it finished; run again")
        }
    }
}

impl fmt::Display for OpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = &self.port {
            write!(f, "input `{p}`: ")?;
        }
        if let Some(a) = &self.attr {
            write!(f, "attr `{a}`: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for OpError {}

impl From<KernelError> for OpError {
    fn from(e: KernelError) -> Self {
        match e {
            KernelError::Cancelled => OpError::cancelled(),
            other => OpError::new(other.to_string()),
        }
    }
}

/// What checking knows about one wired input: its dtype and shape, and its values when they
/// were cheap to compute (small outputs of constant blocks such as `Input`).
#[derive(Debug, Clone, Copy)]
pub struct InferInput<'a> {
    /// Dtype and shape.
    pub meta: &'a TensorMeta,
    /// Values, if known before running.
    pub value: Option<&'a Tensor>,
}

/// Context for shape inference.
#[derive(Debug, Clone, Copy)]
pub struct InferCtx<'a> {
    /// Directory of the page file (for relative paths), if the page has one.
    pub base_dir: Option<&'a Path>,
    /// Size guard: inference reports outputs larger than this as errors.
    pub limit: MemoryLimit,
}

/// Context for evaluation (on the executor's threads).
#[derive(Clone, Copy)]
pub struct EvalCtx<'a> {
    /// Kernel context: memory limit, cancel token, progress.
    pub kernel: &'a KernelContext,
    /// Directory of the page file (for relative paths), if the page has one.
    pub base_dir: Option<&'a Path>,
}

/// Shape/dtype inference. Inputs are `None` when not wired (or their upstream failed).
pub type InferFn =
    fn(&InferCtx<'_>, &Attrs, &[Option<InferInput<'_>>]) -> Result<Vec<TensorMeta>, OpError>;
/// Evaluation. All inputs are present and have dtypes the ports accept.
pub type EvalFn = fn(&EvalCtx<'_>, &Attrs, &[&Tensor]) -> Result<Vec<Tensor>, OpError>;
/// Extra text for the executor's cache key (e.g. a file's size and modification time).
pub type CacheSaltFn = fn(&Attrs, Option<&Path>) -> String;

/// Everything the app, checker, executor and file format know about one block type.
pub struct OpDescriptor {
    /// Stable id stored in page files, e.g. `"Conv3DBackpropInputV2"`. Never change it.
    pub type_id: &'static str,
    /// Name shown in menus; also the base of new block names.
    pub display_name: &'static str,
    /// "Add block" menu group.
    pub category: &'static str,
    /// Doc text for tooltips and the op reference.
    pub doc: &'static str,
    /// Input ports, in order. Every input is required.
    pub inputs: &'static [PortSpec],
    /// Output ports, in order.
    pub outputs: &'static [PortSpec],
    /// Attributes, in display order.
    pub attrs: &'static [AttrSpec],
    /// Shape/dtype inference, cheap (no tensor computation).
    pub infer: InferFn,
    /// Evaluation.
    pub eval: EvalFn,
    /// Whether checking may evaluate this block when its outputs are small and its inputs are
    /// known, to give downstream inference the values (e.g. `input_sizes`).
    pub fold_constants: bool,
    /// Extra cache-key text for blocks that read outside state.
    pub cache_salt: Option<CacheSaltFn>,
    /// The block's Python code for an exported script ([`crate::export`]), per framework.
    /// `None` for source blocks (no inputs), which export as their evaluated values, and for
    /// block types that cannot be exported.
    pub python: Option<PythonFn>,
}

impl fmt::Debug for OpDescriptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpDescriptor")
            .field("type_id", &self.type_id)
            .finish_non_exhaustive()
    }
}

impl OpDescriptor {
    /// The attribute called `name`.
    pub fn attr(&self, name: &str) -> Option<&AttrSpec> {
        self.attrs.iter().find(|a| a.name == name)
    }
    /// Index of the input port called `name`.
    pub fn input_index(&self, name: &str) -> Option<usize> {
        self.inputs.iter().position(|p| p.name == name)
    }
    /// Index of the output port called `name`.
    pub fn output_index(&self, name: &str) -> Option<usize> {
        self.outputs.iter().position(|p| p.name == name)
    }
    /// All attributes at their defaults.
    pub fn default_attrs(&self) -> Attrs {
        self.attrs
            .iter()
            .map(|a| (a.name.to_owned(), a.default_value()))
            .collect()
    }
    /// Checks a full attribute set: every attribute known and valid.
    ///
    /// # Errors
    /// [`AttrsError`] naming the first attribute at fault.
    pub fn validate_attrs(&self, attrs: &Attrs) -> Result<(), AttrsError> {
        for (name, value) in attrs {
            let spec = self.attr(name).ok_or_else(|| AttrsError::Unknown {
                type_id: self.type_id,
                attr: name.clone(),
                known: self.attr_names(),
            })?;
            spec.validate(value).map_err(|source| AttrsError::Invalid {
                attr: name.clone(),
                source,
            })?;
        }
        Ok(())
    }
    /// Comma-separated attribute names, for messages.
    pub fn attr_names(&self) -> String {
        self.attrs
            .iter()
            .map(|a| a.name)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Registering a block type failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// Two descriptors share a type id.
    #[error("block type id {0:?} is registered twice; give each block type its own id")]
    DuplicateTypeId(String),
}

/// A block type the registry does not know: the one wording of this error, wherever a type id
/// is looked up (commands, checking, running, page files).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown block type {type_id:?}; known types: {known}")]
pub struct UnknownType {
    /// The type id asked for.
    pub type_id: String,
    /// The known type ids, comma-separated.
    pub known: String,
}

/// The set of block types known to a page.
#[derive(Debug, Default, Clone)]
pub struct Registry {
    ops: Vec<&'static OpDescriptor>,
}

impl Registry {
    /// All built-in block types ([`BUILTIN`]).
    pub fn builtin() -> Self {
        let mut registry = Self::default();
        for d in BUILTIN {
            if let Err(e) = registry.add(d) {
                log::error!("{e}");
            }
        }
        registry
    }
    /// Adds a block type; its id must be new.
    pub fn add(&mut self, descriptor: &'static OpDescriptor) -> Result<(), RegistryError> {
        if self.get(descriptor.type_id).is_some() {
            return Err(RegistryError::DuplicateTypeId(
                descriptor.type_id.to_owned(),
            ));
        }
        self.ops.push(descriptor);
        Ok(())
    }
    /// The descriptor for `type_id`.
    pub fn get(&self, type_id: &str) -> Option<&'static OpDescriptor> {
        self.ops.iter().copied().find(|d| d.type_id == type_id)
    }
    /// The descriptor for `type_id`, or the error naming the known types.
    ///
    /// # Errors
    /// [`UnknownType`] when no block type has this id.
    pub fn lookup(&self, type_id: &str) -> Result<&'static OpDescriptor, UnknownType> {
        self.get(type_id).ok_or_else(|| UnknownType {
            type_id: type_id.to_owned(),
            known: self.type_ids(),
        })
    }
    /// All descriptors, in registration order.
    pub fn iter(&self) -> impl Iterator<Item = &OpDescriptor> {
        self.ops.iter().copied()
    }
    /// Comma-separated type ids, for messages.
    pub fn type_ids(&self) -> String {
        self.ops
            .iter()
            .map(|d| d.type_id)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Reads a string attribute (falling back to the descriptor default).
pub(crate) fn attr_str<'a>(attrs: &'a Attrs, name: &str) -> Result<&'a str, OpError> {
    match attrs.get(name) {
        Some(AttrValue::Str(s)) => Ok(s),
        Some(other) => Err(OpError::attr(name, format!("{other} should be text"))),
        None => Err(OpError::attr(name, "is missing; set it")),
    }
}

/// Reads a numeric attribute.
pub(crate) fn attr_f64(attrs: &Attrs, name: &str) -> Result<f64, OpError> {
    match attrs.get(name).and_then(AttrValue::as_float) {
        Some(v) if v.is_finite() => Ok(v),
        Some(v) => Err(OpError::attr(
            name,
            format!("{v} is not finite; use a finite number"),
        )),
        None => Err(OpError::attr(
            name,
            "is missing or not a number; set a number",
        )),
    }
}

/// Reads an integer attribute.
pub(crate) fn attr_i64(attrs: &Attrs, name: &str) -> Result<i64, OpError> {
    attrs
        .get(name)
        .and_then(AttrValue::as_int)
        .ok_or_else(|| OpError::attr(name, "is missing or not a whole number; set a whole number"))
}

/// Reads a boolean attribute.
pub(crate) fn attr_bool(attrs: &Attrs, name: &str) -> Result<bool, OpError> {
    attrs
        .get(name)
        .and_then(AttrValue::as_bool)
        .ok_or_else(|| OpError::attr(name, "is missing or not true/false; set it"))
}

/// Reads an integer-list attribute.
pub(crate) fn attr_list<'a>(attrs: &'a Attrs, name: &str) -> Result<&'a [i64], OpError> {
    attrs
        .get(name)
        .and_then(AttrValue::as_int_list)
        .ok_or_else(|| OpError::attr(name, "is missing or not a list of whole numbers; set it"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_ids_are_unique_and_a_second_registration_is_refused() {
        // The ids themselves (stored in page files, never changed) are pinned in
        // tests/registry.rs.
        let r = Registry::builtin();
        let ids: std::collections::BTreeSet<&str> = r.iter().map(|d| d.type_id).collect();
        assert_eq!(ids.len(), BUILTIN.len(), "every built-in type id is unique");
        let mut again = r.clone();
        assert_eq!(
            again.add(&input::DESCRIPTOR),
            Err(RegistryError::DuplicateTypeId("Input".into()))
        );
    }

    #[test]
    fn every_descriptor_is_documented_and_defaults_are_valid() {
        for d in Registry::builtin().iter() {
            assert!(!d.doc.is_empty() && !d.display_name.is_empty() && !d.category.is_empty());
            for p in d.inputs.iter().chain(d.outputs) {
                assert!(
                    !p.doc.is_empty() && !p.dtypes.is_empty(),
                    "{}.{}",
                    d.type_id,
                    p.name
                );
            }
            for a in d.attrs {
                assert!(!a.doc.is_empty(), "{}.{}", d.type_id, a.name);
                assert_eq!(
                    a.validate(&a.default_value()),
                    Ok(()),
                    "{}.{}",
                    d.type_id,
                    a.name
                );
            }
            assert!(d.validate_attrs(&d.default_attrs()).is_ok());
        }
    }

    #[test]
    fn validate_messages_say_how_to_fix() {
        let spec = AttrSpec {
            name: "padding",
            doc: "d",
            kind: AttrKind::Enum(&["SAME", "VALID"]),
            default: AttrDefault::Str("SAME"),
            visible_when: None,
        };
        let e = spec
            .validate(&AttrValue::Str("EXPLICIT".into()))
            .unwrap_err();
        let e = e.to_string();
        assert!(e.contains("\"EXPLICIT\"") && e.contains("\"VALID\""), "{e}");
        assert!(spec.validate(&AttrValue::Int(1)).is_err());
    }
}
