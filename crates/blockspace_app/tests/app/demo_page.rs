//! The demo page embedded in the app (`assets/demo.bspage.json`): it loads, checks clean, and this
//! file is also its generator:
//!
//! ```sh
//! cargo test --release -p blockspace_app --test app -- --ignored write_demo_page
//! ```

use blockspace_graph::{AttrValue, Command, Page, Registry};

fn demo_page(reg: &Registry) -> Result<Page, blockspace_graph::CommandError> {
    let mut page = Page::new("demo");
    let s = |v: &str| AttrValue::Str(v.to_owned());
    let sizes = page.add(
        reg,
        "Input",
        "input_sizes",
        &[("dtype", s("int32")), ("values", s("1, 6, 24, 24, 2"))],
    )?;
    let filter = page.add(
        reg,
        "Input",
        "filter",
        &[
            ("mode", s("normal")),
            ("shape", AttrValue::IntList(vec![3, 3, 3, 2, 4])),
            ("seed", AttrValue::Int(7)),
        ],
    )?;
    let grad = page.add(
        reg,
        "Input",
        "out_backprop",
        &[
            ("mode", s("uniform")),
            ("shape", AttrValue::IntList(vec![1, 6, 12, 12, 4])),
            ("seed", AttrValue::Int(11)),
        ],
    )?;
    let conv = page.add(
        reg,
        "Conv3DBackpropInputV2",
        "input_grad",
        &[
            ("strides", AttrValue::IntList(vec![1, 1, 2, 2, 1])),
            ("padding", s("SAME")),
        ],
    )?;
    page.connect(reg, sizes, "output", conv, "input_sizes")?;
    page.connect(reg, filter, "output", conv, "filter")?;
    page.connect(reg, grad, "output", conv, "out_backprop")?;
    page.apply(
        reg,
        Command::MoveBlocks {
            moves: vec![
                (sizes, [0.0, 0.0]),
                (filter, [0.0, 190.0]),
                (grad, [0.0, 380.0]),
                (conv, [380.0, 160.0]),
            ],
        },
    )?;
    Ok(page)
}

#[test]
fn embedded_demo_page_is_current_and_clean() {
    let reg = Registry::builtin();
    let page =
        blockspace_graph::page_from_json(&reg, blockspace_app::app::DEMO_PAGE, "demo").unwrap();
    let check = blockspace_graph::check_page(&reg, &page);
    assert!(
        check.is_ok(),
        "the demo page checks clean: {:?}",
        check.errors().collect::<Vec<_>>()
    );
    assert_eq!(
        blockspace_graph::page_to_json(&reg, &page),
        blockspace_graph::page_to_json(&reg, &demo_page(&reg).unwrap()),
        "assets/demo.bspage.json is what this generator writes (run it with --ignored write_demo_page)"
    );
}

#[test]
#[ignore = "generator: writes assets/demo.bspage.json"]
fn write_demo_page() {
    let reg = Registry::builtin();
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/demo.bspage.json");
    blockspace_graph::save_page(&reg, &demo_page(&reg).unwrap(), &path).unwrap();
}

/// The demo's random inputs show both parameters of their mode on the canvas (a uniform
/// block's `low` and `high`, a normal block's `mean` and `std`), not only the first.
#[test]
fn the_demo_inputs_show_both_parameters_of_their_mode_on_the_canvas() {
    use egui_kittest::kittest::Queryable as _;
    let dir = tempfile::tempdir().unwrap();
    let mut h = crate::harness::harness(dir.path(), Vec::new());
    crate::harness::wait_run(&mut h);
    for line in [
        "low = 0",
        "high = 1",
        "mean = 0",
        "std = 1",
        "values = 1, 6, 24, 24, 2",
    ] {
        h.get_by_label(line);
    }
}
