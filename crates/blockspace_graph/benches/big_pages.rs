//! Issue 10's linear graph algorithms, measured: loading, ordering, checking and planning the
//! memory of pages of 24,000 and 100,000 blocks (a fill feeding a chain of `Abs` blocks), and
//! finding the cycle in a ring of 100,000 blocks (refused at load).
//!
//! ```sh
//! cargo bench -p blockspace_graph --bench big_pages
//! ```

use std::fmt::Write as _;

use blockspace_graph::{
    CheckOptions, Registry, check_page_with, page_from_json, plan_memory, topo_order,
};
use criterion::{Criterion, criterion_group, criterion_main};

/// A page of `n` blocks as JSON: an Input fill, then `Abs` blocks each fed by the one before;
/// with `ring`, only `Abs` blocks, the last feeding the first.
fn page_json(n: usize, ring: bool) -> String {
    let mut blocks = String::new();
    let mut wires = String::new();
    for i in 1..=n {
        let sep = if i > 1 { "," } else { "" };
        if i == 1 && !ring {
            let _ = write!(
                blocks,
                r#"{{"id": 1, "type": "Input", "name": "x", "attrs": {{"mode": "fill", "shape": [2]}}}}"#
            );
        } else {
            let _ = write!(
                blocks,
                r#"{sep}{{"id": {i}, "type": "Abs", "name": "a{i}"}}"#
            );
        }
        let from = if i == 1 { n } else { i - 1 };
        if i > 1 || ring {
            let out = if from == 1 && !ring { "output" } else { "y" };
            let wsep = if wires.is_empty() { "" } else { "," };
            let _ = write!(
                wires,
                r#"{wsep}{{"from": {{"block": {from}, "port": "{out}"}}, "to": {{"block": {i}, "port": "x"}}}}"#
            );
        }
    }
    format!(
        r#"{{"format": "blockspace.page", "version": 1, "name": "big", "next_block_id": {}, "blocks": [{blocks}], "wires": [{wires}]}}"#,
        n + 1
    )
}

fn big_pages(c: &mut Criterion) {
    let reg = Registry::builtin();
    let mut g = c.benchmark_group("big_pages");
    g.sample_size(10);
    for n in [24_000, 100_000] {
        let text = page_json(n, false);
        let page = page_from_json(&reg, &text, "big.bspage.json").expect("a valid page");
        g.bench_function(format!("load {n} blocks"), |b| {
            b.iter(|| page_from_json(&reg, &text, "big.bspage.json").expect("loads"));
        });
        g.bench_function(format!("topological order {n} blocks"), |b| {
            b.iter(|| topo_order(&page).expect("acyclic"));
        });
        g.bench_function(format!("check and plan memory {n} blocks"), |b| {
            b.iter(|| {
                let check = check_page_with(&reg, &page, &CheckOptions::default());
                plan_memory(&reg, &page, &check, u64::MAX)
            });
        });
    }
    let ring = page_json(100_000, true);
    g.bench_function("refuse a 100000-block cycle at load", |b| {
        b.iter(|| page_from_json(&reg, &ring, "ring.bspage.json").expect_err("a cycle"));
    });
    g.finish();
}

criterion_group!(benches, big_pages);
criterion_main!(benches);
