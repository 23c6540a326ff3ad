//! UI tests that drive the real app headlessly, as a user would: add blocks through the search
//! menu, wire them by dragging pins, set attributes in the inspector, run, read the viewer's
//! statistics, undo, save, reopen and compare.
//!
//! Canvas gestures are aimed through the geometry the canvas records (snarl draws the graph
//! zoomed and shifted, so kittest's own `.click()` on canvas widgets would miss), and every
//! gesture's effect is asserted so that a missed click fails the test.

use std::path::Path;
use std::time::{Duration, Instant};

use blockspace_app::{AppOptions, BlockspaceApp};
use blockspace_graph::{AttrValue, BlockId, InPort, OutPort};
use egui::accesskit::Role;
use egui::{Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;

use crate::harness::{
    add_via_search, block_count, block_named, click_at, harness, pointer_drag, select_on_canvas,
    set_text_field, wait_run, wire_by_drag,
};

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
fn build_minimal_page_run_save_reopen_undo() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path(), vec![]);
    wait_run(&mut h);

    // A new page.
    h.key_press_modifiers(Modifiers::COMMAND, Key::N);
    h.run_steps(3);
    assert_eq!(h.state().tabs.len(), 2, "Ctrl+N opened a second tab");
    assert_eq!(block_count(&h), 0, "the new page is empty");

    // Three Inputs and one Conv3DBackpropInputV2, through the search menu.
    add_via_search(&mut h, "inp", "Input");
    add_via_search(&mut h, "Input", "Input");
    add_via_search(&mut h, "input", "Input");
    add_via_search(&mut h, "conv3d", "Conv3DBackpropInputV2");
    let sizes = block_named(&h, "Input");
    let filter = block_named(&h, "Input_1");
    let grad = block_named(&h, "Input_2");
    let conv = block_named(&h, "Conv3DBackpropInputV2");

    // Move blocks apart so that pins are easy to hit (one drag = one undo step).
    let undo_len_before = h.state().tab().unwrap().history.undo_len();
    for (i, id) in [sizes, filter, grad].into_iter().enumerate() {
        let r = h
            .state()
            .tab()
            .unwrap()
            .geometry
            .block_screen_rect(id)
            .unwrap();
        let from = egui::pos2(r.center().x, r.top() + 8.0);
        let to = egui::pos2(250.0, 160.0 + 190.0 * i as f32);
        pointer_drag(&mut h, from, to, Modifiers::NONE);
    }
    let r = h
        .state()
        .tab()
        .unwrap()
        .geometry
        .block_screen_rect(conv)
        .unwrap();
    pointer_drag(
        &mut h,
        egui::pos2(r.center().x, r.top() + 8.0),
        egui::pos2(650.0, 330.0),
        Modifiers::NONE,
    );
    assert_eq!(
        h.state().tab().unwrap().history.undo_len(),
        undo_len_before + 4,
        "four drags made four undo steps"
    );

    // Wire them by dragging pins. A float tensor into input_sizes is refused, with the reason.
    let g = h.state().tab().unwrap().geometry.clone();
    let a = g.output_pin_screen(sizes, 0).unwrap();
    let b = g.input_pin_screen(conv, 0).unwrap();
    pointer_drag(&mut h, a, b, Modifiers::NONE);
    assert_eq!(
        h.state().tab().unwrap().page.wires().count(),
        0,
        "a float32 tensor cannot feed input_sizes"
    );
    assert!(
        h.state().toast_texts().iter().any(|t| t.contains("int32")),
        "the refusal says what the port accepts: {:?}",
        h.state().toast_texts()
    );
    h.state_mut()
        .set_attr(sizes, "dtype", AttrValue::Str("int32".into()));
    h.run_steps(2);
    wire_by_drag(
        &mut h,
        OutPort {
            block: sizes,
            port: 0,
        },
        InPort {
            block: conv,
            port: 0,
        },
    );
    wire_by_drag(
        &mut h,
        OutPort {
            block: filter,
            port: 0,
        },
        InPort {
            block: conv,
            port: 1,
        },
    );
    wire_by_drag(
        &mut h,
        OutPort {
            block: grad,
            port: 0,
        },
        InPort {
            block: conv,
            port: 2,
        },
    );

    // Attributes: through the inspector for input_sizes, through commands for the rest.
    select_on_canvas(&mut h, sizes);
    set_text_field(&mut h, "values", "1, 4, 4, 4, 1");
    let v = h
        .state()
        .tab()
        .unwrap()
        .page
        .block(sizes)
        .unwrap()
        .attrs
        .get("values")
        .cloned();
    assert_eq!(
        v,
        Some(AttrValue::Str("1, 4, 4, 4, 1".into())),
        "typing in the inspector set the values"
    );
    for (id, shape) in [(filter, vec![2, 2, 2, 1, 1]), (grad, vec![1, 3, 3, 3, 1])] {
        h.state_mut()
            .set_attr(id, "mode", AttrValue::Str("range".into()));
        h.state_mut()
            .set_attr(id, "shape", AttrValue::IntList(shape));
    }
    h.state_mut()
        .set_attr(conv, "padding", AttrValue::Str("VALID".into()));
    h.run_steps(2);

    // Run (F5) and read the viewer's statistics.
    select_on_canvas(&mut h, conv);
    h.key_press(Key::F5);
    wait_run(&mut h);
    let tab = h.state().tab().unwrap();
    let res = tab
        .executor
        .result(conv)
        .expect("the conv block has a result");
    let out = res
        .outputs
        .as_ref()
        .expect("the conv block ran without error")
        .clone();
    assert_eq!(out[0].shape(), &[1, 4, 4, 4, 1], "output shape");
    let stats = h.state().viewer.stats();
    assert_eq!(stats.count, 64, "the viewer shows 64 elements");
    let expected = out[0].stats();
    assert!(
        (stats.mean - expected.mean).abs() < 1e-9,
        "viewer mean {} = tensor mean {}",
        stats.mean,
        expected.mean
    );
    h.get_by_label("elements");
    h.get_by_label("64");

    // Save (Save As goes through a native dialog; the app's save entry point is the same one).
    let path = dir.path().join("minimal.bspage.json");
    let active = h.state().active;
    assert!(h.state_mut().save_tab_to(active, &path), "saved");
    h.run_steps(2);
    assert!(
        !h.state().tab().unwrap().is_dirty(),
        "saving clears the dirty marker"
    );
    assert!(
        h.state().tab().unwrap().display_title() == "minimal",
        "the tab is named after the file"
    );

    // Undo one change and check it is undone, then redo.
    let before_padding = h
        .state()
        .tab()
        .unwrap()
        .page
        .block(conv)
        .unwrap()
        .attrs
        .get("padding")
        .cloned();
    h.state_mut()
        .set_attr(conv, "padding", AttrValue::Str("SAME".into()));
    h.run_steps(2);
    assert!(
        h.state().tab().unwrap().is_dirty(),
        "an edit marks the page dirty"
    );
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_steps(2);
    let after = h
        .state()
        .tab()
        .unwrap()
        .page
        .block(conv)
        .unwrap()
        .attrs
        .get("padding")
        .cloned();
    assert_eq!(after, before_padding, "Ctrl+Z undid the padding change");
    h.key_press_modifiers(Modifiers::COMMAND, Key::Y);
    h.run_steps(2);
    let redone = h
        .state()
        .tab()
        .unwrap()
        .page
        .block(conv)
        .unwrap()
        .attrs
        .get("padding")
        .cloned();
    assert_eq!(
        redone,
        Some(AttrValue::Str("SAME".into())),
        "Ctrl+Y redid it"
    );
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_steps(2);

    // Reopen in a fresh app and compare the result.
    let mut h2 = harness(dir.path(), vec![path.clone()]);
    wait_run(&mut h2);
    let tab2 = h2.state().tab().unwrap();
    assert_eq!(
        tab2.page.blocks().count(),
        4,
        "the reopened page has the four blocks"
    );
    assert_eq!(tab2.page.wires().count(), 3, "and the three wires");
    let conv2 = tab2
        .page
        .blocks()
        .find(|b| b.name == "Conv3DBackpropInputV2")
        .unwrap()
        .id;
    let out2 = tab2
        .executor
        .result(conv2)
        .unwrap()
        .outputs
        .as_ref()
        .unwrap()
        .clone();
    assert_eq!(
        out2[0].to_f64(),
        out[0].to_f64(),
        "the reopened page gives the same result"
    );
}

