//! Building and editing pages on the canvas and in the inspector: add, wire, set, refuse, select, drag, undo.

use std::time::Duration;

use blockspace_app::BlockspaceApp;
use blockspace_graph::{AttrValue, BlockId, InPort, OutPort};
use egui::accesskit::Role;
use egui::{Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;

use crate::harness::{
    add_via_search, attr_of, block_count, block_named, block_of_type, block_rect, harness,
    pointer_drag, replace_text, select_on_canvas, set_text_field, wait_run, wire_by_drag,
};

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
        let r = block_rect(&h, id);
        let from = egui::pos2(r.center().x, r.top() + 8.0);
        let to = egui::pos2(250.0, 160.0 + 190.0 * i as f32);
        pointer_drag(&mut h, from, to, Modifiers::NONE);
    }
    let r = block_rect(&h, conv);
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
    let v = attr_of(&h, sizes, "values");
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
    let before_padding = attr_of(&h, conv, "padding");
    h.state_mut()
        .set_attr(conv, "padding", AttrValue::Str("SAME".into()));
    h.run_steps(2);
    assert!(
        h.state().tab().unwrap().is_dirty(),
        "an edit marks the page dirty"
    );
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_steps(2);
    let after = attr_of(&h, conv, "padding");
    assert_eq!(after, before_padding, "Ctrl+Z undid the padding change");
    h.key_press_modifiers(Modifiers::COMMAND, Key::Y);
    h.run_steps(2);
    let redone = attr_of(&h, conv, "padding");
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
    let conv = block_of_type(&h, "Conv3DBackpropInputV2");
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
    let shape = attr_of(&h, filter, "shape");
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
fn dragging_a_block_by_its_text_moves_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path(), vec![]);
    wait_run(&mut h);
    let id = block_named(&h, "filter");
    let before = h.state().tab().unwrap().page.block(id).unwrap().pos;
    let r = block_rect(&h, id);
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

/// In the open add-block search, types "input" and takes the first match with Enter; returns
/// where the new Input block is drawn.
fn add_input_from_open_search(h: &mut Harness<'static, BlockspaceApp>) -> egui::Rect {
    h.get_by_label_contains("Search blocks").type_text("input");
    h.run_steps(2);
    h.key_press(Key::Enter);
    h.run_steps(3);
    assert_eq!(block_count(h), 5, "Enter added the first match");
    let id = block_named(h, "Input");
    block_rect(h, id)
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
    let r = add_input_from_open_search(&mut h);
    assert!(
        r.left() - at.x < 40.0 && (r.top() - at.y).abs() < 40.0,
        "the block is where the menu was opened ({r:?} vs {at:?})"
    );
}

/// Shift+A with the pointer on the canvas opens the search there and puts the block there; from
/// elsewhere (here: the pointer over the toolbar) it opens under the toolbar button and the block
/// goes near the middle of the view.
#[test]
fn shift_a_adds_a_block_at_the_pointer_on_the_canvas() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path(), vec![]);
    wait_run(&mut h);
    let canvas = h.state().tab().unwrap().geometry.screen_rect;
    // Near the top of the canvas, so the search window fits below the pointer (egui keeps a
    // window on screen, moving it up near the bottom).
    let at = canvas.center_top() + egui::vec2(60.0, 40.0);
    h.event(egui::Event::PointerMoved(at));
    h.step();
    h.key_press_modifiers(Modifiers::SHIFT, Key::A);
    h.run_steps(2);
    let window = h.get_by_label_contains("Search blocks").rect();
    assert!(
        (window.left() - at.x).abs() < 40.0 && (window.top() - at.y).abs() < 60.0,
        "the search opened at the pointer ({window:?} vs {at:?})"
    );
    let r = add_input_from_open_search(&mut h);
    assert!(
        (r.left() - at.x).abs() < 40.0 && (r.top() - at.y).abs() < 40.0,
        "the block is where the pointer was ({r:?} vs {at:?})"
    );

    // With the pointer off the canvas, the search opens under the toolbar button.
    let button = h.get_by_label("➕ Add block").rect();
    h.event(egui::Event::PointerMoved(button.center()));
    h.step();
    h.key_press_modifiers(Modifiers::SHIFT, Key::A);
    h.run_steps(2);
    let window = h.get_by_label_contains("Search blocks").rect();
    assert!(
        window.top() > button.bottom() && (window.left() - button.left()).abs() < 40.0,
        "off the canvas the search opens under the button ({window:?} vs {button:?})"
    );
    h.key_press(Key::Escape);
    h.run_steps(2);
    assert!(
        h.query_by_label_contains("Search blocks").is_none(),
        "Escape closed the search"
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
    replace_text(&mut h, "values", "[[1, 2], [3, oops]]");
    h.run_steps(1);
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
    let v = attr_of(&h, input, "values");
    assert_eq!(
        v,
        Some(AttrValue::Str("[[1, 2], [3, 4]]".into())),
        "applied"
    );
}
