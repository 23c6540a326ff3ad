//! Loading: page-file text to a validated [`Page`], every problem reported with its JSON path
//! (after migrating older versions).

use super::error::{invalid, problem};
use super::{CURRENT_VERSION, EXTENSION, FORMAT, FileError, KEYS, Problem, migrate, strict_json};
use crate::ids::{BlockId, InPort, OutPort, Wire};
use crate::ops::{AttrKind, AttrSpec, OpDescriptor, Registry, kind_text};
use crate::page::{Block, Page, validate_name};
use crate::value::{AttrValue, Attrs};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

/// Loads and validates a page file. Every problem is reported with its JSON path.
pub fn load_page(reg: &Registry, path: &Path) -> Result<Page, FileError> {
    let text =
        strict_json::read_text_file(path, strict_json::MAX_JSON_BYTES).map_err(|source| {
            FileError::Io {
                path: path.to_owned(),
                source,
            }
        })?;
    page_from_json(reg, &text, &path.display().to_string())
}

/// Parses and validates page-file text; `origin` names the file in messages.
pub fn page_from_json(reg: &Registry, text: &str, origin: &str) -> Result<Page, FileError> {
    let value: Value = strict_json::from_str(text).map_err(|e| FileError::Syntax {
        line: e.line(),
        column: e.column(),
        message: strip_position(&e.to_string()),
        truncated: e.classify() == serde_json::error::Category::Eof,
        origin: origin.to_owned(),
    })?;
    let origin_s = origin.to_owned();
    let Some(root) = value.as_object() else {
        return Err(FileError::NotAPage {
            found: format!("missing (the file is {})", json_type(&value)),
            origin: origin_s,
        });
    };
    match root.get("format") {
        Some(Value::String(s)) if s == FORMAT => {}
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
    let value = migrate::migrate(value, version as u32)
        .map_err(|e| invalid(vec![problem("version", e.to_string())], origin))?;
    decode(reg, &value, origin)
}

fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Decodes an attribute value by its kind.
fn decode_attr(spec: &AttrSpec, v: &Value) -> Result<AttrValue, String> {
    let wrong = || format!("{v} is {}, expected {}", json_type(v), kind_text(spec.kind));
    let value = match spec.kind {
        AttrKind::Enum(_) | AttrKind::Text | AttrKind::Path { .. } => {
            AttrValue::Str(v.as_str().ok_or_else(wrong)?.to_owned())
        }
        AttrKind::Int { .. } => AttrValue::Int(v.as_i64().ok_or_else(wrong)?),
        // A whole number is kept exact (an int64 fill of 2^53 + 1 must stay 2^53 + 1); a float
        // attribute accepts it, and saving writes it back the same.
        AttrKind::Float => match v.as_i64() {
            Some(i) => AttrValue::Int(i),
            None => AttrValue::Float(v.as_f64().ok_or_else(wrong)?),
        },
        AttrKind::Bool => AttrValue::Bool(v.as_bool().ok_or_else(wrong)?),
        AttrKind::IntList { .. } | AttrKind::Shape => {
            let arr = v.as_array().ok_or_else(wrong)?;
            let mut out = Vec::with_capacity(arr.len());
            for (i, x) in arr.iter().enumerate() {
                out.push(x.as_i64().ok_or_else(|| {
                    format!("element {i} ({x}) is not a whole number; {}", wrong())
                })?);
            }
            AttrValue::IntList(out)
        }
    };
    spec.validate(&value).map_err(|e| e.to_string())?;
    Ok(value)
}

fn check_keys(obj: &Map<String, Value>, path: &str, known: &[String], problems: &mut Vec<Problem>) {
    for k in obj.keys() {
        if !known.contains(k) {
            problems.push(problem(
                join(path, k),
                format!(
                    "unknown field; remove it (known fields: {})",
                    known.join(", ")
                ),
            ));
        }
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn decode(reg: &Registry, value: &Value, origin: &str) -> Result<Page, FileError> {
    let mut problems = Vec::new();
    let empty = Map::new();
    let root = value.as_object().unwrap_or(&empty);
    check_keys(root, "", &KEYS.page, &mut problems);
    let name = page_name(root, origin, &mut problems);
    let next_block_id = next_block_id(root, &mut problems);
    let seen = decode_blocks(reg, root, &mut problems);
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

    let (wires, wire_at) = decode_wires(reg, root, &seen, &mut problems);

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
        return Err(invalid(problems, origin));
    }
    Ok(page)
}

/// The page's name: the `name` field, or the file name when it is missing.
fn page_name(root: &Map<String, Value>, origin: &str, problems: &mut Vec<Problem>) -> String {
    match root.get("name") {
        None => Path::new(origin)
            .file_name()
            .and_then(|s| s.to_str())
            .map_or("page", |s| {
                s.trim_end_matches(EXTENSION).trim_end_matches(".json")
            })
            .to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(v) => {
            problems.push(problem(
                "name",
                format!("{v} is {}, expected a string", json_type(v)),
            ));
            String::new()
        }
    }
}

fn next_block_id(root: &Map<String, Value>, problems: &mut Vec<Problem>) -> Option<u64> {
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

/// Blocks decoded so far: the good ones, and where each id and name was first seen.
#[derive(Default)]
struct DecodedBlocks {
    blocks: BTreeMap<BlockId, Block>,
    index: HashMap<u64, usize>,
    names: HashMap<String, usize>,
}

fn decode_blocks(
    reg: &Registry,
    root: &Map<String, Value>,
    problems: &mut Vec<Problem>,
) -> DecodedBlocks {
    let mut seen = DecodedBlocks::default();
    let block_values: &[Value] = match root.get("blocks") {
        Some(Value::Array(a)) => a,
        Some(v) => {
            problems.push(problem(
                "blocks",
                format!("is {}, expected an array of blocks", json_type(v)),
            ));
            &[]
        }
        None => {
            problems.push(problem("blocks", "is missing; add \"blocks\": []"));
            &[]
        }
    };
    for (i, bv) in block_values.iter().enumerate() {
        let at = format!("blocks[{i}]");
        let Some(obj) = bv.as_object() else {
            problems.push(problem(
                &at,
                format!("is {}, expected a block object", json_type(bv)),
            ));
            continue;
        };
        let (id, bname, block) = decode_block(reg, &at, obj, &seen, problems);
        if id >= 1 {
            seen.index.entry(id).or_insert(i);
        }
        if !bname.is_empty() {
            seen.names.entry(bname).or_insert(i);
        }
        if let Some(b) = block {
            seen.blocks.insert(b.id, b);
        }
    }
    seen
}

/// One entry of `blocks`: its id and name (to find duplicates, even when the block is bad) and
/// the block when it has no problem.
fn decode_block(
    reg: &Registry,
    at: &str,
    obj: &Map<String, Value>,
    seen: &DecodedBlocks,
    problems: &mut Vec<Problem>,
) -> (u64, String, Option<Block>) {
    check_keys(obj, at, &KEYS.block, problems);
    let mut ok = true;
    let id = match obj.get("id").and_then(Value::as_u64) {
        Some(id) if id >= 1 => {
            if let Some(prev) = seen.index.get(&id) {
                problems.push(problem(
                    join(at, "id"),
                    format!(
                        "duplicate block id {id} (also blocks[{prev}]); give each block its own id"
                    ),
                ));
                ok = false;
            }
            id
        }
        _ => {
            problems.push(problem(
                join(at, "id"),
                format!(
                    "{} is not a block id (a whole number >= 1)",
                    obj.get("id").map_or("missing".to_owned(), Value::to_string)
                ),
            ));
            ok = false;
            0
        }
    };
    let type_id = obj.get("type").and_then(Value::as_str).unwrap_or("");
    let desc = match obj.get("type") {
        Some(Value::String(t)) => reg
            .lookup(t)
            .map_err(|e| problems.push(problem(join(at, "type"), e.to_string())))
            .ok(),
        other => {
            problems.push(problem(
                join(at, "type"),
                format!(
                    "{} is not a block type; use one of: {}",
                    other.map_or("missing".to_owned(), Value::to_string),
                    reg.type_ids()
                ),
            ));
            None
        }
    };
    ok &= desc.is_some();
    let bname = match obj.get("name").and_then(Value::as_str) {
        Some(n) => {
            if let Err(e) = validate_name(n) {
                problems.push(problem(join(at, "name"), e.to_string()));
                ok = false;
            } else if let Some(prev) = seen.names.get(n) {
                problems.push(problem(join(at, "name"), format!("duplicate block name {n:?} (also blocks[{prev}]); names are unique per page, rename one")));
                ok = false;
            }
            n.to_owned()
        }
        None => {
            problems.push(problem(
                join(at, "name"),
                "is missing or not a string; give the block a name",
            ));
            ok = false;
            String::new()
        }
    };
    let pos = match obj.get("pos") {
        None => [0.0, 0.0],
        Some(v) => match v
            .as_array()
            .map(|a| a.iter().map(Value::as_f64).collect::<Vec<_>>())
        {
            Some(xy) if xy.len() == 2 && xy.iter().all(|x| x.is_some_and(f64::is_finite)) => {
                [xy[0].unwrap_or(0.0) as f32, xy[1].unwrap_or(0.0) as f32]
            }
            _ => {
                problems.push(problem(
                    join(at, "pos"),
                    format!("{v} is not a position; use [x, y]"),
                ));
                [0.0, 0.0]
            }
        },
    };
    let mut attrs = Attrs::new();
    if let Some(d) = desc {
        ok &= decode_attrs(d, at, obj.get("attrs"), &mut attrs, problems);
    }
    let block = ok.then(|| Block {
        id: BlockId(id),
        type_id: type_id.to_owned(),
        name: bname.clone(),
        attrs,
        pos,
    });
    (id, bname, block)
}

/// A block's `attrs` into `attrs`, defaults filled in; false when any is bad.
fn decode_attrs(
    d: &OpDescriptor,
    at: &str,
    value: Option<&Value>,
    attrs: &mut Attrs,
    problems: &mut Vec<Problem>,
) -> bool {
    let mut ok = true;
    match value {
        None => {}
        Some(Value::Object(map)) => {
            for (k, v) in map {
                let apath = format!("{at}.attrs.{k}");
                match d.attr(k) {
                    None => {
                        problems.push(problem(
                            apath,
                            format!(
                                "unknown attribute of {}; known: {}",
                                d.type_id,
                                d.attr_names()
                            ),
                        ));
                        ok = false;
                    }
                    Some(spec) => match decode_attr(spec, v) {
                        Ok(val) => {
                            attrs.insert(k.clone(), val);
                        }
                        Err(m) => {
                            problems.push(problem(apath, m));
                            ok = false;
                        }
                    },
                }
            }
        }
        Some(v) => {
            problems.push(problem(
                join(at, "attrs"),
                format!("is {}, expected an object", json_type(v)),
            ));
            ok = false;
        }
    }
    for spec in d.attrs {
        attrs
            .entry(spec.name.to_owned())
            .or_insert_with(|| spec.default_value());
    }
    ok
}

/// The wires of the file and where each was (to point problems at them).
fn decode_wires(
    reg: &Registry,
    root: &Map<String, Value>,
    seen: &DecodedBlocks,
    problems: &mut Vec<Problem>,
) -> (BTreeSet<Wire>, HashMap<Wire, usize>) {
    let mut wires: BTreeSet<Wire> = BTreeSet::new();
    let mut wire_at: HashMap<Wire, usize> = HashMap::new();
    let mut input_at: HashMap<InPort, usize> = HashMap::new();
    let wire_values: &[Value] = match root.get("wires") {
        Some(Value::Array(a)) => a,
        Some(v) => {
            problems.push(problem(
                "wires",
                format!("is {}, expected an array of wires", json_type(v)),
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
                    json_type(wv)
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
    obj: &Map<String, Value>,
    at: &str,
    key: &str,
    output: bool,
    problems: &mut Vec<Problem>,
) -> Option<(BlockId, usize)> {
    let epath = join(at, key);
    let Some(e) = obj.get(key).and_then(Value::as_object) else {
        problems.push(problem(
            &epath,
            "is missing; give {\"block\": id, \"port\": \"name\"}",
        ));
        return None;
    };
    check_keys(e, &epath, &KEYS.port, problems);
    let Some(bid) = e.get("block").and_then(Value::as_u64) else {
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
    let port = e.get("port").and_then(Value::as_str).unwrap_or("");
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

/// A problem pointing at a wire inside a cycle, if the wires form one.
fn cycle_problem(page: &Page, wire_at: &HashMap<Wire, usize>) -> Option<Problem> {
    let cycle = crate::check::topo_order(page).err()?;
    let stuck: BTreeSet<BlockId> = cycle.blocks.iter().copied().collect();
    let names: Vec<String> = cycle
        .blocks
        .iter()
        .filter_map(|id| page.block(*id))
        .map(|b| format!("{:?}", b.name))
        .collect();
    // Point at a wire inside the cycle: one whose target can reach its source.
    let j = wire_at
        .iter()
        .filter(|(w, _)| {
            stuck.contains(&w.from.block)
                && stuck.contains(&w.to.block)
                && page.reaches(w.to.block, w.from.block)
        })
        .map(|(_, j)| *j)
        .min();
    Some(problem(
        j.map_or_else(|| "wires".to_owned(), |j| format!("wires[{j}]")),
        format!(
            "the wires form a cycle through {}; remove one of the wires in the cycle",
            names.join(", ")
        ),
    ))
}
