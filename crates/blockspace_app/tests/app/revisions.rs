//! Checks, block views and auto-run follow the page's model revision: moving blocks re-checks
//! nothing and submits no run; an attribute edit checks once and runs once.

use blockspace_graph::AttrValue;
use egui::Modifiers;

use crate::harness::{block_named, block_rect, harness, pointer_drag, wait_run};

#[test]
fn moving_blocks_checks_and_runs_nothing_an_edit_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path(), vec![]);
    wait_run(&mut h);
    assert!(h.state().tab().unwrap().auto_run, "the demo page auto-runs");
    let id = block_named(&h, "filter");
    let before = h.state().tab().unwrap().counters;
    let pos = h.state().tab().unwrap().page.block(id).unwrap().pos;

    // Two drags of a block by its header: two moves, no check and no run.
    for _ in 0..2 {
        let r = block_rect(&h, id);
        let grip = egui::pos2(r.left() + 40.0, r.top() + 16.0);
        pointer_drag(&mut h, grip, grip + egui::vec2(40.0, 25.0), Modifiers::NONE);
    }
    wait_run(&mut h);
    let moved = h.state().tab().unwrap().page.block(id).unwrap().pos;
    assert!(
        moved[0] > pos[0] + 20.0 && moved[1] > pos[1] + 10.0,
        "the block moved ({pos:?} → {moved:?})"
    );
    assert_eq!(
        h.state().tab().unwrap().history.undo_len(),
        2,
        "two drags, two undo steps"
    );
    let after_drag = h.state().tab().unwrap().counters;
    assert_eq!(
        after_drag.checks - before.checks,
        0,
        "moving blocks re-checks nothing"
    );
    assert_eq!(
        after_drag.runs - before.runs,
        0,
        "moving blocks submits no run"
    );

    // An attribute edit: one check, one run.
    assert!(h.state_mut().set_attr(id, "seed", AttrValue::Int(7)));
    wait_run(&mut h);
    let after_edit = h.state().tab().unwrap().counters;
    assert_eq!(
        after_edit.checks - after_drag.checks,
        1,
        "an attribute edit checks the page once"
    );
    assert_eq!(
        after_edit.runs - after_drag.runs,
        1,
        "an attribute edit submits one run"
    );
}
