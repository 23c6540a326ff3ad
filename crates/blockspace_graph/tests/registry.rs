//! Conformance sweep over every block type in the registry.

use blockspace_graph::ops::{AttrKind, InferCtx, OpDescriptor};
use blockspace_graph::{AttrValue, Page, Registry, check_page};
use std::collections::BTreeSet;

#[test]
fn type_ids_are_stable() {
    // These ids are stored in page files: never change or reuse one.
    let ids: Vec<&str> = Registry::builtin().iter().map(|d| d.type_id).collect();
    assert_eq!(ids, ["Input", "Conv3DBackpropInputV2"]);
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
    let text = blockspace_graph::page_to_json(&page);
    assert_eq!(
        blockspace_graph::page_from_json(&reg, &text, "all").unwrap(),
        page
    );
}
