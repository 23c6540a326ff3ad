//! The blockspace binary.
fn main() {}
