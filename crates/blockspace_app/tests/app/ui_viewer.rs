//! The volume viewer widget: linked planes and the crosshair, the montage, projections, the
//! automatic diverging map, comparison with a `.npy` file and pinning; browsing rebuilds only
//! the textures that changed (frame times: the `frame_time` and `viewer` benchmarks).

use std::time::{Duration, Instant};

use blockspace_app::panels::view_prep::axis_names;
use blockspace_app::panels::viewer::colour::ColourMap;
use blockspace_app::panels::viewer::compare::reference_of;
use blockspace_app::panels::viewer::{Mode, RangeMode, Shown, VolumeViewer};
use blockspace_graph::Tensor;
use egui::{Key, Modifiers, Pos2, Rect};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use ndarray::{ArrayD, IxDyn};

type State = (VolumeViewer, Shown);

/// A viewer showing `shown`, in a scroll area as in the side panel.
fn viewer(shown: Shown, size: egui::Vec2) -> Harness<'static, State> {
    let mut h = Harness::builder()
        .with_size(size)
        .with_max_steps(40)
        .build_ui_state(
            |ui, (viewer, shown): &mut State| {
                egui::ScrollArea::vertical().show(ui, |ui| {
                    viewer.ui(ui, shown);
                });
            },
            (VolumeViewer::default(), shown),
        );
    settle(&mut h);
    h
}

/// Steps until the viewer's background work is done.
fn settle(h: &mut Harness<'static, State>) {
    let deadline = Instant::now() + Duration::from_secs(30);
    h.run_steps(2);
    while h.state().0.jobs.busy() || h.state().0.compare.loading.is_some() {
        assert!(
            Instant::now() < deadline,
            "the viewer's jobs did not finish within 30 s"
        );
        std::thread::sleep(Duration::from_millis(2));
        h.step();
    }
    h.run_steps(2);
}

fn click(h: &mut Harness<'static, State>, pos: Pos2) {
    h.event(egui::Event::PointerMoved(pos));
    h.step();
    for pressed in [true, false] {
        h.event(egui::Event::PointerButton {
            pos,
            button: egui::PointerButton::Primary,
            pressed,
            modifiers: Modifiers::NONE,
        });
        h.step();
    }
    h.run_steps(2);
}

/// The centre of cell `(r, c)` of a `rows × cols` image drawn in `rect`.
fn cell(rect: Rect, rows: usize, cols: usize, r: usize, c: usize) -> Pos2 {
    egui::pos2(
        rect.left() + (c as f32 + 0.5) * rect.width() / cols as f32,
        rect.top() + (r as f32 + 0.5) * rect.height() / rows as f32,
    )
}

/// N D H W C = 1 × 6 × 8 × 10 × 2 with value 1000·d + 100·h + w + 0.5·c (or its negative part).
fn volume(offset: f64) -> Tensor {
    Tensor::F32(ArrayD::from_shape_fn(IxDyn(&[1, 6, 8, 10, 2]), |ix| {
        (1000.0 * ix[1] as f64 + 100.0 * ix[2] as f64 + ix[3] as f64 + 0.5 * ix[4] as f64 - offset)
            as f32
    }))
}

fn ndhwc() -> Vec<String> {
    axis_names(5, Some("NDHWC"))
}

