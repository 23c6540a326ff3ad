//! Numbers typed into a `Float` attribute's field in the inspector: whole numbers are committed
//! as exact `Int`s (an int64 fill of 2^53 + 1 stays 2^53 + 1 through the run), decimals as
//! `Float`s, bad text commits nothing and says why; the drag handle moves an `Int` by exact whole
//! steps; each commit (and each drag) is one undo step. An `Int { min, max }` attribute's field
//! (the Input's `seed`) takes only whole numbers in its range, exactly, and its handle stops at
//! the range's ends.

use blockspace_app::BlockspaceApp;
use blockspace_graph::{AttrValue, BlockId, Tensor};
use egui::accesskit::Role;
use egui::{Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;

use crate::harness::{
    add_via_search, attr_of, block_named, harness, pointer_drag, replace_text, wait_run,
};

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
    type_into(h, "value", text);
}

/// Replaces the text of the field `field` with `text` and presses Enter.
fn type_into(h: &mut Harness<'static, BlockspaceApp>, field: &str, text: &str) {
    replace_text(h, field, text);
    h.key_press(Key::Enter);
    h.run_steps(3);
}

/// A new page with one Input block in `uniform` mode, selected (so the inspector shows its
/// `seed` field, an `Int { min: 0, max: i64::MAX }`).
fn seeded_block(h: &mut Harness<'static, BlockspaceApp>) -> BlockId {
    let input = fill_block(h, "float32");
    h.state_mut()
        .set_attr(input, "mode", AttrValue::Str("uniform".into()));
    wait_run(h);
    // The seed row is below the visible part of the inspector: scroll it into view, as a user
    // would.
    h.get_by_label("drag seed").scroll_to_me();
    h.run_steps(3);
    input
}

/// The output of `input` after the run.
fn output_of(h: &mut Harness<'static, BlockspaceApp>, input: BlockId) -> Tensor {
    wait_run(h);
    h.state()
        .tab()
        .expect("a page is open")
        .executor
        .result(input)
        .and_then(|r| r.outputs.as_ref().ok().cloned())
        .expect("the Input block ran without error")[0]
        .clone()
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
    let out = output_of(&mut h, input);
    let Tensor::I64(values) = &out else {
        panic!("an int64 tensor, got {:?}", out.dtype())
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
    replace_text(&mut h, "value", "1e999");
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

#[test]
fn a_seed_beyond_2_pow_53_is_committed_exactly_and_undone_in_one_step() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path(), vec![]);
    let input = seeded_block(&mut h);
    assert_eq!(attr_of(&h, input, "seed"), Some(AttrValue::Int(0)));
    let at_zero = output_of(&mut h, input);
    let steps = undo_len(&h);

    type_into(&mut h, "seed", "9007199254740993");
    assert_eq!(
        attr_of(&h, input, "seed"),
        Some(AttrValue::Int(9_007_199_254_740_993)),
        "2^53 + 1 is kept exactly (an f64 DragValue would make it 2^53)"
    );
    assert_eq!(undo_len(&h), steps + 1, "one commit is one undo step");
    assert_eq!(
        h.get_by_role_and_label(Role::TextInput, "seed").value(),
        Some("9007199254740993".to_owned()),
        "the field shows the committed value"
    );
    assert_ne!(
        output_of(&mut h, input),
        at_zero,
        "the run used the new seed"
    );

    // The handle moves it by exact whole steps: 2^53 + 1 is never rounded to an even f64.
    let handle = h.get_by_label("drag seed").rect().center();
    pointer_drag(
        &mut h,
        handle,
        handle + egui::vec2(52.0, 0.0),
        Modifiers::NONE,
    );
    let Some(AttrValue::Int(v)) = attr_of(&h, input, "seed") else {
        panic!("a dragged seed is an Int: {:?}", attr_of(&h, input, "seed"))
    };
    assert!(
        (9_007_199_254_741_001..=9_007_199_254_741_003).contains(&v),
        "moved right by whole steps from 2^53 + 1, exactly: {v}"
    );
    assert_eq!(undo_len(&h), steps + 2, "one drag is one undo step");

    // Undo the drag, then the typed seed: each is one step.
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_steps(3);
    assert_eq!(
        attr_of(&h, input, "seed"),
        Some(AttrValue::Int(9_007_199_254_740_993)),
        "the drag is undone in one step, back to the exact value"
    );
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_steps(3);
    assert_eq!(
        attr_of(&h, input, "seed"),
        Some(AttrValue::Int(0)),
        "the typed seed is undone in one step"
    );
    assert_eq!(
        h.get_by_role_and_label(Role::TextInput, "seed").value(),
        Some("0".to_owned())
    );
    assert_eq!(
        output_of(&mut h, input),
        at_zero,
        "seed 0 gives the same tensor"
    );
}

