//! Tabs: each keeps its selection, rename, reorder by dragging.

use blockspace_app::BlockspaceApp;
use egui::{Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;

use crate::harness::{add_via_search, click_at, harness, pointer_drag, wait_run};

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
