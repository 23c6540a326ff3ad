//! The memory budget of a whole run: every kept output and a convolution's workspace add up,
//! and the block that takes the run over the budget is named with sizes and a way out.

use blockspace_graph::{
    AttrValue, CheckOptions, Page, Registry, check_page_with, parse_size, plan_memory,
};

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

#[test]
fn a_convolution_counts_its_workspace_while_it_runs() {
    let reg = Registry::builtin();
    let mut page = Page::new("p");
    let x = fill(&mut page, &reg, "x", &[1, 16, 16, 16, 8]); // 128 KiB
    let f = fill(&mut page, &reg, "f", &[3, 3, 3, 8, 8]);
    let c = page.add(&reg, "Conv3D", "conv", &[]).expect("a conv");
    page.connect(&reg, x, "output", c, "input").expect("wired");
    page.connect(&reg, f, "output", c, "filter").expect("wired");
    let check = check_page_with(&reg, &page, &CheckOptions::default());
    let plan = plan_memory(&reg, &page, &check, u64::MAX);
    let conv = plan
        .blocks
        .iter()
        .find(|b| b.name == "conv")
        .expect("planned");
    assert_eq!(conv.outputs, 128 << 10);
    assert_eq!(conv.workspace, 128 << 10, "the largest input");
    assert_eq!(conv.peak, (128 << 10) * 3 + 3 * 3 * 3 * 8 * 8 * 4);
}
