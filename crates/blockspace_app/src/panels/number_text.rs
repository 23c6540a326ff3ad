//! The text of a number typed into a `Float` attribute's field, read exactly: a whole number
//! becomes `AttrValue::Int` (an int64 fill of 2^53 + 1 must not pass through `f64`), a decimal
//! or an exponent `AttrValue::Float`; the same for an `Int { min, max }` attribute's field, which
//! takes only whole numbers in its range; the text a field shows for a value, which reads back
//! as the same variant and number; and what a drag of the field's handle makes of a value.

use std::ops::RangeInclusive;

use blockspace_graph::AttrValue;
use blockspace_graph::value::quote;

/// How to write a number, said by every [`NumberTextError`].
const HOW: &str =
    "type a whole number such as -5 or 9007199254740993, or a decimal such as 0.25 or 1e-3";

/// Why a typed text is not a number an attribute can hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberTextError {
    /// Nothing but spaces.
    #[error("no number given; {how}", how = HOW)]
    Empty,
    /// Not a number at all.
    #[error("{} is not a number; {how}", quote(.0), how = HOW)]
    NotANumber(String),
    /// Infinity, NaN, or a float beyond ±1.8e308.
    #[error(
        "{} is not a finite number (infinity, NaN and values beyond ±1.8e308 are not allowed); {how}",
        quote(.0),
        how = HOW
    )]
    NotFinite(String),
    /// A whole number that int64 cannot hold.
    #[error(
        "{} is a whole number outside int64 ({} to {}); type one in that range, or add a decimal point or an exponent (e.g. 1.5e19) to use the nearest float",
        quote(.0),
        i64::MIN,
        i64::MAX
    )]
    OutsideInt64(String),
}

/// Reads `text` (spaces around it ignored): digits with an optional sign are a whole number,
/// kept exact as [`AttrValue::Int`]; anything else Rust reads as a finite `f64` (`0.5`, `.5`,
/// `1e-3`, `2.0`) is an [`AttrValue::Float`].
///
/// # Errors
/// [`NumberTextError`] naming the text: empty, not a number, not finite, or a whole number
/// outside int64.
pub fn parse_number(text: &str) -> Result<AttrValue, NumberTextError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(NumberTextError::Empty);
    }
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        // Only digits: the one way to fail is to be outside int64.
        return t
            .parse::<i64>()
            .map(AttrValue::Int)
            .map_err(|_| NumberTextError::OutsideInt64(t.to_owned()));
    }
    match t.parse::<f64>() {
        Ok(f) if f.is_finite() => Ok(AttrValue::Float(f)),
        Ok(_) => Err(NumberTextError::NotFinite(t.to_owned())),
        Err(_) => Err(NumberTextError::NotANumber(t.to_owned())),
    }
}

/// Why a typed text is not a value an `Int { min, max }` attribute can hold. Every message names
/// the text, says what is wrong with it and gives the allowed range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WholeTextError {
    /// Nothing but spaces.
    #[error("no number given; type a whole number from {min} to {max}")]
    Empty {
        /// The smallest allowed value.
        min: i64,
        /// The largest allowed value.
        max: i64,
    },
    /// Not a number at all.
    #[error("{} is not a number; type a whole number from {min} to {max}", quote(.text))]
    NotANumber {
        /// The text, trimmed.
        text: String,
        /// The smallest allowed value.
        min: i64,
        /// The largest allowed value.
        max: i64,
    },
    /// A decimal, an exponent, infinity or NaN.
    #[error(
        "{} is not a whole number (this field takes no decimal point or exponent); type a whole number from {min} to {max}",
        quote(.text)
    )]
    NotWhole {
        /// The text, trimmed.
        text: String,
        /// The smallest allowed value.
        min: i64,
        /// The largest allowed value.
        max: i64,
    },
    /// A whole number below `min` or above `max` (or outside int64).
    #[error(
        "{} is outside the allowed range {min} to {max}; type a whole number in that range (the nearest is {nearest})",
        quote(.text)
    )]
    OutOfRange {
        /// The text, trimmed.
        text: String,
        /// The smallest allowed value.
        min: i64,
        /// The largest allowed value.
        max: i64,
        /// The allowed value nearest to the text.
        nearest: i64,
    },
}

