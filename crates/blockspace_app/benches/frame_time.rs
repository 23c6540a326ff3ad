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
use blockspace_app::{AppOptions, BlockspaceApp};
use blockspace_graph::{AttrValue, BlockId, InPort, OutPort};
use eframe::App as _;
use egui::{Event, Key, Modifiers, PointerButton, Pos2, RawInput, Rect, pos2, vec2};

#[expect(
    dead_code,
    reason = "the tests' harness; the benchmark uses part of it"
)]
#[path = "../tests/app/harness.rs"]
mod harness;

struct Bench {
    ctx: egui::Context,
    app: BlockspaceApp,
    frame: eframe::Frame,
    ui_times: Vec<Duration>,
    tess_times: Vec<Duration>,
}

impl Bench {
    fn frame(&mut self, events: Vec<Event>) {
        let input = RawInput {
            screen_rect: Some(Rect::from_min_size(Pos2::ZERO, vec2(1400.0, 880.0))),
            events,
            ..RawInput::default()
        };
        let t0 = Instant::now();
        let out = self
            .ctx
            .run_ui(input, |ui| self.app.ui(ui, &mut self.frame));
        self.ui_times.push(t0.elapsed());
        let t0 = Instant::now();
        let prims = self.ctx.tessellate(out.shapes, out.pixels_per_point);
        self.tess_times.push(t0.elapsed());
        assert!(!prims.is_empty(), "something is drawn");
    }
}

fn press(pos: Pos2, pressed: bool) -> Event {
    Event::PointerButton {
        pos,
        button: PointerButton::Primary,
        pressed,
        modifiers: Modifiers::NONE,
    }
}

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
    let dir = tempfile::tempdir().unwrap();
    let ctx = egui::Context::default();
    let app = BlockspaceApp::new(
        &ctx,
        AppOptions {
            pages: vec![],
            state_dir: Some(dir.path().to_path_buf()),
            no_recovery_offer: true,
            ..Default::default()
        },
    );
    let mut b = Bench {
        ctx,
        app,
        frame: eframe::Frame::_new_kittest(),
        ui_times: vec![],
        tess_times: vec![],
    };
    b.frame(vec![]);
    // 200 blocks: 150 Inputs and 50 convs, each conv fed by the three Inputs before it.
    b.app.new_page();
    let mut inputs: Vec<BlockId> = Vec::new();
    for i in 0..200 {
        let pos = [(i % 20) as f32 * 280.0, (i / 20) as f32 * 230.0];
        if i % 4 == 3 {
            let conv = b
                .app
                .add_block("Conv3DBackpropInputV2", pos, None, None)
                .unwrap();
            for (port, from) in inputs.drain(..).enumerate() {
                b.app.connect(
                    OutPort {
                        block: from,
                        port: 0,
                    },
                    InPort { block: conv, port },
                );
            }
        } else {
            let id = b.app.add_block("Input", pos, None, None).unwrap();
            if i % 4 == 0 {
                b.app.set_attr(
                    id,
                    "dtype",
                    blockspace_graph::AttrValue::Str("int32".into()),
                );
                b.app.set_attr(
                    id,
                    "values",
                    blockspace_graph::AttrValue::Str("1, 4, 4, 4, 1".into()),
                );
            }
            inputs.push(id);
        }
    }
    assert_eq!(
        b.app.tab().unwrap().page.blocks().count(),
        200,
        "200 blocks"
    );
    assert_eq!(b.app.tab().unwrap().page.wires().count(), 150, "150 wires");
    b.app.tab_mut().unwrap().auto_run = false;
    for _ in 0..4 {
        b.frame(vec![]);
    }
    b.ui_times.clear();
    b.tess_times.clear();

    let canvas = b.app.tab().unwrap().geometry.screen_rect;
    // Pan: drag the empty background.
    let bg = canvas.left_top() + vec2(4.0, 4.0);
    b.frame(vec![Event::PointerMoved(bg), press(bg, true)]);
    for i in 1..=60 {
        b.frame(vec![Event::PointerMoved(
            bg + vec2(i as f32 * 3.0, i as f32 * 2.0),
        )]);
    }
    b.frame(vec![press(bg + vec2(180.0, 120.0), false)]);
    // Zoom in and out.
    for i in 0..60 {
        let wheel = Event::MouseWheel {
            unit: egui::MouseWheelUnit::Line,
            delta: vec2(0.0, if i < 30 { 1.0 } else { -1.0 }),
            modifiers: Modifiers::COMMAND,
            phase: egui::TouchPhase::Move,
        };
        b.frame(vec![Event::PointerMoved(canvas.center()), wheel]);
    }
    // Drag a block (the first one on the page).
    let block = b.app.tab().unwrap().page.blocks().next().unwrap().id;
    let before = b.app.tab().unwrap().page.block(block).unwrap().pos;
    let r = b
        .app
        .tab()
        .unwrap()
        .geometry
        .block_screen_rect(block)
        .unwrap();
    let grip = pos2(r.center().x, r.top() + 5.0);
    b.frame(vec![Event::PointerMoved(grip), press(grip, true)]);
    for i in 1..=60 {
        b.frame(vec![Event::PointerMoved(
            grip + vec2(i as f32, i as f32 * 0.5),
        )]);
    }
    b.frame(vec![press(grip + vec2(60.0, 30.0), false)]);
    b.frame(vec![]);
    let after = b.app.tab().unwrap().page.block(block).unwrap().pos;
    assert!(
        after[0] > before[0],
        "the block was dragged ({before:?} → {after:?})"
    );

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
