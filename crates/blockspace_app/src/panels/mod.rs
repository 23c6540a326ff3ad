//! The side panels.

pub mod inspector;
pub mod tensor_viewer;
