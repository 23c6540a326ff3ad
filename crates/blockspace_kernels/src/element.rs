//! The element types kernels accept.

use std::fmt::Debug;
use std::ops::{Add, AddAssign, Mul, Sub};

mod sealed {
    pub trait Sealed: crate::simd::SimdElement {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// A floating-point element type the kernels support: `f32` or `f64`.
///
/// Sealed: kernels are written and tested for exactly these two types.
pub trait Element:
    sealed::Sealed
    + Copy
    + Default
    + Debug
    + PartialEq
    + Send
    + Sync
    + Add<Output = Self>
    + Mul<Output = Self>
    + Sub<Output = Self>
    + AddAssign
    + PartialOrd
    + 'static
{
    /// Additive identity.
    const ZERO: Self;
    /// Negative infinity (the identity of `Max`: TensorFlow 2.21 gives it over an empty extent).
    const NEG_INFINITY: Self;
    /// TensorFlow's dtype name (`"float32"` or `"float64"`).
    const NAME: &'static str;
    /// Converts from `f64` (rounding for `f32`).
    fn from_f64(v: f64) -> Self;
    /// Converts to `f64` (exact).
    fn to_f64(self) -> f64;
    /// Absolute value (clears the sign bit: `-0` becomes `0`, NaN stays NaN).
    fn abs(self) -> Self;
    /// Whether the value is NaN.
    fn is_nan(self) -> bool;
}

impl Element for f32 {
    const ZERO: Self = 0.0;
    const NEG_INFINITY: Self = f32::NEG_INFINITY;
    const NAME: &'static str = "float32";
    #[expect(
        clippy::cast_possible_truncation,
        reason = "rounding to f32 is the intent"
    )]
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    fn abs(self) -> Self {
        f32::abs(self)
    }
    fn is_nan(self) -> bool {
        f32::is_nan(self)
    }
}

impl Element for f64 {
    const ZERO: Self = 0.0;
    const NEG_INFINITY: Self = f64::NEG_INFINITY;
    const NAME: &'static str = "float64";
    fn from_f64(v: f64) -> Self {
        v
    }
    fn to_f64(self) -> f64 {
        self
    }
    fn abs(self) -> Self {
        f64::abs(self)
    }
    fn is_nan(self) -> bool {
        f64::is_nan(self)
    }
}
