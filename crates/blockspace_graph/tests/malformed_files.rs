//! Every loader error: each problem is reported with its JSON path, the file name comes last,
//! and nothing is half-loaded.

use blockspace_graph::{FileError, Registry, load_page, page_from_json};

fn load(text: &str) -> Result<blockspace_graph::Page, FileError> {
    page_from_json(&Registry::builtin(), text, "dir/bad.bspage.json")
}

/// The (json_path, message) pairs of an Invalid error.
fn problems(text: &str) -> Vec<(String, String)> {
    match load(text) {
        Err(FileError::Invalid { problems, origin }) => {
            assert_eq!(origin, "dir/bad.bspage.json");
            problems
                .into_iter()
                .map(|p| (p.json_path, p.message))
                .collect()
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
}

fn has(problems: &[(String, String)], path: &str, needle: &str) {
    assert!(
        problems
            .iter()
            .any(|(p, m)| p == path && m.contains(needle)),
        "no problem at {path} containing {needle:?} in {problems:#?}"
    );
}

const INPUT: &str = r#"{"id": 1, "type": "Input", "name": "a"}"#;
const CONV: &str = r#"{"id": 2, "type": "Conv3DBackpropInputV2", "name": "c"}"#;

fn page(blocks: &str, wires: &str, next: u64) -> String {
    format!(
        r#"{{"format": "blockspace.page", "version": 1, "name": "t", "next_block_id": {next}, "blocks": [{blocks}], "wires": [{wires}]}}"#
    )
}

#[test]
fn a_valid_minimal_page_loads() {
    let p = load(&page(
        &format!("{INPUT}, {CONV}"),
        r#"{"from": {"block": 1, "port": "output"}, "to": {"block": 2, "port": "filter"}}"#,
        3,
    ))
    .unwrap();
    assert_eq!(p.len(), 2);
    assert_eq!(p.wires().count(), 1);
    assert_eq!(p.next_block_id().0, 3);
}

#[test]
fn malformed_json_names_line_and_column_and_file_last() {
    let e = load("{\n  \"format\": \"blockspace.page\",\n  \"version\": 1,,\n}").unwrap_err();
    let FileError::Syntax {
        line,
        column,
        truncated,
        ..
    } = &e
    else {
        panic!("{e:?}")
    };
    assert_eq!((*line, *truncated), (3, false));
    assert!(*column > 0);
    let msg = e.to_string();
    assert!(
        msg.contains("line 3") && msg.ends_with("(dir/bad.bspage.json)"),
        "{msg}"
    );
}

#[test]
fn truncated_json_is_called_truncated() {
    let full = page(INPUT, "", 2);
    let e = load(&full[..full.len() / 2]).unwrap_err();
    assert!(
        matches!(
            e,
            FileError::Syntax {
                truncated: true,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("truncated"), "{e}");
    assert!(matches!(
        load(""),
        Err(FileError::Syntax {
            truncated: true,
            ..
        })
    ));
}

#[test]
fn not_a_page() {
    assert!(matches!(load("[1, 2]"), Err(FileError::NotAPage { .. })));
    assert!(matches!(
        load(r#"{"version": 1}"#),
        Err(FileError::NotAPage { .. })
    ));
    let e = load(r#"{"format": "something.else", "version": 1}"#).unwrap_err();
    assert!(e.to_string().contains("\"something.else\""), "{e}");
}

#[test]
fn newer_version_is_refused_with_both_numbers() {
    let text = page(INPUT, "", 2).replace("\"version\": 1", "\"version\": 7");
    let e = load(&text).unwrap_err();
    let FileError::UnsupportedVersion {
        found,
        max_supported,
        ..
    } = &e
    else {
        panic!("{e:?}")
    };
    assert_eq!((*found, *max_supported), (7, 1));
    let msg = e.to_string();
    assert!(
        msg.contains('7') && msg.contains("version 1") && msg.ends_with("(dir/bad.bspage.json)"),
        "{msg}"
    );
}

#[test]
fn missing_or_bad_version() {
    has(
        &problems(r#"{"format": "blockspace.page"}"#),
        "version",
        "missing",
    );
    has(
        &problems(r#"{"format": "blockspace.page", "version": "one"}"#),
        "version",
        "not a version",
    );
    has(
        &problems(
            r#"{"format": "blockspace.page", "version": 0, "next_block_id": 1, "blocks": []}"#,
        ),
        "version",
        "version 0",
    );
}

#[test]
fn unknown_type_attr_and_field() {
    let p = problems(&page(
        r#"{"id": 1, "type": "Conv2D", "name": "a"}, {"id": 2, "type": "Input", "name": "b", "attrs": {"colour": 1}, "extra": true}"#,
        "",
        3,
    ));
    has(&p, "blocks[0].type", "unknown block type \"Conv2D\"");
    has(&p, "blocks[0].type", "Conv3DBackpropInputV2");
    has(&p, "blocks[1].attrs.colour", "unknown attribute");
    has(&p, "blocks[1].extra", "unknown field");
    let p =
        problems(&page(INPUT, "", 2).replace("\"name\": \"t\"", "\"name\": \"t\", \"zoom\": 2"));
    has(&p, "zoom", "unknown field");
}

#[test]
fn bad_attr_values() {
    let p = problems(&page(
        r#"{"id": 1, "type": "Input", "name": "a", "attrs": {"dtype": "float16", "shape": [2, -1], "seed": "x", "value": "big"}},
           {"id": 2, "type": "Conv3DBackpropInputV2", "name": "c", "attrs": {"strides": [1, 2, 1], "padding": "EXPLICIT", "dilations": [1, 1.5, 1, 1, 1]}}"#,
        "",
        3,
    ));
    has(&p, "blocks[0].attrs.dtype", "\"float16\" is not allowed");
    has(&p, "blocks[0].attrs.shape", "negative dimension -1");
    has(&p, "blocks[0].attrs.seed", "expected a whole number");
    has(&p, "blocks[0].attrs.value", "expected a number");
    has(&p, "blocks[1].attrs.strides", "give exactly 5");
    has(&p, "blocks[1].attrs.padding", "\"VALID\"");
    has(&p, "blocks[1].attrs.dilations", "element 1");
    has(
        &problems(&page(
            r#"{"id": 1, "type": "Input", "name": "a", "pos": [1]}"#,
            "",
            2,
        )),
        "blocks[0].pos",
        "[x, y]",
    );
}

#[test]
fn duplicate_ids_and_names_and_bad_names() {
    let p = problems(&page(
        r#"{"id": 1, "type": "Input", "name": "a"}, {"id": 1, "type": "Input", "name": "b"}, {"id": 2, "type": "Input", "name": "a"}, {"id": 3, "type": "Input", "name": "no spaces"}, {"id": 0, "type": "Input", "name": "z"}"#,
        "",
        4,
    ));
    has(&p, "blocks[1].id", "duplicate block id 1 (also blocks[0])");
    has(
        &p,
        "blocks[2].name",
        "duplicate block name \"a\" (also blocks[0])",
    );
    has(&p, "blocks[3].name", "contains ' '");
    has(&p, "blocks[4].id", "not a block id");
}

#[test]
fn next_block_id_must_be_above_every_id() {
    let p = problems(&page(&format!("{INPUT}, {CONV}"), "", 2));
    has(&p, "next_block_id", "set it to 3");
    has(
        &problems(&page(INPUT, "", 2).replace("\"next_block_id\": 2,", "")),
        "next_block_id",
        "missing",
    );
}

#[test]
fn dangling_duplicate_and_doubly_fed_wires() {
    let w = |fb: u64, fp: &str, tb: u64, tp: &str| {
        format!(
            r#"{{"from": {{"block": {fb}, "port": "{fp}"}}, "to": {{"block": {tb}, "port": "{tp}"}}}}"#
        )
    };
    let blocks = format!(r#"{INPUT}, {CONV}, {{"id": 3, "type": "Input", "name": "b"}}"#);
    let wires = [
        w(1, "output", 2, "filter"),
        w(1, "output", 2, "filter"),
        w(3, "output", 2, "filter"),
        w(9, "output", 2, "input_sizes"),
        w(1, "out", 2, "out_backprop"),
        w(1, "output", 2, "bias"),
        w(2, "output", 8, "filter"),
    ]
    .join(", ");
    let p = problems(&page(&blocks, &wires, 4));
    has(&p, "wires[1]", "duplicate wire (same as wires[0])");
    has(&p, "wires[2].to", "already has a wire (wires[0])");
    has(
        &p,
        "wires[3].from.block",
        "dangling wire: there is no block with id 9",
    );
    has(&p, "wires[4].from.port", "no output port \"out\"");
    has(
        &p,
        "wires[5].to.port",
        "its inputs: input_sizes, filter, out_backprop",
    );
    has(&p, "wires[6].to.block", "no block with id 8");
    let p = problems(&page(INPUT, r#"{"from": {"block": 1}}"#, 2));
    has(&p, "wires[0].to", "missing");
}

#[test]
fn cycles_are_refused_at_a_wire_in_the_cycle() {
    let blocks = r#"{"id": 1, "type": "Conv3DBackpropInputV2", "name": "a"}, {"id": 2, "type": "Conv3DBackpropInputV2", "name": "b"}"#;
    let wires = r#"{"from": {"block": 1, "port": "output"}, "to": {"block": 2, "port": "out_backprop"}},
                   {"from": {"block": 2, "port": "output"}, "to": {"block": 1, "port": "out_backprop"}}"#;
    let p = problems(&page(blocks, wires, 3));
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].0.starts_with("wires["), "{p:?}");
    assert!(
        p[0].1.contains("cycle") && p[0].1.contains("\"a\"") && p[0].1.contains("\"b\""),
        "{p:?}"
    );
}

#[test]
fn a_long_cycle_is_found_in_linear_time_and_named_briefly() {
    // `start` → `join` (AddV2) → a chain of `n` Abs blocks → back into `join`, and on into
    // `after`. The cycle is join and the chain; `start` (ordered) and `after` (unordered,
    // fed by the cycle, and the first unordered block by id, so the search starts off the
    // cycle) are not on it. Finding the cycle used to take cubic time: 2,000 blocks did not
    // answer within 5 s; 20,000 now answer at once.
    let n = 20_000;
    let last = n + 3;
    let mut blocks = vec![
        r#"{"id": 1, "type": "Input", "name": "start", "attrs": {"mode": "fill", "shape": [2]}}"#
            .to_owned(),
        r#"{"id": 2, "type": "Abs", "name": "after"}"#.to_owned(),
        r#"{"id": 3, "type": "AddV2", "name": "join"}"#.to_owned(),
    ];
    blocks.extend((4..=last).map(|i| format!(r#"{{"id": {i}, "type": "Abs", "name": "r{i}"}}"#)));
    let wire = |a: usize, out: &str, b: usize, port: &str| {
        format!(
            r#"{{"from": {{"block": {a}, "port": "{out}"}}, "to": {{"block": {b}, "port": "{port}"}}}}"#
        )
    };
    let mut wires = vec![
        wire(1, "output", 3, "x"),
        wire(last, "y", 3, "y"),
        wire(3, "z", 4, "x"),
    ];
    wires.extend((5..=last).map(|i| wire(i - 1, "y", i, "x")));
    wires.push(wire(last, "y", 2, "x"));
    let p = problems(&page(&blocks.join(","), &wires.join(","), last as u64 + 1));
    assert_eq!(p.len(), 1, "{p:?}");
    let (path, message) = &p[0];
    assert_eq!(path, "wires[1]", "the lowest-numbered wire on the cycle");
    assert!(
        message.starts_with(&format!(
            "the wires form a cycle through \"r{last}\" → \"join\" → \"r4\" → "
        )) && message.contains(&format!("({} more blocks)", n + 1 - 8))
            && !message.contains("start")
            && !message.contains("after"),
        "{message}"
    );
    assert!(message.len() < 300, "bounded: {} bytes", message.len());
}

#[test]
fn every_problem_is_reported_at_once_and_the_file_comes_last() {
    let e = load(&page(
        r#"{"id": 1, "type": "Nope", "name": "a"}, {"id": 1, "type": "Input", "name": "a"}"#,
        "",
        1,
    ))
    .unwrap_err();
    let FileError::Invalid { problems, .. } = &e else {
        panic!("{e:?}")
    };
    assert!(problems.len() >= 3, "{problems:?}");
    let msg = e.to_string();
    assert!(
        msg.lines().last().unwrap().contains("dir/bad.bspage.json"),
        "{msg}"
    );
}

#[test]
fn missing_file_is_an_io_error_naming_the_file() {
    let e = load_page(
        &Registry::builtin(),
        std::path::Path::new("/nonexistent/x.bspage.json"),
    )
    .unwrap_err();
    assert!(matches!(e, FileError::Io { .. }));
    assert!(
        e.to_string().ends_with("(/nonexistent/x.bspage.json)"),
        "{e}"
    );
}

#[test]
fn broken_fixture_reports_each_problem() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/broken_file.bspage.json");
    let e = load_page(&Registry::builtin(), &path).unwrap_err();
    let paths: Vec<String> = e.problems().into_iter().map(|p| p.json_path).collect();
    for want in [
        "colour",
        "blocks[0].attrs.dtype",
        "blocks[0].attrs.sides",
        "blocks[1].id",
        "blocks[1].type",
        "blocks[1].name",
        "blocks[2].name",
        "blocks[2].attrs.strides",
        "next_block_id",
        "wires[0].from.block",
    ] {
        assert!(
            paths.iter().any(|p| p == want),
            "missing {want} in {paths:?}"
        );
    }
}

#[test]
fn duplicate_keys_are_refused_and_a_byte_order_mark_is_accepted() {
    let reg = Registry::builtin();
    let text = r#"{"format": "blockspace.page", "version": 1, "next_block_id": 1, "blocks": [], "blocks": []}"#;
    let e = page_from_json(&reg, text, "dup.bspage.json")
        .unwrap_err()
        .to_string();
    assert!(e.contains("$.blocks") && e.contains("twice"), "{e}");
    let ok = format!(
        "\u{feff}{}",
        r#"{"format": "blockspace.page", "version": 1, "next_block_id": 1, "blocks": []}"#
    );
    assert!(page_from_json(&reg, &ok, "bom.bspage.json").is_ok());
}

#[test]
fn folders_and_devices_are_not_read_as_pages() {
    let reg = Registry::builtin();
    let dir = tempfile::tempdir().unwrap();
    let e = load_page(&reg, dir.path()).unwrap_err().to_string();
    assert!(e.contains("not a regular file"), "{e}");
}

#[test]
fn problems_are_capped_and_long_lists_are_named_not_echoed() {
    // A million bad blocks: the first hundred problems and a count, not a million messages.
    let blocks = vec!["0"; 1_000_000].join(",");
    let p = problems(&page(&blocks, "", 1));
    assert_eq!(p.len(), blockspace_graph::file::error::MAX_PROBLEMS + 1);
    has(&p, "blocks[0]", "expected a block object");
    has(&p, "$", "999900 more blocks not checked");
    // A list far longer than any attribute takes: named with its length, not quoted whole.
    let long = vec!["1"; 100_000].join(", ");
    let p = problems(&page(
        &format!(
            r#"{{"id": 1, "type": "Input", "name": "a", "attrs": {{"shape": [{long}]}}, "pos": [{long}]}}"#
        ),
        "",
        2,
    ));
    has(
        &p,
        "blocks[0].attrs.shape",
        "an array of 100000 items, too long",
    );
    has(&p, "blocks[0].pos", "is not a position");
    assert!(p.iter().all(|(_, m)| m.len() < 400), "{p:?}");
}
