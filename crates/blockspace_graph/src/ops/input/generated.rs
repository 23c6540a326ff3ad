//! The generated modes of `Input`: `fill`, `range`, and the seeded `uniform` and `normal`
//! distributions (ChaCha8 keyed by the seed, Box-Muller with `libm`; see the module docs of
//! [`super`]).

use super::{EvalCtx, MODES, OpError, attr_f64, attr_i64};
use crate::tensor::{DType, Tensor};
use crate::value::{AttrValue, Attrs};
use ndarray::{ArrayD, IxDyn};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};

pub(super) fn check_mode_params(mode: &str, attrs: &Attrs, dtype: DType) -> Result<(), OpError> {
    let whole = |name: &str| -> Result<f64, OpError> {
        let v = attr_f64(attrs, name)?;
        if !dtype.is_float() && v.fract() != 0.0 {
            return Err(OpError::attr(
                name,
                format!(
                    "{v} is not a whole number, but dtype is {dtype}; use a whole number or a float dtype"
                ),
            ));
        }
        Ok(v)
    };
    match mode {
        "fill" => {
            whole("value")?;
            match dtype {
                DType::Int32 => exact::<i32>(attrs, "value", dtype).map(|_| ()),
                DType::Int64 => exact::<i64>(attrs, "value", dtype).map(|_| ()),
                _ => Ok(()),
            }
        }
        "range" => {
            whole("start")?;
            whole("step")?;
            Ok(())
        }
        "uniform" => {
            let (low, high) = (whole("low")?, whole("high")?);
            if low >= high && !(dtype.is_float() && low == high) {
                return Err(OpError::attr(
                    "high",
                    format!(
                        "high ({high}) must be greater than low ({low}); raise high or lower low"
                    ),
                ));
            }
            attr_i64(attrs, "seed")?;
            Ok(())
        }
        "normal" => {
            if !dtype.is_float() {
                return Err(OpError::attr(
                    "dtype",
                    format!(
                        "normal random values need a float dtype, not {dtype}; set dtype to float32 or float64"
                    ),
                ));
            }
            attr_f64(attrs, "mean")?;
            let std = attr_f64(attrs, "std")?;
            if std < 0.0 {
                return Err(OpError::attr(
                    "std",
                    format!("{std} is negative; use a value >= 0"),
                ));
            }
            attr_i64(attrs, "seed")?;
            Ok(())
        }
        other => Err(OpError::attr(
            "mode",
            format!(
                "{other:?} is not a mode; use one of {}",
                super::super::quoted_list(MODES)
            ),
        )),
    }
}

/// `v` (a whole number) as an integer of `dtype`, exactly: through `i128`, so `2^63` is refused
/// for int64 instead of saturating to `i64::MAX`.
fn whole_as<T: TryFrom<i128>>(v: f64, dtype: DType, attr: &str) -> Result<T, OpError> {
    // Whole f64 values below 2^127 in magnitude convert to i128 exactly.
    let i = (v.abs() < 1.7e38).then_some(v as i128);
    i.and_then(|i| T::try_from(i).ok()).ok_or_else(|| {
        OpError::attr(
            attr,
            format!("{v} does not fit in {dtype}; use a smaller value or int64"),
        )
    })
}

/// The whole-number attribute `name` as an integer of `dtype`, exactly: an `Int` (a whole
/// number as the page file or the command gave it) converts without passing through f64, so an
/// int64 fill of 2^53 + 1 stays 2^53 + 1; a whole `Float` converts by [`whole_as`].
fn exact<T: TryFrom<i128>>(attrs: &Attrs, name: &str, dtype: DType) -> Result<T, OpError> {
    match attrs.get(name) {
        Some(AttrValue::Int(i)) => T::try_from(i128::from(*i)).map_err(|_| {
            OpError::attr(
                name,
                format!("{i} does not fit in {dtype}; use a smaller value or int64"),
            )
        }),
        _ => whole_as(attr_f64(attrs, name)?, dtype, name),
    }
}

/// Checks for cancellation every 2^20 elements.
fn every_mib(i: usize, ctx: &EvalCtx<'_>) -> Result<(), OpError> {
    if i.is_multiple_of(1 << 20) && ctx.kernel.cancel.is_cancelled() {
        return Err(OpError::cancelled());
    }
    Ok(())
}

