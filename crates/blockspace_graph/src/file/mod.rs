//! Page files: a versioned, human-readable JSON format with a serde DTO separate from the
//! runtime types, full validation with JSON paths, migrations and atomic saves.
//! See `docs/file-format.md`.

pub mod migrate;
pub mod strict_json;

use crate::ids::{BlockId, InPort, OutPort, Wire};
use crate::ops::{AttrKind, AttrSpec, Registry, kind_text};
use crate::page::{Block, Page, validate_name};
use crate::value::{AttrValue, Attrs};
pub use migrate::CURRENT_VERSION;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The `"format"` field of every page file.
pub const FORMAT: &str = "blockspace.page";
/// File name ending of page files.
pub const EXTENSION: &str = ".bspage.json";

/// The file form of a page (serde DTO; not the runtime [`Page`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PageFile {
    /// Always `"blockspace.page"`.
    pub format: String,
    /// Format version.
    pub version: u32,
    /// Page name.
    pub name: String,
    /// The id the next new block gets (never reused).
    pub next_block_id: u64,
    /// Blocks sorted by id.
    pub blocks: Vec<BlockDto>,
    /// Wires sorted by source, then target.
    pub wires: Vec<WireDto>,
}

/// A block in a page file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockDto {
    /// Block id.
    pub id: u64,
    /// Registry type id.
    #[serde(rename = "type")]
    pub type_id: String,
    /// Unique name.
    pub name: String,
    /// Canvas position.
    pub pos: [f32; 2],
    /// Attributes, sorted by name.
    pub attrs: BTreeMap<String, Value>,
}

/// A wire in a page file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireDto {
    /// Source block and output port name.
    pub from: PortDto,
    /// Target block and input port name.
    pub to: PortDto,
}

/// One end of a wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PortDto {
    /// Block id.
    pub block: u64,
    /// Port name.
    pub port: String,
}

/// One problem found while loading, at a JSON path such as `blocks[2].attrs.strides`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where in the file.
    pub json_path: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.json_path, self.message)
    }
}

