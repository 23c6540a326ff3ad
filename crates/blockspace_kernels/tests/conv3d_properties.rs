//! Properties of the production `Conv3D`: it equals the naive reference on random problems
//! (exactly on small-integer data, where every partial sum is exact; within a rounding bound on
//! random floats) on every microkernel path this CPU supports; it is the adjoint of
//! `Conv3DBackpropInputV2`; its result does not depend on the thread count; cancel, memory
//! limit and empty outputs behave.

#![expect(clippy::unwrap_used, reason = "test helpers")]

use blockspace_kernels::conv3d::reference;
use blockspace_kernels::{
    CancelToken, Conv3dAttrs, Conv3dParams, DataFormat, Element, KernelContext, KernelError,
    KernelPath, MemoryLimit, Padding, conv3d, conv3d_backprop_input_v2, conv3d_on_path,
};
use ndarray::{ArrayD, IxDyn, arr1};
use proptest::prelude::*;

mod common;
use common::{Case, case};

const CHANNELS: [usize; 8] = [1, 2, 3, 7, 16, 17, 33, 70];

fn i64_of(v: usize) -> i64 {
    i64::try_from(v).unwrap()
}

/// Deterministic values: small integers in [-3, 3] (`ints`) or reals in [-1, 1).
fn values(len: usize, seed: u64, ints: bool) -> Vec<f64> {
    let mut s = seed | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            if ints {
                f64::from(u8::try_from(s % 7).unwrap()) - 3.0
            } else {
                f64::from(u32::try_from(s >> 40).unwrap()) / f64::from(1u32 << 23) - 1.0
            }
        })
        .collect()
}

fn array<T: Element>(shape: &[usize], seed: u64, ints: bool) -> ArrayD<T> {
    let len = shape.iter().product();
    let v = values(len, seed, ints)
        .into_iter()
        .map(T::from_f64)
        .collect();
    ArrayD::from_shape_vec(IxDyn(shape), v).unwrap()
}

