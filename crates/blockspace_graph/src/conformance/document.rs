//! A conformance file read case by case: the top level is split into the texts of its fields
//! and of each case (borrowed from the file's text, no tree), the memory the parse needs is
//! checked against the budget, and then each case alone becomes a JSON tree, is parsed into a
//! [`Case`](super::Case) and dropped. So a file of many cases needs its text twice (as read,
//! and with non-finite numbers quoted), its parsed cases, and the tree of its largest case,
//! instead of a tree of the whole file (up to 64 times the text).

use std::collections::HashSet;

use serde::de::{self, Deserializer as _, MapAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

use super::ParseProblem;
use crate::file::strict_json;

/// Bytes the parsed tree of a JSON text may take per value: a 32-byte `serde_json::Value`,
/// times 2 for a `Vec`'s spare capacity, times 2 again while it grows (old and new buffer),
/// measured: 1.54 GB peak for a 24 MB file of 12 million one-digit numbers.
pub(super) const BYTES_PER_VALUE: u64 = 128;

/// Bytes a parsed case keeps per value (an `f64` or an `i64`).
const KEPT_PER_VALUE: u64 = 8;

/// Values in a JSON text: each is preceded or followed by a `,`, `[`, `{` or `:`. Building
/// the text's tree takes up to [`BYTES_PER_VALUE`] for each.
pub(super) fn values(text: &str) -> u64 {
    text.bytes()
        .filter(|b| matches!(b, b',' | b'[' | b'{' | b':'))
        .count() as u64
        + 1
}

/// The top-level fields of a document, their values as unparsed text, in file order.
struct TopLevel;

impl<'de> Visitor<'de> for TopLevel {
    type Value = Vec<(String, &'de RawValue)>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object with `cases`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (mut out, mut seen) = (Vec::new(), HashSet::new());
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom(format!(
                    "$.{key}: the key {key:?} appears twice in one object; keep one"
                )));
            }
            let value: &RawValue = map.next_value()?;
            out.push((key, value));
        }
        Ok(out)
    }
}

fn invalid(e: &serde_json::Error) -> ParseProblem {
    ParseProblem("$".to_owned(), format!("not valid JSON ({e})"))
}

