//! Names in exported scripts: the `.npy` file names of block outputs (shared with
//! `blockspace run --output`), Python identifiers for block names, and Python string literals.

use std::collections::BTreeSet;

/// The `.npy` file name of output `port` of block `block` (which has `outputs` outputs), as
/// `blockspace run --output DIR` and exported scripts' `--output DIR` write it: `<block>.npy`
/// for a one-output block, `<block>.<port>.npy` otherwise, with `/` replaced by `_`.
pub fn npy_name(block: &str, port: &str, outputs: usize) -> String {
    let safe: String = block
        .chars()
        .map(|c| if c == '/' { '_' } else { c })
        .collect();
    if outputs == 1 {
        format!("{safe}.npy")
    } else {
        format!("{safe}.{port}.npy")
    }
}

/// Python's keywords (`keyword.kwlist` of Python 3.12); soft keywords are valid names.
const KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield",
];

/// Module-level names of exported scripts, and the builtins their helpers and `main` call;
/// block variables never take them (helpers all start with `_`, which cleaned names never do).
const RESERVED: &[&str] = &[
    "np",
    "tf",
    "torch",
    "F",
    "os",
    "sys",
    "argparse",
    "INPUTS",
    "TOLERANCE",
    "compute",
    "main",
    "abs",
    "bool",
    "dict",
    "enumerate",
    "float",
    "int",
    "isinstance",
    "len",
    "list",
    "max",
    "min",
    "object",
    "print",
    "range",
    "set",
    "str",
    "sum",
    "tuple",
    "type",
    "zip",
];

/// Whether `name` is a Python keyword.
pub fn is_python_keyword(name: &str) -> bool {
    KEYWORDS.contains(&name)
}

/// Turns block names into distinct Python identifiers, in the order asked.
///
/// ASCII letters, digits and `_` are kept; every other character (`.`, `-`, `/`, non-ASCII)
/// becomes `_`. A name starting with a digit or `_` gets a `b` in front, a keyword or a reserved
/// name an `_` behind, and a name already taken `_1`, `_2`, … behind.
#[derive(Debug, Default, Clone)]
pub struct PyNames {
    taken: BTreeSet<String>,
}

impl PyNames {
    /// A fresh name set.
    pub fn new() -> Self {
        Self::default()
    }

    /// The identifier for `name`, distinct from every identifier given out before.
    pub fn ident(&mut self, name: &str) -> String {
        let mut base: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if base.is_empty() || base.starts_with(|c: char| c.is_ascii_digit() || c == '_') {
            base.insert(0, 'b');
        }
        if is_python_keyword(&base) || RESERVED.contains(&base.as_str()) {
            base.push('_');
        }
        let mut candidate = base.clone();
        let mut n = 1;
        while self.taken.contains(&candidate) {
            candidate = format!("{base}_{n}");
            n += 1;
        }
        self.taken.insert(candidate.clone());
        candidate
    }
}

/// `s` as a double-quoted Python string literal in pure ASCII (`\\`, `\"`, control characters
/// and non-ASCII characters escaped).
pub fn py_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (' '..='~').contains(&c) => out.push(c),
            c if u32::from(c) <= 0xffff => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push_str(&format!("\\U{:08x}", u32::from(c))),
        }
    }
    out.push('"');
    out
}

/// `s` made safe for a one-line Python comment: ASCII only (other characters as `\u{…}`), no
/// line breaks, at most `max` characters (cut with `...`).
pub fn comment_text(s: &str, max: usize) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '\n' | '\r' | '\t' => out.push(' '),
            c if (' '..='~').contains(&c) => out.push(c),
            c => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
        }
    }
    if out.len() > max {
        out.truncate(max.saturating_sub(3));
        out.push_str("...");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_valid_distinct_and_not_keywords() {
        let mut n = PyNames::new();
        assert_eq!(n.ident("x.dx_product"), "x_dx_product");
        assert_eq!(n.ident("x/dx-product"), "x_dx_product_1");
        assert_eq!(n.ident("lambda"), "lambda_");
        assert_eq!(n.ident("np"), "np_");
        assert_eq!(n.ident("3d"), "b3d");
        assert_eq!(n.ident(".hidden"), "b_hidden");
        assert_eq!(n.ident("größe"), "gr__e");
        assert_eq!(n.ident("gr..e"), "gr__e_1");
        assert_eq!(n.ident(""), "b");
    }

    #[test]
    fn strings_and_comments_are_ascii() {
        assert_eq!(
            py_str("a\"b\\c\nö😀"),
            "\"a\\\"b\\\\c\\n\\u00f6\\U0001f600\""
        );
        assert_eq!(comment_text("a\nb ö", 80), "a b \\u{f6}");
        assert_eq!(comment_text("abcdefghij", 8), "abcde...");
    }

    #[test]
    fn npy_names_match_run_output() {
        assert_eq!(npy_name("a/b", "output", 1), "a_b.npy");
        assert_eq!(npy_name("x.dx", "z", 2), "x.dx.z.npy");
    }
}
