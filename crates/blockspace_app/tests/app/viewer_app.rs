//! The viewer in the real app, on the path a new user takes: open `examples/unet_upsample`,
//! select the output, see three linked planes in a diverging map, flip to the montage, and check
//! the result against a `.npy` file with a verdict.

use std::path::Path;
use std::time::{Duration, Instant};

use blockspace_app::BlockspaceApp;
use blockspace_app::app::AppCommand;
use blockspace_app::panels::viewer::Mode;
use blockspace_app::panels::viewer::colour::ColourMap;
use blockspace_graph::Tensor;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;

use crate::harness;

fn settle(h: &mut Harness<'static, BlockspaceApp>) {
    let deadline = Instant::now() + Duration::from_secs(30);
    h.run_steps(2);
    while h.state().viewer.jobs.busy() || h.state().viewer.compare.loading.is_some() {
        assert!(
            Instant::now() < deadline,
            "the viewer's jobs did not finish within 30 s"
        );
        std::thread::sleep(Duration::from_millis(2));
        h.step();
    }
    h.run_steps(3);
}

#[test]
fn unet_upsample_in_three_planes_a_montage_and_a_verdict_against_a_npy() {
    let dir = tempfile::tempdir().unwrap();
    let page =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/unet_upsample.bspage.json");
    let mut h = harness::harness(dir.path(), vec![page]);
    harness::wait_run(&mut h);
    let up = harness::block_named(&h, "upsample");
    harness::select_on_canvas(&mut h, up);
    settle(&mut h);

    // Three linked planes of the [1, 16, 16, 16, 8] output, named from its NDHWC layout, in
    // the diverging map (the gradient is signed).
    assert_eq!(h.state().viewer.plane_rects.len(), 3);
    h.get_by_label_contains("H × W  at D=8");
    h.get_by_label_contains("D × H  at W=8");
    let scale = h.state().viewer.last_scale.expect("a colour scale");
    assert_eq!(scale.map, ColourMap::Diverging);

    // The montage: one tile per D slice.
    h.get_by_label("Montage").click();
    settle(&mut h);
    assert_eq!(h.state().viewer.mode, Mode::Montage);
    assert_eq!(h.state().viewer.tile_rects.len(), 16);

    // A reference .npy with one planted difference (as the file dialog would answer).
    let result = {
        let tab = h.state().tab().unwrap();
        let outs = tab.executor.result(up).unwrap().outputs.as_ref().unwrap();
        outs[0].clone()
    };
    let Tensor::F32(mut b) = result else {
        panic!("a float32 output")
    };
    b[[0, 5, 6, 7, 3]] += 1.0;
    let path = dir.path().join("reference.npy");
    Tensor::F32(b).write_npy(&path).unwrap();
    h.state_mut().push(AppCommand::LoadReference(path));
    settle(&mut h);
    h.get_by_label("✘ not allclose: 1 of 32768 elements differ");
    h.get_by_label_contains("[N=0, D=5, H=6, W=7, C=3]");
    let c = h.state().viewer.comparison().expect("a comparison");
    assert_eq!(c.worst, Some((((5 * 16) + 6) * 16 + 7) * 8 + 3));
}

#[test]
fn view_menu_turns_on_previews_of_every_result_on_the_canvas() {
    let dir = tempfile::tempdir().unwrap();
    let page =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/unet_upsample.bspage.json");
    let mut h = harness::harness(dir.path(), vec![page]);
    harness::wait_run(&mut h);
    assert_eq!(h.state().viewer.thumbnails.count(), 0, "off by default");
    let up = harness::block_named(&h, "upsample");
    let before = harness::block_rect(&h, up);
    h.get_by_role_and_label(egui::accesskit::Role::Button, "View")
        .click();
    h.run_steps(2);
    h.get_by_label("Result previews on blocks").click();
    h.run_steps(2);
    h.key_press(egui::Key::Escape);
    settle(&mut h);
    assert_eq!(
        h.state().viewer.thumbnails.count(),
        4,
        "one preview per block"
    );
    let after = harness::block_rect(&h, up);
    assert!(
        after.height() > before.height() + 40.0,
        "the block grew to show its preview ({before:?} → {after:?})"
    );
    // The canvas still works: selecting a block shows its result.
    harness::select_on_canvas(&mut h, up);
    settle(&mut h);
    assert_eq!(h.state().viewer.plane_rects.len(), 3);
}