#[test]
fn clicking_a_plane_moves_the_crosshair_and_the_other_planes_follow() {
    let mut h = viewer(
        Shown::tensor(1, "x:output", volume(0.0), &ndhwc()),
        egui::vec2(700.0, 1100.0),
    );
    assert_eq!(
        h.state().0.index,
        vec![0, 3, 4, 5, 0],
        "starts in the middle"
    );
    assert_eq!(h.state().0.plane_rects.len(), 3, "three planes");
    h.get_by_label_contains("D × H  at W=5");
    h.get_by_label_contains("D × W  at H=4");
    h.get_by_label_contains("H × W  at D=3");

    // Click the H × W plane at H=6, W=2: the D × W plane now shows H=6, the D × H plane W=2.
    let hw = h.state().0.plane_rects[2];
    click(&mut h, cell(hw, 8, 10, 6, 2));
    assert_eq!(h.state().0.index, vec![0, 3, 6, 2, 0]);
    h.get_by_label_contains("D × H  at W=2");
    h.get_by_label_contains("D × W  at H=6");

    // Arrow keys step it in the plane clicked last; Page Up steps D.
    h.key_press(Key::ArrowRight);
    h.key_press(Key::ArrowDown);
    h.key_press(Key::PageUp);
    h.run_steps(2);
    assert_eq!(h.state().0.index, vec![0, 4, 7, 3, 0]);

    // Hovering shows the full index and value.
    let dh = h.state().0.plane_rects[0];
    h.hover_at(cell(dh, 6, 8, 1, 2));
    h.run_steps(2);
    h.get_by_label_contains("[N=0, D=1, H=2, W=3, C=0] = 1203");
}

#[test]
fn browsing_rebuilds_only_the_plane_that_changed() {
    let mut h = viewer(
        Shown::tensor(1, "x:output", volume(0.0), &ndhwc()),
        egui::vec2(700.0, 1100.0),
    );
    let builds = h.state().0.texture_builds;
    h.run_steps(10);
    assert_eq!(
        h.state().0.texture_builds,
        builds,
        "idle frames rebuild nothing"
    );
    for d in 0..6 {
        h.state_mut().0.index[1] = d;
        h.step();
    }
    // Six changes of D (from the start at 3 to 0, then up to 5), each redraws only the H × W
    // plane: the D × H and D × W planes do not depend on D.
    assert_eq!(h.state().0.texture_builds, builds + 6);
}

#[test]
fn a_montage_click_jumps_the_planes_to_that_slice() {
    let mut h = viewer(
        Shown::tensor(1, "x:output", volume(0.0), &ndhwc()),
        egui::vec2(700.0, 1100.0),
    );
    h.get_by_label("Montage").click();
    settle(&mut h);
    assert_eq!(h.state().0.mode, Mode::Montage);
    let tiles = h.state().0.tile_rects.clone();
    assert_eq!(tiles.len(), 6, "one tile per D slice");
    click(&mut h, tiles[4].center());
    assert_eq!(h.state().0.mode, Mode::Planes, "back to the planes");
    assert_eq!(h.state().0.index[1], 4, "at the clicked slice");
    h.get_by_label_contains("H × W  at D=4");
}

#[test]
fn projections_have_the_known_values() {
    let mut h = viewer(
        Shown::tensor(1, "x:output", volume(0.0), &ndhwc()),
        egui::vec2(700.0, 1100.0),
    );
    h.get_by_label("Projection").click();
    settle(&mut h);
    // Max over D (the default axis) of 1000·d + 100·h + w at H=2, W=3, C=0: d = 5.
    let rect = h.state().0.plane_rects[0];
    h.hover_at(cell(rect, 8, 10, 2, 3));
    h.run_steps(2);
    h.get_by_label_contains("max over D at [N=0, H=2, W=3, C=0] = 5203");
    // Mean over D: 2500 + 203.
    h.state_mut().0.reduce = blockspace_app::panels::viewer::compute::Reduce::Mean;
    settle(&mut h);
    h.hover_at(cell(rect, 8, 10, 2, 3) + egui::vec2(0.5, 0.0));
    h.run_steps(2);
    h.get_by_label_contains("mean over D at [N=0, H=2, W=3, C=0] = 2703");
}

#[test]
fn signed_data_gets_the_diverging_map() {
    let mut h = viewer(
        Shown::tensor(1, "x:output", volume(2500.0), &ndhwc()),
        egui::vec2(700.0, 1100.0),
    );
    let s = h.state().0.last_scale.expect("a scale");
    assert_eq!(s.map, ColourMap::Diverging);
    assert_eq!(s.lo, -s.hi, "centred on zero");
    // The colour menu says what auto chose.
    h.get_by_value("auto: diverging (blue − 0 + red)");
    // Non-negative data: viridis.
    h.state_mut().1 = Shown::tensor(2, "y:output", volume(0.0), &ndhwc());
    settle(&mut h);
    assert_eq!(
        h.state().0.last_scale.expect("a scale").map,
        ColourMap::Viridis
    );
}

