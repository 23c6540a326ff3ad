//! The GUI-free heart of Blockspace: pages, blocks, execution, files, conformance runs.

pub mod conformance;
