//! Renders the app to PNG files, for looking at the UI while developing it:
//!
//! ```sh
//! WGPU_BACKEND=vulkan RENDER_OUT=/tmp cargo test --release -p blockspace_app --test debug_render -- --ignored
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
                },
            )
        });
    for _ in 0..20 {
        h.step();
        std::thread::sleep(std::time::Duration::from_millis(20));
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
        "app-small200",
        egui::vec2(960.0, 600.0),
        2.0,
        1.0,
        egui::Theme::Light,
    );
}
