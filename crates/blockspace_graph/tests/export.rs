//! Exporting pages as Python scripts: every example for both frameworks, names
//! that are not Python identifiers, refusals, the exported example scripts kept fresh, and —
//! where TensorFlow or PyTorch is importable — the scripts run with `--compare` against
//! Blockspace's own results.
//!
//! The Python used is `$BLOCKSPACE_PYTHON` (e.g. a virtual environment with `tensorflow-cpu`),
//! else `python3`. Tests that need a framework print why they skip when it is not importable.
//! Regenerate `examples/exported/` with
//! `BLOCKSPACE_BLESS=1 cargo test -p blockspace_graph --release --test export`.

#![expect(clippy::unwrap_used, reason = "test helpers")]

#[path = "support/export.rs"]
mod support;

use blockspace_graph::export::{ExportError, ExportOptions, Framework};
use blockspace_graph::{
    AttrValue, BlockId, Executor, Page, Registry, export_page, load_page, npy_name, write_export,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use support::{examples_dir, export_to, importable, python_for, run_python, run_python_with};

fn example_pages() -> Vec<(String, PathBuf)> {
    let mut pages: Vec<(String, PathBuf)> = std::fs::read_dir(examples_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|p| {
            let name = p
                .file_name()?
                .to_str()?
                .strip_suffix(".bspage.json")?
                .to_owned();
            Some((name, p))
        })
        .collect();
    pages.sort();
    assert!(pages.len() >= 8, "{pages:?}");
    pages
}

/// Runs the page with Blockspace's executor and writes `blockspace run --output DIR`'s files.
fn run_blockspace(page_path: &Path, dir: &Path) {
    let reg = Arc::new(Registry::builtin());
    let page = load_page(&reg, page_path).unwrap();
    let mut exec = Executor::new(Arc::clone(&reg), Arc::new(|| {}));
    exec.run(&page, page_path.parent().map(Path::to_owned));
    exec.wait();
    std::fs::create_dir_all(dir).unwrap();
    for b in page.blocks() {
        let d = reg.get(&b.type_id).unwrap();
        let outs = exec.result(b.id).unwrap().outputs.as_ref().unwrap();
        for (spec, t) in d.outputs.iter().zip(outs.iter()) {
            t.write_npy(&dir.join(npy_name(&b.name, spec.name, d.outputs.len())))
                .unwrap();
        }
    }
}

#[test]
fn every_example_exports_for_both_frameworks_and_compiles() {
    let tmp = tempfile::tempdir().unwrap();
    let compile = importable("py_compile");
    for (name, path) in example_pages() {
        for fw in Framework::ALL {
            let script = export_to(&path, fw, tmp.path());
            let text = std::fs::read_to_string(&script).unwrap();
            assert!(text.is_ascii(), "{name} {fw}");
            assert!(text.contains("def compute():"), "{name} {fw}");
            if compile {
                let (ok, out) = run_python(&["-m", "py_compile", script.to_str().unwrap()]);
                assert!(ok, "{name} {fw}: {out}\n{text}");
            }
        }
    }
}

#[test]
fn random_and_npy_inputs_are_materialised_bit_for_bit() {
    let reg = Registry::builtin();
    let path = examples_dir().join("adjoint_check.bspage.json");
    let page = load_page(&reg, &path).unwrap();
    let script = Path::new("/tmp/adjoint.py");
    let exported = export_page(
        &reg,
        &page,
        path.parent(),
        &ExportOptions::script(Framework::TensorFlow, script),
    )
    .unwrap();
    assert_eq!(exported.inputs_dir, "adjoint_inputs");
    let names: Vec<&str> = exported.files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["x.npy", "filter.npy", "dy.npy"]);
    // Literal inputs are inline; the big random ones are the executor's exact values.
    assert!(
        exported
            .script
            .contains("x_sizes = tf.constant(np.array([1, 7, 6, 5, 3], dtype=np.int32))"),
        "{}",
        exported.script
    );
    let mut exec = Executor::new(Arc::new(Registry::builtin()), Arc::new(|| {}));
    exec.run(&page, path.parent().map(Path::to_owned));
    exec.wait();
    let x = page.block_by_name("x").unwrap().id;
    assert_eq!(
        exec.result(x).unwrap().outputs.as_ref().unwrap()[0],
        exported.files[0].1
    );
}

