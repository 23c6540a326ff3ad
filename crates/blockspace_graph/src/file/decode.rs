//! Loading: page-file text to a validated [`Page`], every problem reported with its JSON path
//! (after migrating older versions).

use super::blocks::{BlockDecoder, DecodedBlocks, check_keys, join};
use super::error::{Problems, invalid, problem};
use super::raw::{self, Raw, RawMap};
use super::{CURRENT_VERSION, EXTENSION, FORMAT, FileError, KEYS, Problem, migrate, strict_json};
use crate::ids::{BlockId, InPort, OutPort, Wire};
use crate::ops::Registry;
use crate::page::Page;
use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;

/// Loads and validates a page file. Every problem is reported with its JSON path.
pub fn load_page(reg: &Registry, path: &Path) -> Result<Page, FileError> {
    let origin = path.display().to_string();
    // The text is dropped once read, before the page is built from the tree.
    let mut blocks = BlockDecoder::new(reg);
    let tree = {
        let text =
            strict_json::read_text_file(path, strict_json::MAX_JSON_BYTES).map_err(|source| {
                FileError::Io {
                    path: path.to_owned(),
                    source,
                }
            })?;
        page_tree(&text, &origin, &mut blocks)?
    };
    decode(reg, tree, blocks, &origin)
}

/// Parses and validates page-file text; `origin` names the file in messages.
///
/// The text is read straight into a compact tree (`file::raw`): what the page needs is kept, the
/// values of unknown fields and over-long lists are only checked and counted, so loading needs
/// a small multiple of the file, not a general JSON tree's 16–80 times.
pub fn page_from_json(reg: &Registry, text: &str, origin: &str) -> Result<Page, FileError> {
    let mut blocks = BlockDecoder::new(reg);
    let tree = page_tree(text, origin, &mut blocks)?;
    decode(reg, tree, blocks, origin)
}

/// Reads `text` into `blocks` (each entry decoded as it is read) and the rest of the tree,
/// once it is known to be a page of a version this build reads (migrated to the current one).
fn page_tree(text: &str, origin: &str, blocks: &mut BlockDecoder<'_>) -> Result<Raw, FileError> {
    let syntax = |e: serde_json::Error| FileError::Syntax {
        line: e.line(),
        column: e.column(),
        message: strip_position(&e.to_string()),
        truncated: e.classify() == serde_json::error::Category::Eof,
        origin: origin.to_owned(),
    };
    let mut value = {
        let sink = RefCell::new(|i, v| blocks.add(i, v));
        raw::parse_page(text, &sink).map_err(syntax)?
    };
    let origin_s = origin.to_owned();
    let Some(root) = value.as_object() else {
        return Err(FileError::NotAPage {
            found: format!("missing (the file is {})", value.json_type()),
            origin: origin_s,
        });
    };
    match root.get("format") {
        Some(Raw::Str(s)) if s == FORMAT => {}
        Some(v) => {
            return Err(FileError::NotAPage {
                found: v.to_string(),
                origin: origin_s,
            });
        }
        None => {
            return Err(FileError::NotAPage {
                found: "missing".into(),
                origin: origin_s,
            });
        }
    }
    let version = match root.get("version") {
        Some(v) => match v.as_u64() {
            Some(n) => n,
            None => {
                return Err(invalid(
                    vec![problem(
                        "version",
                        format!("{v} is not a version number; use {CURRENT_VERSION}"),
                    )],
                    origin,
                ));
            }
        },
        None => {
            return Err(invalid(
                vec![problem(
                    "version",
                    format!("is missing; add \"version\": {CURRENT_VERSION}"),
                )],
                origin,
            ));
        }
    };
    if version > u64::from(CURRENT_VERSION) {
        return Err(FileError::UnsupportedVersion {
            found: version,
            max_supported: CURRENT_VERSION,
            origin: origin_s,
        });
    }
    if version < u64::from(CURRENT_VERSION) {
        // Migrations rewrite a general JSON tree; older files are read whole, migrated and
        // written out, then read like a current one.
        drop(value);
        let old = strict_json::from_str(text).map_err(syntax)?;
        let migrated = migrate::migrate(old, version as u32)
            .map_err(|e| invalid(vec![problem("version", e.to_string())], origin))?;
        *blocks = BlockDecoder::new(blocks.reg);
        let sink = RefCell::new(|i, v| blocks.add(i, v));
        value = raw::parse_page(&migrated.to_string(), &sink).map_err(syntax)?;
    }
    Ok(value)
}

fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

