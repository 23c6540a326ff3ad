//! `blockspace run PAGE [--output DIR [--force]] [--memory-limit SIZE] [--json]`: runs every
//! block of a page headless, after checking that it fits the memory budget.
//!
//! `--output` writes through [`OutputDir`]: atomic renames that replace (never follow) a link at
//! the target, unique names for colliding blocks (`name__2.npy`), no existing file replaced
//! without `--force`, and never the page's own files. All targets are checked before anything
//! runs, so a refused run writes nothing.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use blockspace_graph::{
    Block, BlockResult, Executor, OutputDir, Page, Registry, format_size, load_page,
    output_file_names, page_input_files, topo_order,
};
use serde_json::{Value, json};

/// Arguments of `blockspace run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The page file (`*.bspage.json`).
    pub page: PathBuf,
    /// Write each result as `<block name>.npy` into this directory (created if missing).
    #[arg(long, value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// Replace files that already exist in the `--output` directory (the page's own input
    /// files are never replaced).
    #[arg(long, requires = "output")]
    pub force: bool,
    /// Print machine-readable JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// The memory budget of the run (e.g. `4GiB`, `512MB`): a page whose kept results and
    /// workspaces would not fit is refused before anything runs; default: 75 % of the smallest
    /// of physical memory, the cgroup limit and the address-space limit.
    #[arg(long, value_name = "SIZE", value_parser = super::memory::parse_memory_limit)]
    pub memory_limit: Option<u64>,
}

