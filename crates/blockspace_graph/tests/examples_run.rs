//! The demo pages in `examples/`: generated here (so they never drift from the code), loaded,
//! checked, run, and their results compared with the kernel's naive reference and with values
//! derived by hand.
//!
//! Regenerate the files with `BLOCKSPACE_BLESS=1 cargo test -p blockspace_graph --release --test examples_run`.

#![expect(clippy::unwrap_used, reason = "test helpers")]

use blockspace_graph::{
    AttrValue, BlockId, CheckOptions, Command, ExecEvent, Executor, Page, Registry, Tensor,
    check_page_with, load_page, page_to_json,
};
use blockspace_kernels::{Conv3dBackpropInputAttrs, reference};
use ndarray::{ArrayD, IxDyn};
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod layer_pages;

fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

fn s(v: &str) -> AttrValue {
    AttrValue::Str(v.to_owned())
}
fn list(v: &[i64]) -> AttrValue {
    AttrValue::IntList(v.to_vec())
}
fn f(v: f64) -> AttrValue {
    AttrValue::Float(v)
}

struct Builder {
    reg: Registry,
    page: Page,
}

impl Builder {
    fn new(name: &str) -> Self {
        Self {
            reg: Registry::builtin(),
            page: Page::new(name),
        }
    }
    fn block(
        &mut self,
        type_id: &str,
        name: &str,
        pos: [f32; 2],
        attrs: &[(&str, AttrValue)],
    ) -> BlockId {
        let id = self.page.add(&self.reg, type_id, name, attrs).unwrap();
        self.page
            .apply(
                &self.reg,
                Command::MoveBlocks {
                    moves: vec![(id, pos)],
                },
            )
            .unwrap();
        id
    }
    fn conv(
        &mut self,
        name: &str,
        pos: [f32; 2],
        attrs: &[(&str, AttrValue)],
        ins: [BlockId; 3],
    ) -> BlockId {
        let c = self.block("Conv3DBackpropInputV2", name, pos, attrs);
        for (src, port) in ins.iter().zip(["input_sizes", "filter", "out_backprop"]) {
            self.page
                .connect(&self.reg, *src, "output", c, port)
                .unwrap();
        }
        c
    }
}

fn minimal() -> Page {
    let mut b = Builder::new("minimal");
    let sizes = b.block(
        "Input",
        "input_sizes",
        [0.0, 0.0],
        &[("dtype", s("int32")), ("values", s("1, 4, 4, 4, 3"))],
    );
    let filter = b.block(
        "Input",
        "filter",
        [0.0, 230.0],
        &[
            ("mode", s("fill")),
            ("dtype", s("float32")),
            ("shape", list(&[2, 2, 2, 3, 4])),
            ("value", f(1.0)),
        ],
    );
    let dy = b.block(
        "Input",
        "out_backprop",
        [0.0, 460.0],
        &[
            ("mode", s("fill")),
            ("dtype", s("float32")),
            ("shape", list(&[1, 4, 4, 4, 4])),
            ("value", f(1.0)),
        ],
    );
    b.conv(
        "Conv3DBackpropInputV2",
        [430.0, 230.0],
        &[("padding", s("SAME"))],
        [sizes, filter, dy],
    );
    b.page
}

fn unet_upsample() -> Page {
    let mut b = Builder::new("unet_upsample");
    let sizes = b.block(
        "Input",
        "input_sizes",
        [0.0, 0.0],
        &[("dtype", s("int64")), ("values", s("[1, 16, 16, 16, 8]"))],
    );
    let filter = b.block(
        "Input",
        "filter",
        [0.0, 230.0],
        &[
            ("mode", s("normal")),
            ("dtype", s("float32")),
            ("shape", list(&[4, 4, 4, 8, 16])),
            ("std", f(0.1)),
            ("seed", AttrValue::Int(1)),
        ],
    );
    let dy = b.block(
        "Input",
        "decoder_features",
        [0.0, 460.0],
        &[
            ("mode", s("uniform")),
            ("dtype", s("float32")),
            ("shape", list(&[1, 8, 8, 8, 16])),
            ("low", f(-1.0)),
            ("high", f(1.0)),
            ("seed", AttrValue::Int(2)),
        ],
    );
    b.conv(
        "upsample",
        [430.0, 230.0],
        &[("strides", list(&[1, 2, 2, 2, 1])), ("padding", s("SAME"))],
        [sizes, filter, dy],
    );
    b.page
}

