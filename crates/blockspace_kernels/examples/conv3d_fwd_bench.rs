//! Times `Conv3D` against `Conv3DBackpropInputV2` on the benchmark shapes B1–B5 (same nominal
//! FLOPs): `conv3d_fwd_bench [THREADS=2] [RUNS=7] [CASES=B1,B2,B3,B4,B5]`.
//!
//! Prints, per shape and dtype, the median seconds and GFLOP/s of both ops and the ratio of
//! `Conv3D`'s GFLOP/s to the backprop kernel's.

use blockspace_kernels::bench::{BenchCase, CASES, time, with_threads};
use blockspace_kernels::{Element, KernelContext};

fn row<T: Element>(case: &BenchCase, runs: usize) {
    let ctx = KernelContext::default();
    let gf = case.gflop().expect("valid shape");
    let fwd = case.conv3d_problem::<T>(3).expect("valid shape");
    let t_fwd = time(1, runs, || fwd.run(&ctx).map(drop)).expect("runs");
    drop(fwd);
    let bwd = case.problem::<T>(3).expect("valid shape");
    let t_bwd = time(1, runs, || bwd.run(&ctx).map(drop)).expect("runs");
    println!(
        "| {} | {} | {:.5} | {:.1} | {:.5} | {:.1} | {:.2} |",
        case.name,
        T::NAME,
        t_fwd.median_s,
        gf / t_fwd.median_s,
        t_bwd.median_s,
        gf / t_bwd.median_s,
        t_bwd.median_s / t_fwd.median_s
    );
}

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let threads = a.first().map_or(2, |v| v.parse().expect("threads"));
    let runs = a.get(1).map_or(7, |v| v.parse().expect("runs"));
    let names: Vec<String> = a.get(2).map_or_else(
        || CASES.iter().map(|c| c.name.to_owned()).collect(),
        |v| v.split(',').map(str::to_owned).collect(),
    );
    println!("threads {threads}, median of {runs} runs");
    println!("| case | dtype | Conv3D s | GFLOP/s | BackpropInputV2 s | GFLOP/s | ratio |");
    println!("|---|---|---|---|---|---|---|");
    with_threads(threads, || {
        for name in &names {
            let case = BenchCase::by_name(name).expect("a case B1..B5");
            row::<f32>(&case, runs);
            row::<f64>(&case, runs);
        }
    })
    .expect("a thread pool");
}
