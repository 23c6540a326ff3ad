//! Placeholder until the graph crate lands.
