//! cargo-afl fuzzer of `blockspace_graph::fuzzing::commands` (see docs/fuzzing.md).
fn main() {
    afl::fuzz!(|data: &[u8]| {
        blockspace_graph::fuzzing::commands(data);
    });
}
