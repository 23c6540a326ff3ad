//! Copy and paste: between pages, and through the system clipboard as page text.

use egui::{Key, Modifiers};

use crate::harness::{block_count, harness, wait_run};

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