#[test]
fn dragging_a_histogram_mark_sets_the_colour_range() {
    let mut h = viewer(
        Shown::tensor(1, "x:output", volume(0.0), &ndhwc()),
        egui::vec2(700.0, 1400.0),
    );
    let before = h.state().0.last_scale.expect("a scale");
    assert_eq!(
        (before.lo, before.hi),
        (0.0, 5709.5),
        "the whole tensor's range"
    );
    let r = h.state().0.hist_rect.expect("a histogram");
    // Drag the top mark (at the right end) to the middle of the plot.
    let from = egui::pos2(r.right() - 3.0, r.center().y);
    let to = egui::pos2(r.center().x, r.center().y);
    h.event(egui::Event::PointerMoved(from));
    h.step();
    h.event(egui::Event::PointerButton {
        pos: from,
        button: egui::PointerButton::Primary,
        pressed: true,
        modifiers: Modifiers::NONE,
    });
    h.step();
    for i in 1..=6 {
        h.event(egui::Event::PointerMoved(
            from + (to - from) * (i as f32 / 6.0),
        ));
        h.step();
    }
    h.event(egui::Event::PointerButton {
        pos: to,
        button: egui::PointerButton::Primary,
        pressed: false,
        modifiers: Modifiers::NONE,
    });
    h.run_steps(3);
    let s = &h.state().0;
    assert_eq!(s.range, RangeMode::Manual, "a dragged range is a typed one");
    let after = s.last_scale.expect("a scale");
    assert_eq!(after.lo, 0.0, "the bottom stays");
    assert!(
        (after.hi - 5709.5 / 2.0).abs() < 5709.5 * 0.02,
        "the top follows the pointer to the middle: {}",
        after.hi
    );
}

#[test]
fn compare_with_a_npy_file_finds_the_planted_difference() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reference.npy");
    let Tensor::F32(mut b) = volume(0.0) else {
        unreachable!()
    };
    b[[0, 2, 3, 4, 1]] += 0.25;
    Tensor::F32(b).write_npy(&path).unwrap();

    let mut h = viewer(
        Shown::tensor(1, "x:output", volume(0.0), &ndhwc()),
        egui::vec2(700.0, 1400.0),
    );
    h.state_mut().0.load_reference(path);
    settle(&mut h);
    h.get_by_label("✘ not allclose: 1 of 960 elements differ");
    h.get_by_label_contains("[N=0, D=2, H=3, W=4, C=1]  a = 2304.50000, b = 2304.75000");
    h.get_by_label("Showing a − b (this result minus the reference)");
    let c = h.state().0.comparison().expect("a comparison");
    assert!(
        (c.max_abs - 0.25).abs() < 1e-9,
        "max abs error {}",
        c.max_abs
    );
    h.get_by_label("show").click();
    h.run_steps(3);
    assert_eq!(
        h.state().0.index,
        vec![0, 2, 3, 4, 1],
        "the crosshair is at the worst element"
    );
    h.get_by_label_contains("a − b = -0.25000");

    // A reference of another shape is refused with both shapes named.
    let other = dir.path().join("other.npy");
    Tensor::F32(ArrayD::zeros(IxDyn(&[2, 2])))
        .write_npy(&other)
        .unwrap();
    h.state_mut().0.load_reference(other);
    settle(&mut h);
    h.get_by_label_contains(
        "the reference has shape [2, 2] but the result has shape [1, 6, 8, 10, 2]",
    );
}

#[test]
fn another_block_output_of_the_same_shape_can_be_the_reference() {
    let mut shown = Shown::tensor(1, "x:output", volume(0.0), &ndhwc());
    shown.candidates.push(reference_of("y:output", volume(0.0)));
    let mut h = viewer(shown, egui::vec2(700.0, 1400.0));
    h.get_by_value("nothing").click();
    h.run_steps(2);
    h.get_by_label("y:output").click();
    settle(&mut h);
    h.get_by_label("✔ allclose: all 960 elements are close");
    assert_eq!(h.state().0.stats().max, 0.0, "the views show a − b = 0");
}

