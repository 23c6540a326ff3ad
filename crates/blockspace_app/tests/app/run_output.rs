//! `blockspace run --output DIR`, through the real binary: links at target names are replaced,
//! never followed; colliding names get unique suffixes that `--json` reports; existing files are
//! kept unless `--force`; the page's own input files are never replaced.
#![expect(clippy::unwrap_used, reason = "test helpers")]

use std::path::{Path, PathBuf};
use std::process::Command;

use blockspace_graph::{AttrValue, Page, Registry, Tensor, save_page};
use blockspace_kernels::MemoryLimit;

/// Runs `blockspace run` with `args`; (exit code, stdout, stderr).
pub(crate) fn blockspace_run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_blockspace"))
        .arg("run")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Saves a page of literal Inputs named `names` (values `[1]`, `[2]`, …) as `dir/p.bspage.json`.
fn literal_page(dir: &Path, names: &[&str]) -> PathBuf {
    let reg = Registry::builtin();
    let mut page = Page::new("p");
    for (i, n) in names.iter().enumerate() {
        let v = format!("[{}]", i + 1);
        page.add(&reg, "Input", n, &[("values", AttrValue::Str(v))])
            .unwrap();
    }
    let path = dir.join("p.bspage.json");
    save_page(&reg, &page, &path).unwrap();
    path
}

/// The single float32 value of the `.npy` file at `path`.
fn value(path: &Path) -> f64 {
    let t = blockspace_graph::npy::read_npy(path, &MemoryLimit::default()).unwrap();
    t.to_f64().iter().copied().next().unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn a_link_at_the_target_name_is_replaced_never_followed() {
    let dir = tempfile::tempdir().unwrap();
    let page = literal_page(dir.path(), &["x"]);
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, "precious").unwrap();
    std::os::unix::fs::symlink(&victim, out.join("x.npy")).unwrap();

    let (code, _, err) = blockspace_run(&[s(&page), "--output", s(&out)]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("x.npy") && err.contains("--force"), "{err}");
    assert!(out.join("x.npy").is_symlink(), "refused: nothing changed");

    let (code, _, err) = blockspace_run(&[s(&page), "--output", s(&out), "--force"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    let meta = std::fs::symlink_metadata(out.join("x.npy")).unwrap();
    assert!(meta.is_file(), "the link was replaced by the result");
    assert_eq!(value(&out.join("x.npy")), 1.0);
}

#[test]
fn colliding_names_are_made_unique_and_json_reports_the_paths() {
    let dir = tempfile::tempdir().unwrap();
    let page = literal_page(dir.path(), &["a/b", "a_b", "c"]);
    let out = dir.path().join("out");
    let (code, stdout, err) = blockspace_run(&[s(&page), "--output", s(&out), "--json"]);
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let reported: Vec<(String, String)> = doc["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            let npy = b["outputs"][0]["npy"].as_str().unwrap().to_owned();
            (b["name"].as_str().unwrap().to_owned(), npy)
        })
        .collect();
    let expect = |name: &str, file: &str| {
        let path = out.join(file).display().to_string();
        assert!(
            reported.contains(&(name.to_owned(), path.clone())),
            "{name} → {path} in {reported:?}"
        );
    };
    expect("a/b", "a_b.npy");
    expect("a_b", "a_b__2.npy");
    expect("c", "c.npy");
    for (name, path) in &reported {
        let want = match name.as_str() {
            "a/b" => 1.0,
            "a_b" => 2.0,
            _ => 3.0,
        };
        assert_eq!(value(Path::new(path)), want, "{name}: {path}");
    }
}

#[test]
fn an_existing_file_is_kept_unless_force() {
    let dir = tempfile::tempdir().unwrap();
    let page = literal_page(dir.path(), &["x", "y"]);
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("x.npy"), "old data").unwrap();

    let (code, _, err) = blockspace_run(&[s(&page), "--output", s(&out)]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("already exists") && err.contains("--force") && err.contains("x.npy"),
        "{err}"
    );
    assert_eq!(std::fs::read(out.join("x.npy")).unwrap(), b"old data");
    assert!(!out.join("y.npy").exists(), "a refused run writes nothing");

    let (code, _, err) = blockspace_run(&[s(&page), "--output", s(&out), "--force"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(value(&out.join("x.npy")), 1.0);
    assert_eq!(value(&out.join("y.npy")), 2.0);
    let leftovers: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 2, "no temporary files left: {leftovers:?}");
}

#[test]
fn the_pages_own_input_files_are_never_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let input = Tensor::F32(ndarray::ArrayD::from_elem(ndarray::IxDyn(&[2]), 7.0));
    input.write_npy(&data.join("x.npy")).unwrap();
    let before = std::fs::read(data.join("x.npy")).unwrap();
    let reg = Registry::builtin();
    let mut page = Page::new("p");
    page.add(
        &reg,
        "Input",
        "x",
        &[
            ("mode", AttrValue::Str("npy".into())),
            ("path", AttrValue::Str("x.npy".into())),
        ],
    )
    .unwrap();
    let page_path = data.join("p.bspage.json");
    save_page(&reg, &page, &page_path).unwrap();

    // The same folder, spelled differently: canonical paths are compared.
    let other_spelling = dir.path().join("data/../data/.");
    for target in [data.clone(), other_spelling] {
        let (code, _, err) = blockspace_run(&[s(&page_path), "--output", s(&target), "--force"]);
        assert_eq!(code, 1, "{err}");
        assert!(
            err.contains("a file this page reads") && err.contains("x.npy"),
            "{err}"
        );
        assert_eq!(std::fs::read(data.join("x.npy")).unwrap(), before);
    }
}
