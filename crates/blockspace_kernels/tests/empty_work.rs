//! Work that is all zeros or empty returns at once: a convolution whose sum has no terms (zero
//! channels on the summed side, zero batch, an empty output-gradient extent) gives its zeros
//! without walking its (possibly huge) window, whatever the output size. Each case here would
//! otherwise loop over millions of window taps per output row.

use blockspace_kernels::{
    Conv3dAttrs, KernelContext, Padding, conv3d, conv3d_backprop_filter_v2,
    conv3d_backprop_input_v2,
};
use ndarray::{ArrayD, IxDyn, arr1};

fn same() -> Conv3dAttrs {
    Conv3dAttrs {
        strides: vec![1; 5],
        padding: Padding::Same,
        ..Default::default()
    }
}

fn ones(shape: &[usize]) -> ArrayD<f32> {
    ArrayD::ones(IxDyn(shape))
}

fn all_zero(a: &ArrayD<f32>) -> bool {
    a.iter().all(|&v| v == 0.0)
}

#[test]
fn input_gradient_with_zero_forward_output_channels_is_zeros_at_once() {
    // M = 0: out_backprop has no channels, so every input-gradient sum is empty.
    let dx = conv3d_backprop_input_v2(
        arr1(&[1i64, 40, 40, 40, 4]).into_dyn().view(),
        ones(&[40, 40, 40, 4, 0]).view(),
        ones(&[1, 40, 40, 40, 0]).view(),
        &same(),
        &KernelContext::default(),
    )
    .unwrap();
    assert_eq!(dx.shape(), &[1, 40, 40, 40, 4]);
    assert!(all_zero(&dx));
}

#[test]
fn conv3d_with_zero_input_channels_is_refused_at_once() {
    // TensorFlow refuses a filter of depth 0 (zero input channels); so does Conv3D, before any
    // work.
    let e = conv3d(
        ones(&[1, 40, 40, 40, 0]).view(),
        ones(&[40, 40, 40, 0, 4]).view(),
        &same(),
        &KernelContext::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("depth"), "{e}");
}

#[test]
fn conv3d_with_zero_batch_is_empty_at_once() {
    let y = conv3d(
        ones(&[0, 40, 40, 40, 4]).view(),
        ones(&[40, 40, 40, 4, 4]).view(),
        &same(),
        &KernelContext::default(),
    )
    .unwrap();
    assert_eq!(y.shape(), &[0, 40, 40, 40, 4]);
}

#[test]
fn filter_gradient_with_zero_batch_is_zeros_at_once() {
    let df = conv3d_backprop_filter_v2(
        ones(&[0, 40, 40, 40, 4]).view(),
        arr1(&[40i64, 40, 40, 4, 4]).into_dyn().view(),
        ones(&[0, 40, 40, 40, 4]).view(),
        &same(),
        &KernelContext::default(),
    )
    .unwrap();
    assert_eq!(df.shape(), &[40, 40, 40, 4, 4]);
    assert!(all_zero(&df));
}

#[test]
fn filter_gradient_with_an_empty_spatial_extent_is_zeros_at_once() {
    // A depth of 0: no input and no output positions, so no terms, but a full filter of zeros.
    let df = conv3d_backprop_filter_v2(
        ones(&[1, 0, 40, 40, 4]).view(),
        arr1(&[40i64, 40, 40, 4, 4]).into_dyn().view(),
        ones(&[1, 0, 40, 40, 4]).view(),
        &same(),
        &KernelContext::default(),
    )
    .unwrap();
    assert_eq!(df.shape(), &[40, 40, 40, 4, 4]);
    assert!(all_zero(&df));
}