/// Generates the values of a float `dtype` directly as `T` (`to` rounds each f64 once): no
/// staging buffer, so a fill takes only its output's memory.
fn floats<T: Clone>(
    mode: &str,
    attrs: &Attrs,
    n: usize,
    ctx: &EvalCtx<'_>,
    to: fn(f64) -> T,
) -> Result<Vec<T>, OpError> {
    let mut values = Vec::with_capacity(n);
    match mode {
        "fill" => values.resize(n, to(attr_f64(attrs, "value")?)),
        "range" => {
            let (start, step) = (attr_f64(attrs, "start")?, attr_f64(attrs, "step")?);
            for i in 0..n {
                every_mib(i, ctx)?;
                values.push(to(start + step * i as f64));
            }
        }
        "uniform" => {
            let (low, high) = (attr_f64(attrs, "low")?, attr_f64(attrs, "high")?);
            let mut rng = seeded(attr_i64(attrs, "seed")?);
            for i in 0..n {
                every_mib(i, ctx)?;
                values.push(to(low + unit(&mut rng) * (high - low)));
            }
        }
        "normal" => {
            let (mean, std) = (attr_f64(attrs, "mean")?, attr_f64(attrs, "std")?);
            let mut rng = seeded(attr_i64(attrs, "seed")?);
            while values.len() < n {
                every_mib(values.len(), ctx)?;
                let (z0, z1) = box_muller(&mut rng);
                values.push(to(mean + std * z0));
                if values.len() < n {
                    values.push(to(mean + std * z1));
                }
            }
        }
        _ => return Err(not_generated(mode)),
    }
    Ok(values)
}

/// Generates the values of an integer `dtype` directly as `T`, exactly: a range is computed in
/// `i128` (`start + step * i`), so int64 ranges above 2^53 are exact, and every value is
/// checked to fit.
fn ints<T: TryFrom<i128> + Clone>(
    mode: &str,
    attrs: &Attrs,
    dtype: DType,
    n: usize,
    ctx: &EvalCtx<'_>,
) -> Result<Vec<T>, OpError> {
    let at = |i: usize, e: OpError| {
        let mut e = e;
        e.message = format!("element {i}: {}", e.message);
        e
    };
    let mut values = Vec::with_capacity(n);
    match mode {
        "fill" => values.resize(n, exact::<T>(attrs, "value", dtype)?),
        "range" => {
            let start: i128 = exact(attrs, "start", dtype)?;
            let step: i128 = exact(attrs, "step", dtype)?;
            for i in 0..n {
                every_mib(i, ctx)?;
                let v = step
                    .checked_mul(i as i128)
                    .and_then(|d| d.checked_add(start))
                    .and_then(|v| T::try_from(v).ok())
                    .ok_or_else(|| {
                        at(
                            i,
                            OpError::attr(
                                "step",
                                format!(
                                    "{start} + {step}·{i} does not fit in {dtype}; use a smaller step, fewer elements or int64"
                                ),
                            ),
                        )
                    })?;
                values.push(v);
            }
        }
        "uniform" => {
            let (low, high) = (attr_f64(attrs, "low")?, attr_f64(attrs, "high")?);
            let mut rng = seeded(attr_i64(attrs, "seed")?);
            for i in 0..n {
                every_mib(i, ctx)?;
                let v = (low + unit(&mut rng) * (high - low))
                    .floor()
                    .min(high - 1.0);
                values.push(whole_as(v, dtype, "value").map_err(|e| at(i, e))?);
            }
        }
        "normal" => {
            return Err(OpError::attr(
                "dtype",
                format!(
                    "normal random values need a float dtype, not {dtype}; set dtype to float32 or float64"
                ),
            ));
        }
        _ => return Err(not_generated(mode)),
    }
    Ok(values)
}

fn not_generated(mode: &str) -> OpError {
    let shown: String = mode.chars().take(80).collect();
    OpError::attr("mode", format!("{shown:?} does not generate values"))
}

/// The values of a generated mode, written in `dtype` directly (see [`floats`], [`ints`]).
pub(super) fn generate(
    mode: &str,
    attrs: &Attrs,
    dtype: DType,
    shape: &[usize],
    n: usize,
    ctx: &EvalCtx<'_>,
) -> Result<Tensor, OpError> {
    let s = IxDyn(shape);
    let shape_err = |e: ndarray::ShapeError| OpError::attr("shape", format!("{shape:?}: {e}"));
    Ok(match dtype {
        DType::Float32 => Tensor::F32(
            ArrayD::from_shape_vec(s, floats(mode, attrs, n, ctx, |v| v as f32)?)
                .map_err(shape_err)?,
        ),
        DType::Float64 => Tensor::F64(
            ArrayD::from_shape_vec(s, floats(mode, attrs, n, ctx, |v| v)?).map_err(shape_err)?,
        ),
        DType::Int32 => Tensor::I32(
            ArrayD::from_shape_vec(s, ints(mode, attrs, dtype, n, ctx)?).map_err(shape_err)?,
        ),
        DType::Int64 => Tensor::I64(
            ArrayD::from_shape_vec(s, ints(mode, attrs, dtype, n, ctx)?).map_err(shape_err)?,
        ),
    })
}

