//! Checking a page before running: topological order, cycles, and per-block shape/dtype
//! inference, without computing big tensors.

use crate::ids::{BlockId, OutPort};
use crate::kernels::{KernelContext, MemoryLimit};
use crate::ops::{EvalCtx, InferCtx, InferInput, Registry};
use crate::page::Page;
use crate::plan::{BindError, Source, Step, plan_page};
pub use crate::plan::{BlockError, CycleError, topo_order};
use crate::tensor::{Tensor, TensorMeta};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// Outputs at most this many elements (in total) are computed while checking, so downstream
/// blocks can see their values (e.g. `input_sizes`).
pub const FOLD_MAX_ELEMENTS: u64 = 4096;

/// Options for [`check_page_with`].
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// Directory of the page file (relative `.npy` paths), if saved.
    pub base_dir: Option<PathBuf>,
    /// Size guard.
    pub limit: MemoryLimit,
}

/// The result of checking a page.
#[derive(Debug, Clone, Default)]
pub struct PageCheck {
    /// Per block: output dtypes and shapes, or what is wrong.
    pub blocks: BTreeMap<BlockId, Result<Vec<TensorMeta>, BlockError>>,
    /// Evaluation order (blocks in a cycle are left out).
    pub order: Vec<BlockId>,
    values: BTreeMap<OutPort, Arc<Tensor>>,
}

impl PageCheck {
    /// The result for one block.
    pub fn block(&self, id: BlockId) -> Option<&Result<Vec<TensorMeta>, BlockError>> {
        self.blocks.get(&id)
    }
    /// The dtype and shape on an output port, if known.
    pub fn output(&self, port: OutPort) -> Option<&TensorMeta> {
        self.blocks.get(&port.block)?.as_ref().ok()?.get(port.port)
    }
    /// Values computed while checking (small constant outputs only).
    pub fn value(&self, port: OutPort) -> Option<&Tensor> {
        self.values.get(&port).map(|v| &**v)
    }
    /// All block errors, by block id.
    pub fn errors(&self) -> impl Iterator<Item = &BlockError> {
        self.blocks.values().filter_map(|r| r.as_ref().err())
    }
    /// Whether no block has an error.
    pub fn is_ok(&self) -> bool {
        self.errors().next().is_none()
    }
}

/// Checks `page` with default options (no page directory, default size guard).
pub fn check_page(reg: &Registry, page: &Page) -> PageCheck {
    check_page_with(reg, page, &CheckOptions::default())
}

/// Infers every block's output dtypes and shapes and reports per-block errors: unknown type,
/// unconnected input, dtype refused, upstream error, cycle, and every op validation rule.
pub fn check_page_with(reg: &Registry, page: &Page, opts: &CheckOptions) -> PageCheck {
    let mut out = PageCheck::default();
    let plan = plan_page(reg, page);
    for (id, e) in plan.errors {
        out.blocks.insert(id, Err(e));
    }
    let ictx = InferCtx {
        base_dir: opts.base_dir.as_deref(),
        limit: opts.limit,
    };
    for step in &plan.steps {
        let result = check_block(page, &out, &ictx, step);
        if let Ok(metas) = &result {
            fold(&mut out, opts, step, metas);
        }
        out.blocks.insert(step.id(), result);
    }
    out.order = plan.order;
    out
}

