//! The `literal` mode of `Input`: values typed as text, `1, 2, 3` or nested brackets such as
//! `[[1, 2], [3, 4]]`; errors name the column of the bad token.

use super::OpError;
use crate::tensor::DType;

/// Parsed literal values: flat values in row-major order plus the shape the text implies.
#[derive(Debug, Clone, PartialEq)]
pub struct Literal {
    /// Shape given by the brackets (`[n]` for a flat list).
    pub shape: Vec<usize>,
    /// Values as f64 (for float dtypes; empty for integer dtypes).
    pub values: Vec<f64>,
    /// Exact values for integer dtypes (empty for float dtypes).
    pub ints: Vec<i64>,
}

impl Literal {
    /// How many values the text has.
    #[must_use]
    pub fn len(&self) -> usize {
        self.values.len().max(self.ints.len())
    }

    /// Whether the text has no values (`[]`).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok<'a> {
    Open,
    Close,
    Comma,
    Num(&'a str),
}

/// The tokens of the text, read one at a time (a list of all tokens would take about 13 times
/// the text: a 50 MB literal must not need 650 MB to parse).
struct Lexer<'a> {
    text: &'a str,
    /// Byte offset of the next unread character.
    at: usize,
    /// The token after `at`'s whitespace, once looked at.
    peeked: Option<Option<(usize, Tok<'a>)>>,
}

impl<'a> Lexer<'a> {
    fn new(text: &'a str) -> Self {
        Lexer {
            text,
            at: 0,
            peeked: None,
        }
    }

    fn read(&mut self) -> Option<(usize, Tok<'a>)> {
        let rest = &self.text[self.at..];
        let skip = rest.len() - rest.trim_start().len();
        let start = self.at + skip;
        let c = self.text[start..].chars().next()?;
        let tok = match c {
            '[' => Tok::Open,
            ']' => Tok::Close,
            ',' => Tok::Comma,
            _ => {
                let len = self.text[start..]
                    .find(|c: char| matches!(c, '[' | ']' | ',') || c.is_whitespace())
                    .unwrap_or(self.text.len() - start);
                self.at = start + len;
                return Some((start, Tok::Num(&self.text[start..start + len])));
            }
        };
        self.at = start + 1;
        Some((start, tok))
    }

    /// The next token, not consumed.
    fn peek(&mut self) -> Option<(usize, Tok<'a>)> {
        if self.peeked.is_none() {
            self.peeked = Some(self.read());
        }
        self.peeked.clone().flatten()
    }

    /// Consumes the peeked token.
    fn bump(&mut self) {
        if self.peeked.take().is_none() {
            self.read();
        }
    }
}

fn column(text: &str, byte: usize) -> usize {
    text[..byte].chars().count() + 1
}

/// Parses literal values such as `1, 2, 3` or `[[1, 2], [3, 4]]` for `dtype`. Errors name the
/// column of the bad token.
pub fn parse_literal(text: &str, dtype: DType) -> Result<Literal, OpError> {
    let err = |byte: usize, msg: String| {
        OpError::attr(
            "values",
            format!(
                "{msg} at column {} of {}",
                column(text, byte),
                crate::value::quote_around(text, byte)
            ),
        )
    };
    let mut p = Parser {
        toks: Lexer::new(text),
        values: Vec::new(),
        ints: Vec::new(),
        dtype,
        text,
    };
    let shape = if matches!(p.toks.peek(), Some((_, Tok::Open))) {
        let shape = p.value(0).map_err(|(b, m)| err(b, m))?;
        if let Some((b, t)) = p.toks.peek() {
            return Err(err(
                b,
                format!("unexpected {} after the closing bracket", tok_text(&t)),
            ));
        }
        shape
    } else {
        // A flat list of numbers separated by commas.
        let mut n = 0usize;
        loop {
            match p.toks.peek() {
                None if n == 0 => {
                    return Err(OpError::attr(
                        "values",
                        "is empty; type numbers such as `1, 2, 3` (or `[]` for an empty tensor)",
                    ));
                }
                None => {
                    return Err(err(
                        text.len(),
                        "expected a number after the last comma".into(),
                    ));
                }
                Some((b, Tok::Num(s))) => {
                    p.number(b, s).map_err(|(b, m)| err(b, m))?;
                    n += 1;
                    p.toks.bump();
                }
                Some((b, t)) => {
                    return Err(err(b, format!("expected a number, found {}", tok_text(&t))));
                }
            }
            match p.toks.peek() {
                None => break,
                Some((_, Tok::Comma)) => {
                    p.toks.bump();
                    if p.toks.peek().is_none() {
                        break; // trailing comma
                    }
                }
                Some((b, t)) => {
                    return Err(err(b, format!("expected a comma, found {}", tok_text(&t))));
                }
            }
        }
        vec![n]
    };
    Ok(Literal {
        shape,
        values: p.values,
        ints: p.ints,
    })
}

fn tok_text(t: &Tok<'_>) -> String {
    match t {
        Tok::Open => "\"[\"".into(),
        Tok::Close => "\"]\"".into(),
        Tok::Comma => "\",\"".into(),
        Tok::Num(s) => crate::value::quote(s),
    }
}

struct Parser<'a> {
    toks: Lexer<'a>,
    values: Vec<f64>,
    ints: Vec<i64>,
    dtype: DType,
    text: &'a str,
}

