//! Why a command was refused.

use crate::ids::{BlockId, Wire};

/// A command could not be applied; the page is unchanged.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CommandError {
    /// The block does not exist.
    #[error("block {0} does not exist on this page; it may have been removed")]
    NoSuchBlock(BlockId),
    /// The block type is not in the registry.
    #[error(transparent)]
    UnknownType(#[from] crate::ops::UnknownType),
    /// A new block's id is already used or was used before.
    #[error(
        "block id {id} is not fresh (next free id is {next}); create blocks with Page::add_block_command"
    )]
    IdNotFresh {
        /// The id asked for.
        id: BlockId,
        /// The page's next id.
        next: BlockId,
    },
    /// The name is taken in this page's scope.
    #[error("the name {0:?} is already used on this page; choose another name")]
    NameTaken(String),
    /// The name breaks the naming rule.
    #[error(transparent)]
    BadName(#[from] crate::page::NameError),
    /// A port index is out of range.
    #[error("block {block_name:?} ({type_id}) has no {side} port #{port}")]
    NoSuchPort {
        /// Block name.
        block_name: String,
        /// Block type.
        type_id: String,
        /// `"input"` or `"output"`.
        side: &'static str,
        /// The index asked for.
        port: usize,
    },
    /// The input already has a wire.
    #[error("input `{port}` of {block_name:?} already has a wire; disconnect it first")]
    InputOccupied {
        /// Block name.
        block_name: String,
        /// Input port name.
        port: String,
    },
    /// The wire would create a cycle.
    #[error(
        "wiring {from:?} into {to:?} would make a cycle ({to:?} already feeds {from:?}); wires must flow one way"
    )]
    Cycle {
        /// Source block name.
        from: String,
        /// Target block name.
        to: String,
    },
    /// The input refuses the source's dtype.
    #[error(
        "input `{port}` of {block_name:?} accepts {accepted}, but {source_name:?} produces {got}; change {source_name:?}'s dtype or wire another tensor"
    )]
    DTypeRefused {
        /// Target block name.
        block_name: String,
        /// Target port name.
        port: String,
        /// Accepted dtypes.
        accepted: String,
        /// Source block name.
        source_name: String,
        /// The source dtype(s).
        got: String,
    },
    /// The wire to remove does not exist.
    #[error("there is no such wire ({0:?}); it may have been removed already")]
    NoSuchWire(Wire),
    /// An attribute name is unknown or its value invalid.
    #[error("attr `{attr}` of {block_name:?}: {message}")]
    BadAttr {
        /// Block name.
        block_name: String,
        /// Attribute name.
        attr: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// A canvas position that is not a finite number (it could not be saved).
    #[error("block {block} cannot move to {pos:?}: positions must be finite numbers")]
    BadPosition {
        /// The block.
        block: BlockId,
        /// The position asked for.
        pos: [f32; 2],
    },
    /// Any other invalid command.
    #[error("{0}")]
    Invalid(String),
}