fn page_with_names(names: &[&str]) -> (Registry, Page, Vec<BlockId>) {
    let reg = Registry::builtin();
    let mut page = Page::new("names");
    let mut ids = Vec::new();
    for (i, n) in names.iter().enumerate() {
        let id = page
            .add(
                &reg,
                "Input",
                n,
                &[
                    ("dtype", AttrValue::Str("float64".into())),
                    ("values", AttrValue::Str(format!("{}, 2, 3", i + 1))),
                ],
            )
            .unwrap();
        ids.push(id);
    }
    (reg, page, ids)
}

#[test]
fn keywords_and_names_equal_after_cleaning_export_to_distinct_identifiers() {
    let (reg, mut page, ids) = page_with_names(&[
        "lambda", "x.y", "x_y", "x-y", "np", "tf", "compute", "None", "9lives",
    ]);
    let sum = page.add(&reg, "AddV2", "class", &[]).unwrap();
    page.connect(&reg, ids[0], "output", sum, "x").unwrap();
    page.connect(&reg, ids[1], "output", sum, "y").unwrap();
    for fw in Framework::ALL {
        let tmp = tempfile::tempdir().unwrap();
        let script = tmp.path().join("names.py");
        let e = export_page(&reg, &page, None, &ExportOptions::script(fw, &script)).unwrap();
        for v in [
            "lambda_ =",
            "x_y =",
            "x_y_1 =",
            "x_y_2 =",
            "np_ =",
            "tf_ =",
            "compute_ =",
            "None_ =",
            "b9lives =",
            "class_ =",
        ] {
            assert!(e.script.contains(v), "{v}\n{}", e.script);
        }
        write_export(&e, &script).unwrap();
        if fw == Framework::TensorFlow && importable("tensorflow") {
            let out = tmp.path().join("out");
            let (ok, text) =
                run_python(&[script.to_str().unwrap(), "--output", out.to_str().unwrap()]);
            assert!(ok, "{text}");
            assert!(
                out.join("x.y.npy").exists() && out.join("class.npy").exists(),
                "{text}"
            );
        }
    }
}

