//! Files: errors on open, autosave and restore, saving before closing a tab or the window, Save As elsewhere.

use std::path::Path;
use std::time::{Duration, Instant};

use blockspace_app::{AppOptions, BlockspaceApp};
use blockspace_graph::AttrValue;
use egui::{Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;

use crate::harness::{add_via_search, block_of_type, harness, wait_run};

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
    wait_until_unlocked(dir.path());
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
                    ..Default::default()
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

/// Waits until no recovery session under `state` is locked. A dropped app's lock can outlive
/// it for a moment: a child process that another test of this binary spawns at that time
/// shares the open lock file until its `exec`. That is the likely cause of the one failure seen
/// under load ("the restore offer is shown"): a new session that finds the old one locked
/// takes it for a running app and offers nothing.
fn wait_until_unlocked(state: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let sessions = std::fs::read_dir(state.join("recovery")).expect("a recovery folder");
    for session in sessions {
        let lock = session.expect("a session folder").path().join("lock");
        let Ok(file) = std::fs::File::open(&lock) else {
            continue;
        };
        while file.try_lock().is_err() {
            assert!(
                Instant::now() < deadline,
                "{} stays locked after its app was dropped",
                lock.display()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
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
    let conv = block_of_type(&h, "Conv3DBackpropInputV2");
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
    let conv = block_of_type(&h, "Conv3DBackpropInputV2");
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

/// The app with the demo page, its state in `state` and the given autosave interval.
fn harness_autosave(state: &Path, every: std::time::Duration) -> Harness<'static, BlockspaceApp> {
    let state = state.to_path_buf();
    let mut h = Harness::builder()
        .with_size(egui::vec2(1400.0, 880.0))
        .build_eframe(move |cc| {
            BlockspaceApp::new(
                &cc.egui_ctx,
                AppOptions {
                    pages: vec![],
                    state_dir: Some(state),
                    no_recovery_offer: true,
                    autosave_interval: Some(every),
                    ..Default::default()
                },
            )
        });
    h.run_steps(3);
    h
}

fn root_repaint_delay(h: &Harness<'static, BlockspaceApp>) -> std::time::Duration {
    h.output().viewport_output[&egui::ViewportId::ROOT].repaint_delay
}

fn recovery_pages(state: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for session in std::fs::read_dir(state.join("recovery"))
        .into_iter()
        .flatten()
        .flatten()
    {
        for f in std::fs::read_dir(session.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            if f.path().to_string_lossy().ends_with(".bspage.json") {
                out.push(f.path());
            }
        }
    }
    out
}

#[test]
fn an_unsaved_page_asks_for_a_pass_when_its_autosave_is_due() {
    let every = std::time::Duration::from_secs(600);
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness_autosave(dir.path(), every);
    wait_run(&mut h);
    assert_eq!(h.state().autosave_interval(), every);
    assert!(
        root_repaint_delay(&h) > every,
        "nothing unsaved: no pass scheduled ({:?})",
        root_repaint_delay(&h)
    );
    let conv = block_of_type(&h, "Conv3DBackpropInputV2");
    h.state_mut()
        .set_attr(conv, "padding", AttrValue::Str("VALID".into()));
    wait_run(&mut h);
    let delay = root_repaint_delay(&h);
    assert!(
        delay > std::time::Duration::ZERO && delay <= every,
        "an unsaved page asks for a pass within the interval, without input ({delay:?})"
    );
    assert!(recovery_pages(dir.path()).is_empty(), "not written yet");
}

#[test]
fn a_due_autosave_is_written_by_the_scheduled_pass_alone() {
    let every = std::time::Duration::from_millis(50);
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness_autosave(dir.path(), every);
    wait_run(&mut h);
    let conv = block_of_type(&h, "Conv3DBackpropInputV2");
    h.state_mut()
        .set_attr(conv, "padding", AttrValue::Str("VALID".into()));
    wait_run(&mut h);
    // Stay idle past the interval; the pass the app asked for (one step, no events) writes.
    std::thread::sleep(every * 2);
    h.step();
    let pages = recovery_pages(dir.path());
    assert_eq!(pages.len(), 1, "{pages:?}");
    let text = std::fs::read_to_string(&pages[0]).unwrap();
    assert!(text.contains("VALID"), "the recovery file holds the edit");
}

/// The theme and interface scale chosen in the View menu are kept in the state folder, and
/// the next session opens with them.
#[test]
fn theme_and_interface_scale_outlive_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path(), Vec::new());
    // The menu, not the viewer's "View" label.
    let menu = |h: &Harness<'static, BlockspaceApp>| {
        h.get_by_role_and_label(egui::accesskit::Role::Button, "View")
            .click();
    };
    menu(&h);
    h.run_steps(2);
    h.get_by_label("Light").click();
    h.run_steps(2);
    menu(&h);
    h.run_steps(2);
    h.get_by_label("125%").click();
    h.run_steps(3);
    let look = |h: &Harness<'static, BlockspaceApp>| {
        (h.ctx.options(|o| o.theme_preference), h.ctx.zoom_factor())
    };
    assert_eq!(look(&h), (egui::ThemePreference::Light, 1.25));
    let text = std::fs::read_to_string(dir.path().join("settings.json")).expect("settings kept");
    assert!(
        text.contains("\"light\"") && text.contains("1.25"),
        "{text}"
    );
    drop(h);
    let h = harness(dir.path(), Vec::new());
    assert_eq!(look(&h), (egui::ThemePreference::Light, 1.25));
}
