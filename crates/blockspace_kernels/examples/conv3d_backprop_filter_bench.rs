//! Times `Conv3DBackpropFilterV2` on the bench shapes B1–B5 (input = the case's `input_sizes`,
//! `out_backprop` = the forward output, same strides and padding), f32 and f64, next to
//! `Conv3DBackpropInputV2` on the same shapes in the same run.
//!
//! `conv3d_backprop_filter_bench [THREADS=2] [RUNS=7] [CASES=B1,B2,B3,B4,B5]`

use blockspace_kernels::bench::{CASES, time, with_threads};
use blockspace_kernels::{
    Conv3dAttrs, Conv3dBackpropFilterParams, Element, KernelContext,
    conv3d_backprop_filter_v2_with_params,
};
use ndarray::{ArrayD, IxDyn};

fn go<T: Element>(case: &blockspace_kernels::bench::BenchCase, runs: usize) {
    let bwi = case.problem::<T>(7).expect("valid case");
    let s = i64::try_from(case.stride).expect("small");
    let attrs = Conv3dAttrs {
        strides: vec![1, s, s, s, 1],
        padding: case.padding,
        ..Conv3dAttrs::default()
    };
    let dy_shape = bwi.params.out_backprop_ndhwc();
    let sizes: Vec<i64> = case
        .filter
        .iter()
        .map(|&v| i64::try_from(v).expect("small"))
        .collect();
    let p = Conv3dBackpropFilterParams::new(&case.input_sizes, &[5], &sizes, &dy_shape, &attrs)
        .expect("valid");
    let mut seed = 0x1234_5678_u64;
    let mut rnd = || {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        #[expect(clippy::cast_precision_loss, reason = "random bits")]
        let v = (seed >> 11) as f64 / (1u64 << 53) as f64;
        T::from_f64(2.0 * v - 1.0)
    };
    let x = ArrayD::from_shape_simple_fn(IxDyn(&case.input_sizes), &mut rnd);
    let dy = ArrayD::from_shape_simple_fn(IxDyn(&dy_shape), &mut rnd);
    let ctx = KernelContext::default();
    let tf = time(2, runs, || {
        conv3d_backprop_filter_v2_with_params(&p, x.view(), dy.view(), &ctx).map(drop)
    })
    .expect("runs");
    // BWF_ONLY=1 times the filter gradient alone (for profilers).
    if std::env::var_os("BWF_ONLY").is_some() {
        println!("{} {}: {:.5} s", case.name, T::NAME, tf.median_s);
        return;
    }
    let ti = time(2, runs, || bwi.run(&ctx).map(drop)).expect("runs");
    let gflop = p.nominal_flops() / 1e9;
    let (gf, gi) = (gflop / tf.median_s, gflop / ti.median_s);
    println!(
        "| {} | {} | {:.5} | {:.1} | {:.5} | {:.1} | {:.2} | {:.2} |",
        case.name,
        T::NAME,
        tf.median_s,
        gf,
        ti.median_s,
        gi,
        gf / gi,
        ti.min_s / tf.min_s
    );
}

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let threads = a.first().map_or(2, |v| v.parse().expect("threads"));
    let runs = a.get(1).map_or(7, |v| v.parse().expect("runs"));
    let which = a.get(2).cloned().unwrap_or_else(|| "B1,B2,B3,B4,B5".into());
    with_threads(threads, || {
        println!(
            "| case | dtype | filter grad median s | GFLOP/s | input grad median s | GFLOP/s | ratio | ratio of min |"
        );
        println!("|---|---|---|---|---|---|---|---|");
        for case in CASES.iter().filter(|c| which.split(',').any(|w| w == c.name)) {
            go::<f32>(case, runs);
            go::<f64>(case, runs);
        }
    })
    .expect("pool");
}
