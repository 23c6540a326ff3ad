//! Whole numbers in page files stay exact: an int64 Input's `value`, `start` and `step` above
//! 2^53 load, run, save and load again without passing through f64; float attributes still
//! take whole numbers; `1.0` stays `1.0`.

#![expect(clippy::unwrap_used, reason = "test helpers")]

use blockspace_graph::{
    AttrValue, Executor, Page, Registry, Tensor, check_page, load_page, page_from_json,
    page_to_json, save_page,
};
use std::sync::Arc;

const BIG: i64 = 9_007_199_254_740_993; // 2^53 + 1, the first integer a float64 cannot hold

fn page_text(blocks: &str) -> String {
    format!(
        r#"{{"format": "blockspace.page", "version": 1, "name": "exact", "next_block_id": 9, "blocks": [{blocks}], "wires": []}}"#
    )
}

fn input(id: u64, name: &str, attrs: &str) -> String {
    format!(
        r#"{{"id": {id}, "type": "Input", "name": "{name}", "pos": [0.0, 0.0], "attrs": {{{attrs}}}}}"#
    )
}

/// Runs every block of `page` and returns the output of block `name`.
fn run(reg: &Arc<Registry>, page: &Page, name: &str) -> Tensor {
    let mut exec = Executor::new(Arc::clone(reg), Arc::new(|| {}));
    exec.run(page, None);
    exec.wait();
    let id = page.block_by_name(name).unwrap().id;
    let out = exec.result(id).unwrap().outputs.as_ref().unwrap();
    out[0].clone()
}

fn i64s(t: &Tensor) -> Vec<i64> {
    t.to_i64().unwrap().iter().copied().collect()
}

#[test]
fn int64_fill_and_range_above_2_pow_53_load_run_and_save_exactly() {
    let reg = Arc::new(Registry::builtin());
    let text = page_text(&format!(
        "{}, {}, {}",
        input(
            1,
            "fill",
            &format!(r#""dtype": "int64", "mode": "fill", "shape": [3], "value": {BIG}"#)
        ),
        input(
            2,
            "range",
            &format!(
                r#""dtype": "int64", "mode": "range", "shape": [3], "start": {BIG}, "step": 9007199254740991"#
            )
        ),
        input(
            3,
            "max",
            r#""dtype": "int64", "mode": "fill", "shape": [], "value": 9223372036854775807"#
        ),
    ));
    let page = page_from_json(&reg, &text, "exact.bspage.json").unwrap();
    assert_eq!(
        page.block_by_name("fill").unwrap().attrs["value"],
        AttrValue::Int(BIG)
    );
    assert!(check_page(&reg, &page).is_ok());
    assert_eq!(i64s(&run(&reg, &page, "fill")), [BIG; 3]);
    let step = 9_007_199_254_740_991;
    assert_eq!(
        i64s(&run(&reg, &page, "range")),
        [BIG, BIG + step, BIG + 2 * step]
    );
    assert_eq!(i64s(&run(&reg, &page, "max")), [i64::MAX]);

    // Save, load, save: the same bytes, the exact numbers written as written.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("exact.bspage.json");
    save_page(&reg, &page, &path).unwrap();
    let first = std::fs::read_to_string(&path).unwrap();
    assert!(first.contains(&format!("\"value\": {BIG}")), "{first}");
    assert!(first.contains("\"value\": 9223372036854775807"), "{first}");
    let again = load_page(&reg, &path).unwrap();
    assert_eq!(again, page);
    save_page(&reg, &again, &path).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), first);
    assert_eq!(i64s(&run(&reg, &again, "fill")), [BIG; 3]);
}

#[test]
fn out_of_range_whole_numbers_are_refused_not_rounded() {
    let reg = Arc::new(Registry::builtin());
    // 2^63 does not fit int64: refused with the number, not saturated.
    let text = page_text(&input(
        1,
        "a",
        r#""dtype": "int64", "mode": "fill", "value": 9223372036854775808"#,
    ));
    let page = page_from_json(&reg, &text, "x.bspage.json").unwrap();
    let check = check_page(&reg, &page);
    let msg = format!("{:?}", check);
    assert!(
        !check.is_ok() && msg.contains("does not fit in int64"),
        "{msg}"
    );
    // 2^31 does not fit int32.
    let text = page_text(&input(
        1,
        "a",
        r#""dtype": "int32", "mode": "fill", "value": 2147483648"#,
    ));
    let page = page_from_json(&reg, &text, "x.bspage.json").unwrap();
    let msg = format!("{:?}", check_page(&reg, &page));
    assert!(msg.contains("2147483648 does not fit in int32"), "{msg}");
}

#[test]
fn float_attributes_take_whole_numbers_and_keep_their_spelling() {
    let reg = Arc::new(Registry::builtin());
    let text = page_text(&format!(
        "{}, {}, {}",
        input(
            1,
            "whole",
            r#""dtype": "float32", "mode": "fill", "shape": [2], "value": 3"#
        ),
        input(
            2,
            "point",
            r#""dtype": "float64", "mode": "fill", "shape": [2], "value": 3.0"#
        ),
        input(
            3,
            "i32",
            r#""dtype": "int32", "mode": "range", "shape": [3], "start": -2, "step": 2"#
        ),
    ));
    let page = page_from_json(&reg, &text, "f.bspage.json").unwrap();
    assert_eq!(
        run(&reg, &page, "whole"),
        Tensor::F32(ndarray::ArrayD::from_elem(ndarray::IxDyn(&[2]), 3.0))
    );
    assert_eq!(
        run(&reg, &page, "point"),
        Tensor::F64(ndarray::ArrayD::from_elem(ndarray::IxDyn(&[2]), 3.0))
    );
    assert_eq!(
        run(&reg, &page, "i32")
            .to_i64()
            .unwrap()
            .iter()
            .copied()
            .collect::<Vec<_>>(),
        [-2, 0, 2]
    );
    let saved = page_to_json(&reg, &page);
    assert!(saved.contains("\"value\": 3\n"), "{saved}");
    assert!(saved.contains("\"value\": 3.0\n"), "{saved}");
    assert_eq!(page_from_json(&reg, &saved, "f.bspage.json").unwrap(), page);
}

#[test]
fn int64_literals_stay_exact_through_a_file() {
    let reg = Arc::new(Registry::builtin());
    let text = page_text(&input(
        1,
        "lit",
        &format!(
            r#""dtype": "int64", "mode": "literal", "values": "[{BIG}, -{BIG}, 9223372036854775807]""#
        ),
    ));
    let page = page_from_json(&reg, &text, "l.bspage.json").unwrap();
    assert_eq!(i64s(&run(&reg, &page, "lit")), [BIG, -BIG, i64::MAX]);
    let saved = page_to_json(&reg, &page);
    assert_eq!(page_from_json(&reg, &saved, "l.bspage.json").unwrap(), page);
}
