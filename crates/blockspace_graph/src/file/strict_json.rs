//! Reading JSON documents that may be hostile: only regular files, at most a size cap, a
//! leading UTF-8 byte-order mark accepted, and duplicate object keys refused with their JSON
//! path (serde_json alone keeps the last one silently).

use std::fmt;
use std::io::Read;
use std::path::Path;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// The largest JSON document (page or conformance file) read: 256 MiB.
pub const MAX_JSON_BYTES: u64 = 256 << 20;

/// Reads the text of the regular file at `path`, refusing folders, FIFOs, devices and files
/// over `max_bytes` (a FIFO would block forever, `/dev/zero` would never end).
///
/// # Errors
/// An I/O error whose message says what was wrong and how to fix it.
pub fn read_text_file(path: &Path, max_bytes: u64) -> std::io::Result<String> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file; choose a file",
        ));
    }
    if meta.len() > max_bytes {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "the file has {} bytes, more than the {max_bytes} bytes a document may have",
                meta.len()
            ),
        ));
    }
    // Sized up front: `take` hides the file's length, and growing by doubling would hold up to
    // three times the text while copying.
    let mut text = String::with_capacity(usize::try_from(meta.len()).unwrap_or(0) + 1);
    std::fs::File::open(path)?
        .take(max_bytes + 1)
        .read_to_string(&mut text)?;
    if text.len() as u64 > max_bytes {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("the file grew past {max_bytes} bytes while it was read"),
        ));
    }
    Ok(text)
}

/// Parses `text` as JSON (a leading byte-order mark skipped), refusing duplicate object keys.
///
/// # Errors
/// serde_json's error, with its line and column; a duplicate key's message names its JSON path.
pub fn from_str(text: &str) -> Result<Value, serde_json::Error> {
    from_str_at(text.strip_prefix('\u{feff}').unwrap_or(text), "$")
}

/// As [`from_str`] for a value found at JSON path `path` of a larger document (duplicate
/// keys are named from there); no byte-order mark is skipped.
///
/// # Errors
/// As [`from_str`].
pub fn from_str_at(text: &str, path: &str) -> Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value = Seed { path }.deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

struct Seed<'p> {
    path: &'p str,
}

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor { path: self.path })
    }
}

struct ValueVisitor<'p> {
    path: &'p str,
}

impl<'de> Visitor<'de> for ValueVisitor<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        loop {
            let path = format!("{}[{}]", self.path, out.len());
            match seq.next_element_seed(Seed { path: &path })? {
                Some(v) => out.push(v),
                None => return Ok(Value::Array(out)),
            }
        }
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = format!("{}.{key}", self.path);
            if out.contains_key(&key) {
                return Err(de::Error::custom(format!(
                    "{path}: the key {key:?} appears twice in one object; keep one"
                )));
            }
            let value = map.next_value_seed(Seed { path: &path })?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_refused_with_their_path_and_bom_is_accepted() {
        let e = from_str(r#"{"a": [{"b": 1, "b": 2}]}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("$.a[0].b") && e.contains("twice"), "{e}");
        let v = from_str("\u{feff}{\"x\": [1, 2.5, \"s\", null, true]}").unwrap();
        assert_eq!(v["x"][1], 2.5);
        assert!(from_str("{} trailing").is_err());
    }

    #[test]
    fn only_regular_files_within_the_cap_are_read() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_text_file(dir.path(), 1 << 20).is_err(), "a folder");
        let f = dir.path().join("a.json");
        std::fs::write(&f, "{}").unwrap();
        assert_eq!(read_text_file(&f, 1 << 20).unwrap(), "{}");
        let e = read_text_file(&f, 1).unwrap_err().to_string();
        assert!(e.contains("more than"), "{e}");
        #[cfg(unix)]
        {
            let dev = Path::new("/dev/zero");
            if dev.exists() {
                assert!(read_text_file(dev, 1 << 20).is_err(), "a device");
            }
        }
    }
}
