//! The planner: a page turned into the blocks to evaluate, in dependency order, each with its
//! descriptor and the source of every input ([`Plan`]), or the block's error (a cycle, an unknown
//! type). Checking binds the inputs to upstream dtypes and shapes, the executor to upstream
//! tensors, both through [`Step::bind`], so an input is validated in one place, with one wording.
//! The plan's order is [`topo_order`]; what is wrong with a block is a [`BlockError`].

use crate::ids::{BlockId, OutPort};
use crate::ops::{OpDescriptor, OpError, PortSpec, Registry, dtype_list};
use crate::page::{Block, Page};
use crate::tensor::{DType, Tensor, TensorMeta};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// What is wrong with one block, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockError {
    /// The block.
    pub block: BlockId,
    /// The block's name (for messages).
    pub block_name: String,
    /// The input port at fault, if any.
    pub port: Option<String>,
    /// The attribute at fault, if any.
    pub attr: Option<String>,
    /// What is wrong, the value, and how to fix it.
    pub message: String,
}

impl BlockError {
    pub(crate) fn from_op(block: BlockId, block_name: &str, e: OpError) -> Self {
        Self {
            block,
            block_name: block_name.to_owned(),
            port: e.port,
            attr: e.attr,
            message: e.message,
        }
    }
    pub(crate) fn new(block: BlockId, block_name: &str, message: impl Into<String>) -> Self {
        Self {
            block,
            block_name: block_name.to_owned(),
            port: None,
            attr: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for BlockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "block {:?}", self.block_name)?;
        if let Some(p) = &self.port {
            write!(f, ", input `{p}`")?;
        }
        if let Some(a) = &self.attr {
            write!(f, ", attr `{a}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for BlockError {}

/// Blocks that form a cycle (only possible in hand-edited data; commands refuse cycles).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CycleError {
    /// The blocks on or behind the cycle, by id.
    pub blocks: Vec<BlockId>,
}

/// Topological order of the page's blocks (by id among equals), or the blocks stuck in a cycle.
pub fn topo_order(page: &Page) -> Result<Vec<BlockId>, CycleError> {
    // Kahn's algorithm over an adjacency list: O(blocks + wires) (plus the ordered ready set's
    // log factor), so a page of 100,000 blocks orders in milliseconds.
    let index: BTreeMap<BlockId, usize> = page
        .blocks
        .keys()
        .enumerate()
        .map(|(i, &id)| (id, i))
        .collect();
    let ids: Vec<BlockId> = page.blocks.keys().copied().collect();
    let mut indeg = vec![0usize; ids.len()];
    let mut next: Vec<Vec<usize>> = vec![Vec::new(); ids.len()];
    for w in &page.wires {
        if let (Some(&from), Some(&to)) = (index.get(&w.from.block), index.get(&w.to.block)) {
            indeg[to] += 1;
            next[from].push(to);
        }
    }
    // Block ids sort like their indices, so the smallest ready index is the smallest ready id.
    let mut ready: BTreeSet<usize> = (0..ids.len()).filter(|&i| indeg[i] == 0).collect();
    let mut order = Vec::with_capacity(ids.len());
    while let Some(i) = ready.pop_first() {
        order.push(ids[i]);
        for &j in &next[i] {
            indeg[j] -= 1;
            if indeg[j] == 0 {
                ready.insert(j);
            }
        }
    }
    if order.len() == ids.len() {
        Ok(order)
    } else {
        Err(CycleError {
            blocks: (0..ids.len())
                .filter(|&i| indeg[i] > 0)
                .map(|i| ids[i])
                .collect(),
        })
    }
}

/// A page as evaluation steps.
#[derive(Debug)]
pub struct Plan<'a> {
    /// Evaluation order: every block not in or behind a cycle (including the unknown types).
    pub order: Vec<BlockId>,
    /// The blocks that can be evaluated, in [`Plan::order`].
    pub steps: Vec<Step<'a>>,
    /// The blocks that cannot: in or behind a cycle, or of an unknown type.
    pub errors: Vec<(BlockId, BlockError)>,
}

/// One block to evaluate.
#[derive(Debug, Clone)]
pub struct Step<'a> {
    /// The block.
    pub block: &'a Block,
    /// Its block type.
    pub desc: &'static OpDescriptor,
    /// The source of each input (`None` = not connected), one per input port.
    pub inputs: Vec<Option<OutPort>>,
}

/// Plans `page`: the order, the steps and the blocks that cannot run.
pub fn plan_page<'a>(reg: &Registry, page: &'a Page) -> Plan<'a> {
    let mut errors = Vec::new();
    let order = match topo_order(page) {
        Ok(o) => o,
        Err(cycle) => {
            // Name a few (a message per block must not grow with the page).
            let mut names: Vec<String> = cycle
                .blocks
                .iter()
                .filter_map(|id| page.block(*id))
                .take(4)
                .map(|b| format!("{:?}", b.name))
                .collect();
            if cycle.blocks.len() > 4 {
                names.push(format!("{} more", cycle.blocks.len() - 4));
            }
            for id in &cycle.blocks {
                let name = page.block(*id).map_or("", |b| b.name.as_str());
                errors.push((
                    *id,
                    BlockError::new(
                        *id,
                        name,
                        format!(
                            "is in or behind a cycle among {}; remove a wire so data flows one way",
                            names.join(", ")
                        ),
                    ),
                ));
            }
            let stuck: BTreeSet<BlockId> = cycle.blocks.into_iter().collect();
            page.blocks
                .keys()
                .filter(|id| !stuck.contains(id))
                .copied()
                .collect()
        }
    };
    let wiring = page.inputs_index();
    let mut steps = Vec::with_capacity(order.len());
    for &id in &order {
        let Some(block) = page.block(id) else {
            continue;
        };
        match reg.lookup(&block.type_id) {
            Ok(desc) => steps.push(Step {
                block,
                desc,
                inputs: wiring.inputs_of(id, desc.inputs.len()),
            }),
            Err(e) => errors.push((id, BlockError::new(id, &block.name, e.to_string()))),
        }
    }
    Plan {
        order,
        steps,
        errors,
    }
}

