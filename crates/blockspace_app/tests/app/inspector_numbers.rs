//! Numbers typed into a `Float` attribute's field in the inspector: whole numbers are committed
//! as exact `Int`s (an int64 fill of 2^53 + 1 stays 2^53 + 1 through the run), decimals as
//! `Float`s, bad text commits nothing and says why; the drag handle moves an `Int` by exact whole
//! steps; each commit (and each drag) is one undo step.

use blockspace_app::BlockspaceApp;
use blockspace_graph::{AttrValue, BlockId, Tensor};
use egui::accesskit::Role;
use egui::{Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;

use crate::harness::{add_via_search, attr_of, block_named, harness, pointer_drag, wait_run};

/// A new page with one Input block in `fill` mode of `dtype`, selected (so the inspector shows
/// its `value` field).
fn fill_block(h: &mut Harness<'static, BlockspaceApp>, dtype: &str) -> BlockId {
    wait_run(h);
    h.key_press_modifiers(Modifiers::COMMAND, Key::N);
    h.run_steps(2);
    add_via_search(h, "inp", "Input");
    let input = block_named(h, "Input");
    h.state_mut()
        .set_attr(input, "mode", AttrValue::Str("fill".into()));
    h.state_mut()
        .set_attr(input, "dtype", AttrValue::Str(dtype.into()));
    h.state_mut()
        .set_attr(input, "shape", AttrValue::IntList(vec![2, 3]));
    wait_run(h);
    input
}

/// Replaces the text of the field `value` with `text` and presses Enter.
fn type_value(h: &mut Harness<'static, BlockspaceApp>, text: &str) {
    h.get_by_role_and_label(Role::TextInput, "value").focus();
    h.run_steps(1);
    h.key_press_modifiers(Modifiers::COMMAND, Key::A);
    h.run_steps(1);
    h.get_by_role_and_label(Role::TextInput, "value")
        .type_text(text);
    h.run_steps(1);
    h.key_press(Key::Enter);
    h.run_steps(3);
}

fn undo_len(h: &Harness<'static, BlockspaceApp>) -> usize {
    h.state().tab().expect("a page is open").history.undo_len()
}

#[test]
fn a_whole_number_beyond_2_pow_53_is_committed_exactly_as_an_int() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path(), vec![]);
    let input = fill_block(&mut h, "int64");
    let steps = undo_len(&h);

    type_value(&mut h, "9007199254740993");
    assert_eq!(
        attr_of(&h, input, "value"),
        Some(AttrValue::Int(9_007_199_254_740_993)),
        "2^53 + 1 is kept exactly, as an Int (an f64 would hold 2^53)"
    );
    assert_eq!(undo_len(&h), steps + 1, "one commit is one undo step");
    assert_eq!(
        h.get_by_role_and_label(Role::TextInput, "value").value(),
        Some("9007199254740993".to_owned()),
        "the field shows the committed value"
    );

    // The run fills the int64 tensor with exactly that value.
    wait_run(&mut h);
    let out = h
        .state()
        .tab()
        .unwrap()
        .executor
        .result(input)
        .and_then(|r| r.outputs.as_ref().ok().cloned())
        .expect("the Input block ran without error");
    let Tensor::I64(values) = &out[0] else {
        panic!("an int64 tensor, got {:?}", out[0].dtype())
    };
    assert!(
        values.len() == 6 && values.iter().all(|&v| v == 9_007_199_254_740_993),
        "every element is 2^53 + 1: {values:?}"
    );

    // Focusing and leaving the field without typing commits nothing: the Int stays an Int.
    h.get_by_role_and_label(Role::TextInput, "value").focus();
    h.run_steps(1);
    h.key_press(Key::Enter);
    h.run_steps(3);
    assert_eq!(
        undo_len(&h),
        steps + 1,
        "an untouched field commits nothing"
    );

    // Undo gives back the value before the edit (the default).
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_steps(3);
    assert_eq!(
        attr_of(&h, input, "value"),
        Some(AttrValue::Float(0.0)),
        "undone in one step"
    );
    assert_eq!(
        h.get_by_role_and_label(Role::TextInput, "value").value(),
        Some("0.0".to_owned()),
        "the field shows the default again"
    );
}

#[test]
fn a_decimal_is_committed_as_a_float() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path(), vec![]);
    let input = fill_block(&mut h, "float32");
    let steps = undo_len(&h);

    type_value(&mut h, "0.25");
    assert_eq!(
        attr_of(&h, input, "value"),
        Some(AttrValue::Float(0.25)),
        "a decimal is a Float"
    );
    assert_eq!(undo_len(&h), steps + 1, "one commit is one undo step");

    type_value(&mut h, "-5");
    assert_eq!(
        attr_of(&h, input, "value"),
        Some(AttrValue::Int(-5)),
        "a whole number is an Int, also for a float dtype"
    );
    assert_eq!(undo_len(&h), steps + 2, "each commit is one undo step");
}