#[test]
fn a_seed_outside_its_range_or_not_whole_is_refused_naming_the_range() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path(), vec![]);
    let input = seeded_block(&mut h);
    type_into(&mut h, "seed", "12");
    assert_eq!(attr_of(&h, input, "seed"), Some(AttrValue::Int(12)));
    let revision = h.state().tab().unwrap().page.revision();

    // Below min: not clamped to 0, refused.
    type_into(&mut h, "seed", "-1");
    h.get_by_label_contains(
        "\"-1\" is outside the allowed range 0 to 9223372036854775807; type a whole number in that range (the nearest is 0)",
    );
    h.get_by_label_contains("Not applied.");
    assert_eq!(
        h.get_by_role_and_label(Role::TextInput, "seed").value(),
        Some("-1".to_owned()),
        "the user's text is kept, to be fixed"
    );
    assert_eq!(attr_of(&h, input, "seed"), Some(AttrValue::Int(12)));

    // Above max (beyond int64): refused the same way.
    type_into(&mut h, "seed", "9223372036854775808");
    h.get_by_label_contains(
        "\"9223372036854775808\" is outside the allowed range 0 to 9223372036854775807",
    );

    // A decimal or an exponent is not a whole number.
    type_into(&mut h, "seed", "1.5");
    h.get_by_label_contains(
        "\"1.5\" is not a whole number (this field takes no decimal point or exponent); type a whole number from 0 to 9223372036854775807",
    );
    type_into(&mut h, "seed", "1e3");
    h.get_by_label_contains("\"1e3\" is not a whole number");
    type_into(&mut h, "seed", "abc");
    h.get_by_label_contains("\"abc\" is not a number; type a whole number from 0 to");
    assert_eq!(
        h.state().tab().unwrap().page.revision(),
        revision,
        "nothing was committed"
    );

    // Escape in the field (back in it to fix the text) drops the text and keeps the value. The
    // field takes its keys from the frame after it gained focus.
    h.get_by_role_and_label(Role::TextInput, "seed").focus();
    h.run_steps(2);
    h.key_press(Key::Escape);
    h.run_steps(3);
    assert_eq!(
        h.get_by_role_and_label(Role::TextInput, "seed").value(),
        Some("12".to_owned()),
        "Escape went back to the committed value"
    );
    assert!(h.query_by_label_contains("Not applied.").is_none());
    assert_eq!(h.state().tab().unwrap().page.revision(), revision);

    // The handle stops at min (0), not at the int64 end: 12 dragged far left is 0.
    let steps = undo_len(&h);
    let handle = h.get_by_label("drag seed").rect().center();
    pointer_drag(
        &mut h,
        handle,
        handle - egui::vec2(200.0, 0.0),
        Modifiers::NONE,
    );
    assert_eq!(
        attr_of(&h, input, "seed"),
        Some(AttrValue::Int(0)),
        "saturates at min"
    );
    assert_eq!(undo_len(&h), steps + 1, "one drag is one undo step");
}