/// Reads `text` (spaces around it ignored) as a whole number from `min` to `max`, exactly (no
/// `f64` on the way: 2^53 + 1 stays 2^53 + 1). It must read as a whole number for
/// [`parse_number`] and lie in the range; nothing is clamped.
///
/// # Errors
/// [`WholeTextError`] naming the text and the range: empty, not a number, not whole (a decimal,
/// an exponent, infinity or NaN), or outside `min..=max`.
pub fn parse_whole_in(text: &str, min: i64, max: i64) -> Result<i64, WholeTextError> {
    let t = text.trim();
    let out_of_range = |nearest| WholeTextError::OutOfRange {
        text: t.to_owned(),
        min,
        max,
        nearest,
    };
    match parse_number(t) {
        Ok(AttrValue::Int(v)) if v < min => Err(out_of_range(min)),
        Ok(AttrValue::Int(v)) if v > max => Err(out_of_range(max)),
        Ok(AttrValue::Int(v)) => Ok(v),
        // Digits that int64 cannot hold are out of any int64 range, on the side of their sign.
        Err(NumberTextError::OutsideInt64(_)) => {
            Err(out_of_range(if t.starts_with('-') { min } else { max }))
        }
        Err(NumberTextError::Empty) => Err(WholeTextError::Empty { min, max }),
        Err(NumberTextError::NotANumber(_)) => Err(WholeTextError::NotANumber {
            text: t.to_owned(),
            min,
            max,
        }),
        Ok(_) | Err(NumberTextError::NotFinite(_)) => Err(WholeTextError::NotWhole {
            text: t.to_owned(),
            min,
            max,
        }),
    }
}

/// The text a field shows for `value`: an `Int`'s digits, a `Float`'s shortest exact form with a
/// decimal point or an exponent (`2.0`, `1e300`), so [`parse_number`] reads it back unchanged.
#[must_use]
pub fn number_text(value: &AttrValue) -> String {
    match value {
        AttrValue::Int(i) => i.to_string(),
        // `Debug` writes the shortest text that reads back as the same f64, always with `.` or
        // `e` (`Display` writes 2.0 as "2", which would read back as an Int).
        AttrValue::Float(f) => format!("{f:?}"),
        other => other.to_string(),
    }
}

/// Points of drag per whole-number step of an `Int`.
pub const POINTS_PER_INT_STEP: f32 = 5.0;
/// How much a `Float` moves per point of drag.
pub const FLOAT_PER_POINT: f64 = 0.01;