fn ncdhw_dilated() -> Page {
    let mut b = Builder::new("ncdhw_dilated");
    let sizes = b.block(
        "Input",
        "input_sizes",
        [0.0, 0.0],
        &[("dtype", s("int32")), ("values", s("2, 3, 9, 9, 9"))],
    );
    let filter = b.block(
        "Input",
        "filter",
        [0.0, 230.0],
        &[
            ("mode", s("range")),
            ("dtype", s("float64")),
            ("shape", list(&[3, 3, 3, 3, 5])),
            ("start", f(-1.0)),
            ("step", f(0.005)),
        ],
    );
    let dy = b.block(
        "Input",
        "out_backprop",
        [0.0, 460.0],
        &[
            ("mode", s("normal")),
            ("dtype", s("float64")),
            ("shape", list(&[2, 5, 5, 5, 5])),
            ("seed", AttrValue::Int(7)),
        ],
    );
    b.conv(
        "Conv3DBackpropInputV2",
        [430.0, 230.0],
        &[
            ("data_format", s("NCDHW")),
            ("padding", s("VALID")),
            ("dilations", list(&[1, 1, 2, 2, 2])),
        ],
        [sizes, filter, dy],
    );
    b.page
}

fn chain() -> Page {
    let mut b = Builder::new("chain");
    let sizes1 = b.block(
        "Input",
        "sizes_1",
        [0.0, 0.0],
        &[("dtype", s("int32")), ("values", s("1, 4, 4, 4, 8"))],
    );
    let filter1 = b.block(
        "Input",
        "filter_1",
        [0.0, 230.0],
        &[
            ("mode", s("uniform")),
            ("dtype", s("float32")),
            ("shape", list(&[3, 3, 3, 8, 4])),
            ("low", f(-0.5)),
            ("high", f(0.5)),
            ("seed", AttrValue::Int(11)),
        ],
    );
    let dy = b.block(
        "Input",
        "out_backprop",
        [0.0, 460.0],
        &[
            ("mode", s("uniform")),
            ("dtype", s("float32")),
            ("shape", list(&[1, 4, 4, 4, 4])),
            ("seed", AttrValue::Int(12)),
        ],
    );
    let c1 = b.conv("stage_1", [430.0, 230.0], &[], [sizes1, filter1, dy]);
    let sizes2 = b.block(
        "Input",
        "sizes_2",
        [430.0, 0.0],
        &[("dtype", s("int32")), ("values", s("1, 8, 8, 8, 2"))],
    );
    let filter2 = b.block(
        "Input",
        "filter_2",
        [430.0, 470.0],
        &[
            ("mode", s("uniform")),
            ("dtype", s("float32")),
            ("shape", list(&[2, 2, 2, 2, 8])),
            ("low", f(-0.5)),
            ("high", f(0.5)),
            ("seed", AttrValue::Int(13)),
        ],
    );
    b.conv(
        "stage_2",
        [860.0, 230.0],
        &[("strides", list(&[1, 2, 2, 2, 1]))],
        [sizes2, filter2, c1],
    );
    b.page
}

