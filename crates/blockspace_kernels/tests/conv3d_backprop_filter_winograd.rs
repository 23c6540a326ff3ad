//! The Winograd kernel of `Conv3DBackpropFilterV2` (`3×3×3` filters at stride 1): within its
//! documented error bound on random normal data against the float64 reference, exact on small
//! integers, on every kernel path; the production entry point uses it on large channel counts
//! with a result independent of the thread count, and falls back to the direct kernel on
//! non-finite data, and honours cancel, progress and the memory limit.

use blockspace_kernels::conv3d_backprop_filter::conv3d_backprop_filter_v2_winograd;
use blockspace_kernels::conv3d_backprop_filter::reference as bwf_reference;
use blockspace_kernels::conv3d_backprop_input::windowed_output_size;
use std::sync::{Arc, Mutex};

use blockspace_kernels::{
    CancelToken, Conv3dAttrs, Conv3dBackpropFilterParams, DataFormat, Element, KernelContext,
    KernelError, KernelPath, MemoryLimit, Padding, conv3d_backprop_filter_v2_with_params,
};
use ndarray::{ArrayD, IxDyn, arr1};
use proptest::prelude::*;

/// NDHWC input and gradient shapes, SAME or VALID.
struct Problem {
    attrs: Conv3dAttrs,
    x_shape: Vec<usize>,
    dy_shape: Vec<usize>,
    params: Conv3dBackpropFilterParams,
}

/// A `k×k×k` filter at stride `st` in every dimension, or `None` for an invalid shape.
fn problem(
    n: usize,
    spatial: [usize; 3],
    (k, st): (usize, usize),
    (c, m): (usize, usize),
    same: bool,
    format: DataFormat,
) -> Option<Problem> {
    let padding = if same { Padding::Same } else { Padding::Valid };
    let small = |v: usize| i64::try_from(v).ok();
    let mut out = [0usize; 3];
    for (o, &i) in out.iter_mut().zip(&spatial) {
        let win = windowed_output_size(small(i)?, small(k)?, 1, small(st)?, padding).ok()?;
        *o = usize::try_from(win.output).ok()?;
    }
    if out.contains(&0) {
        return None;
    }
    let strides = vec![1, small(st)?, small(st)?, small(st)?, 1];
    let attrs = Conv3dAttrs {
        padding,
        data_format: format,
        strides: match format {
            DataFormat::Ndhwc => strides,
            DataFormat::Ncdhw => vec![1, 1, strides[1], strides[2], strides[3]],
        },
        ..Conv3dAttrs::default()
    };
    let x_shape = format
        .shape_from_ndhwc([n, spatial[0], spatial[1], spatial[2], c])
        .to_vec();
    let dy_shape = format
        .shape_from_ndhwc([n, out[0], out[1], out[2], m])
        .to_vec();
    let sizes = [small(k)?, small(k)?, small(k)?, small(c)?, small(m)?];
    let params = Conv3dBackpropFilterParams::new(&x_shape, &[5], &sizes, &dy_shape, &attrs).ok()?;
    Some(Problem {
        attrs,
        x_shape,
        dy_shape,
        params,
    })
}