fn check_block(
    page: &Page,
    so_far: &PageCheck,
    ictx: &InferCtx<'_>,
    step: &Step<'_>,
) -> Result<Vec<TensorMeta>, BlockError> {
    let (block, d) = (step.block, step.desc);
    let (id, name) = (block.id, block.name.as_str());
    if let Err(e) = d.validate_attrs(&block.attrs) {
        return Err(BlockError {
            block: id,
            block_name: name.to_owned(),
            port: None,
            attr: Some(e.attr().to_owned()),
            message: e.to_string(),
        });
    }
    let metas = step
        .bind(|src| {
            let src_name = page.block(src.block).map_or("?", |b| b.name.as_str());
            let state = match so_far.blocks.get(&src.block) {
                Some(Ok(metas)) => metas.get(src.port).map_or(Source::NoOutput, Source::Ready),
                Some(Err(_)) => Source::Failed,
                None => Source::Missing,
            };
            (state, src_name.to_owned())
        })
        .map_err(|e| match e {
            BindError::Block(e) => e,
            BindError::Upstream { port, source } => BlockError {
                block: id,
                block_name: name.to_owned(),
                port: Some(port.to_owned()),
                attr: None,
                message: format!(
                    "`{port}` comes from {source:?}, which has an error; fix that block first"
                ),
            },
            BindError::NoResult { port, source } | BindError::Cancelled { port, source } => {
                BlockError {
                    block: id,
                    block_name: name.to_owned(),
                    port: Some(port.to_owned()),
                    attr: None,
                    message: format!("`{port}` comes from {source:?}, which could not be checked"),
                }
            }
        })?;
    let inputs: Vec<Option<InferInput<'_>>> = metas
        .into_iter()
        .zip(step.inputs.iter().flatten())
        .map(|(meta, src)| {
            Some(InferInput {
                meta,
                value: so_far.value(*src),
            })
        })
        .collect();
    let metas =
        (d.infer)(ictx, &block.attrs, &inputs).map_err(|e| BlockError::from_op(id, name, e))?;
    if metas.len() != d.outputs.len() {
        return Err(BlockError::new(
            id,
            name,
            format!(
                "inferred {} outputs, expected {} (a bug in the block type)",
                metas.len(),
                d.outputs.len()
            ),
        ));
    }
    for (m, spec) in metas.iter().zip(d.outputs) {
        if !spec.dtypes.contains(&m.dtype) {
            return Err(BlockError::new(
                id,
                name,
                format!(
                    "output `{}` would be {}, which it cannot produce",
                    spec.name, m.dtype
                ),
            ));
        }
    }
    Ok(metas)
}

/// Computes small outputs of constant-foldable blocks so downstream inference sees values.
fn fold(out: &mut PageCheck, opts: &CheckOptions, step: &Step<'_>, metas: &[TensorMeta]) {
    let (id, block, d) = (step.id(), step.block, step.desc);
    let total: u64 = metas
        .iter()
        .map(TensorMeta::elements)
        .fold(0u64, u64::saturating_add);
    if !d.fold_constants || total > FOLD_MAX_ELEMENTS {
        return;
    }
    let mut inputs = Vec::with_capacity(step.inputs.len());
    for src in step.inputs.iter().flatten() {
        match out.values.get(src) {
            Some(v) => inputs.push(Arc::clone(v)),
            None => return,
        }
    }
    let refs: Vec<&Tensor> = inputs.iter().map(|t| &**t).collect();
    let kernel = KernelContext {
        limit: opts.limit,
        ..KernelContext::default()
    };
    let ctx = EvalCtx {
        kernel: &kernel,
        base_dir: opts.base_dir.as_deref(),
    };
    let evaluated = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        (d.eval)(&ctx, &block.attrs, &refs)
    }));
    if let Ok(Ok(values)) = evaluated {
        for (port, v) in values.into_iter().enumerate() {
            out.values.insert(OutPort { block: id, port }, Arc::new(v));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{InPort, Wire};

    #[test]
    fn cycles_are_reported_per_block() {
        let reg = Registry::builtin();
        let mut p = Page::new("p");
        let a = p.add(&reg, "Conv3DBackpropInputV2", "a", &[]).unwrap();
        let b = p.add(&reg, "Conv3DBackpropInputV2", "b", &[]).unwrap();
        let c = p.add(&reg, "Input", "c", &[]).unwrap();
        p.connect(&reg, a, "output", b, "out_backprop").unwrap();
        // Commands refuse cycles, so build one directly (as a hand-edited file could).
        p.wires.insert(Wire {
            from: OutPort { block: b, port: 0 },
            to: InPort { block: a, port: 2 },
        });
        assert_eq!(topo_order(&p), Err(CycleError { blocks: vec![a, b] }));
        let check = check_page(&reg, &p);
        let e = check.block(a).unwrap().as_ref().unwrap_err();
        assert!(
            e.message.contains("cycle") && e.message.contains("\"b\""),
            "{e}"
        );
        assert!(check.block(c).unwrap().is_ok());
    }
}
