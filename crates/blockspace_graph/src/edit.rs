//! Edits that gestures make out of several [`Command`]s: wiring into an occupied input, pulling
//! wires off a pin, adding a block wired to a dragged-out pin, pasting and duplicating, and
//! rebasing relative paths on "Save As". Each returns the command to apply (through the
//! [`History`](crate::History)), so the GUI only picks the arguments and everything here is
//! tested headlessly (`tests/edits.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::command::{Command, CommandError};
use crate::file::rebase_paths_command;
use crate::ids::{BlockId, InPort, OutPort, PageId, Wire};
use crate::ops::Registry;
use crate::page::{Block, Clipboard, Page};
use crate::tensor::DType;
use crate::value::AttrValue;

/// How far a paste into the page it was copied from (and a duplicate) is shifted, so the copy
/// does not hide the originals.
pub const PASTE_OFFSET: [f32; 2] = [40.0, 40.0];

/// One pin of a block: an input or an output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PortRef {
    /// An input pin.
    In(InPort),
    /// An output pin.
    Out(OutPort),
}

impl From<InPort> for PortRef {
    fn from(p: InPort) -> Self {
        Self::In(p)
    }
}

impl From<OutPort> for PortRef {
    fn from(p: OutPort) -> Self {
        Self::Out(p)
    }
}

/// What a new block is wired to when it is added by dropping a wire on the canvas.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AutoWire {
    /// Wire this output into the new block's first input that accepts `from_dtype` (the first
    /// input when none does, or the dtype is unknown).
    pub from: Option<OutPort>,
    /// The dtype flowing out of `from`, if known (from the page check).
    pub from_dtype: Option<DType>,
    /// Wire the new block's first output into this input (replacing the input's wire).
    pub to: Option<InPort>,
}

impl Page {
    /// A command adding a new block of `type_id` at `pos`, with the next id, a unique name and
    /// default attributes. Apply it to add the block (the id is reserved only then). The block
    /// itself: [`Page::new_block`].
    pub fn add_block_command(
        &self,
        reg: &Registry,
        type_id: &str,
        pos: [f32; 2],
    ) -> Result<Command, CommandError> {
        Ok(Command::AddBlock {
            block: self.new_block(reg, type_id, pos)?,
        })
    }

    /// A command pasting `clip` into this page, shifted by `offset`: new ids from this page's
    /// counter and names unique in this page's scope. Returns the command and the new ids (in
    /// the clipboard's block order). Blocks of types unknown to `reg` are left out.
    pub fn paste_command(
        &self,
        reg: &Registry,
        clip: &Clipboard,
        offset: [f32; 2],
    ) -> (Command, Vec<BlockId>) {
        let mut next = self.next_block_id;
        let mut map = BTreeMap::new();
        let mut taken = BTreeSet::new();
        let mut cmds = Vec::new();
        let mut new_ids = Vec::new();
        for b in &clip.blocks {
            if reg.get(&b.type_id).is_none() {
                continue;
            }
            let id = BlockId(next);
            next += 1;
            let name = self.unique_name_excluding(&b.name, &taken);
            taken.insert(name.clone());
            map.insert(b.id, id);
            new_ids.push(id);
            cmds.push(Command::AddBlock {
                block: Block {
                    id,
                    type_id: b.type_id.clone(),
                    name,
                    attrs: b.attrs.clone(),
                    pos: [b.pos[0] + offset[0], b.pos[1] + offset[1]],
                },
            });
        }
        for w in &clip.wires {
            if let (Some(&f), Some(&t)) = (map.get(&w.from.block), map.get(&w.to.block)) {
                cmds.push(Command::Connect {
                    wire: Wire {
                        from: OutPort {
                            block: f,
                            port: w.from.port,
                        },
                        to: InPort {
                            block: t,
                            port: w.to.port,
                        },
                    },
                });
            }
        }
        (Command::Batch(cmds), new_ids)
    }

    // -- Convenience for building pages in code (tests, generators). Each is one command. --

    /// Adds a block of `type_id` named `name` (made unique) with `attrs` over the defaults.
    pub fn add(
        &mut self,
        reg: &Registry,
        type_id: &str,
        name: &str,
        attrs: &[(&str, AttrValue)],
    ) -> Result<BlockId, CommandError> {
        let mut block = self.new_block(reg, type_id, [0.0, 0.0])?;
        block.name = self.unique_name(name);
        block.pos = [block.id.0 as f32 * 40.0, block.id.0 as f32 * 20.0];
        for (k, v) in attrs {
            block.attrs.insert((*k).to_owned(), v.clone());
        }
        let id = block.id;
        self.apply(reg, Command::AddBlock { block })?;
        Ok(id)
    }

    /// Wires `from`'s output port `out` into `to`'s input port `input` (ports by name).
    pub fn connect(
        &mut self,
        reg: &Registry,
        from: BlockId,
        out: &str,
        to: BlockId,
        input: &str,
    ) -> Result<Wire, CommandError> {
        let port_of = |b: BlockId, name: &str, output: bool| -> Result<usize, CommandError> {
            let block = self.blocks.get(&b).ok_or(CommandError::NoSuchBlock(b))?;
            let d = reg.lookup(&block.type_id)?;
            let idx = if output {
                d.output_index(name)
            } else {
                d.input_index(name)
            };
            idx.ok_or_else(|| {
                CommandError::Invalid(format!(
                    "{} has no {} port {name:?}",
                    d.type_id,
                    if output { "output" } else { "input" }
                ))
            })
        };
        let wire = Wire {
            from: OutPort {
                block: from,
                port: port_of(from, out, true)?,
            },
            to: InPort {
                block: to,
                port: port_of(to, input, false)?,
            },
        };
        self.apply(reg, Command::Connect { wire })?;
        Ok(wire)
    }

