//! cargo-afl fuzzer of `blockspace_graph::fuzzing::op_params` (see docs/fuzzing.md).
fn main() {
    afl::fuzz!(|data: &[u8]| {
        blockspace_graph::fuzzing::op_params(data);
    });
}
