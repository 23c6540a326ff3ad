//! Undo/redo history of applied commands, with labels, drag merging and transactions.

use crate::command::{Command, CommandError};
use crate::ops::Registry;
use crate::page::Page;
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
struct Entry {
    label: String,
    forward: Command,
    inverse: Command,
    merge_key: Option<String>,
}

#[derive(Debug, Clone)]
struct Transaction {
    label: String,
    forwards: Vec<Command>,
    inverses: Vec<Command>,
}

/// Undo and redo stacks for one page. Not saved in files.
#[derive(Debug, Clone, Default)]
pub struct History {
    undo: Vec<Entry>,
    redo: Vec<Entry>,
    open: Option<Transaction>,
}

impl History {
    /// An empty history.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies `cmd` to `page` and records it as one undo step called `label`. While a
    /// transaction is open, the command joins it instead.
    pub fn apply(
        &mut self,
        page: &mut Page,
        reg: &Registry,
        label: &str,
        cmd: Command,
    ) -> Result<(), CommandError> {
        self.apply_inner(page, reg, label, cmd, None)
    }

    /// Like [`History::apply`], but merges into the previous step when that step was recorded
    /// with the same `merge_key` (e.g. `"drag"` for every frame of one drag, or
    /// `"attr:12:value"` for a slider). Call [`History::seal`] when the gesture ends.
    pub fn apply_merging(
        &mut self,
        page: &mut Page,
        reg: &Registry,
        label: &str,
        merge_key: &str,
        cmd: Command,
    ) -> Result<(), CommandError> {
        self.apply_inner(page, reg, label, cmd, Some(merge_key))
    }

    fn apply_inner(
        &mut self,
        page: &mut Page,
        reg: &Registry,
        label: &str,
        cmd: Command,
        merge_key: Option<&str>,
    ) -> Result<(), CommandError> {
        let forward = cmd.clone();
        let inverse = page.apply(reg, cmd)?;
        self.redo.clear();
        if let Some(t) = &mut self.open {
            t.forwards.push(forward);
            t.inverses.push(inverse);
            return Ok(());
        }
        if let (Some(key), Some(top)) = (merge_key, self.undo.last_mut())
            && top.merge_key.as_deref() == Some(key)
        {
            let old_forward = std::mem::replace(&mut top.forward, Command::Batch(Vec::new()));
            let old_inverse = std::mem::replace(&mut top.inverse, Command::Batch(Vec::new()));
            let (f, i) = merge(old_forward, old_inverse, forward, inverse);
            top.forward = f;
            top.inverse = i;
            top.label = label.to_owned();
            return Ok(());
        }
        self.undo.push(Entry {
            label: label.to_owned(),
            forward,
            inverse,
            merge_key: merge_key.map(str::to_owned),
        });
        Ok(())
    }

    /// Ends merging: the next [`History::apply_merging`] starts a new step.
    pub fn seal(&mut self) {
        if let Some(top) = self.undo.last_mut() {
            top.merge_key = None;
        }
    }

    /// Starts a transaction: the following commands become one undo step called `label`.
    pub fn begin(&mut self, label: &str) {
        if self.open.is_none() {
            self.open = Some(Transaction {
                label: label.to_owned(),
                forwards: Vec::new(),
                inverses: Vec::new(),
            });
        }
    }

    /// Ends the open transaction and records it (an empty one records nothing).
    pub fn commit(&mut self) {
        if let Some(t) = self.open.take()
            && !t.forwards.is_empty()
        {
            let mut inverses = t.inverses;
            inverses.reverse();
            self.undo.push(Entry {
                label: t.label,
                forward: Command::Batch(t.forwards),
                inverse: Command::Batch(inverses),
                merge_key: None,
            });
        }
    }

    /// Undoes everything in the open transaction and drops it.
    pub fn cancel(&mut self, page: &mut Page, reg: &Registry) {
        if let Some(t) = self.open.take() {
            for inv in t.inverses.into_iter().rev() {
                if let Err(e) = page.apply_replay(reg, inv) {
                    log::error!("cancelling a transaction failed: {e}");
                }
            }
        }
    }

    /// Undoes the last step. Returns false if there is nothing to undo (or it failed, which
    /// would be a bug; it is logged).
    pub fn undo(&mut self, page: &mut Page, reg: &Registry) -> bool {
        self.commit();
        let Some(mut e) = self.undo.pop() else {
            return false;
        };
        match page.apply_replay(reg, e.inverse.clone()) {
            Ok(fwd) => {
                e.forward = fwd;
                e.merge_key = None;
                self.redo.push(e);
                self.seal(); // a new gesture after undo never merges into an older step
                true
            }
            Err(err) => {
                log::error!("undo of {:?} failed: {err}", e.label);
                false
            }
        }
    }

