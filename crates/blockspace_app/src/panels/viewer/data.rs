//! What the viewer looks at: a result tensor read in its own dtype (no `f64` copy of the whole
//! tensor), or the element-wise difference of two tensors of the same shape (compare mode).
//!
//! Values are read through [`Volume::iter_fixed`] (every element of the sub-array left when some
//! axes are fixed, in C order, as `f64` one at a time) and [`Volume::value`] (one element).
//! Tensors of rank 0 and 1 are seen as rank 2 (`[1, 1]`, `[1, n]`), so every view has rows and
//! columns.

use std::sync::Arc;

use blockspace_graph::{DType, Outputs, Tensor};
use ndarray::{ArrayD, ArrayViewD, Axis, IxDyn};

/// One output of a block's result, shared with the executor (never copied).
#[derive(Clone, Debug)]
pub struct TensorRef {
    outputs: Arc<Outputs>,
    index: usize,
}

impl TensorRef {
    /// Output `index` of `outputs`, or `None` when there is no such output.
    #[must_use]
    pub fn new(outputs: Arc<Outputs>, index: usize) -> Option<Self> {
        (index < outputs.len()).then_some(Self { outputs, index })
    }

    /// A single tensor (a `.npy` reference, tests).
    #[must_use]
    pub fn single(t: Tensor) -> Self {
        Self {
            outputs: Arc::new(Outputs::new(vec![t])),
            index: 0,
        }
    }

    /// The tensor.
    #[must_use]
    pub fn tensor(&self) -> &Tensor {
        // `new` checked the index and the vector is never changed.
        &self.outputs[self.index]
    }

    /// An identity for keys: the allocation's address and the output index.
    #[must_use]
    pub fn id(&self) -> (usize, usize) {
        (Arc::as_ptr(&self.outputs) as usize, self.index)
    }

    /// Whether both refer to the same allocation and output.
    #[must_use]
    pub fn same(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.outputs, &other.outputs) && self.index == other.index
    }
}

/// The tensor the views show: `a`, or `a − b` when `b` is set.
#[derive(Clone, Debug)]
pub struct Volume {
    /// Changes whenever what is shown changes (tensor, reference, difference on/off).
    pub key: u64,
    a: TensorRef,
    b: Option<TensorRef>,
    /// The shape seen by the views (rank ≥ 2).
    shape: Vec<usize>,
    /// Leading axes of length 1 added to reach rank 2.
    pad: usize,
    /// One name per axis of `shape`.
    names: Vec<String>,
}

/// A reference could not be compared with the result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the reference has shape {reference:?} but the result has shape {result:?}; pick a \
     reference of the same shape"
)]
pub struct ShapeMismatch {
    /// The result's shape.
    pub result: Vec<usize>,
    /// The reference's shape.
    pub reference: Vec<usize>,
}

impl Volume {
    /// The view of `a`, its axes named `names` (one per axis of the tensor, else `dim0…`).
    #[must_use]
    pub fn new(key: u64, a: TensorRef, names: &[String]) -> Self {
        let shape0 = a.tensor().shape().to_vec();
        let pad = 2usize.saturating_sub(shape0.len());
        let mut shape = vec![1; pad];
        shape.extend_from_slice(&shape0);
        let mut all = Vec::with_capacity(shape.len());
        all.extend((0..pad).map(|i| if i + 1 == pad { "row" } else { "-" }.to_owned()));
        if names.len() == shape0.len() {
            all.extend(names.iter().cloned());
        } else {
            all.extend((0..shape0.len()).map(|i| format!("dim{i}")));
        }
        Self {
            key,
            a,
            b: None,
            shape,
            pad,
            names: all,
        }
    }

    /// `a − b`, refused when the shapes differ.
    pub fn minus(&self, b: TensorRef, key: u64) -> Result<Self, ShapeMismatch> {
        if b.tensor().shape() != self.a.tensor().shape() {
            return Err(ShapeMismatch {
                result: self.a.tensor().shape().to_vec(),
                reference: b.tensor().shape().to_vec(),
            });
        }
        Ok(Self {
            key,
            b: Some(b),
            ..self.clone()
        })
    }

