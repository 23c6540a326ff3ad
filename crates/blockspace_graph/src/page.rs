//! Pages, blocks and the page scope (unique block names).

use crate::ids::{BlockId, InPort, OutPort, PageId, Wire};
use crate::value::Attrs;
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

/// A block name that breaks TensorFlow's op-name rule `[A-Za-z0-9.][A-Za-z0-9_.\-/]*`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The name is empty.
    #[error("a block name cannot be empty; type a name")]
    Empty,
    /// The first character is not a letter, digit or `.`.
    #[error("block name {0:?} must start with a letter, digit or '.'; rename it")]
    BadStart(String),
    /// A character outside letters, digits, `_`, `.`, `-` and `/`.
    #[error("block name {name:?} contains {bad:?}; use letters, digits, '_', '.', '-' or '/'")]
    BadChar {
        /// The name.
        name: String,
        /// The first character not allowed.
        bad: char,
    },
}

/// Checks a block name: TensorFlow's op-name rule `[A-Za-z0-9.][A-Za-z0-9_.\-/]*`.
///
/// # Errors
/// [`NameError`] saying which rule the name breaks.
pub fn validate_name(name: &str) -> Result<(), NameError> {
    let mut chars = name.chars();
    match chars.next() {
        None => return Err(NameError::Empty),
        Some(c) if !(c.is_ascii_alphanumeric() || c == '.') => {
            // Names are quoted in messages: keep at most ~80 characters of them.
            return Err(NameError::BadStart(crate::value::clip(name)));
        }
        Some(_) => {}
    }
    if let Some(bad) =
        chars.find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/')))
    {
        return Err(NameError::BadChar {
            name: crate::value::clip(name),
            bad,
        });
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

    pub(crate) fn unique_name_excluding(&self, base: &str, taken: &BTreeSet<String>) -> String {
        let used = |n: &str| taken.contains(n) || self.blocks.values().any(|b| b.name == n);
        if !used(base) {
            return base.to_owned();
        }
        (1u64..)
            .map(|k| format!("{base}_{k}"))
            .find(|n| !used(n))
            .unwrap_or_else(|| base.to_owned())
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::Registry;

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
