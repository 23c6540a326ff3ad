//! Property tests: every microkernel path this CPU supports (AVX-512, AVX2, portable) against
//! the reference, within `rtol · Σ|F·dy|` per element (the accuracy bound of the op specification), over random shapes,
//! strides, padding, dilations, layouts and channel tails; plus thread-count independence.

use blockspace_kernels::{
    Conv3dBackpropInputAttrs, Conv3dBackpropInputParams, DataFormat, Element, KernelContext,
    KernelPath, Padding, conv3d_backprop_input_v2_on_path, reference,
};
use ndarray::{ArrayD, IxDyn, arr1};
use proptest::prelude::*;

mod common;
use common::{Case, case};

const CHANNELS: [usize; 8] = [1, 2, 3, 7, 15, 16, 17, 33];

/// Deterministic values in [-1, 1).
fn fill(len: usize, seed: u64) -> Vec<f64> {
    let mut s = seed | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 52) as f64 - 1.0
        })
        .collect()
}

fn to_i64(v: usize) -> i64 {
    i64::try_from(v).expect("small")
}

struct Problem {
    attrs: Conv3dBackpropInputAttrs,
    params: Conv3dBackpropInputParams,
    sizes: ArrayD<i64>,
    filter: ArrayD<f64>,
    dy: ArrayD<f64>,
}

fn problem(c: &Case) -> Option<Problem> {
    let fmt = c.format;
    let attrs = c.attrs();
    let sizes: Vec<i64> = c.input_shape().iter().map(|&v| to_i64(v)).collect();
    // Find the out_backprop shape the params expect.
    let mut out = [0usize; 3];
    for (i, o) in out.iter_mut().enumerate() {
        let win = blockspace_kernels::conv3d_backprop_input::windowed_output_size(
            to_i64(c.spatial[i]),
            to_i64(c.kernel[i]),
            to_i64(c.dilations[i]),
            to_i64(c.strides[i]),
            c.padding,
        )
        .ok()?;
        *o = usize::try_from(win.output).ok()?;
    }
    let fshape = c.filter_shape();
    let dshape = fmt.shape_from_ndhwc([c.n, out[0], out[1], out[2], c.m]);
    let params = Conv3dBackpropInputParams::new(&[5], &sizes, &fshape, &dshape, &attrs).ok()?;
    let filter =
        ArrayD::from_shape_vec(IxDyn(&fshape), fill(fshape.iter().product(), c.seed)).ok()?;
    let dy = ArrayD::from_shape_vec(
        IxDyn(&dshape),
        fill(
            dshape.iter().product(),
            c.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15),
        ),
    )
    .ok()?;
    Some(Problem {
        attrs,
        params,
        sizes: arr1(&sizes).into_dyn(),
        filter,
        dy,
    })
}

fn check<T: Element>(pr: &Problem, rtol: f64) -> Result<(), TestCaseError> {
    let filter = pr.filter.mapv(T::from_f64);
    let dy = pr.dy.mapv(T::from_f64);
    let want =
        reference::conv3d_backprop_input_v2(pr.sizes.view(), filter.view(), dy.view(), &pr.attrs)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
    // S = Σ|F·dy| per element, in f64.
    let scale = reference::conv3d_backprop_input_v2(
        pr.sizes.view(),
        filter.mapv(|v| v.to_f64().abs()).view(),
        dy.mapv(|v| v.to_f64().abs()).view(),
        &pr.attrs,
    )
    .map_err(|e| TestCaseError::fail(e.to_string()))?;
    for path in KernelPath::ALL {
        let Some(got) = conv3d_backprop_input_v2_on_path(
            path,
            &pr.params,
            filter.view(),
            dy.view(),
            &KernelContext::default(),
        )
        .map_err(|e| TestCaseError::fail(e.to_string()))?
        else {
            continue;
        };
        prop_assert_eq!(got.shape(), want.shape());
        for ((g, w), s) in got.iter().zip(want.iter()).zip(scale.iter()) {
            let err = (g.to_f64() - w.to_f64()).abs();
            prop_assert!(
                err <= rtol * s + f64::MIN_POSITIVE,
                "{path:?} {}: got {g:?}, want {w:?}, |err| {err:e} > {rtol:e}·{s:e}",
                T::NAME
            );
        }
    }
    Ok(())
}