#[test]
fn the_viewer_pops_out_into_its_own_window_and_docks_back() {
    let dir = tempfile::tempdir().unwrap();
    let page =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/unet_upsample.bspage.json");
    let mut h = harness::harness(dir.path(), vec![page]);
    harness::wait_run(&mut h);
    let up = harness::block_named(&h, "upsample");
    harness::select_on_canvas(&mut h, up);
    settle(&mut h);
    h.get_by_label("Pop out ↗").click();
    settle(&mut h);
    assert!(h.state().viewer.popped_out);
    // The side panel gives the inspector its room; the result is one line at the bottom.
    let note = h
        .get_by_label("The result viewer is in its own window.")
        .rect();
    assert!(
        note.top() > 700.0,
        "the docked note is at the bottom: {note:?}"
    );
    // The viewer draws in its window (kittest embeds viewports as windows), bigger.
    let rects = h.state().viewer.plane_rects.clone();
    assert_eq!(rects.len(), 3, "three planes in the window");
    assert!(rects[0].width() > 300.0, "bigger planes: {:?}", rects[0]);
    // It follows the selection (kittest draws the window over the canvas, so select directly).
    let input = harness::block_named(&h, "filter");
    h.state_mut().tab_mut().unwrap().selection = [input].into_iter().collect();
    settle(&mut h);
    h.get_by_label_contains("filter:output");
    // Dock from the side panel (the window has the same button).
    assert_eq!(h.get_all_by_label("Dock ↙").count(), 2);
    h.get_all_by_label("Dock ↙").next().unwrap().click();
    settle(&mut h);
    assert!(!h.state().viewer.popped_out);
    h.get_by_label("Pop out ↗");
}

/// The inspector shows every attribute of the demo's convolution above the result at the
/// default window size, and the line between them drags: down gives the inspector more room
/// and moves the result down with it.
#[test]
fn the_inspector_shows_every_attribute_and_its_divider_with_the_result_drags() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness::harness(dir.path(), Vec::new());
    harness::wait_run(&mut h);
    let grad = harness::block_named(&h, "input_grad");
    harness::select_on_canvas(&mut h, grad);
    settle(&mut h);
    let panel = |h: &Harness<'static, BlockspaceApp>| {
        egui::containers::panel::PanelState::load(&h.ctx, "side-inspector".into())
            .expect("the inspector panel")
            .outer_rect
    };
    let before = panel(&h);
    let result = h.get_by_label("Result").rect();
    for attr in ["strides", "padding", "data_format", "dilations"] {
        let r = h.get_by_label(attr).rect();
        assert!(
            r.bottom() <= before.bottom() && r.bottom() <= result.top(),
            "{attr} at {r:?} is not shown above the result (inspector {before:?}, result {result:?})"
        );
    }
    // Drag the divider (the panel's bottom edge) 150 points down.
    let grip = egui::pos2(before.center().x, before.bottom());
    harness::pointer_drag(
        &mut h,
        grip,
        grip + egui::vec2(0.0, 150.0),
        egui::Modifiers::NONE,
    );
    settle(&mut h);
    let after = panel(&h);
    assert!(
        (after.height() - before.height() - 150.0).abs() < 10.0,
        "the inspector grew from {before:?} to {after:?}"
    );
    let moved = h.get_by_label("Result").rect();
    assert!(
        moved.top() > result.top() + 140.0,
        "the result moved from {result:?} to {moved:?}"
    );
}
