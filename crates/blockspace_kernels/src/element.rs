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
    + 'static
{
    /// Additive identity.
    const ZERO: Self;
    /// TensorFlow's dtype name (`"float32"` or `"float64"`).
    const NAME: &'static str;
    /// Converts from `f64` (rounding for `f32`).
    fn from_f64(v: f64) -> Self;
    /// Converts to `f64` (exact).
    fn to_f64(self) -> f64;
}

impl Element for f32 {
    const ZERO: Self = 0.0;
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
}

impl Element for f64 {
    const ZERO: Self = 0.0;
    const NAME: &'static str = "float64";
    fn from_f64(v: f64) -> Self {
        v
    }
    fn to_f64(self) -> f64 {
        self
    }
}
