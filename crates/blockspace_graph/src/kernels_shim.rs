//! TEMPORARY stand-in for `blockspace_kernels` (removed once the kernel crate lands on main).
#![allow(missing_docs, dead_code, clippy::allow_attributes)]

use ndarray::{ArrayD, ArrayViewD};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Padding {
    Same,
    Valid,
}
impl std::str::FromStr for Padding {
    type Err = KernelError;
    fn from_str(s: &str) -> Result<Self, KernelError> {
        match s {
            "SAME" => Ok(Self::Same),
            "VALID" => Ok(Self::Valid),
            _ => Err(KernelError::Other(format!("bad padding {s:?}"))),
        }
    }
}
impl Padding {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Same => "SAME",
            Self::Valid => "VALID",
        }
    }
}
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataFormat {
    Ndhwc,
    Ncdhw,
}
impl std::str::FromStr for DataFormat {
    type Err = KernelError;
    fn from_str(s: &str) -> Result<Self, KernelError> {
        match s {
            "NDHWC" => Ok(Self::Ndhwc),
            "NCDHW" => Ok(Self::Ncdhw),
            _ => Err(KernelError::Other(format!("bad data_format {s:?}"))),
        }
    }
}
impl DataFormat {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Ndhwc => "NDHWC",
            Self::Ncdhw => "NCDHW",
        }
    }
}
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conv3dBackpropInputAttrs {
    pub strides: Vec<i64>,
    pub padding: Padding,
    pub data_format: DataFormat,
    pub dilations: Vec<i64>,
}
impl Default for Conv3dBackpropInputAttrs {
    fn default() -> Self {
        Self {
            strides: vec![1; 5],
            padding: Padding::Same,
            data_format: DataFormat::Ndhwc,
            dilations: vec![1; 5],
        }
    }
}
pub trait Element: Copy + Send + Sync + 'static + num_traits_like::Zero {}
mod num_traits_like {
    pub trait Zero {
        fn zero() -> Self;
    }
    impl Zero for f32 {
        fn zero() -> Self {
            0.0
        }
    }
    impl Zero for f64 {
        fn zero() -> Self {
            0.0
        }
    }
}
impl Element for f32 {}
impl Element for f64 {}
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);
impl CancelToken {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst)
    }
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}
#[derive(Debug, Clone, Copy)]
pub struct MemoryLimit {
    pub max_bytes: u64,
}
impl Default for MemoryLimit {
    fn default() -> Self {
        Self { max_bytes: 4 << 30 }
    }
}
impl MemoryLimit {
    pub fn check(
        &self,
        what: &'static str,
        elements: u64,
        elem_size: u64,
    ) -> Result<(), KernelError> {
        match elements.checked_mul(elem_size) {
            Some(b) if b <= self.max_bytes => Ok(()),
            _ => Err(KernelError::TooLarge {
                what,
                elements,
                limit: self.max_bytes,
            }),
        }
    }
}
#[derive(Clone, Default)]
pub struct KernelContext {
    pub limit: MemoryLimit,
    pub cancel: CancelToken,
    pub progress: Option<Arc<dyn Fn(f64) + Send + Sync>>,
}
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    #[error("{what} would need {elements} elements, more than the limit of {limit} bytes")]
    TooLarge {
        what: &'static str,
        elements: u64,
        limit: u64,
    },
    #[error("cancelled")]
    Cancelled,
    #[error("{0}")]
    Other(String),
}
#[derive(Debug, Clone)]
pub struct Conv3dBackpropInputParams {
    out: Vec<usize>,
}
impl Conv3dBackpropInputParams {
    pub fn new(
        input_sizes_shape: &[usize],
        input_sizes: &[i64],
        filter_shape: &[usize],
        out_backprop_shape: &[usize],
        attrs: &Conv3dBackpropInputAttrs,
    ) -> Result<Self, KernelError> {
        if attrs.strides.len() != 5 {
            return Err(KernelError::Other(
                "Sliding window strides field must specify 5 dimensions".into(),
            ));
        }
        if input_sizes_shape.len() != 1 || input_sizes.len() != 5 {
            return Err(KernelError::Other(
                "input tensor must have 5 dimensions".into(),
            ));
        }
        if filter_shape.len() != 5 {
            return Err(KernelError::Other(
                "filter_sizes tensor must have 5 dimensions".into(),
            ));
        }
        if out_backprop_shape.len() != 5 {
            return Err(KernelError::Other(
                "out_backprop tensor must have 5 dimensions".into(),
            ));
        }
        let out: Vec<usize> = input_sizes.iter().map(|&v| v.max(0) as usize).collect();
        Ok(Self { out })
    }
    pub fn output_shape(&self) -> Vec<usize> {
        self.out.clone()
    }
}
pub fn conv3d_backprop_input_v2<T: Element>(
    input_sizes: ArrayViewD<'_, i64>,
    filter: ArrayViewD<'_, T>,
    out_backprop: ArrayViewD<'_, T>,
    attrs: &Conv3dBackpropInputAttrs,
    ctx: &KernelContext,
) -> Result<ArrayD<T>, KernelError> {
    let is: Vec<i64> = input_sizes.iter().copied().collect();
    let p = Conv3dBackpropInputParams::new(
        input_sizes.shape(),
        &is,
        filter.shape(),
        out_backprop.shape(),
        attrs,
    )?;
    if ctx.cancel.is_cancelled() {
        return Err(KernelError::Cancelled);
    }
    Ok(ArrayD::from_elem(p.output_shape(), T::zero()))
}
