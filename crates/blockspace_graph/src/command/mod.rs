//! Commands: the only way to change a page. Each applied command returns its exact inverse.

use crate::ids::{BlockId, InPort, OutPort, Wire};
use crate::ops::{Registry, dtype_list};
use crate::page::{Block, Page, validate_name};
use crate::value::AttrValue;

mod error;
pub use error::CommandError;

/// One change to a page. [`Page::apply`] validates it, applies it and returns the inverse.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Adds a block (id must be the page's next id; name unique; attrs valid, missing ones
    /// get their defaults).
    AddBlock {
        /// The new block.
        block: Block,
    },
    /// Removes a block and every wire touching it. The inverse re-adds both.
    RemoveBlock {
        /// The block to remove.
        id: BlockId,
    },
    /// Adds a wire into a free input. Refused if the input is occupied, the wire would make a
    /// cycle, a port or block is missing, or the input refuses the source's dtype.
    Connect {
        /// The new wire.
        wire: Wire,
    },
    /// Removes a wire.
    Disconnect {
        /// The wire to remove.
        wire: Wire,
    },
    /// Moves blocks on the canvas.
    MoveBlocks {
        /// New positions.
        moves: Vec<(BlockId, [f32; 2])>,
    },
    /// Sets one attribute.
    SetAttr {
        /// The block.
        block: BlockId,
        /// Attribute name.
        attr: String,
        /// New value (validated against the attribute's kind).
        value: AttrValue,
    },
    /// Renames a block; the name must be valid and unique in the page's scope.
    RenameBlock {
        /// The block.
        block: BlockId,
        /// New name.
        name: String,
    },
    /// Several commands applied together; all or nothing.
    Batch(Vec<Command>),
}

impl Command {
    /// Whether the command changes nothing (e.g. an empty batch).
    /// Whether the command only moves blocks (changes no results).
    pub fn is_move_only(&self) -> bool {
        match self {
            Command::Batch(v) => v.iter().all(Command::is_move_only),
            Command::MoveBlocks { .. } => true,
            _ => false,
        }
    }

    /// Whether the command changes nothing (e.g. an empty batch).
    pub fn is_noop(&self) -> bool {
        match self {
            Command::Batch(v) => v.iter().all(Command::is_noop),
            Command::MoveBlocks { moves } => moves.is_empty(),
            _ => false,
        }
    }
}

/// Refuses a position that is not finite (NaN or infinite: the file format cannot hold it).
fn check_position(block: BlockId, pos: [f32; 2]) -> Result<(), CommandError> {
    if pos.iter().all(|v| v.is_finite()) {
        Ok(())
    } else {
        Err(CommandError::BadPosition { block, pos })
    }
}

/// How strictly to validate: user commands are checked fully; undo/redo replays states that
/// existed before, so freshness and dtype checks are skipped there.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Strict,
    Replay,
}

impl Page {
    /// Validates and applies `cmd`, returning its exact inverse. On error the page is unchanged.
    pub fn apply(&mut self, reg: &Registry, cmd: Command) -> Result<Command, CommandError> {
        let moves_only = cmd.is_move_only();
        let inv = self.apply_mode(reg, cmd, Mode::Strict)?;
        self.bump(moves_only);
        Ok(inv)
    }

    /// Applies an inverse (undo) or a previously applied command again (redo). It checks the
    /// page's structure (ids, names, ports, cycles) but not id freshness or dtypes, because it
    /// restores a state that existed. Returns the inverse.
    pub fn apply_replay(&mut self, reg: &Registry, cmd: Command) -> Result<Command, CommandError> {
        let moves_only = cmd.is_move_only();
        let inv = self.apply_mode(reg, cmd, Mode::Replay)?;
        self.bump(moves_only);
        Ok(inv)
    }

    fn bump(&mut self, moves_only: bool) {
        self.revision += 1;
        if !moves_only {
            self.model_revision += 1;
        }
    }

    fn block_ref(&self, id: BlockId) -> Result<&Block, CommandError> {
        self.blocks.get(&id).ok_or(CommandError::NoSuchBlock(id))
    }

