//! Runs and results: the demo evaluates at start, long runs cancel, big results reach the viewer,
//! edits re-run, export.

use std::time::{Duration, Instant};

use blockspace_graph::{AttrValue, InPort, OutPort};
use egui::{Key, Modifiers};
use egui_kittest::kittest::Queryable as _;

use crate::harness::{harness, wait_run};

#[test]
fn demo_page_opens_evaluated() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path(), vec![]);
    wait_run(&mut h);
    let app = h.state();
    let tab = app.tab().unwrap();
    assert!(tab.page.blocks().count() >= 4, "the demo page has blocks");
    assert!(!tab.is_dirty(), "the demo page starts clean");
    assert_eq!(tab.selection.len(), 1, "the demo selects its result block");
    assert!(
        app.viewer.stats().count > 0,
        "the viewer shows the demo result's statistics"
    );
    h.get_by_label_contains("elements");
}

#[test]
fn long_run_keeps_ui_responsive_and_cancels() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path(), vec![]);
    wait_run(&mut h);
    h.key_press_modifiers(Modifiers::COMMAND, Key::N);
    h.run_steps(2);
    let s = |v: &str| AttrValue::Str(v.to_owned());
    let app = h.state_mut();
    app.tab_mut().unwrap().auto_run = false;
    let sizes = app.add_block("Input", [0.0, 0.0], None, None).unwrap();
    app.set_attr(sizes, "dtype", s("int32"));
    app.set_attr(sizes, "values", s("1, 64, 128, 128, 32"));
    let filter = app.add_block("Input", [0.0, 200.0], None, None).unwrap();
    app.set_attr(filter, "mode", s("fill"));
    app.set_attr(filter, "value", AttrValue::Float(0.5));
    app.set_attr(filter, "shape", AttrValue::IntList(vec![3, 3, 3, 32, 32]));
    let grad = app.add_block("Input", [0.0, 400.0], None, None).unwrap();
    app.set_attr(grad, "mode", s("fill"));
    app.set_attr(grad, "value", AttrValue::Float(1.0));
    app.set_attr(grad, "shape", AttrValue::IntList(vec![1, 64, 128, 128, 32]));
    let conv = app
        .add_block("Conv3DBackpropInputV2", [400.0, 200.0], None, None)
        .unwrap();
    for (port, from) in [sizes, filter, grad].into_iter().enumerate() {
        assert!(
            app.connect(
                OutPort {
                    block: from,
                    port: 0
                },
                InPort { block: conv, port }
            ),
            "wired"
        );
    }
    h.run_steps(2);
    // F5 runs; frames keep coming quickly while the kernel works on the executor thread.
    // (The slowest of these frames: the `frame_time` benchmark.)
    h.key_press(Key::F5);
    for _ in 0..10 {
        h.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        h.state().tab().unwrap().run.active,
        "the run is still going (the kernel takes seconds)"
    );
    h.get_by_label_contains("Running");
    // Escape cancels; the run ends soon and says so.
    h.key_press(Key::Escape);
    let deadline = Instant::now() + Duration::from_secs(10);
    while h.state().tab().unwrap().run.active {
        h.step();
        assert!(
            Instant::now() < deadline,
            "the cancelled run ended within 10 s"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let last = h.state().tab().unwrap().run.last.unwrap();
    assert!(last.1, "the run was cancelled");
    h.run_steps(2);
    h.get_by_label("Run cancelled");
}

#[test]
fn big_result_is_prepared_for_the_viewer_off_the_ui_thread() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path(), vec![]);
    wait_run(&mut h);
    h.key_press_modifiers(Modifiers::COMMAND, Key::N);
    h.run_steps(2);
    let app = h.state_mut();
    let big = app.add_block("Input", [0.0, 0.0], None, None).unwrap();
    app.set_attr(big, "mode", AttrValue::Str("range".into()));
    app.set_attr(big, "shape", AttrValue::IntList(vec![2, 16, 256, 256, 2]));
    wait_run(&mut h);
    // Frames keep coming while the view is prepared (their slowest: the `frame_time` benchmark).
    let deadline = Instant::now() + Duration::from_secs(30);
    while h.state().viewer.stats().count != 4_194_304 {
        h.step();
        assert!(
            Instant::now() < deadline,
            "the view was prepared within 30 s"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    h.run_steps(2);
    let s = h.state().viewer.stats();
    assert!(
        (s.min - 0.0).abs() < 1e-9 && (s.max - 4_194_303.0).abs() < 1e-6,
        "range statistics {s:?}"
    );
}

/// Editing an attribute of a small page shows the new result (how fast: the `frame_time`
/// benchmark; 5 s is only a guard against waiting forever).
#[test]
fn attr_edit_to_new_result_latency() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path(), vec![]);
    wait_run(&mut h);
    let filter = h
        .state()
        .tab()
        .unwrap()
        .page
        .blocks()
        .find(|b| b.name == "filter")
        .unwrap()
        .id;
    let before = h.state().viewer.stats();
    let t0 = Instant::now();
    h.state_mut().set_attr(filter, "seed", AttrValue::Int(8));
    loop {
        h.step();
        let s = h.state().viewer.stats();
        if s != before && !h.state().tab().unwrap().run.active {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "a new result within 5 s"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn viewer_exports_npy_and_copies_text() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path(), vec![]);
    wait_run(&mut h);
    // Copy as text: the demo result (6912 elements) is copied whole.
    h.get_by_label("Copy as text").click();
    h.step();
    let text = h
        .output()
        .platform_output
        .commands
        .iter()
        .find_map(|c| match c {
            egui::OutputCommand::CopyText(t) => Some(t.clone()),
            _ => None,
        })
        .expect("the values were copied");
    assert!(
        text.starts_with("# float32 shape [1, 6, 24, 24, 2]"),
        "a header line: {}",
        &text[..60.min(text.len())]
    );
    assert!(text.matches(',').count() > 6000, "every value is there");
    // Export .npy (the button opens a file dialog; the app then writes the file like this).
    let path = dir.path().join("result.npy");
    h.state_mut().export_npy(&path);
    let bytes = std::fs::read(&path).expect("the .npy file was written");
    assert!(bytes.starts_with(b"\x93NUMPY"), "a NumPy file");
    assert!(bytes.len() > 6912 * 4, "with every float32 value");
}