#[test]
fn channel_mismatch_is_shown_on_the_block() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path(), vec![]);
    wait_run(&mut h);
    let conv = h
        .state()
        .tab()
        .unwrap()
        .page
        .blocks()
        .find(|b| b.type_id == "Conv3DBackpropInputV2")
        .unwrap()
        .id;
    // The demo's conv block: give the filter more output channels than out_backprop has.
    let filter = h
        .state()
        .tab()
        .unwrap()
        .page
        .wires()
        .find(|w| w.to.block == conv && w.to.port == 1)
        .unwrap()
        .from
        .block;
    let shape = h
        .state()
        .tab()
        .unwrap()
        .page
        .block(filter)
        .unwrap()
        .attrs
        .get("shape")
        .cloned();
    let Some(AttrValue::IntList(mut dims)) = shape else {
        panic!("filter shape attr")
    };
    dims[4] += 3;
    h.state_mut()
        .set_attr(filter, "shape", AttrValue::IntList(dims));
    wait_run(&mut h);
    let tab = h.state_mut().tab_mut().unwrap();
    let reg = blockspace_graph::Registry::builtin();
    let err = tab.block_check(&reg, conv).unwrap().unwrap_err();
    println!("channel mismatch message: {err}");
    assert!(
        err.message.contains("channel"),
        "the conv block's error names the channel mismatch: {err}"
    );
    assert!(
        tab.cached_views()
            .get(&conv)
            .and_then(|v| v.error.clone())
            .is_some(),
        "the canvas shows it on the conv block"
    );
    // The canvas shows a badge whose tooltip has the message; the status bar counts the problem.
    h.run_steps(2);
    h.get_by_label_contains("block(s) with problems");
    let badge = h
        .state()
        .tab()
        .unwrap()
        .geometry
        .badge_screen(conv)
        .expect("a badge on the conv block");
    h.hover_at(badge);
    for _ in 0..10 {
        h.step();
        std::thread::sleep(Duration::from_millis(30));
    }
    assert!(
        h.query_all_by_label_contains("must have the same number of channels")
            .count()
            >= 2,
        "the badge's tooltip (and the inspector) say what is wrong"
    );
}

