//! Attribute values.

use std::collections::BTreeMap;
use std::fmt;

/// The value of one block attribute. Which variant an attribute holds is given by its
/// [`crate::AttrKind`]: `Int` for `Int`, `Float` for `Float` (or `Int` when a whole number was
/// given, kept exact: an int64 fill of 2^53 + 1 must not pass through f64), `Str` for
/// `Enum`/`Text`/`Path`, `IntList` for `IntList`/`Shape`, `Bool` for `Bool`.
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

/// The most characters of user input a message quotes.
pub const QUOTE_MAX: usize = 80;

/// At most [`QUOTE_MAX`] characters of `text`, with `…` where it was cut (for messages that
/// echo user input: a 2 MB literal must not become a 2 MB error).
#[must_use]
pub fn clip(text: &str) -> String {
    let mut out: String = text.chars().take(QUOTE_MAX).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

/// [`clip`] in double quotes, escaped as Rust's `{:?}` does.
#[must_use]
pub fn quote(text: &str) -> String {
    format!("{:?}", clip(text))
}

/// About [`QUOTE_MAX`] characters of `text` around byte `at`, quoted, with `…` where cut.
#[must_use]
pub fn quote_around(text: &str, at: usize) -> String {
    if text.chars().count() <= QUOTE_MAX {
        return quote(text);
    }
    let at = (0..=at.min(text.len()))
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    let before: String = {
        let mut v: Vec<char> = text[..at].chars().rev().take(QUOTE_MAX / 2).collect();
        v.reverse();
        v.into_iter().collect()
    };
    let after: String = text[at..]
        .chars()
        .take(QUOTE_MAX - before.chars().count())
        .collect();
    let lead = if before.len() < at { "…" } else { "" };
    let tail = if at + after.len() < text.len() {
        "…"
    } else {
        ""
    };
    format!("{:?}", format!("{lead}{before}{after}{tail}"))
}

#[cfg(test)]
mod quote_tests {
    use super::*;

    #[test]
    fn quotes_are_bounded() {
        assert_eq!(quote("abc"), "\"abc\"");
        let long = "x".repeat(2_000_000);
        assert!(quote(&long).chars().count() <= QUOTE_MAX + 3);
        let text = format!("{}BAD{}", "1, ".repeat(1000), ", 2".repeat(1000));
        let q = quote_around(&text, 3000);
        assert!(
            q.contains("BAD") && q.starts_with("\"…") && q.ends_with("…\""),
            "{q}"
        );
        assert!(q.chars().count() <= QUOTE_MAX + 4, "{q}");
        assert_eq!(quote_around("é,x", 1), "\"é,x\"");
    }
}