/// A one-item NDHWC problem without dilation: spatial size, filter window, strides, `(C, M)`,
/// padding and the data's seed.
fn fixed(
    spatial: [usize; 3],
    kernel: [usize; 3],
    strides: [usize; 3],
    (c, m): (usize, usize),
    padding: Padding,
    seed: u64,
) -> Problem {
    let case = Case {
        n: 1,
        spatial,
        kernel,
        strides,
        dilations: [1, 1, 1],
        c,
        m,
        padding,
        format: DataFormat::Ndhwc,
        seed,
    };
    problem(&case).expect("valid case")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn every_path_matches_reference(c in case(&CHANNELS, 36)) {
        let Some(pr) = problem(&c) else { return Ok(()); };
        check::<f32>(&pr, 1e-5)?;
        check::<f64>(&pr, 2e-14)?;
    }
}

#[test]
fn paths_agree_on_wide_rows_and_kernel_vs_stride() {
    // Kernel < = > stride along W, long rows (several full tiles), channel tails.
    for (k, s) in [(1, 2), (2, 2), (3, 2), (4, 2), (3, 1), (5, 3)] {
        for (c, m) in [(33, 17), (16, 7), (64, 3), (5, 64)] {
            let case = Case {
                n: 1,
                spatial: [2, 3, 53],
                kernel: [2, k, k],
                strides: [1, s, s],
                dilations: [1, 1, 1],
                c,
                m,
                padding: Padding::Same,
                format: DataFormat::Ndhwc,
                seed: (k * 100 + s * 10 + c) as u64,
            };
            let pr = problem(&case).expect("valid case");
            check::<f32>(&pr, 1e-5).expect("f32");
            check::<f64>(&pr, 2e-14).expect("f64");
        }
    }
}

/// Tall planes: the rows of an H stride phase that see the same taps run as one flattened
/// GEMM over several chunks of rows per plane, the runs pass over border columns they then
/// recompute, rows at the H borders start new runs, and a large dilation leaves phases whose
/// border columns are too many to flatten (row by row) or whose columns no tap reaches.
#[test]
fn flattened_runs_of_rows_match_the_reference() {
    for (spatial, kernel, strides, dilations, (c, m), padding) in [
        (
            [3, 41, 40],
            [2, 3, 3],
            [2, 2, 2],
            [1, 1, 1],
            (64, 9),
            Padding::Same,
        ),
        (
            [2, 30, 31],
            [1, 4, 3],
            [1, 3, 2],
            [1, 1, 3],
            (20, 16),
            Padding::Valid,
        ),
        (
            [2, 25, 29],
            [3, 2, 5],
            [2, 1, 3],
            [1, 2, 2],
            (33, 17),
            Padding::Same,
        ),
        (
            [1, 19, 40],
            [2, 3, 4],
            [1, 2, 2],
            [1, 1, 3],
            (16, 5),
            Padding::Valid,
        ),
    ] {
        let case = Case {
            n: 2,
            spatial,
            kernel,
            strides,
            dilations,
            c,
            m,
            padding,
            format: DataFormat::Ndhwc,
            seed: (spatial[2] * 7 + c) as u64,
        };
        let pr = problem(&case).expect("valid case");
        check::<f32>(&pr, 1e-5).expect("f32");
        check::<f64>(&pr, 2e-14).expect("f64");
    }
}

#[test]
fn result_is_identical_for_any_thread_count() {
    let case = Case {
        n: 2,
        spatial: [6, 9, 31],
        kernel: [3, 3, 3],
        strides: [1, 2, 1],
        dilations: [1, 1, 2],
        c: 33,
        m: 17,
        padding: Padding::Same,
        format: DataFormat::Ndhwc,
        seed: 7,
    };
    let pr = problem(&case).expect("valid case");
    let filter = pr.filter.mapv(|v| v as f32);
    let dy = pr.dy.mapv(|v| v as f32);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool");
        pool.install(|| {
            blockspace_kernels::conv3d_backprop_input_v2(
                pr.sizes.view(),
                filter.view(),
                dy.view(),
                &pr.attrs,
                &KernelContext::default(),
            )
            .expect("runs")
        })
    };
    let one = run(1);
    for threads in [2, 3, 5] {
        assert_eq!(one, run(threads), "{threads} threads differ from 1");
    }
}

