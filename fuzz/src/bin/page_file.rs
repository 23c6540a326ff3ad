//! cargo-afl fuzzer of `blockspace_graph::fuzzing::page_file` (see docs/fuzzing.md).
fn main() {
    afl::fuzz!(|data: &[u8]| {
        blockspace_graph::fuzzing::page_file(data);
    });
}
