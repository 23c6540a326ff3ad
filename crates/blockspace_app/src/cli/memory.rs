//! `--memory-limit SIZE` of `run` and `check`: the memory budget of a whole run (see
//! `blockspace_graph::budget`), checked against the page before anything runs.

use blockspace_graph::{
    CheckOptions, MachineMemory, MemoryPlan, Page, PageCheck, Registry, check_page_with,
    format_size, plan_memory,
};
use blockspace_kernels::MemoryLimit;

/// Parses the value of `--memory-limit` (for clap).
///
/// # Errors
/// What is wrong with the size and valid forms.
pub fn parse_memory_limit(text: &str) -> Result<u64, String> {
    blockspace_graph::parse_size(text)
}

/// The budget in bytes and where it comes from (for messages).
#[must_use]
pub fn budget(memory_limit: Option<u64>) -> (u64, String) {
    match memory_limit {
        Some(b) => (b, format!("{} (--memory-limit)", format_size(b))),
        None => {
            let m = MachineMemory::detect();
            let b = m.default_budget();
            (
                b,
                format!("{}, the default: {}", format_size(b), m.describe()),
            )
        }
    }
}

/// Checks `page` with the budget as the per-buffer limit too, and plans its memory.
#[must_use]
pub fn check_with_budget(
    registry: &Registry,
    page: &Page,
    base_dir: std::path::PathBuf,
    budget: u64,
) -> (PageCheck, MemoryPlan) {
    let opts = CheckOptions {
        base_dir: Some(base_dir),
        limit: MemoryLimit::bytes(budget),
    };
    let check = check_page_with(registry, page, &opts);
    let plan = plan_memory(registry, page, &check, budget);
    (check, plan)
}

/// The refusal of a plan over budget, with where the budget came from.
#[must_use]
pub fn refusal(plan: &MemoryPlan, source: &str) -> Option<String> {
    plan.refusal()
        .map(|r| format!("{r} [memory budget: {source}]"))
}
