//! Commands and history: random command sequences, then undo all == initial and redo all ==
//! final; every inverse round-trips; scope naming.

use blockspace_graph::command::wire;
use blockspace_graph::{AttrValue, BlockId, Command, History, Page, Registry};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Add(bool),
    Remove(usize),
    Connect(usize, usize, usize),
    Disconnect(usize),
    Move(usize, f32, f32),
    SetDtype(usize, usize),
    SetStrides(usize, i64),
    Rename(usize, u8),
    Paste(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => any::<bool>().prop_map(Op::Add),
        1 => any::<usize>().prop_map(Op::Remove),
        4 => (any::<usize>(), any::<usize>(), 0usize..4).prop_map(|(a, b, p)| Op::Connect(a, b, p)),
        1 => any::<usize>().prop_map(Op::Disconnect),
        2 => (any::<usize>(), -500f32..500.0, -500f32..500.0).prop_map(|(a, x, y)| Op::Move(a, x, y)),
        1 => (any::<usize>(), 0usize..4).prop_map(|(a, d)| Op::SetDtype(a, d)),
        1 => (any::<usize>(), 1i64..4).prop_map(|(a, s)| Op::SetStrides(a, s)),
        1 => (any::<usize>(), 0u8..4).prop_map(|(a, n)| Op::Rename(a, n)),
        1 => any::<usize>().prop_map(Op::Paste),
    ]
}

fn pick(p: &Page, i: usize) -> Option<BlockId> {
    let ids: Vec<BlockId> = p.blocks().map(|b| b.id).collect();
    if ids.is_empty() {
        None
    } else {
        Some(ids[i % ids.len()])
    }
}

/// Turns an abstract op into a command for the current page (may be invalid: then refused).
fn command(p: &Page, reg: &Registry, op: &Op) -> Option<Command> {
    Some(match op {
        Op::Add(conv) => p
            .add_block_command(
                reg,
                if *conv {
                    "Conv3DBackpropInputV2"
                } else {
                    "Input"
                },
                [0.0, 0.0],
            )
            .ok()?,
        Op::Remove(i) => Command::RemoveBlock { id: pick(p, *i)? },
        Op::Connect(a, b, port) => {
            wire(pick(p, *a)?, 0, pick(p, *b)?, *port).pipe(|wire| Command::Connect { wire })
        }
        Op::Disconnect(i) => {
            let ws: Vec<_> = p.wires().copied().collect();
            if ws.is_empty() {
                return None;
            }
            Command::Disconnect {
                wire: ws[i % ws.len()],
            }
        }
        Op::Move(i, x, y) => Command::MoveBlocks {
            moves: vec![(pick(p, *i)?, [*x, *y])],
        },
        Op::SetDtype(i, d) => Command::SetAttr {
            block: pick(p, *i)?,
            attr: "dtype".into(),
            value: AttrValue::Str(["int32", "int64", "float32", "float64"][*d].into()),
        },
        Op::SetStrides(i, s) => Command::SetAttr {
            block: pick(p, *i)?,
            attr: "strides".into(),
            value: AttrValue::IntList(vec![1, *s, *s, 1, 1]),
        },
        Op::Rename(i, n) => Command::RenameBlock {
            block: pick(p, *i)?,
            name: format!("n{n}"),
        },
        Op::Paste(i) => {
            let id = pick(p, *i)?;
            let clip = p.copy_blocks(&[id]);
            p.paste_command(reg, &clip, [10.0, 10.0]).0
        }
    })
}

trait Pipe: Sized {
    fn pipe<T>(self, f: impl FnOnce(Self) -> T) -> T {
        f(self)
    }
}
impl<T> Pipe for T {}

