//! Pages, blocks and the page scope (unique block names).

use crate::command::{Command, CommandError};
use crate::ids::{BlockId, InPort, OutPort, PageId, Wire};
use crate::ops::Registry;
use crate::value::{AttrValue, Attrs};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};

/// One block on a page.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    /// Stable id, never reused within the page.
    pub id: BlockId,
    /// Registry type id, e.g. `"Input"`.
    pub type_id: String,
    /// Name, unique within the page's scope.
    pub name: String,
    /// All attributes of the block type.
    pub attrs: Attrs,
    /// Canvas position.
    pub pos: [f32; 2],
}

/// Blocks and the wires between them, copied from a page for pasting.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Clipboard {
    /// The copied blocks (with their original ids and names).
    pub blocks: Vec<Block>,
    /// Wires whose both ends are copied blocks.
    pub wires: Vec<Wire>,
}

static NEXT_PAGE_ID: AtomicU64 = AtomicU64::new(1);

/// A page: blocks, wires and one implicit scope in which block names are unique.
///
/// Change a page only through [`Page::apply`] (usually via [`crate::History`]). Equality compares
/// the content (name, blocks, wires), not the runtime page id, revision or id counter.
#[derive(Debug, Clone)]
pub struct Page {
    pub(crate) id: PageId,
    pub(crate) name: String,
    pub(crate) blocks: BTreeMap<BlockId, Block>,
    pub(crate) wires: BTreeSet<Wire>,
    pub(crate) next_block_id: u64,
    pub(crate) revision: u64,
    pub(crate) model_revision: u64,
}

impl PartialEq for Page {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.blocks == other.blocks && self.wires == other.wires
    }
}

/// Checks a block name: TensorFlow's op-name rule `[A-Za-z0-9.][A-Za-z0-9_.\-/]*`.
pub fn validate_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    match chars.next() {
        None => return Err("a block name cannot be empty; type a name".into()),
        Some(c) if !(c.is_ascii_alphanumeric() || c == '.') => {
            return Err(format!(
                "block name {name:?} must start with a letter, digit or '.'; rename it"
            ));
        }
        Some(_) => {}
    }
    if let Some(c) =
        chars.find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/')))
    {
        return Err(format!(
            "block name {name:?} contains {c:?}; use letters, digits, '_', '.', '-' or '/'"
        ));
    }
    Ok(())
}