/// `from` after a horizontal drag of `points` (negative: to the left). An `Int` moves by whole
/// steps, one per [`POINTS_PER_INT_STEP`], exactly and saturating at the ends of `ints` (the
/// attribute's `min..=max`, or all of int64 for a `Float` attribute; an int64 fill of 2^53 + 1
/// dragged one step is 2^53 + 2); a `Float` by [`FLOAT_PER_POINT`] per
/// point, rounded to hundredths while that keeps it finite and exact enough (below 1e13), so a
/// drag from 0 shows 0.37, not 0.37000000000000005. Anything else is returned as it is.
#[must_use]
pub fn dragged(from: &AttrValue, points: f32, ints: &RangeInclusive<i64>) -> AttrValue {
    match from {
        AttrValue::Int(i) => {
            // Truncated toward zero: a drag shorter than one step changes nothing (not even a
            // value outside `ints`, which only a move would clamp).
            let steps = (points / POINTS_PER_INT_STEP).trunc() as i64;
            if steps == 0 {
                return from.clone();
            }
            let moved = i.saturating_add(steps);
            // Not `clamp`, which panics on an empty range.
            AttrValue::Int(moved.min(*ints.end()).max(*ints.start()))
        }
        AttrValue::Float(f) => {
            let moved = f + f64::from(points) * FLOAT_PER_POINT;
            let value = if moved.abs() < 1e13 {
                (moved * 100.0).round() / 100.0
            } else {
                moved
            };
            AttrValue::Float(if value.is_finite() { value } else { *f })
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// All of int64: how a `Float` attribute's Int is dragged.
    const ALL: RangeInclusive<i64> = i64::MIN..=i64::MAX;

    #[test]
    fn whole_numbers_stay_exact_integers() {
        let cases = [
            ("9007199254740993", 9_007_199_254_740_993), // 2^53 + 1: no f64 holds it
            ("-9007199254740993", -9_007_199_254_740_993),
            ("-5", -5),
            ("+7", 7),
            ("  42 ", 42),
            ("007", 7),
            ("-0", 0),
            ("9223372036854775807", i64::MAX),
            ("-9223372036854775808", i64::MIN),
        ];
        for (text, want) in cases {
            assert_eq!(parse_number(text), Ok(AttrValue::Int(want)), "{text:?}");
        }
    }

    #[test]
    fn decimals_and_exponents_are_floats() {
        let cases = [
            ("0.25", 0.25),
            ("-.5", -0.5),
            ("2.0", 2.0),
            ("2.", 2.0),
            ("1e-3", 1e-3),
            ("1E3", 1000.0),
            ("1.5e19", 1.5e19),
        ];
        for (text, want) in cases {
            assert_eq!(parse_number(text), Ok(AttrValue::Float(want)), "{text:?}");
        }
    }

    #[test]
    fn whole_numbers_outside_int64_are_refused_naming_the_range() {
        for text in [
            "9223372036854775808",
            "-9223372036854775809",
            "1".repeat(40).as_str(),
        ] {
            let e = parse_number(text).unwrap_err();
            assert_eq!(e, NumberTextError::OutsideInt64(text.to_owned()));
            let msg = e.to_string();
            assert!(
                msg.contains("-9223372036854775808 to 9223372036854775807")
                    && msg.contains(&text[..10])
                    && msg.contains("decimal point"),
                "{msg}"
            );
        }
    }

    #[test]
    fn bad_text_is_refused_with_the_text_and_how_to_fix() {
        for text in ["abc", "1,5", "0x10", "1e", "--1", "1 2", "½"] {
            let e = parse_number(text).unwrap_err();
            assert_eq!(e, NumberTextError::NotANumber(text.to_owned()), "{text:?}");
            let msg = e.to_string();
            assert!(
                msg.contains(&format!("{text:?}")) && msg.contains("such as 0.25"),
                "{msg}"
            );
        }
        for text in ["inf", "-infinity", "NaN", "1e400", "-1e309"] {
            let e = parse_number(text).unwrap_err();
            assert_eq!(e, NumberTextError::NotFinite(text.to_owned()), "{text:?}");
            assert!(e.to_string().contains("not a finite number"), "{e}");
        }
        assert_eq!(parse_number("   "), Err(NumberTextError::Empty));
        assert!(
            parse_number("")
                .unwrap_err()
                .to_string()
                .contains("such as -5"),
            "the empty field's message says how to fix it"
        );
    }

    #[test]
    fn shown_text_reads_back_as_the_same_value() {
        let values = [
            AttrValue::Int(9_007_199_254_740_993),
            AttrValue::Int(i64::MIN),
            AttrValue::Int(0),
            AttrValue::Float(2.0),
            AttrValue::Float(-0.0),
            AttrValue::Float(0.1),
            AttrValue::Float(1e300),
            AttrValue::Float(5e-324),
            AttrValue::Float(9_007_199_254_740_992.0),
            AttrValue::Float(f64::MAX),
        ];
        for v in values {
            let text = number_text(&v);
            let back = parse_number(&text).unwrap();
            assert_eq!(back, v, "{text:?}");
            if let (AttrValue::Float(a), AttrValue::Float(b)) = (&back, &v) {
                assert_eq!(a.to_bits(), b.to_bits(), "{text:?} keeps the sign of zero");
            }
        }
        assert_eq!(number_text(&AttrValue::Float(2.0)), "2.0");
    }

    #[test]
    fn drags_move_ints_by_exact_whole_steps_and_floats_by_hundredths() {
        let big = AttrValue::Int(9_007_199_254_740_993);
        assert_eq!(
            dragged(&big, 5.0, &ALL),
            AttrValue::Int(9_007_199_254_740_994)
        );
        assert_eq!(
            dragged(&big, 52.0, &ALL),
            AttrValue::Int(9_007_199_254_741_003)
        );
        assert_eq!(
            dragged(&big, -10.0, &ALL),
            AttrValue::Int(9_007_199_254_740_991)
        );
        assert_eq!(
            dragged(&big, 4.9, &ALL),
            big,
            "less than one step changes nothing"
        );
        assert_eq!(dragged(&big, 0.0, &ALL), big);
        assert_eq!(
            dragged(&AttrValue::Int(i64::MAX - 1), 50.0, &ALL),
            AttrValue::Int(i64::MAX),
            "saturates"
        );
        assert_eq!(
            dragged(&AttrValue::Int(i64::MIN + 1), -50.0, &ALL),
            AttrValue::Int(i64::MIN)
        );
        assert_eq!(
            dragged(&AttrValue::Float(0.0), 37.0, &ALL),
            AttrValue::Float(0.37)
        );
        assert_eq!(
            dragged(&AttrValue::Float(0.25), -100.0, &ALL),
            AttrValue::Float(-0.75)
        );
        assert_eq!(
            dragged(&AttrValue::Float(1e300), 10.0, &ALL),
            AttrValue::Float(1e300),
            "a step too small for a huge float leaves it"
        );
        assert_eq!(
            dragged(&AttrValue::Float(f64::MAX), 1e30, &ALL),
            AttrValue::Float(f64::MAX),
            "the largest float stays finite"
        );
    }

    #[test]
    fn a_dragged_int_saturates_at_the_attribute_range_and_stays_exact() {
        let seeds = 0..=i64::MAX;
        assert_eq!(
            dragged(&AttrValue::Int(2), -52.0, &seeds),
            AttrValue::Int(0),
            "stops at min, not at the int64 end"
        );
        assert_eq!(
            dragged(&AttrValue::Int(i64::MAX - 1), 50.0, &seeds),
            AttrValue::Int(i64::MAX)
        );
        assert_eq!(
            dragged(&AttrValue::Int(9_007_199_254_740_993), 5.0, &seeds),
            AttrValue::Int(9_007_199_254_740_994),
            "one exact step above 2^53"
        );
        assert_eq!(
            dragged(&AttrValue::Int(5), 1e30, &(1..=10)),
            AttrValue::Int(10)
        );
        assert_eq!(
            dragged(&AttrValue::Int(5), -1e30, &(1..=10)),
            AttrValue::Int(1)
        );
        assert_eq!(
            dragged(&AttrValue::Int(5), 2.0, &(1..=3)),
            AttrValue::Int(5),
            "less than one step leaves even an out-of-range value"
        );
        assert_eq!(
            dragged(&AttrValue::Int(5), 50.0, &RangeInclusive::new(3, 1)),
            AttrValue::Int(3),
            "an empty range does not panic"
        );
    }

    #[test]
    fn whole_numbers_in_range_are_read_exactly() {
        let max = i64::MAX;
        for (text, want) in [
            ("9007199254740993", 9_007_199_254_740_993),
            (" 0 ", 0),
            ("+7", 7),
            ("-0", 0),
            ("9223372036854775807", max),
        ] {
            assert_eq!(parse_whole_in(text, 0, max), Ok(want), "{text:?}");
        }
        assert_eq!(parse_whole_in("-3", -3, 3), Ok(-3), "min is allowed");
        assert_eq!(parse_whole_in("3", -3, 3), Ok(3), "max is allowed");
    }

    #[test]
    fn whole_numbers_outside_the_range_are_refused_naming_it_and_the_nearest() {
        let cases = [
            ("-1", 0, i64::MAX, 0),
            ("4", -3, 3, 3),
            ("-4", -3, 3, -3),
            ("9223372036854775808", 0, i64::MAX, i64::MAX),
            ("-99999999999999999999", 0, i64::MAX, 0),
        ];
        for (text, min, max, nearest) in cases {
            let e = parse_whole_in(text, min, max).unwrap_err();
            assert_eq!(
                e,
                WholeTextError::OutOfRange {
                    text: text.to_owned(),
                    min,
                    max,
                    nearest
                },
                "{text:?}"
            );
            let msg = e.to_string();
            assert!(
                msg.contains(&format!("{text:?}"))
                    && msg.contains(&format!("allowed range {min} to {max}"))
                    && msg.contains(&format!("the nearest is {nearest}")),
                "{msg}"
            );
        }
    }

    #[test]
    fn decimals_exponents_and_non_numbers_are_refused_with_the_range() {
        for text in ["1.5", "2.0", "1e3", "-.5", "inf", "NaN", "1e400"] {
            let e = parse_whole_in(text, 0, 9).unwrap_err();
            assert_eq!(
                e,
                WholeTextError::NotWhole {
                    text: text.to_owned(),
                    min: 0,
                    max: 9
                },
                "{text:?}"
            );
            let msg = e.to_string();
            assert!(
                msg.contains(&format!("{text:?} is not a whole number"))
                    && msg.contains("from 0 to 9"),
                "{msg}"
            );
        }
        for text in ["abc", "1,5", "0x10", "½"] {
            let e = parse_whole_in(text, 0, 9).unwrap_err();
            assert!(
                matches!(&e, WholeTextError::NotANumber { text: t, .. } if t == text),
                "{text:?}: {e:?}"
            );
            assert!(
                e.to_string()
                    .contains("is not a number; type a whole number from 0 to 9"),
                "{e}"
            );
        }
        assert_eq!(
            parse_whole_in("  ", 0, 9),
            Err(WholeTextError::Empty { min: 0, max: 9 })
        );
    }
}