/// What an input's source has when its block is checked or run.
#[derive(Debug)]
pub enum Source<T> {
    /// The source's output: its dtype and shape while checking, its tensor while running.
    Ready(T),
    /// The source block has no output with this index.
    NoOutput,
    /// The source block has an error, or failed to run.
    Failed,
    /// The source block was cancelled (while running).
    Cancelled,
    /// The source block has no result (it was not checked or not run).
    Missing,
}

/// Why a step's inputs could not be bound.
#[derive(Debug)]
pub enum BindError {
    /// The block's own error: an input not connected, or refused (dtype, rank, missing output).
    Block(BlockError),
    /// The input's source has an error or failed.
    Upstream {
        /// The input port.
        port: &'static str,
        /// The source block's name.
        source: String,
    },
    /// The input's source has no result.
    NoResult {
        /// The input port.
        port: &'static str,
        /// The source block's name.
        source: String,
    },
    /// The input's source was cancelled.
    Cancelled {
        /// The input port.
        port: &'static str,
        /// The source block's name.
        source: String,
    },
}

/// What an input is bound to: something with a dtype and a shape.
pub trait Bound {
    /// Its dtype.
    fn dtype(&self) -> DType;
    /// Its shape.
    fn shape(&self) -> &[usize];
}

impl Bound for TensorMeta {
    fn dtype(&self) -> DType {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
}

impl Bound for Tensor {
    fn dtype(&self) -> DType {
        Tensor::dtype(self)
    }
    fn shape(&self) -> &[usize] {
        Tensor::shape(self)
    }
}

impl<B: Bound + ?Sized> Bound for &B {
    fn dtype(&self) -> DType {
        (**self).dtype()
    }
    fn shape(&self) -> &[usize] {
        (**self).shape()
    }
}

impl Step<'_> {
    /// The block's id.
    pub fn id(&self) -> BlockId {
        self.block.id
    }