    fn apply_mode(
        &mut self,
        reg: &Registry,
        cmd: Command,
        mode: Mode,
    ) -> Result<Command, CommandError> {
        match cmd {
            Command::AddBlock { block } => self.add_block(reg, block, mode),
            Command::RemoveBlock { id } => {
                let block = self
                    .blocks
                    .remove(&id)
                    .ok_or(CommandError::NoSuchBlock(id))?;
                let touching: Vec<Wire> = self
                    .wires
                    .iter()
                    .filter(|w| w.from.block == id || w.to.block == id)
                    .copied()
                    .collect();
                for w in &touching {
                    self.wires.remove(w);
                }
                let mut inv = vec![Command::AddBlock { block }];
                inv.extend(touching.into_iter().map(|wire| Command::Connect { wire }));
                Ok(Command::Batch(inv))
            }
            Command::Connect { wire } => {
                self.check_connect(reg, wire, mode)?;
                self.wires.insert(wire);
                Ok(Command::Disconnect { wire })
            }
            Command::Disconnect { wire } => {
                if !self.wires.remove(&wire) {
                    return Err(CommandError::NoSuchWire(wire));
                }
                Ok(Command::Connect { wire })
            }
            Command::MoveBlocks { moves } => {
                for (id, pos) in &moves {
                    self.block_ref(*id)?;
                    check_position(*id, *pos)?;
                }
                let mut inv = Vec::with_capacity(moves.len());
                for (id, pos) in moves {
                    if let Some(b) = self.blocks.get_mut(&id) {
                        inv.push((id, b.pos));
                        b.pos = pos;
                    }
                }
                inv.reverse(); // so duplicates restore the oldest position last
                Ok(Command::MoveBlocks { moves: inv })
            }
            Command::SetAttr { block, attr, value } => {
                let b = self.block_ref(block)?;
                let d = reg.lookup(&b.type_id)?;
                let bad = |message: String| CommandError::BadAttr {
                    block_name: b.name.clone(),
                    attr: attr.clone(),
                    message,
                };
                let spec = d.attr(&attr).ok_or_else(|| {
                    bad(format!(
                        "{} has no such attribute; known: {}",
                        d.type_id,
                        d.attr_names()
                    ))
                })?;
                spec.validate(&value).map_err(|e| bad(e.to_string()))?;
                let old = match self.blocks.get_mut(&block) {
                    Some(b) => b.attrs.insert(attr.clone(), value),
                    None => return Err(CommandError::NoSuchBlock(block)),
                };
                let old = old.unwrap_or_else(|| spec.default_value());
                Ok(Command::SetAttr {
                    block,
                    attr,
                    value: old,
                })
            }
            Command::RenameBlock { block, name } => {
                let b = self.block_ref(block)?;
                if b.name == name {
                    return Ok(Command::RenameBlock { block, name });
                }
                validate_name(&name).map_err(CommandError::BadName)?;
                if self
                    .blocks
                    .values()
                    .any(|o| o.id != block && o.name == name)
                {
                    return Err(CommandError::NameTaken(name));
                }
                let old = match self.blocks.get_mut(&block) {
                    Some(b) => std::mem::replace(&mut b.name, name),
                    None => return Err(CommandError::NoSuchBlock(block)),
                };
                Ok(Command::RenameBlock { block, name: old })
            }
            Command::Batch(cmds) => {
                let mut inverses = Vec::with_capacity(cmds.len());
                for c in cmds {
                    match self.apply_mode(reg, c, mode) {
                        Ok(inv) => inverses.push(inv),
                        Err(e) => {
                            // Roll back what this batch already did.
                            for inv in inverses.into_iter().rev() {
                                if let Err(re) = self.apply_mode(reg, inv, Mode::Replay) {
                                    log::error!("rolling back a failed batch failed: {re}");
                                }
                            }
                            return Err(e);
                        }
                    }
                }
                inverses.reverse();
                Ok(Command::Batch(inverses))
            }
        }
    }

    fn add_block(
        &mut self,
        reg: &Registry,
        mut block: Block,
        mode: Mode,
    ) -> Result<Command, CommandError> {
        let d = reg.lookup(&block.type_id)?;
        if self.blocks.contains_key(&block.id)
            || (mode == Mode::Strict && block.id.0 < self.next_block_id)
        {
            return Err(CommandError::IdNotFresh {
                id: block.id,
                next: self.next_block_id(),
            });
        }
        validate_name(&block.name).map_err(CommandError::BadName)?;
        check_position(block.id, block.pos)?;
        if self.blocks.values().any(|b| b.name == block.name) {
            return Err(CommandError::NameTaken(block.name));
        }
        d.validate_attrs(&block.attrs)
            .map_err(|e| CommandError::BadAttr {
                block_name: block.name.clone(),
                attr: e.attr().to_owned(),
                message: e.to_string(),
            })?;
        // Whole numbers given for float attributes stay `Int`, exact (as files load them).
        for spec in d.attrs {
            block
                .attrs
                .entry(spec.name.to_owned())
                .or_insert_with(|| spec.default_value());
        }
        if !(block.pos[0].is_finite() && block.pos[1].is_finite()) {
            block.pos = [0.0, 0.0];
        }
        let id = block.id;
        self.next_block_id = self.next_block_id.max(id.0.saturating_add(1));
        self.blocks.insert(id, block);
        Ok(Command::RemoveBlock { id })
    }

