//! `blockspace conformance FILE...`: runs TensorFlow conformance cases (every op: routed by the case's `op`).

use std::io::Write;
use std::path::PathBuf;

use blockspace_graph::conformance::{Tally, load_file_within, run_case};

/// Arguments of `blockspace conformance`.
#[derive(Debug, clap::Args)]
pub struct ConformanceArgs {
    /// Conformance files (JSON, in the format of shared/conformance/README.md).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Memory budget for reading the files (e.g. 2GiB; default: a fraction of the machine's
    /// memory): a file whose parse could need more is refused instead of exhausting memory.
    #[arg(long, value_parser = super::memory::parse_memory_limit)]
    pub memory_limit: Option<u64>,
}

/// Exit status: 0 all passed, 1 some case failed, 2 a file could not be read or parsed.
///
/// # Errors
/// Only when writing to `out` fails.
pub fn run(
    args: &ConformanceArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<u8> {
    let (budget, _) = super::memory::budget(args.memory_limit);
    let mut files = Vec::new();
    for path in &args.files {
        match load_file_within(path, budget) {
            Ok(cases) => files.push(cases),
            Err(e) => {
                writeln!(err, "error: {e}")?;
                return Ok(2);
            }
        }
    }
    let mut tally = Tally::default();
    for case in files.iter().flatten() {
        match run_case(case) {
            Ok(()) => tally.passed += 1,
            Err(why) => {
                tally.failed += 1;
                writeln!(out, "FAIL {}: {why}", case.name())?;
            }
        }
    }
    writeln!(out, "{} passed, {} failed", tally.passed, tally.failed)?;
    Ok(u8::from(tally.failed > 0))
}
