//! Every known bad input of this op (TensorFlow's crash bugs and CVEs on this op) returns a clear
//! error or TensorFlow's empty/zero output, and never panics, aborts or allocates absurdly.

use std::time::Instant;

use blockspace_kernels::{
    Conv3dBackpropInputAttrs, DataFormat, KernelContext, KernelError, MemoryLimit, Padding,
    conv3d_backprop_input_v2,
};
use ndarray::{ArrayD, IxDyn, arr1, arr2};

fn attrs(strides: [i64; 5], padding: Padding) -> Conv3dBackpropInputAttrs {
    Conv3dBackpropInputAttrs {
        strides: strides.to_vec(),
        padding,
        ..Default::default()
    }
}

fn run(
    sizes: &[i64],
    filter: &[usize],
    dy: &[usize],
    a: &Conv3dBackpropInputAttrs,
) -> Result<ArrayD<f32>, KernelError> {
    let f = ArrayD::<f32>::ones(IxDyn(filter));
    let d = ArrayD::<f32>::ones(IxDyn(dy));
    conv3d_backprop_input_v2(
        arr1(sizes).into_dyn().view(),
        f.view(),
        d.view(),
        a,
        &KernelContext::default(),
    )
}

fn err_text(r: Result<ArrayD<f32>, KernelError>) -> String {
    r.expect_err("must be refused").to_string()
}

#[test]
fn cve_2021_29520_channel_mismatch_is_refused() {
    let a = attrs([1, 89, 29, 89, 1], Padding::Same);
    assert_eq!(
        err_text(run(
            &[1, 1, 1, 1, 2],
            &[4, 1, 6, 1, 1],
            &[1, 1, 1, 1, 1],
            &a
        )),
        "input and filter_sizes must have the same number of channels. Got 2 for input and 1 for filter_sizes"
    );
}

#[test]
fn cve_2021_29522_empty_tensors_do_not_divide_by_zero() {
    let a = attrs([1; 5], Padding::Same);
    assert_eq!(
        err_text(run(
            &[0, 0, 0, 0, 0],
            &[0, 0, 0, 1, 0],
            &[0, 0, 0, 0, 0],
            &a
        )),
        "input and filter_sizes must have the same number of channels. Got 0 for input and 1 for filter_sizes"
    );
    // Rule 20 itself: M = 0 and no output positions.
    assert_eq!(
        err_text(run(
            &[1, 0, 4, 4, 3],
            &[2, 2, 2, 3, 0],
            &[1, 0, 4, 4, 0],
            &a
        )),
        "input, filter_sizes and out_backprop tensors must all have at least 1 element"
    );
}

#[test]
fn issue_57495_batch_zero_gives_empty_output() {
    let a = attrs([1; 5], Padding::Valid);
    let out = run(&[0, 6, 1, 1, 2], &[3, 1, 1, 2, 3], &[0, 4, 1, 1, 3], &a).unwrap();
    assert_eq!(
        out.shape(),
        &[0, 6, 1, 1, 2],
        "empty output of the asked shape"
    );
}

#[test]
fn issue_61539_zero_sized_filter_gives_zeros() {
    let a = attrs([1, 2, 2, 2, 1], Padding::Same);
    let out = run(&[2, 8, 8, 8, 5], &[0, 1, 2, 5, 3], &[2, 4, 4, 4, 3], &a).unwrap();
    assert_eq!(out.shape(), &[2, 8, 8, 8, 5], "full output shape");
    assert!(out.iter().all(|&v| v == 0.0), "no taps: all zeros");
}

#[test]
fn output_channels_zero_gives_zeros() {
    let a = attrs([1; 5], Padding::Same);
    let out = run(&[1, 4, 4, 4, 3], &[2, 2, 2, 3, 0], &[1, 4, 4, 4, 0], &a).unwrap();
    assert_eq!(out.shape(), &[1, 4, 4, 4, 3], "full output shape");
    assert!(
        out.iter().all(|&v| v == 0.0),
        "M = 0: all zeros (TF leaves it uninitialised)"
    );
}

#[test]
fn issue_94114_one_element_input_sizes_is_refused_in_both_layouts() {
    for fmt in [DataFormat::Ndhwc, DataFormat::Ncdhw] {
        let a = Conv3dBackpropInputAttrs {
            data_format: fmt,
            ..attrs([1; 5], Padding::Valid)
        };
        assert_eq!(
            err_text(run(&[5], &[7, 6, 9, 2, 3], &[1, 1, 1, 1, 1], &a)),
            "input tensor must have 5 dimensions"
        );
    }
}

