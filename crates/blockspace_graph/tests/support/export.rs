//! Exporting a page as a script and running it with Python: the helpers shared by
//! `tests/export.rs` and `tests/export_output.rs` (included by path).
//!
//! The Python used is `$BLOCKSPACE_PYTHON` (e.g. a virtual environment with `tensorflow-cpu`),
//! else `python3`; `$BLOCKSPACE_TORCH_PYTHON` for PyTorch when set.

use blockspace_graph::export::{ExportOptions, Framework};
use blockspace_graph::{Registry, export_page, load_page, write_export};
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

pub fn python() -> String {
    std::env::var("BLOCKSPACE_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

/// The Python for scripts that import `module`: `$BLOCKSPACE_TORCH_PYTHON` for PyTorch when
/// set (PyTorch often lives in another environment than TensorFlow), else [`python`].
pub fn python_for(module: &str) -> String {
    match std::env::var("BLOCKSPACE_TORCH_PYTHON") {
        Ok(p) if module == "torch" => p,
        _ => python(),
    }
}

/// Whether `python -c "import <module>"` works; prints why not.
pub fn importable(module: &str) -> bool {
    let python = python_for(module);
    match Command::new(&python)
        .args(["-c", &format!("import {module}")])
        .output()
    {
        Ok(o) if o.status.success() => true,
        Ok(_) => {
            println!(
                "skipped: {module} is not importable by {python} (set BLOCKSPACE_PYTHON, or \
                 BLOCKSPACE_TORCH_PYTHON for PyTorch, to a Python that has it)"
            );
            false
        }
        Err(e) => {
            println!("skipped: cannot start {python}: {e}");
            false
        }
    }
}

pub fn export_to(page_path: &Path, framework: Framework, dir: &Path) -> PathBuf {
    let reg = Registry::builtin();
    let page = load_page(&reg, page_path).unwrap();
    let script = dir.join(format!(
        "{}_{}.py",
        page_path
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .trim_end_matches(".bspage.json"),
        framework.as_str()
    ));
    let opts = ExportOptions::script(framework, &script);
    let exported = export_page(&reg, &page, page_path.parent(), &opts).unwrap();
    write_export(&exported, &script).unwrap();
    script
}

pub fn run_python(args: &[&str]) -> (bool, String) {
    run_python_with(&python(), args)
}

pub fn run_python_with(python: &str, args: &[&str]) -> (bool, String) {
    let o = Command::new(python)
        .args(args)
        .env("TF_CPP_MIN_LOG_LEVEL", "2")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o.status.success(), text)
}