#[test]
fn bad_text_commits_nothing_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path(), vec![]);
    let input = fill_block(&mut h, "int64");
    let revision = h.state().tab().unwrap().page.revision();

    type_value(&mut h, "abc");
    assert_eq!(
        h.state().tab().unwrap().page.revision(),
        revision,
        "nothing is committed"
    );
    assert_eq!(
        attr_of(&h, input, "value"),
        Some(AttrValue::Float(0.0)),
        "the value is the default still"
    );
    h.get_by_label_contains("\"abc\" is not a number; type a whole number such as -5");
    h.get_by_label_contains("Not applied.");
    assert_eq!(
        h.get_by_role_and_label(Role::TextInput, "value").value(),
        Some("abc".to_owned()),
        "the user's text is kept after Enter, to be fixed"
    );

    // A whole number outside int64 is refused the same way, naming the range.
    type_value(&mut h, "9223372036854775808");
    h.get_by_label_contains("outside int64 (-9223372036854775808 to 9223372036854775807)");
    assert_eq!(
        h.state().tab().unwrap().page.revision(),
        revision,
        "nothing is committed"
    );

    // Fixing the text commits it; the error is gone.
    type_value(&mut h, "7");
    assert_eq!(attr_of(&h, input, "value"), Some(AttrValue::Int(7)));
    assert!(
        h.query_by_label_contains("Not applied.").is_none(),
        "the error is gone once the text reads"
    );

    // Escape in the field drops bad text and keeps the value.
    h.get_by_role_and_label(Role::TextInput, "value").focus();
    h.run_steps(1);
    h.key_press_modifiers(Modifiers::COMMAND, Key::A);
    h.run_steps(1);
    h.get_by_role_and_label(Role::TextInput, "value")
        .type_text("1e999");
    h.run_steps(1);
    h.get_by_label_contains("\"1e999\" is not a finite number");
    h.key_press(Key::Escape);
    h.run_steps(3);
    assert_eq!(attr_of(&h, input, "value"), Some(AttrValue::Int(7)));
    assert_eq!(
        h.get_by_role_and_label(Role::TextInput, "value").value(),
        Some("7".to_owned()),
        "Escape went back to the committed value"
    );
    assert!(h.query_by_label_contains("Not applied.").is_none());
}

#[test]
fn dragging_the_handle_moves_an_int_by_exact_whole_steps() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path(), vec![]);
    let input = fill_block(&mut h, "int64");
    let start = 9_007_199_254_740_993_i64;
    h.state_mut()
        .set_attr(input, "value", AttrValue::Int(start));
    h.run_steps(3);
    let steps = undo_len(&h);

    let handle = h.get_by_label("drag value").rect().center();
    pointer_drag(
        &mut h,
        handle,
        handle + egui::vec2(52.0, 0.0),
        Modifiers::NONE,
    );
    let Some(AttrValue::Int(v)) = attr_of(&h, input, "value") else {
        panic!(
            "a dragged Int stays an Int: {:?}",
            attr_of(&h, input, "value")
        )
    };
    // One step per 5 points: 52 points are 10 steps, less the few points moved before egui
    // takes the gesture for a drag.
    assert!(
        (start + 8..=start + 10).contains(&v),
        "moved right by whole steps from 2^53 + 1, exactly: {v}"
    );
    assert_eq!(undo_len(&h), steps + 1, "one drag is one undo step");

    // A Float moves by hundredths and stays a Float (on a float page: an int64 fill of 0.25
    // would be a problem shown above the attributes).
    h.state_mut()
        .set_attr(input, "dtype", AttrValue::Str("float32".into()));
    h.state_mut()
        .set_attr(input, "value", AttrValue::Float(0.25));
    h.run_steps(3);
    let steps = undo_len(&h);
    let handle = h.get_by_label("drag value").rect().center();
    pointer_drag(
        &mut h,
        handle,
        handle - egui::vec2(40.0, 0.0),
        Modifiers::NONE,
    );
    let Some(AttrValue::Float(f)) = attr_of(&h, input, "value") else {
        panic!("a dragged Float stays a Float")
    };
    // 40 points are 0.40 less, less the few points moved before egui takes it for a drag.
    let hundredths = f * 100.0;
    assert!(
        (-15.0..=-5.0).contains(&hundredths) && (hundredths - hundredths.round()).abs() < 1e-9,
        "moved left by whole hundredths: {f}"
    );
    assert_eq!(undo_len(&h), steps + 1, "one drag is one undo step");
}