/// Parses every case of the conformance document `text` with `parse(json_path, case)`, one
/// case tree at a time, after checking that the parse fits in `budget` bytes.
///
/// # Errors
/// The first problem: invalid JSON or a duplicate key (`$`, the key's path in the message),
/// no `cases` array, a parse that would not fit the budget (with the sizes and how to fix
/// it), or what `parse` returns.
pub(super) fn parse_cases<C>(
    text: &str,
    budget: u64,
    mut parse: impl FnMut(&str, &Value) -> Result<C, ParseProblem>,
) -> Result<Vec<C>, ParseProblem> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut de = serde_json::Deserializer::from_str(text);
    let top = de.deserialize_map(TopLevel).map_err(|e| invalid(&e))?;
    de.end().map_err(|e| invalid(&e))?;
    let not_cases = || ParseProblem("$.cases".to_owned(), "missing or not an array".to_owned());
    let cases_text = top
        .iter()
        .find(|(k, _)| k == "cases")
        .ok_or_else(not_cases)?
        .1;
    let cases: Vec<&RawValue> = serde_json::from_str(cases_text.get()).map_err(|_| not_cases())?;
    // What the parse holds at its peak: the text twice (the caller's copy too), every case
    // kept, and the largest tree of one field or one case (only its path is formatted).
    let largest_field = top
        .iter()
        .filter(|(k, _)| k != "cases")
        .map(|(k, v)| (values(v.get()), k))
        .max_by_key(|&(n, _)| n)
        .map(|(n, k)| (n, format!("$.{k}")));
    let largest_case = cases
        .iter()
        .enumerate()
        .map(|(i, c)| (values(c.get()), i))
        .max_by_key(|&(n, _)| n)
        .map(|(n, i)| (n, format!("$.cases[{i}]")));
    let (largest_values, largest_at) = largest_field
        .into_iter()
        .chain(largest_case)
        .max_by_key(|(n, _)| *n)
        .unwrap_or((0, "$".to_owned()));
    let largest = largest_values.saturating_mul(BYTES_PER_VALUE);
    let need = (2 * text.len() as u64)
        .saturating_add(values(cases_text.get()).saturating_mul(KEPT_PER_VALUE))
        .saturating_add(largest);
    if need > budget {
        return Err(ParseProblem(
            "$".to_owned(),
            format!(
                "parsing this file could take {}, more than the memory budget of {} ({largest_at} alone takes up to {}); split its cases into smaller files or raise the budget (--memory-limit)",
                crate::format_size(need),
                crate::format_size(budget),
                crate::format_size(largest)
            ),
        ));
    }
    // Fields other than `cases` are only checked (duplicate keys inside them are refused).
    for (key, v) in top.iter().filter(|(k, _)| k != "cases") {
        strict_json::from_str_at(v.get(), &format!("$.{key}")).map_err(|e| invalid(&e))?;
    }
    cases
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let at = format!("$.cases[{i}]");
            let case = strict_json::from_str_at(c.get(), &at).map_err(|e| invalid(&e))?;
            parse(&at, &case)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str, budget: u64) -> Result<Vec<String>, String> {
        parse_cases(text, budget, |at, case| {
            Ok(format!(
                "{at}={}",
                case.get("name").map_or("?", |n| n.as_str().unwrap_or("?"))
            ))
        })
        .map_err(|ParseProblem(p, m)| format!("{p}: {m}"))
    }

    #[test]
    fn cases_are_parsed_in_order_with_their_paths() {
        let got = names(
            "\u{feff}{\"meta\": {\"v\": 1}, \"cases\": [{\"name\": \"a\"}, {\"name\": \"b\"}]}",
            1 << 20,
        );
        assert_eq!(got, Ok(vec!["$.cases[0]=a".into(), "$.cases[1]=b".into()]));
    }

    #[test]
    fn duplicate_keys_are_refused_at_every_level() {
        for (text, path) in [
            (r#"{"cases": [], "cases": []}"#, "$.cases"),
            (r#"{"meta": {"a": 1, "a": 2}, "cases": []}"#, "$.meta.a"),
            (
                r#"{"cases": [{"name": "x", "name": "y"}]}"#,
                "$.cases[0].name",
            ),
        ] {
            let err = names(text, 1 << 20).unwrap_err();
            assert!(err.contains(&format!("{path}: the key")), "{text}: {err}");
        }
    }

    #[test]
    fn malformed_documents_say_what_is_wrong() {
        assert!(
            names("[1, 2]", 1 << 20)
                .unwrap_err()
                .starts_with("$: not valid JSON")
        );
        assert!(
            names("{\"cases\": [1,", 1 << 20)
                .unwrap_err()
                .starts_with("$: not valid JSON")
        );
        assert_eq!(
            names(r#"{"meta": 1}"#, 1 << 20).unwrap_err(),
            "$.cases: missing or not an array"
        );
        assert_eq!(
            names(r#"{"cases": {"a": 1}}"#, 1 << 20).unwrap_err(),
            "$.cases: missing or not an array"
        );
    }

    /// The budget covers the largest single case's tree, not the whole file's: many small
    /// cases fit where one tree of them all would not, and one huge case is named.
    #[test]
    fn the_budget_is_checked_against_the_largest_case() {
        let case = format!(
            r#"{{"name": "c", "data": [{}]}}"#,
            vec!["1"; 1000].join(",")
        );
        let many = format!(r#"{{"cases": [{}]}}"#, vec![case.as_str(); 200].join(","));
        // A whole-file tree: 200 × 1000 values × 128 bytes = 25.6 MB.
        assert!(values(&many) * BYTES_PER_VALUE > 24 << 20);
        assert_eq!(names(&many, 8 << 20).map(|n| n.len()), Ok(200));
        let huge = format!(
            r#"{{"cases": [{case}, {{"name": "big", "data": [{}]}}]}}"#,
            vec!["1"; 100_000].join(",")
        );
        let err = names(&huge, 8 << 20).unwrap_err();
        assert!(err.contains("$.cases[1] alone takes up to"), "{err}");
        assert!(err.contains("--memory-limit"), "{err}");
    }
}
