//! Page-file JSON read straight from the text into a compact tree shaped by the schema, so a
//! page needs a small multiple of its size to load (a general JSON tree takes 16–80 times:
//! 32 bytes for every `0,` of an array).
//!
//! What the decoder reads is kept: the page's fields, every block and wire object and their
//! fields, each attribute value. What it never reads is not: the value of an unknown field
//! (only its name is reported), and an array or object where a scalar or a short list belongs
//! (an attribute, a position) is kept as [`Raw::Elided`] once it passes [`LEAF_ITEMS`] items,
//! its length counted. Text is kept once (a 50 MB literal is 50 MB), ready to move into the
//! page. Duplicate keys are refused everywhere, kept or not, with their JSON path, and a
//! leading byte-order mark is skipped, as [`super::strict_json`] does.
//!
//! The entries of `blocks` are not kept either: each is handed to a sink as soon as it is read
//! (the decoder turns it into a block and drops the tree), and `blocks` is left an empty array.

use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::Number;

/// The most items of an array kept where the schema expects a scalar or a short list (no
/// attribute list or shape is longer: shapes have at most [`crate::ops::MAX_SHAPE_RANK`]).
pub(super) const LEAF_ITEMS: usize = 64;

/// A JSON value as the decoder needs it.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Raw {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number, as written (integers stay exact).
    Num(Number),
    /// A string.
    Str(String),
    /// An array.
    Arr(Vec<Raw>),
    /// An object (keys unique, in file order).
    Obj(RawMap),
    /// An array or object that was read (keys checked) but not kept: it is not where the page
    /// needs one, or is too long for where it is.
    Elided {
        /// An object rather than an array.
        object: bool,
        /// Its items (array) or keys (object).
        len: usize,
    },
}

/// An object's entries, in file order.
#[derive(Debug, Clone, PartialEq, Default)]
pub(super) struct RawMap(pub Vec<(String, Raw)>);

impl RawMap {
    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&Raw> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
    /// The value of `key`, to move text out of.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Raw> {
        self.0.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v)
    }
    /// The keys, in file order.
    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.0.iter().map(|(k, _)| k)
    }
}

impl Raw {
    /// The object, if this is one.
    pub fn as_object(&self) -> Option<&RawMap> {
        match self {
            Raw::Obj(m) => Some(m),
            _ => None,
        }
    }
    /// The array, if this is one that was kept.
    pub fn as_array(&self) -> Option<&[Raw]> {
        match self {
            Raw::Arr(a) => Some(a),
            _ => None,
        }
    }
    /// The text, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Raw::Str(s) => Some(s),
            _ => None,
        }
    }
    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Raw::Bool(b) => Some(*b),
            _ => None,
        }
    }
    /// The number as `u64`, if it is a whole number that fits.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Raw::Num(n) => n.as_u64(),
            _ => None,
        }
    }
    /// The number as `i64`, if it is a whole number that fits.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Raw::Num(n) => n.as_i64(),
            _ => None,
        }
    }
    /// The number as `f64`.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Raw::Num(n) => n.as_f64(),
            _ => None,
        }
    }
    /// "a number", "an array", … for messages.
    pub fn json_type(&self) -> &'static str {
        match self {
            Raw::Null => "null",
            Raw::Bool(_) => "a boolean",
            Raw::Num(_) => "a number",
            Raw::Str(_) => "a string",
            Raw::Arr(_) | Raw::Elided { object: false, .. } => "an array",
            Raw::Obj(_) | Raw::Elided { object: true, .. } => "an object",
        }
    }
}

/// JSON text, at most about [`crate::value::QUOTE_MAX`] characters (messages quote values).
impl fmt::Display for Raw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        write_json(self, &mut s);
        let clipped = crate::value::clip(&s);
        f.write_str(&clipped)
    }
}

