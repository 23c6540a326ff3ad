//! Exporting a page as a runnable Python script for TensorFlow or PyTorch.
//!
//! [`export_page`] checks the page, then writes one Python statement per block in dependency
//! order: source blocks (`Input`) become their exact values — inline literals when small, else
//! `.npy` files in a folder beside the script — and every other block becomes the code its
//! descriptor's [`OpDescriptor::python`](crate::OpDescriptor::python) hook returns for the
//! framework. [`write_export`] writes the script and its inputs folder.
//!
//! Running the script (`python OUT.py --output DIR`) writes one `.npy` per block output with the
//! names of `blockspace run --output DIR` ([`output_file_names`](crate::outputs::output_file_names)); `--compare DIR` compares every output
//! with another run's files (see `runtime.py` for the tolerance).

mod literal;
pub(crate) mod names;
mod pytorch;
mod tensorflow;
mod write;

pub use crate::ops::python::{
    Framework, ParseFrameworkError, PyBlock, PyCall, PyHelper, PyInput, PythonFn,
};
pub use names::{PyNames, comment_text, is_python_keyword, npy_name, py_str};
pub use write::write_export;

use crate::check::{BlockError, CheckOptions, check_page_with};
use crate::ids::BlockId;
use crate::kernels::KernelContext;
use crate::npy::NpyError;
use crate::ops::EvalCtx;
use crate::ops::{OpError, Registry};
use crate::page::Page;
use crate::tensor::{Tensor, TensorMeta};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

// ---------------------------------------------------------------------------------------------
// Options, results, errors

/// Snippets ([`ExportMode::Snippet`]) inline inputs up to this many elements.
pub const SNIPPET_MAX_ELEMENTS: u64 = 1 << 16;

/// What to export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportMode {
    /// The whole page as a runnable script with `--output` and `--compare`; inputs too big to
    /// inline go to `.npy` files in the folder `inputs_dir` beside the script.
    Script {
        /// The inputs folder's name, relative to the script (see [`inputs_dir_name`]).
        inputs_dir: String,
    },
    /// A snippet for a notebook: the blocks given and everything upstream of them, every input
    /// inline, top-level statements, no command line.
    Snippet {
        /// The blocks to compute.
        blocks: Vec<BlockId>,
    },
}

/// Options of [`export_page`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportOptions {
    /// The framework to write for.
    pub framework: Framework,
    /// Script or snippet.
    pub mode: ExportMode,
    /// Non-literal inputs up to this many elements are written inline (literal inputs always).
    pub inline_max: u64,
}

impl ExportOptions {
    /// A whole-page script for `framework` whose inputs folder is named for `script_path`.
    pub fn script(framework: Framework, script_path: &Path) -> Self {
        Self {
            framework,
            mode: ExportMode::Script {
                inputs_dir: inputs_dir_name(script_path),
            },
            inline_max: 64,
        }
    }
    /// A snippet computing `blocks` (and what they depend on) for `framework`.
    pub fn snippet(framework: Framework, blocks: Vec<BlockId>) -> Self {
        Self {
            framework,
            mode: ExportMode::Snippet { blocks },
            inline_max: SNIPPET_MAX_ELEMENTS,
        }
    }
}

/// The inputs folder of a script: `OUT.py` → `OUT_inputs`.
pub fn inputs_dir_name(script_path: &Path) -> String {
    let stem = script_path
        .file_stem()
        .map_or_else(|| "script".into(), |s| s.to_string_lossy().into_owned());
    format!("{stem}_inputs")
}

/// An exported script and the files it needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Exported {
    /// The Python text.
    pub script: String,
    /// The inputs folder's name, relative to the script (empty for snippets).
    pub inputs_dir: String,
    /// `(file name, tensor)` for every `.npy` file of the inputs folder.
    pub files: Vec<(String, Tensor)>,
}

