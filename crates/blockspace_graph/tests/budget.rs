//! The memory budget of a whole run: every kept output and a convolution's workspace add up,
//! and the block that takes the run over the budget is named with sizes and a way out.

use std::sync::Arc;

use blockspace_graph::{
    AttrValue, CheckOptions, Command, Executor, Page, Registry, check_page_with, parse_size,
    plan_memory,
};
use blockspace_kernels::MemoryLimit;

fn fill(page: &mut Page, reg: &Registry, name: &str, shape: &[i64]) -> blockspace_graph::BlockId {
    page.add(
        reg,
        "Input",
        name,
        &[
            ("mode", AttrValue::Str("fill".into())),
            ("dtype", AttrValue::Str("float32".into())),
            ("shape", AttrValue::IntList(shape.to_vec())),
        ],
    )
    .expect("a fill input")
}

#[test]
fn three_inputs_that_fit_one_by_one_do_not_fit_together() {
    let reg = Registry::builtin();
    let mut page = Page::new("p");
    for n in ["a", "b", "c"] {
        fill(&mut page, &reg, n, &[256, 1024]); // 1 MiB each
    }
    let check = check_page_with(&reg, &page, &CheckOptions::default());
    let budget = parse_size("2.5MiB").expect("a size");
    let plan = plan_memory(&reg, &page, &check, budget);
    assert_eq!(plan.peak, 3 << 20);
    assert!(!plan.fits());
    let over = plan.over.clone().expect("over the budget");
    assert_eq!(over.name, "c");
    let text = plan.refusal().expect("a refusal");
    assert!(
        text.contains("at block \"c\"")
            && text.contains("3.00 MiB")
            && text.contains("2.50 MiB")
            && text.contains("--memory-limit"),
        "{text}"
    );
    assert!(plan_memory(&reg, &page, &check, 3 << 20).fits());
}

/// A page `x` (fill of `x_shape`) and `f` (`[3, 3, 3, 8, 8]`) → `Conv3D` with `attrs`, and
/// the plan of its conv block and of the whole run.
fn planned_conv(
    reg: &Registry,
    x_shape: &[i64],
    attrs: &[(&str, AttrValue)],
) -> (Page, blockspace_graph::BlockMemory, u64) {
    let mut page = Page::new("p");
    let x = fill(&mut page, reg, "x", x_shape);
    let f = fill(&mut page, reg, "f", &[3, 3, 3, 8, 8]);
    let c = page.add(reg, "Conv3D", "conv", attrs).expect("a conv");
    page.connect(reg, x, "output", c, "input").expect("wired");
    page.connect(reg, f, "output", c, "filter").expect("wired");
    let check = check_page_with(reg, &page, &CheckOptions::default());
    let plan = plan_memory(reg, &page, &check, u64::MAX);
    let conv = plan
        .blocks
        .iter()
        .find(|b| b.name == "conv")
        .expect("planned")
        .clone();
    (page, conv, plan.peak)
}

const FILTER_BYTES: u64 = 3 * 3 * 3 * 8 * 8 * 4;

#[test]
fn a_convolution_counts_its_workspace_while_it_runs() {
    let reg = Registry::builtin();
    let (_, conv, _) = planned_conv(&reg, &[1, 16, 16, 16, 8], &[]); // 128 KiB
    assert_eq!(conv.outputs, 128 << 10);
    assert_eq!(conv.workspace, 128 << 10, "the largest input");
    assert_eq!(conv.peak, (128 << 10) * 3 + FILTER_BYTES);
}

#[test]
fn an_ncdhw_convolution_also_counts_its_layout_copies() {
    let reg = Registry::builtin();
    let ncdhw = [("data_format", AttrValue::Str("NCDHW".into()))];
    let (page, conv, peak) = planned_conv(&reg, &[1, 8, 16, 16, 16], &ncdhw);
    assert_eq!(conv.outputs, 128 << 10);
    assert_eq!(
        conv.workspace,
        (128 << 10) + (128 << 10) + FILTER_BYTES + (128 << 10),
        "the largest input, the operands' NDHWC copies and the result's NCDHW copy"
    );
    // The run counts what the kernel reserves, within the plan.
    let reg = Arc::new(reg);
    let mut exec = executor(&reg, peak);
    exec.run(&page, None);
    exec.wait();
    assert!(!over_budget(&exec, &page, "conv"));
    assert!(exec.memory_peak() <= peak);
}

fn executor(reg: &Arc<Registry>, budget: u64) -> Executor {
    let mut exec = Executor::new(Arc::clone(reg), Arc::new(|| {}));
    exec.set_memory_limit(MemoryLimit::bytes(budget));
    exec
}

fn over_budget(exec: &Executor, page: &Page, name: &str) -> bool {
    let id = page.block_by_name(name).expect("a block").id;
    exec.result(id)
        .expect("a result")
        .outputs
        .as_ref()
        .is_err_and(|e| e.to_string().contains("over the memory budget"))
}