fn npy_inputs() -> Page {
    let mut b = Builder::new("npy_inputs");
    let sizes = b.block(
        "Input",
        "input_sizes",
        [0.0, 0.0],
        &[
            ("mode", s("npy")),
            ("dtype", s("int64")),
            ("path", s("data/npy_inputs_input_sizes.npy")),
        ],
    );
    let filter = b.block(
        "Input",
        "filter",
        [0.0, 230.0],
        &[
            ("mode", s("npy")),
            ("dtype", s("float64")),
            ("path", s("data/npy_inputs_filter.npy")),
        ],
    );
    let dy = b.block(
        "Input",
        "out_backprop",
        [0.0, 460.0],
        &[
            ("mode", s("npy")),
            ("dtype", s("float64")),
            ("shape", list(&[1, 3, 3, 3, 2])),
            ("path", s("data/npy_inputs_out_backprop.npy")),
        ],
    );
    b.conv(
        "Conv3DBackpropInputV2",
        [430.0, 230.0],
        &[("strides", list(&[1, 2, 2, 2, 1])), ("padding", s("VALID"))],
        [sizes, filter, dy],
    );
    b.page
}

/// The `.npy` files shipped beside `npy_inputs.bspage.json` (deterministic values).
fn npy_files() -> Vec<(&'static str, Tensor)> {
    let filter: Vec<f64> = (0..2 * 2 * 2 * 3 * 2)
        .map(|i| f64::from(i % 7) * 0.25 - 0.75)
        .collect();
    let dy: Vec<f64> = (0..3 * 3 * 3 * 2).map(|i| f64::from(i) / 10.0).collect();
    vec![
        (
            "data/npy_inputs_input_sizes.npy",
            Tensor::I64(ArrayD::from_shape_vec(IxDyn(&[5]), vec![1, 7, 7, 7, 3]).unwrap()),
        ),
        (
            "data/npy_inputs_filter.npy",
            Tensor::F64(ArrayD::from_shape_vec(IxDyn(&[2, 2, 2, 3, 2]), filter).unwrap()),
        ),
        (
            "data/npy_inputs_out_backprop.npy",
            Tensor::F64(ArrayD::from_shape_vec(IxDyn(&[1, 3, 3, 3, 2]), dy).unwrap()),
        ),
    ]
}

fn all_examples() -> Vec<(&'static str, Page)> {
    vec![
        ("minimal", minimal()),
        ("unet_upsample", unet_upsample()),
        ("ncdhw_dilated", ncdhw_dilated()),
        ("chain", chain()),
        ("npy_inputs", npy_inputs()),
        ("enuspace_demo", layer_pages::enuspace_demo()),
        ("conv_layer_gradients", layer_pages::conv_layer_gradients()),
        ("adjoint_check", layer_pages::adjoint_check()),
    ]
}

#[test]
fn example_files_match_their_generators() {
    let dir = examples_dir();
    let bless = std::env::var_os("BLOCKSPACE_BLESS").is_some();
    let reg = Registry::builtin();
    for (name, page) in all_examples() {
        let path = dir.join(format!("{name}.bspage.json"));
        let text = page_to_json(&reg, &page);
        if bless {
            std::fs::write(&path, &text).unwrap();
        }
        let on_disk = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{e}: {} (run with BLOCKSPACE_BLESS=1 to generate)",
                path.display()
            )
        });
        assert_eq!(
            on_disk,
            text,
            "{} is out of date; regenerate with BLOCKSPACE_BLESS=1",
            path.display()
        );
    }
    for (rel, tensor) in npy_files() {
        let path = dir.join(rel);
        if bless {
            tensor.write_npy(&path).unwrap();
        }
        let tmp = tempfile::tempdir().unwrap();
        let fresh = tmp.path().join("x.npy");
        tensor.write_npy(&fresh).unwrap();
        assert_eq!(
            std::fs::read(&path).unwrap(),
            std::fs::read(&fresh).unwrap(),
            "{} is out of date",
            path.display()
        );
    }
}

/// Runs a page file and returns every block's first output by name.
/// Every block's first output (or error) by block name.
type Results = Vec<(String, Result<Tensor, String>)>;

