//! What is wrong with an attribute value ([`AttrValueError`], from [`AttrSpec::validate`]) or
//! with a block's attribute set ([`AttrsError`], from [`OpDescriptor::validate_attrs`]).
//! Messages quote at most ~80 characters of the value ([`crate::value::clip`]).
//!
//! [`AttrSpec::validate`]: super::AttrSpec::validate
//! [`OpDescriptor::validate_attrs`]: super::OpDescriptor::validate_attrs

use super::{AttrKind, kind_text, quoted_list};
use crate::value::{AttrValue, clip, quote};

/// The most dimensions a shape attribute may have.
pub const MAX_SHAPE_RANK: usize = 32;

/// An attribute value that does not fit its attribute. The text says what is wrong and how to
/// fix it, without the attribute's name (the caller adds it).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AttrValueError {
    /// Not one of an enum attribute's choices.
    #[error("{} is not allowed; use one of {}", quote(value), quoted_list(choices))]
    NotAChoice {
        /// The value given.
        value: String,
        /// The allowed values.
        choices: &'static [&'static str],
    },
    /// A whole number outside its range.
    #[error("{value} is out of range; use a whole number from {min} to {max}")]
    OutOfRange {
        /// The value given.
        value: i64,
        /// Smallest allowed.
        min: i64,
        /// Largest allowed.
        max: i64,
    },
    /// A float that is NaN or infinite.
    #[error("{0} is not a finite number; use a finite number")]
    NotFinite(f64),
    /// A list of the wrong length.
    #[error("{} has {} entries; give exactly {len}", clip(&format!("{list:?}")), list.len())]
    WrongLength {
        /// The list given.
        list: Vec<i64>,
        /// The length it must have.
        len: usize,
    },
    /// A shape with a negative dimension.
    #[error("{} has the negative dimension {dim}; dimensions must be >= 0", clip(&format!("{list:?}")))]
    NegativeDimension {
        /// The shape given.
        list: Vec<i64>,
        /// The first negative dimension.
        dim: i64,
    },
    /// A shape of more than [`MAX_SHAPE_RANK`] dimensions.
    #[error("{} has {} dimensions; use at most {MAX_SHAPE_RANK}", clip(&format!("{list:?}")), list.len())]
    TooManyDimensions {
        /// The shape given.
        list: Vec<i64>,
    },
    /// A value of another kind (text for a number, ...).
    #[error("{} has the wrong type; expected {}", clip(&value.to_string()), kind_text(*kind))]
    WrongType {
        /// The value given.
        value: AttrValue,
        /// The attribute's kind.
        kind: AttrKind,
    },
}

/// A block's attribute set that does not fit its block type.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AttrsError {
    /// An attribute the block type does not have.
    #[error("{type_id} has no attribute {}; known: {known}", quote(attr))]
    Unknown {
        /// The block type.
        type_id: &'static str,
        /// The attribute's name.
        attr: String,
        /// The block type's attribute names, comma-separated.
        known: String,
    },
    /// An attribute whose value does not fit.
    #[error("{source}")]
    Invalid {
        /// The attribute's name.
        attr: String,
        /// What is wrong with its value.
        #[source]
        source: AttrValueError,
    },
}

impl AttrsError {
    /// The attribute at fault.
    pub fn attr(&self) -> &str {
        match self {
            AttrsError::Unknown { attr, .. } | AttrsError::Invalid { attr, .. } => attr,
        }
    }
}