type PErr = (usize, String);

impl Parser<'_> {
    fn number(&mut self, byte: usize, s: &str) -> Result<(), PErr> {
        if self.dtype.is_float() {
            let v: f64 = s
                .parse()
                .map_err(|_| (byte, format!("{} is not a number", crate::value::quote(s))))?;
            self.values.push(v);
        } else {
            let v: i64 = s.parse().map_err(|_| {
                let hint = if s.parse::<f64>().is_ok() {
                    " (whole numbers only for integer dtypes)"
                } else {
                    ""
                };
                (
                    byte,
                    format!(
                        "{} is not a valid {} value{hint}",
                        crate::value::quote(s),
                        self.dtype
                    ),
                )
            })?;
            if self.dtype == DType::Int32 && i32::try_from(v).is_err() {
                return Err((
                    byte,
                    format!("{s} does not fit in int32; use int64 or a smaller value"),
                ));
            }
            self.ints.push(v);
        }
        Ok(())
    }

    /// Parses one value (a number or a bracketed list) and returns its shape.
    fn value(&mut self, depth: usize) -> Result<Vec<usize>, PErr> {
        let end = self.text.len();
        match self.toks.peek() {
            Some((b, Tok::Num(s))) => {
                self.number(b, s)?;
                self.toks.bump();
                Ok(vec![])
            }
            Some((open, Tok::Open)) => {
                if depth >= 32 {
                    return Err((open, "brackets are nested more than 32 deep".into()));
                }
                self.toks.bump();
                let mut child: Option<(usize, Vec<usize>)> = None;
                let mut n = 0usize;
                loop {
                    match self.toks.peek() {
                        Some((_, Tok::Close)) => {
                            self.toks.bump();
                            break;
                        }
                        None => return Err((open, "this \"[\" is never closed; add \"]\"".into())),
                        Some((b, _)) => {
                            let shape = self.value(depth + 1)?;
                            match &child {
                                None => child = Some((b, shape)),
                                Some((_, first)) if *first != shape => {
                                    return Err((
                                        b,
                                        format!(
                                            "ragged nesting: this element has shape {shape:?} but the first has {first:?}; give every row the same length"
                                        ),
                                    ));
                                }
                                Some(_) => {}
                            }
                            n += 1;
                            match self.toks.peek() {
                                Some((_, Tok::Comma)) => self.toks.bump(),
                                Some((_, Tok::Close)) => {}
                                Some((b, t)) => {
                                    return Err((
                                        b,
                                        format!("expected \",\" or \"]\", found {}", tok_text(&t)),
                                    ));
                                }
                                None => return Err((end, "missing \"]\" at the end".into())),
                            }
                        }
                    }
                }
                let mut shape = vec![n];
                if let Some((_, c)) = child {
                    shape.extend(c);
                }
                Ok(shape)
            }
            Some((b, t)) => Err((
                b,
                format!("expected a number or \"[\", found {}", tok_text(&t)),
            )),
            None => Err((end, "expected a number or \"[\" at the end".into())),
        }
    }
}

