//! Command application as a fuzz target: a page takes a sequence of commands decoded from
//! bytes (valid and invalid ids, ports, names, attribute values, positions, nested batches).
//! Invariants: a refused command changes nothing; an applied command's inverse restores the
//! page; wires never form a cycle; the final page checks, saves and loads back unchanged.

use crate::check::{CheckOptions, check_page_with, topo_order};
use crate::command::Command;
use crate::fuzzing::Bytes;
use crate::fuzzing::files::registry;
use crate::ids::{BlockId, InPort, OutPort, Wire};
use crate::kernels::MemoryLimit;
use crate::ops::Registry;
use crate::page::Page;
use crate::value::AttrValue;

/// At most this many commands per input.
const MAX_STEPS: usize = 64;

fn block_id(b: &mut Bytes<'_>, page: &Page) -> BlockId {
    BlockId(u64::from(b.u8()) % (page.next_block_id().0 + 2))
}

fn position(b: &mut Bytes<'_>) -> [f32; 2] {
    if b.u8() & 1 == 0 {
        [f32::from(b.u8()) * 10.0, f32::from(b.u8()) * 10.0]
    } else {
        [f32::from_bits(b.u32()), f32::from_bits(b.u32())]
    }
}

fn value(b: &mut Bytes<'_>) -> AttrValue {
    match b.u8() % 6 {
        0 => AttrValue::Int(b.int()),
        1 => AttrValue::Float(f64::from_bits(b.u64())),
        2 => AttrValue::Float(b.int() as f64 / 2.0),
        3 => AttrValue::Str(b.text(40)),
        4 => AttrValue::IntList((0..b.u8() % 7).map(|_| b.int()).collect()),
        _ => AttrValue::Bool(b.u8() & 1 == 1),
    }
}

fn command(b: &mut Bytes<'_>, page: &Page, reg: &Registry, depth: usize) -> Command {
    let types: Vec<&str> = reg.iter().map(|d| d.type_id).collect();
    match b.u8() % 8 {
        0 => {
            let ty = types[usize::from(b.u8()) % types.len()];
            let pos = position(b);
            match page.add_block_command(reg, ty, pos) {
                Ok(Command::AddBlock { mut block }) if b.u8() & 1 == 1 => {
                    block.id = block_id(b, page);
                    block.name = b.text(12);
                    Command::AddBlock { block }
                }
                Ok(c) => c,
                Err(_) => Command::Batch(Vec::new()),
            }
        }
        1 => Command::RemoveBlock {
            id: block_id(b, page),
        },
        2 => Command::Connect {
            wire: Wire {
                from: OutPort {
                    block: block_id(b, page),
                    port: usize::from(b.u8() % 3),
                },
                to: InPort {
                    block: block_id(b, page),
                    port: usize::from(b.u8() % 4),
                },
            },
        },
        3 => {
            let wires: Vec<Wire> = page.wires().copied().collect();
            match wires.get(usize::from(b.u8())) {
                Some(w) => Command::Disconnect { wire: *w },
                None => Command::Disconnect {
                    wire: Wire {
                        from: OutPort {
                            block: block_id(b, page),
                            port: 0,
                        },
                        to: InPort {
                            block: block_id(b, page),
                            port: 0,
                        },
                    },
                },
            }
        }
        4 => Command::MoveBlocks {
            moves: (0..b.u8() % 4)
                .map(|_| (block_id(b, page), position(b)))
                .collect(),
        },
        5 => {
            let block = block_id(b, page);
            let pick = b.u8();
            let attr = page
                .block(block)
                .and_then(|blk| reg.get(&blk.type_id))
                .and_then(|d| d.attrs.get(usize::from(pick) % (d.attrs.len() + 1)))
                .map_or_else(|| b.text(10), |s| s.name.to_owned());
            Command::SetAttr {
                block,
                attr,
                value: value(b),
            }
        }
        6 => Command::RenameBlock {
            block: block_id(b, page),
            name: b.text(16),
        },
        _ if depth < 2 => Command::Batch(
            (0..b.u8() % 4)
                .map(|_| command(b, page, reg, depth + 1))
                .collect(),
        ),
        _ => Command::Batch(Vec::new()),
    }
}

/// Commands from bytes (see the module docs).
///
/// # Panics
/// When applying panics or an invariant breaks.
pub fn commands(data: &[u8]) {
    let reg = registry();
    let mut b = Bytes(data);
    let mut page = Page::new("fuzz");
    for d in reg.iter() {
        if let Ok(Command::AddBlock { block }) = page.add_block_command(reg, d.type_id, [0.0, 0.0])
        {
            let _ = page.apply(reg, Command::AddBlock { block });
        }
    }
    for _ in 0..MAX_STEPS {
        if b.is_empty() {
            break;
        }
        let cmd = command(&mut b, &page, reg, 0);
        let before = page.clone();
        match page.apply(reg, cmd) {
            Ok(inverse) => {
                let mut undone = page.clone();
                if let Err(e) = undone.apply_replay(reg, inverse) {
                    panic!("the inverse of an applied command is refused: {e}");
                }
                assert!(undone == before, "the inverse does not restore the page");
                assert!(topo_order(&page).is_ok(), "the wires form a cycle");
            }
            Err(_) => assert!(page == before, "a refused command changed the page"),
        }
    }
    let opts = CheckOptions {
        base_dir: None,
        limit: MemoryLimit::bytes(256 << 20),
    };
    let _ = check_page_with(reg, &page, &opts);
    let text = crate::file::page_to_json(reg, &page);
    match crate::file::page_from_json(reg, &text, "round trip") {
        Ok(again) => assert!(again == page, "the round trip changed the page"),
        Err(e) => panic!("a page built by commands does not load back after saving: {e}"),
    }
}
