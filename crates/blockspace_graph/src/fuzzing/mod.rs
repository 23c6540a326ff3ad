//! Fuzz targets: one function per untrusted input, each taking arbitrary bytes and asserting
//! what must hold for any input (no panic, no hang, the documented invariants).
//!
//! The coverage-guided fuzzers in `fuzz/` (cargo-afl, stable Rust) call these functions, and
//! `tests/fuzz_corpus.rs` replays the committed corpus `fuzz/corpus/<target>/` through the same
//! functions in every `cargo test`, so each input a fuzzer ever found stays a regression test.
//! See `docs/fuzzing.md`.
//!
//! | target | input |
//! |---|---|
//! | [`page_file`] | a page file: [`load_page`](crate::load_page), then checking, ordering, a save/load round trip |
//! | [`npy_file`] | a `.npy` file: [`read_header`](crate::npy::read_header), [`read_npy`](crate::npy::read_npy) under a small memory limit |
//! | [`conformance_file`] | a conformance file: [`load_file`](crate::conformance::load_file) |
//! | [`op_params`] | kernel parameters from bytes: validation of every op, then small problems run |
//! | [`commands`] | a command sequence applied to a page: inverses restore, wires stay acyclic, the page saves and loads back |

mod commands;
mod files;
mod op_params;

pub use commands::commands;
pub use files::{conformance_file, npy_file, page_file};
pub use op_params::op_params;

/// The names of the targets, as the folders of `fuzz/corpus/` and the fuzzer binaries.
pub const TARGETS: [&str; 5] = [
    "page_file",
    "npy_file",
    "conformance_file",
    "op_params",
    "commands",
];

/// Runs target `name` on `data`; `false` for an unknown name.
pub fn run(name: &str, data: &[u8]) -> bool {
    match name {
        "page_file" => page_file(data),
        "npy_file" => npy_file(data),
        "conformance_file" => conformance_file(data),
        "op_params" => op_params(data),
        "commands" => commands(data),
        _ => return false,
    }
    true
}

/// Reads bytes off the front of a fuzz input; past the end everything is zero.
pub(crate) struct Bytes<'a>(pub(crate) &'a [u8]);

impl Bytes<'_> {
    pub(crate) fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }
    pub(crate) fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    pub(crate) fn u64(&mut self) -> u64 {
        u64::from(self.u32()) | (u64::from(self.u32()) << 32)
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// A dimension: mostly small, sometimes zero or huge.
    pub(crate) fn dim(&mut self) -> usize {
        match self.u8() {
            0xFF => usize::try_from(self.u64()).unwrap_or(usize::MAX),
            0xFE => 1 << 40,
            b => usize::from(b % 9),
        }
    }
    /// A signed value: mostly small, sometimes extreme.
    pub(crate) fn int(&mut self) -> i64 {
        match self.u8() {
            0xFF => self.u64() as i64,
            0xFE => i64::MIN,
            0xFD => i64::MAX,
            b => i64::from(b % 12) - 3,
        }
    }
    /// Text of up to `max` bytes (lossy UTF-8).
    pub(crate) fn text(&mut self, max: usize) -> String {
        let n = usize::from(self.u8()) % (max + 1);
        let n = n.min(self.0.len());
        let (t, rest) = self.0.split_at(n);
        self.0 = rest;
        String::from_utf8_lossy(t).into_owned()
    }
}

/// A scratch file holding `data`, alone in a fresh temporary folder that is removed when the
/// returned guard drops (so a fuzz run or a corpus replay leaves nothing behind).
pub(crate) struct ScratchFile {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
}

impl ScratchFile {
    /// The file's path.
    pub(crate) fn path(&self) -> &std::path::Path {
        &self.path
    }
}

/// Writes `data` to a file called `name` in a fresh temporary folder.
///
/// # Panics
/// When the folder or the file cannot be made (the harness cannot run at all then).
pub(crate) fn scratch_file(name: &str, data: &[u8]) -> ScratchFile {
    let dir = match tempfile::Builder::new()
        .prefix("blockspace-fuzz-")
        .tempdir()
    {
        Ok(d) => d,
        Err(e) => panic!("the fuzz harness cannot make its scratch folder: {e}"),
    };
    let path = dir.path().join(name);
    if let Err(e) = std::fs::write(&path, data) {
        panic!(
            "the fuzz harness cannot write its scratch file {}: {e}",
            path.display()
        );
    }
    ScratchFile { _dir: dir, path }
}