fn run_file(path: &Path) -> (Page, Results) {
    let reg = Arc::new(Registry::builtin());
    let page = load_page(&reg, path).unwrap_or_else(|e| panic!("{e}"));
    let base = path.parent().unwrap().to_owned();
    let check = check_page_with(
        &reg,
        &page,
        &CheckOptions {
            base_dir: Some(base.clone()),
            ..Default::default()
        },
    );
    let problems: Vec<String> = check.errors().map(ToString::to_string).collect();
    assert!(problems.is_empty(), "{}: {problems:?}", path.display());
    let mut exec = Executor::new(Arc::clone(&reg), Arc::new(|| {}));
    exec.run(&page, Some(base));
    let events = exec.wait();
    assert!(events.iter().any(|e| matches!(
        e,
        ExecEvent::Finished {
            cancelled: false,
            ..
        }
    )));
    let out = page
        .blocks()
        .map(|b| {
            let r = exec.result(b.id).expect("every block has a result");
            (
                b.name.clone(),
                r.outputs
                    .as_ref()
                    .map(|v| v[0].clone())
                    .map_err(ToString::to_string),
            )
        })
        .collect();
    // Every block's inferred shape matches what it produced.
    for b in page.blocks() {
        let meta = &check.block(b.id).unwrap().as_ref().unwrap()[0];
        let t = exec.result(b.id).unwrap().outputs.as_ref().unwrap();
        assert_eq!(&t[0].meta(), meta, "{}: block {:?}", path.display(), b.name);
    }
    (page, out)
}

fn kernel_attrs(page: &Page, name: &str) -> Conv3dBackpropInputAttrs {
    let b = page.block_by_name(name).unwrap();
    Conv3dBackpropInputAttrs {
        strides: b.attrs["strides"].as_int_list().unwrap().to_vec(),
        padding: b.attrs["padding"].as_str().unwrap().parse().unwrap(),
        data_format: b.attrs["data_format"].as_str().unwrap().parse().unwrap(),
        dilations: b.attrs["dilations"].as_int_list().unwrap().to_vec(),
    }
}

fn get<'a>(results: &'a [(String, Result<Tensor, String>)], name: &str) -> &'a Tensor {
    let (_, r) = results
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no block {name}"));
    r.as_ref().unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Checks a Conv3DBackpropInputV2 block's result against the naive reference on the same inputs.
fn assert_matches_reference(
    page: &Page,
    results: &[(String, Result<Tensor, String>)],
    conv: &str,
    ins: [&str; 3],
) {
    let attrs = kernel_attrs(page, conv);
    let sizes = get(results, ins[0]).to_i64().unwrap();
    let got = get(results, conv);
    let (max_err, scale) = match (get(results, ins[1]), get(results, ins[2]), got) {
        (Tensor::F32(fl), Tensor::F32(dy), Tensor::F32(out)) => {
            let want =
                reference::conv3d_backprop_input_v2(sizes.view(), fl.view(), dy.view(), &attrs)
                    .unwrap();
            assert_eq!(want.shape(), out.shape());
            let err = want
                .iter()
                .zip(out)
                .map(|(a, b)| f64::from((a - b).abs()))
                .fold(0.0, f64::max);
            (
                err,
                1e-4 * want.iter().map(|v| f64::from(v.abs())).fold(1.0, f64::max),
            )
        }
        (Tensor::F64(fl), Tensor::F64(dy), Tensor::F64(out)) => {
            let want =
                reference::conv3d_backprop_input_v2(sizes.view(), fl.view(), dy.view(), &attrs)
                    .unwrap();
            assert_eq!(want.shape(), out.shape());
            let err = want
                .iter()
                .zip(out)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            (
                err,
                1e-10 * want.iter().map(|v| v.abs()).fold(1.0, f64::max),
            )
        }
        other => panic!("unexpected dtypes {other:?}"),
    };
    assert!(max_err <= scale, "{conv}: max error {max_err} > {scale}");
}