#[test]
fn invalid_wire_is_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path(), vec![]);
    wait_run(&mut h);
    let tab = h.state().tab().unwrap();
    let conv = tab
        .page
        .blocks()
        .find(|b| b.type_id == "Conv3DBackpropInputV2")
        .unwrap()
        .id;
    let src = tab
        .page
        .wires()
        .find(|w| w.to.block == conv)
        .unwrap()
        .from
        .block;
    let wires_before = tab.page.wires().count();
    // conv output → its own input source would make a cycle.
    let ok = h.state_mut().connect(
        OutPort {
            block: conv,
            port: 0,
        },
        InPort {
            block: conv,
            port: 0,
        },
    );
    h.run_steps(2);
    assert!(!ok, "a cycle is refused");
    assert_eq!(
        h.state().tab().unwrap().page.wires().count(),
        wires_before,
        "no wire changed"
    );
    let toasts = h.state().toast_texts();
    assert!(
        toasts.iter().any(|t| t.contains("Connect")),
        "the reason is shown: {toasts:?}"
    );
    let _ = src;
}

#[test]
fn copy_paste_between_pages_gets_new_names() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path(), vec![]);
    wait_run(&mut h);
    let n = block_count(&h);
    h.key_press_modifiers(Modifiers::COMMAND, Key::A);
    h.run_steps(1);
    h.key_press_modifiers(Modifiers::COMMAND, Key::C);
    h.run_steps(1);
    // Paste into the same page: every name gets a suffix.
    h.key_press_modifiers(Modifiers::COMMAND, Key::V);
    h.run_steps(2);
    assert_eq!(
        block_count(&h),
        2 * n,
        "paste into the same page doubled the blocks"
    );
    let names: std::collections::BTreeSet<String> = h
        .state()
        .tab()
        .unwrap()
        .page
        .blocks()
        .map(|b| b.name.clone())
        .collect();
    assert_eq!(names.len(), 2 * n, "names stay unique in the page scope");
    // Paste into a new page: names are free there, so they stay.
    h.key_press_modifiers(Modifiers::COMMAND, Key::N);
    h.run_steps(2);
    h.key_press_modifiers(Modifiers::COMMAND, Key::V);
    h.run_steps(2);
    assert_eq!(block_count(&h), n, "pasted into the new page");
    // Duplicate and delete with the keyboard; undo restores.
    h.key_press_modifiers(Modifiers::COMMAND, Key::D);
    h.run_steps(2);
    assert_eq!(block_count(&h), 2 * n, "Ctrl+D duplicated the selection");
    h.key_press(Key::Delete);
    h.run_steps(2);
    assert_eq!(block_count(&h), n, "Delete removed the duplicated blocks");
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_steps(2);
    assert_eq!(block_count(&h), 2 * n, "undo restored them");
}

