//! `--memory-limit` of `run` and `check`, through the real binary: a page whose run does not
//! fit is reported on the block that takes it over, with sizes and the way out, and `run`
//! refuses it before running anything.

use std::path::PathBuf;
use std::process::Command;

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../../examples/{name}.bspage.json"))
}

fn blockspace(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_blockspace"))
        .args(args)
        .output()
        .expect("the binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_reports_the_block_that_takes_a_run_over_the_budget() {
    let page = example("minimal");
    let page = page.to_str().expect("a UTF-8 path");
    let (code, out, err) = blockspace(&["check", page]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("memory budget"), "{out}");

    let (code, _, err) = blockspace(&["check", page, "--memory-limit", "2KiB"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("over the memory budget of 2.00 KiB")
            && err.contains("at block \"")
            && err.contains("--memory-limit")
            && err.contains("make the largest tensors smaller"),
        "{err}"
    );

    let (code, out, _) = blockspace(&["check", page, "--memory-limit", "2KiB", "--json"]);
    assert_eq!(code, 1);
    let doc: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(doc["memory"]["fits"], false);
    assert_eq!(doc["memory"]["budget"], 2048);
    assert!(doc["memory"]["over"]["name"].is_string(), "{doc}");
}

#[test]
fn run_refuses_a_page_over_the_budget_before_running() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let out_dir = dir.path().join("out");
    let page = example("minimal");
    let (code, stdout, err) = blockspace(&[
        "run",
        page.to_str().expect("a UTF-8 path"),
        "--memory-limit",
        "2KiB",
        "--output",
        out_dir.to_str().expect("a UTF-8 path"),
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("over the memory budget"), "{err}");
    assert!(stdout.is_empty(), "nothing ran: {stdout}");
    assert!(!out_dir.exists(), "nothing written");

    let (code, _, err) = blockspace(&[
        "run",
        page.to_str().expect("UTF-8"),
        "--memory-limit",
        "4parsecs",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("\"4parsecs\" is not a size"), "{err}");
}

#[test]
fn the_app_does_not_run_a_page_over_its_budget_and_says_why() {
    use blockspace_app::{AppOptions, BlockspaceApp};
    use egui_kittest::kittest::Queryable as _;
    let state = tempfile::tempdir().expect("a temp dir");
    let dir = state.path().to_path_buf();
    let mut h = egui_kittest::Harness::builder()
        .with_size(egui::vec2(1400.0, 880.0))
        .build_eframe(move |cc| {
            BlockspaceApp::new(
                &cc.egui_ctx,
                AppOptions {
                    state_dir: Some(dir),
                    no_recovery_offer: true,
                    memory_limit: Some(2048),
                    ..Default::default()
                },
            )
        });
    h.run_steps(6);
    let tab = h.state().tab().expect("the demo tab");
    let why = tab
        .run
        .refused
        .clone()
        .expect("the demo page does not fit 2 KiB");
    assert!(
        why.contains("over the memory budget of 2.00 KiB") && why.contains("--memory-limit"),
        "{why}"
    );
    assert!(
        !tab.run.active && !tab.executor.is_running(),
        "nothing runs"
    );
    h.get_by_label_contains("Not run: over the memory budget");
}