/// Compares every supported path and the default entry point with the reference: exactly on
/// integer data, else within `2·(K+1)·ε·Σ|x·F|` per element (`K` terms per sum).
fn paths_match<T: Element>(c: &Case, ints: bool) -> Result<(), TestCaseError> {
    let a = c.attrs();
    let Ok(p) = Conv3dParams::new(&c.input_shape(), &c.filter_shape(), &a) else {
        return Ok(());
    };
    let x = array::<T>(&c.input_shape(), c.seed, ints);
    let f = array::<T>(&c.filter_shape(), c.seed.wrapping_add(1), ints);
    let want = reference::conv3d(x.view(), f.view(), &a).unwrap();
    let abs = |t: &ArrayD<T>| t.mapv(|v| T::from_f64(v.to_f64().abs()));
    let bound = reference::conv3d(abs(&x).view(), abs(&f).view(), &a).unwrap();
    let eps = if T::NAME == "float32" {
        f64::from(f32::EPSILON)
    } else {
        f64::EPSILON
    };
    let terms = (c.kernel.iter().product::<usize>() * c.c) as f64;
    let ctx = KernelContext::default();
    let mut got = vec![(
        "default".to_owned(),
        conv3d(x.view(), f.view(), &a, &ctx).unwrap(),
    )];
    for path in KernelPath::ALL {
        if let Some(y) = conv3d_on_path(path, &p, x.view(), f.view(), &ctx).unwrap() {
            got.push((format!("{path:?}"), y));
        }
    }
    for (who, y) in got {
        prop_assert_eq!(y.shape(), want.shape(), "{}", who);
        for ((g, w), b) in y.iter().zip(want.iter()).zip(bound.iter()) {
            let (g, w) = (g.to_f64(), w.to_f64());
            if ints {
                prop_assert_eq!(g.to_bits(), w.to_bits(), "{}: {} vs {}", who, g, w);
            } else {
                let tol = 2.0 * (terms + 1.0) * eps * b.to_f64();
                prop_assert!(
                    (g - w).abs() <= tol,
                    "{}: {} vs {} (tol {})",
                    who,
                    g,
                    w,
                    tol
                );
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    #[test]
    fn production_equals_reference_on_integers(c in case(&CHANNELS, 30)) {
        paths_match::<f32>(&c, true)?;
        paths_match::<f64>(&c, true)?;
    }

    #[test]
    fn production_is_close_to_reference_on_reals(c in case(&CHANNELS, 30)) {
        paths_match::<f32>(&c, false)?;
        paths_match::<f64>(&c, false)?;
    }

    #[test]
    fn conv3d_is_the_adjoint_of_conv3d_backprop_input(c in case(&CHANNELS, 30)) {
        let a = c.attrs();
        let Ok(p) = Conv3dParams::new(&c.input_shape(), &c.filter_shape(), &a) else {
            return Ok(());
        };
        let x = array::<f64>(&c.input_shape(), c.seed, false);
        let f = array::<f64>(&c.filter_shape(), c.seed.wrapping_add(1), false);
        let dy = array::<f64>(&p.output_shape(), c.seed.wrapping_add(2), false);
        let ctx = KernelContext::default();
        let y = conv3d(x.view(), f.view(), &a, &ctx).unwrap();
        let sizes = arr1(&c.input_shape().map(i64_of)).into_dyn();
        let dx = conv3d_backprop_input_v2(sizes.view(), f.view(), dy.view(), &a, &ctx).unwrap();
        let lhs: f64 = y.iter().zip(dy.iter()).map(|(a, b)| a * b).sum();
        let rhs: f64 = x.iter().zip(dx.iter()).map(|(a, b)| a * b).sum();
        let scale: f64 = y.iter().zip(dy.iter()).map(|(a, b)| (a * b).abs()).sum();
        prop_assert!(
            (lhs - rhs).abs() <= 1e-9 * (1.0 + scale),
            "<conv3d(x,F),dy> = {} but <x,dx> = {}", lhs, rhs
        );
    }
}

fn big_case() -> Case {
    Case {
        n: 2,
        spatial: [9, 8, 27],
        kernel: [3, 2, 4],
        strides: [2, 1, 1],
        dilations: [1, 2, 1],
        c: 17,
        m: 40,
        padding: Padding::Same,
        format: DataFormat::Ndhwc,
        seed: 7,
    }
}

/// An output of 8 MiB with rows of 4 KiB is built a row at a time in one reused buffer: the
/// rows and columns no tap reaches (a dilated filter wider than its padded input) must still
/// come out zero, not as the previous row's values.
#[test]
fn staged_rows_no_tap_reaches_stay_zero() {
    let c = Case {
        n: 1,
        spatial: [1024, 2, 2],
        kernel: [1, 2, 2],
        strides: [1, 1, 1],
        dilations: [1, 3, 3],
        c: 2,
        m: 512,
        padding: Padding::Same,
        format: DataFormat::Ndhwc,
        seed: 11,
    };
    let p = Conv3dParams::new(&c.input_shape(), &c.filter_shape(), &c.attrs()).unwrap();
    // Output rows alternate: `oh = 0` no tap reaches, `oh = 1` a computed one; column `ow = 0`
    // no tap reaches.
    assert_eq!(
        p.out_spatial,
        [1024, 2, 2],
        "8 MiB of output in rows of 4 KiB"
    );
    paths_match::<f32>(&c, true).unwrap();
}

/// A pointwise filter (`1×1×1`, unit strides) runs as one GEMM over all positions, its tiles
/// stored straight into the output: an output of 8 MiB (streamed, or staged where the
/// allocator leaves it off a cache line), one of 8 MiB with rows of no whole number of lines
/// (129 channels: staged) and a small one (plain stores), on every path, equal to the
/// reference.
#[test]
fn pointwise_outputs_large_and_small_match_the_reference() {
    for (spatial, c, m) in [
        ([16, 32, 32], 8, 128),
        ([16, 31, 33], 5, 129),
        ([3, 5, 7], 3, 20),
    ] {
        let case = Case {
            n: 1,
            spatial,
            kernel: [1, 1, 1],
            strides: [1, 1, 1],
            dilations: [1, 1, 1],
            c,
            m,
            padding: Padding::Valid,
            format: DataFormat::Ndhwc,
            seed: 17,
        };
        paths_match::<f32>(&case, true).unwrap();
        paths_match::<f64>(&case, true).unwrap();
    }
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let c = big_case();
    let a = c.attrs();
    let x = array::<f32>(&c.input_shape(), 1, false);
    let f = array::<f32>(&c.filter_shape(), 2, false);
    let run = |threads| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| conv3d(x.view(), f.view(), &a, &KernelContext::default()).unwrap())
    };
    let one = run(1);
    assert_eq!(one, run(2), "bitwise equal for 1 and 2 threads");
    assert_eq!(one, run(3), "bitwise equal for 1 and 3 threads");
}

#[test]
fn cancel_memory_limit_and_progress() {
    let c = big_case();
    let a = c.attrs();
    let x = array::<f64>(&c.input_shape(), 1, false);
    let f = array::<f64>(&c.filter_shape(), 2, false);
    let cancel = CancelToken::new();
    cancel.cancel();
    let ctx = KernelContext {
        cancel,
        ..KernelContext::default()
    };
    assert_eq!(
        conv3d(x.view(), f.view(), &a, &ctx).unwrap_err(),
        KernelError::Cancelled
    );
    // Cancelled from the progress callback, part way through.
    let token = CancelToken::new();
    let t = token.clone();
    let ctx = KernelContext {
        cancel: token,
        progress: Some(std::sync::Arc::new(move |done| {
            if done > 0.2 {
                t.cancel();
            }
        })),
        ..KernelContext::default()
    };
    assert_eq!(
        conv3d(x.view(), f.view(), &a, &ctx).unwrap_err(),
        KernelError::Cancelled
    );
    let ctx = KernelContext {
        limit: MemoryLimit::bytes(1000),
        ..KernelContext::default()
    };
    let err = conv3d(x.view(), f.view(), &a, &ctx).unwrap_err();
    assert!(
        matches!(
            err,
            KernelError::TooLarge {
                what: "the output",
                ..
            }
        ),
        "{err}"
    );
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let s = seen.clone();
    let ctx = KernelContext {
        progress: Some(std::sync::Arc::new(move |v| s.lock().unwrap().push(v))),
        ..KernelContext::default()
    };
    conv3d(x.view(), f.view(), &a, &ctx).unwrap();
    let seen = seen.lock().unwrap();
    assert!(seen.iter().all(|v| (0.0..=1.0).contains(v)), "{seen:?}");
    assert!(seen.contains(&1.0), "the last row reports 1.0");
}

#[test]
fn zero_sized_outputs_return_zeros_of_the_right_shape() {
    let ctx = KernelContext::default();
    let a = Conv3dAttrs::default();
    // Batch 0.
    let y = conv3d(
        ArrayD::<f32>::zeros(IxDyn(&[0, 4, 4, 4, 2])).view(),
        ArrayD::<f32>::ones(IxDyn(&[2, 2, 2, 2, 3])).view(),
        &a,
        &ctx,
    )
    .unwrap();
    assert_eq!(y.shape(), &[0, 4, 4, 4, 3]);
    // A spatial size 0 with SAME; NCDHW.
    let nc = Conv3dAttrs {
        data_format: DataFormat::Ncdhw,
        ..Conv3dAttrs::default()
    };
    let y = conv3d(
        ArrayD::<f64>::zeros(IxDyn(&[1, 2, 3, 0, 4])).view(),
        ArrayD::<f64>::ones(IxDyn(&[2, 2, 2, 2, 3])).view(),
        &nc,
        &ctx,
    )
    .unwrap();
    assert_eq!(y.shape(), &[1, 3, 3, 0, 4]);
    // VALID with a filter one larger than the input: output size 0, no error.
    let valid = Conv3dAttrs {
        padding: Padding::Valid,
        ..Conv3dAttrs::default()
    };
    let y = conv3d(
        ArrayD::<f32>::ones(IxDyn(&[1, 3, 3, 3, 1])).view(),
        ArrayD::<f32>::ones(IxDyn(&[4, 4, 4, 1, 1])).view(),
        &valid,
        &ctx,
    )
    .unwrap();
    assert_eq!(y.shape(), &[1, 0, 0, 0, 1]);
    // Input channels 0 with an empty output passes (0 is a multiple of the filter depth).
    let y = conv3d(
        ArrayD::<f32>::zeros(IxDyn(&[0, 2, 2, 2, 0])).view(),
        ArrayD::<f32>::ones(IxDyn(&[1, 1, 1, 2, 3])).view(),
        &a,
        &ctx,
    )
    .unwrap();
    assert_eq!(y.shape(), &[0, 2, 2, 2, 3]);
    // A grouped convolution is refused, as TensorFlow's CPU kernel does.
    let err = conv3d(
        ArrayD::<f32>::zeros(IxDyn(&[1, 2, 2, 2, 4])).view(),
        ArrayD::<f32>::ones(IxDyn(&[1, 1, 1, 2, 3])).view(),
        &a,
        &ctx,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Number of channels in filter (2) must match last dimension of input (4)"
    );
    assert!(err.hint().is_some(), "every validation error has a hint");
}

#[test]
fn operands_must_match_their_params() {
    let a = Conv3dAttrs::default();
    let p = Conv3dParams::new(&[1, 4, 4, 4, 2], &[2, 2, 2, 2, 3], &a).unwrap();
    let x = ArrayD::<f32>::zeros(IxDyn(&[1, 4, 4, 5, 2]));
    let f = ArrayD::<f32>::zeros(IxDyn(&[2, 2, 2, 2, 3]));
    let err =
        blockspace_kernels::conv3d_with_params(&p, x.view(), f.view(), &KernelContext::default())
            .unwrap_err();
    assert!(matches!(err, KernelError::Conv3dInputRank { .. }), "{err}");
}
