//! Generators of the example pages for a whole 3-D convolution layer: `enuspace_demo`,
//! `conv_layer_gradients` and `adjoint_check` (Conv3D, both gradients and the arithmetic that
//! checks them on the page).

use super::{Builder, list, s};
use blockspace_graph::{AttrValue, BlockId, Page};

fn normal(
    b: &mut Builder,
    name: &str,
    pos: [f32; 2],
    dtype: &str,
    shape: &[i64],
    seed: i64,
) -> BlockId {
    b.block(
        "Input",
        name,
        pos,
        &[
            ("mode", s("normal")),
            ("dtype", s(dtype)),
            ("shape", list(shape)),
            ("std", AttrValue::Float(1.0)),
            ("seed", AttrValue::Int(seed)),
        ],
    )
}

fn literal(b: &mut Builder, name: &str, pos: [f32; 2], values: &str) -> BlockId {
    b.block(
        "Input",
        name,
        pos,
        &[("dtype", s("int32")), ("values", s(values))],
    )
}

/// Adds block `type_id` called `name` and wires `ins` (`(source, port)`, each source's first
/// output) into it.
fn op(
    b: &mut Builder,
    type_id: &str,
    name: &str,
    pos: [f32; 2],
    attrs: &[(&str, AttrValue)],
    ins: &[(BlockId, &str)],
) -> BlockId {
    let id = b.block(type_id, name, pos, attrs);
    for &(src, port) in ins {
        let out = b
            .page
            .block(src)
            .map(|blk| blk.type_id.clone())
            .unwrap_or_default();
        let d = b
            .reg
            .get(&out)
            .map(|d| d.outputs[0].name)
            .unwrap_or("output");
        b.page.connect(&b.reg, src, d, id, port).unwrap();
    }
    id
}

fn conv_attrs(stride: i64) -> Vec<(&'static str, AttrValue)> {
    vec![
        ("strides", list(&[1, stride, stride, stride, 1])),
        ("padding", s("SAME")),
    ]
}

/// The enuSpace op page's graph: Input → Conv3D → Conv3DBackpropInputV2.
pub fn enuspace_demo() -> Page {
    let mut b = Builder::new("enuspace_demo");
    let x = normal(&mut b, "input", [0.0, 0.0], "float32", &[1, 8, 8, 8, 2], 1);
    let f = normal(
        &mut b,
        "filter",
        [0.0, 230.0],
        "float32",
        &[3, 3, 3, 2, 4],
        2,
    );
    let sizes = literal(&mut b, "input_sizes", [0.0, 460.0], "1, 8, 8, 8, 2");
    let y = op(
        &mut b,
        "Conv3D",
        "Conv3D",
        [430.0, 60.0],
        &conv_attrs(1),
        &[(x, "input"), (f, "filter")],
    );
    op(
        &mut b,
        "Conv3DBackpropInputV2",
        "Conv3DBackpropInputV2",
        [860.0, 230.0],
        &conv_attrs(1),
        &[(sizes, "input_sizes"), (f, "filter"), (y, "out_backprop")],
    );
    b.page
}

/// One layer's forward pass and both gradients from one set of inputs.
pub fn conv_layer_gradients() -> Page {
    let mut b = Builder::new("conv_layer_gradients");
    let x = normal(&mut b, "x", [0.0, 0.0], "float32", &[1, 8, 8, 8, 4], 1);
    let f = normal(
        &mut b,
        "filter",
        [0.0, 230.0],
        "float32",
        &[3, 3, 3, 4, 8],
        2,
    );
    let dy = normal(&mut b, "dy", [0.0, 460.0], "float32", &[1, 4, 4, 4, 8], 3);
    let x_sizes = literal(&mut b, "x_sizes", [0.0, 690.0], "1, 8, 8, 8, 4");
    let f_sizes = literal(&mut b, "filter_sizes", [0.0, 860.0], "3, 3, 3, 4, 8");
    op(
        &mut b,
        "Conv3D",
        "y",
        [460.0, 0.0],
        &conv_attrs(2),
        &[(x, "input"), (f, "filter")],
    );
    op(
        &mut b,
        "Conv3DBackpropInputV2",
        "dx",
        [460.0, 300.0],
        &conv_attrs(2),
        &[
            (x_sizes, "input_sizes"),
            (f, "filter"),
            (dy, "out_backprop"),
        ],
    );
    op(
        &mut b,
        "Conv3DBackpropFilterV2",
        "dfilter",
        [460.0, 640.0],
        &conv_attrs(2),
        &[
            (x, "input"),
            (f_sizes, "filter_sizes"),
            (dy, "out_backprop"),
        ],
    );
    b.page
}

