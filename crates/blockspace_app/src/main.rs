//! `blockspace`: the desktop app, and headless subcommands for scripts and CI.

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
    about = "A visual dataflow editor for tensor ops"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run TensorFlow conformance files through the kernel; prints failures and `N passed, M failed`.
    Conformance(cli::conformance::ConformanceArgs),
    /// Run every block of a page; print each result's name, shape, dtype and statistics.
    Run(cli::run::RunArgs),
    /// Load a page and check every block (shapes, dtypes, wiring); runs nothing.
    Check(cli::check::CheckArgs),
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
        Some(Command::Bench(a)) => cli::bench::run(&a, stdout, stderr)?,
        None => {
            anyhow::bail!(
                "the desktop window is not built into this binary yet; use a subcommand (see --help)"
            )
        }
    };
    Ok(ExitCode::from(code))
}
