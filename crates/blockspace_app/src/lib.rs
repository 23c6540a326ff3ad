//! Blockspace desktop app (a visual dataflow editor for tensor ops) and the headless
//! subcommands of the `blockspace` binary ([`cli`]).
//!
//! The app is a library plus a thin `main.rs`, so the UI tests (egui_kittest) drive the real
//! [`BlockspaceApp`]. The page model lives in `blockspace_graph`; this crate owns pixels and
//! gestures only: every edit becomes a `blockspace_graph::Command` applied through the page's
//! `History`.
//!
//! The folders are the map (see `docs/architecture.md`):
//!
//! | room | what |
//! |---|---|
//! | [`app`] | the state, the `eframe::App` impl, the [`AppCommand`] queue and its handling, tabs, files, autosave |
//! | [`ui`] | menu bar, tab bar, toolbar, status bar, modals, toasts, the menu/shortcut table, style |
//! | [`canvas`] | the snarl mirror, the snarl viewer, geometry, selection and drag interaction |
//! | [`panels`] | the inspector, the result viewer and the background view preparation |
//! | [`cli`] | the headless subcommands |
//!
//! UI code only pushes [`AppCommand`]s; [`BlockspaceApp::drain_commands`] applies them once per
//! frame, after drawing.
//!
//! ```no_run
//! let options = blockspace_app::AppOptions::default();
//! blockspace_app::run_gui(options).expect("the window opens");
//! ```

pub mod adapter;
pub mod app;
pub mod canvas;
pub mod cli;
pub mod panels;
pub mod ui;

pub use app::{AppCommand, AppOptions, BlockspaceApp};

/// The window icon (embedded at build time).
pub const ICON_PNG: &[u8] = include_bytes!("../../../assets/icon.png");

/// Opens the window and runs the app until it is closed.
pub fn run_gui(options: AppOptions) -> eframe::Result {
    let mut viewport = egui::ViewportBuilder::default()
        .with_title("Blockspace")
        .with_app_id("blockspace")
        .with_inner_size([1400.0, 880.0])
        .with_min_inner_size([800.0, 500.0]);
    match eframe::icon_data::from_png_bytes(ICON_PNG) {
        Ok(icon) => viewport = viewport.with_icon(icon),
        Err(e) => log::warn!("the window icon could not be decoded: {e}"),
    }
    let native = eframe::NativeOptions {
        viewport,
        ..Default::default()
    };
    eframe::run_native(
        "Blockspace",
        native,
        Box::new(move |cc| Ok(Box::new(BlockspaceApp::new(&cc.egui_ctx, options)))),
    )
}