#[test]
fn box_select_and_group_drag_is_one_undo_step() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path(), vec![]);
    wait_run(&mut h);
    let g = h.state().tab().unwrap().geometry.clone();
    let ids: Vec<BlockId> = h
        .state()
        .tab()
        .unwrap()
        .page
        .blocks()
        .map(|b| b.id)
        .collect();
    // Shift+drag a box around everything.
    let all = ids
        .iter()
        .filter_map(|id| g.block_screen_rect(*id))
        .fold(egui::Rect::NOTHING, |a, r| a.union(r));
    pointer_drag(
        &mut h,
        all.min - egui::vec2(20.0, 20.0),
        all.max + egui::vec2(20.0, 20.0),
        Modifiers::SHIFT,
    );
    assert_eq!(
        h.state().tab().unwrap().selection.len(),
        ids.len(),
        "box selection selected every block"
    );
    let before: Vec<[f32; 2]> = h
        .state()
        .tab()
        .unwrap()
        .page
        .blocks()
        .map(|b| b.pos)
        .collect();
    let undo_before = h.state().tab().unwrap().history.undo_len();
    let r = g.block_screen_rect(ids[0]).unwrap();
    let from = egui::pos2(r.center().x, r.top() + 8.0);
    pointer_drag(&mut h, from, from + egui::vec2(60.0, 30.0), Modifiers::NONE);
    let after: Vec<[f32; 2]> = h
        .state()
        .tab()
        .unwrap()
        .page
        .blocks()
        .map(|b| b.pos)
        .collect();
    assert!(
        before
            .iter()
            .zip(&after)
            .all(|(a, b)| b[0] > a[0] && b[1] > a[1]),
        "every selected block moved"
    );
    assert_eq!(
        h.state().tab().unwrap().history.undo_len(),
        undo_before + 1,
        "one drag = one undo step"
    );
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_steps(2);
    let undone: Vec<[f32; 2]> = h
        .state()
        .tab()
        .unwrap()
        .page
        .blocks()
        .map(|b| b.pos)
        .collect();
    assert_eq!(undone, before, "undo moved them all back");
}

#[test]
fn bad_file_shows_error_and_keeps_open_pages() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.bspage.json");
    std::fs::write(
        &bad,
        "{ \"format\": \"blockspace.page\", \"version\": 1, \"blocks\": [ { \"id\": 1 } ] }",
    )
    .unwrap();
    let mut h = harness(dir.path(), vec![]);
    wait_run(&mut h);
    let tabs = h.state().tabs.len();
    assert!(!h.state_mut().open_path(&bad), "the bad file does not open");
    h.run_steps(2);
    assert_eq!(h.state().tabs.len(), tabs, "nothing already open is lost");
    let text = h.state().dialog_text().expect("an error dialog is shown");
    assert!(
        text.contains("bad.bspage.json"),
        "the dialog names the file: {text}"
    );
    h.get_by_label("OK").click();
    h.run_steps(2);
    assert!(h.state().dialog_text().is_none(), "OK closes the dialog");
}