#[test]
fn ivysyn_negative_output_size_is_refused() {
    let a = attrs([1; 5], Padding::Valid);
    assert_eq!(
        err_text(run(
            &[2, 2, 2, 2, 2],
            &[5, 4, 3, 2, 3],
            &[2, 1, 1, 1, 3],
            &a
        )),
        "Computed output size would be negative: -2 [input_size: 2, effective_filter_size: 5, stride: 1]"
    );
}

#[test]
fn stock_kernel_sigfpe_cases_return_empty_output() {
    let a = attrs([1; 5], Padding::Valid);
    let out = run(&[0, 1, 1, 1, 1], &[1, 1, 1, 1, 0], &[0, 1, 1, 1, 0], &a).unwrap();
    assert_eq!(out.shape(), &[0, 1, 1, 1, 1], "M = 0 with N = 0");
    let out = run(&[0, 1, 1, 1, 1], &[0, 1, 1, 1, 1], &[0, 2, 1, 1, 1], &a).unwrap();
    assert_eq!(out.shape(), &[0, 1, 1, 1, 1], "KD = 0 with N = 0");
}

#[test]
fn onednn_rank4_out_backprop_over_read_is_refused() {
    let a = attrs([1; 5], Padding::Same);
    assert_eq!(
        err_text(run(&[1, 4, 4, 4, 3], &[2, 2, 2, 3, 4], &[1, 4, 4, 4], &a)),
        "out_backprop tensor must have 5 dimensions"
    );
}

#[test]
fn onednn_check_aborts_on_malformed_input_sizes_are_errors() {
    let a = attrs([1; 5], Padding::Same);
    assert_eq!(
        err_text(run(
            &[1, -1, 4, 4, 3],
            &[2, 2, 2, 3, 4],
            &[1, 4, 4, 4, 4],
            &a
        )),
        "Dimension -1 must be >= 0"
    );
    let f = ArrayD::<f32>::ones(IxDyn(&[2, 2, 2, 3, 4]));
    let d = ArrayD::<f32>::ones(IxDyn(&[1, 4, 4, 4, 4]));
    let sizes = arr2(&[[1i64, 4, 4, 4, 3]]).into_dyn();
    let e = conv3d_backprop_input_v2(
        sizes.view(),
        f.view(),
        d.view(),
        &a,
        &KernelContext::default(),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "shape must be a vector of {int32,int64}, got shape [1,5]"
    );
    let start = Instant::now();
    let big = 1i64 << 40;
    assert_eq!(
        err_text(run(
            &[1, big, big, 1, 3],
            &[2, 2, 2, 3, 4],
            &[1, 4, 4, 4, 4],
            &a
        )),
        "Shape [1,1099511627776,1099511627776,1,3] would have more than 2**63 - 1 elements"
    );
    assert!(start.elapsed().as_millis() < 1000, "refused without work");
}

#[test]
fn huge_but_valid_shapes_hit_the_memory_limit_not_the_allocator() {
    // 2e9 x 2e9 with a stride that makes out_backprop tiny: TensorFlow would try to allocate.
    let s = i64::from(i32::MAX);
    let a = attrs([1, s, s, 1, 1], Padding::Same);
    let e = run(
        &[1, 2_000_000_000, 2_000_000_000, 1, 1],
        &[1, 1, 1, 1, 2],
        &[1, 1, 1, 1, 2],
        &a,
    )
    .unwrap_err();
    assert!(matches!(e, KernelError::TooLarge { .. }), "{e}");
    // A configurable limit applies to ordinary sizes too.
    let ctx = KernelContext {
        limit: MemoryLimit::bytes(1024),
        ..Default::default()
    };
    let f = ArrayD::<f32>::ones(IxDyn(&[1, 1, 1, 1, 1]));
    let d = ArrayD::<f32>::ones(IxDyn(&[1, 16, 16, 16, 1]));
    let e = conv3d_backprop_input_v2(
        arr1(&[1i64, 16, 16, 16, 1]).into_dyn().view(),
        f.view(),
        d.view(),
        &attrs([1; 5], Padding::Same),
        &ctx,
    )
    .unwrap_err();
    assert!(e.to_string().contains("memory limit of 1024 bytes"), "{e}");
}

