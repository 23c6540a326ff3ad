//! `blockspace`: the desktop app, and headless subcommands for scripts and CI. With no
//! subcommand (or with page paths) it opens the window.

use std::path::PathBuf;
use std::process::ExitCode;

use blockspace_app::cli;
use clap::{Parser, Subcommand};

/// mimalloc keeps freed memory for reuse, so repeated runs of large kernels do not pay for
/// fresh, page-faulting memory on every call (glibc returns big blocks to the OS at once).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "blockspace",
    version,
    about = "A visual dataflow editor for tensor ops",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Page files (.bspage.json) to open in the window; with none, the demo page opens.
    pages: Vec<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run TensorFlow conformance files through the kernel; prints failures and `N passed, M failed`.
    Conformance(cli::conformance::ConformanceArgs),
    /// Run every block of a page; print each result's name, shape, dtype and statistics.
    Run(cli::run::RunArgs),
    /// Load a page and check every block (shapes, dtypes, wiring); runs nothing.
    Check(cli::check::CheckArgs),
    /// Write a page as a runnable Python script (TensorFlow or PyTorch) with its inputs.
    Export(cli::export::ExportArgs),
    /// Time the kernel on the benchmark shapes B1–B5 against an f32 GEMM yardstick.
    Bench(cli::bench::BenchArgs),
}

fn main() -> anyhow::Result<ExitCode> {
    let args = Cli::parse();
    let stdout = &mut std::io::stdout().lock();
    let stderr = &mut std::io::stderr().lock();
    let code = match args.command {
        Some(Command::Conformance(a)) => cli::conformance::run(&a, stdout, stderr)?,
        Some(Command::Run(a)) => cli::run::run(&a, stdout, stderr)?,
        Some(Command::Check(a)) => cli::check::run(&a, stdout, stderr)?,
        Some(Command::Export(a)) => cli::export::run(&a, stdout, stderr)?,
        Some(Command::Bench(a)) => cli::bench::run(&a, stdout, stderr)?,
        None => {
            env_logger::Builder::from_env(
                env_logger::Env::default()
                    .default_filter_or("info,wgpu=warn,naga=warn,eframe=warn,egui_wgpu=warn"),
            )
            .init();
            let autosave_interval = blockspace_app::app::autosave::autosave_interval_from_env()?;
            let memory_limit = match std::env::var("BLOCKSPACE_MEMORY_LIMIT") {
                Ok(v) => Some(
                    blockspace_graph::parse_size(&v)
                        .map_err(|e| anyhow::anyhow!("BLOCKSPACE_MEMORY_LIMIT: {e}"))?,
                ),
                Err(_) => None,
            };
            let options = blockspace_app::AppOptions {
                pages: args.pages,
                autosave_interval,
                memory_limit,
                ..Default::default()
            };
            blockspace_app::run_gui(options)
                .map_err(|e| anyhow::anyhow!("the window could not be opened: {e}"))?;
            0
        }
    };
    Ok(ExitCode::from(code))
}
