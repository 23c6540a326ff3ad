//! Dtype and axis edge cases of the block types, with texts and values TensorFlow 2.21 itself
//! gave for the same operands (`tests/fixtures/tf_dtype_cases.json`), run through the registry
//! as conformance cases.

use blockspace_graph::conformance::{load_file, run_case};

#[test]
fn dtype_errors_and_axis_edge_cases_match_tensorflow() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tf_dtype_cases.json");
    let cases = load_file(&path).unwrap();
    assert!(cases.len() >= 9);
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|c| run_case(c).err().map(|why| format!("{}: {why}", c.name())))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
