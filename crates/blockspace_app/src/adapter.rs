//! The few places where the app depends on the exact shape of `blockspace_graph` types that the
//! API contract left open (field names, function signatures). Keep them here, in one file.

use blockspace_graph::ops::{InferCtx, InferInput};
use blockspace_graph::{Attrs, BlockError, BlockId, OpDescriptor, OpError, PageCheck, TensorMeta};

/// The check result of one block.
pub fn block_check(check: &PageCheck, id: BlockId) -> Option<&Result<Vec<TensorMeta>, BlockError>> {
    check.blocks.get(&id)
}

/// Runs a descriptor's shape inference on edited attributes (live feedback while typing).
pub fn infer(
    desc: &OpDescriptor,
    attrs: &Attrs,
    inputs: &[Option<TensorMeta>],
) -> Result<Vec<TensorMeta>, OpError> {
    let ctx = InferCtx {
        base_dir: None,
        limit: blockspace_graph::check::CheckOptions::default().limit,
    };
    let inputs: Vec<Option<InferInput<'_>>> = inputs
        .iter()
        .map(|m| m.as_ref().map(|meta| InferInput { meta, value: None }))
        .collect();
    (desc.infer)(&ctx, attrs, &inputs)
}
