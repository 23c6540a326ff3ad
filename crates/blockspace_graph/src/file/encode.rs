//! Saving: a [`Page`] as its [`PageFile`] DTO, pretty and stable JSON, and atomic writes.

use super::{BlockDto, CURRENT_VERSION, FORMAT, FileError, PageFile, PortDto, WireDto};
use crate::ids::BlockId;
use crate::ops::Registry;
use crate::page::{Block, Page};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

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

/// Stable, sorted, pretty JSON for `page`; `reg` names the ports and knows which attributes are
/// hidden at their default (those are left out).
pub fn page_to_json(reg: &Registry, page: &Page) -> String {
    match serde_json::to_value(page_to_file(reg, page)) {
        Ok(v) => to_pretty_json(&v),
        Err(e) => format!("{{\"error\": {:?}}}\n", e.to_string()),
    }
}

/// Saves `page` atomically: writes a temporary file in the target directory, syncs it to disk,
/// then renames it over `path`. A crash or a full disk leaves the previous file intact.
///
/// # Errors
/// [`FileError::Save`] with the path and the I/O error.
pub fn save_page(reg: &Registry, page: &Page, path: &Path) -> Result<(), FileError> {
    save_text(&page_to_json(reg, page), path)
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
