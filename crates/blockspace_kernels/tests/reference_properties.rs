//! Properties of the public kernel: it equals the naive reference on random problems (exactly,
//! on small-integer data where every partial sum is exact), and it is the adjoint of the forward
//! convolution: `<conv3d(x, F), dy> == <x, conv3d_backprop_input(F, dy)>`.

#![expect(clippy::unwrap_used, reason = "test helpers")]

use blockspace_kernels::conv3d_backprop_input::windowed_output_size;
use blockspace_kernels::{
    Conv3dBackpropInputAttrs, DataFormat, KernelContext, Padding, conv3d_backprop_input_v2,
    reference,
};
use ndarray::{ArrayD, IxDyn, arr1};
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Problem {
    n: usize,
    c: usize,
    m: usize,
    spatial: [usize; 3],
    kernel: [usize; 3],
    strides: [usize; 3],
    dilations: [usize; 3],
    padding: Padding,
    format: DataFormat,
    seed: u64,
}

fn problem() -> impl Strategy<Value = Problem> {
    let channels = (
        1usize..=2,
        prop::sample::select(vec![1usize, 2, 3, 7, 16, 17]),
        prop::sample::select(vec![1usize, 2, 3, 5, 16, 17]),
    );
    let layout = (
        prop_oneof![Just(Padding::Same), Just(Padding::Valid)],
        prop_oneof![Just(DataFormat::Ndhwc), Just(DataFormat::Ncdhw)],
    );
    (
        channels,
        prop::array::uniform3(1usize..=7),
        prop::array::uniform3(1usize..=4),
        prop::array::uniform3(1usize..=3),
        prop::array::uniform3(1usize..=2),
        layout,
        any::<u64>(),
    )
        .prop_map(
            |((n, c, m), spatial, kernel, strides, dilations, (padding, format), seed)| Problem {
                n,
                c,
                m,
                spatial,
                kernel,
                strides,
                dilations,
                padding,
                format,
                seed,
            },
        )
}

/// A tiny deterministic generator of small integers in [-3, 3].
fn ints(len: usize, seed: u64) -> Vec<f64> {
    let mut s = seed | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            f64::from(u8::try_from(s % 7).unwrap()) - 3.0
        })
        .collect()
}

struct Built {
    sizes: Vec<i64>,
    filter: ArrayD<f64>,
    dy: ArrayD<f64>,
    x: ArrayD<f64>,
    attrs: Conv3dBackpropInputAttrs,
}

fn to_i64(v: usize) -> i64 {
    i64::try_from(v).unwrap()
}

fn build(p: &Problem) -> Option<Built> {
    let mut out = [0usize; 3];
    for (i, o) in out.iter_mut().enumerate() {
        let w = windowed_output_size(
            to_i64(p.spatial[i]),
            to_i64(p.kernel[i]),
            to_i64(p.dilations[i]),
            to_i64(p.strides[i]),
            p.padding,
        )
        .ok()?;
        *o = usize::try_from(w.output).ok()?;
    }
    let [d, h, w] = p.spatial;
    let in_shape = p.format.shape_from_ndhwc([p.n, d, h, w, p.c]);
    let dy_shape = p
        .format
        .shape_from_ndhwc([p.n, out[0], out[1], out[2], p.m]);
    let f_shape = [p.kernel[0], p.kernel[1], p.kernel[2], p.c, p.m];
    let arr = |shape: &[usize], seed: u64| {
        let len = shape.iter().product();
        ArrayD::from_shape_vec(IxDyn(shape), ints(len, seed)).unwrap()
    };
    let five = |v: [usize; 3]| {
        let v = v.map(to_i64);
        match p.format {
            DataFormat::Ndhwc => vec![1, v[0], v[1], v[2], 1],
            DataFormat::Ncdhw => vec![1, 1, v[0], v[1], v[2]],
        }
    };
    Some(Built {
        sizes: in_shape.iter().map(|&v| to_i64(v)).collect(),
        filter: arr(&f_shape, p.seed),
        dy: arr(&dy_shape, p.seed.wrapping_add(1)),
        x: arr(&in_shape, p.seed.wrapping_add(2)),
        attrs: Conv3dBackpropInputAttrs {
            strides: five(p.strides),
            padding: p.padding,
            data_format: p.format,
            dilations: five(p.dilations),
        },
    })
}

#[expect(
    clippy::cast_possible_truncation,
    reason = "test data are small integers"
)]
fn f32s(a: &ArrayD<f64>) -> ArrayD<f32> {
    a.mapv(|v| v as f32)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    #[test]
    fn production_equals_reference(p in problem()) {
        let Some(b) = build(&p) else { return Ok(()) };
        let sizes = arr1(&b.sizes).into_dyn();
        let ctx = KernelContext::default();
        let want = reference::conv3d_backprop_input_v2(sizes.view(), b.filter.view(), b.dy.view(), &b.attrs).unwrap();
        let got = conv3d_backprop_input_v2(sizes.view(), b.filter.view(), b.dy.view(), &b.attrs, &ctx).unwrap();
        prop_assert_eq!(&got, &want, "f64 on integer data is exact in any order");
        let got32 = conv3d_backprop_input_v2(sizes.view(), f32s(&b.filter).view(), f32s(&b.dy).view(), &b.attrs, &ctx).unwrap();
        prop_assert_eq!(got32, f32s(&want), "f32 on integer data is exact too");
    }

    #[test]
    fn backprop_is_the_adjoint_of_the_forward_convolution(p in problem()) {
        let Some(b) = build(&p) else { return Ok(()) };
        let sizes = arr1(&b.sizes).into_dyn();
        let a = &b.attrs;
        let y = reference::conv3d(b.x.view(), b.filter.view(), &a.strides, a.padding, a.data_format, &a.dilations).unwrap();
        prop_assert_eq!(y.shape(), b.dy.shape(), "forward output matches out_backprop's shape");
        let dx = conv3d_backprop_input_v2(sizes.view(), b.filter.view(), b.dy.view(), a, &KernelContext::default()).unwrap();
        let lhs: f64 = y.iter().zip(b.dy.iter()).map(|(a, b)| a * b).sum();
        let rhs: f64 = b.x.iter().zip(dx.iter()).map(|(a, b)| a * b).sum();
        prop_assert!((lhs - rhs).abs() <= 1e-9 * (1.0 + lhs.abs()), "<conv3d(x,F),dy> = {} but <x,dx> = {}", lhs, rhs);
    }
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let p = Problem {
        n: 2,
        c: 5,
        m: 3,
        spatial: [9, 8, 7],
        kernel: [3, 2, 4],
        strides: [2, 1, 3],
        dilations: [1, 2, 1],
        padding: Padding::Same,
        format: DataFormat::Ndhwc,
        seed: 7,
    };
    let b = build(&p).unwrap();
    let sizes = arr1(&b.sizes).into_dyn();
    let noisy = |a: &ArrayD<f64>| f32s(&a.mapv(|v| (v * 0.377 + 0.1).sin()));
    let (f, dy) = (noisy(&b.filter), noisy(&b.dy));
    let run = |threads| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let ctx = KernelContext::default();
            conv3d_backprop_input_v2(sizes.view(), f.view(), dy.view(), &b.attrs, &ctx).unwrap()
        })
    };
    let one = run(1);
    assert_eq!(one, run(2), "bitwise equal for 1 and 2 threads");
    assert_eq!(one, run(3), "bitwise equal for 1 and 3 threads");
}
