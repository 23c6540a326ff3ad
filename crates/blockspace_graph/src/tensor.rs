//! Tensors that flow along wires: dtype, shape, values and statistics (`.npy` reading and
//! writing: [`crate::npy`]).

use ndarray::{ArrayD, IxDyn};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Element type of a tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum DType {
    /// 32-bit signed integer.
    Int32,
    /// 64-bit signed integer.
    Int64,
    /// 32-bit IEEE float.
    Float32,
    /// 64-bit IEEE float.
    Float64,
}

impl DType {
    /// All dtypes, in a fixed order.
    pub const ALL: [DType; 4] = [DType::Int32, DType::Int64, DType::Float32, DType::Float64];
    /// The text used in files and messages: `"int32"`, `"int64"`, `"float32"`, `"float64"`.
    pub fn as_str(self) -> &'static str {
        match self {
            DType::Int32 => "int32",
            DType::Int64 => "int64",
            DType::Float32 => "float32",
            DType::Float64 => "float64",
        }
    }
    /// Bytes per element.
    pub fn size_of(self) -> u64 {
        match self {
            DType::Int32 | DType::Float32 => 4,
            DType::Int64 | DType::Float64 => 8,
        }
    }
    /// Whether this is a float type.
    pub fn is_float(self) -> bool {
        matches!(self, DType::Float32 | DType::Float64)
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A dtype name that is not one of `int32`, `int64`, `float32`, `float64`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown dtype {0:?}; use one of \"int32\", \"int64\", \"float32\", \"float64\"")]
pub struct ParseDTypeError(pub String);

impl FromStr for DType {
    type Err = ParseDTypeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DType::ALL
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| ParseDTypeError(s.to_owned()))
    }
}

/// What checking knows about a tensor before anything runs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TensorMeta {
    /// Element type.
    pub dtype: DType,
    /// Shape (row-major dimensions).
    pub shape: Vec<usize>,
}

impl TensorMeta {
    /// Number of elements (saturating at `u64::MAX`).
    pub fn elements(&self) -> u64 {
        self.shape
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64))
            .unwrap_or(u64::MAX)
    }
}

impl fmt::Display for TensorMeta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:?}", self.dtype, self.shape)
    }
}

/// A tensor value.
#[derive(Debug, Clone, PartialEq)]
pub enum Tensor {
    /// int32 values.
    I32(ArrayD<i32>),
    /// int64 values.
    I64(ArrayD<i64>),
    /// float32 values.
    F32(ArrayD<f32>),
    /// float64 values.
    F64(ArrayD<f64>),
}

/// Summary statistics of a tensor. `min`, `max`, `mean` and `std` are over the finite values
/// (NaN when there are none); `std` is the population standard deviation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct TensorStats {
    /// Number of elements.
    pub count: usize,
    /// Smallest finite value.
    pub min: f64,
    /// Largest finite value.
    pub max: f64,
    /// Mean of the finite values.
    pub mean: f64,
    /// Population standard deviation of the finite values.
    pub std: f64,
    /// Number of NaN values.
    pub nan_count: usize,
    /// Number of infinite values.
    pub inf_count: usize,
}

impl TensorStats {
    /// Statistics of `values` (one pass for min/max/mean, a second for std); the viewer uses
    /// it for slices too.
    pub fn of_values<I: Iterator<Item = f64> + Clone>(it: I) -> TensorStats {
        let mut first = StatsPass::default();
        for v in it.clone() {
            first.add(v);
        }
        let Some(mean) = first.mean() else {
            return first.finish(0.0);
        };
        let dev2 = it
            .filter(|v| v.is_finite())
            .map(|v| (v - mean) * (v - mean))
            .sum::<f64>();
        first.finish(dev2)
    }
}

/// The first pass of [`TensorStats`]: counts, and the sum, min and max of the finite values.
/// The second pass sums `(v − mean)²` over the finite values and hands it to
/// [`StatsPass::finish`].
#[derive(Debug, Clone, Copy)]
pub struct StatsPass {
    finite: usize,
    sum: f64,
    min: f64,
    max: f64,
    nan: usize,
    inf: usize,
}

impl Default for StatsPass {
    fn default() -> Self {
        Self {
            finite: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            nan: 0,
            inf: 0,
        }
    }
}

impl StatsPass {
    /// Counts one value.
    #[inline]
    pub fn add(&mut self, v: f64) {
        if v.is_nan() {
            self.nan += 1;
        } else if v.is_infinite() {
            self.inf += 1;
        } else {
            self.finite += 1;
            self.sum += v;
            self.min = self.min.min(v);
            self.max = self.max.max(v);
        }
    }

    /// The mean of the finite values, `None` when there are none.
    #[must_use]
    pub fn mean(&self) -> Option<f64> {
        (self.finite > 0).then(|| self.sum / self.finite as f64)
    }

