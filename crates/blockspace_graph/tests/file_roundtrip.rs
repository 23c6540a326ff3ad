//! load(save(p)) == p, stable sorted output, atomic saves.

#![expect(clippy::unwrap_used, reason = "test helpers")]

use blockspace_graph::{
    AttrValue, Command, Page, Registry, load_page, page_from_json, page_to_json, save_page,
};
use proptest::prelude::*;

fn sample(reg: &Registry) -> Page {
    let mut p = Page::new("round trip");
    let s = p
        .add(
            reg,
            "Input",
            "sizes",
            &[
                ("dtype", AttrValue::Str("int64".into())),
                ("values", AttrValue::Str("[1, 4, 4, 4, 3]".into())),
            ],
        )
        .unwrap();
    let f = p
        .add(
            reg,
            "Input",
            "f/weights",
            &[
                ("mode", AttrValue::Str("normal".into())),
                ("std", AttrValue::Float(0.123_456_789_012_345_6)),
                ("seed", AttrValue::Int(i64::MAX)),
                ("shape", AttrValue::IntList(vec![2, 2, 2, 3, 4])),
            ],
        )
        .unwrap();
    let d = p
        .add(
            reg,
            "Input",
            "dy",
            &[
                ("mode", AttrValue::Str("range".into())),
                ("start", AttrValue::Float(-1e-300)),
                ("shape", AttrValue::IntList(vec![1, 4, 4, 4, 4])),
            ],
        )
        .unwrap();
    let c = p
        .add(
            reg,
            "Conv3DBackpropInputV2",
            "Conv3DBackpropInputV2",
            &[("padding", AttrValue::Str("VALID".into()))],
        )
        .unwrap();
    p.connect(reg, s, "output", c, "input_sizes").unwrap();
    p.connect(reg, f, "output", c, "filter").unwrap();
    p.connect(reg, d, "output", c, "out_backprop").unwrap();
    p.apply(
        reg,
        Command::MoveBlocks {
            moves: vec![(c, [123.456, -0.1])],
        },
    )
    .unwrap();
    // A removed block leaves a gap in the ids; the counter must survive the round trip.
    let gone = p.add(reg, "Input", "gone", &[]).unwrap();
    p.apply(reg, Command::RemoveBlock { id: gone }).unwrap();
    p
}

#[test]
fn load_of_save_is_the_same_page() {
    let reg = Registry::builtin();
    let p = sample(&reg);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.bspage.json");
    save_page(&reg, &p, &path).unwrap();
    let q = load_page(&reg, &path).unwrap();
    assert_eq!(q, p);
    assert_eq!(q.next_block_id(), p.next_block_id());
    assert_eq!(
        page_to_json(&reg, &q),
        page_to_json(&reg, &p),
        "output is stable"
    );
    // Only the temp file's rename remains: no stray temporary files.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
}

#[test]
fn output_is_sorted_and_versioned() {
    let reg = Registry::builtin();
    let text = page_to_json(&reg, &sample(&reg));
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["format"], "blockspace.page");
    assert_eq!(v["version"], 1);
    let ids: Vec<u64> = v["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_u64().unwrap())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(ids, sorted);
    for b in v["blocks"].as_array().unwrap() {
        let keys: Vec<&String> = b["attrs"].as_object().unwrap().keys().collect();
        let mut s = keys.clone();
        s.sort();
        assert_eq!(keys, s, "attrs are sorted");
    }
    assert!(
        text.contains("\"shape\": [2, 2, 2, 3, 4]"),
        "short arrays stay on one line"
    );
}

#[test]
fn saving_over_a_directory_fails_and_keeps_the_old_file() {
    let reg = Registry::builtin();
    let p = sample(&reg);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.bspage.json");
    save_page(&reg, &p, &path).unwrap();
    let before = std::fs::read(&path).unwrap();
    // A target that cannot be replaced (a non-empty directory) makes the rename fail.
    let blocked = dir.path().join("blocked.bspage.json");
    std::fs::create_dir(&blocked).unwrap();
    std::fs::write(blocked.join("x"), b"x").unwrap();
    let e = save_page(&reg, &p, &blocked).unwrap_err();
    assert!(e.to_string().contains("previous file is unchanged"), "{e}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        names.len(),
        2,
        "the temporary file was cleaned up: {names:?}"
    );
    // A missing directory is an error too, never a panic.
    assert!(save_page(&reg, &p, &dir.path().join("missing/p.bspage.json")).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn any_positions_names_and_floats_round_trip(
        x in -1e6f32..1e6, y in -1e6f32..1e6,
        v in -1e300f64..1e300, seed in 0i64..i64::MAX,
        name in "[A-Za-z][A-Za-z0-9_./-]{0,12}",
        text in "[ -~]{0,20}",
    ) {
        let reg = Registry::builtin();
        let mut p = Page::new("p");
        let a = p.add(&reg, "Input", &name, &[("value", AttrValue::Float(v)), ("seed", AttrValue::Int(seed)), ("values", AttrValue::Str(text))]).unwrap();
        p.apply(&reg, Command::MoveBlocks { moves: vec![(a, [x, y])] }).unwrap();
        let q = page_from_json(&reg, &page_to_json(&reg, &p), "t").unwrap();
        prop_assert_eq!(q, p);
    }
}

#[test]
fn whole_numbers_for_float_attrs_round_trip() {
    let reg = Registry::builtin();
    let mut p = Page::new("p");
    p.add(
        &reg,
        "Input",
        "a",
        &[
            ("mode", AttrValue::Str("fill".into())),
            ("value", AttrValue::Int(3)),
        ],
    )
    .unwrap();
    let q = page_from_json(&reg, &page_to_json(&reg, &p), "t").unwrap();
    assert_eq!(q, p);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    /// Truncated or corrupted files give errors, never panics.
    #[test]
    fn damaged_files_never_panic(cut in 0usize..4000, flips in prop::collection::vec((0usize..4000, any::<u8>()), 0..4)) {
        let reg = Registry::builtin();
        let text = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/chain.bspage.json")).unwrap();
        let mut bytes = text.into_bytes();
        for (i, b) in flips {
            let n = bytes.len();
            bytes[i % n] = b;
        }
        bytes.truncate(cut.min(bytes.len()));
        let damaged = String::from_utf8_lossy(&bytes);
        let _ = page_from_json(&reg, &damaged, "damaged");
    }

    /// Literal text of any shape gives values or an error, never a panic.
    #[test]
    fn literal_text_never_panics(text in "[\\[\\], 0-9.eE+-naif]{0,40}") {
        let reg = Registry::builtin();
        let mut p = Page::new("p");
        let a = p.add(&reg, "Input", "a", &[("values", AttrValue::Str(text))]).unwrap();
        let check = blockspace_graph::check_page(&reg, &p);
        prop_assert!(check.block(a).is_some());
    }
}