/// The page from its tree and its blocks (decoded while the tree was read).
fn decode(
    reg: &Registry,
    value: Raw,
    blocks: BlockDecoder<'_>,
    origin: &str,
) -> Result<Page, FileError> {
    let BlockDecoder {
        seen, mut problems, ..
    } = blocks;
    let root = match value {
        Raw::Obj(map) => map,
        _ => RawMap::default(),
    };
    check_keys(&root, "", &KEYS.page, &mut problems);
    let name = page_name(&root, origin, &mut problems);
    let next_block_id = next_block_id(&root, &mut problems);
    match root.get("blocks") {
        Some(Raw::Arr(_)) => {}
        Some(v) => problems.push(problem(
            "blocks",
            format!("is {}, expected an array of blocks", v.json_type()),
        )),
        None => problems.push(problem("blocks", "is missing; add \"blocks\": []")),
    }
    if let (Some(next), Some(max)) = (next_block_id, seen.index.keys().max())
        && next <= *max
    {
        problems.push(problem(
            "next_block_id",
            format!(
                "{next} is not above the largest block id {max}; set it to {}",
                max + 1
            ),
        ));
    }

    let (wires, wire_at) = decode_wires(reg, &root, &seen, &mut problems);

    let mut page = Page::new(name);
    page.blocks = seen.blocks;
    page.wires = wires;
    page.next_block_id = next_block_id.unwrap_or(1);

    if problems.is_empty()
        && let Some(p) = cycle_problem(&page, &wire_at)
    {
        problems.push(p);
    }
    if !problems.is_empty() {
        return Err(invalid(problems.into_vec(), origin));
    }
    Ok(page)
}

/// The page's name: the `name` field, or the file name when it is missing.
fn page_name(root: &RawMap, origin: &str, problems: &mut Problems) -> String {
    match root.get("name") {
        None => Path::new(origin)
            .file_name()
            .and_then(|s| s.to_str())
            .map_or("page", |s| {
                s.trim_end_matches(EXTENSION).trim_end_matches(".json")
            })
            .to_owned(),
        Some(Raw::Str(s)) => s.clone(),
        Some(v) => {
            problems.push(problem(
                "name",
                format!("{v} is {}, expected a string", v.json_type()),
            ));
            String::new()
        }
    }
}

fn next_block_id(root: &RawMap, problems: &mut Problems) -> Option<u64> {
    match root.get("next_block_id") {
        Some(v) => match v.as_u64() {
            Some(n) if n >= 1 => Some(n),
            _ => {
                problems.push(problem(
                    "next_block_id",
                    format!("{v} is not a whole number >= 1"),
                ));
                None
            }
        },
        None => {
            problems.push(problem(
                "next_block_id",
                "is missing; add the id the next new block gets (largest id + 1)",
            ));
            None
        }
    }
}

/// The wires of the file and where each was (to point problems at them).
fn decode_wires(
    reg: &Registry,
    root: &RawMap,
    seen: &DecodedBlocks,
    problems: &mut Problems,
) -> (BTreeSet<Wire>, HashMap<Wire, usize>) {
    let mut wires: BTreeSet<Wire> = BTreeSet::new();
    let mut wire_at: HashMap<Wire, usize> = HashMap::new();
    let mut input_at: HashMap<InPort, usize> = HashMap::new();
    let wire_values: &[Raw] = match root.get("wires") {
        Some(Raw::Arr(a)) => a,
        Some(v) => {
            problems.push(problem(
                "wires",
                format!("is {}, expected an array of wires", v.json_type()),
            ));
            &[]
        }
        None => &[],
    };
    for (j, wv) in wire_values.iter().enumerate() {
        let at = format!("wires[{j}]");
        let Some(obj) = wv.as_object() else {
            problems.push(problem(
                &at,
                format!(
                    "is {}, expected {{\"from\": ..., \"to\": ...}}",
                    wv.json_type()
                ),
            ));
            continue;
        };
        check_keys(obj, &at, &KEYS.wire, problems);
        let from = wire_end(reg, seen, obj, &at, "from", true, problems);
        let to = wire_end(reg, seen, obj, &at, "to", false, problems);
        let (Some(from), Some(to)) = (from, to) else {
            continue;
        };
        let w = Wire {
            from: OutPort {
                block: from.0,
                port: from.1,
            },
            to: InPort {
                block: to.0,
                port: to.1,
            },
        };
        if let Some(prev) = wire_at.get(&w) {
            problems.push(problem(
                &at,
                format!("duplicate wire (same as wires[{prev}]); remove one"),
            ));
            continue;
        }
        if let Some(prev) = input_at.get(&w.to) {
            let tname = seen.blocks.get(&w.to.block).map_or("", |b| b.name.as_str());
            problems.push(problem(
                join(&at, "to"),
                format!("input of {tname:?} already has a wire (wires[{prev}]); an input takes one wire, remove one"),
            ));
            continue;
        }
        wire_at.insert(w, j);
        input_at.insert(w.to, j);
        wires.insert(w);
    }
    (wires, wire_at)
}

