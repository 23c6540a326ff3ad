//! `Conv3DBackpropFilterV2` properties: every kernel path this CPU has against the reference
//! (exactly on small-integer data, within `rtol · Σ|x·dy|` on random floats) over random
//! shapes, strides, dilations, padding, layouts and dtypes; the adjoint identity with the
//! forward `Conv3D`; thread-count independence; cancel, progress, memory limit, empty cases.

use std::sync::{Arc, Mutex};

use blockspace_kernels::conv3d_backprop_filter::reference as bwf_reference;
use blockspace_kernels::conv3d_backprop_input::windowed_output_size;
use blockspace_kernels::{
    CancelToken, Conv3dAttrs, Conv3dBackpropFilterParams, DataFormat, Element, KernelContext,
    KernelError, KernelPath, MemoryLimit, Padding, conv3d_backprop_filter_v2,
    conv3d_backprop_filter_v2_on_path, conv3d_backprop_filter_v2_with_params, reference,
};
use ndarray::{ArrayD, IxDyn, arr1};
use proptest::prelude::*;

#[expect(
    dead_code,
    reason = "this test keeps its own strategy; the shared `case` serves the other property tests"
)]
mod common;
use common::Case;

const CHANNELS: [usize; 8] = [1, 2, 3, 7, 16, 17, 24, 33];

fn case() -> impl Strategy<Value = Case> {
    (
        1usize..=2,
        (1usize..=5, 1usize..=6, 1usize..=12),
        (1usize..=3, 1usize..=3, 1usize..=4),
        (1usize..=3, 1usize..=3, 1usize..=3),
        (1usize..=2, 1usize..=2, 1usize..=2),
        (0usize..8, 0usize..8),
        any::<bool>(),
        any::<bool>(),
        any::<u64>(),
    )
        .prop_map(
            |(n, (d, h, w), (kd, kh, kw), st, dil, (ci, oi), same, ncdhw, seed)| Case {
                n,
                spatial: [d, h, w],
                kernel: [kd, kh, kw],
                strides: [st.0, st.1, st.2],
                dilations: [dil.0, dil.1, dil.2],
                c: CHANNELS[ci],
                m: CHANNELS[oi],
                padding: if same { Padding::Same } else { Padding::Valid },
                format: if ncdhw {
                    DataFormat::Ncdhw
                } else {
                    DataFormat::Ndhwc
                },
                seed,
            },
        )
}

fn to_i64(v: usize) -> i64 {
    i64::try_from(v).expect("small")
}

/// Deterministic values: small integers in `[-3, 3]` when `ints`, else uniform in `[-1, 1)`.
fn fill(len: usize, seed: u64, ints: bool) -> Vec<f64> {
    let mut s = seed;
    (0..len)
        .map(|_| {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let u = (s >> 11) as f64 / (1u64 << 53) as f64;
            if ints {
                (u * 7.0).floor() - 3.0
            } else {
                2.0 * u - 1.0
            }
        })
        .collect()
}

struct Problem {
    attrs: Conv3dAttrs,
    x_shape: Vec<usize>,
    dy_shape: Vec<usize>,
    sizes: Vec<i64>,
    params: Conv3dBackpropFilterParams,
}

/// The problem, or `None` when the shapes are invalid (VALID with a filter larger than the
/// input).
fn problem(c: &Case) -> Option<Problem> {
    let mut out = [0usize; 3];
    for (i, o) in out.iter_mut().enumerate() {
        let win = windowed_output_size(
            to_i64(c.spatial[i]),
            to_i64(c.kernel[i]),
            to_i64(c.dilations[i]),
            to_i64(c.strides[i]),
            c.padding,
        )
        .ok()?;
        *o = usize::try_from(win.output).ok()?;
    }
    let attrs = c.attrs();
    let x_shape = c.input_shape().to_vec();
    let dy_shape = c
        .format
        .shape_from_ndhwc([c.n, out[0], out[1], out[2], c.m])
        .to_vec();
    let sizes: Vec<i64> = c.filter_shape().iter().map(|&v| to_i64(v)).collect();
    let params = Conv3dBackpropFilterParams::new(&x_shape, &[5], &sizes, &dy_shape, &attrs).ok()?;
    Some(Problem {
        attrs,
        x_shape,
        dy_shape,
        sizes,
        params,
    })
}