/// Standard normal values (Box–Muller on a 64-bit LCG), or small integers in `[-4, 4]`.
fn fill(len: usize, seed: u64, ints: bool) -> Vec<f64> {
    let mut s = seed;
    let mut uniform = move || {
        s = s
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((s >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    (0..len)
        .map(|_| {
            let (u1, u2) = (uniform(), uniform());
            if ints {
                (u1 * 9.0).floor() - 4.0
            } else {
                (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
            }
        })
        .collect()
}

fn array<T: Element>(shape: &[usize], v: &[f64]) -> ArrayD<T> {
    ArrayD::from_shape_vec(IxDyn(shape), v.iter().map(|&v| T::from_f64(v)).collect())
        .expect("shape")
}

/// `x` and `dy` as NDHWC `f64` arrays.
fn ndhwc(p: &Problem, x: &ArrayD<f64>, dy: &ArrayD<f64>) -> (ArrayD<f64>, ArrayD<f64>) {
    let perm = |a: &ArrayD<f64>| match p.params.data_format {
        DataFormat::Ndhwc => a.clone(),
        DataFormat::Ncdhw => a.view().permuted_axes(IxDyn(&[0, 2, 3, 4, 1])).to_owned(),
    };
    (perm(x), perm(dy))
}

/// The documented bound, `8·γ_{13+T}·Σ_t ‖d_t[ic]‖₁·‖g_t[oc]‖₁` per `(ic, oc)` (the same for
/// every tap), for unit roundoff `u`; `d_t` is the tile's `E³` input block (`E` = stride +
/// filter size).
fn bound(p: &Problem, x: &ArrayD<f64>, dy: &ArrayD<f64>, u: f64) -> Vec<f64> {
    let (x, dy) = ndhwc(p, x, dy);
    let q = &p.params;
    let (ic, oc) = (q.ic, q.oc);
    let st = q.strides[0];
    let e = st + q.kernel[0];
    let tiles = q.out_spatial.map(|o| o.div_ceil(2));
    let count = q.n * tiles.iter().product::<usize>();
    let nu = (13 + count) as f64 * u;
    let gamma = nu / (1.0 - nu);
    let mut sums = vec![0.0; ic * oc];
    let signed = |v: usize| isize::try_from(v).expect("small");
    for n in 0..q.n {
        for a in 0..tiles[0] {
            for b in 0..tiles[1] {
                for c in 0..tiles[2] {
                    let corner = [2 * a, 2 * b, 2 * c];
                    let mut xs = vec![0.0; ic];
                    for i in 0..e * e * e {
                        let at: Vec<isize> = [i / (e * e), (i / e) % e, i % e]
                            .iter()
                            .enumerate()
                            .map(|(k, &o)| signed(corner[k] * st + o) - signed(q.pad_before[k]))
                            .collect();
                        if at
                            .iter()
                            .zip(q.input_spatial)
                            .all(|(&v, len)| v >= 0 && v < signed(len))
                        {
                            for (ch, s) in xs.iter_mut().enumerate() {
                                *s += x[[n, at[0] as usize, at[1] as usize, at[2] as usize, ch]]
                                    .abs();
                            }
                        }
                    }
                    let mut gs = vec![0.0; oc];
                    for j in 0..8 {
                        let at = [
                            corner[0] + j / 4,
                            corner[1] + (j / 2) % 2,
                            corner[2] + j % 2,
                        ];
                        if at.iter().zip(q.out_spatial).all(|(&v, len)| v < len) {
                            for (ch, s) in gs.iter_mut().enumerate() {
                                *s += dy[[n, at[0], at[1], at[2], ch]].abs();
                            }
                        }
                    }
                    for (i, xv) in xs.iter().enumerate() {
                        for (o, gv) in gs.iter().enumerate() {
                            sums[i * oc + o] += xv * gv;
                        }
                    }
                }
            }
        }
    }
    sums.iter().map(|s| 8.0 * gamma * s).collect()
}

/// Winograd on every path against the float64 reference: within the bound on normal data,
/// exact on integers.
fn check<T: Element>(p: &Problem, seed: u64, ints: bool, u: f64) -> Result<(), TestCaseError> {
    let xv: Vec<f64> = fill(p.x_shape.iter().product(), seed, ints)
        .into_iter()
        .map(|v| T::from_f64(v).to_f64())
        .collect();
    let dyv: Vec<f64> = fill(p.dy_shape.iter().product(), seed ^ 0x9e37, ints)
        .into_iter()
        .map(|v| T::from_f64(v).to_f64())
        .collect();
    let (x64, dy64) = (
        array::<f64>(&p.x_shape, &xv),
        array::<f64>(&p.dy_shape, &dyv),
    );
    let sizes = arr1(
        &p.params
            .output_shape()
            .iter()
            .map(|&v| v as i64)
            .collect::<Vec<_>>(),
    )
    .into_dyn();
    let want =
        bwf_reference::conv3d_backprop_filter_v2(x64.view(), sizes.view(), dy64.view(), &p.attrs)
            .expect("reference");
    let limit = bound(p, &x64, &dy64, u);
    let (x, dy) = (array::<T>(&p.x_shape, &xv), array::<T>(&p.dy_shape, &dyv));
    let ctx = KernelContext::default();
    let oc = p.params.oc;
    let ic = p.params.ic;
    for path in KernelPath::ALL {
        let Some(got) =
            conv3d_backprop_filter_v2_winograd(path, &p.params, x.view(), dy.view(), &ctx)
                .expect("runs")
        else {
            continue;
        };
        prop_assert_eq!(got.shape(), want.shape());
        for (e, (g, w)) in got.iter().zip(&want).enumerate() {
            let (g, w) = (g.to_f64(), *w);
            if ints {
                prop_assert!(g == w, "{:?} {}: {} vs {} at {}", path, T::NAME, g, w, e);
            } else {
                let b = limit[(e / oc % ic) * oc + e % oc];
                prop_assert!(
                    (g - w).abs() <= b,
                    "{:?} {}: {} vs {} at {} (bound {})",
                    path,
                    T::NAME,
                    g,
                    w,
                    e,
                    b
                );
            }
        }
    }
    Ok(())
}

const CHANNELS: [usize; 5] = [1, 3, 8, 16, 17];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The Winograd kernel stays within its documented bound on random normal data and is
    /// exact on small integers, for odd and even sizes, both paddings and both layouts.
    #[test]
    fn winograd_is_within_its_bound(
        n in 1usize..=2,
        spatial in (1usize..=7, 1usize..=7, 1usize..=9),

        (ci, mi) in (0usize..CHANNELS.len(), 0usize..CHANNELS.len()),
        same in any::<bool>(),
        ncdhw in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let format = if ncdhw { DataFormat::Ncdhw } else { DataFormat::Ndhwc };
        let ks = (3, 1);
        let Some(p) = problem(n, [spatial.0, spatial.1, spatial.2], ks, (CHANNELS[ci], CHANNELS[mi]),
            same, format) else { return Ok(()); };
        check::<f32>(&p, seed, false, f64::from(f32::EPSILON) / 2.0)?;
        check::<f64>(&p, seed, false, f64::EPSILON / 2.0)?;
        check::<f32>(&p, seed, true, 0.0)?;
    }
}

/// A problem the production entry point sends to the Winograd kernel (512 tiles, 16 and 24
/// channels), with odd W so the last tiles are partial.
fn large() -> Problem {
    problem(2, [8, 10, 15], (3, 1), (16, 24), true, DataFormat::Ndhwc).expect("valid")
}

fn run_with(p: &Problem, x: &ArrayD<f32>, dy: &ArrayD<f32>, threads: usize) -> ArrayD<f32> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool")
        .install(|| {
            conv3d_backprop_filter_v2_with_params(
                &p.params,
                x.view(),
                dy.view(),
                &KernelContext::default(),
            )
            .expect("runs")
        })
}

#[test]
fn production_uses_winograd_with_a_thread_independent_result() {
    let p = large();
    let x = array::<f32>(&p.x_shape, &fill(p.x_shape.iter().product(), 1, false));
    let dy = array::<f32>(&p.dy_shape, &fill(p.dy_shape.iter().product(), 2, false));
    let one = run_with(&p, &x, &dy, 1);
    assert_eq!(one, run_with(&p, &x, &dy, 2), "1 vs 2 threads");
    assert_eq!(one, run_with(&p, &x, &dy, 3), "1 vs 3 threads");
    let mut same_as_winograd = false;
    for path in KernelPath::ALL {
        if let Some(w) = conv3d_backprop_filter_v2_winograd(
            path,
            &p.params,
            x.view(),
            dy.view(),
            &KernelContext::default(),
        )
        .expect("runs")
        {
            same_as_winograd |= w == one;
        }
    }
    assert!(same_as_winograd, "the production result is a Winograd one");
}

#[test]
fn non_finite_data_falls_back_to_the_direct_kernel() {
    let p = large();
    let mut xv = fill(p.x_shape.iter().product(), 3, true);
    let mut dyv = fill(p.dy_shape.iter().product(), 4, true);
    // An infinite gradient at position (0, 0, 0, 1): the direct method skips the taps outside
    // the input in D and H (finite there), Winograd would multiply the zero padding by it (NaN).
    dyv[24] = f64::INFINITY;
    xv[17] = f64::NAN;
    let (x, dy) = (
        array::<f32>(&p.x_shape, &xv),
        array::<f32>(&p.dy_shape, &dyv),
    );
    for path in KernelPath::ALL {
        let w = conv3d_backprop_filter_v2_winograd(
            path,
            &p.params,
            x.view(),
            dy.view(),
            &KernelContext::default(),
        )
        .expect("runs");
        assert!(
            w.is_none(),
            "{path:?}: a non-finite Winograd result is refused"
        );
    }
    let got = run_with(&p, &x, &dy, 2);
    let sizes = arr1(&[3i64, 3, 3, 16, 24]).into_dyn();
    let want =
        bwf_reference::conv3d_backprop_filter_v2(x.view(), sizes.view(), dy.view(), &p.attrs)
            .expect("reference");
    let mut finite = 0;
    for ((at, g), w) in got.indexed_iter().zip(&want) {
        assert_eq!(g.is_nan(), w.is_nan(), "{g} vs {w} at {at:?}");
        if !w.is_nan() {
            assert_eq!(g, w, "integers: exact (or the same infinity)");
            finite += usize::from(w.is_finite());
        }
    }
    assert!(
        finite > 0,
        "some entries stay finite, as the direct method gives them"
    );
}

#[test]
fn winograd_honours_cancel_progress_and_the_memory_limit() {
    let p = large();
    let x = array::<f32>(&p.x_shape, &fill(p.x_shape.iter().product(), 5, true));
    let dy = array::<f32>(&p.dy_shape, &fill(p.dy_shape.iter().product(), 6, true));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let ctx = KernelContext {
        progress: Some(Arc::new(move |f| sink.lock().expect("lock").push(f))),
        ..KernelContext::default()
    };
    conv3d_backprop_filter_v2_with_params(&p.params, x.view(), dy.view(), &ctx).expect("runs");
    let seen = seen.lock().expect("lock");
    assert_eq!(seen.last().copied(), Some(1.0), "ends at 1: {seen:?}");
    assert!(seen.iter().all(|&f| (0.0..=1.0).contains(&f)), "{seen:?}");
    let cancel = CancelToken::new();
    cancel.cancel();
    let ctx = KernelContext {
        cancel,
        ..KernelContext::default()
    };
    let err = conv3d_backprop_filter_v2_with_params(&p.params, x.view(), dy.view(), &ctx)
        .expect_err("cancelled");
    assert_eq!(err, KernelError::Cancelled);
    // The output (41 KB) fits, the partial sums of the spans (2 × 64·16·24 floats or more)
    // do not.
    let ctx = KernelContext {
        limit: MemoryLimit::bytes(100_000),
        ..KernelContext::default()
    };
    let err = conv3d_backprop_filter_v2_with_params(&p.params, x.view(), dy.view(), &ctx)
        .expect_err("over the limit");
    assert!(
        matches!(err, KernelError::TooLarge { what, .. } if what.contains("Winograd")),
        "{err}"
    );
}
