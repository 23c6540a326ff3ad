//! Criterion benches: reference vs production kernel on a small shape, and the issue-5 shapes.

use std::hint::black_box;

use blockspace_kernels::bench::{BenchCase, CASES};
use blockspace_kernels::conv3d_backprop_input::{Conv3dBackpropInputAttrs, Padding};
use blockspace_kernels::{KernelContext, reference};
use criterion::{Criterion, criterion_group, criterion_main};
use ndarray::arr1;

fn small(c: &mut Criterion) {
    let case = BenchCase {
        name: "small",
        label: "reference vs fast",
        input_sizes: [1, 6, 8, 8, 8],
        filter: [3, 3, 3, 8, 8],
        stride: 1,
        padding: Padding::Same,
        target_s: [f64::NAN; 2],
    };
    let problem = case.problem::<f32>(1).expect("valid shape");
    let sizes: Vec<i64> = case.input_sizes.iter().map(|&v| v as i64).collect();
    let sizes = arr1(&sizes).into_dyn();
    let attrs = Conv3dBackpropInputAttrs::default();
    let mut group = c.benchmark_group("small_f32");
    group.bench_function("reference", |b| {
        b.iter(|| {
            reference::conv3d_backprop_input_v2(
                sizes.view(),
                problem.filter.view(),
                problem.out_backprop.view(),
                &attrs,
            )
            .expect("runs")
        });
    });
    group.bench_function("fast", |b| {
        let ctx = KernelContext::default();
        b.iter(|| black_box(problem.run(&ctx).expect("runs")));
    });
    group.finish();
}

fn issue_shapes(c: &mut Criterion) {
    let mut group = c.benchmark_group("issue5");
    group.sample_size(10);
    let ctx = KernelContext::default();
    let only: Option<String> = std::env::var("BLOCKSPACE_BENCH_SHAPES").ok();
    for case in CASES {
        // B1 always; the larger ones on request (they take seconds each).
        let wanted = only
            .as_deref()
            .map_or(case.name == "B1", |s| s.split(',').any(|n| n == case.name));
        if !wanted {
            continue;
        }
        let p32 = case.problem::<f32>(2).expect("valid shape");
        group.bench_function(format!("{}_f32", case.name), |b| {
            b.iter(|| black_box(p32.run(&ctx).expect("runs")));
        });
        let p64 = case.problem::<f64>(2).expect("valid shape");
        group.bench_function(format!("{}_f64", case.name), |b| {
            b.iter(|| black_box(p64.run(&ctx).expect("runs")));
        });
    }
    group.finish();
}

criterion_group!(benches, small, issue_shapes);
criterion_main!(benches);