#[test]
fn autosave_writes_recovery_and_restores() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path(), vec![]);
    wait_run(&mut h);
    h.key_press_modifiers(Modifiers::COMMAND, Key::N);
    h.run_steps(2);
    add_via_search(&mut h, "inp", "Input");
    h.state_mut().write_recovery();
    drop(h);
    // A new session offers the recovered page.
    let state = dir.path().to_path_buf();
    let mut h2 = Harness::builder()
        .with_size(egui::vec2(1400.0, 880.0))
        .build_eframe(move |cc| {
            BlockspaceApp::new(
                &cc.egui_ctx,
                AppOptions {
                    pages: vec![],
                    state_dir: Some(state),
                    no_recovery_offer: false,
                },
            )
        });
    h2.run_steps(3);
    assert!(
        h2.state()
            .dialog_text()
            .is_some_and(|t| t.contains("Restore")),
        "the restore offer is shown"
    );
    h2.get_by_label("Restore").click();
    h2.run_steps(3);
    let restored =
        h2.state().tabs.iter().find(|t| {
            t.page.blocks().any(|b| b.type_id == "Input") && t.page.blocks().count() == 1
        });
    assert!(
        restored.is_some_and(blockspace_app::app::PageTab::is_dirty),
        "the unsaved page came back, still unsaved"
    );
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
fn dropping_a_wire_on_empty_canvas_adds_a_connected_block() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path(), vec![]);
    wait_run(&mut h);
    h.key_press_modifiers(Modifiers::COMMAND, Key::N);
    h.run_steps(2);
    add_via_search(&mut h, "inp", "Input");
    let input = block_named(&h, "Input");
    let pin = h
        .state()
        .tab()
        .unwrap()
        .geometry
        .output_pin_screen(input, 0)
        .unwrap();
    let empty = pin + egui::vec2(250.0, 40.0);
    // Drag and release over empty canvas; the pointer stays there (the menu opens under it).
    h.event(egui::Event::PointerMoved(pin));
    h.step();
    h.event(egui::Event::PointerButton {
        pos: pin,
        button: egui::PointerButton::Primary,
        pressed: true,
        modifiers: Modifiers::NONE,
    });
    h.step();
    for i in 1..=8 {
        h.event(egui::Event::PointerMoved(
            pin + (empty - pin) * (i as f32 / 8.0),
        ));
        h.step();
    }
    h.event(egui::Event::PointerButton {
        pos: empty,
        button: egui::PointerButton::Primary,
        pressed: false,
        modifiers: Modifiers::NONE,
    });
    h.run_steps(3);
    h.get_by_label("Add and connect");
    h.get_by_label_contains("Search blocks").type_text("conv");
    h.run_steps(2);
    h.get_by_role_and_label(Role::Button, "Conv3DBackpropInputV2")
        .click();
    h.run_steps(3);
    let tab = h.state().tab().unwrap();
    assert_eq!(tab.page.blocks().count(), 2, "the conv block was added");
    let conv = block_named(&h, "Conv3DBackpropInputV2");
    let tab = h.state().tab().unwrap();
    let w = tab.page.wires().next().expect("and wired");
    assert_eq!(
        w.from,
        OutPort {
            block: input,
            port: 0
        },
        "from the dragged pin"
    );
    assert_eq!(
        w.to,
        InPort {
            block: conv,
            port: 1
        },
        "into the first input that takes float32 (filter)"
    );
    // One undo step takes both back.
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_steps(2);
    assert_eq!(
        block_count(&h),
        1,
        "undo removed the block and its wire together"
    );
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