fn names_unique(p: &Page) -> bool {
    let mut names: Vec<&str> = p.blocks().map(|b| b.name.as_str()).collect();
    let n = names.len();
    names.sort_unstable();
    names.dedup();
    names.len() == n
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn undo_all_is_initial_and_redo_all_is_final(ops in prop::collection::vec(op(), 1..40)) {
        let reg = Registry::builtin();
        let mut page = Page::new("p");
        let mut h = History::new();
        // Start from a non-empty page.
        for _ in 0..2 {
            let c = page.add_block_command(&reg, "Input", [0.0, 0.0]).unwrap();
            page.apply(&reg, c).unwrap();
        }
        let initial = page.clone();
        let mut applied = 0;
        let mut max_id = page.next_block_id();
        for op in &ops {
            let Some(cmd) = command(&page, &reg, op) else { continue };
            let before = page.clone();
            // Each inverse round-trips on its own.
            let mut scratch = page.clone();
            if let Ok(inv) = scratch.apply(&reg, cmd.clone()) {
                let mut back = scratch.clone();
                back.apply_replay(&reg, inv).unwrap();
                prop_assert_eq!(&back, &before);
            }
            match h.apply(&mut page, &reg, "op", cmd) {
                Ok(()) => applied += 1,
                Err(_) => prop_assert_eq!(&page, &before, "a refused command changes nothing"),
            }
            prop_assert!(names_unique(&page));
            prop_assert!(page.next_block_id() >= max_id, "the id counter never goes back");
            max_id = page.next_block_id();
            prop_assert!(blockspace_graph::topo_order(&page).is_ok(), "commands never make a cycle");
        }
        let final_page = page.clone();
        let mut undone = 0;
        while h.undo(&mut page, &reg) { undone += 1; }
        prop_assert_eq!(undone, applied);
        prop_assert_eq!(&page, &initial);
        while h.redo(&mut page, &reg) {}
        prop_assert_eq!(&page, &final_page);
        // New blocks after undo never reuse an id.
        while h.undo(&mut page, &reg) {}
        let c = page.add_block_command(&reg, "Input", [0.0, 0.0]).unwrap();
        let Command::AddBlock { block } = &c else { unreachable!() };
        prop_assert!(block.id >= max_id);
    }
}

#[test]
fn tensorflow_style_names_and_rename_uniqueness() {
    let reg = Registry::builtin();
    let mut p = Page::new("p");
    let mut ids = Vec::new();
    for _ in 0..3 {
        let c = p
            .add_block_command(&reg, "Conv3DBackpropInputV2", [0.0, 0.0])
            .unwrap();
        if let Command::AddBlock { block } = &c {
            ids.push(block.id);
        }
        p.apply(&reg, c).unwrap();
    }
    let names: Vec<&str> = ids
        .iter()
        .map(|i| p.block(*i).unwrap().name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "Conv3DBackpropInputV2",
            "Conv3DBackpropInputV2_1",
            "Conv3DBackpropInputV2_2"
        ]
    );
    // Renaming to a taken name is refused; freeing a name lets a new block take it.
    assert!(
        p.apply(
            &reg,
            Command::RenameBlock {
                block: ids[2],
                name: "Conv3DBackpropInputV2".into()
            }
        )
        .is_err()
    );
    p.apply(
        &reg,
        Command::RenameBlock {
            block: ids[0],
            name: "first".into(),
        },
    )
    .unwrap();
    assert_eq!(
        p.unique_name("Conv3DBackpropInputV2"),
        "Conv3DBackpropInputV2"
    );
    // Pasting takes names from this page's scope and fresh ids.
    let clip = p.copy_blocks(&ids);
    let (cmd, new_ids) = p.paste_command(&reg, &clip, [5.0, 5.0]);
    p.apply(&reg, cmd).unwrap();
    let pasted: Vec<&str> = new_ids
        .iter()
        .map(|i| p.block(*i).unwrap().name.as_str())
        .collect();
    assert_eq!(
        pasted,
        [
            "first_1",
            "Conv3DBackpropInputV2_1_1",
            "Conv3DBackpropInputV2_2_1"
        ]
    );
    assert!(new_ids.iter().all(|n| !ids.contains(n)));
    // Scopes are per page: another page starts fresh.
    let other = Page::new("q");
    assert_eq!(other.unique_name("first"), "first");
    assert_ne!(other.id(), p.id());
}

#[test]
fn paste_keeps_internal_wires_only() {
    let reg = Registry::builtin();
    let mut p = Page::new("p");
    let f = p.add(&reg, "Input", "f", &[]).unwrap();
    let c = p.add(&reg, "Conv3DBackpropInputV2", "c", &[]).unwrap();
    let s = p
        .add(
            &reg,
            "Input",
            "s",
            &[("dtype", AttrValue::Str("int32".into()))],
        )
        .unwrap();
    p.connect(&reg, f, "output", c, "filter").unwrap();
    p.connect(&reg, s, "output", c, "input_sizes").unwrap();
    let clip = p.copy_blocks(&[f, c]);
    assert_eq!(clip.wires.len(), 1);
    let (cmd, new) = p.paste_command(&reg, &clip, [0.0, 0.0]);
    let mut h = History::new();
    h.apply(&mut p, &reg, "Paste", cmd).unwrap();
    assert_eq!(p.wires().filter(|w| w.to.block == new[1]).count(), 1);
    assert!(h.undo(&mut p, &reg));
    assert_eq!(p.len(), 3);
}
