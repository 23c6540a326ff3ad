//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/`) through the fuzz targets of
//! `blockspace_graph::fuzzing`, the same functions the cargo-afl fuzzers in `fuzz/` call: every
//! seed and every input a fuzzer ever kept (or crashed on, then fixed) stays a regression test.
#![expect(clippy::unwrap_used, reason = "test helpers")]

use std::path::{Path, PathBuf};

use blockspace_graph::fuzzing::{TARGETS, run};

fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the corpus folder {} is missing: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

fn replay(target: &str) {
    let files = corpus(target);
    assert!(
        files.len() >= 3,
        "{target}: a corpus of {} files",
        files.len()
    );
    let mut panicked = Vec::new();
    for f in &files {
        let data = std::fs::read(f).unwrap();
        match std::panic::catch_unwind(|| run(target, &data)) {
            Ok(known) => assert!(known, "unknown target {target}"),
            Err(_) => panicked.push(f.display().to_string()),
        }
    }
    assert!(
        panicked.is_empty(),
        "{target} panics on {} of {} inputs: {panicked:#?}",
        panicked.len(),
        files.len()
    );
}

#[test]
fn page_file_corpus() {
    replay("page_file");
}

#[test]
fn npy_file_corpus() {
    replay("npy_file");
}

#[test]
fn conformance_file_corpus() {
    replay("conformance_file");
}

#[test]
fn op_params_corpus() {
    replay("op_params");
}

#[test]
fn commands_corpus() {
    replay("commands");
}

#[test]
fn every_target_has_a_corpus_test() {
    assert_eq!(
        TARGETS,
        [
            "page_file",
            "npy_file",
            "conformance_file",
            "op_params",
            "commands"
        ]
    );
}