/// Loading or saving a page file failed. Messages end with the file.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file could not be read.
    #[error("cannot read page file: {source} ({})", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The text is not valid JSON.
    #[error("not valid JSON at line {line}, column {column}: {message}{}; fix the JSON or restore a backup ({origin})",
        if *truncated { " (the file ends too early: truncated?)" } else { "" })]
    Syntax {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's message.
        message: String,
        /// The text ended in the middle of a value.
        truncated: bool,
        /// File name (or other origin).
        origin: String,
    },
    /// Valid JSON, but not a Blockspace page.
    #[error("not a Blockspace page: \"format\" is {found}, expected \"{FORMAT}\" ({origin})")]
    NotAPage {
        /// What `format` was.
        found: String,
        /// File name.
        origin: String,
    },
    /// The file is from a newer Blockspace.
    #[error(
        "page file version {found} is newer than this Blockspace supports (version {max_supported}); update Blockspace to open it ({origin})"
    )]
    UnsupportedVersion {
        /// The file's version.
        found: u64,
        /// The newest version this build reads.
        max_supported: u32,
        /// File name.
        origin: String,
    },
    /// The file has one or more problems (each with its JSON path). Nothing was loaded.
    #[error("{}", invalid_text(problems, origin))]
    Invalid {
        /// Every problem found.
        problems: Vec<Problem>,
        /// File name.
        origin: String,
    },
    /// Saving failed; the previous file is intact.
    #[error("could not save the page: {source}; the previous file is unchanged ({})", path.display())]
    Save {
        /// The target file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

fn invalid_text(problems: &[Problem], origin: &str) -> String {
    let mut s = format!(
        "page file has {} problem{}:",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    for p in problems {
        s.push_str(&format!("\n  {p}"));
    }
    s.push_str(&format!("\nin {origin}"));
    s
}

impl FileError {
    /// The individual problems (one for errors other than [`FileError::Invalid`]).
    pub fn problems(&self) -> Vec<Problem> {
        match self {
            FileError::Invalid { problems, .. } => problems.clone(),
            FileError::Syntax { line, column, .. } => {
                vec![Problem {
                    json_path: format!("line {line}, column {column}"),
                    message: self.to_string(),
                }]
            }
            other => vec![Problem {
                json_path: "$".into(),
                message: other.to_string(),
            }],
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Saving

/// The page as a [`PageFile`] DTO (blocks by id, wires sorted, attrs sorted).
pub fn page_to_file(reg: &Registry, page: &Page) -> PageFile {
    let port_name = |block: BlockId, port: usize, output: bool| -> String {
        page.block(block)
            .and_then(|b| reg.get(&b.type_id))
            .and_then(|d| {
                if output {
                    d.outputs.get(port)
                } else {
                    d.inputs.get(port)
                }
            })
            .map_or_else(|| format!("#{port}"), |p| p.name.to_owned())
    };
    PageFile {
        format: FORMAT.to_owned(),
        version: CURRENT_VERSION,
        name: page.name().to_owned(),
        next_block_id: page.next_block_id().0,
        blocks: page
            .blocks()
            .map(|b| BlockDto {
                id: b.id.0,
                type_id: b.type_id.clone(),
                name: b.name.clone(),
                pos: b.pos,
                attrs: saved_attrs(reg, b),
            })
            .collect(),
        wires: page
            .wires()
            .map(|w| WireDto {
                from: PortDto {
                    block: w.from.block.0,
                    port: port_name(w.from.block, w.from.port, true),
                },
                to: PortDto {
                    block: w.to.block.0,
                    port: port_name(w.to.block, w.to.port, false),
                },
            })
            .collect(),
    }
}

/// The attributes written for a block: all of them, except hidden ones (e.g. another Input
/// mode's settings) that are at their default, so files stay short. Loading fills defaults in.
fn saved_attrs(reg: &Registry, b: &Block) -> BTreeMap<String, Value> {
    let desc = reg.get(&b.type_id);
    b.attrs
        .iter()
        .filter(|(k, v)| {
            desc.and_then(|d| d.attr(k))
                .is_none_or(|spec| spec.visible(&b.attrs) || **v != spec.default_value())
        })
        .map(|(k, v)| (k.clone(), v.to_json()))
        .collect()
}

/// Pretty JSON with 2-space indentation where arrays of numbers or strings stay on one line
/// (`"strides": [1, 2, 2, 2, 1]`), so page files read and diff well.
pub fn to_pretty_json(value: &Value) -> String {
    fn scalar(v: &Value) -> bool {
        !matches!(v, Value::Array(_) | Value::Object(_))
    }
    fn go(v: &Value, indent: usize, out: &mut String) {
        let pad = "  ".repeat(indent + 1);
        match v {
            Value::Array(a) if a.is_empty() => out.push_str("[]"),
            Value::Array(a) if a.iter().all(scalar) => {
                let items: Vec<String> = a.iter().map(Value::to_string).collect();
                out.push('[');
                out.push_str(&items.join(", "));
                out.push(']');
            }
            Value::Array(a) => {
                out.push_str("[\n");
                for (i, x) in a.iter().enumerate() {
                    out.push_str(&pad);
                    go(x, indent + 1, out);
                    out.push_str(if i + 1 < a.len() { ",\n" } else { "\n" });
                }
                out.push_str(&"  ".repeat(indent));
                out.push(']');
            }
            Value::Object(m) if m.is_empty() => out.push_str("{}"),
            Value::Object(m) => {
                out.push_str("{\n");
                for (i, (k, x)) in m.iter().enumerate() {
                    out.push_str(&pad);
                    out.push_str(&Value::from(k.as_str()).to_string());
                    out.push_str(": ");
                    go(x, indent + 1, out);
                    out.push_str(if i + 1 < m.len() { ",\n" } else { "\n" });
                }
                out.push_str(&"  ".repeat(indent));
                out.push('}');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    go(value, 0, &mut out);
    out.push('\n');
    out
}

/// Stable, sorted, pretty JSON for `page` using the built-in registry (for port names).
pub fn page_to_json(page: &Page) -> String {
    page_to_json_with(&Registry::builtin(), page)
}

/// Like [`page_to_json`] with a given registry.
pub fn page_to_json_with(reg: &Registry, page: &Page) -> String {
    match serde_json::to_value(page_to_file(reg, page)) {
        Ok(v) => to_pretty_json(&v),
        Err(e) => format!("{{\"error\": {:?}}}\n", e.to_string()),
    }
}

/// Saves `page` atomically: writes a temporary file in the target directory, syncs it to disk,
/// then renames it over `path`. A crash or a full disk leaves the previous file intact.
pub fn save_page(page: &Page, path: &Path) -> Result<(), FileError> {
    save_text(&page_to_json(page), path)
}

/// Like [`save_page`] with a given registry.
pub fn save_page_with(reg: &Registry, page: &Page, path: &Path) -> Result<(), FileError> {
    save_text(&page_to_json_with(reg, page), path)
}

/// Writes `text` to `path` atomically, as [`save_page`] does (temporary file in the same
/// directory, synced, renamed over `path`).
///
/// # Errors
/// [`FileError::Save`] with the path and the I/O error.
pub fn save_text(text: &str, path: &Path) -> Result<(), FileError> {
    let err = |source| FileError::Save {
        path: path.to_owned(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".bspage-")
        .suffix(".tmp")
        .tempfile_in(&dir)
        .map_err(err)?;
    tmp.write_all(text.as_bytes()).map_err(err)?;
    tmp.as_file().sync_all().map_err(err)?;
    tmp.persist(path).map_err(|e| err(e.error))?;
    // Make the rename itself durable (best effort; not possible on every platform).
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Loading

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
        .map_err(|m| invalid(vec![problem("version", m)], origin))?;
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

fn problem(path: impl Into<String>, message: impl Into<String>) -> Problem {
    Problem {
        json_path: path.into(),
        message: message.into(),
    }
}

fn invalid(problems: Vec<Problem>, origin: &str) -> FileError {
    FileError::Invalid {
        problems,
        origin: origin.to_owned(),
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
        AttrKind::Float => AttrValue::Float(v.as_f64().ok_or_else(wrong)?),
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
    spec.validate(&value)?;
    Ok(value)
}

fn check_keys(
    obj: &serde_json::Map<String, Value>,
    path: &str,
    known: &[&str],
    problems: &mut Vec<Problem>,
) {
    for k in obj.keys() {
        if !known.contains(&k.as_str()) {
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
    let empty = serde_json::Map::new();
    let root = value.as_object().unwrap_or(&empty);
    check_keys(
        root,
        "",
        &[
            "format",
            "version",
            "name",
            "next_block_id",
            "blocks",
            "wires",
        ],
        &mut problems,
    );

    let name = match root.get("name") {
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
    };
    let next_block_id = match root.get("next_block_id") {
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
    };

    // Blocks.
    let mut blocks: BTreeMap<BlockId, Block> = BTreeMap::new();
    let mut block_index: HashMap<u64, usize> = HashMap::new();
    let mut names: HashMap<String, usize> = HashMap::new();
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
        check_keys(
            obj,
            &at,
            &["id", "type", "name", "pos", "attrs"],
            &mut problems,
        );
        let mut ok = true;
        let id = match obj.get("id").and_then(Value::as_u64) {
            Some(id) if id >= 1 => {
                if let Some(prev) = block_index.get(&id) {
                    problems.push(problem(join(&at, "id"), format!("duplicate block id {id} (also blocks[{prev}]); give each block its own id")));
                    ok = false;
                }
                id
            }
            _ => {
                problems.push(problem(
                    join(&at, "id"),
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
        let desc = reg.get(type_id);
        if desc.is_none() {
            problems.push(problem(
                join(&at, "type"),
                format!(
                    "unknown block type {}; known types: {}",
                    obj.get("type")
                        .map_or("missing".to_owned(), Value::to_string),
                    reg.type_ids()
                ),
            ));
            ok = false;
        }
        let bname = match obj.get("name").and_then(Value::as_str) {
            Some(n) => {
                if let Err(m) = validate_name(n) {
                    problems.push(problem(join(&at, "name"), m));
                    ok = false;
                } else if let Some(prev) = names.get(n) {
                    problems.push(problem(join(&at, "name"), format!("duplicate block name {n:?} (also blocks[{prev}]); names are unique per page, rename one")));
                    ok = false;
                }
                n.to_owned()
            }
            None => {
                problems.push(problem(
                    join(&at, "name"),
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
                        join(&at, "pos"),
                        format!("{v} is not a position; use [x, y]"),
                    ));
                    [0.0, 0.0]
                }
            },
        };
        let mut attrs = Attrs::new();
        if let Some(d) = desc {
            match obj.get("attrs") {
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
                        join(&at, "attrs"),
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
        }
        if id >= 1 {
            block_index.entry(id).or_insert(i);
        }
        if !bname.is_empty() {
            names.entry(bname.clone()).or_insert(i);
        }
        if ok {
            blocks.insert(
                BlockId(id),
                Block {
                    id: BlockId(id),
                    type_id: type_id.to_owned(),
                    name: bname,
                    attrs,
                    pos,
                },
            );
        }
    }
    if let (Some(next), Some(max)) = (next_block_id, block_index.keys().max())
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

    // Wires.
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
        check_keys(obj, &at, &["from", "to"], &mut problems);
        let end = |key: &str,
                   output: bool,
                   problems: &mut Vec<Problem>|
         -> Option<(BlockId, usize)> {
            let epath = join(&at, key);
            let Some(e) = obj.get(key).and_then(Value::as_object) else {
                problems.push(problem(
                    &epath,
                    "is missing; give {\"block\": id, \"port\": \"name\"}",
                ));
                return None;
            };
            check_keys(e, &epath, &["block", "port"], problems);
            let Some(bid) = e.get("block").and_then(Value::as_u64) else {
                problems.push(problem(
                    join(&epath, "block"),
                    "is missing or not a block id",
                ));
                return None;
            };
            let Some(block) = blocks.get(&BlockId(bid)) else {
                if block_index.contains_key(&bid) {
                    return None; // the block itself has a problem, already reported
                }
                problems.push(problem(join(&epath, "block"), format!("dangling wire: there is no block with id {bid}; fix the id or remove the wire")));
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
        };
        let from = end("from", true, &mut problems);
        let to = end("to", false, &mut problems);
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
            let tname = blocks.get(&w.to.block).map_or("", |b| b.name.as_str());
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

    let mut page = Page::new(name);
    page.blocks = blocks;
    page.wires = wires;
    page.next_block_id = next_block_id.unwrap_or(1);

    if problems.is_empty()
        && let Err(cycle) = crate::check::topo_order(&page)
    {
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
        problems.push(problem(
            j.map_or_else(|| "wires".to_owned(), |j| format!("wires[{j}]")),
            format!(
                "the wires form a cycle through {}; remove one of the wires in the cycle",
                names.join(", ")
            ),
        ));
    }
    if !problems.is_empty() {
        return Err(invalid(problems, origin));
    }
    Ok(page)
}

// ---------------------------------------------------------------------------------------------
// Paths relative to the page file

/// `file` written relative to `base_dir` (the page file's directory) when both are absolute or
/// both relative, e.g. `data/x.npy` or `../shared/x.npy`; otherwise `file` unchanged. Use it for
/// paths the user picks, so pages can be moved together with their data.
pub fn relative_path(base_dir: &Path, file: &Path) -> PathBuf {
    use std::path::Component;
    if base_dir.is_absolute() != file.is_absolute() {
        return file.to_owned();
    }
    let base: Vec<Component<'_>> = base_dir
        .components()
        .filter(|c| *c != Component::CurDir)
        .collect();
    let target: Vec<Component<'_>> = file
        .components()
        .filter(|c| *c != Component::CurDir)
        .collect();
    let common = base.iter().zip(&target).take_while(|(a, b)| a == b).count();
    if base[common..]
        .iter()
        .any(|c| matches!(c, Component::ParentDir))
    {
        return file.to_owned(); // cannot climb out of an unknown directory
    }
    let mut out = PathBuf::new();
    for _ in common..base.len() {
        out.push("..");
    }
    for c in &target[common..] {
        out.push(c.as_os_str());
    }
    out
}

/// A command that rewrites every relative path attribute (e.g. an Input's `.npy` path) so it
/// still points at the same file after the page moves from `old_dir` to `new_dir` ("Save As").
/// Apply it (through the history) before saving; it is an empty batch when nothing changes.
pub fn rebase_paths_command(
    reg: &Registry,
    page: &Page,
    old_dir: &Path,
    new_dir: &Path,
) -> crate::Command {
    let mut cmds = Vec::new();
    for b in page.blocks() {
        let Some(d) = reg.get(&b.type_id) else {
            continue;
        };
        for spec in d
            .attrs
            .iter()
            .filter(|a| matches!(a.kind, AttrKind::Path { .. }))
        {
            let Some(AttrValue::Str(p)) = b.attrs.get(spec.name) else {
                continue;
            };
            if p.is_empty() || Path::new(p).is_absolute() {
                continue;
            }
            let moved = relative_path(new_dir, &old_dir.join(p));
            let moved = moved.to_string_lossy().replace('\\', "/");
            if moved != *p {
                cmds.push(crate::Command::SetAttr {
                    block: b.id,
                    attr: spec.name.to_owned(),
                    value: AttrValue::Str(moved),
                });
            }
        }
    }
    crate::Command::Batch(cmds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths() {
        let r = |b: &str, f: &str| {
            relative_path(Path::new(b), Path::new(f))
                .to_string_lossy()
                .into_owned()
        };
        assert_eq!(r("/a/b", "/a/b/data/x.npy"), "data/x.npy");
        assert_eq!(r("/a/b", "/a/c/x.npy"), "../c/x.npy");
        assert_eq!(r("examples", "examples/data/x.npy"), "data/x.npy");
        assert_eq!(r("/a", "rel/x.npy"), "rel/x.npy");
    }

    #[test]
    fn rebasing_keeps_npy_paths_pointing_at_the_same_file() {
        let reg = Registry::builtin();
        let mut p = Page::new("p");
        let a = p
            .add(
                &reg,
                "Input",
                "a",
                &[
                    ("mode", AttrValue::Str("npy".into())),
                    ("path", AttrValue::Str("data/x.npy".into())),
                ],
            )
            .expect("add");
        let cmd = rebase_paths_command(
            &reg,
            &p,
            Path::new("/work/examples"),
            Path::new("/work/other"),
        );
        p.apply(&reg, cmd).expect("apply");
        assert_eq!(
            p.block(a).and_then(|b| b.attrs["path"].as_str()),
            Some("../examples/data/x.npy")
        );
        let none =
            rebase_paths_command(&reg, &p, Path::new("/work/other"), Path::new("/work/other"));
        assert!(none.is_noop());
    }
}
