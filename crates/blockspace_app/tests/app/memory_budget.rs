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

#[test]
fn a_memory_limit_set_in_the_app_refuses_the_page_on_its_block_and_is_kept() {
    use crate::harness::{harness, wait_run};
    use egui_kittest::kittest::Queryable as _;
    let state = tempfile::tempdir().expect("a temp dir");
    let mut h = harness(state.path(), vec![]);
    wait_run(&mut h);
    assert!(h.state().tab().expect("the demo tab").run.refused.is_none());
    let open_dialog = |h: &mut egui_kittest::Harness<'static, blockspace_app::BlockspaceApp>| {
        h.get_by_label("Run").click();
        h.run_steps(2);
        h.get_by_label("Memory limit…").click();
        h.run_steps(3);
    };

    // Run ▸ Memory limit…: shows the budget in effect and where it comes from; a bad size is
    // refused in the dialog; 2KiB is set.
    open_dialog(&mut h);
    h.get_by_label_contains("In effect:");
    h.get_by_label_contains(", the default: ");
    h.get_by_label("Limit").type_text("2 parsecs");
    h.run_steps(1);
    h.get_by_label("Set").click();
    h.run_steps(2);
    h.get_by_label_contains("is not a size");
    h.get_by_label("Limit").focus();
    h.run_steps(1);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.get_by_label("Limit").type_text("2KiB");
    h.run_steps(1);
    h.get_by_label("Set").click();
    h.run_steps(6);
    let app = h.state();
    assert_eq!(app.memory_budget().to_string(), "2.00 KiB, set in the app");
    let tab = app.tab().expect("the demo tab");
    let why = tab
        .run
        .refused
        .clone()
        .expect("the demo does not fit 2 KiB");
    assert!(
        why.contains("over the memory budget of 2.00 KiB") && why.contains("Memory limit…"),
        "{why}"
    );
    // Reported on the block that takes the run over the budget.
    let over = tab.run.over.expect("the block over the budget");
    let on_block = tab.cached_views()[&over].error.clone().unwrap_or_default();
    assert!(on_block.contains("over the memory budget"), "{on_block}");
    h.get_by_label_contains("Not run: over the memory budget");
    // Kept in the state folder for the next start.
    let kept = std::fs::read_to_string(state.path().join("settings.json")).expect("settings");
    assert!(kept.contains("\"memory_limit\": 2048"), "{kept}");

    // Back to the default: the page runs again.
    open_dialog(&mut h);
    h.get_by_label_contains("In effect: 2.00 KiB, set in the app");
    h.get_by_label("Use default").click();
    h.run_steps(2);
    wait_run(&mut h);
    let app = h.state();
    assert!(
        app.memory_budget().to_string().contains("the default: "),
        "{}",
        app.memory_budget()
    );
    let tab = app.tab().expect("the demo tab");
    assert!(tab.run.refused.is_none() && tab.run.over.is_none());
    assert!(tab.run.last.is_some_and(|(_, cancelled, _)| !cancelled));
    assert!(
        h.query_by_label_contains("Not run: over the memory budget")
            .is_none()
    );
    let kept = std::fs::read_to_string(state.path().join("settings.json")).expect("settings");
    assert!(kept.contains("\"memory_limit\": null"), "{kept}");
}

#[test]
fn a_rerun_near_the_budget_replaces_the_old_results_instead_of_failing() {
    use crate::harness::{block_named, harness, wait_run};
    use blockspace_app::AppCommand;
    use blockspace_app::app::command::Edit;
    use blockspace_graph::{AttrValue, Command, format_size};
    use egui_kittest::kittest::Queryable as _;
    let state = tempfile::tempdir().expect("a temp dir");
    let mut h = harness(state.path(), vec![]);
    wait_run(&mut h);
    let tab = h.state().tab().expect("the demo tab");
    let live = tab.executor.memory_live();
    assert!(live > 0, "the demo's results are counted");
    h.get_by_label_contains(&format!(
        "Memory {} of {}",
        format_size(live),
        format_size(tab.memory_budget)
    ));

    // A budget that holds one run's results but not two at once.
    let budget = live * 3 / 2;
    h.state_mut().push(AppCommand::SetMemoryLimit(Some(budget)));
    h.run_steps(2);
    wait_run(&mut h);
    assert!(h.state().tab().expect("tab").run.refused.is_none());
    // A new seed: out_backprop and the gradient below it are computed again.
    let input = block_named(&h, "out_backprop");
    h.state_mut().push(AppCommand::Edit(Edit::new(
        "Set seed",
        Command::SetAttr {
            block: input,
            attr: "seed".into(),
            value: AttrValue::Int(7),
        },
    )));
    h.run_steps(2);
    wait_run(&mut h);
    let tab = h.state().tab().expect("tab");
    for b in tab.page.blocks() {
        let r = tab.executor.result(b.id).expect("a result");
        assert!(
            r.outputs.is_ok(),
            "{}: {:?}",
            b.name,
            r.outputs.as_ref().err()
        );
        assert_eq!(
            r.revision,
            tab.page.revision(),
            "{} is from the new run",
            b.name
        );
    }
    assert!(tab.executor.memory_peak() <= budget);
    assert_eq!(tab.executor.memory_live(), live, "the old results are gone");
}

#[test]
fn every_open_page_counts_against_one_budget() {
    use crate::harness::harness;
    use std::collections::HashSet;
    let state = tempfile::tempdir().expect("a temp dir");
    let mut h = harness(state.path(), vec![example("minimal"), example("chain")]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        h.step();
        let tabs = &h.state().tabs;
        let done = tabs.iter().all(|t| {
            !t.executor.is_running() && t.page.blocks().all(|b| t.executor.result(b.id).is_some())
        });
        if done {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the runs did not finish"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let tabs = &h.state().tabs;
    assert_eq!(tabs.len(), 2);
    // What each page's results hold (shared outputs counted once).
    let own = |t: &blockspace_app::app::page_tab::PageTab| -> u64 {
        let mut seen = HashSet::new();
        t.page
            .blocks()
            .filter_map(|b| t.executor.result(b.id)?.outputs.as_ref().ok().cloned())
            .filter(|o| seen.insert(std::sync::Arc::as_ptr(o) as usize))
            .map(|o| o.nbytes())
            .sum()
    };
    let (a, b) = (own(&tabs[0]), own(&tabs[1]));
    assert!(a > 0 && b > 0);
    for t in tabs {
        assert_eq!(t.executor.memory_live(), a + b, "both pages in one count");
    }
}
