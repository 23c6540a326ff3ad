//! Attribute values.

use std::collections::BTreeMap;
use std::fmt;

/// The value of one block attribute. Which variant an attribute holds is given by its
/// [`crate::AttrKind`]: `Int` for `Int`, `Float` for `Float`, `Str` for `Enum`/`Text`/`Path`,
/// `IntList` for `IntList`/`Shape`, `Bool` for `Bool`.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    /// An integer.
    Int(i64),
    /// A finite float.
    Float(f64),
    /// Text: an enum choice, literal values or a path.
    Str(String),
    /// A list of integers (strides, a shape).
    IntList(Vec<i64>),
    /// A boolean (e.g. `keep_dims`).
    Bool(bool),
}

impl AttrValue {
    /// The integer, if this is an `Int`.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            AttrValue::Int(v) => Some(*v),
            _ => None,
        }
    }
    /// The number, if this is a `Float` or an `Int`.
    pub fn as_float(&self) -> Option<f64> {
        match self {
            AttrValue::Float(v) => Some(*v),
            AttrValue::Int(v) => Some(*v as f64),
            _ => None,
        }
    }
    /// The text, if this is a `Str`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            AttrValue::Str(s) => Some(s),
            _ => None,
        }
    }
    /// The boolean, if this is a `Bool`.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            AttrValue::Bool(b) => Some(*b),
            _ => None,
        }
    }
    /// The list, if this is an `IntList`.
    pub fn as_int_list(&self) -> Option<&[i64]> {
        match self {
            AttrValue::IntList(v) => Some(v),
            _ => None,
        }
    }
    /// The JSON form used in page files.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            AttrValue::Int(v) => serde_json::Value::from(*v),
            AttrValue::Float(v) => serde_json::Value::from(*v),
            AttrValue::Str(s) => serde_json::Value::from(s.as_str()),
            AttrValue::IntList(v) => serde_json::Value::from(v.clone()),
            AttrValue::Bool(b) => serde_json::Value::from(*b),
        }
    }
}

impl fmt::Display for AttrValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttrValue::Int(v) => write!(f, "{v}"),
            AttrValue::Float(v) => write!(f, "{v}"),
            AttrValue::Str(s) => write!(f, "{s:?}"),
            AttrValue::IntList(v) => write!(f, "{v:?}"),
            AttrValue::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// All attributes of one block, by name (sorted, so files and cache keys are stable).
pub type Attrs = BTreeMap<String, AttrValue>;