fn write_json(v: &Raw, out: &mut String) {
    // Stop early: the text is clipped anyway.
    if out.len() > 2 * crate::value::QUOTE_MAX {
        return;
    }
    match v {
        Raw::Null => out.push_str("null"),
        Raw::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Raw::Num(n) => out.push_str(&n.to_string()),
        Raw::Str(s) => {
            let q = crate::value::clip(s);
            out.push_str(&serde_json::Value::from(q).to_string());
        }
        Raw::Arr(items) => {
            out.push('[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(x, out);
            }
            out.push(']');
        }
        Raw::Obj(m) => {
            out.push('{');
            for (i, (k, x)) in m.0.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::Value::from(crate::value::clip(k)).to_string());
                out.push(':');
                write_json(x, out);
            }
            out.push('}');
        }
        Raw::Elided { object: false, len } => out.push_str(&format!("[… {len} items]")),
        Raw::Elided { object: true, len } => out.push_str(&format!("{{… {len} keys}}")),
    }
}

/// Where each entry of `blocks` goes, with its index, once read.
pub(super) type BlockSink<'s> = RefCell<dyn FnMut(usize, Raw) + 's>;

/// Parses page-file text (a leading byte-order mark skipped) into the tree the decoder reads;
/// each entry of `blocks` goes to `blocks` instead, as it is read.
///
/// # Errors
/// serde_json's error, with its line and column; a duplicate key's message names its JSON path.
pub(super) fn parse_page(text: &str, blocks: &BlockSink<'_>) -> Result<Raw, serde_json::Error> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut de = serde_json::Deserializer::from_str(text);
    let value = Seed {
        at: &At::Root,
        place: Place::Root,
        sink: blocks,
    }
    .deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// Where a value is in the page's schema: what is kept of it.
#[derive(Clone, Copy, PartialEq)]
enum Place {
    /// The page object.
    Root,
    /// `blocks`.
    Blocks,
    /// `blocks[i]`.
    Block,
    /// `blocks[i].attrs`.
    Attrs,
    /// `wires`.
    Wires,
    /// `wires[j]`.
    Wire,
    /// `wires[j].from` / `.to`.
    Port,
    /// A scalar or a short list (nesting depth inside it).
    Leaf(u8),
}

impl Place {
    /// What is kept of the value at `key` of an object here; `None`: nothing (unknown field).
    fn field(self, key: &str) -> Option<Place> {
        let known = |keys: &[String]| keys.iter().any(|k| k == key);
        let keys = &*super::KEYS;
        match self {
            Place::Root => match key {
                "blocks" => Some(Place::Blocks),
                "wires" => Some(Place::Wires),
                _ => known(&keys.page).then_some(Place::Leaf(0)),
            },
            Place::Block => match key {
                "attrs" => Some(Place::Attrs),
                _ => known(&keys.block).then_some(Place::Leaf(0)),
            },
            // Attribute names depend on the block type (maybe given later): keep them all.
            Place::Attrs => Some(Place::Leaf(0)),
            Place::Wire => known(&keys.wire).then_some(Place::Port),
            Place::Port => known(&keys.port).then_some(Place::Leaf(0)),
            Place::Blocks | Place::Wires | Place::Leaf(_) => None,
        }
    }

    /// What is kept of an array's items here; `None`: nothing (counted only).
    fn item(self) -> Option<Place> {
        match self {
            Place::Blocks => Some(Place::Block),
            Place::Wires => Some(Place::Wire),
            Place::Leaf(d) if d < 2 => Some(Place::Leaf(d + 1)),
            _ => None,
        }
    }

    /// Whether an array here is kept whatever its length (blocks and wires).
    fn unbounded(self) -> bool {
        matches!(self, Place::Blocks | Place::Wires)
    }
}

/// A JSON path, built only when a message needs it.
enum At<'a> {
    Root,
    Key(&'a At<'a>, &'a str),
    Index(&'a At<'a>, usize),
}

impl fmt::Display for At<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            At::Root => f.write_str("$"),
            At::Key(parent, key) => write!(f, "{parent}.{key}"),
            At::Index(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

fn duplicate<E: de::Error>(at: &At<'_>, key: &str) -> E {
    E::custom(format!(
        "{}: the key {key:?} appears twice in one object; keep one",
        At::Key(at, key)
    ))
}

/// Reads one value at `at`, keeping what `place` says.
struct Seed<'a, 's> {
    at: &'a At<'a>,
    place: Place,
    sink: &'s BlockSink<'s>,
}

impl<'de> DeserializeSeed<'de> for Seed<'_, '_> {
    type Value = Raw;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Raw, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_, '_> {
    type Value = Raw;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Raw, E> {
        Ok(Raw::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Raw, E> {
        Ok(Raw::Num(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Raw, E> {
        Ok(Raw::Num(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Raw, E> {
        Number::from_f64(v)
            .map(Raw::Num)
            .ok_or_else(|| E::custom(format!("{}: {v} is not a finite number", self.at)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Raw, E> {
        Ok(Raw::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Raw, E> {
        Ok(Raw::Str(v))
    }
    fn visit_unit<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_none<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw, A::Error> {
        let Some(item) = self.place.item() else {
            let len = skip_items(&mut seq, self.at, self.sink)?;
            return Ok(Raw::Elided { object: false, len });
        };
        if self.place == Place::Blocks {
            let mut i = 0;
            while let Some(v) = seq.next_element_seed(Seed {
                at: &At::Index(self.at, i),
                place: item,
                sink: self.sink,
            })? {
                (self.sink.borrow_mut())(i, v);
                i += 1;
            }
            return Ok(Raw::Arr(Vec::new()));
        }
        let mut out = Vec::new();
        loop {
            let at = At::Index(self.at, out.len());
            if !self.place.unbounded() && out.len() == LEAF_ITEMS {
                let len = LEAF_ITEMS + skip_items(&mut seq, &at, self.sink)?;
                return Ok(Raw::Elided { object: false, len });
            }
            match seq.next_element_seed(Seed {
                at: &at,
                place: item,
                sink: self.sink,
            })? {
                Some(v) => out.push(v),
                None => return Ok(Raw::Arr(out)),
            }
        }
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw, A::Error> {
        if matches!(self.place, Place::Leaf(_) | Place::Blocks | Place::Wires) {
            let len = skip_entries(&mut map, self.at, self.sink)?;
            return Ok(Raw::Elided { object: true, len });
        }
        let mut out: Vec<(String, Raw)> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(duplicate(self.at, &key));
            }
            let at = At::Key(self.at, &key);
            let sink = self.sink;
            let value = match self.place.field(&key) {
                Some(place) => map.next_value_seed(Seed {
                    at: &at,
                    place,
                    sink,
                })?,
                None => map.next_value_seed(Skip { at: &at, sink })?,
            };
            out.push((key, value));
        }
        Ok(Raw::Obj(RawMap(out)))
    }
}

/// Reads a value without keeping it (keys still checked); an array or object becomes
/// [`Raw::Elided`], a scalar is kept (it is small).
struct Skip<'a, 's> {
    at: &'a At<'a>,
    sink: &'s BlockSink<'s>,
}

impl<'de> DeserializeSeed<'de> for Skip<'_, '_> {
    type Value = Raw;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Raw, D::Error> {
        d.deserialize_any(Seed {
            at: self.at,
            place: Place::Leaf(u8::MAX),
            sink: self.sink,
        })
    }
}

/// Reads the rest of an array without keeping it; how many items it had.
fn skip_items<'de, 's, A: SeqAccess<'de>>(
    seq: &mut A,
    at: &At<'_>,
    sink: &'s BlockSink<'s>,
) -> Result<usize, A::Error> {
    let mut n = 0;
    while seq
        .next_element_seed(Skip {
            at: &At::Index(at, n),
            sink,
        })?
        .is_some()
    {
        n += 1;
    }
    Ok(n)
}

/// Reads an object without keeping it (its keys checked for duplicates); how many keys.
fn skip_entries<'de, 's, A: MapAccess<'de>>(
    map: &mut A,
    at: &At<'_>,
    sink: &'s BlockSink<'s>,
) -> Result<usize, A::Error> {
    let mut seen: HashSet<String> = HashSet::new();
    while let Some(key) = map.next_key::<String>()? {
        if seen.contains(&key) {
            return Err(duplicate(at, &key));
        }
        map.next_value_seed(Skip {
            at: &At::Key(at, &key),
            sink,
        })?;
        seen.insert(key);
    }
    Ok(seen.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tree and the entries of `blocks` as the sink got them.
    fn parse(text: &str) -> Result<(Raw, Vec<(usize, Raw)>), serde_json::Error> {
        let mut blocks = Vec::new();
        let sink = RefCell::new(|i, v| blocks.push((i, v)));
        let raw = parse_page(text, &sink)?;
        Ok((raw, blocks))
    }

    #[test]
    fn the_schema_decides_what_is_kept() {
        let (raw, blocks) = parse(
            "\u{feff}{\"format\": \"blockspace.page\", \"junk\": [1, 2, {\"a\": 1}], \
             \"blocks\": [{\"id\": 1, \"pos\": [1.5, 2], \"attrs\": {\"shape\": [1, 2]}, \"x\": {\"y\": 1}}, 7]}",
        )
        .unwrap();
        let root = raw.as_object().unwrap();
        assert_eq!(
            root.get("format").unwrap().as_str(),
            Some("blockspace.page")
        );
        assert_eq!(
            root.get("junk"),
            Some(&Raw::Elided {
                object: false,
                len: 3
            })
        );
        // Blocks went to the sink, one by one, and are not in the tree.
        assert_eq!(root.get("blocks"), Some(&Raw::Arr(Vec::new())));
        assert_eq!(blocks.len(), 2);
        let (i, b) = &blocks[0];
        let b = b.as_object().unwrap();
        assert_eq!(*i, 0);
        assert_eq!(b.get("pos").unwrap().as_array().unwrap().len(), 2);
        assert_eq!(
            b.get("attrs")
                .unwrap()
                .as_object()
                .unwrap()
                .get("shape")
                .unwrap()
                .to_string(),
            "[1,2]"
        );
        assert_eq!(
            b.get("x"),
            Some(&Raw::Elided {
                object: true,
                len: 1
            })
        );
        assert_eq!((blocks[1].0, blocks[1].1.as_u64()), (1, Some(7)));
    }

    #[test]
    fn long_lists_are_counted_not_kept_and_messages_stay_short() {
        let text = format!(
            "{{\"blocks\": [{{\"attrs\": {{\"shape\": [{}]}}, \"name\": \"{}\"}}], \"name\": [{}]}}",
            vec!["0"; 100_000].join(","),
            "n".repeat(10_000),
            vec!["[1, 2]"; 1000].join(","),
        );
        let (raw, blocks) = parse(&text).unwrap();
        let b = blocks[0].1.as_object().unwrap();
        let shape = b
            .get("attrs")
            .unwrap()
            .as_object()
            .unwrap()
            .get("shape")
            .unwrap();
        assert_eq!(
            shape,
            &Raw::Elided {
                object: false,
                len: 100_000
            }
        );
        assert!(b.get("name").unwrap().to_string().chars().count() <= 90);
        let name = raw.as_object().unwrap().get("name").unwrap();
        assert_eq!(
            name,
            &Raw::Elided {
                object: false,
                len: 1000
            }
        );
        assert!(raw.to_string().chars().count() <= 90);
    }

    #[test]
    fn duplicates_are_refused_with_their_path_even_where_nothing_is_kept() {
        for (text, path) in [
            (r#"{"blocks": [], "blocks": []}"#, "$.blocks"),
            (
                r#"{"blocks": [{"attrs": {"a": 1, "a": 2}}]}"#,
                "$.blocks[0].attrs.a",
            ),
            (r#"{"junk": [0, {"k": 1, "k": 1}]}"#, "$.junk[1].k"),
            (
                r#"{"wires": [{"from": {"x": {"q": 1, "q": 2}}}]}"#,
                "$.wires[0].from.x.q",
            ),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(path) && e.contains("twice"), "{text}: {e}");
        }
        assert!(parse("{} trailing").is_err());
    }
}