#[test]
fn unsaved_tab_asks_before_closing_and_ctrl_s_saves() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("page.bspage.json");
    let mut h = harness(dir.path(), vec![]);
    wait_run(&mut h);
    // Save the demo under a name, then change it.
    let active = h.state().active;
    assert!(h.state_mut().save_tab_to(active, &path), "saved");
    h.run_steps(2);
    let conv = h
        .state()
        .tab()
        .unwrap()
        .page
        .blocks()
        .find(|b| b.type_id == "Conv3DBackpropInputV2")
        .unwrap()
        .id;
    h.state_mut()
        .set_attr(conv, "padding", AttrValue::Str("VALID".into()));
    h.run_steps(2);
    assert!(
        h.state().tab().unwrap().display_title().ends_with('*'),
        "the tab shows the dirty marker"
    );
    // Ctrl+W asks; Cancel keeps the tab.
    h.key_press_modifiers(Modifiers::COMMAND, Key::W);
    h.run_steps(2);
    h.get_by_label_contains("Save changes to");
    h.get_by_label("Cancel").click();
    h.run_steps(2);
    assert_eq!(h.state().tabs.len(), 1, "Cancel kept the tab");
    // Ctrl+S saves to the page's file, without a dialog.
    h.key_press_modifiers(Modifiers::COMMAND, Key::S);
    h.run_steps(2);
    assert!(!h.state().tab().unwrap().is_dirty(), "Ctrl+S saved");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("\"VALID\""), "the file has the change");
    // Change again, close, and discard.
    h.state_mut()
        .set_attr(conv, "padding", AttrValue::Str("SAME".into()));
    h.run_steps(2);
    h.key_press_modifiers(Modifiers::COMMAND, Key::W);
    h.run_steps(2);
    h.get_by_label("Close without saving").click();
    h.run_steps(2);
    let tab = h.state().tab().unwrap();
    assert!(
        tab.path.is_none() && tab.page.blocks().next().is_none(),
        "the tab closed (an empty page remains)"
    );
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("\"VALID\""),
        "the discarded change did not reach the file"
    );
}

#[test]
fn closing_the_window_with_unsaved_work_asks_first() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path(), vec![]);
    wait_run(&mut h);
    let conv = h
        .state()
        .tab()
        .unwrap()
        .page
        .blocks()
        .find(|b| b.type_id == "Conv3DBackpropInputV2")
        .unwrap()
        .id;
    h.state_mut()
        .set_attr(conv, "padding", AttrValue::Str("VALID".into()));
    h.run_steps(2);
    // The window's close button.
    h.input_mut()
        .viewports
        .entry(egui::ViewportId::ROOT)
        .or_default()
        .events
        .push(egui::ViewportEvent::Close);
    h.step();
    let commands = |h: &Harness<'static, BlockspaceApp>| {
        h.output()
            .viewport_output
            .get(&egui::ViewportId::ROOT)
            .map(|v| v.commands.clone())
            .unwrap_or_default()
    };
    assert!(
        commands(&h).contains(&egui::ViewportCommand::CancelClose),
        "closing is held back while there is unsaved work"
    );
    h.run_steps(2);
    h.get_by_label("Quit with unsaved changes?");
    h.get_by_label("Quit without saving").click();
    h.step();
    assert!(
        commands(&h).contains(&egui::ViewportCommand::Close),
        "the user chose to quit"
    );
}