    /// The shown tensor without the difference.
    #[must_use]
    pub fn a(&self) -> &TensorRef {
        &self.a
    }

    /// The reference subtracted, if any.
    #[must_use]
    pub fn b(&self) -> Option<&TensorRef> {
        self.b.as_ref()
    }

    /// The shape the views see (rank ≥ 2).
    #[must_use]
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The axis names (one per axis of [`Self::shape`]).
    #[must_use]
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Leading axes added to reach rank 2.
    #[must_use]
    pub fn pad(&self) -> usize {
        self.pad
    }

    /// Number of elements.
    #[must_use]
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether there are no elements.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The element type of `a`, e.g. `"float32"`.
    #[must_use]
    pub fn dtype(&self) -> DType {
        self.a.tensor().dtype()
    }

    /// The shown value at `idx` (an index into [`Self::shape`]); NaN when out of range.
    #[must_use]
    pub fn value(&self, idx: &[usize]) -> f64 {
        let a = self.a_value(idx);
        match &self.b {
            Some(b) => a - element(b.tensor(), &idx[self.pad.min(idx.len())..]),
            None => a,
        }
    }

    /// The value of `a` at `idx`.
    #[must_use]
    pub fn a_value(&self, idx: &[usize]) -> f64 {
        element(self.a.tensor(), &idx[self.pad.min(idx.len())..])
    }

    /// The value of `b` at `idx` (NaN without a reference).
    #[must_use]
    pub fn b_value(&self, idx: &[usize]) -> f64 {
        self.b.as_ref().map_or(f64::NAN, |b| {
            element(b.tensor(), &idx[self.pad.min(idx.len())..])
        })
    }

    /// Every shown value of the sub-array where axis `k` is fixed at `fixed[k]` (when `Some`),
    /// in C order of the remaining axes. An index out of range gives nothing.
    #[must_use]
    pub fn iter_fixed(&self, fixed: &[Option<usize>]) -> Box<dyn Iterator<Item = f64> + '_> {
        let a = self.iter_of(self.a.tensor(), fixed);
        match &self.b {
            Some(b) => Box::new(a.zip(self.iter_of(b.tensor(), fixed)).map(|(x, y)| x - y)),
            None => a,
        }
    }

    /// Every value of `a` (ignoring `b`) with these axes fixed.
    #[must_use]
    pub fn iter_a(&self, fixed: &[Option<usize>]) -> Box<dyn Iterator<Item = f64> + '_> {
        self.iter_of(self.a.tensor(), fixed)
    }

    /// Every value of `b` with these axes fixed (nothing without a reference).
    #[must_use]
    pub fn iter_b(&self, fixed: &[Option<usize>]) -> Box<dyn Iterator<Item = f64> + '_> {
        match &self.b {
            Some(b) => self.iter_of(b.tensor(), fixed),
            None => Box::new(std::iter::empty()),
        }
    }

    fn iter_of<'a>(
        &self,
        t: &'a Tensor,
        fixed: &[Option<usize>],
    ) -> Box<dyn Iterator<Item = f64> + 'a> {
        let pad = self.pad;
        match t {
            Tensor::I32(a) => iter_view(a, pad, fixed, f64::from),
            #[expect(
                clippy::cast_precision_loss,
                reason = "viewing: int64 beyond 2^53 rounds"
            )]
            Tensor::I64(a) => iter_view(a, pad, fixed, |v| v as f64),
            Tensor::F32(a) => iter_view(a, pad, fixed, f64::from),
            Tensor::F64(a) => iter_view(a, pad, fixed, |v| v),
        }
    }
}

