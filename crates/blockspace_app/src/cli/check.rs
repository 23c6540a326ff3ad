//! `blockspace check PAGE [--memory-limit SIZE] [--json]`: loads a page and infers every
//! block's output, reporting problems, and whether a run fits the memory budget (the block that
//! takes it over, with sizes). Runs nothing.

use std::io::Write;
use std::path::PathBuf;

use blockspace_graph::{FileError, Registry, load_page};
use serde_json::{Value, json};

use super::run::{base_dir, ordered_blocks};

/// Arguments of `blockspace check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The page file (`*.bspage.json`).
    pub page: PathBuf,
    /// Print machine-readable JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// The memory budget of a run (e.g. `4GiB`, `512MB`); default: 75 % of the smallest of
    /// physical memory, the cgroup limit and the address-space limit.
    #[arg(long, value_name = "SIZE", value_parser = super::memory::parse_memory_limit)]
    pub memory_limit: Option<u64>,
}

/// Exit status: 0 no problems, 1 some block has a problem, 2 the file could not be loaded.
///
/// # Errors
/// Only when writing to `out` or `err` fails.
pub fn run(args: &CheckArgs, out: &mut dyn Write, err: &mut dyn Write) -> std::io::Result<u8> {
    let registry = Registry::builtin();
    let origin = args.page.display().to_string();
    let page = match load_page(&registry, &args.page) {
        Ok(p) => p,
        Err(e) => {
            if args.json {
                let problems: Vec<Value> = e
                    .problems()
                    .iter()
                    .map(|p| json!({"json_path": p.json_path, "message": p.message}))
                    .collect();
                let doc = json!({"page": origin, "ok": false, "load_error": e.to_string(), "problems": problems});
                writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&doc).unwrap_or_default()
                )?;
            } else if let FileError::Invalid { problems, .. } = &e {
                for p in problems {
                    writeln!(err, "error: {}: {} ({origin})", p.json_path, p.message)?;
                }
                writeln!(
                    err,
                    "{origin}: cannot be loaded, {} problem(s)",
                    problems.len()
                )?;
            } else {
                writeln!(err, "error: {e}")?;
            }
            return Ok(2);
        }
    };
    let (budget, source) = super::memory::budget(args.memory_limit);
    let (check, plan) =
        super::memory::check_with_budget(&registry, &page, base_dir(&args.page), budget);
    let over_budget = super::memory::refusal(&plan, &source);
    let mut entries = Vec::new();
    let mut n_errors = 0usize;
    for block in ordered_blocks(&page) {
        let outputs = registry.get(&block.type_id).map_or(&[][..], |d| d.outputs);
        match check.block(block.id) {
            Some(Ok(metas)) => {
                let outs: Vec<Value> = outputs
                    .iter()
                    .zip(metas)
                    .map(|(spec, m)| json!({"port": spec.name, "dtype": m.dtype.as_str(), "shape": m.shape}))
                    .collect();
                if !args.json {
                    let text: Vec<String> = outputs
                        .iter()
                        .zip(metas)
                        .map(|(spec, m)| format!("{}: {m}", spec.name))
                        .collect();
                    writeln!(
                        out,
                        "ok     {:<28} {:<22} {}",
                        block.name,
                        block.type_id,
                        text.join(", ")
                    )?;
                }
                entries.push(json!({"id": block.id.0, "name": block.name, "type": block.type_id, "ok": true, "outputs": outs}));
            }
            Some(Err(e)) => {
                n_errors += 1;
                if !args.json {
                    writeln!(out, "error  {:<28} {:<22}", block.name, block.type_id)?;
                    writeln!(err, "error: {e} ({origin})")?;
                }
                entries.push(json!({
                    "id": block.id.0, "name": block.name, "type": block.type_id, "ok": false,
                    "error": {"port": e.port, "attr": e.attr, "message": e.message},
                }));
            }
            None => {}
        }
    }
    if over_budget.is_some() {
        n_errors += 1;
    }
    if args.json {
        let memory = json!({
            "budget": plan.budget,
            "peak": plan.peak,
            "fits": plan.fits(),
            "over": plan.over.as_ref().map(|o| json!({
                "id": o.block.0, "name": o.name, "outputs": o.outputs,
                "workspace": o.workspace, "peak": o.peak,
            })),
            "message": over_budget,
        });
        let doc = json!({"page": origin, "ok": n_errors == 0, "errors": n_errors, "memory": memory, "blocks": entries});
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&doc).unwrap_or_default()
        )?;
    } else {
        if let Some(r) = &over_budget {
            writeln!(err, "error: {r} ({origin})")?;
        }
        writeln!(
            out,
            "{origin}: {} blocks, {n_errors} with problems; a run needs {} of the {} memory budget",
            page.len(),
            blockspace_graph::format_size(plan.peak),
            blockspace_graph::format_size(plan.budget),
        )?;
    }
    Ok(u8::from(n_errors > 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_text(page: PathBuf, json: bool) -> (u8, String, String) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = run(
            &CheckArgs {
                page,
                json,
                memory_limit: None,
            },
            &mut out,
            &mut err,
        )
        .unwrap();
        (
            code,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    fn fixture(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../blockspace_graph/tests/fixtures")
            .join(name)
    }

    #[test]
    fn a_good_page_checks_clean() {
        let page = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples/ncdhw_dilated.bspage.json");
        let (code, out, err) = check_text(page, false);
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.contains("output: float64 [2, 3, 9, 9, 9]"), "{out}");
    }

    #[test]
    fn a_broken_page_is_reported_precisely() {
        let (code, _, err) = check_text(fixture("broken_blocks.bspage.json"), false);
        assert_eq!(code, 1);
        assert!(
            err.contains("block \"unconnected\", input `filter`: `filter` is not connected"),
            "{err}"
        );
        assert!(err.contains("block \"bad_literal\", attr `values`: \"four\" is not a valid int32 value at column 7"), "{err}");
        let (code, out, _) = check_text(fixture("broken_blocks.bspage.json"), true);
        assert_eq!(code, 1);
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["errors"], 7);
        let (code, _, err) = check_text(fixture("broken_file.bspage.json"), false);
        assert_eq!(code, 2);
        assert!(
            err.contains("error: wires[0].from.block: dangling wire"),
            "{err}"
        );
        assert!(
            err.lines()
                .all(|l| l.ends_with(".bspage.json)") || l.contains("cannot be loaded")),
            "{err}"
        );
    }
}