    fn check_connect(&self, reg: &Registry, wire: Wire, mode: Mode) -> Result<(), CommandError> {
        let from = self.block_ref(wire.from.block)?;
        let to = self.block_ref(wire.to.block)?;
        let fd = reg.lookup(&from.type_id)?;
        let td = reg.lookup(&to.type_id)?;
        let out_spec = fd
            .outputs
            .get(wire.from.port)
            .ok_or_else(|| CommandError::NoSuchPort {
                block_name: from.name.clone(),
                type_id: from.type_id.clone(),
                side: "output",
                port: wire.from.port,
            })?;
        let in_spec = td
            .inputs
            .get(wire.to.port)
            .ok_or_else(|| CommandError::NoSuchPort {
                block_name: to.name.clone(),
                type_id: to.type_id.clone(),
                side: "input",
                port: wire.to.port,
            })?;
        if self.wire_into(wire.to).is_some() {
            return Err(CommandError::InputOccupied {
                block_name: to.name.clone(),
                port: in_spec.name.to_owned(),
            });
        }
        if wire.from.block == wire.to.block || self.reaches(wire.to.block, wire.from.block) {
            return Err(CommandError::Cycle {
                from: from.name.clone(),
                to: to.name.clone(),
            });
        }
        if mode == Mode::Strict {
            // The source's actual dtype if checking knows it, else every dtype it may produce.
            let check = crate::check::check_page(reg, self);
            let got: Vec<_> = match check.output(wire.from) {
                Some(meta) => vec![meta.dtype],
                None => out_spec.dtypes.to_vec(),
            };
            if !got.iter().any(|d| in_spec.dtypes.contains(d)) {
                return Err(CommandError::DTypeRefused {
                    block_name: to.name.clone(),
                    port: in_spec.name.to_owned(),
                    accepted: dtype_list(in_spec.dtypes),
                    source_name: from.name.clone(),
                    got: dtype_list(&got),
                });
            }
        }
        Ok(())
    }

    /// Whether `to` can be reached from `from` by following wires.
    pub(crate) fn reaches(&self, from: BlockId, to: BlockId) -> bool {
        let mut stack = vec![from];
        let mut seen = std::collections::BTreeSet::new();
        while let Some(b) = stack.pop() {
            if b == to {
                return true;
            }
            if seen.insert(b) {
                stack.extend(
                    self.wires
                        .iter()
                        .filter(|w| w.from.block == b)
                        .map(|w| w.to.block),
                );
            }
        }
        false
    }
}