/// The adjoint identities `<conv3d(x, f), dy> = <x, dx> = <f, df>` computed on the page, in
/// float64, with the gaps between them.
pub fn adjoint_check() -> Page {
    let mut b = Builder::new("adjoint_check");
    let x = normal(&mut b, "x", [0.0, 0.0], "float64", &[1, 7, 6, 5, 3], 1);
    let f = normal(
        &mut b,
        "filter",
        [0.0, 230.0],
        "float64",
        &[3, 3, 3, 3, 4],
        2,
    );
    let dy = normal(&mut b, "dy", [0.0, 460.0], "float64", &[1, 4, 3, 3, 4], 3);
    let x_sizes = literal(&mut b, "x_sizes", [0.0, 690.0], "1, 7, 6, 5, 3");
    let f_sizes = literal(&mut b, "filter_sizes", [0.0, 860.0], "3, 3, 3, 3, 4");
    let axes = literal(&mut b, "all_axes", [0.0, 1030.0], "0, 1, 2, 3, 4");
    let y = op(
        &mut b,
        "Conv3D",
        "y",
        [430.0, 0.0],
        &conv_attrs(2),
        &[(x, "input"), (f, "filter")],
    );
    let dx = op(
        &mut b,
        "Conv3DBackpropInputV2",
        "dx",
        [430.0, 330.0],
        &conv_attrs(2),
        &[
            (x_sizes, "input_sizes"),
            (f, "filter"),
            (dy, "out_backprop"),
        ],
    );
    let df = op(
        &mut b,
        "Conv3DBackpropFilterV2",
        "dfilter",
        [430.0, 700.0],
        &conv_attrs(2),
        &[
            (x, "input"),
            (f_sizes, "filter_sizes"),
            (dy, "out_backprop"),
        ],
    );
    let mut dots = Vec::new();
    for (i, (a, bb, name)) in [(y, dy, "y.dy"), (x, dx, "x.dx"), (f, df, "filter.dfilter")]
        .into_iter()
        .enumerate()
    {
        let row = 60.0 + 330.0 * i as f32;
        let prod = op(
            &mut b,
            "Mul",
            &format!("{name}_product"),
            [860.0, row],
            &[],
            &[(a, "x"), (bb, "y")],
        );
        dots.push(op(
            &mut b,
            "Sum",
            name,
            [1180.0, row],
            &[],
            &[(prod, "input"), (axes, "axis")],
        ));
    }
    for (i, (other, name)) in [(dots[1], "gap_input"), (dots[2], "gap_filter")]
        .into_iter()
        .enumerate()
    {
        let row = 220.0 + 400.0 * i as f32;
        let diff = op(
            &mut b,
            "Sub",
            &format!("{name}_signed"),
            [1500.0, row],
            &[],
            &[(dots[0], "x"), (other, "y")],
        );
        op(&mut b, "Abs", name, [1820.0, row], &[], &[(diff, "x")]);
    }
    b.page
}

/// The scalar value of block `name`'s first output.
fn scalar(results: &super::Results, name: &str) -> f64 {
    match super::get(results, name) {
        blockspace_graph::Tensor::F64(a) => a.iter().copied().next().unwrap(),
        other => panic!("{name} is {:?}", other.dtype()),
    }
}

#[test]
fn adjoint_check_gaps_are_rounding_only() {
    let (_, results) = super::run_file(&super::examples_dir().join("adjoint_check.bspage.json"));
    let dot = scalar(&results, "y.dy");
    assert!(dot.abs() > 1.0, "a meaningful inner product: {dot}");
    for gap in ["gap_input", "gap_filter"] {
        let g = scalar(&results, gap);
        assert!(
            g >= 0.0 && g < 1e-12 * dot.abs().max(1.0),
            "{gap} = {g:e} (dot {dot})"
        );
    }
    let x_dx = scalar(&results, "x.dx");
    assert!(
        (x_dx - dot).abs() <= 1e-12 * dot.abs(),
        "<x, dx> = {x_dx}, <y, dy> = {dot}"
    );
}

#[test]
fn layer_gradients_match_the_naive_references() {
    use blockspace_kernels::{Conv3dAttrs, conv3d_backprop_filter, conv3d_backprop_input};
    let (page, results) =
        super::run_file(&super::examples_dir().join("conv_layer_gradients.bspage.json"));
    let attrs: Conv3dAttrs = super::kernel_attrs(&page, "y");
    let f32_of = |name: &str| match super::get(&results, name) {
        blockspace_graph::Tensor::F32(a) => a.clone(),
        other => panic!("{name} is {:?}", other.dtype()),
    };
    let (x, f, dy) = (f32_of("x"), f32_of("filter"), f32_of("dy"));
    let close = |got: &ndarray::ArrayD<f32>, want: &ndarray::ArrayD<f32>, what: &str| {
        assert_eq!(got.shape(), want.shape(), "{what}");
        let scale = want.iter().fold(0f32, |m, v| m.max(v.abs())).max(1.0);
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() <= 1e-5 * scale, "{what}: {g} vs {w}");
        }
    };
    let y = blockspace_kernels::conv3d::reference::conv3d(x.view(), f.view(), &attrs).unwrap();
    close(&f32_of("y"), &y, "y");
    let sizes = ndarray::arr1(&[1i64, 8, 8, 8, 4]).into_dyn();
    let dx = conv3d_backprop_input::reference::conv3d_backprop_input_v2(
        sizes.view(),
        f.view(),
        dy.view(),
        &attrs,
    )
    .unwrap();
    close(&f32_of("dx"), &dx, "dx");
    let fsizes = ndarray::arr1(&[3i64, 3, 3, 4, 8]).into_dyn();
    let df = conv3d_backprop_filter::reference::conv3d_backprop_filter_v2(
        x.view(),
        fsizes.view(),
        dy.view(),
        &attrs,
    )
    .unwrap();
    close(&f32_of("dfilter"), &df, "dfilter");
}

#[test]
fn enuspace_demo_round_trips_the_input_shape() {
    let (_, results) = super::run_file(&super::examples_dir().join("enuspace_demo.bspage.json"));
    assert_eq!(super::get(&results, "Conv3D").shape(), [1, 8, 8, 8, 4]);
    assert_eq!(
        super::get(&results, "Conv3DBackpropInputV2").shape(),
        [1, 8, 8, 8, 2]
    );
}
