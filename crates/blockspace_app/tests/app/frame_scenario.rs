//! A 200-block page while panning, zooming and dragging a block, driven through the real app
//! with a plain `egui::Context` (as a window does): everything is drawn and the drag moves the
//! block. No timing is asserted here; the frame-time benchmark includes this module and prints
//! the times [`Frames`] records for the same frames:
//!
//! ```sh
//! cargo bench -p blockspace_app --bench frame_time
//! ```

#![expect(clippy::unwrap_used, reason = "test helpers")]

use std::time::{Duration, Instant};

use blockspace_app::{AppOptions, BlockspaceApp};
use blockspace_graph::{BlockId, InPort, OutPort};
use eframe::App as _;
use egui::{Event, Modifiers, PointerButton, Pos2, RawInput, Rect, pos2, vec2};

/// The app on a plain context, with the time of each frame's UI pass and tessellation.
pub struct Frames {
    ctx: egui::Context,
    pub app: BlockspaceApp,
    frame: eframe::Frame,
    pub ui_times: Vec<Duration>,
    pub tess_times: Vec<Duration>,
    _state_dir: tempfile::TempDir,
}

impl Frames {
    /// The app on a new page of 200 blocks (150 Inputs and 50 convolutions, each fed by the
    /// three Inputs before it), auto-run off, drawn a few times; no frame times recorded yet.
    pub fn with_200_blocks() -> Self {
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
        let mut b = Frames {
            ctx,
            app,
            frame: eframe::Frame::_new_kittest(),
            ui_times: vec![],
            tess_times: vec![],
            _state_dir: dir,
        };
        b.frame(vec![]);
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
        b
    }

    /// One frame at 1400 × 880 with these events: the UI pass, then tessellation.
    pub fn frame(&mut self, events: Vec<Event>) {
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

    /// Pans (drags the background), zooms in and out (Ctrl+wheel) and drags the first block,
    /// 60 frames each; checks that the block moved.
    pub fn pan_zoom_and_drag(&mut self) {
        let canvas = self.app.tab().unwrap().geometry.screen_rect;
        // Pan: drag the empty background.
        let bg = canvas.left_top() + vec2(4.0, 4.0);
        self.frame(vec![Event::PointerMoved(bg), press(bg, true)]);
        for i in 1..=60 {
            self.frame(vec![Event::PointerMoved(
                bg + vec2(i as f32 * 3.0, i as f32 * 2.0),
            )]);
        }
        self.frame(vec![press(bg + vec2(180.0, 120.0), false)]);
        // Zoom in and out.
        for i in 0..60 {
            let wheel = Event::MouseWheel {
                unit: egui::MouseWheelUnit::Line,
                delta: vec2(0.0, if i < 30 { 1.0 } else { -1.0 }),
                modifiers: Modifiers::COMMAND,
                phase: egui::TouchPhase::Move,
            };
            self.frame(vec![Event::PointerMoved(canvas.center()), wheel]);
        }
        // Drag a block (the first one on the page).
        let block = self.app.tab().unwrap().page.blocks().next().unwrap().id;
        let before = self.app.tab().unwrap().page.block(block).unwrap().pos;
        let r = self
            .app
            .tab()
            .unwrap()
            .geometry
            .block_screen_rect(block)
            .unwrap();
        let grip = pos2(r.center().x, r.top() + 5.0);
        self.frame(vec![Event::PointerMoved(grip), press(grip, true)]);
        for i in 1..=60 {
            self.frame(vec![Event::PointerMoved(
                grip + vec2(i as f32, i as f32 * 0.5),
            )]);
        }
        self.frame(vec![press(grip + vec2(60.0, 30.0), false)]);
        self.frame(vec![]);
        let after = self.app.tab().unwrap().page.block(block).unwrap().pos;
        assert!(
            after[0] > before[0],
            "the block was dragged ({before:?} → {after:?})"
        );
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

#[test]
fn pan_zoom_and_drag_a_200_block_page() {
    Frames::with_200_blocks().pan_zoom_and_drag();
}