/// Convenience: a wire between port indices.
pub fn wire(from: BlockId, out: usize, to: BlockId, input: usize) -> Wire {
    Wire {
        from: OutPort {
            block: from,
            port: out,
        },
        to: InPort {
            block: to,
            port: input,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> AttrValue {
        AttrValue::Str(v.to_owned())
    }

    #[test]
    fn remove_block_inverse_restores_wires() {
        let reg = Registry::builtin();
        let mut p = Page::new("p");
        let f = p.add(&reg, "Input", "f", &[]).unwrap();
        let c = p.add(&reg, "Conv3DBackpropInputV2", "c", &[]).unwrap();
        p.connect(&reg, f, "output", c, "filter").unwrap();
        let before = p.clone();
        let inv = p.apply(&reg, Command::RemoveBlock { id: f }).unwrap();
        assert_eq!(p.wires().count(), 0);
        p.apply_replay(&reg, inv).unwrap();
        assert_eq!(p, before);
    }

    #[test]
    fn non_finite_positions_are_refused() {
        // Found by the `commands` fuzz target: a NaN position saved as `null` and the page
        // did not load back.
        let reg = Registry::builtin();
        let mut p = Page::new("p");
        let i = p.add(&reg, "Input", "x", &[]).unwrap();
        let before = p.clone();
        for pos in [[f32::NAN, 0.0], [0.0, f32::INFINITY]] {
            let e = p
                .apply(
                    &reg,
                    Command::MoveBlocks {
                        moves: vec![(i, pos)],
                    },
                )
                .unwrap_err();
            assert!(matches!(e, CommandError::BadPosition { .. }), "{e}");
            let Command::AddBlock { mut block } = p.add_block_command(&reg, "Abs", pos).unwrap()
            else {
                panic!("not an AddBlock");
            };
            block.pos = pos;
            let e = p.apply(&reg, Command::AddBlock { block }).unwrap_err();
            assert!(e.to_string().contains("finite"), "{e}");
        }
        assert_eq!(p, before);
    }

    #[test]
    fn connect_refusals() {
        let reg = Registry::builtin();
        let mut p = Page::new("p");
        let i = p
            .add(&reg, "Input", "sizes", &[("dtype", s("int32"))])
            .unwrap();
        let f = p.add(&reg, "Input", "f", &[]).unwrap();
        let c = p.add(&reg, "Conv3DBackpropInputV2", "c", &[]).unwrap();
        let c2 = p.add(&reg, "Conv3DBackpropInputV2", "c2", &[]).unwrap();
        let e = p.connect(&reg, i, "output", c, "filter").unwrap_err();
        assert!(matches!(e, CommandError::DTypeRefused { .. }), "{e}");
        assert!(e.to_string().contains("int32"), "{e}");
        p.connect(&reg, f, "output", c, "filter").unwrap();
        let e = p.connect(&reg, f, "output", c, "filter").unwrap_err();
        assert!(matches!(e, CommandError::InputOccupied { .. }), "{e}");
        p.connect(&reg, c, "output", c2, "out_backprop").unwrap();
        let e = p
            .apply(
                &reg,
                Command::Connect {
                    wire: wire(c2, 0, c, 2),
                },
            )
            .unwrap_err();
        assert!(matches!(e, CommandError::Cycle { .. }), "{e}");
        let e = p
            .apply(
                &reg,
                Command::Connect {
                    wire: wire(c, 0, c, 2),
                },
            )
            .unwrap_err();
        assert!(matches!(e, CommandError::Cycle { .. }), "{e}");
        let e = p
            .apply(
                &reg,
                Command::Connect {
                    wire: wire(f, 3, c2, 1),
                },
            )
            .unwrap_err();
        assert!(matches!(e, CommandError::NoSuchPort { .. }), "{e}");
        let e = p
            .apply(
                &reg,
                Command::Connect {
                    wire: wire(BlockId(99), 0, c2, 1),
                },
            )
            .unwrap_err();
        assert_eq!(e, CommandError::NoSuchBlock(BlockId(99)));
    }

    #[test]
    fn rename_and_attrs_are_validated() {
        let reg = Registry::builtin();
        let mut p = Page::new("p");
        let a = p.add(&reg, "Input", "a", &[]).unwrap();
        let b = p.add(&reg, "Input", "b", &[]).unwrap();
        let e = p
            .apply(
                &reg,
                Command::RenameBlock {
                    block: b,
                    name: "a".into(),
                },
            )
            .unwrap_err();
        assert_eq!(e, CommandError::NameTaken("a".into()));
        assert!(
            p.apply(
                &reg,
                Command::RenameBlock {
                    block: b,
                    name: "b c".into()
                }
            )
            .is_err()
        );
        let inv = p
            .apply(
                &reg,
                Command::RenameBlock {
                    block: b,
                    name: "c".into(),
                },
            )
            .unwrap();
        assert_eq!(
            inv,
            Command::RenameBlock {
                block: b,
                name: "b".into()
            }
        );
        let e = p
            .apply(
                &reg,
                Command::SetAttr {
                    block: a,
                    attr: "dtype".into(),
                    value: s("float16"),
                },
            )
            .unwrap_err();
        assert!(
            e.to_string().contains("\"float16\"") && e.to_string().contains("\"float64\""),
            "{e}"
        );
        let e = p
            .apply(
                &reg,
                Command::SetAttr {
                    block: a,
                    attr: "nope".into(),
                    value: s("x"),
                },
            )
            .unwrap_err();
        assert!(e.to_string().contains("no such attribute"), "{e}");
        let rev = p.revision();
        let failing = Command::Batch(vec![
            Command::RenameBlock {
                block: a,
                name: "z".into(),
            },
            Command::RemoveBlock { id: BlockId(77) },
        ]);
        assert!(p.apply(&reg, failing).is_err());
        assert_eq!(p.block(a).unwrap().name, "a", "a failed batch rolls back");
        assert_eq!(p.revision(), rev);
    }

    #[test]
    fn moves_do_not_change_the_model_revision() {
        let reg = Registry::builtin();
        let mut p = Page::new("p");
        let a = p.add(&reg, "Input", "a", &[]).unwrap();
        let (rev, model) = (p.revision(), p.model_revision());
        p.apply(
            &reg,
            Command::MoveBlocks {
                moves: vec![(a, [5.0, 5.0])],
            },
        )
        .unwrap();
        assert_eq!((p.revision(), p.model_revision()), (rev + 1, model));
        p.apply(
            &reg,
            Command::SetAttr {
                block: a,
                attr: "dtype".into(),
                value: s("int64"),
            },
        )
        .unwrap();
        assert_eq!(p.model_revision(), model + 1);
    }

    #[test]
    fn ids_are_never_reused() {
        let reg = Registry::builtin();
        let mut p = Page::new("p");
        let a = p.add(&reg, "Input", "a", &[]).unwrap();
        let inv = p.apply(&reg, Command::RemoveBlock { id: a }).unwrap();
        let b = p.add(&reg, "Input", "a", &[]).unwrap();
        assert_ne!(a, b);
        assert!(
            p.apply(&reg, inv).is_err(),
            "strict AddBlock refuses an old id"
        );
    }
}