#[test]
fn input_values_show_parse_errors_while_typing() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path(), vec![]);
    wait_run(&mut h);
    h.key_press_modifiers(Modifiers::COMMAND, Key::N);
    h.run_steps(2);
    add_via_search(&mut h, "inp", "Input");
    let input = block_named(&h, "Input");
    let before = h.state().tab().unwrap().page.revision();
    h.get_by_role_and_label(Role::TextInput, "values").focus();
    h.run_steps(1);
    h.key_press_modifiers(Modifiers::COMMAND, Key::A);
    h.run_steps(1);
    h.get_by_role_and_label(Role::TextInput, "values")
        .type_text("[[1, 2], [3, oops]]");
    h.run_steps(2);
    h.get_by_label_contains("\"oops\" is not a number");
    assert_eq!(
        h.state().tab().unwrap().page.revision(),
        before,
        "nothing is applied while typing"
    );
    // A good value shows the shape it gives; Ctrl+Enter applies it.
    h.key_press_modifiers(Modifiers::COMMAND, Key::A);
    h.run_steps(1);
    h.get_by_role_and_label(Role::TextInput, "values")
        .type_text("[[1, 2], [3, 4]]");
    h.run_steps(2);
    h.get_by_label_contains("[2×2]");
    h.key_press_modifiers(Modifiers::COMMAND, Key::Enter);
    h.run_steps(2);
    let v = h
        .state()
        .tab()
        .unwrap()
        .page
        .block(input)
        .unwrap()
        .attrs
        .get("values")
        .cloned();
    assert_eq!(
        v,
        Some(AttrValue::Str("[[1, 2], [3, 4]]".into())),
        "applied"
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
fn dragging_a_block_by_its_text_moves_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path(), vec![]);
    wait_run(&mut h);
    let id = block_named(&h, "filter");
    let before = h.state().tab().unwrap().page.block(id).unwrap().pos;
    let r = h
        .state()
        .tab()
        .unwrap()
        .geometry
        .block_screen_rect(id)
        .unwrap();
    // On the block's name in the header, and on an attribute line in the body.
    for (i, grip) in [
        egui::pos2(r.left() + 40.0, r.top() + 16.0),
        egui::pos2(r.left() + 40.0, r.top() + 60.0),
    ]
    .into_iter()
    .enumerate()
    {
        let grip = grip + egui::vec2(30.0 * i as f32, 20.0 * i as f32);
        pointer_drag(&mut h, grip, grip + egui::vec2(30.0, 20.0), Modifiers::NONE);
    }
    let after = h.state().tab().unwrap().page.block(id).unwrap().pos;
    assert!(
        after[0] > before[0] + 20.0 && after[1] > before[1] + 10.0,
        "the block moved ({before:?} → {after:?})"
    );
    assert_eq!(
        h.state().tab().unwrap().history.undo_len(),
        2,
        "two drags, two undo steps"
    );
}

#[test]
fn blocks_travel_through_the_system_clipboard_as_page_text() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path(), vec![]);
    wait_run(&mut h);
    // Copy puts page text on the system clipboard.
    h.key_press_modifiers(Modifiers::COMMAND, Key::A);
    h.run_steps(1);
    h.event(egui::Event::Copy);
    h.step();
    let copied = h
        .output()
        .platform_output
        .commands
        .iter()
        .find_map(|c| match c {
            egui::OutputCommand::CopyText(t) => Some(t.clone()),
            _ => None,
        })
        .expect("copy put text on the clipboard");
    assert!(copied.contains("blockspace.page"), "the text is a page");
    // Another window's paste event with that text pastes the blocks (here: into a new page).
    h.key_press_modifiers(Modifiers::COMMAND, Key::N);
    h.run_steps(2);
    h.event(egui::Event::Paste(
        blockspace_app::app::DEMO_PAGE.to_owned(),
    ));
    h.run_steps(2);
    assert_eq!(
        block_count(&h),
        4,
        "the demo's four blocks were pasted from page text"
    );
    assert_eq!(
        h.state().tab().unwrap().page.wires().count(),
        3,
        "with their wires"
    );
}

#[test]
fn right_click_menu_adds_a_block_where_clicked() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path(), vec![]);
    wait_run(&mut h);
    let canvas = h.state().tab().unwrap().geometry.screen_rect;
    let at = canvas.center() + egui::vec2(150.0, 150.0);
    h.event(egui::Event::PointerMoved(at));
    h.step();
    for pressed in [true, false] {
        h.event(egui::Event::PointerButton {
            pos: at,
            button: egui::PointerButton::Secondary,
            pressed,
            modifiers: Modifiers::NONE,
        });
        h.step();
    }
    h.run_steps(2);
    h.get_by_label("Add block");
    h.get_by_label_contains("Search blocks").type_text("input");
    h.run_steps(2);
    h.key_press(Key::Enter);
    h.run_steps(3);
    assert_eq!(block_count(&h), 5, "Enter added the first match");
    let id = block_named(&h, "Input");
    let r = h
        .state()
        .tab()
        .unwrap()
        .geometry
        .block_screen_rect(id)
        .unwrap();
    assert!(
        r.left() - at.x < 40.0 && (r.top() - at.y).abs() < 40.0,
        "the block is where the menu was opened ({r:?} vs {at:?})"
    );
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