fn array<T: Element>(shape: &[usize], v: &[f64]) -> ArrayD<T> {
    ArrayD::from_shape_vec(IxDyn(shape), v.iter().map(|&v| T::from_f64(v)).collect())
        .expect("shape")
}

/// Every path against the reference: exact when `ints`, else within `rtol · Σ|x·dy|`.
fn check<T: Element>(pr: &Problem, seed: u64, ints: bool, rtol: f64) -> Result<(), TestCaseError> {
    let xv = fill(pr.x_shape.iter().product(), seed, ints);
    let dyv = fill(pr.dy_shape.iter().product(), seed ^ 0x5555, ints);
    let (x, dy) = (array::<T>(&pr.x_shape, &xv), array::<T>(&pr.dy_shape, &dyv));
    let sizes = arr1(&pr.sizes).into_dyn();
    let want =
        bwf_reference::conv3d_backprop_filter_v2(x.view(), sizes.view(), dy.view(), &pr.attrs)
            .expect("reference");
    let abs: Vec<f64> = xv.iter().map(|v| v.abs()).collect();
    let dabs: Vec<f64> = dyv.iter().map(|v| v.abs()).collect();
    let bound = bwf_reference::conv3d_backprop_filter_v2(
        array::<f64>(&pr.x_shape, &abs).view(),
        sizes.view(),
        array::<f64>(&pr.dy_shape, &dabs).view(),
        &pr.attrs,
    )
    .expect("reference");
    let ctx = KernelContext::default();
    for path in KernelPath::ALL {
        let Some(got) =
            conv3d_backprop_filter_v2_on_path(path, &pr.params, x.view(), dy.view(), &ctx)
                .expect("runs")
        else {
            continue;
        };
        prop_assert_eq!(got.shape(), want.shape());
        if ints {
            prop_assert!(got == want, "{:?} {}: not exact", path, T::NAME);
        } else {
            for ((g, w), b) in got.iter().zip(&want).zip(&bound) {
                let err = (g.to_f64() - w.to_f64()).abs();
                prop_assert!(
                    err <= rtol * b + 1e-300,
                    "{:?} {}: {} vs {} (bound {})",
                    path,
                    T::NAME,
                    g.to_f64(),
                    w.to_f64(),
                    b
                );
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Every path equals the reference exactly on small integers, and closely on floats.
    #[test]
    fn every_path_matches_reference(c in case()) {
        let Some(pr) = problem(&c) else { return Ok(()); };
        check::<f32>(&pr, c.seed, true, 0.0)?;
        check::<f64>(&pr, c.seed, true, 0.0)?;
        check::<f32>(&pr, c.seed, false, 1e-5)?;
        check::<f64>(&pr, c.seed, false, 1e-13)?;
    }

    /// `<conv3d(x, f), dy> == <f, conv3d_backprop_filter_v2(x, shape(f), dy)>` in f64.
    #[test]
    fn adjoint_of_the_forward_convolution(c in case()) {
        let Some(pr) = problem(&c) else { return Ok(()); };
        let xv = fill(pr.x_shape.iter().product(), c.seed, false);
        let dyv = fill(pr.dy_shape.iter().product(), c.seed ^ 1, false);
        let f_shape: Vec<usize> = pr.params.output_shape();
        let fv = fill(f_shape.iter().product(), c.seed ^ 2, false);
        let (x, dy) = (array::<f64>(&pr.x_shape, &xv), array::<f64>(&pr.dy_shape, &dyv));
        let f = array::<f64>(&f_shape, &fv);
        let y = reference::conv3d(
            x.view(), f.view(), &pr.attrs.strides, pr.attrs.padding, pr.attrs.data_format,
            &pr.attrs.dilations,
        ).expect("forward");
        prop_assert_eq!(y.shape(), dy.shape());
        let df = conv3d_backprop_filter_v2(
            x.view(), arr1(&pr.sizes).into_dyn().view(), dy.view(), &pr.attrs,
            &KernelContext::default(),
        ).expect("runs");
        let lhs: f64 = y.iter().zip(&dy).map(|(a, b)| a * b).sum();
        let rhs: f64 = f.iter().zip(&df).map(|(a, b)| a * b).sum();
        let scale: f64 = y.iter().zip(&dy).map(|(a, b)| (a * b).abs()).sum::<f64>()
            + f.iter().zip(&df).map(|(a, b)| (a * b).abs()).sum::<f64>();
        prop_assert!((lhs - rhs).abs() <= 1e-9 * scale.max(1e-300), "{lhs} vs {rhs}");
    }
}

/// A problem big enough to run in parallel (about 20 M multiply-adds).
fn big_case(format: DataFormat) -> Case {
    Case {
        n: 2,
        spatial: [8, 10, 12],
        kernel: [3, 3, 3],
        strides: [1, 1, 2],
        dilations: [1, 2, 1],
        c: 16,
        m: 24,
        padding: Padding::Same,
        format,
        seed: 11,
    }
}

/// A problem with 5120 positions: several spans of partial sums (the kernel sums spans of
/// 2048 positions separately).
fn spans_case() -> Case {
    Case {
        n: 2,
        spatial: [8, 16, 20],
        kernel: [3, 2, 3],
        strides: [1, 1, 1],
        dilations: [1, 1, 1],
        c: 5,
        m: 20,
        padding: Padding::Same,
        format: DataFormat::Ndhwc,
        seed: 12,
    }
}

#[test]
fn large_problems_match_reference_on_every_path() {
    for format in [DataFormat::Ndhwc, DataFormat::Ncdhw] {
        let pr = problem(&big_case(format)).expect("valid");
        check::<f32>(&pr, 3, true, 0.0).expect("f32 exact");
        check::<f64>(&pr, 4, false, 1e-13).expect("f64 close");
    }
    let pr = problem(&spans_case()).expect("valid");
    check::<f32>(&pr, 5, true, 0.0).expect("f32 exact");
    check::<f32>(&pr, 6, false, 1e-5).expect("f32 close");
    check::<f64>(&pr, 7, false, 1e-13).expect("f64 close");
}

#[test]
fn result_is_identical_for_any_thread_count() {
    for case in [big_case(DataFormat::Ndhwc), spans_case()] {
        identical_for_any_thread_count(&case);
    }
}

fn identical_for_any_thread_count(case: &Case) {
    let pr = problem(case).expect("valid");
    let x = array::<f32>(&pr.x_shape, &fill(pr.x_shape.iter().product(), 5, false));
    let dy = array::<f32>(&pr.dy_shape, &fill(pr.dy_shape.iter().product(), 6, false));
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool")
            .install(|| {
                conv3d_backprop_filter_v2_with_params(
                    &pr.params,
                    x.view(),
                    dy.view(),
                    &KernelContext::default(),
                )
                .expect("runs")
            })
    };
    let one = run(1);
    assert_eq!(one, run(2), "1 vs 2 threads");
    assert_eq!(one, run(3), "1 vs 3 threads");
}

#[test]
fn cancel_and_progress() {
    let pr = problem(&big_case(DataFormat::Ndhwc)).expect("valid");
    let x = ArrayD::<f64>::ones(IxDyn(&pr.x_shape));
    let dy = ArrayD::<f64>::ones(IxDyn(&pr.dy_shape));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let ctx = KernelContext {
        progress: Some(Arc::new(move |f| sink.lock().expect("lock").push(f))),
        ..KernelContext::default()
    };
    conv3d_backprop_filter_v2_with_params(&pr.params, x.view(), dy.view(), &ctx).expect("runs");
    let seen = seen.lock().expect("lock");
    assert!(!seen.is_empty(), "progress reported");
    assert_eq!(seen.last().copied(), Some(1.0), "ends at 1");
    assert!(seen.iter().all(|&f| (0.0..=1.0).contains(&f)), "{seen:?}");
    let cancel = CancelToken::new();
    cancel.cancel();
    let ctx = KernelContext {
        cancel,
        ..KernelContext::default()
    };
    let err = conv3d_backprop_filter_v2_with_params(&pr.params, x.view(), dy.view(), &ctx)
        .expect_err("cancelled");
    assert_eq!(err, KernelError::Cancelled);
}

#[test]
fn memory_limit_refuses_large_buffers() {
    let pr = problem(&big_case(DataFormat::Ncdhw)).expect("valid");
    let x = ArrayD::<f32>::ones(IxDyn(&pr.x_shape));
    let dy = ArrayD::<f32>::ones(IxDyn(&pr.dy_shape));
    let ctx = KernelContext {
        limit: MemoryLimit::bytes(1024),
        ..KernelContext::default()
    };
    let err = conv3d_backprop_filter_v2_with_params(&pr.params, x.view(), dy.view(), &ctx)
        .expect_err("over the limit");
    assert!(matches!(err, KernelError::TooLarge { .. }), "{err}");
    // The output fits, the NDHWC copy of the input does not.
    let ctx = KernelContext {
        limit: MemoryLimit::bytes(100_000),
        ..KernelContext::default()
    };
    let err = conv3d_backprop_filter_v2_with_params(&pr.params, x.view(), dy.view(), &ctx)
        .expect_err("over the limit");
    assert!(
        matches!(err, KernelError::TooLarge { what, .. } if what.contains("input")),
        "{err}"
    );
}

#[test]
fn empty_problems_give_zeros() {
    let run = |x: &[usize], sizes: &[i64], dy: &[usize], a: &Conv3dAttrs| {
        let xa = ArrayD::<f32>::ones(IxDyn(x));
        let da = ArrayD::<f32>::ones(IxDyn(dy));
        let got = conv3d_backprop_filter_v2(
            xa.view(),
            arr1(sizes).into_dyn().view(),
            da.view(),
            a,
            &KernelContext::default(),
        )
        .expect("valid");
        let want = bwf_reference::conv3d_backprop_filter_v2(
            xa.view(),
            arr1(sizes).into_dyn().view(),
            da.view(),
            a,
        )
        .expect("valid");
        assert_eq!(got, want, "kernel equals reference");
        got
    };
    let same = Conv3dAttrs::default();
    // Batch 0.
    let df = run(&[0, 4, 4, 4, 2], &[2, 2, 2, 2, 3], &[0, 4, 4, 4, 3], &same);
    assert_eq!(df.shape(), &[2, 2, 2, 2, 3]);
    assert!(df.iter().all(|&v| v == 0.0));
    // A zero-sized filter dimension: an empty output.
    let df = run(&[1, 4, 4, 4, 2], &[0, 2, 2, 2, 3], &[1, 4, 4, 4, 3], &same);
    assert_eq!(df.shape(), &[0, 2, 2, 2, 3]);
    // No output positions (VALID, filter larger than the input, stride 2).
    let valid = Conv3dAttrs {
        strides: vec![1, 2, 2, 2, 1],
        padding: Padding::Valid,
        ..Conv3dAttrs::default()
    };
    let df = run(&[1, 1, 1, 1, 2], &[3, 3, 3, 2, 4], &[1, 0, 0, 0, 4], &valid);
    assert_eq!(df.shape(), &[3, 3, 3, 2, 4]);
    assert!(df.iter().all(|&v| v == 0.0));
}

#[test]
fn pointwise_and_wide_filters_match_reference() {
    for (spatial, kernel, ic, oc, strides) in [
        ([4, 6, 40], [1, 1, 1], 64, 40, [1, 1, 1]),
        ([3, 5, 33], [1, 2, 3], 33, 17, [1, 2, 1]),
        ([2, 3, 70], [1, 1, 5], 5, 65, [1, 1, 3]),
    ] {
        let c = Case {
            n: 1,
            spatial,
            kernel,
            strides,
            dilations: [1, 1, 1],
            c: ic,
            m: oc,
            padding: Padding::Same,
            format: DataFormat::Ndhwc,
            seed: 9,
        };
        let pr = problem(&c).expect("valid");
        check::<f32>(&pr, 1, true, 0.0).expect("f32 exact");
        check::<f64>(&pr, 2, true, 0.0).expect("f64 exact");
        check::<f32>(&pr, 3, false, 1e-5).expect("f32 close");
    }
}