    /// Binds every input to what its source has: `source` gives the source's state and name.
    /// Each bound value's dtype must be one the port accepts and its rank the port's rank.
    ///
    /// # Errors
    /// The first input that cannot be bound, as a [`BindError`].
    pub fn bind<T: Bound>(
        &self,
        mut source: impl FnMut(OutPort) -> (Source<T>, String),
    ) -> Result<Vec<T>, BindError> {
        let mut bound = Vec::with_capacity(self.inputs.len());
        for (spec, src) in self.desc.inputs.iter().zip(&self.inputs) {
            let port_err = |message: String| {
                BindError::Block(BlockError {
                    block: self.block.id,
                    block_name: self.block.name.clone(),
                    port: Some(spec.name.to_owned()),
                    attr: None,
                    message,
                })
            };
            let Some(src) = src else {
                return Err(port_err(format!(
                    "`{}` is not connected; wire a {} tensor into it (e.g. from an Input block)",
                    spec.name,
                    dtype_list(spec.dtypes)
                )));
            };
            let (state, src_name) = source(*src);
            let value = match state {
                Source::Ready(v) => v,
                Source::NoOutput => {
                    return Err(port_err(format!(
                        "{src_name:?} has no output #{}",
                        src.port
                    )));
                }
                Source::Failed => {
                    return Err(BindError::Upstream {
                        port: spec.name,
                        source: src_name,
                    });
                }
                Source::Missing => {
                    return Err(BindError::NoResult {
                        port: spec.name,
                        source: src_name,
                    });
                }
                Source::Cancelled => {
                    return Err(BindError::Cancelled {
                        port: spec.name,
                        source: src_name,
                    });
                }
            };
            if let Some(message) = refusal(spec, &value, &src_name) {
                return Err(port_err(message));
            }
            bound.push(value);
        }
        Ok(bound)
    }
}

/// Why `spec` refuses `value` from the block `src_name`, if it does.
fn refusal(spec: &PortSpec, value: &impl Bound, src_name: &str) -> Option<String> {
    let dtype = value.dtype();
    if !spec.dtypes.contains(&dtype) {
        return Some(format!(
            "`{}` gets {dtype} from {src_name:?} but accepts {}; change {src_name:?}'s dtype",
            spec.name,
            dtype_list(spec.dtypes)
        ));
    }
    let shape = value.shape();
    match spec.rank {
        Some(rank) if shape.len() != rank => Some(format!(
            "`{}` must have rank {rank}, but {src_name:?} gives shape {shape:?} (rank {}); {}",
            spec.name,
            shape.len(),
            spec.doc
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::AttrValue;

    #[test]
    fn a_plan_orders_blocks_and_binds_inputs_or_says_why_not() {
        let reg = Registry::builtin();
        let mut p = Page::new("p");
        let x = p
            .add(
                &reg,
                "Input",
                "x",
                &[("values", AttrValue::Str("1, 2".into()))],
            )
            .unwrap();
        let a = p.add(&reg, "Abs", "a", &[]).unwrap();
        let lone = p.add(&reg, "Abs", "lone", &[]).unwrap();
        p.connect(&reg, x, "output", a, "x").unwrap();
        let plan = plan_page(&reg, &p);
        assert!(plan.errors.is_empty());
        assert_eq!(plan.order, vec![x, a, lone]);
        let meta = TensorMeta {
            dtype: DType::Float32,
            shape: vec![2],
        };
        let step = |id| plan.steps.iter().find(|s| s.id() == id).unwrap();
        let bound = step(a)
            .bind(|src| {
                assert_eq!(src.block, x);
                (Source::Ready(&meta), "x".to_owned())
            })
            .unwrap();
        assert_eq!(bound, vec![&meta]);
        let Err(BindError::Block(e)) = step(lone).bind(|_| (Source::Ready(&meta), String::new()))
        else {
            panic!("an unconnected input is the block's own error");
        };
        assert_eq!(e.port.as_deref(), Some("x"));
        assert!(e.message.contains("is not connected"), "{e}");
        let ints = TensorMeta {
            dtype: DType::Int32,
            shape: vec![2],
        };
        let Err(BindError::Block(e)) = step(a).bind(|_| (Source::Ready(&ints), "x".into())) else {
            panic!("a refused dtype is the block's own error");
        };
        assert!(e.message.contains("gets int32 from \"x\""), "{e}");
        assert!(matches!(
            step(a).bind(|_| (Source::<&TensorMeta>::Failed, "x".into())),
            Err(BindError::Upstream { port: "x", .. })
        ));
    }

    #[test]
    fn unknown_types_are_planned_as_errors_with_the_registry_wording() {
        let reg = Registry::builtin();
        let mut p = Page::new("p");
        let x = p.add(&reg, "Input", "x", &[]).unwrap();
        let mut small = Registry::default();
        small.add(&crate::ops::abs::DESCRIPTOR).unwrap();
        let plan = plan_page(&small, &p);
        assert!(plan.steps.is_empty());
        assert_eq!(plan.order, vec![x]);
        assert_eq!(
            plan.errors[0].1.message,
            "unknown block type \"Input\"; known types: Abs"
        );
    }
}
