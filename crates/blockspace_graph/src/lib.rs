//! Blockspace's GUI-free heart: pages of wired blocks, the block registry, commands with exact
//! inverses and undo/redo, checking (shape/dtype inference), the executor and page files.
//!
//! | Module | What |
//! |---|---|
//! | [`page`] | [`Page`] (blocks, wires, one name scope, a never-reused block-id counter), [`Block`], [`Clipboard`] |
//! | [`ops`] | [`Registry`] and one [`OpDescriptor`] per block type (`ops/input/`, `ops/conv3d_backprop_input_v2.rs`) |
//! | [`command`] | [`Command`]: the only way to change a page; [`Page::apply`] returns the exact inverse |
//! | [`edit`] | gestures' multi-command edits: [`Page::connect_replacing`], [`Page::add_block_wired`], paste placement, Save-As path rebasing |
//! | [`history`] | [`History`]: labelled undo/redo, drag merging, transactions |
//! | [`plan`] | [`plan_page`]: blocks in order with their input sources; [`plan::Step::bind`] validates inputs for checking and running |
//! | [`budget`] | the memory budget of a whole run: [`plan_memory`] adds up the tensors a run keeps, [`MachineMemory`] the default |
//! | [`check`] | [`check_page`]: per-block output dtypes/shapes or a [`BlockError`] naming the port or attr |
//! | [`exec`] | [`Executor`]: runs a page snapshot on a worker thread, cached, cancellable, panic-safe |
//! | [`export`] | [`export_page`]: a page as a runnable TensorFlow or PyTorch script; [`write_export`] |
//! | [`fuzzing`] | fuzz targets (bytes in, invariants asserted), replayed from `fuzz/corpus/` by `tests/fuzz_corpus.rs` |
//! | [`outputs`] | [`OutputDir`]: `--output` files written atomically, unique names, nothing existing or read by the page replaced |
//! | [`file`](mod@file) | versioned JSON page files: [`load_page`], [`save_page`] (atomic), migrations |
//! | [`tensor`], [`value`], [`ids`] | [`Tensor`], [`DType`], [`AttrValue`], [`BlockId`], [`Wire`], ... |
//!
//! Data flow: a gesture becomes a [`Command`], applied through [`History`] to the [`Page`]; the
//! page's revision changes; [`check_page`] gives the shapes to draw and the errors to badge; the
//! [`Executor`] runs a snapshot and reports [`ExecEvent`]s; results are looked up per block.
//!
//! ```
//! use blockspace_graph::{Page, Registry, AttrValue, check_page};
//!
//! let reg = Registry::builtin();
//! let mut page = Page::new("demo");
//! let x = page.add(&reg, "Input", "x", &[("values", AttrValue::Str("[[1, 2], [3, 4]]".into()))]).unwrap();
//! let check = check_page(&reg, &page);
//! assert_eq!(check.block(x).unwrap().as_ref().unwrap()[0].shape, vec![2, 2]);
//! let text = blockspace_graph::page_to_json(&reg, &page);
//! assert_eq!(blockspace_graph::page_from_json(&reg, &text, "demo").unwrap(), page);
//! ```

pub(crate) use blockspace_kernels as kernels;

pub mod budget;
pub mod check;
pub mod command;
pub mod conformance;
pub mod edit;
pub mod exec;
pub mod export;
pub mod file;
pub mod fuzzing;
pub mod history;
pub mod ids;
pub mod npy;
pub mod ops;
pub mod outputs;
pub mod page;
pub mod plan;
pub mod tensor;
pub mod value;

pub use budget::{BlockMemory, MachineMemory, MemoryPlan, format_size, parse_size, plan_memory};
pub use check::{
    BlockError, CheckOptions, CycleError, PageCheck, check_page, check_page_with, topo_order,
};
pub use command::{Command, CommandError};
pub use edit::{AutoWire, PortRef};
pub use exec::{BlockResult, ExecEvent, Executor, Outputs};
pub use export::{
    ExportError, ExportMode, ExportOptions, Exported, Framework, export_page, inputs_dir_name,
    npy_name, write_export,
};
pub use file::{
    FileError, PageFile, Problem, load_page, page_from_json, page_to_json, save_page, save_text,
};
pub use history::History;
pub use ids::{BlockId, InPort, OutPort, PageId, Wire};
pub use ops::{
    AttrKind, AttrSpec, OpDescriptor, OpError, PortLayout, PortSpec, Registry, UnknownType,
};
pub use outputs::{OutputDir, OutputError, output_file_names, page_input_files};
pub use page::{Block, Clipboard, InputsIndex, Page};
pub use plan::{Plan, plan_page};
pub use tensor::{DType, StatsPass, Tensor, TensorMeta, TensorStats};
pub use value::{AttrValue, Attrs};