    /// A new block of `type_id` at `pos`, with the next id, a unique name and default
    /// attributes. Add it with [`Command::AddBlock`] (the id is reserved only then).
    ///
    /// # Errors
    /// [`CommandError::UnknownType`] when `reg` has no such type.
    pub fn new_block(
        &self,
        reg: &Registry,
        type_id: &str,
        pos: [f32; 2],
    ) -> Result<Block, CommandError> {
        let d = reg.lookup(type_id)?;
        Ok(Block {
            id: self.next_block_id(),
            type_id: type_id.to_owned(),
            name: self.unique_name(d.display_name),
            attrs: d.default_attrs(),
            pos,
        })
    }

    /// A command wiring `from` into `to`. An input takes one wire: a wire already feeding `to`
    /// is removed in the same command. The flag says whether one was (a "Reconnect").
    #[must_use]
    pub fn connect_replacing(&self, from: OutPort, to: InPort) -> (Command, bool) {
        let wire = Wire { from, to };
        let mut cmds: Vec<Command> = self
            .wires()
            .filter(|w| w.to == to)
            .map(|w| Command::Disconnect { wire: *w })
            .collect();
        if cmds.is_empty() {
            (Command::Connect { wire }, false)
        } else {
            cmds.push(Command::Connect { wire });
            (Command::Batch(cmds), true)
        }
    }

    /// A command removing every wire at `port` (into an input, or out of an output); `None`
    /// when the pin has no wire.
    #[must_use]
    pub fn disconnect_port(&self, port: impl Into<PortRef>) -> Option<Command> {
        let port = port.into();
        let cmds: Vec<Command> = self
            .wires()
            .filter(|w| match port {
                PortRef::In(p) => w.to == p,
                PortRef::Out(p) => w.from == p,
            })
            .map(|w| Command::Disconnect { wire: *w })
            .collect();
        (!cmds.is_empty()).then_some(Command::Batch(cmds))
    }

    /// A command adding a block of `type_id` at `pos`, wired as `wire` says, and the new block.
    /// Without wiring the command is a plain [`Command::AddBlock`], else one batch (one undo
    /// step).
    ///
    /// # Errors
    /// [`CommandError::UnknownType`] when `reg` has no such type.
    pub fn add_block_wired(
        &self,
        reg: &Registry,
        type_id: &str,
        pos: [f32; 2],
        wire: AutoWire,
    ) -> Result<(Command, Block), CommandError> {
        let block = self.new_block(reg, type_id, pos)?;
        let id = block.id;
        let add = Command::AddBlock {
            block: block.clone(),
        };
        let mut cmds = vec![add.clone()];
        if let Some(from) = wire.from {
            let port = reg
                .get(type_id)
                .and_then(|d| {
                    d.inputs
                        .iter()
                        .position(|p| wire.from_dtype.is_some_and(|t| p.dtypes.contains(&t)))
                })
                .unwrap_or(0);
            cmds.push(Command::Connect {
                wire: Wire {
                    from,
                    to: InPort { block: id, port },
                },
            });
        }
        if let Some(to) = wire.to {
            for w in self.wires().filter(|w| w.to == to) {
                cmds.push(Command::Disconnect { wire: *w });
            }
            cmds.push(Command::Connect {
                wire: Wire {
                    from: OutPort { block: id, port: 0 },
                    to,
                },
            });
        }
        let cmd = if cmds.len() == 1 {
            add
        } else {
            Command::Batch(cmds)
        };
        Ok((cmd, block))
    }

    /// A command pasting `clip` into this page, and the new ids. A clipboard copied from this
    /// very page (`source` is this page's id) lands [`PASTE_OFFSET`] away from the originals;
    /// one from another page (or from outside, `None`) keeps its positions.
    #[must_use]
    pub fn paste_here(
        &self,
        reg: &Registry,
        clip: &Clipboard,
        source: Option<PageId>,
    ) -> (Command, Vec<BlockId>) {
        let offset = if source == Some(self.id()) {
            PASTE_OFFSET
        } else {
            [0.0, 0.0]
        };
        self.paste_command(reg, clip, offset)
    }

    /// A command duplicating `ids` (and the wires between them) [`PASTE_OFFSET`] away, and the
    /// new ids.
    #[must_use]
    pub fn duplicate_command(&self, reg: &Registry, ids: &[BlockId]) -> (Command, Vec<BlockId>) {
        self.paste_command(reg, &self.copy_blocks(ids), PASTE_OFFSET)
    }
}

/// The command run before every save of a page whose relative paths resolve against `old_base`
/// (its file's folder; the working directory when `None`) to `new_path`: relative paths (e.g.
/// `.npy` inputs) keep pointing at the same files, and absolute paths to files in the new
/// file's folder become relative to it (see [`rebase_paths_command`]). `None` when nothing
/// needs to change.
#[must_use]
pub fn rebase_for_save_as(
    reg: &Registry,
    page: &Page,
    old_base: Option<&Path>,
    new_path: &Path,
) -> Option<Command> {
    let old_dir = old_base
        .map(Path::to_path_buf)
        .or_else(|| std::env::current_dir().ok());
    let new_dir = match new_path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(d) => std::fs::canonicalize(d).ok(),
        None => std::env::current_dir().ok(),
    };
    let (old, new) = (old_dir?, new_dir?);
    let cmd = rebase_paths_command(reg, page, &old, &new);
    (!matches!(&cmd, Command::Batch(c) if c.is_empty())).then_some(cmd)
}