    /// Redoes the last undone step. Returns false if there is nothing to redo.
    pub fn redo(&mut self, page: &mut Page, reg: &Registry) -> bool {
        let Some(mut e) = self.redo.pop() else {
            return false;
        };
        match page.apply_replay(reg, e.forward.clone()) {
            Ok(inv) => {
                e.inverse = inv;
                self.undo.push(e);
                true
            }
            Err(err) => {
                log::error!("redo of {:?} failed: {err}", e.label);
                false
            }
        }
    }

    /// Whether there is a step to undo.
    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty() || self.open.as_ref().is_some_and(|t| !t.forwards.is_empty())
    }
    /// Whether there is a step to redo.
    pub fn can_redo(&self) -> bool {
        !self.redo.is_empty()
    }
    /// Label of the step [`History::undo`] would undo.
    pub fn undo_label(&self) -> Option<&str> {
        self.undo.last().map(|e| e.label.as_str())
    }
    /// Label of the step [`History::redo`] would redo.
    pub fn redo_label(&self) -> Option<&str> {
        self.redo.last().map(|e| e.label.as_str())
    }
    /// Number of undo steps.
    pub fn undo_len(&self) -> usize {
        self.undo.len()
    }
    /// Forgets everything (e.g. after loading a page).
    pub fn clear(&mut self) {
        *self = Self::default();
    }
}

/// Merges step 2 into step 1: forward = 1 then 2, inverse = inverse 2 then inverse 1. Two moves
/// collapse into one move (later positions win; the inverse keeps the oldest positions).
fn merge(f1: Command, i1: Command, f2: Command, i2: Command) -> (Command, Command) {
    match (f1, i1, f2, i2) {
        (
            Command::MoveBlocks { moves: m1 },
            Command::MoveBlocks { moves: inv1 },
            Command::MoveBlocks { moves: m2 },
            Command::MoveBlocks { moves: inv2 },
        ) => {
            let mut fwd: BTreeMap<_, _> = m1.into_iter().collect();
            fwd.extend(m2);
            let mut inv: BTreeMap<_, _> = inv2.into_iter().collect();
            inv.extend(inv1); // oldest positions win
            (
                Command::MoveBlocks {
                    moves: fwd.into_iter().collect(),
                },
                Command::MoveBlocks {
                    moves: inv.into_iter().collect(),
                },
            )
        }
        (f1, i1, f2, i2) => {
            let mut fwd = flatten(f1);
            fwd.extend(flatten(f2));
            let mut inv = flatten(i2);
            inv.extend(flatten(i1));
            (Command::Batch(fwd), Command::Batch(inv))
        }
    }
}

fn flatten(c: Command) -> Vec<Command> {
    match c {
        Command::Batch(v) => v,
        other => vec![other],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::AttrValue;

    #[test]
    fn undo_redo_with_labels_and_drag_merge() {
        let reg = Registry::builtin();
        let mut p = Page::new("p");
        let mut h = History::new();
        let add = p.add_block_command(&reg, "Input", [0.0, 0.0]).unwrap();
        h.apply(&mut p, &reg, "Add Input", add).unwrap();
        let id = p.blocks().next().unwrap().id;
        let initial = p.clone();
        for k in 1..=10 {
            let mv = Command::MoveBlocks {
                moves: vec![(id, [k as f32, 0.0])],
            };
            h.apply_merging(&mut p, &reg, "Move block", "drag", mv)
                .unwrap();
        }
        h.seal();
        assert_eq!(h.undo_len(), 2);
        assert_eq!(h.undo_label(), Some("Move block"));
        assert!(h.undo(&mut p, &reg));
        assert_eq!(p, initial);
        assert_eq!(h.redo_label(), Some("Move block"));
        assert!(h.redo(&mut p, &reg));
        assert_eq!(p.block(id).unwrap().pos, [10.0, 0.0]);
        h.begin("Set two attrs");
        h.apply(
            &mut p,
            &reg,
            "x",
            Command::SetAttr {
                block: id,
                attr: "dtype".into(),
                value: AttrValue::Str("int32".into()),
            },
        )
        .unwrap();
        h.apply(
            &mut p,
            &reg,
            "x",
            Command::RenameBlock {
                block: id,
                name: "sizes".into(),
            },
        )
        .unwrap();
        h.commit();
        assert_eq!(h.undo_label(), Some("Set two attrs"));
        assert!(h.undo(&mut p, &reg));
        assert_eq!(p.block(id).unwrap().name, "Input");
        assert!(h.undo(&mut p, &reg) && h.undo(&mut p, &reg));
        assert!(p.is_empty());
        assert!(!h.undo(&mut p, &reg));
        h.begin("cancelled");
        let add = p.add_block_command(&reg, "Input", [0.0, 0.0]).unwrap();
        h.apply(&mut p, &reg, "x", add).unwrap();
        h.cancel(&mut p, &reg);
        assert!(p.is_empty());
    }
}
