//! Renders the app to PNG files (for looking at the UI while developing it).
use blockspace_app::{AppOptions, BlockspaceApp};
use egui_kittest::Harness;

#[test]
#[ignore = "writes PNGs to $RENDER_OUT for inspection"]
fn render_app() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().to_path_buf();
    let mut h = Harness::builder()
        .with_size(egui::vec2(1400.0, 880.0))
        .wgpu()
        .build_eframe(move |cc| {
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
    let img = h.render().unwrap();
    img.save(format!("{out}/app.png")).unwrap();
    let tab = h.state().tab().unwrap();
    eprintln!(
        "geometry: {:?} rects {:?}",
        tab.geometry.to_screen, tab.geometry.node_rects
    );
}