/// Why a page could not be exported.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The page fails its check; the script would fail too.
    #[error("page {page:?} does not pass its check, so it cannot be exported; fix these blocks first:{}",
        errors.iter().map(|e| format!("\n  {e}")).collect::<String>())]
    Check {
        /// The page's name.
        page: String,
        /// Every block error, by block id.
        errors: Vec<BlockError>,
    },
    /// A block type has no Python form.
    #[error(
        "block {block:?}: block type {type_id} has no {framework} form yet, so the page cannot be exported"
    )]
    Unsupported {
        /// The block's name.
        block: String,
        /// Its type.
        type_id: String,
        /// The framework asked for.
        framework: Framework,
    },
    /// Evaluating a source block or writing a block's code failed.
    #[error("block {block:?}: {source}")]
    Block {
        /// The block's name.
        block: String,
        /// What went wrong.
        #[source]
        source: OpError,
    },
    /// A snippet would inline too large an input.
    #[error(
        "block {block:?} has {elements} elements, too many to paste inline (at most {max}); use File → Export as Python… instead"
    )]
    TooLarge {
        /// The block's name.
        block: String,
        /// Its element count.
        elements: u64,
        /// The limit.
        max: u64,
    },
    /// A snippet was asked for with no blocks.
    #[error("nothing to copy: select one or more blocks first")]
    EmptySelection,
    /// Writing the script or its inputs folder failed.
    #[error("could not write the export: {source} ({})", path.display())]
    Write {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Writing an input `.npy` file failed.
    #[error(transparent)]
    Npy(#[from] NpyError),
}

// ---------------------------------------------------------------------------------------------
// Export

/// One block's part of the script.
struct Emitted {
    name: String,
    /// `(npy file name, variable)` per output.
    outputs: Vec<(String, String)>,
    deps: Vec<String>,
    lines: Vec<String>,
}

/// The framework-specific parts of a script.
pub(crate) trait Target {
    /// Import lines.
    fn imports(&self) -> &'static str;
    /// The `_to_numpy` function and other framework glue, module level.
    fn glue(&self) -> &'static str;
    /// A framework tensor from a NumPy expression.
    fn tensor_of(&self, np_expr: &str) -> String;
    /// One line saying what the script targets, for its docstring.
    fn flavour(&self) -> &'static str;
}

fn target(f: Framework) -> &'static dyn Target {
    match f {
        Framework::TensorFlow => &tensorflow::TensorFlow,
        Framework::PyTorch => &pytorch::PyTorch,
    }
}