/// ChaCha8 keyed by the seed's little-endian bytes (portable and documented).
fn seeded(seed: i64) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    ChaCha8Rng::from_seed(key)
}

/// A uniform number in `[0, 1)` with 53 random bits.
fn unit(rng: &mut ChaCha8Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Two independent standard normal numbers (Box-Muller, libm for portability).
fn box_muller(rng: &mut ChaCha8Rng) -> (f64, f64) {
    let u1 = 1.0 - unit(rng); // (0, 1]
    let u2 = unit(rng);
    let r = libm::sqrt(-2.0 * libm::log(u1));
    let theta = 2.0 * std::f64::consts::PI * u2;
    (r * libm::cos(theta), r * libm::sin(theta))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{attrs, run, s};
    use super::*;
    use crate::value::AttrValue;
    use ndarray::{ArrayD, IxDyn};

    #[test]
    fn fill_range_and_int_literals() {
        let a = attrs(&[
            ("mode", s("fill")),
            ("value", AttrValue::Float(2.5)),
            ("shape", AttrValue::IntList(vec![2, 2])),
        ]);
        assert_eq!(
            run(&a).unwrap(),
            Tensor::F32(ArrayD::from_elem(IxDyn(&[2, 2]), 2.5))
        );
        let a = attrs(&[
            ("mode", s("range")),
            ("dtype", s("int64")),
            ("start", AttrValue::Float(3.0)),
            ("step", AttrValue::Float(-1.0)),
            ("shape", AttrValue::IntList(vec![4])),
        ]);
        assert_eq!(
            run(&a)
                .unwrap()
                .to_i64()
                .unwrap()
                .into_raw_vec_and_offset()
                .0,
            vec![3, 2, 1, 0]
        );
        let a = attrs(&[
            ("mode", s("range")),
            ("dtype", s("int32")),
            ("step", AttrValue::Float(0.5)),
        ]);
        assert_eq!(run(&a).unwrap_err().attr.as_deref(), Some("step"));
        let a = attrs(&[("dtype", s("int64")), ("values", s("9007199254740993"))]);
        assert_eq!(
            run(&a).unwrap().to_i64().unwrap()[[0]],
            9_007_199_254_740_993
        );
    }

    #[test]
    fn integer_generation_is_exact_above_2_pow_53() {
        let two60 = (1u64 << 60) as f64;
        let a = attrs(&[
            ("mode", s("range")),
            ("dtype", s("int64")),
            ("start", AttrValue::Float(two60)),
            ("step", AttrValue::Float(1.0)),
            ("shape", AttrValue::IntList(vec![3])),
        ]);
        let got = run(&a)
            .unwrap()
            .to_i64()
            .unwrap()
            .into_raw_vec_and_offset()
            .0;
        assert_eq!(got, vec![1 << 60, (1 << 60) + 1, (1 << 60) + 2]);
        // 2^63 does not fit int64 (it used to saturate to i64::MAX silently).
        let a = attrs(&[
            ("mode", s("fill")),
            ("dtype", s("int64")),
            ("value", AttrValue::Float(9_223_372_036_854_775_808.0)),
        ]);
        let e = run(&a).unwrap_err();
        assert!(
            e.attr.as_deref() == Some("value") && e.message.contains("does not fit"),
            "{e:?}"
        );
        let a = attrs(&[
            ("mode", s("fill")),
            ("dtype", s("int64")),
            ("value", AttrValue::Float(-9_223_372_036_854_775_808.0)),
        ]);
        let t = run(&a).unwrap().to_i64().unwrap();
        assert_eq!(t.iter().copied().collect::<Vec<_>>(), vec![i64::MIN]);
        // A range that leaves int32 part way says where.
        let a = attrs(&[
            ("mode", s("range")),
            ("dtype", s("int32")),
            ("start", AttrValue::Float(2_147_483_646.0)),
            ("step", AttrValue::Float(1.0)),
            ("shape", AttrValue::IntList(vec![4])),
        ]);
        let e = run(&a).unwrap_err();
        assert!(
            e.message.starts_with("element 2:") && e.attr.as_deref() == Some("step"),
            "{e:?}"
        );
    }

    #[test]
    fn whole_number_attributes_are_exact_for_integer_dtypes() {
        let big = 9_007_199_254_740_993; // 2^53 + 1: not a float64
        let fill = |dtype: &str, v: AttrValue| {
            attrs(&[
                ("mode", s("fill")),
                ("dtype", s(dtype)),
                ("value", v),
                ("shape", AttrValue::IntList(vec![2])),
            ])
        };
        let t = run(&fill("int64", AttrValue::Int(big))).unwrap();
        assert_eq!(t.to_i64().unwrap().into_raw_vec_and_offset().0, [big, big]);
        let t = run(&fill("int64", AttrValue::Int(i64::MAX))).unwrap();
        assert_eq!(t.to_i64().unwrap()[[1]], i64::MAX);
        let e = run(&fill("int32", AttrValue::Int(1 << 31))).unwrap_err();
        assert!(
            e.attr.as_deref() == Some("value") && e.message.contains("2147483648 does not fit"),
            "{e:?}"
        );
        // Float dtypes take the integer's nearest float, as before.
        let t = run(&fill("float64", AttrValue::Int(big))).unwrap();
        assert_eq!(t, Tensor::F64(ArrayD::from_elem(IxDyn(&[2]), big as f64)));
        let a = attrs(&[
            ("mode", s("range")),
            ("dtype", s("int64")),
            ("start", AttrValue::Int(big)),
            ("step", AttrValue::Int(-2)),
            ("shape", AttrValue::IntList(vec![3])),
        ]);
        let got = run(&a)
            .unwrap()
            .to_i64()
            .unwrap()
            .into_raw_vec_and_offset()
            .0;
        assert_eq!(got, [big, big - 2, big - 4]);
    }

    #[test]
    fn random_is_seeded_and_portable() {
        let a = attrs(&[
            ("mode", s("uniform")),
            ("dtype", s("float64")),
            ("shape", AttrValue::IntList(vec![3])),
            ("seed", AttrValue::Int(42)),
        ]);
        let t1 = run(&a).unwrap();
        assert_eq!(t1, run(&a).unwrap());
        // Golden values: ChaCha8 keyed by the seed; any change here breaks saved pages.
        let Tensor::F64(v) = &t1 else { panic!() };
        let golden = {
            let mut rng = seeded(42);
            [unit(&mut rng), unit(&mut rng), unit(&mut rng)]
        };
        assert_eq!(v.as_slice().unwrap(), golden);
        let a2 = attrs(&[
            ("mode", s("uniform")),
            ("dtype", s("float64")),
            ("shape", AttrValue::IntList(vec![3])),
            ("seed", AttrValue::Int(43)),
        ]);
        assert_ne!(t1, run(&a2).unwrap());
        let n = attrs(&[
            ("mode", s("normal")),
            ("dtype", s("float64")),
            ("shape", AttrValue::IntList(vec![20000])),
            ("seed", AttrValue::Int(1)),
        ]);
        let st = run(&n).unwrap().stats();
        assert!(
            st.mean.abs() < 0.05 && (st.std - 1.0).abs() < 0.05,
            "{st:?}"
        );
        let ni = attrs(&[("mode", s("normal")), ("dtype", s("int32"))]);
        assert_eq!(run(&ni).unwrap_err().attr.as_deref(), Some("dtype"));
        let ui = attrs(&[
            ("mode", s("uniform")),
            ("dtype", s("int32")),
            ("low", AttrValue::Float(-2.0)),
            ("high", AttrValue::Float(3.0)),
            ("shape", AttrValue::IntList(vec![1000])),
        ]);
        let st = run(&ui).unwrap().stats();
        assert_eq!((st.min, st.max), (-2.0, 2.0));
    }

    #[test]
    fn first_uniform_values_are_pinned() {
        // Pins the portable generator across versions and machines.
        let mut rng = seeded(42);
        let got = [rng.next_u64(), rng.next_u64()];
        let mut n = seeded(7);
        let z = box_muller(&mut n);
        assert_eq!(got, [6_424_161_053_832_095_879, 5_270_208_426_312_333_099]);
        assert_eq!(
            (z.0.to_bits(), z.1.to_bits()),
            (13_833_530_709_996_013_361, 4_600_174_574_672_298_714)
        );
    }
}
