//! Checking before running: per-block errors name the port or attr, without computing tensors.

use blockspace_graph::{
    AttrValue, CheckOptions, Page, Registry, check_page, check_page_with, load_page,
};
use std::path::Path;
use std::time::{Duration, Instant};

#[test]
fn broken_fixture_reports_each_block_precisely() {
    let reg = Registry::builtin();
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/broken_blocks.bspage.json");
    let page = load_page(&reg, &path).unwrap();
    let check = check_page_with(
        &reg,
        &page,
        &CheckOptions {
            base_dir: path.parent().map(Path::to_owned),
            ..Default::default()
        },
    );
    let err = |name: &str| {
        let b = page.block_by_name(name).unwrap();
        check.block(b.id).unwrap().clone().unwrap_err()
    };
    let ok = |name: &str| {
        check
            .block(page.block_by_name(name).unwrap().id)
            .unwrap()
            .is_ok()
    };
    assert!(ok("input_sizes") && ok("filter") && ok("out_backprop") && ok("int_filter"));

    let e = err("batch_stride");
    assert_eq!(e.attr.as_deref(), Some("strides"));
    assert!(
        e.message.contains("strides in the batch and depth")
            && e.message.contains("set the batch and channel entries to 1"),
        "{e}"
    );
    let e = err("unconnected");
    assert_eq!(e.port.as_deref(), Some("filter"));
    assert!(e.message.contains("not connected"), "{e}");
    let e = err("int_into_filter");
    assert_eq!(e.port.as_deref(), Some("filter"));
    assert!(
        e.message.contains("int32") && e.message.contains("float32 or float64"),
        "{e}"
    );
    let e = err("huge");
    assert_eq!(e.attr.as_deref(), Some("shape"));
    assert!(
        e.message.contains("too large") || e.message.contains("memory limit"),
        "{e}"
    );
    let e = err("bad_literal");
    assert_eq!(e.attr.as_deref(), Some("values"));
    assert!(
        e.message.contains("\"four\"") && e.message.contains("column 7"),
        "{e}"
    );
    let e = err("missing_npy");
    assert_eq!(e.attr.as_deref(), Some("path"));
    assert!(e.message.contains("no_such_file.npy"), "{e}");
    let e = err("wrong_channels");
    assert_eq!(e.port.as_deref(), Some("out_backprop"));
    assert!(e.message.contains("doesn't match computed"), "{e}");
    assert_eq!(check.errors().count(), 7);
    assert!(
        e.to_string()
            .starts_with("block \"wrong_channels\", input `out_backprop`: "),
        "{e}"
    );
}

#[test]
fn checking_is_cheap_even_for_big_tensors() {
    let reg = Registry::builtin();
    let mut p = Page::new("p");
    let sizes = p
        .add(
            &reg,
            "Input",
            "sizes",
            &[
                ("dtype", AttrValue::Str("int64".into())),
                ("values", AttrValue::Str("1, 256, 256, 256, 8".into())),
            ],
        )
        .unwrap();
    let f = p
        .add(
            &reg,
            "Input",
            "f",
            &[
                ("mode", AttrValue::Str("normal".into())),
                ("shape", AttrValue::IntList(vec![3, 3, 3, 8, 8])),
            ],
        )
        .unwrap();
    let dy = p
        .add(
            &reg,
            "Input",
            "dy",
            &[
                ("mode", AttrValue::Str("uniform".into())),
                ("shape", AttrValue::IntList(vec![1, 256, 256, 256, 8])),
            ],
        )
        .unwrap();
    let c = p.add(&reg, "Conv3DBackpropInputV2", "c", &[]).unwrap();
    p.connect(&reg, sizes, "output", c, "input_sizes").unwrap();
    p.connect(&reg, f, "output", c, "filter").unwrap();
    p.connect(&reg, dy, "output", c, "out_backprop").unwrap();
    let t = Instant::now();
    let check = check_page(&reg, &p);
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "no 512 MiB tensor was computed"
    );
    assert_eq!(
        check.block(c).unwrap().as_ref().unwrap()[0].shape,
        vec![1, 256, 256, 256, 8]
    );
    assert!(
        check
            .value(blockspace_graph::OutPort {
                block: sizes,
                port: 0
            })
            .is_some(),
        "input_sizes values are known"
    );
    assert!(
        check
            .value(blockspace_graph::OutPort { block: dy, port: 0 })
            .is_none()
    );
}