#[test]
fn pointwise_filters_match_reference() {
    for (strides, padding, format) in [
        ([1, 1, 1], Padding::Valid, DataFormat::Ndhwc),
        ([1, 1, 1], Padding::Same, DataFormat::Ncdhw),
        ([2, 1, 3], Padding::Same, DataFormat::Ndhwc),
    ] {
        for (c, m) in [(17, 33), (64, 7), (1, 1)] {
            let case = Case {
                n: 2,
                spatial: [3, 4, 13],
                kernel: [1, 1, 1],
                strides,
                dilations: [1, 2, 1],
                c,
                m,
                padding,
                format,
                seed: (c * 7 + m) as u64,
            };
            let pr = problem(&case).expect("valid case");
            check::<f32>(&pr, 1e-5).expect("f32");
            check::<f64>(&pr, 2e-14).expect("f64");
        }
    }
}

#[test]
fn cancel_and_progress() {
    use std::sync::{Arc, Mutex};
    let case = Case {
        n: 1,
        spatial: [8, 8, 8],
        kernel: [3, 3, 3],
        strides: [1, 1, 1],
        dilations: [1, 1, 1],
        c: 16,
        m: 16,
        padding: Padding::Same,
        format: DataFormat::Ndhwc,
        seed: 3,
    };
    let pr = problem(&case).expect("valid case");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let ctx = KernelContext {
        progress: Some(Arc::new(move |f| sink.lock().expect("lock").push(f))),
        ..KernelContext::default()
    };
    blockspace_kernels::conv3d_backprop_input_v2_with_params(
        &pr.params,
        pr.filter.view(),
        pr.dy.view(),
        &ctx,
    )
    .expect("runs");
    let seen = seen.lock().expect("lock");
    assert!(!seen.is_empty(), "progress was reported");
    assert!(
        seen.iter().any(|&f| f >= 1.0),
        "progress reaches 1: {seen:?}"
    );
    let ctx = KernelContext::default();
    ctx.cancel.cancel();
    let err = blockspace_kernels::conv3d_backprop_input_v2_with_params(
        &pr.params,
        pr.filter.view(),
        pr.dy.view(),
        &ctx,
    )
    .expect_err("cancelled");
    assert!(
        matches!(err, blockspace_kernels::KernelError::Cancelled),
        "{err}"
    );
}

#[test]
fn degenerate_sizes_match_reference() {
    // M = 0 (empty out_backprop channels), single positions, stride larger than the input.
    for (spatial, kernel, strides, m) in [
        ([3, 4, 5], [2, 2, 2], [1, 1, 1], 0),
        ([1, 1, 1], [1, 1, 1], [1, 1, 1], 3),
        ([2, 3, 4], [1, 2, 1], [5, 5, 5], 2),
    ] {
        let pr = fixed(spatial, kernel, strides, (3, m), Padding::Same, 11);
        check::<f32>(&pr, 1e-5).expect("f32");
        check::<f64>(&pr, 2e-14).expect("f64");
    }
}