#[test]
fn a_page_that_fails_its_check_is_refused_with_the_checks_message() {
    let reg = Registry::builtin();
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/broken_blocks.bspage.json");
    let page = load_page(&reg, &path).unwrap();
    let err = export_page(
        &reg,
        &page,
        path.parent(),
        &ExportOptions::script(Framework::TensorFlow, Path::new("o.py")),
    )
    .unwrap_err();
    assert!(matches!(err, ExportError::Check { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("does not pass its check")
            && text.contains("block \"batch_stride\", attr `strides`"),
        "{text}"
    );
}

#[test]
fn exported_example_scripts_are_fresh() {
    let dir = examples_dir().join("exported");
    let bless = std::env::var_os("BLOCKSPACE_BLESS").is_some();
    let reg = Registry::builtin();
    for fw in Framework::ALL {
        let page_path = examples_dir().join("adjoint_check.bspage.json");
        let page = load_page(&reg, &page_path).unwrap();
        let script = dir.join(format!("adjoint_check_{}.py", fw.as_str()));
        let e = export_page(
            &reg,
            &page,
            page_path.parent(),
            &ExportOptions::script(fw, &script),
        )
        .unwrap();
        if bless {
            write_export(&e, &script).unwrap();
        }
        let on_disk = std::fs::read_to_string(&script).unwrap_or_else(|err| {
            panic!(
                "{err}: {} (run with BLOCKSPACE_BLESS=1 to generate)",
                script.display()
            )
        });
        assert_eq!(
            on_disk,
            e.script,
            "{} is out of date; regenerate with BLOCKSPACE_BLESS=1",
            script.display()
        );
        let tmp = tempfile::tempdir().unwrap();
        for (name, t) in &e.files {
            let fresh = tmp.path().join(name);
            t.write_npy(&fresh).unwrap();
            assert_eq!(
                std::fs::read(dir.join(&e.inputs_dir).join(name)).unwrap(),
                std::fs::read(&fresh).unwrap(),
                "{name} is out of date; regenerate with BLOCKSPACE_BLESS=1"
            );
        }
    }
}

fn compare_every_example(module: &str, fw: Framework) {
    compare_pages(module, fw, example_pages());
}

fn compare_pages(module: &str, fw: Framework, pages: Vec<(String, PathBuf)>) {
    if !importable(module) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for (name, path) in pages {
        let reference = tmp.path().join(format!("{name}_blockspace"));
        run_blockspace(&path, &reference);
        let script = export_to(&path, fw, tmp.path());
        let (ok, out) = run_python_with(
            &python_for(module),
            &[
                script.to_str().unwrap(),
                "--compare",
                reference.to_str().unwrap(),
            ],
        );
        println!("== {name} ({fw})\n{out}");
        if !ok {
            failures.push(name);
        }
    }
    assert!(failures.is_empty(), "{fw} disagrees on {failures:?}");
}

#[test]
fn tensorflow_scripts_agree_with_blockspace() {
    compare_every_example("tensorflow", Framework::TensorFlow);
}

#[test]
fn pytorch_scripts_agree_with_blockspace() {
    compare_every_example("torch", Framework::PyTorch);
}

fn s(v: &str) -> AttrValue {
    AttrValue::Str(v.to_owned())
}
fn list(v: &[i64]) -> AttrValue {
    AttrValue::IntList(v.to_vec())
}

/// The corners the example pages do not reach: NCDHW and dilations for all three convolutions,
/// SAME with negative padding (Eigen's shifted Conv3D window), float32 and float64, and the
/// reductions over no axes, negative axes and an empty extent.
fn corner_page(dtype: &str) -> Page {
    let reg = Registry::builtin();
    let mut p = Page::new(format!("corners_{dtype}"));
    let mut seed = 0;
    let mut normal = |p: &mut Page, name: &str, shape: &[i64]| {
        seed += 1;
        p.add(
            &reg,
            "Input",
            name,
            &[
                ("mode", s("normal")),
                ("dtype", s(dtype)),
                ("shape", list(shape)),
                ("seed", AttrValue::Int(seed)),
            ],
        )
        .unwrap()
    };
    // input_sizes may be int32 or int64 (int64 here); filter_sizes is int32 only, as in
    // TensorFlow.
    let sizes = |p: &mut Page, name: &str, dtype: &str, v: &[i64]| {
        let text = v
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        p.add(
            &reg,
            "Input",
            name,
            &[("dtype", s(dtype)), ("values", s(&text))],
        )
        .unwrap()
    };
    let conv = |p: &mut Page,
                ty: &str,
                name: &str,
                attrs: [(&str, AttrValue); 4],
                ins: &[(BlockId, &str)]| {
        let c = p.add(&reg, ty, name, &attrs).unwrap();
        for (src, port) in ins {
            p.connect(&reg, *src, "output", c, port).unwrap();
        }
    };
    // Conv3D, NCDHW, dilated, strided, SAME.
    let x = normal(&mut p, "a_x", &[2, 3, 7, 6, 8]);
    let f = normal(&mut p, "a_f", &[2, 3, 2, 3, 4]);
    conv(
        &mut p,
        "Conv3D",
        "a_conv",
        [
            ("data_format", s("NCDHW")),
            ("padding", s("SAME")),
            ("strides", list(&[1, 1, 1, 2, 3])),
            ("dilations", list(&[1, 1, 2, 1, 2])),
        ],
        &[(x, "input"), (f, "filter")],
    );
    // Conv3D, SAME with negative padding (Eigen shifts this window).
    let x = normal(&mut p, "b_x", &[2, 4, 6, 8, 2]);
    let f = normal(&mut p, "b_f", &[1, 1, 1, 2, 3]);
    conv(
        &mut p,
        "Conv3D",
        "b_conv",
        [
            ("data_format", s("NDHWC")),
            ("padding", s("SAME")),
            ("strides", list(&[1, 1, 3, 2, 1])),
            ("dilations", list(&[1, 1, 1, 1, 1])),
        ],
        &[(x, "input"), (f, "filter")],
    );
    // Conv3DBackpropInputV2, NDHWC, dilated, strided, SAME.
    let n = sizes(&mut p, "c_sizes", "int64", &[1, 7, 6, 9, 2]);
    let f = normal(&mut p, "c_f", &[3, 2, 3, 2, 3]);
    let dy = normal(&mut p, "c_dy", &[1, 4, 6, 5, 3]);
    conv(
        &mut p,
        "Conv3DBackpropInputV2",
        "c_dx",
        [
            ("data_format", s("NDHWC")),
            ("padding", s("SAME")),
            ("strides", list(&[1, 2, 1, 2, 1])),
            ("dilations", list(&[1, 2, 1, 2, 1])),
        ],
        &[(n, "input_sizes"), (f, "filter"), (dy, "out_backprop")],
    );
    // Conv3DBackpropFilterV2, NCDHW, dilated, strided, VALID.
    let x = normal(&mut p, "d_x", &[1, 2, 9, 8, 7]);
    let n = sizes(&mut p, "d_sizes", "int32", &[3, 2, 2, 2, 3]);
    let dy = normal(&mut p, "d_dy", &[1, 3, 3, 5, 3]);
    conv(
        &mut p,
        "Conv3DBackpropFilterV2",
        "d_df",
        [
            ("data_format", s("NCDHW")),
            ("padding", s("VALID")),
            ("strides", list(&[1, 1, 2, 1, 2])),
            ("dilations", list(&[1, 1, 2, 3, 1])),
        ],
        &[(x, "input"), (n, "filter_sizes"), (dy, "out_backprop")],
    );
    // Both gradients where SAME padding is negative (stride beyond the window), NCDHW.
    let n = sizes(&mut p, "e_sizes", "int64", &[1, 2, 6, 5, 4]);
    let f = normal(&mut p, "e_f", &[1, 2, 1, 2, 3]);
    let dy = normal(&mut p, "e_dy", &[1, 3, 2, 3, 2]);
    conv(
        &mut p,
        "Conv3DBackpropInputV2",
        "e_dx",
        [
            ("data_format", s("NCDHW")),
            ("padding", s("SAME")),
            ("strides", list(&[1, 1, 3, 2, 3])),
            ("dilations", list(&[1, 1, 1, 1, 1])),
        ],
        &[(n, "input_sizes"), (f, "filter"), (dy, "out_backprop")],
    );
    let x = normal(&mut p, "e_x", &[1, 2, 6, 5, 4]);
    let fs = sizes(&mut p, "e_fsizes", "int32", &[1, 2, 1, 2, 3]);
    conv(
        &mut p,
        "Conv3DBackpropFilterV2",
        "e_df",
        [
            ("data_format", s("NCDHW")),
            ("padding", s("SAME")),
            ("strides", list(&[1, 1, 3, 2, 3])),
            ("dilations", list(&[1, 1, 1, 1, 1])),
        ],
        &[(x, "input"), (fs, "filter_sizes"), (dy, "out_backprop")],
    );
    // Reductions: no axes, negative axes with keep_dims, an empty extent.
    let r = normal(&mut p, "r_x", &[2, 3, 4]);
    let none = p
        .add(
            &reg,
            "Input",
            "r_none",
            &[("dtype", s("int32")), ("values", s("[]"))],
        )
        .unwrap();
    let neg = p
        .add(
            &reg,
            "Input",
            "r_neg",
            &[("dtype", s("int32")), ("values", s("-1, 0"))],
        )
        .unwrap();
    let empty = p
        .add(
            &reg,
            "Input",
            "r_empty",
            &[
                ("mode", s("fill")),
                ("dtype", s(dtype)),
                ("shape", list(&[2, 0, 3])),
            ],
        )
        .unwrap();
    let one = p
        .add(
            &reg,
            "Input",
            "r_one",
            &[("dtype", s("int32")), ("values", s("1"))],
        )
        .unwrap();
    for (ty, name, input, axis, keep) in [
        ("Sum", "sum_none", r, none, false),
        ("Max", "max_none", r, none, true),
        ("Sum", "sum_neg", r, neg, true),
        ("Max", "max_neg", r, neg, false),
        ("Sum", "sum_empty", empty, one, false),
        ("Max", "max_empty", empty, one, true),
    ] {
        let b = p
            .add(&reg, ty, name, &[("keep_dims", AttrValue::Bool(keep))])
            .unwrap();
        p.connect(&reg, input, "output", b, "input").unwrap();
        p.connect(&reg, axis, "output", b, "axis").unwrap();
    }
    p
}

fn corner_pages(dir: &Path) -> Vec<(String, PathBuf)> {
    let reg = Registry::builtin();
    ["float64", "float32"]
        .iter()
        .map(|dtype| {
            let page = corner_page(dtype);
            let check = blockspace_graph::check_page(&reg, &page);
            let errors: Vec<String> = check.errors().map(ToString::to_string).collect();
            assert!(errors.is_empty(), "{errors:#?}");
            let path = dir.join(format!("corners_{dtype}.bspage.json"));
            blockspace_graph::save_page(&reg, &page, &path).unwrap();
            (format!("corners_{dtype}"), path)
        })
        .collect()
}

#[test]
fn tensorflow_agrees_on_layouts_dilations_negative_padding_and_reductions() {
    let tmp = tempfile::tempdir().unwrap();
    compare_pages(
        "tensorflow",
        Framework::TensorFlow,
        corner_pages(tmp.path()),
    );
}

#[test]
fn pytorch_agrees_on_layouts_dilations_negative_padding_and_reductions() {
    let tmp = tempfile::tempdir().unwrap();
    compare_pages("torch", Framework::PyTorch, corner_pages(tmp.path()));
}

#[test]
fn a_snippet_is_self_contained_and_inline() {
    let reg = Registry::builtin();
    let path = examples_dir().join("minimal.bspage.json");
    let page = load_page(&reg, &path).unwrap();
    let conv = page.block_by_name("Conv3DBackpropInputV2").unwrap().id;
    for fw in Framework::ALL {
        let e = export_page(
            &reg,
            &page,
            path.parent(),
            &ExportOptions::snippet(fw, vec![conv]),
        )
        .unwrap();
        assert!(
            e.files.is_empty() && !e.script.contains("_load("),
            "{}",
            e.script
        );
        assert!(e.script.contains("out_backprop = "), "{}", e.script);
        assert!(!e.script.contains("def main"), "{}", e.script);
    }
    // Pasted into a notebook, the block's variable holds Blockspace's tensor.
    for (module, fw) in [
        ("tensorflow", Framework::TensorFlow),
        ("torch", Framework::PyTorch),
    ] {
        if !importable(module) {
            continue;
        }
        let e = export_page(
            &reg,
            &page,
            path.parent(),
            &ExportOptions::snippet(fw, vec![conv]),
        )
        .unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let reference = tmp.path().join("ref");
        run_blockspace(&path, &reference);
        let code = format!(
            "{}\nref = np.load({:?})\nassert np.array_equal(Conv3DBackpropInputV2.numpy(), ref), 'differs'\n",
            e.script,
            reference
                .join("Conv3DBackpropInputV2.npy")
                .to_str()
                .unwrap()
        );
        let (ok, out) = run_python_with(&python_for(module), &["-c", &code]);
        assert!(ok, "{fw}: {out}\n{code}");
    }
    let empty = export_page(
        &reg,
        &page,
        None,
        &ExportOptions::snippet(Framework::PyTorch, vec![]),
    );
    assert!(matches!(empty, Err(ExportError::EmptySelection)));
}

/// `Max` over an empty extent is `-inf` in the kernel (as in TensorFlow 2.21), so the TensorFlow
/// script calls `tf.raw_ops.Max` itself; PyTorch (whose `amax` refuses an empty extent) writes
/// the `-inf` constant.
#[test]
fn max_over_an_empty_extent_is_the_plain_call_in_tensorflow() {
    let reg = Registry::builtin();
    let page = corner_page("float32");
    let script = Path::new("corners.py");
    let tf = export_page(
        &reg,
        &page,
        None,
        &ExportOptions::script(Framework::TensorFlow, script),
    )
    .unwrap()
    .script;
    let line = |s: &str| {
        s.lines()
            .find(|l| l.trim_start().starts_with("max_empty ="))
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("no max_empty line in\n{s}"))
    };
    let tf_line = line(&tf);
    assert!(tf_line.contains("tf.raw_ops.Max("), "{tf_line}");
    assert!(!tf_line.contains("tf.fill"), "{tf_line}");
    let pt = export_page(
        &reg,
        &page,
        None,
        &ExportOptions::script(Framework::PyTorch, script),
    )
    .unwrap()
    .script;
    let pt_line = line(&pt);
    assert!(
        pt_line.contains("torch.full(") && pt_line.contains("float(\"-inf\")"),
        "{pt_line}"
    );
}