#[test]
fn every_example_is_listed_and_runs() {
    let mut files: Vec<String> = std::fs::read_dir(examples_dir())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".bspage.json"))
        .collect();
    files.sort();
    let mut listed: Vec<String> = all_examples()
        .iter()
        .map(|(n, _)| format!("{n}.bspage.json"))
        .collect();
    listed.sort();
    assert_eq!(
        files, listed,
        "every example page has a generator and a check here"
    );
    let readme = std::fs::read_to_string(examples_dir().join("README.md")).unwrap();
    for f in &files {
        assert!(
            readme.contains(f.as_str()),
            "examples/README.md does not describe {f}"
        );
        let (_, results) = run_file(&examples_dir().join(f));
        for (name, r) in &results {
            assert!(r.is_ok(), "{f}: {name}: {r:?}");
        }
    }
}

#[test]
fn minimal_matches_hand_derived_values() {
    let (page, r) = run_file(&examples_dir().join("minimal.bspage.json"));
    assert_matches_reference(
        &page,
        &r,
        "Conv3DBackpropInputV2",
        ["input_sizes", "filter", "out_backprop"],
    );
    // Ones everywhere, k=2, s=1, SAME in 4 => pad_before 0: index 0 sees 1 tap per dim, others 2.
    // Each tap contributes M = 4.
    let out = get(&r, "Conv3DBackpropInputV2").to_f64();
    assert_eq!(out.shape(), &[1, 4, 4, 4, 3]);
    for ((_, d, h, w, _), v) in out
        .into_dimensionality::<ndarray::Ix5>()
        .unwrap()
        .indexed_iter()
    {
        let taps = |i: usize| if i == 0 { 1.0 } else { 2.0 };
        assert_eq!(*v, 4.0 * taps(d) * taps(h) * taps(w));
    }
}

#[test]
fn unet_upsample_doubles_resolution_and_matches_reference() {
    let (page, r) = run_file(&examples_dir().join("unet_upsample.bspage.json"));
    assert_eq!(get(&r, "upsample").shape(), &[1, 16, 16, 16, 8]);
    assert_matches_reference(
        &page,
        &r,
        "upsample",
        ["input_sizes", "filter", "decoder_features"],
    );
}

#[test]
fn ncdhw_dilated_matches_reference() {
    let (page, r) = run_file(&examples_dir().join("ncdhw_dilated.bspage.json"));
    assert_eq!(get(&r, "Conv3DBackpropInputV2").shape(), &[2, 3, 9, 9, 9]);
    assert_matches_reference(
        &page,
        &r,
        "Conv3DBackpropInputV2",
        ["input_sizes", "filter", "out_backprop"],
    );
}

#[test]
fn chain_matches_reference_at_both_stages() {
    let (page, r) = run_file(&examples_dir().join("chain.bspage.json"));
    assert_matches_reference(
        &page,
        &r,
        "stage_1",
        ["sizes_1", "filter_1", "out_backprop"],
    );
    assert_matches_reference(&page, &r, "stage_2", ["sizes_2", "filter_2", "stage_1"]);
    assert_eq!(get(&r, "stage_2").shape(), &[1, 8, 8, 8, 2]);
}

#[test]
fn npy_inputs_load_the_shipped_files() {
    let (page, r) = run_file(&examples_dir().join("npy_inputs.bspage.json"));
    for (rel, t) in npy_files() {
        let name = rel
            .trim_start_matches("data/npy_inputs_")
            .trim_end_matches(".npy");
        assert_eq!(get(&r, name), &t);
    }
    assert_matches_reference(
        &page,
        &r,
        "Conv3DBackpropInputV2",
        ["input_sizes", "filter", "out_backprop"],
    );
    assert_eq!(get(&r, "Conv3DBackpropInputV2").shape(), &[1, 7, 7, 7, 3]);
}
