//! The blocks of a page file, decoded one entry at a time while the file is parsed: ids and
//! names checked against the blocks before, the type looked up, every attribute decoded by its
//! kind (defaults filled in), each problem with its JSON path.

use super::KEYS;
use super::error::{Problems, problem};
use super::raw::{Raw, RawMap};
use crate::ids::BlockId;
use crate::ops::{AttrKind, AttrSpec, OpDescriptor, Registry, kind_text};
use crate::page::{Block, validate_name};
use crate::value::{AttrValue, Attrs};
use std::collections::{BTreeMap, HashMap};

/// Decodes an attribute value by its kind (text is moved out of `v`, not copied: a 50 MB
/// literal is not held twice).
fn decode_attr(spec: &AttrSpec, v: &mut Raw) -> Result<AttrValue, String> {
    let wrong = |v: &Raw| {
        format!(
            "{v} is {}, expected {}",
            v.json_type(),
            kind_text(spec.kind)
        )
    };
    if let Raw::Elided { len, .. } = *v {
        return Err(format!(
            "is {} of {len} items, too long for an attribute; expected {}",
            v.json_type(),
            kind_text(spec.kind)
        ));
    }
    let v = &*match (spec.kind, v) {
        (AttrKind::Enum(_) | AttrKind::Text | AttrKind::Path { .. }, Raw::Str(s)) => {
            let value = AttrValue::Str(std::mem::take(s));
            spec.validate(&value).map_err(|e| e.to_string())?;
            return Ok(value);
        }
        (_, v) => v,
    };
    let wrong = || wrong(v);
    let value = match spec.kind {
        AttrKind::Enum(_) | AttrKind::Text | AttrKind::Path { .. } => return Err(wrong()),
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

/// Reports each key of `obj` not in `known`.
pub(super) fn check_keys(obj: &RawMap, path: &str, known: &[String], problems: &mut Problems) {
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

/// `path.key` (`key` at the root).
pub(super) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// Blocks decoded so far: the good ones, and where each id and name was first seen.
#[derive(Default)]
pub(super) struct DecodedBlocks {
    /// The blocks without problems.
    pub blocks: BTreeMap<BlockId, Block>,
    /// Where each id was first seen (`blocks[i]`).
    pub index: HashMap<u64, usize>,
    /// Where each name was first seen.
    pub names: HashMap<String, usize>,
}

/// Decodes the entries of `blocks` one at a time, as the parser reads them ([`super::raw`]
/// hands each over and drops it), so a page's blocks are never all held as JSON trees.
pub(super) struct BlockDecoder<'r> {
    /// The block types.
    pub reg: &'r Registry,
    /// What was decoded so far.
    pub seen: DecodedBlocks,
    /// The problems found so far.
    pub problems: Problems,
}

impl<'r> BlockDecoder<'r> {
    /// A decoder with nothing seen.
    pub fn new(reg: &'r Registry) -> Self {
        BlockDecoder {
            reg,
            seen: DecodedBlocks::default(),
            problems: Problems::default(),
        }
    }

    /// Decodes `blocks[i]`.
    pub fn add(&mut self, i: usize, mut bv: Raw) {
        if self.problems.full() {
            // The file is refused already; only count what is left.
            self.problems.skip_block();
            return;
        }
        let at = format!("blocks[{i}]");
        let Raw::Obj(obj) = &mut bv else {
            self.problems.push(problem(
                &at,
                format!("is {}, expected a block object", bv.json_type()),
            ));
            return;
        };
        let seen = &mut self.seen;
        let (id, bname, block) = decode_block(self.reg, &at, obj, seen, &mut self.problems);
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
}

/// One entry of `blocks`: its id and name (to find duplicates, even when the block is bad) and
/// the block when it has no problem.
fn decode_block(
    reg: &Registry,
    at: &str,
    obj: &mut RawMap,
    seen: &DecodedBlocks,
    problems: &mut Problems,
) -> (u64, String, Option<Block>) {
    check_keys(obj, at, &KEYS.block, problems);
    let mut ok = true;
    let id = match obj.get("id").and_then(Raw::as_u64) {
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
                    obj.get("id").map_or("missing".to_owned(), Raw::to_string)
                ),
            ));
            ok = false;
            0
        }
    };
    let type_id = obj
        .get("type")
        .and_then(Raw::as_str)
        .unwrap_or("")
        .to_owned();
    let desc = match obj.get("type") {
        Some(Raw::Str(t)) => reg
            .lookup(t)
            .map_err(|e| problems.push(problem(join(at, "type"), e.to_string())))
            .ok(),
        other => {
            problems.push(problem(
                join(at, "type"),
                format!(
                    "{} is not a block type; use one of: {}",
                    other.map_or("missing".to_owned(), Raw::to_string),
                    reg.type_ids()
                ),
            ));
            None
        }
    };
    ok &= desc.is_some();
    let bname = match obj.get("name").and_then(Raw::as_str) {
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
            .map(|a| a.iter().map(Raw::as_f64).collect::<Vec<_>>())
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
        ok &= decode_attrs(d, at, obj.get_mut("attrs"), &mut attrs, problems);
    }
    let block = ok.then(|| Block {
        id: BlockId(id),
        type_id,
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
    value: Option<&mut Raw>,
    attrs: &mut Attrs,
    problems: &mut Problems,
) -> bool {
    let mut ok = true;
    match value {
        None => {}
        Some(Raw::Obj(map)) => {
            for (k, v) in &mut map.0 {
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
                format!("is {}, expected an object", v.json_type()),
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