/// Cases the Winograd kernels take: every filter one to two strides wider than a stride
/// (`S < K ≤ 2·S`: every phase sees one or two taps), no dilation, at least 32 channels each
/// way.
fn winograd_case() -> impl Strategy<Value = Case> {
    (
        1usize..=2,
        (1usize..=6, 1usize..=6, 1usize..=19),
        (1usize..=3, 1usize..=3, 1usize..=3),
        (0usize..=2, 0usize..=2, 0usize..=2),
        (0usize..5, 0usize..5),
        any::<bool>(),
        any::<bool>(),
        any::<u64>(),
    )
        .prop_map(|(n, (d, h, w), st, narrow, (ci, mi), same, ncdhw, seed)| {
            const WIDE: [usize; 5] = [32, 33, 40, 47, 64];
            let strides = [st.0, st.1, st.2];
            // `narrow` taps fewer than two strides, at most `S − 1`.
            let narrow = [narrow.0, narrow.1, narrow.2];
            Case {
                n,
                spatial: [d, h, w],
                kernel: std::array::from_fn(|i| 2 * strides[i] - narrow[i] % strides[i]),
                strides,
                dilations: [1, 1, 1],
                c: WIDE[ci],
                m: WIDE[mi],
                padding: if same { Padding::Same } else { Padding::Valid },
                format: if ncdhw {
                    DataFormat::Ncdhw
                } else {
                    DataFormat::Ndhwc
                },
                seed,
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// The transforms add up to 8 terms on each side before multiplying, so the f64 bound is
    /// a few times looser than the direct kernel's.
    #[test]
    fn winograd_shapes_match_reference(c in winograd_case()) {
        let Some(pr) = problem(&c) else { return Ok(()); };
        check::<f64>(&pr, 1e-13)?;
        check::<f32>(&pr, 1e-5)?;
    }
}

/// Integer data on the Winograd shapes: every transform coefficient is 0 or ±1, so the result
/// is exactly the reference's (as TensorFlow's exact conformance cases require).
#[test]
fn winograd_is_exact_on_integer_data() {
    for (strides, kernel, padding, format) in [
        ([2, 2, 2], [4, 4, 4], Padding::Same, DataFormat::Ndhwc),
        ([1, 1, 1], [2, 2, 2], Padding::Valid, DataFormat::Ncdhw),
        ([1, 2, 3], [2, 4, 6], Padding::Same, DataFormat::Ndhwc),
        // Phases of one and two taps (k3 for s2, k4 and k5 for s3).
        ([2, 2, 2], [3, 3, 3], Padding::Same, DataFormat::Ndhwc),
        ([2, 3, 3], [3, 4, 5], Padding::Valid, DataFormat::Ncdhw),
    ] {
        let case = Case {
            n: 2,
            spatial: [5, 6, 17],
            kernel,
            strides,
            dilations: [1, 1, 1],
            c: 33,
            m: 40,
            padding,
            format,
            seed: 11,
        };
        let pr = problem(&case).expect("valid case");
        let int = |v: f64| (v * 3.5).round();
        let (filter, dy) = (pr.filter.mapv(int), pr.dy.mapv(int));
        let want = reference::conv3d_backprop_input_v2(
            pr.sizes.view(),
            filter.view(),
            dy.view(),
            &pr.attrs,
        )
        .expect("reference");
        for path in KernelPath::ALL {
            let got = conv3d_backprop_input_v2_on_path(
                path,
                &pr.params,
                filter.view(),
                dy.view(),
                &KernelContext::default(),
            )
            .expect("runs");
            if let Some(got) = got {
                assert_eq!(
                    got, want,
                    "{path:?} {strides:?} {kernel:?} {padding:?} {format:?}"
                );
            }
            // float32 too: the sums of these small integers fit its significand.
            let to32 = |a: &ndarray::ArrayD<f64>| a.mapv(|v| v as f32);
            let got = conv3d_backprop_input_v2_on_path(
                path,
                &pr.params,
                to32(&filter).view(),
                to32(&dy).view(),
                &KernelContext::default(),
            )
            .expect("runs");
            if let Some(got) = got {
                assert_eq!(
                    got,
                    to32(&want),
                    "f32 {path:?} {strides:?} {kernel:?} {padding:?} {format:?}"
                );
            }
        }
    }
}

/// An infinity in `out_backprop` gives the direct sum's `±Inf` (as TensorFlow does), not the
/// `NaN` that `Inf − Inf` inside a transform would make; huge finite values do not overflow.
#[test]
fn winograd_shapes_keep_infinities_and_huge_values() {
    let case = Case {
        n: 1,
        spatial: [4, 4, 4],
        kernel: [4, 4, 4],
        strides: [2, 2, 2],
        dilations: [1, 1, 1],
        c: 32,
        m: 33,
        padding: Padding::Same,
        format: DataFormat::Ndhwc,
        seed: 5,
    };
    let pr = problem(&case).expect("valid case");
    let filter = pr.filter.mapv(f64::abs);
    for special in [f64::INFINITY, f64::NEG_INFINITY, 1e300] {
        let mut dy = pr.dy.mapv(f64::abs);
        dy[[0, 1, 1, 1, 3]] = special;
        let want = reference::conv3d_backprop_input_v2(
            pr.sizes.view(),
            filter.view(),
            dy.view(),
            &pr.attrs,
        )
        .expect("reference");
        let got = blockspace_kernels::conv3d_backprop_input_v2(
            pr.sizes.view(),
            filter.view(),
            dy.view(),
            &pr.attrs,
            &KernelContext::default(),
        )
        .expect("runs");
        assert!(
            got.iter().all(|v| !v.is_nan()),
            "{special}: NaN in the result"
        );
        let agree = got
            .iter()
            .zip(want.iter())
            .all(|(g, w)| g == w || (g - w).abs() <= 1e-13 * w.abs());
        assert!(agree, "{special}: differs from the reference");
    }
}

/// The Winograd kernel writes every element once, from one tile: the same bits for any number
/// of threads; and it honours cancellation.
#[test]
fn winograd_is_identical_for_any_thread_count_and_cancels() {
    let case = Case {
        n: 2,
        spatial: [9, 8, 21],
        kernel: [4, 2, 4],
        strides: [2, 1, 2],
        dilations: [1, 1, 1],
        c: 33,
        m: 32,
        padding: Padding::Same,
        format: DataFormat::Ndhwc,
        seed: 13,
    };
    let pr = problem(&case).expect("valid case");
    let run = |threads: usize, ctx: &KernelContext| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool");
        pool.install(|| {
            blockspace_kernels::conv3d_backprop_input_v2(
                pr.sizes.view(),
                pr.filter.view(),
                pr.dy.view(),
                &pr.attrs,
                ctx,
            )
        })
    };
    let one = run(1, &KernelContext::default()).expect("runs");
    for threads in [2, 3] {
        let many = run(threads, &KernelContext::default()).expect("runs");
        assert_eq!(one, many, "{threads} threads differ from 1");
    }
    let ctx = KernelContext::default();
    ctx.cancel.cancel();
    let err = run(2, &ctx).expect_err("cancelled");
    assert!(
        matches!(err, blockspace_kernels::KernelError::Cancelled),
        "{err}"
    );
}

/// Pointwise problems (`1×1×1`, unit strides) run as one GEMM whose tiles are staged and
/// streamed to the output: outputs of 8 MiB and more take the non-temporal stores, smaller
/// ones plain copies. Both, with channel counts that are and are not whole cache lines and
/// row counts that do not divide into whole tiles, equal the reference.
#[test]
fn pointwise_outputs_large_and_small_match_the_reference() {
    for (spatial, c, m) in [
        ([16, 32, 32], 128, 8),
        ([8, 31, 33], 129, 5),
        ([3, 5, 7], 20, 3),
    ] {
        let pr = fixed(spatial, [1; 3], [1; 3], (c, m), Padding::Valid, 17);
        check::<f32>(&pr, 1e-5).expect("f32");
        check::<f64>(&pr, 2e-14).expect("f64");
    }
}

/// Outputs of 8 MiB and more with rows of at most 8 KiB are built row by row in a buffer and
/// streamed to the output: equal to the reference, including the rows and columns no tap
/// reaches (a `k1 s3` filter leaves two of every three zero) and a last task shorter than the
/// others.
#[test]
fn staged_rows_match_the_reference() {
    for (spatial, kernel, strides) in [
        ([33, 64, 64], [3, 3, 3], [2, 2, 2]),
        ([61, 48, 48], [1, 1, 1], [3, 3, 3]),
    ] {
        let pr = fixed(spatial, kernel, strides, (16, 3), Padding::Same, 23);
        check::<f32>(&pr, 1e-5).expect("f32");
    }
}
