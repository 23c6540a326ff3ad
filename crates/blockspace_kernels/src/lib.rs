//! Numerical kernels for Blockspace: ndarray in, ndarray out, parallel with rayon.
//!
//! This crate knows nothing of blocks, pages or files. Its ops are TensorFlow's two
//! 3-D convolution gradients, for `f32` and `f64`, with TensorFlow's answers and errors:
//! - [`conv3d_backprop_input_v2`] (`Conv3DBackpropInputV2`, the gradient with respect to the
//!   input), module [`conv3d_backprop_input`];
//! - [`conv3d_backprop_filter_v2`] (`Conv3DBackpropFilterV2`, the gradient with respect to the
//!   filter), module [`conv3d_backprop_filter`].
//!
//! Both take a [`Conv3dAttrs`] (`strides`, `padding`, `data_format`, `dilations`), validate
//! into a params struct ([`Conv3dBackpropInputParams`], [`Conv3dBackpropFilterParams`]) and
//! have a naive reference implementation kept as a test oracle ([`mod@reference`] and
//! [`conv3d_backprop_filter::reference`]).
//!
//! # Shapes
//! `Conv3DBackpropInputV2`, NDHWC: `input_sizes = [N, D, H, W, C]`,
//! `filter = [KD, KH, KW, C, M]`, `out_backprop = [N, OD, OH, OW, M]`; the output has shape
//! `input_sizes`. NCDHW moves the channel axis of `input_sizes`, `out_backprop` and the output
//! to index 1.
//!
//! `Conv3DBackpropFilterV2`, NDHWC: `input = [N, D, H, W, IC]`,
//! `filter_sizes = [KD, KH, KW, IC, OC]`, `out_backprop = [N, OD, OH, OW, OC]`; the output is
//! `[KD, KH, KW, IC, OC]` in both layouts. NCDHW moves the channel axis of `input` and
//! `out_backprop` to index 1.
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
mod blocking;
mod context;
pub mod conv3d_backprop_filter;
pub mod conv3d_backprop_input;
mod element;
mod error;
mod simd;

pub use context::{CancelToken, KernelContext, MemoryLimit, ProgressFn};
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
#[doc(hidden)]
pub use simd::KernelPath;