/// Exports `page` (whose relative `.npy` paths resolve against `base_dir`) as Python text.
///
/// # Errors
/// The page fails its check ([`ExportError::Check`], with every block error), a block type has
/// no Python form, an input cannot be evaluated, or a snippet would inline too much.
pub fn export_page(
    reg: &Registry,
    page: &Page,
    base_dir: Option<&Path>,
    opts: &ExportOptions,
) -> Result<Exported, ExportError> {
    let check = check_page_with(
        reg,
        page,
        &CheckOptions {
            base_dir: base_dir.map(Path::to_owned),
            ..CheckOptions::default()
        },
    );
    let wanted: Option<BTreeSet<BlockId>> = match &opts.mode {
        ExportMode::Script { .. } => None,
        ExportMode::Snippet { blocks } => {
            if blocks.is_empty() {
                return Err(ExportError::EmptySelection);
            }
            Some(upstream_closure(page, blocks))
        }
    };
    let errors: Vec<BlockError> = check
        .blocks
        .iter()
        .filter(|(id, _)| wanted.as_ref().is_none_or(|w| w.contains(id)))
        .filter_map(|(_, r)| r.as_ref().err().cloned())
        .collect();
    if !errors.is_empty() {
        return Err(ExportError::Check {
            page: page.name().to_owned(),
            errors,
        });
    }
    let snippet = wanted.is_some();
    let file_names = crate::outputs::output_file_names(reg, page);
    let t = target(opts.framework);
    let kernel = KernelContext::default();
    let ectx = EvalCtx {
        kernel: &kernel,
        base_dir,
    };
    let mut names = PyNames::new();
    let mut vars: BTreeMap<(BlockId, usize), String> = BTreeMap::new();
    let mut helpers: Vec<&'static PyHelper> = Vec::new();
    let mut files: Vec<(String, Tensor)> = Vec::new();
    let mut emitted: Vec<Emitted> = Vec::new();
    let indent = if snippet { 0 } else { 4 };

    for &id in &check.order {
        if wanted.as_ref().is_some_and(|w| !w.contains(&id)) {
            continue;
        }
        let Some(block) = page.block(id) else {
            continue;
        };
        let Some(d) = reg.get(&block.type_id) else {
            continue;
        };
        let metas = match check.block(id) {
            Some(Ok(m)) => m.clone(),
            _ => continue,
        };
        let var = names.ident(&block.name);
        let out_vars: Vec<String> = if d.outputs.len() == 1 {
            vec![var.clone()]
        } else {
            d.outputs
                .iter()
                .map(|p| names.ident(&format!("{}_{}", block.name, p.name)))
                .collect()
        };
        let mut lines = vec![header_comment(block, d, &metas)];
        let sources = page.inputs_of(id, d.inputs.len());
        let deps: Vec<String> = sources
            .iter()
            .flatten()
            .filter_map(|s| page.block(s.block).map(|b| b.name.clone()))
            .collect();
        if d.inputs.is_empty() {
            // A source block: its exact values, evaluated here.
            let values = (d.eval)(&ectx, &block.attrs, &[]).map_err(|e| ExportError::Block {
                block: block.name.clone(),
                source: e,
            })?;
            for (v, out_var) in values.iter().zip(&out_vars) {
                let literal = block.attrs.get("mode").and_then(|m| m.as_str()) == Some("literal");
                let elements = v.len() as u64;
                let expr = if snippet || literal || elements <= opts.inline_max {
                    if snippet && elements > opts.inline_max {
                        return Err(ExportError::TooLarge {
                            block: block.name.clone(),
                            elements,
                            max: opts.inline_max,
                        });
                    }
                    t.tensor_of(&literal::np_literal(v, indent, 100))
                } else {
                    let file = format!("{out_var}.npy");
                    files.push((file.clone(), v.clone()));
                    t.tensor_of(&format!("_load({})", py_str(&file)))
                };
                lines.push(format!("{out_var} = {expr}"));
            }
        } else {
            let Some(hook) = d.python else {
                return Err(ExportError::Unsupported {
                    block: block.name.clone(),
                    type_id: block.type_id.clone(),
                    framework: opts.framework,
                });
            };
            let mut inputs = Vec::with_capacity(sources.len());
            for src in sources.iter().flatten() {
                let (Some(var), Some(meta)) =
                    (vars.get(&(src.block, src.port)), check.output(*src))
                else {
                    return Err(ExportError::Block {
                        block: block.name.clone(),
                        source: OpError::new("an input is not connected"),
                    });
                };
                inputs.push(PyInput {
                    var,
                    meta,
                    value: check.value(*src),
                });
            }
            let call = hook(&PyBlock {
                framework: opts.framework,
                attrs: &block.attrs,
                inputs: &inputs,
                outputs: &metas,
            })
            .map_err(|e| ExportError::Block {
                block: block.name.clone(),
                source: e,
            })?;
            for h in &call.helpers {
                add_helper(&mut helpers, h);
            }
            lines.extend(
                call.notes
                    .iter()
                    .map(|n| format!("# {}", comment_text(n, 200))),
            );
            lines.push(format!("{} = {}", out_vars.join(", "), call.expr));
        }
        for (i, v) in out_vars.iter().enumerate() {
            vars.insert((id, i), v.clone());
        }
        emitted.push(Emitted {
            name: block.name.clone(),
            outputs: d
                .outputs
                .iter()
                .zip(&out_vars)
                .enumerate()
                .map(|(i, (p, v))| {
                    let file = file_names.get(&(id, i)).cloned();
                    (
                        file.unwrap_or_else(|| npy_name(&block.name, p.name, d.outputs.len())),
                        v.clone(),
                    )
                })
                .collect(),
            deps,
            lines,
        });
    }

    let script = if snippet {
        snippet_text(page, t, opts.framework, &helpers, &emitted)
    } else {
        let inputs_dir = match &opts.mode {
            ExportMode::Script { inputs_dir } => inputs_dir.as_str(),
            ExportMode::Snippet { .. } => "",
        };
        script_text(page, t, &helpers, &emitted, inputs_dir, !files.is_empty())
    };
    Ok(Exported {
        script,
        inputs_dir: match &opts.mode {
            ExportMode::Script { inputs_dir } => inputs_dir.clone(),
            ExportMode::Snippet { .. } => String::new(),
        },
        files,
    })
}

/// `blocks` and every block upstream of them.
fn upstream_closure(page: &Page, blocks: &[BlockId]) -> BTreeSet<BlockId> {
    let mut set = BTreeSet::new();
    let mut stack: Vec<BlockId> = blocks.to_vec();
    while let Some(id) = stack.pop() {
        if page.block(id).is_some() && set.insert(id) {
            stack.extend(
                page.wires()
                    .filter(|w| w.to.block == id)
                    .map(|w| w.from.block),
            );
        }
    }
    set
}

fn add_helper(list: &mut Vec<&'static PyHelper>, h: &'static PyHelper) {
    if list.iter().any(|x| x.name == h.name) {
        return;
    }
    for d in h.deps {
        add_helper(list, d);
    }
    list.push(h);
}

