//! Numerical kernels for Blockspace: ndarray in, ndarray out, parallel with rayon.
//!
//! This crate knows nothing of blocks, pages or files. Its ops, for `f32` and `f64`, with
//! TensorFlow's answers and errors:
//! - [`conv3d()`] (`Conv3D`, the forward 3-D convolution), module [`mod@conv3d`], oracle
//!   [`conv3d::reference::conv3d`];
//! - [`conv3d_backprop_input_v2`] (`Conv3DBackpropInputV2`, the gradient with respect to the
//!   input), module [`conv3d_backprop_input`], oracle [`mod@reference`];
//! - [`conv3d_backprop_filter_v2`] (`Conv3DBackpropFilterV2`, the gradient with respect to the
//!   filter), module [`conv3d_backprop_filter`], oracle [`conv3d_backprop_filter::reference`];
//! - [`binary`] (`AddV2`, `Sub`, `Mul` with NumPy broadcasting), [`abs`] (`Abs`) and [`reduce`]
//!   (`Sum`, `Max`), module [`math`].
//!
//! The convolutions take a [`Conv3dAttrs`] (`strides`, `padding`, `data_format`, `dilations`)
//! and validate into a params struct ([`Conv3dParams`], [`Conv3dBackpropInputParams`],
//! [`Conv3dBackpropFilterParams`]).
//!
//! # Shapes
//! NDHWC: `input = [N, D, H, W, IC]` (`Conv3D`'s and `Conv3DBackpropFilterV2`'s operand,
//! `Conv3DBackpropInputV2`'s `input_sizes` and output), `filter = [KD, KH, KW, IC, OC]` (also
//! `Conv3DBackpropFilterV2`'s `filter_sizes` and output, in both layouts), `out_backprop` and
//! `Conv3D`'s output `[N, OD, OH, OW, OC]`. NCDHW moves the channel axis of every tensor but the
//! filter to index 1.
//!
//! # Errors
//! Every validation rule of TensorFlow's stock CPU kernel, in its order, as a [`KernelError`]
//! whose `Display` is TensorFlow's text; buffers beyond a [`MemoryLimit`] are refused up front;
//! a [`CancelToken`] stops a call between rows (between chunks of positions for the filter
//! gradient).
//!
//! # Example
//! ```
//! use blockspace_kernels::{conv3d_backprop_input_v2, Conv3dBackpropInputAttrs, KernelContext, Padding};
//! use ndarray::{arr1, ArrayD, IxDyn};
//!
//! // A 3x3x3 filter, stride 2, SAME: a U-Net style upsampling from 2^3 to 4^3.
//! let attrs = Conv3dBackpropInputAttrs { strides: vec![1, 2, 2, 2, 1], padding: Padding::Same, ..Default::default() };
//! let dx = conv3d_backprop_input_v2(
//!     arr1(&[1i64, 4, 4, 4, 1]).into_dyn().view(),
//!     ArrayD::<f64>::ones(IxDyn(&[3, 3, 3, 1, 2])).view(),
//!     ArrayD::<f64>::ones(IxDyn(&[1, 2, 2, 2, 2])).view(),
//!     &attrs,
//!     &KernelContext::default(),
//! )?;
//! assert_eq!(dx.shape(), &[1, 4, 4, 4, 1]);
//! # Ok::<(), blockspace_kernels::KernelError>(())
//! ```

pub mod bench;
mod context;
pub mod conv3d;
pub mod conv3d_backprop_filter;
pub mod conv3d_backprop_input;
mod correlation;
mod element;
mod error;
pub mod math;
mod simd;
mod tiling;

pub use context::{CancelToken, KernelContext, MemoryLedger, MemoryLimit, ProgressFn, Reservation};
pub use conv3d::{Conv3dParams, conv3d, conv3d_on_path, conv3d_with_params};
pub use conv3d_backprop_filter::{
    Conv3dBackpropFilterParams, conv3d_backprop_filter_v2, conv3d_backprop_filter_v2_on_path,
    conv3d_backprop_filter_v2_with_params,
};
pub use conv3d_backprop_input::{
    Conv3dAttrs, Conv3dBackpropInputAttrs, Conv3dBackpropInputParams, DataFormat, Padding,
    conv3d_backprop_input_v2, conv3d_backprop_input_v2_on_path,
    conv3d_backprop_input_v2_with_params, reference,
};
pub use element::Element;
pub use error::KernelError;
pub use math::{
    BinaryOp, ReduceOp, ReduceParams, abs, binary, broadcast_shape, reduce, reduce_with_params,
};
#[doc(hidden)]
pub use simd::KernelPath;
