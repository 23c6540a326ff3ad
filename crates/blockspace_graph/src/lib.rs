//! Blockspace's GUI-free heart: pages of wired blocks, the block registry, commands with exact
//! inverses and undo/redo, checking (shape/dtype inference), the executor and page files.
//!
//! ```
//! use blockspace_graph::{Page, Registry, AttrValue, check_page};
//!
//! let reg = Registry::builtin();
//! let mut page = Page::new("demo");
//! let x = page.add(&reg, "Input", "x", &[("values", AttrValue::Str("[[1, 2], [3, 4]]".into()))]).unwrap();
//! let check = check_page(&reg, &page);
//! assert_eq!(check.block(x).unwrap().as_ref().unwrap()[0].shape, vec![2, 2]);
//! let text = blockspace_graph::page_to_json(&page);
//! assert_eq!(blockspace_graph::page_from_json(&reg, &text, "demo").unwrap(), page);
//! ```

pub(crate) use blockspace_kernels as kernels;

pub mod check;
pub mod command;
pub mod conformance;
pub mod exec;
pub mod file;
pub mod history;
pub mod ids;
pub mod ops;
pub mod page;
pub mod tensor;
pub mod value;

pub use check::{
    BlockError, CheckOptions, CycleError, PageCheck, check_page, check_page_with, topo_order,
};
pub use command::{Command, CommandError};
pub use exec::{BlockResult, ExecEvent, Executor};
pub use file::{FileError, PageFile, Problem, load_page, page_from_json, page_to_json, save_page};
pub use history::History;
pub use ids::{BlockId, InPort, OutPort, PageId, Wire};
pub use ops::{AttrKind, AttrSpec, OpDescriptor, OpError, PortSpec, Registry};
pub use page::{Block, Clipboard, Page};
pub use tensor::{DType, Tensor, TensorMeta, TensorStats};
pub use value::{AttrValue, Attrs};