/// `# --- name: Type (attr value, ...) -> dtype [shape]`
fn header_comment(
    block: &crate::page::Block,
    d: &crate::ops::OpDescriptor,
    metas: &[TensorMeta],
) -> String {
    let attrs: Vec<String> = d
        .attrs
        .iter()
        .filter(|a| a.visible(&block.attrs))
        .filter_map(|a| block.attrs.get(a.name).map(|v| format!("{} {v}", a.name)))
        .collect();
    let attrs = if attrs.is_empty() {
        String::new()
    } else {
        format!(" ({})", attrs.join(", "))
    };
    let outs: Vec<String> = metas.iter().map(ToString::to_string).collect();
    format!(
        "# --- {}: {}{} -> {}",
        block.name,
        d.type_id,
        attrs,
        outs.join(", ")
    )
    .lines()
    .map(|l| comment_text(l, 400))
    .collect::<Vec<_>>()
    .join(" ")
}

fn helpers_text(helpers: &[&'static PyHelper]) -> String {
    let mut s = String::new();
    for h in helpers {
        s.push_str("\n\n");
        s.push_str(h.code.trim_end());
        s.push('\n');
    }
    s
}

fn script_text(
    page: &Page,
    t: &dyn Target,
    helpers: &[&'static PyHelper],
    emitted: &[Emitted],
    inputs_dir: &str,
    has_files: bool,
) -> String {
    let title = comment_text(page.name(), 200);
    let mut s = String::new();
    let _ = write!(
        s,
        "#!/usr/bin/env python3\n\"\"\"Blockspace page {title:?}, exported for {}.\n\n\
         Run:  python THIS.py [--output DIR [--force]] [--compare DIR]\n\
         \x20 --output DIR   writes one .npy per block output (the file names of\n\
         \x20                `blockspace run PAGE --output DIR`) and prints each block's shape and dtype;\n\
         \x20                each file is written to a temporary file and renamed, existing files are\n\
         \x20                kept unless --force, this script's input files never replaced\n\
         \x20 --compare DIR  compares every output with the .npy files of another run (e.g. Blockspace's)\n\
         \x20                and prints the max absolute and relative error per block; exit 1 beyond\n\
         \x20                tolerance\n",
        t.flavour()
    );
    if has_files {
        let _ = writeln!(
            s,
            "\nLarger inputs are read from the folder {} beside this script.",
            comment_text(inputs_dir, 200)
        );
    }
    s.push_str(
        "\"\"\"\n\nimport argparse\nimport os\nimport sys\nimport tempfile\n\nimport numpy as np\n",
    );
    s.push_str(t.imports());
    s.push_str("\nINPUTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), ");
    s.push_str(&py_str(inputs_dir));
    s.push_str(")\n\n\ndef _load(name):\n    return np.load(os.path.join(INPUTS, name))\n\n\n");
    s.push_str(t.glue().trim_end());
    s.push('\n');
    s.push_str(&helpers_text(helpers));
    s.push_str(
        "\n\ndef compute():\n    \"\"\"Computes every block in dependency order; returns (block name, output file \
         name, value,\n    names of the blocks it reads) per output.\"\"\"\n",
    );
    for e in emitted {
        for l in &e.lines {
            for part in l.lines() {
                let _ = writeln!(s, "    {part}");
            }
        }
    }
    s.push_str("    return [\n");
    for e in emitted {
        let deps: Vec<String> = e.deps.iter().map(|d| py_str(d)).collect();
        for (file, var) in &e.outputs {
            let _ = writeln!(
                s,
                "        ({}, {}, {var}, [{}]),",
                py_str(&e.name),
                py_str(file),
                deps.join(", ")
            );
        }
    }
    s.push_str("    ]\n\n\n");
    // The output file names, known before computing (so --output refuses before it runs).
    s.push_str("OUTPUT_FILES = [\n");
    for e in emitted {
        for (file, _) in &e.outputs {
            let _ = writeln!(s, "    {},", py_str(file));
        }
    }
    s.push_str("]\n\n\n");
    s.push_str(include_str!("runtime.py"));
    s
}

fn snippet_text(
    page: &Page,
    t: &dyn Target,
    framework: Framework,
    helpers: &[&'static PyHelper],
    emitted: &[Emitted],
) -> String {
    let mut s = format!(
        "# Blockspace page {:?}: {} block(s), for {}; inputs inline.\nimport numpy as np\n",
        comment_text(page.name(), 200),
        emitted.len(),
        framework.display_name()
    );
    s.push_str(t.imports());
    s.push_str(&helpers_text(helpers));
    s.push('\n');
    for e in emitted {
        s.push('\n');
        for l in &e.lines {
            s.push_str(l);
            s.push('\n');
        }
    }
    s
}