fn element(t: &Tensor, idx: &[usize]) -> f64 {
    let ix = IxDyn(idx);
    match t {
        Tensor::I32(a) => a.get(ix).map_or(f64::NAN, |&v| f64::from(v)),
        #[expect(
            clippy::cast_precision_loss,
            reason = "viewing: int64 beyond 2^53 rounds"
        )]
        Tensor::I64(a) => a.get(ix).map_or(f64::NAN, |&v| v as f64),
        Tensor::F32(a) => a.get(ix).map_or(f64::NAN, |&v| f64::from(v)),
        Tensor::F64(a) => a.get(ix).copied().unwrap_or(f64::NAN),
    }
}

fn iter_view<'a, T: Copy + 'a>(
    a: &'a ArrayD<T>,
    pad: usize,
    fixed: &[Option<usize>],
    f: fn(T) -> f64,
) -> Box<dyn Iterator<Item = f64> + 'a> {
    let mut v: ArrayViewD<'a, T> = a.view();
    for _ in 0..pad {
        v = v.insert_axis(Axis(0));
    }
    if fixed.len() != v.ndim() {
        return Box::new(std::iter::empty());
    }
    for (ax, i) in fixed.iter().enumerate().rev() {
        if let Some(i) = *i {
            if i >= v.len_of(Axis(ax)) {
                return Box::new(std::iter::empty());
            }
            v = v.index_axis_move(Axis(ax), i);
        }
    }
    if let Some(s) = v.to_slice() {
        // Contiguous (a whole tensor, or leading axes fixed): a plain slice walk.
        Box::new(s.iter().map(move |&x| f(x)))
    } else {
        Box::new(v.into_iter().map(move |&x| f(x)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(shape: &[usize]) -> Tensor {
        let n: usize = shape.iter().product();
        #[expect(clippy::cast_precision_loss, reason = "small")]
        Tensor::F32(
            ArrayD::from_shape_vec(IxDyn(shape), (0..n).map(|i| i as f32).collect()).unwrap(),
        )
    }

    #[test]
    fn fixed_axes_walk_the_sub_array_in_c_order() {
        let v = Volume::new(1, TensorRef::single(ramp(&[2, 3, 4])), &[]);
        let got: Vec<f64> = v.iter_fixed(&[Some(1), None, Some(2)]).collect();
        assert_eq!(got, vec![14.0, 18.0, 22.0]);
        assert_eq!(v.value(&[1, 2, 3]), 23.0);
        assert!(v.value(&[2, 0, 0]).is_nan(), "out of range reads NaN");
        assert_eq!(v.iter_fixed(&[Some(5), None, None]).count(), 0);
    }

    #[test]
    fn rank_one_is_seen_as_one_row() {
        let v = Volume::new(1, TensorRef::single(ramp(&[5])), &["x".to_owned()]);
        assert_eq!(v.shape(), &[1, 5]);
        assert_eq!(v.names(), &["row".to_owned(), "x".to_owned()]);
        assert_eq!(v.value(&[0, 4]), 4.0);
        assert_eq!(v.iter_fixed(&[Some(0), None]).count(), 5);
    }

    #[test]
    fn difference_of_two_tensors() {
        let a = TensorRef::single(ramp(&[2, 2]));
        let b = TensorRef::single(Tensor::F64(
            ArrayD::from_shape_vec(IxDyn(&[2, 2]), vec![0.0, 0.5, 2.0, 4.0]).unwrap(),
        ));
        let v = Volume::new(1, a, &[]).minus(b, 2).unwrap();
        let d: Vec<f64> = v.iter_fixed(&[None, None]).collect();
        assert_eq!(d, vec![0.0, 0.5, 0.0, -1.0]);
        assert_eq!(v.value(&[1, 1]), -1.0);
        let other = TensorRef::single(ramp(&[4]));
        let err = Volume::new(1, TensorRef::single(ramp(&[2, 2])), &[])
            .minus(other, 3)
            .unwrap_err();
        assert!(err.to_string().contains("[4]"), "{err}");
    }
}
