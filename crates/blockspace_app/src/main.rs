//! The `blockspace` binary: with no subcommand (or with page paths) it opens the desktop app.

use std::path::PathBuf;

use clap::Parser;

/// Blockspace: a visual dataflow editor for tensor ops.
#[derive(Parser, Debug)]
#[command(name = "blockspace", version, about)]
struct Cli {
    /// Page files (.bspage.json) to open; with none, the demo page opens.
    pages: Vec<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    env_logger::Builder::from_env(
        env_logger::Env::default()
            .default_filter_or("info,wgpu=warn,naga=warn,eframe=warn,egui_wgpu=warn"),
    )
    .init();
    let cli = Cli::parse();
    let options = blockspace_app::AppOptions {
        pages: cli.pages,
        ..Default::default()
    };
    blockspace_app::run_gui(options)
        .map_err(|e| anyhow::anyhow!("the window could not be opened: {e}"))
}