#[test]
fn input_sizes_values_drive_inference_and_every_kernel_rule_applies() {
    let reg = Registry::builtin();
    let mut p = Page::new("p");
    let sizes = p
        .add(
            &reg,
            "Input",
            "sizes",
            &[
                ("dtype", AttrValue::Str("int32".into())),
                ("values", AttrValue::Str("1, 4, 4, 4, 2".into())),
            ],
        )
        .unwrap();
    let f = p
        .add(
            &reg,
            "Input",
            "f",
            &[
                ("mode", AttrValue::Str("fill".into())),
                ("shape", AttrValue::IntList(vec![2, 2, 2, 3, 4])),
            ],
        )
        .unwrap();
    let dy = p
        .add(
            &reg,
            "Input",
            "dy",
            &[
                ("mode", AttrValue::Str("fill".into())),
                ("shape", AttrValue::IntList(vec![1, 4, 4, 4, 4])),
            ],
        )
        .unwrap();
    let c = p.add(&reg, "Conv3DBackpropInputV2", "c", &[]).unwrap();
    p.connect(&reg, sizes, "output", c, "input_sizes").unwrap();
    p.connect(&reg, f, "output", c, "filter").unwrap();
    p.connect(&reg, dy, "output", c, "out_backprop").unwrap();
    let check = check_page(&reg, &p);
    let e = check.block(c).unwrap().as_ref().unwrap_err();
    assert!(
        e.message
            .contains("same number of channels. Got 2 for input and 3 for filter_sizes"),
        "{e}"
    );
    assert_eq!(e.port.as_deref(), Some("filter"));
    // Upstream errors are named on the downstream block's port.
    p.apply(
        &reg,
        blockspace_graph::Command::SetAttr {
            block: sizes,
            attr: "values".into(),
            value: AttrValue::Str("1, 4, x".into()),
        },
    )
    .unwrap();
    let check = check_page(&reg, &p);
    let e = check.block(c).unwrap().as_ref().unwrap_err();
    assert_eq!(e.port.as_deref(), Some("input_sizes"));
    assert!(e.message.contains("\"sizes\", which has an error"), "{e}");
}

#[test]
fn port_ranks_are_checked() {
    let reg = Registry::builtin();
    let mut p = Page::new("p");
    let sizes = p
        .add(
            &reg,
            "Input",
            "sizes",
            &[
                ("dtype", AttrValue::Str("int32".into())),
                ("values", AttrValue::Str("[[1, 4, 4, 4, 3]]".into())),
            ],
        )
        .unwrap();
    let f = p
        .add(
            &reg,
            "Input",
            "f",
            &[
                ("mode", AttrValue::Str("fill".into())),
                ("shape", AttrValue::IntList(vec![2, 2, 3, 4])),
            ],
        )
        .unwrap();
    let dy = p
        .add(
            &reg,
            "Input",
            "dy",
            &[
                ("mode", AttrValue::Str("fill".into())),
                ("shape", AttrValue::IntList(vec![1, 4, 4, 4, 4])),
            ],
        )
        .unwrap();
    let c = p.add(&reg, "Conv3DBackpropInputV2", "c", &[]).unwrap();
    p.connect(&reg, sizes, "output", c, "input_sizes").unwrap();
    p.connect(&reg, f, "output", c, "filter").unwrap();
    p.connect(&reg, dy, "output", c, "out_backprop").unwrap();
    let check = check_page(&reg, &p);
    let e = check.block(c).unwrap().as_ref().unwrap_err();
    assert_eq!(e.port.as_deref(), Some("input_sizes"));
    assert!(
        e.message.contains("rank 1") && e.message.contains("[1, 5]"),
        "{e}"
    );
    p.apply(
        &reg,
        blockspace_graph::Command::SetAttr {
            block: sizes,
            attr: "values".into(),
            value: AttrValue::Str("1, 4, 4, 4, 3".into()),
        },
    )
    .unwrap();
    let check = check_page(&reg, &p);
    let e = check.block(c).unwrap().as_ref().unwrap_err();
    assert_eq!(e.port.as_deref(), Some("filter"));
    assert!(
        e.message.contains("rank 5") && e.message.contains("[2, 2, 3, 4]"),
        "{e}"
    );
}