/// One end (`from` or `to`) of the wire object `obj` at `at`.
fn wire_end(
    reg: &Registry,
    seen: &DecodedBlocks,
    obj: &RawMap,
    at: &str,
    key: &str,
    output: bool,
    problems: &mut Problems,
) -> Option<(BlockId, usize)> {
    let epath = join(at, key);
    let Some(e) = obj.get(key).and_then(Raw::as_object) else {
        problems.push(problem(
            &epath,
            "is missing; give {\"block\": id, \"port\": \"name\"}",
        ));
        return None;
    };
    check_keys(e, &epath, &KEYS.port, problems);
    let Some(bid) = e.get("block").and_then(Raw::as_u64) else {
        problems.push(problem(
            join(&epath, "block"),
            "is missing or not a block id",
        ));
        return None;
    };
    let Some(block) = seen.blocks.get(&BlockId(bid)) else {
        if seen.index.contains_key(&bid) {
            return None; // the block itself has a problem, already reported
        }
        problems.push(problem(
            join(&epath, "block"),
            format!(
                "dangling wire: there is no block with id {bid}; fix the id or remove the wire"
            ),
        ));
        return None;
    };
    let d = reg.get(&block.type_id)?;
    let port = e.get("port").and_then(Raw::as_str).unwrap_or("");
    let specs = if output { d.outputs } else { d.inputs };
    match specs.iter().position(|p| p.name == port) {
        Some(i) => Some((BlockId(bid), i)),
        None => {
            let list: Vec<&str> = specs.iter().map(|p| p.name).collect();
            problems.push(problem(
                join(&epath, "port"),
                format!(
                    "block {:?} ({}) has no {} port {:?}; its {}s: {}",
                    block.name,
                    d.type_id,
                    if output { "output" } else { "input" },
                    port,
                    if output { "output" } else { "input" },
                    list.join(", ")
                ),
            ));
            None
        }
    }
}

/// A problem pointing at a wire inside a cycle, if the wires form one: the cycle's blocks (the
/// first [`CYCLE_NAMES`] of them) and its lowest-numbered wire. O(blocks + wires).
fn cycle_problem(page: &Page, wire_at: &HashMap<Wire, usize>) -> Option<Problem> {
    let stuck = crate::check::topo_order(page).err()?.blocks;
    let in_stuck: HashSet<BlockId> = stuck.iter().copied().collect();
    // Every block left unordered has an unordered upstream block (else its in-degree would
    // have reached zero), so walking upstream from one of them must come back to a block
    // already walked: the blocks from there on form a cycle. Each block's upstream step is its
    // lowest-numbered wire from an unordered block, so the answer is the same on every load.
    let mut wires: Vec<(usize, &Wire)> = wire_at.iter().map(|(w, &j)| (j, w)).collect();
    wires.sort_unstable_by_key(|&(j, _)| j);
    let mut upstream: HashMap<BlockId, (BlockId, usize)> = HashMap::new();
    for (j, w) in wires {
        if in_stuck.contains(&w.from.block) && in_stuck.contains(&w.to.block) {
            upstream.entry(w.to.block).or_insert((w.from.block, j));
        }
    }
    let mut walked: Vec<(BlockId, usize)> = Vec::new();
    let mut at: HashMap<BlockId, usize> = HashMap::new();
    let mut b = *stuck.first()?;
    while let Some(&(from, j)) = upstream.get(&b) {
        if let Some(&start) = at.get(&b) {
            walked.drain(..start);
            break;
        }
        at.insert(b, walked.len());
        walked.push((b, j));
        b = from;
    }
    // `walked` follows the wires backwards: reverse it to name the blocks in wire order, from
    // the source of the lowest-numbered wire (the one the problem points at).
    walked.reverse();
    let len = walked.len();
    let lowest = (0..len).min_by_key(|&i| walked[i].1);
    let j = lowest.map(|p| walked[p].1);
    if let Some(p) = lowest {
        walked.rotate_left((p + len - 1) % len);
    }
    let names: Vec<String> = walked
        .iter()
        .take(CYCLE_NAMES)
        .filter_map(|(id, _)| page.block(*id))
        .map(|b| format!("{:?}", b.name))
        .collect();
    let more = walked.len().saturating_sub(CYCLE_NAMES);
    Some(problem(
        j.map_or_else(|| "wires".to_owned(), |j| format!("wires[{j}]")),
        format!(
            "the wires form a cycle through {}{}; remove one of the wires in the cycle",
            names.join(" → "),
            if more > 0 {
                format!(" → … ({more} more blocks)")
            } else {
                String::new()
            }
        ),
    ))
}

/// How many blocks of a cycle its message names.
const CYCLE_NAMES: usize = 8;
