//! Conformance sweep over every block type in the registry.

use blockspace_graph::ops::{AttrKind, InferCtx, OpDescriptor};
use blockspace_graph::{AttrValue, Page, Registry, check_page};
use std::collections::BTreeSet;

#[test]
fn type_ids_are_stable() {
    // These ids are stored in page files: never change or reuse one.
    let ids: Vec<&str> = Registry::builtin().iter().map(|d| d.type_id).collect();
    assert_eq!(
        ids,
        [
            "Input",
            "Conv3D",
            "Conv3DBackpropInputV2",
            "Conv3DBackpropFilterV2",
            "AddV2",
            "Sub",
            "Mul",
            "Abs",
            "Sum",
            "Max"
        ]
    );
}

/// `(op, input ports, output port, attributes with their defaults)`.
type Expected<'a> = (&'a str, &'a [&'a str], &'a str, &'a [(&'a str, &'a str)]);

/// Every op block is named as TensorFlow names it: type = op name, input ports = the op's
/// argument names (in TensorFlow's order), output = TensorFlow's output name, attributes =
/// TensorFlow's attribute names with TensorFlow's defaults.
#[test]
fn blocks_use_tensorflow_names_and_defaults() {
    let conv_attrs: &[(&str, &str)] = &[
        ("data_format", "\"NDHWC\""),
        ("dilations", "[1, 1, 1, 1, 1]"),
        ("padding", "\"SAME\""),
        ("strides", "[1, 1, 1, 1, 1]"),
    ];
    let table: &[Expected<'_>] = &[
        ("Conv3D", &["input", "filter"], "output", conv_attrs),
        (
            "Conv3DBackpropInputV2",
            &["input_sizes", "filter", "out_backprop"],
            "output",
            conv_attrs,
        ),
        (
            "Conv3DBackpropFilterV2",
            &["input", "filter_sizes", "out_backprop"],
            "output",
            conv_attrs,
        ),
        ("AddV2", &["x", "y"], "z", &[]),
        ("Sub", &["x", "y"], "z", &[]),
        ("Mul", &["x", "y"], "z", &[]),
        ("Abs", &["x"], "y", &[]),
        (
            "Sum",
            &["input", "axis"],
            "output",
            &[("keep_dims", "false")],
        ),
        (
            "Max",
            &["input", "axis"],
            "output",
            &[("keep_dims", "false")],
        ),
    ];
    let reg = Registry::builtin();
    for (op, inputs, output, attrs) in table {
        let d = reg.get(op).unwrap_or_else(|| panic!("no block type {op}"));
        let ins: Vec<&str> = d.inputs.iter().map(|p| p.name).collect();
        assert_eq!(&ins, inputs, "{op} inputs");
        assert_eq!(d.outputs.len(), 1, "{op}");
        assert_eq!(d.outputs[0].name, *output, "{op} output");
        let got: Vec<(String, String)> = d
            .default_attrs()
            .into_iter()
            .map(|(k, v)| (k, v.to_string()))
            .collect();
        let want: Vec<(String, String)> = attrs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        assert_eq!(got, want, "{op} attributes and defaults");
    }
}

fn sweep(d: &OpDescriptor) {
    let t = d.type_id;
    assert!(
        !d.doc.is_empty() && !d.display_name.is_empty() && !d.category.is_empty(),
        "{t}"
    );
    let ports: Vec<&str> = d.inputs.iter().map(|p| p.name).collect();
    assert_eq!(
        ports.iter().collect::<BTreeSet<_>>().len(),
        ports.len(),
        "{t}: duplicate input names"
    );
    let outs: Vec<&str> = d.outputs.iter().map(|p| p.name).collect();
    assert_eq!(
        outs.iter().collect::<BTreeSet<_>>().len(),
        outs.len(),
        "{t}: duplicate output names"
    );
    assert!(!d.outputs.is_empty(), "{t}: a block produces something");
    for p in d.inputs.iter().chain(d.outputs) {
        assert!(!p.doc.is_empty() && !p.dtypes.is_empty(), "{t}.{}", p.name);
    }
    let names: BTreeSet<&str> = d.attrs.iter().map(|a| a.name).collect();
    assert_eq!(names.len(), d.attrs.len(), "{t}: duplicate attr names");
    let defaults = d.default_attrs();
    for a in d.attrs {
        assert!(!a.doc.is_empty(), "{t}.{}", a.name);
        assert_eq!(
            a.validate(&a.default_value()),
            Ok(()),
            "{t}.{}: default is invalid",
            a.name
        );
        if let Some((other, values)) = a.visible_when {
            let spec = d.attr(other).unwrap_or_else(|| {
                panic!("{t}.{}: visible_when names unknown attr {other}", a.name)
            });
            let AttrKind::Enum(choices) = spec.kind else {
                panic!("{t}.{}: visible_when needs an Enum attr", a.name)
            };
            for v in values {
                assert!(
                    choices.contains(v),
                    "{t}.{}: {v} is not a choice of {other}",
                    a.name
                );
            }
        }
        if let AttrKind::Enum(choices) = a.kind {
            // Every choice is accepted, anything else refused.
            for c in choices {
                assert!(a.validate(&AttrValue::Str((*c).into())).is_ok());
            }
            assert!(
                a.validate(&AttrValue::Str("no such choice".into()))
                    .is_err()
            );
        }
    }
    assert!(d.validate_attrs(&defaults).is_ok(), "{t}");
    // A source block's defaults infer without inputs.
    if d.inputs.is_empty() {
        let metas = (d.infer)(
            &InferCtx {
                base_dir: None,
                limit: Default::default(),
            },
            &defaults,
            &[],
        )
        .unwrap_or_else(|e| panic!("{t}: defaults do not infer: {e}"));
        assert_eq!(metas.len(), d.outputs.len(), "{t}");
    }
}

#[test]
fn every_descriptor_passes_the_sweep() {
    for d in Registry::builtin().iter() {
        sweep(d);
    }
}

#[test]
fn every_block_type_can_be_added_checked_and_saved() {
    let reg = Registry::builtin();
    let mut page = Page::new("all");
    for d in reg.iter() {
        let cmd = page.add_block_command(&reg, d.type_id, [0.0, 0.0]).unwrap();
        page.apply(&reg, cmd).unwrap();
    }
    let check = check_page(&reg, &page);
    assert_eq!(check.blocks.len(), page.len());
    let text = blockspace_graph::page_to_json(&reg, &page);
    assert_eq!(
        blockspace_graph::page_from_json(&reg, &text, "all").unwrap(),
        page
    );
}
