//! The page file's schema, written once: the serde DTO that saving writes. Loading decodes the
//! JSON by hand (to report every problem with its JSON path), and its unknown-field check reads
//! the known keys of each object from these types (`KEYS`), so there is no second list.

use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::LazyLock;

/// The file form of a page (serde DTO; not the runtime [`Page`](crate::Page)).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct WireDto {
    /// Source block and output port name.
    pub from: PortDto,
    /// Target block and input port name.
    pub to: PortDto,
}

/// One end of a wire.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct PortDto {
    /// Block id.
    pub block: u64,
    /// Port name.
    pub port: String,
}

/// The JSON keys of each object of the schema, in the order they are written.
pub(super) struct Keys {
    /// Keys of the page object ([`PageFile`]).
    pub page: Vec<String>,
    /// Keys of a block ([`BlockDto`]).
    pub block: Vec<String>,
    /// Keys of a wire ([`WireDto`]).
    pub wire: Vec<String>,
    /// Keys of a wire end ([`PortDto`]).
    pub port: Vec<String>,
}

/// The keys of every object, read once from the serde form of the DTO types.
pub(super) static KEYS: LazyLock<Keys> = LazyLock::new(|| Keys {
    page: keys_of::<PageFile>(),
    block: keys_of::<BlockDto>(),
    wire: keys_of::<WireDto>(),
    port: keys_of::<PortDto>(),
});

/// The keys `T` serializes to (the workspace's `serde_json` keeps their declared order).
fn keys_of<T: Serialize + Default>() -> Vec<String> {
    match serde_json::to_value(T::default()) {
        Ok(Value::Object(map)) => map.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_dto_in_declared_order() {
        assert_eq!(
            KEYS.page,
            [
                "format",
                "version",
                "name",
                "next_block_id",
                "blocks",
                "wires"
            ]
        );
        assert_eq!(KEYS.block, ["id", "type", "name", "pos", "attrs"]);
        assert_eq!(KEYS.wire, ["from", "to"]);
        assert_eq!(KEYS.port, ["block", "port"]);
    }
}