pub(super) fn literal_shape(lit: &Literal, shape_attr: &[usize]) -> Result<Vec<usize>, OpError> {
    if shape_attr.is_empty() {
        return Ok(lit.shape.clone());
    }
    let want: Option<usize> = shape_attr.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    if want != Some(lit.len()) {
        return Err(OpError::attr(
            "shape",
            format!(
                "{shape_attr:?} needs {} values but `values` has {}; fix the shape or clear it ([]) to use the shape of the text",
                want.map_or("too many".to_owned(), |w| w.to_string()),
                lit.len()
            ),
        ));
    }
    Ok(shape_attr.to_vec())
}

#[cfg(test)]
mod tests {
    use super::super::tests::{attrs, run, s};
    use super::*;
    use crate::value::AttrValue;

    #[test]
    fn errors_quote_at_most_about_80_characters_of_the_input() {
        let text = format!("{}, oops{}", "1".repeat(1_000_000), ", 2".repeat(500_000));
        let e = parse_literal(&text, DType::Float32).unwrap_err();
        assert!(e.message.len() < 400, "{} bytes", e.message.len());
        assert!(
            e.message.contains("oops") && e.message.contains('…'),
            "{}",
            e.message
        );
        let e = parse_literal(&"z".repeat(1_000_000), DType::Int32).unwrap_err();
        assert!(e.message.len() < 400, "{} bytes", e.message.len());
    }

    #[test]
    fn literal_flat_and_nested() {
        let l = parse_literal("1, 2, 3", DType::Int32).unwrap();
        assert_eq!((l.shape, l.ints), (vec![3], vec![1, 2, 3]));
        let l = parse_literal("[[1,2],[3,4],[5,6]]", DType::Float64).unwrap();
        assert_eq!(l.shape, vec![3, 2]);
        assert_eq!(l.values, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let l = parse_literal(" [ 1.5 , -2e3, nan, ] ", DType::Float32).unwrap();
        assert_eq!(l.shape, vec![3]);
        assert_eq!(parse_literal("[]", DType::Float32).unwrap().shape, vec![0]);
        assert_eq!(parse_literal("7", DType::Int64).unwrap().shape, vec![1]);
        assert_eq!(parse_literal("[7]", DType::Int64).unwrap().shape, vec![1]);
        assert_eq!(
            parse_literal("[[7]]", DType::Int64).unwrap().shape,
            vec![1, 1]
        );
    }

    #[test]
    fn literal_errors_point_at_the_bad_token() {
        let e = parse_literal("1, 2, x3, 4", DType::Float32).unwrap_err();
        assert_eq!(e.attr.as_deref(), Some("values"));
        assert!(
            e.message.contains("\"x3\"") && e.message.contains("column 7"),
            "{}",
            e.message
        );
        let e = parse_literal("1, 2.5", DType::Int32).unwrap_err();
        assert!(
            e.message.contains("column 4") && e.message.contains("whole numbers"),
            "{}",
            e.message
        );
        let e = parse_literal("[[1,2],[3]]", DType::Int32).unwrap_err();
        assert!(
            e.message.contains("ragged") && e.message.contains("column 8"),
            "{}",
            e.message
        );
        let e = parse_literal("[1, 2", DType::Int32).unwrap_err();
        assert!(e.message.contains("\"]\""), "{}", e.message);
        let e = parse_literal("1 2", DType::Int32).unwrap_err();
        assert!(
            e.message.contains("expected a comma") && e.message.contains("column 3"),
            "{}",
            e.message
        );
        let e = parse_literal("3000000000", DType::Int32).unwrap_err();
        assert!(e.message.contains("int32"), "{}", e.message);
        assert!(parse_literal("", DType::Int32).is_err());
        assert!(parse_literal("[1]]", DType::Int32).is_err());
    }

    #[test]
    fn literal_with_shape_attr_reshapes() {
        let a = attrs(&[
            ("values", s("1,2,3,4,5,6")),
            ("shape", AttrValue::IntList(vec![2, 3])),
        ]);
        let t = run(&a).unwrap();
        assert_eq!(t.shape(), &[2, 3]);
        let a = attrs(&[
            ("values", s("1,2,3")),
            ("shape", AttrValue::IntList(vec![2, 2])),
        ]);
        assert_eq!(run(&a).unwrap_err().attr.as_deref(), Some("shape"));
    }
}