#[test]
fn save_as_elsewhere_keeps_npy_inputs_working() {
    let dir = tempfile::tempdir().unwrap();
    let example = Path::new("../../examples/npy_inputs.bspage.json");
    let mut h = harness(dir.path(), vec![example.to_path_buf()]);
    wait_run(&mut h);
    let tab = h.state().tab().unwrap();
    let sink = *tab
        .selection
        .iter()
        .next()
        .expect("the page's output is selected");
    let first = tab
        .executor
        .result(sink)
        .unwrap()
        .outputs
        .as_ref()
        .expect("the example runs")
        .clone();
    // Save As into another folder, then reopen from there.
    let moved = dir.path().join("moved.bspage.json");
    let active = h.state().active;
    assert!(h.state_mut().save_tab_to(active, &moved), "saved elsewhere");
    let text = std::fs::read_to_string(&moved).unwrap();
    assert!(
        !text.contains("\"data/npy_inputs"),
        "the .npy paths were rewritten for the new folder"
    );
    let mut h2 = harness(dir.path(), vec![moved]);
    wait_run(&mut h2);
    let tab2 = h2.state().tab().unwrap();
    let sink2 = *tab2.selection.iter().next().unwrap();
    let again = tab2
        .executor
        .result(sink2)
        .unwrap()
        .outputs
        .as_ref()
        .expect("the moved page still runs")
        .clone();
    assert_eq!(
        first[0].to_f64(),
        again[0].to_f64(),
        "same result from the moved page"
    );
}

#[test]
fn each_tab_keeps_its_selection_and_rename_works() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path(), vec![]);
    wait_run(&mut h);
    let demo_sel = h.state().tab().unwrap().selection.clone();
    assert_eq!(demo_sel.len(), 1, "the demo selects its output");
    h.key_press_modifiers(Modifiers::COMMAND, Key::N);
    h.run_steps(2);
    add_via_search(&mut h, "inp", "Input");
    h.get_by_label("demo").click();
    h.run_steps(3);
    assert_eq!(h.state().active, 0, "the demo tab is shown again");
    assert_eq!(
        h.state().tab().unwrap().selection,
        demo_sel,
        "its selection survived the tab switch"
    );
    // Rename the tab (its right-click menu; a double-click does the same).
    h.get_by_label("demo").click_secondary();
    h.run_steps(2);
    h.get_by_label("Rename…").click();
    h.run_steps(2);
    h.get_by_label("Rename page");
    h.key_press_modifiers(Modifiers::COMMAND, Key::A);
    h.event(egui::Event::Text("my page".into()));
    h.run_steps(1);
    h.key_press(Key::Enter);
    h.run_steps(2);
    assert_eq!(h.state().tab().unwrap().title, "my page", "renamed");
    assert_eq!(
        h.state().tab().unwrap().page.name(),
        "my page",
        "the page itself too"
    );
}

#[test]
fn tabs_reorder_by_dragging() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path(), vec![]);
    wait_run(&mut h);
    for _ in 0..2 {
        h.key_press_modifiers(Modifiers::COMMAND, Key::N);
        h.run_steps(2);
    }
    let titles = |h: &Harness<'static, BlockspaceApp>| -> Vec<String> {
        h.state().tabs.iter().map(|t| t.display_title()).collect()
    };
    let before = titles(&h);
    assert_eq!(before.len(), 3, "three tabs: {before:?}");
    let active_uid = h.state().tab().unwrap().uid;
    let from = h.get_by_label(&before[0]).rect().center();
    let to = h.get_by_label(&before[2]).rect().center();
    pointer_drag(&mut h, from, to, Modifiers::NONE);
    assert_eq!(
        titles(&h),
        [before[1].clone(), before[2].clone(), before[0].clone()],
        "the first tab moved to the end"
    );
    assert_eq!(
        h.state().tab().unwrap().uid,
        active_uid,
        "the same page is still shown"
    );
    // A click without moving selects, it does not move.
    let first = h.get_by_label(&before[1]).rect().center();
    click_at(&mut h, first);
    assert_eq!(h.state().active, 0, "clicked tab is active");
    assert_eq!(titles(&h)[0], before[1], "nothing moved");
}