#[test]
fn a_run_counts_every_result_it_holds_and_refuses_the_block_past_the_budget() {
    let reg = Arc::new(Registry::builtin());
    let mut page = Page::new("p");
    for (v, n) in ["a", "b", "c"].into_iter().enumerate() {
        let id = fill(&mut page, &reg, n, &[256, 1024]); // 1 MiB each
        set_value(&reg, &mut page, id, v as f64); // different, so no two share a cache entry
    }
    // Unplanned (the app and the CLI refuse this page before running): the live count
    // refuses the one that does not fit, whichever order the blocks ran in.
    let mut exec = executor(&reg, parse_size("2.5MiB").expect("a size"));
    exec.run(&page, None);
    exec.wait();
    let refused: Vec<&str> = ["a", "b", "c"]
        .into_iter()
        .filter(|n| over_budget(&exec, &page, n))
        .collect();
    assert_eq!(refused.len(), 1, "exactly one is over: {refused:?}");
    assert_eq!(exec.memory_live(), 2 << 20, "the two results held");
    drop(exec);
}

/// `x` (a 1 MiB fill) → `Abs` → `y`.
fn chain(reg: &Registry) -> Page {
    let mut page = Page::new("p");
    let x = fill(&mut page, reg, "x", &[256, 1024]);
    let y = page.add(reg, "Abs", "y", &[]).expect("an Abs");
    page.connect(reg, x, "output", y, "x").expect("wired");
    page
}

fn set_value(reg: &Registry, page: &mut Page, block: blockspace_graph::BlockId, value: f64) {
    page.apply(
        reg,
        Command::SetAttr {
            block,
            attr: "value".into(),
            value: AttrValue::Float(value),
        },
    )
    .expect("set");
}

fn change_x(reg: &Registry, page: &mut Page, value: f64) {
    let x = page.block_by_name("x").expect("x").id;
    set_value(reg, page, x, value);
}

#[test]
fn a_rerun_holds_the_old_results_until_it_replaces_them_unless_both_would_not_fit() {
    let reg = Arc::new(Registry::builtin());
    let mut page = chain(&reg);
    let check = check_page_with(&reg, &page, &CheckOptions::default());
    let needed = plan_memory(&reg, &page, &check, u64::MAX).peak;
    assert_eq!(needed, 2 << 20);

    // Room for both runs' results: the old ones stay (the viewer shows them meanwhile).
    let mut exec = executor(&reg, 4 << 20);
    exec.run(&page, None);
    exec.wait();
    assert_eq!(exec.memory_live(), 2 << 20);
    change_x(&reg, &mut page, 2.0);
    assert_eq!(exec.run_within(&page, None, needed), 0, "nothing dropped");
    let y = page.block_by_name("y").expect("y").id;
    assert!(exec.result(y).is_some(), "the old result is still shown");
    exec.wait();
    assert!(!over_budget(&exec, &page, "y"));
    assert_eq!(
        exec.memory_live(),
        2 << 20,
        "the old results went when replaced"
    );

    // Room for one run only: without making room, the old results push `y` over ...
    let mut exec = executor(&reg, 3 << 20);
    exec.run(&page, None);
    exec.wait();
    change_x(&reg, &mut page, 3.0);
    exec.run(&page, None);
    exec.wait();
    assert!(over_budget(&exec, &page, "y"), "old x, old y, new x, new y");

    // ... and making room drops exactly the ones this run replaces first.
    let mut exec = executor(&reg, 3 << 20);
    exec.run(&page, None);
    exec.wait();
    change_x(&reg, &mut page, 4.0);
    assert_eq!(exec.run_within(&page, None, needed), 2 << 20);
    assert!(exec.result(y).is_none(), "the replaced result is gone");
    exec.wait();
    assert!(!over_budget(&exec, &page, "y"));
    assert!(!over_budget(&exec, &page, "x"));
    assert_eq!(exec.memory_live(), 2 << 20);
}

#[test]
fn making_room_keeps_the_results_the_run_reuses() {
    let reg = Arc::new(Registry::builtin());
    let mut page = chain(&reg);
    let w = fill(&mut page, &reg, "w", &[256, 1024]);
    set_value(&reg, &mut page, w, 7.0);
    let check = check_page_with(&reg, &page, &CheckOptions::default());
    let needed = plan_memory(&reg, &page, &check, u64::MAX).peak;
    assert_eq!(needed, 3 << 20);
    let mut exec = executor(&reg, needed);
    exec.run(&page, None);
    exec.wait();
    assert_eq!(exec.memory_live(), 3 << 20);
    // Only `w` changes: x and y will come from the cache, so only w's old result goes.
    set_value(&reg, &mut page, w, 5.0);
    assert_eq!(exec.run_within(&page, None, needed), 1 << 20);
    assert!(exec.result(w).is_none());
    for n in ["x", "y"] {
        let id = page.block_by_name(n).expect("a block").id;
        assert!(exec.result(id).is_some(), "{n} is kept");
    }
    exec.wait();
    assert_eq!(exec.evaluations(), 4, "three, then only w again");
    assert!(!over_budget(&exec, &page, "w"));
    assert_eq!(exec.memory_live(), 3 << 20);
}
