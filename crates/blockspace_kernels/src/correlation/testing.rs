//! Test helpers for the Winograd adapters: deterministic data and the check against the
//! rounding bound of the [module docs](super).

use ndarray::{ArrayD, IxDyn};

use crate::simd::Isa;
use crate::{Element, KernelPath};

/// What values a test array holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Data {
    /// Integers in `[-3, 3]`: every transform and sum is exact.
    Ints,
    /// Standard normal values.
    Normal,
}

/// A deterministic array of `shape` (xorshift, Box–Muller for [`Data::Normal`]).
pub(crate) fn array<T: Element>(shape: &[usize], seed: u64, data: Data) -> ArrayD<T> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let len: usize = shape.iter().product();
    let values = (0..len)
        .map(|_| match data {
            Data::Ints => T::from_f64((next() % 7) as f64 - 3.0),
            Data::Normal => {
                let u1 = ((next() >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
                let u2 = (next() >> 11) as f64 / (1u64 << 53) as f64;
                T::from_f64((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos())
            }
        })
        .collect();
    ArrayD::from_shape_vec(IxDyn(shape), values).expect("shape and length agree")
}

/// `a` in `f64`, optionally as absolute values.
pub(crate) fn to_f64<T: Element>(a: &ArrayD<T>, abs: bool) -> ArrayD<f64> {
    a.mapv(|v| if abs { v.to_f64().abs() } else { v.to_f64() })
}

/// Checks `got` against `exact` (the definition evaluated in `f64` on the same values):
/// equal on [`Data::Ints`]; otherwise within `8·(K + 12)·u·scale` per element, `scale` being
/// `Σ_c (Σ_taps |w_c|)·(Σ_window |x_c|)` and `K` the reduction channels, plus (for `f64`,
/// whose reference rounds as much as the kernel) the reference's own `taps·K·u·scale`.
/// Returns the largest `|got − exact| / (u·scale)` seen.
fn check<T: Element>(
    got: &ArrayD<T>,
    exact: &ArrayD<f64>,
    scale: &ArrayD<f64>,
    (k, taps): (usize, usize),
    data: Data,
) -> f64 {
    assert_eq!(got.shape(), exact.shape());
    let f32 = std::mem::size_of::<T>() == 4;
    let u = if f32 { 2f64.powi(-24) } else { 2f64.powi(-53) };
    let reference = if f32 { 0.0 } else { (taps * k) as f64 };
    let allowed = 8.0 * (k as f64 + 12.0) + reference;
    let mut worst = 0.0f64;
    for ((g, e), s) in got.iter().zip(exact).zip(scale) {
        let err = (g.to_f64() - e).abs();
        if data == Data::Ints {
            assert_eq!(g.to_f64(), *e, "integer data must give the exact result");
        } else {
            assert!(
                err <= allowed * u * s,
                "error {err:e} beyond the bound {:e} (scale {s:e})",
                allowed * u * s
            );
        }
        if *s > 0.0 {
            worst = worst.max(err / (u * s));
        }
    }
    worst
}

/// Runs `kernel` on every microkernel path this CPU has and [`check`]s each result; returns
/// the largest error seen (in units of `u·scale`).
pub(crate) fn check_every_path<T: Element>(
    kernel: impl Fn(Isa) -> ArrayD<T>,
    (exact, scale): (&ArrayD<f64>, &ArrayD<f64>),
    (k, taps): (usize, usize),
    data: Data,
) -> f64 {
    KernelPath::ALL
        .into_iter()
        .filter_map(Isa::new)
        .map(|isa| check(&kernel(isa), exact, scale, (k, taps), data))
        .fold(0.0, f64::max)
}