#[test]
fn zero_absorbing_giant_shapes_are_an_error_not_a_panic() {
    // TF's MakeShape accepts [0, 2^62, 2^62, 1, 1]; an ndarray cannot hold it.
    let big = 1i64 << 62;
    let a = attrs([1, big, big, 1, 1], Padding::Same);
    let e = run(&[0, big, big, 1, 1], &[1, 1, 1, 1, 1], &[0, 1, 1, 1, 1], &a).unwrap_err();
    assert!(matches!(e, KernelError::Overflow { .. }), "{e}");
    // Strides near i64::MAX must not overflow the SAME arithmetic.
    let a = attrs([1, i64::MAX, 1, 1, 1], Padding::Same);
    let e = run(&[1, 4, 4, 4, 1], &[1, 1, 1, 1, 1], &[1, 1, 4, 4, 1], &a).unwrap_err();
    assert!(matches!(e, KernelError::Overflow { .. }), "{e}");
}

#[test]
fn attribute_rules_in_tensorflow_order() {
    let (sizes, filter, dy) = ([1, 4, 4, 4, 3], [2, 2, 2, 3, 4], [1, 4, 4, 4, 4]);
    let with = |strides: Vec<i64>, dilations: Vec<i64>| Conv3dBackpropInputAttrs {
        strides,
        dilations,
        ..Default::default()
    };
    let e = |a: Conv3dBackpropInputAttrs| err_text(run(&sizes, &filter, &dy, &a));
    assert_eq!(
        e(with(vec![1; 4], vec![1; 4])),
        "Length for attr 'strides' of 4 must be at least minimum 5"
    );
    assert_eq!(
        e(with(vec![1; 6], vec![1; 4])),
        "Dilation rates field must specify 5 dimensions"
    );
    assert_eq!(
        e(with(vec![1; 6], vec![1; 5])),
        "Sliding window strides field must specify 5 dimensions"
    );
    assert_eq!(
        e(with(vec![2, 1, 1, 1, 1], vec![1, 1, 1, 1, 2])),
        "Current implementation does not yet support dilation rates in the batch and depth dimensions."
    );
    assert_eq!(
        e(with(vec![1, 1, 1, 1, 2], vec![1; 5])),
        "Current implementation does not yet support strides in the batch and depth dimensions."
    );
    // A spatial dilation below 1 is refused with the kernel constructor's text, before the
    // strides and before any tensor is looked at (TensorFlow's CPU kernel refuses every spatial
    // dilation but 1 there; dilations above 1 run).
    let below_one = "Current CPU implementation does not yet support dilation rates larger than 1.";
    assert_eq!(e(with(vec![1; 5], vec![1, 0, 1, 1, 1])), below_one);
    assert_eq!(
        e(with(vec![2, 1, 1, 1, 1], vec![1, 1, 1, -1, 1])),
        below_one
    );
    assert_eq!(
        err_text(run(
            &[1, -4, 4, 4, 3],
            &filter,
            &[1, 9, 4, 4, 4],
            &with(vec![1; 5], vec![1, 1, 0, 1, 1])
        )),
        below_one
    );
    // NCDHW: the channel entry is index 1.
    let ncdhw = Conv3dBackpropInputAttrs {
        data_format: DataFormat::Ncdhw,
        ..with(vec![1, 2, 1, 1, 1], vec![1; 5])
    };
    assert_eq!(
        err_text(run(&[1, 3, 4, 4, 4], &filter, &[1, 4, 4, 4, 4], &ncdhw)),
        "Current implementation does not yet support strides in the batch and depth dimensions."
    );
}

#[test]
fn errors_carry_a_hint() {
    let a = attrs([1; 5], Padding::Same);
    let e = run(&[1, 4, 4, 4, 3], &[2, 2, 2, 2, 4], &[1, 4, 4, 4, 4], &a).unwrap_err();
    assert!(
        e.hint()
            .is_some_and(|h| h.contains("filter dimension 3 (2)")),
        "{:?}",
        e.hint()
    );
}

#[test]
fn cancelled_calls_stop() {
    let ctx = KernelContext::default();
    ctx.cancel.cancel();
    let f = ArrayD::<f32>::ones(IxDyn(&[3, 3, 3, 2, 2]));
    let d = ArrayD::<f32>::ones(IxDyn(&[1, 8, 8, 8, 2]));
    let e = conv3d_backprop_input_v2(
        arr1(&[1i64, 8, 8, 8, 2]).into_dyn().view(),
        f.view(),
        d.view(),
        &attrs([1; 5], Padding::Same),
        &ctx,
    )
    .unwrap_err();
    assert_eq!(
        e,
        KernelError::Cancelled,
        "a cancelled token stops the call"
    );
}
