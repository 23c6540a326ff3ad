//! Renders the app to PNG files, for looking at the UI while developing it:
//!
//! ```sh
//! WGPU_BACKEND=vulkan RENDER_OUT=/tmp cargo test --release -p blockspace_app --test app -- --ignored render_app
//! ```
use blockspace_app::{AppOptions, BlockspaceApp};
use egui_kittest::Harness;

fn render(name: &str, size: egui::Vec2, ppp: f32, zoom: f32, theme: egui::Theme) {
    let dir = tempfile::tempdir().expect("temp dir");
    let state = dir.path().to_path_buf();
    let mut h = Harness::builder()
        .with_size(size)
        .with_pixels_per_point(ppp)
        .with_theme(theme)
        .wgpu()
        .build_eframe(move |cc| {
            cc.egui_ctx.set_zoom_factor(zoom);
            BlockspaceApp::new(
                &cc.egui_ctx,
                AppOptions {
                    pages: vec![],
                    state_dir: Some(state),
                    no_recovery_offer: true,
                    ..Default::default()
                },
            )
        });
    for _ in 0..20 {
        h.step();
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    if name == "app-menu-zoom2" {
        // As View → Interface scale → 200% does, after start.
        h.ctx.set_zoom_factor(2.0);
        for _ in 0..10 {
            h.step();
        }
        h.key_press(egui::Key::Home);
        for _ in 0..5 {
            h.step();
        }
    }
    let out = std::env::var("RENDER_OUT").unwrap_or_else(|_| "/tmp".into());
    h.render()
        .expect("render")
        .save(format!("{out}/{name}.png"))
        .expect("save png");
}

#[test]
#[ignore = "writes PNGs to $RENDER_OUT for inspection"]
fn render_app() {
    render(
        "app-dark",
        egui::vec2(1400.0, 880.0),
        1.0,
        1.0,
        egui::Theme::Dark,
    );
    render(
        "app-light",
        egui::vec2(1400.0, 880.0),
        1.0,
        1.0,
        egui::Theme::Light,
    );
    render(
        "app-hidpi2",
        egui::vec2(1400.0, 880.0),
        2.0,
        1.0,
        egui::Theme::Dark,
    );
    render(
        "app-menu-zoom2",
        egui::vec2(1400.0, 880.0),
        1.0,
        1.0,
        egui::Theme::Dark,
    );
    render(
        "app-small200",
        egui::vec2(960.0, 600.0),
        2.0,
        1.0,
        egui::Theme::Light,
    );
}

fn harness(theme: egui::Theme) -> (Harness<'static, BlockspaceApp>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let state = dir.path().to_path_buf();
    let mut h = Harness::builder()
        .with_size(egui::vec2(1400.0, 880.0))
        .with_theme(theme)
        .wgpu()
        .build_eframe(move |cc| {
            BlockspaceApp::new(
                &cc.egui_ctx,
                AppOptions {
                    pages: vec![],
                    state_dir: Some(state),
                    no_recovery_offer: true,
                    ..Default::default()
                },
            )
        });
    for _ in 0..20 {
        h.step();
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    (h, dir)
}

/// The pictures in docs/user-guide.md:
///
/// ```sh
/// WGPU_BACKEND=vulkan cargo test --release -p blockspace_app --test app -- --ignored user_guide_pictures
/// ```
#[test]
#[ignore = "writes docs/user-guide-*.png"]
fn user_guide_pictures() {
    use egui_kittest::kittest::Queryable as _;
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs");
    // The search menu, light theme.
    let (mut h, _dir) = harness(egui::Theme::Light);
    h.get_by_label("➕ Add block").click();
    h.run_steps(3);
    h.get_by_label_contains("Search blocks").type_text("conv");
    h.run_steps(3);
    h.render()
        .expect("render")
        .save(docs.join("user-guide-add-block.png"))
        .expect("save png");
    // A channel mismatch, shown on the block and in the inspector.
    let (mut h, _dir) = harness(egui::Theme::Dark);
    let tab = h.state().tab().expect("tab");
    let conv = tab
        .page
        .blocks()
        .find(|b| b.type_id == "Conv3DBackpropInputV2")
        .expect("conv")
        .id;
    let filter = tab
        .page
        .wires()
        .find(|w| w.to.block == conv && w.to.port == 1)
        .expect("filter wire")
        .from
        .block;
    h.state_mut().set_attr(
        filter,
        "shape",
        blockspace_graph::AttrValue::IntList(vec![3, 3, 3, 2, 7]),
    );
    for _ in 0..10 {
        h.step();
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // Hover the error badge so its tooltip shows.
    let badge = h
        .state()
        .tab()
        .expect("tab")
        .geometry
        .badge_screen(conv)
        .expect("error badge on screen");
    h.hover_at(badge);
    for _ in 0..10 {
        h.step();
        std::thread::sleep(std::time::Duration::from_millis(40));
    }
    h.render()
        .expect("render")
        .save(docs.join("user-guide-error.png"))
        .expect("save png");
}
