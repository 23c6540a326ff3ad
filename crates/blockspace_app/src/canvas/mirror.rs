//! The snarl mirror of a page: `Snarl<BlockId>` is a view only, reconciled from the page model
//! whenever its revision changes.

use std::collections::{BTreeSet, HashMap};

use blockspace_graph::{BlockId, Page};
use egui::Pos2;
use egui_snarl::{InPinId, NodeId, OutPinId, Snarl};

/// The snarl mirror of one page.
#[derive(Default)]
pub struct Mirror {
    /// The snarl graph (view only).
    pub snarl: Snarl<BlockId>,
    /// Block → snarl node.
    pub nodes: HashMap<BlockId, NodeId>,
    synced: Option<u64>,
}

impl Mirror {
    /// Reconciles the mirror with `page` if the page changed since the last sync: adds missing
    /// nodes, removes stale ones, moves nodes to the model's positions and re-sets the wires. It
    /// diffs instead of rebuilding, so snarl's per-node state (sizes, draw order) stays valid.
    pub fn sync(&mut self, page: &Page) {
        if self.synced == Some(page.revision()) {
            return;
        }
        self.synced = Some(page.revision());
        let live: BTreeSet<BlockId> = page.blocks().map(|b| b.id).collect();
        let stale: Vec<BlockId> = self
            .nodes
            .keys()
            .filter(|id| !live.contains(id))
            .copied()
            .collect();
        for id in stale {
            if let Some(node) = self.nodes.remove(&id) {
                self.snarl.remove_node(node);
            }
        }
        for b in page.blocks() {
            let pos = egui::pos2(b.pos[0], b.pos[1]);
            match self.nodes.get(&b.id) {
                Some(&node) => {
                    if let Some(info) = self.snarl.get_node_info_mut(node) {
                        info.pos = pos;
                    }
                }
                None => {
                    let node = self.snarl.insert_node(pos, b.id);
                    self.nodes.insert(b.id, node);
                }
            }
        }
        let want: BTreeSet<(OutPinId, InPinId)> = page
            .wires()
            .filter_map(|w| {
                let from = *self.nodes.get(&w.from.block)?;
                let to = *self.nodes.get(&w.to.block)?;
                Some((
                    OutPinId {
                        node: from,
                        output: w.from.port,
                    },
                    InPinId {
                        node: to,
                        input: w.to.port,
                    },
                ))
            })
            .collect();
        let have: BTreeSet<(OutPinId, InPinId)> = self.snarl.wires().collect();
        for (o, i) in have.difference(&want) {
            self.snarl.disconnect(*o, *i);
        }
        for (o, i) in want.difference(&have) {
            self.snarl.connect(*o, *i);
        }
    }

    /// Forces a full position/wire reconcile at the next [`Mirror::sync`].
    pub fn invalidate(&mut self) {
        self.synced = None;
    }

    /// The block shown by a snarl node.
    #[must_use]
    pub fn block(&self, node: NodeId) -> Option<BlockId> {
        self.snarl.get_node(node).copied()
    }

    /// Positions of all nodes in the mirror.
    #[must_use]
    pub fn positions(&self) -> HashMap<BlockId, Pos2> {
        self.snarl.nodes_info().map(|n| (n.value, n.pos)).collect()
    }
}
