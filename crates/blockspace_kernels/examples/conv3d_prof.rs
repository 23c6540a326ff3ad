//! Development timing of one shape: `conv3d_prof N D H W C K M STRIDE SAME|VALID f32|f64 THREADS RUNS`.
//! Prints min and median seconds and nominal GFLOP/s.

use blockspace_kernels::bench::{BenchCase, time, with_threads};
use blockspace_kernels::conv3d_backprop_input::Padding;
use blockspace_kernels::{Element, KernelContext};

fn go<T: Element>(case: &BenchCase, runs: usize) {
    let p = case.problem::<T>(3).expect("valid shape");
    let ctx = KernelContext::default();
    let t = time(2, runs, || p.run(&ctx).map(drop)).expect("runs");
    let gf = case.gflop().expect("valid shape");
    println!(
        "{} {:?}: min {:.5} s, median {:.5} s, {:.1} GFLOP/s (min), {:.1} (median)",
        T::NAME,
        case.input_sizes,
        t.min_s,
        t.median_s,
        gf / t.min_s,
        gf / t.median_s
    );
}

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize| a[i].parse::<usize>().expect("a number");
    let (n, d, h, w, c, k, m, s) = (
        num(0),
        num(1),
        num(2),
        num(3),
        num(4),
        num(5),
        num(6),
        num(7),
    );
    let case = BenchCase {
        name: "dev",
        label: "dev",
        input_sizes: [n, d, h, w, c],
        filter: [k, k, k, c, m],
        stride: s,
        padding: if a[8] == "SAME" {
            Padding::Same
        } else {
            Padding::Valid
        },
        target_s: [f64::NAN; 2],
    };
    let threads = num(10);
    let runs = num(11);
    with_threads(threads, || {
        if a[9] == "f64" {
            go::<f64>(&case, runs);
        } else {
            go::<f32>(&case, runs);
        }
    })
    .expect("pool");
}