/// The directory relative paths in `page_path` resolve against.
pub(crate) fn base_dir(page_path: &Path) -> PathBuf {
    match page_path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// Blocks in evaluation order (falling back to id order for a cycle).
pub(crate) fn ordered_blocks(page: &Page) -> Vec<&Block> {
    match topo_order(page) {
        Ok(order) => order.iter().filter_map(|id| page.block(*id)).collect(),
        Err(_) => page.blocks().collect(),
    }
}

/// Creates the output folder and checks every target before anything runs.
fn prepare_output(
    registry: &Registry,
    page: &Page,
    page_path: &Path,
    dir: &Path,
    force: bool,
    names: &std::collections::BTreeMap<(blockspace_graph::BlockId, usize), String>,
) -> Result<OutputDir, Vec<String>> {
    let mut protected = page_input_files(registry, page, &base_dir(page_path));
    protected.push(page_path.to_owned());
    let out = OutputDir::create(dir, force, &protected).map_err(|e| vec![e.to_string()])?;
    let problems: Vec<String> = names
        .values()
        .filter_map(|n| out.check(n).err().map(|e| e.to_string()))
        .collect();
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

fn fmt_num(v: f64) -> String {
    if v.is_nan() {
        "-".to_owned()
    } else if v != 0.0 && (v.abs() >= 1e6 || v.abs() < 1e-3) {
        format!("{v:.4e}")
    } else {
        format!("{v:.6}")
    }
}

/// Exit status: 0 every block ran, 1 some block failed (or a result could not be written),
/// 2 the page could not be loaded.
///
/// # Errors
/// Only when writing to `out` or `err` fails.
pub fn run(args: &RunArgs, out: &mut dyn Write, err: &mut dyn Write) -> std::io::Result<u8> {
    let registry = Arc::new(Registry::builtin());
    let page = match load_page(&registry, &args.page) {
        Ok(p) => p,
        Err(e) => {
            writeln!(err, "error: {e}")?;
            return Ok(2);
        }
    };
    let (budget, source) = super::memory::budget(args.memory_limit);
    let (_, plan) =
        super::memory::check_with_budget(&registry, &page, base_dir(&args.page), budget);
    if let Some(r) = super::memory::refusal(&plan, &source) {
        writeln!(err, "error: {r} ({})", args.page.display())?;
        return Ok(1);
    }
    let names = output_file_names(&registry, &page);
    let output = match &args.output {
        Some(dir) => match prepare_output(&registry, &page, &args.page, dir, args.force, &names) {
            Ok(o) => Some(o),
            Err(problems) => {
                for p in problems {
                    writeln!(err, "error: {p}")?;
                }
                return Ok(1);
            }
        },
        None => None,
    };
    let mut exec = Executor::new(Arc::clone(&registry), Arc::new(|| {}));
    exec.set_memory_limit(blockspace_kernels::MemoryLimit::bytes(budget));
    exec.run(&page, Some(base_dir(&args.page)));
    exec.wait();

    let origin = args.page.display().to_string();
    let mut failed = 0usize;
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut entries = Vec::new();
    for block in ordered_blocks(&page) {
        let Some(desc) = registry.get(&block.type_id) else {
            continue;
        };
        let result: Option<&BlockResult> = exec.result(block.id);
        let mut entry = json!({
            "id": block.id.0,
            "name": block.name,
            "type": block.type_id,
        });
        match result.map(|r| (&r.outputs, r.elapsed)) {
            Some((Ok(tensors), elapsed)) => {
                let mut outs = Vec::new();
                for (i, (spec, t)) in desc.outputs.iter().zip(tensors.iter()).enumerate() {
                    let stats = t.stats();
                    let mut o = json!({
                        "port": spec.name,
                        "dtype": t.dtype().as_str(),
                        "shape": t.shape(),
                        "stats": stats,
                    });
                    if let Some(dir) = &output
                        && let Some(name) = names.get(&(block.id, i))
                    {
                        match dir.write(name, t) {
                            Ok(path) => o["npy"] = Value::from(path.display().to_string()),
                            Err(e) => {
                                failed += 1;
                                errors.push(format!("error: block {:?}: {e}", block.name));
                            }
                        }
                    }
                    if !args.json {
                        rows.push(format!(
                            "{:<28} {:<22} {:<8} {:<20} min {} max {} mean {} std {}{}  {:.2} ms",
                            block.name,
                            block.type_id,
                            t.dtype(),
                            format!("{:?}", t.shape()),
                            fmt_num(stats.min),
                            fmt_num(stats.max),
                            fmt_num(stats.mean),
                            fmt_num(stats.std),
                            if stats.nan_count + stats.inf_count > 0 {
                                format!(" nan {} inf {}", stats.nan_count, stats.inf_count)
                            } else {
                                String::new()
                            },
                            elapsed.as_secs_f64() * 1e3,
                        ));
                    }
                    outs.push(o);
                }
                entry["ok"] = Value::Bool(true);
                entry["elapsed_ms"] = json!(elapsed.as_secs_f64() * 1e3);
                entry["outputs"] = Value::Array(outs);
            }
            Some((Err(e), _)) => {
                failed += 1;
                errors.push(format!("error: {e} ({origin})"));
                rows.push(format!("{:<28} {:<22} FAILED", block.name, block.type_id));
                entry["ok"] = Value::Bool(false);
                entry["error"] = json!({"port": e.port, "attr": e.attr, "message": e.message});
            }
            None => {
                failed += 1;
                errors.push(format!(
                    "error: block {:?} did not run ({origin})",
                    block.name
                ));
                entry["ok"] = Value::Bool(false);
                entry["error"] = json!({"port": null, "attr": null, "message": "did not run"});
            }
        }
        entries.push(entry);
    }
    if args.json {
        let doc = json!({
            "page": origin,
            "ok": failed == 0,
            "failed": failed,
            "memory": {
                "peak_bytes": exec.memory_peak(),
                "planned_peak_bytes": plan.peak,
                "budget_bytes": budget,
            },
            "blocks": entries,
        });
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&doc).unwrap_or_default()
        )?;
    } else {
        writeln!(
            out,
            "{origin}: {} blocks, {failed} failed; memory peak {} (planned {}, budget {})",
            page.len(),
            format_size(exec.memory_peak()),
            format_size(plan.peak),
            format_size(budget)
        )?;
        for r in &rows {
            writeln!(out, "  {r}")?;
        }
    }
    for e in &errors {
        writeln!(err, "{e}")?;
    }
    Ok(u8::from(failed > 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn examples() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples")
    }

    fn run_text(args: &RunArgs) -> (u8, String, String) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = run(args, &mut out, &mut err).unwrap();
        (
            code,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    #[test]
    fn runs_every_example_and_writes_npy() {
        for name in [
            "minimal",
            "unet_upsample",
            "ncdhw_dilated",
            "chain",
            "npy_inputs",
        ] {
            let page = examples().join(format!("{name}.bspage.json"));
            let (code, out, err) = run_text(&RunArgs {
                page,
                output: None,
                force: false,
                memory_limit: None,
                json: false,
            });
            assert_eq!(code, 0, "{name}: {out}\n{err}");
            assert!(out.contains("0 failed"), "{out}");
        }
        let (_, out, _) = run_text(&RunArgs {
            page: examples().join("minimal.bspage.json"),
            output: None,
            force: false,
            memory_limit: None,
            json: false,
        });
        assert!(
            out.contains("float32  [1, 4, 4, 4, 3]") && out.contains("min 4.000000 max 32.000000"),
            "{out}"
        );
        let dir = tempfile::tempdir().unwrap();
        let args = RunArgs {
            page: examples().join("chain.bspage.json"),
            output: Some(dir.path().join("out")),
            force: false,
            memory_limit: None,
            json: true,
        };
        let (code, out, _) = run_text(&args);
        assert_eq!(code, 0);
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["ok"], true);
        assert_eq!(v["blocks"].as_array().unwrap().len(), 7);
        assert!(dir.path().join("out/stage_2.npy").exists());
    }

    #[test]
    fn failing_blocks_give_a_non_zero_exit_and_their_errors() {
        let page = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../blockspace_graph/tests/fixtures/broken_blocks.bspage.json");
        let (code, _, err) = run_text(&RunArgs {
            page,
            output: None,
            force: false,
            memory_limit: None,
            json: false,
        });
        assert_eq!(code, 1);
        assert!(
            err.contains("block \"batch_stride\", attr `strides`"),
            "{err}"
        );
        let (code, _, err) = run_text(&RunArgs {
            page: PathBuf::from("/nonexistent/p.bspage.json"),
            output: None,
            force: false,
            memory_limit: None,
            json: false,
        });
        assert_eq!(code, 2);
        assert!(err.contains("/nonexistent/p.bspage.json"), "{err}");
    }
}