#[test]
fn a_pinned_result_is_compared_with_the_next_one() {
    let mut h = viewer(
        Shown::tensor(1, "x:output", volume(0.0), &ndhwc()),
        egui::vec2(700.0, 1400.0),
    );
    h.get_by_label("📌 Pin this result").click();
    settle(&mut h);
    h.get_by_label("✔ allclose: all 960 elements are close");
    // The block is edited and runs again: its new result is compared with the pinned one.
    h.state_mut().1 = Shown::tensor(2, "x:output", volume(1.0), &ndhwc());
    settle(&mut h);
    h.get_by_label("✘ not allclose: 960 of 960 elements differ");
    let c = h.state().0.comparison().expect("a comparison");
    assert!((c.max_abs - 1.0).abs() < 1e-9);
    assert!(
        h.state()
            .0
            .compare
            .pinned
            .as_ref()
            .is_some_and(|p| p.label == "x:output (pinned)")
    );
}

#[test]
fn big_tensors_are_summarised_off_the_ui_thread() {
    let mut h = Harness::builder()
        .with_size(egui::vec2(700.0, 1100.0))
        .build_ui_state(
            |ui, (viewer, shown): &mut State| {
                viewer.ui(ui, shown);
            },
            (
                {
                    let mut v = VolumeViewer::default();
                    v.jobs.set_inline_max(0);
                    v
                },
                Shown::tensor(1, "x:output", volume(0.0), &ndhwc()),
            ),
        );
    settle(&mut h);
    assert_eq!(h.state().0.stats().count, 960);
    assert!(h.state().0.jobs.summary.spawned >= 1, "on a worker thread");
    assert_eq!(h.state().0.plane_rects.len(), 3);
}

#[test]
fn scalars_empty_tensors_long_vectors_and_matrices_show_without_trouble() {
    let cases = [
        Tensor::F64(ArrayD::from_elem(IxDyn(&[]), 2.5)),
        Tensor::F32(ArrayD::zeros(IxDyn(&[0, 3]))),
        Tensor::I64(ArrayD::from_shape_fn(IxDyn(&[200_000]), |ix| {
            ix[0] as i64 - 7
        })),
        Tensor::I32(ArrayD::from_shape_fn(IxDyn(&[3, 4]), |ix| {
            (ix[0] * 4 + ix[1]) as i32
        })),
    ];
    let expect = ["2.5", "The tensor is empty", "row × dim0", "dim0 × dim1"];
    for (t, text) in cases.into_iter().zip(expect) {
        let h = viewer(
            Shown::tensor(1, "x:output", t, &[]),
            egui::vec2(700.0, 1100.0),
        );
        assert!(
            h.get_all_by_label_contains(text).next().is_some(),
            "shows {text:?}"
        );
    }
}

/// The viewer's look (rendered with Mesa's software Vulkan; `UPDATE_SNAPSHOTS=1` rewrites
/// `tests/snapshots/viewer_5d.png`).
#[test]
fn viewer_snapshot() {
    let t = Tensor::F32(ArrayD::from_shape_fn(IxDyn(&[1, 12, 16, 16, 2]), |ix| {
        let (d, y, x) = (ix[1] as f32, ix[2] as f32, ix[3] as f32);
        (x * 0.4).sin() + (y * 0.5).cos() - 0.1 * d
    }));
    let shown = Shown::tensor(7, "upsample:output", t, &ndhwc());
    let mut h = Harness::builder()
        .with_size(egui::vec2(460.0, 1000.0))
        .wgpu()
        .build_ui_state(
            |ui, (viewer, shown): &mut State| {
                viewer.ui(ui, shown);
            },
            (VolumeViewer::default(), shown),
        );
    h.run_steps(3);
    h.snapshot("viewer_5d");
}
