//! Runs every TensorFlow conformance file in `../shared/conformance/` and `ops/` beside it:
//! `Conv3DBackpropInputV2` cases through the production kernel, the other ops' cases through
//! the block registry.
//!
//! The folder must exist (the repo is checked out beside `shared/`): a missing folder fails
//! loudly rather than passing with no cases.

use std::path::PathBuf;

use blockspace_graph::conformance::{Case, load_file, run_case};

fn conformance_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("BLOCKSPACE_CONFORMANCE_DIR") {
        return PathBuf::from(dir);
    }
    // crates/blockspace_graph -> repo root -> ../shared/conformance
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance")
}

#[test]
fn every_tensorflow_case_passes() {
    let dir = conformance_dir();
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| {
        panic!(
            "the conformance folder is missing ({e}); check out the repo beside shared/ or set BLOCKSPACE_CONFORMANCE_DIR: {}",
            dir.display()
        )
    });
    let ops_dir = dir.join("ops");
    let ops_entries = std::fs::read_dir(&ops_dir).unwrap_or_else(|e| {
        panic!(
            "the conformance folder for the other ops is missing ({e}): {}",
            ops_dir.display()
        )
    });
    let mut files: Vec<PathBuf> = entries
        .chain(ops_entries)
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no *.json conformance files in {}",
        dir.display()
    );
    let mut failures = Vec::new();
    let mut ops_seen = std::collections::BTreeSet::new();
    let mut total = 0;
    for file in &files {
        let cases = load_file(file).unwrap_or_else(|e| panic!("{e}"));
        assert!(!cases.is_empty(), "no cases in {}", file.display());
        for case in &cases {
            total += 1;
            ops_seen.insert(match case {
                Case::BackpropInput(_) => "Conv3DBackpropInputV2".to_owned(),
                Case::Op(c) => c.op.clone(),
            });
            if let Err(why) = run_case(case) {
                failures.push(format!("{} / {}: {why}", file.display(), case.name()));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {total} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        total >= 48 + 91,
        "expected at least the 48 + 91 public cases, ran {total}"
    );
    for op in [
        "Conv3DBackpropInputV2",
        "Conv3D",
        "Conv3DBackpropFilterV2",
        "AddV2",
        "Sub",
        "Mul",
        "Abs",
        "Sum",
        "Max",
    ] {
        assert!(ops_seen.contains(op), "no conformance case ran for {op}");
    }
}