impl Page {
    /// An empty page called `name`, with a fresh process-unique id.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            id: PageId(NEXT_PAGE_ID.fetch_add(1, Ordering::Relaxed)),
            name: name.into(),
            blocks: BTreeMap::new(),
            wires: BTreeSet::new(),
            next_block_id: 1,
            revision: 0,
            model_revision: 0,
        }
    }
    /// Runtime id of this page.
    pub fn id(&self) -> PageId {
        self.id
    }
    /// Page name (tab title).
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Renames the page (not an undoable command: page names are not part of any scope).
    pub fn set_name(&mut self, name: impl Into<String>) {
        self.name = name.into();
        self.revision += 1;
    }
    /// All blocks, ordered by id.
    pub fn blocks(&self) -> impl Iterator<Item = &Block> {
        self.blocks.values()
    }
    /// Number of blocks.
    pub fn len(&self) -> usize {
        self.blocks.len()
    }
    /// Whether the page has no blocks.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }
    /// The block with `id`.
    pub fn block(&self, id: BlockId) -> Option<&Block> {
        self.blocks.get(&id)
    }
    /// The block called `name`.
    pub fn block_by_name(&self, name: &str) -> Option<&Block> {
        self.blocks.values().find(|b| b.name == name)
    }
    /// All wires, sorted.
    pub fn wires(&self) -> impl Iterator<Item = &Wire> {
        self.wires.iter()
    }
    /// The wire feeding `input`, if any.
    pub fn wire_into(&self, input: InPort) -> Option<&Wire> {
        self.wires.iter().find(|w| w.to == input)
    }
    /// The source of each input of `block` (`None` = not connected), `n_inputs` long.
    pub fn inputs_of(&self, block: BlockId, n_inputs: usize) -> Vec<Option<OutPort>> {
        // One block: a scan of the wires. Whole-page passes use `inputs_index` instead.
        let mut v = vec![None; n_inputs];
        for w in self.wires.iter().filter(|w| w.to.block == block) {
            if let Some(slot) = v.get_mut(w.to.port) {
                *slot = Some(w.from);
            }
        }
        v
    }
    /// Every block's incoming wires, built in one pass over the wires, for whole-page passes
    /// (checking, planning a run) that would otherwise scan all wires once per block.
    pub fn inputs_index(&self) -> InputsIndex {
        let mut by_block: std::collections::HashMap<BlockId, Vec<(usize, OutPort)>> =
            std::collections::HashMap::new();
        for w in &self.wires {
            by_block
                .entry(w.to.block)
                .or_default()
                .push((w.to.port, w.from));
        }
        InputsIndex { by_block }
    }
    /// Incremented by every applied command.
    pub fn revision(&self) -> u64 {
        self.revision
    }
    /// Incremented by every applied command that changes more than canvas positions: when it
    /// is unchanged, checking and running give the same answers (use it to skip re-checking
    /// while blocks are dragged).
    pub fn model_revision(&self) -> u64 {
        self.model_revision
    }
    /// The id the next new block gets. Saved in page files; never goes back.
    pub fn next_block_id(&self) -> BlockId {
        BlockId(self.next_block_id)
    }

    /// A name not used in this page's scope, TensorFlow style: `base`, else `base_1`, `base_2`, ...
    pub fn unique_name(&self, base: &str) -> String {
        self.unique_name_excluding(base, &BTreeSet::new())
    }

    fn unique_name_excluding(&self, base: &str, taken: &BTreeSet<String>) -> String {
        let used = |n: &str| taken.contains(n) || self.blocks.values().any(|b| b.name == n);
        if !used(base) {
            return base.to_owned();
        }
        (1u64..)
            .map(|k| format!("{base}_{k}"))
            .find(|n| !used(n))
            .unwrap_or_else(|| base.to_owned())
    }

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

    /// Copies `ids` and the wires between them.
    pub fn copy_blocks(&self, ids: &[BlockId]) -> Clipboard {
        let set: BTreeSet<BlockId> = ids.iter().copied().collect();
        Clipboard {
            blocks: set
                .iter()
                .filter_map(|id| self.blocks.get(id).cloned())
                .collect(),
            wires: self
                .wires
                .iter()
                .filter(|w| set.contains(&w.from.block) && set.contains(&w.to.block))
                .copied()
                .collect(),
        }
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
        let Command::AddBlock { mut block } = self.add_block_command(reg, type_id, [0.0, 0.0])?
        else {
            return Err(CommandError::Invalid(
                "add_block_command returned another command".into(),
            ));
        };
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_tensorflow_scope_rules() {
        let reg = Registry::builtin();
        let mut p = Page::new("p");
        let a = p
            .add(&reg, "Conv3DBackpropInputV2", "Conv3DBackpropInputV2", &[])
            .unwrap();
        let b = p
            .add(&reg, "Conv3DBackpropInputV2", "Conv3DBackpropInputV2", &[])
            .unwrap();
        let c = p
            .add(&reg, "Conv3DBackpropInputV2", "Conv3DBackpropInputV2", &[])
            .unwrap();
        let names: Vec<&str> = [a, b, c]
            .iter()
            .map(|id| p.block(*id).unwrap().name.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "Conv3DBackpropInputV2",
                "Conv3DBackpropInputV2_1",
                "Conv3DBackpropInputV2_2"
            ]
        );
        assert_eq!(p.unique_name("Input"), "Input");
        assert!(validate_name("a/b_c-1.x").is_ok());
        assert!(validate_name("_x").is_err());
        assert!(validate_name("a b").is_err());
        assert!(validate_name("").is_err());
    }
}

/// Every block's incoming wires (see [`Page::inputs_index`]).
#[derive(Debug, Clone, Default)]
pub struct InputsIndex {
    by_block: std::collections::HashMap<BlockId, Vec<(usize, OutPort)>>,
}

impl InputsIndex {
    /// The source of each of `block`'s `n_inputs` input ports, as [`Page::inputs_of`].
    pub fn inputs_of(&self, block: BlockId, n_inputs: usize) -> Vec<Option<OutPort>> {
        let mut v = vec![None; n_inputs];
        for &(port, from) in self.by_block.get(&block).into_iter().flatten() {
            if let Some(slot) = v.get_mut(port) {
                *slot = Some(from);
            }
        }
        v
    }
}