    /// The smallest and largest finite values (`+∞, −∞` when there are none).
    #[must_use]
    pub fn range(&self) -> (f64, f64) {
        (self.min, self.max)
    }

    /// The statistics, given `Σ (v − mean)²` over the finite values (NaN fields when there
    /// are no finite values).
    #[must_use]
    pub fn finish(&self, dev2: f64) -> TensorStats {
        let count = self.finite + self.nan + self.inf;
        let Some(mean) = self.mean() else {
            return TensorStats {
                count,
                min: f64::NAN,
                max: f64::NAN,
                mean: f64::NAN,
                std: f64::NAN,
                nan_count: self.nan,
                inf_count: self.inf,
            };
        };
        TensorStats {
            count,
            min: self.min,
            max: self.max,
            mean,
            std: (dev2 / self.finite as f64).sqrt(),
            nan_count: self.nan,
            inf_count: self.inf,
        }
    }
}

impl Tensor {
    /// Element type.
    pub fn dtype(&self) -> DType {
        match self {
            Tensor::I32(_) => DType::Int32,
            Tensor::I64(_) => DType::Int64,
            Tensor::F32(_) => DType::Float32,
            Tensor::F64(_) => DType::Float64,
        }
    }
    /// Shape.
    pub fn shape(&self) -> &[usize] {
        match self {
            Tensor::I32(a) => a.shape(),
            Tensor::I64(a) => a.shape(),
            Tensor::F32(a) => a.shape(),
            Tensor::F64(a) => a.shape(),
        }
    }
    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            Tensor::I32(a) => a.len(),
            Tensor::I64(a) => a.len(),
            Tensor::F32(a) => a.len(),
            Tensor::F64(a) => a.len(),
        }
    }
    /// Bytes of its elements.
    pub fn nbytes(&self) -> u64 {
        (self.len() as u64).saturating_mul(self.dtype().size_of())
    }
    /// Whether the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Dtype and shape.
    pub fn meta(&self) -> TensorMeta {
        TensorMeta {
            dtype: self.dtype(),
            shape: self.shape().to_vec(),
        }
    }
    /// All values as `f64` (for viewing; int64 beyond 2^53 loses precision).
    pub fn to_f64(&self) -> ArrayD<f64> {
        match self {
            Tensor::I32(a) => a.mapv(f64::from),
            Tensor::I64(a) => a.mapv(|v| v as f64),
            Tensor::F32(a) => a.mapv(f64::from),
            Tensor::F64(a) => a.clone(),
        }
    }
    /// Integer values as `i64`, or `None` for float tensors.
    pub fn to_i64(&self) -> Option<ArrayD<i64>> {
        match self {
            Tensor::I32(a) => Some(a.mapv(i64::from)),
            Tensor::I64(a) => Some(a.clone()),
            Tensor::F32(_) | Tensor::F64(_) => None,
        }
    }
    /// Summary statistics (one pass for min/max/mean, a second for std).
    pub fn stats(&self) -> TensorStats {
        match self {
            Tensor::I32(a) => TensorStats::of_values(a.iter().map(|&v| f64::from(v))),
            Tensor::I64(a) => TensorStats::of_values(a.iter().map(|&v| v as f64)),
            Tensor::F32(a) => TensorStats::of_values(a.iter().map(|&v| f64::from(v))),
            Tensor::F64(a) => TensorStats::of_values(a.iter().copied()),
        }
    }
    /// A tensor of zeros.
    pub fn zeros(dtype: DType, shape: &[usize]) -> Tensor {
        let s = IxDyn(shape);
        match dtype {
            DType::Int32 => Tensor::I32(ArrayD::zeros(s)),
            DType::Int64 => Tensor::I64(ArrayD::zeros(s)),
            DType::Float32 => Tensor::F32(ArrayD::zeros(s)),
            DType::Float64 => Tensor::F64(ArrayD::zeros(s)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtype_text_round_trips() {
        for d in DType::ALL {
            assert_eq!(d.as_str().parse::<DType>(), Ok(d));
        }
        assert!("float16".parse::<DType>().is_err());
    }

    #[test]
    fn stats_skip_non_finite() {
        let t = Tensor::F64(
            ArrayD::from_shape_vec(IxDyn(&[5]), vec![1.0, 3.0, f64::NAN, f64::INFINITY, 2.0])
                .unwrap(),
        );
        let s = t.stats();
        assert_eq!(s.count, 5);
        assert_eq!((s.min, s.max, s.mean), (1.0, 3.0, 2.0));
        assert!((s.std - (2.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert_eq!((s.nan_count, s.inf_count), (1, 1));
        let empty = Tensor::zeros(DType::Int32, &[0]).stats();
        assert!(empty.mean.is_nan());
    }
}
