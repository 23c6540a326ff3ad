//! Stable identifiers: pages, blocks, ports and wires.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Identifies a page within a running process. Pages are numbered by a process-wide counter,
/// so a page id is never reused while the app runs. Page ids are not saved in page files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PageId(pub u64);

/// Identifies a block within its page. Block ids come from a per-page counter that is saved with
/// the page file and never goes back, so an id is never reused (not even after undo).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct BlockId(pub u64);

impl fmt::Display for PageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "page#{}", self.0)
    }
}

impl fmt::Display for BlockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// An output port of a block: the block and the index into its descriptor's `outputs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct OutPort {
    /// The block that owns the port.
    pub block: BlockId,
    /// Index into the block type's `outputs`.
    pub port: usize,
}

/// An input port of a block: the block and the index into its descriptor's `inputs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct InPort {
    /// The block that owns the port.
    pub block: BlockId,
    /// Index into the block type's `inputs`.
    pub port: usize,
}

/// A wire from one block's output to another block's input (within one page).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Wire {
    /// Where the tensor comes from.
    pub from: OutPort,
    /// Where the tensor goes.
    pub to: InPort,
}
