//! The app's timings, printed (never asserted: `cargo test` has no wall-clock assertions). Each
//! section runs the scenario of a functional test and prints what used to be asserted, next to
//! the budget it was asserted against:
//!
//! 1. frame time of a 200-block page while panning, zooming and dragging a block
//!    (`frame_scenario`), with a plain `egui::Context` as a window has (no accessibility tree),
//!    the UI pass and the tessellation timed separately;
//! 2. the viewer on a 5-D tensor of a million elements: first, idle and slice-change frames
//!    (`ui_viewer::browsing_rebuilds_only_the_plane_that_changed`; the 134 MB volume: the
//!    `viewer` benchmark);
//! 3. an attribute edit to the new result in the viewer (`runs::attr_edit_to_new_result_latency`);
//! 4. the slowest frame while a 4M-element result is prepared for the viewer, and while a
//!    seconds-long kernel runs (`runs::big_result_is_prepared_for_the_viewer_off_the_ui_thread`,
//!    `runs::long_run_keeps_ui_responsive_and_cancels`).
//!
//! Sections 2-4 use the tests' own harness (`tests/app/harness.rs`).
//!
//! ```sh
//! WGPU_BACKEND=vulkan cargo bench -p blockspace_app --bench frame_time
//! ```

#![expect(
    clippy::unwrap_used,
    reason = "a benchmark: a failure is a bug to see at once"
)]

use std::time::{Duration, Instant};

use blockspace_app::panels::view_prep::axis_names;
use blockspace_app::panels::viewer::{Shown, VolumeViewer};
use blockspace_graph::{AttrValue, InPort, OutPort};
use egui::{Key, Modifiers};

#[expect(
    dead_code,
    reason = "the tests' harness; the benchmark uses part of it"
)]
#[path = "../tests/app/harness.rs"]
mod harness;

#[path = "../tests/app/frame_scenario.rs"]
mod frame_scenario;

fn summary(v: &mut [Duration]) -> (f64, f64, f64) {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let mean = v.iter().sum::<Duration>().div_f64(v.len() as f64);
    (ms(v[v.len() / 2]), ms(mean), ms(v[v.len() - 1]))
}

fn main() {
    page_200_blocks();
    viewer_5d();
    attr_edit_latency();
    slowest_frames_while_computing();
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Section 1: the 200-block page.
fn page_200_blocks() {
    let mut b = frame_scenario::Frames::with_200_blocks();
    b.pan_zoom_and_drag();

    let n = b.ui_times.len();
    let (um, ua, ux) = summary(&mut b.ui_times);
    let (tm, ta, tx) = summary(&mut b.tess_times);
    println!(
        "200-block page, {n} frames of pan/zoom/drag (release): UI pass median {um:.2} ms, mean {ua:.2} ms, \
         max {ux:.2} ms; tessellation median {tm:.2} ms, mean {ta:.2} ms, max {tx:.2} ms; \
         UI + tessellation mean {:.2} ms (a 60 fps frame is 16.7 ms)",
        ua + ta
    );
}

/// Section 2: the viewer on a 5-D tensor of a million elements.
fn viewer_5d() {
    // N D H W C = 2 × 8 × 250 × 250 × 1 = 1 000 000 elements.
    let shape = [2, 8, 250, 250, 1];
    let n: usize = shape.iter().product();
    let values = ndarray::ArrayD::from_shape_vec(
        ndarray::IxDyn(&shape),
        (0..n).map(|i| ((i % 977) as f32).sin()).collect(),
    )
    .unwrap();
    let shown = Shown::tensor(
        1,
        "x:output",
        blockspace_graph::Tensor::F32(values),
        &axis_names(5, Some("NDHWC")),
    );
    let mut h = egui_kittest::Harness::builder()
        .with_size(egui::vec2(480.0, 900.0))
        .build_ui_state(
            move |ui, viewer: &mut VolumeViewer| {
                egui::ScrollArea::vertical().show(ui, |ui| {
                    viewer.ui(ui, &shown);
                });
            },
            VolumeViewer::default(),
        );
    let t0 = Instant::now();
    h.run_steps(2);
    let first = t0.elapsed();
    let t0 = Instant::now();
    h.run_steps(20);
    let idle = t0.elapsed() / 20;
    let mut change = Duration::ZERO;
    for d in 1..8 {
        h.state_mut().index[1] = d;
        let t0 = Instant::now();
        h.step();
        change += t0.elapsed();
    }
    let change = change / 7;
    println!(
        "viewer, 5-D 1M elements: first frame {:.1} ms, idle frame {:.2} ms (budget 16 ms), \
         slice change {:.2} ms (budget 50 ms)",
        ms(first),
        ms(idle),
        ms(change)
    );
}

/// Section 3: an attribute edit of the demo page to new statistics in the viewer.
fn attr_edit_latency() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness::harness(dir.path(), vec![]);
    harness::wait_run(&mut h);
    let filter = harness::block_named(&h, "filter");
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
    println!(
        "attr edit → new statistics in the viewer: {:.1} ms (budget 500 ms)",
        ms(t0.elapsed())
    );
}

/// Section 4: the slowest frame while a big result is prepared for the viewer, and while a long
/// kernel runs on the executor thread.
fn slowest_frames_while_computing() {
    let s = |v: &str| AttrValue::Str(v.to_owned());
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness::harness(dir.path(), vec![]);
    harness::wait_run(&mut h);
    h.key_press_modifiers(Modifiers::COMMAND, Key::N);
    h.run_steps(2);
    let app = h.state_mut();
    let big = app.add_block("Input", [0.0, 0.0], None, None).unwrap();
    app.set_attr(big, "mode", s("range"));
    app.set_attr(big, "shape", AttrValue::IntList(vec![2, 16, 256, 256, 2]));
    harness::wait_run(&mut h);
    let mut slowest = Duration::ZERO;
    while h.state().viewer.stats().count != 4_194_304 {
        let t0 = Instant::now();
        h.step();
        slowest = slowest.max(t0.elapsed());
        std::thread::sleep(Duration::from_millis(5));
    }
    println!(
        "slowest frame while a 4M-element result is prepared for the viewer: {:.1} ms (budget 400 ms)",
        ms(slowest)
    );

    h.key_press_modifiers(Modifiers::COMMAND, Key::N);
    h.run_steps(2);
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
        app.connect(
            OutPort {
                block: from,
                port: 0,
            },
            InPort { block: conv, port },
        );
    }
    h.run_steps(2);
    h.key_press(Key::F5);
    let mut slowest = Duration::ZERO;
    for _ in 0..10 {
        let t0 = Instant::now();
        h.step();
        slowest = slowest.max(t0.elapsed());
        std::thread::sleep(Duration::from_millis(10));
    }
    let running = h.state().tab().unwrap().run.active;
    h.key_press(Key::Escape);
    while h.state().tab().unwrap().run.active {
        h.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    println!(
        "slowest of 10 frames while a seconds-long kernel runs: {:.1} ms (budget 400 ms; still \
         running after them: {running})",
        ms(slowest)
    );
}
