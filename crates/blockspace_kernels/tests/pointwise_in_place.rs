//! Pointwise problems (`1×1×1` filter, unit strides) with outputs large enough to be stored
//! non-temporally, under the app's allocator (mimalloc), whose large blocks start on cache
//! lines: so the tiles store straight into the output, several channel blocks tile by tile,
//! which the other tests (glibc, whose large blocks are 16 bytes off a page) never reach.
//! Exact on small-integer data, on every microkernel path this CPU has.

use blockspace_kernels::{
    Conv3dAttrs, Conv3dBackpropInputParams, Conv3dParams, DataFormat, Element, KernelContext,
    KernelPath, Padding, conv3d_backprop_input_v2_on_path, conv3d_on_path,
};
use ndarray::{ArrayD, IxDyn};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Small integers in `-4..=4`, so every sum is exact in f32.
fn ints<T: Element>(shape: &[usize], seed: u64) -> ArrayD<T> {
    let mut s = seed | 1;
    ArrayD::from_shape_simple_fn(IxDyn(shape), || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        T::from_f64(((s >> 40) % 9) as f64 - 4.0)
    })
}

fn attrs() -> Conv3dAttrs {
    Conv3dAttrs {
        strides: vec![1; 5],
        padding: Padding::Valid,
        data_format: DataFormat::Ndhwc,
        dilations: vec![1; 5],
    }
}

/// `out[p, j] = Σ_i a[p, i] · w(i, j)` over the `P` positions of an NDHWC operand.
fn gemm<T: Element>(a: &ArrayD<T>, w: impl Fn(usize, usize) -> f64, n: usize) -> Vec<f64> {
    let k = *a.shape().last().expect("5-D");
    let a: Vec<f64> = a.iter().map(|v| v.to_f64()).collect();
    a.chunks(k)
        .flat_map(|row| (0..n).map(|j| row.iter().enumerate().map(|(i, v)| v * w(i, j)).sum()))
        .collect()
}

fn assert_exact<T: Element>(who: &str, got: &ArrayD<T>, want: &[f64]) {
    assert!(
        (got.as_ptr() as usize).is_multiple_of(64),
        "{who}: the output does not start on a cache line, so this test does not reach the \
         in-place path"
    );
    assert_eq!(got.len(), want.len(), "{who}");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g.to_f64(), *w, "{who}: element {i}");
    }
}

/// Spatial sizes: outputs of 8 MiB and more, rows (`H·W` positions) that are no whole number
/// of tiles, or are.
const SPATIAL: [[usize; 3]; 2] = [[33, 31, 33], [32, 32, 32]];

fn input_gradient<T: Element>(c: usize, m: usize) {
    for [d, h, w] in SPATIAL {
        let dy = ints::<T>(&[1, d, h, w, m], 7);
        let f = ints::<T>(&[1, 1, 1, c, m], 8);
        let sizes = ndarray::arr1(&[1i64, d as i64, h as i64, w as i64, c as i64]).into_dyn();
        let p =
            Conv3dBackpropInputParams::from_operands(sizes.view(), f.shape(), dy.shape(), &attrs())
                .expect("valid");
        let want = gemm(&dy, |i, j| f[[0, 0, 0, j, i]].to_f64(), c);
        for path in KernelPath::ALL {
            let ctx = KernelContext::default();
            let got = conv3d_backprop_input_v2_on_path(path, &p, f.view(), dy.view(), &ctx);
            if let Some(got) = got.expect("runs") {
                assert_exact(
                    &format!("input gradient {path:?} {} {d}×{h}×{w}", T::NAME),
                    &got,
                    &want,
                );
            }
        }
    }
}

fn forward<T: Element>(c: usize, m: usize) {
    for [d, h, w] in SPATIAL {
        let x = ints::<T>(&[1, d, h, w, c], 9);
        let f = ints::<T>(&[1, 1, 1, c, m], 10);
        let p = Conv3dParams::new(x.shape(), f.shape(), &attrs()).expect("valid");
        let want = gemm(&x, |i, j| f[[0, 0, 0, i, j]].to_f64(), m);
        for path in KernelPath::ALL {
            let ctx = KernelContext::default();
            if let Some(got) = conv3d_on_path(path, &p, x.view(), f.view(), &ctx).expect("runs") {
                assert_exact(
                    &format!("Conv3D {path:?} {} {d}×{h}×{w}", T::NAME),
                    &got,
                    &want,
                );
            }
        }
    }
}

#[test]
fn input_gradient_pointwise_in_place_is_exact() {
    // 64 output channels: four blocks on AVX2, one on AVX-512.
    input_gradient::<f32>(64, 16);
    input_gradient::<f64>(32, 16);
}

#[test]
fn conv3d_pointwise_in_place_is_exact() {
    forward::<f32>(16, 64);
    forward::<f64>(16, 32);
}
