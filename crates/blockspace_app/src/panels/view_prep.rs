//! Preparing a result for the viewer: its key, and the names of its axes from the layout its
//! ports declare. (The values are read in their own dtype by `viewer::data`; everything heavy
//! runs in `viewer::jobs`.)

use blockspace_graph::{BlockId, PortLayout, Registry};

use crate::app::page_tab::PageTab;

/// Default axis names for a rank and a data format (`"NDHWC"`, `"NCDHW"`, or a filter layout).
#[must_use]
pub fn axis_names(rank: usize, layout: Option<&str>) -> Vec<String> {
    match layout {
        Some(l) if l.chars().count() == rank => l.chars().map(|c| c.to_string()).collect(),
        _ => (0..rank).map(|i| format!("dim{i}")).collect(),
    }
}

/// A key for one shown result (tab, block, output, revision and the result's allocation).
pub fn hash_key<T: std::hash::Hash>(v: &T) -> u64 {
    use std::hash::Hasher as _;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    v.hash(&mut h);
    h.finish()
}

/// The axis names of a rank-`rank` output of block `id`, from the layout its port declares (or
/// the layout of the input it feeds).
pub fn axes_of(tab: &PageTab, reg: &Registry, id: BlockId, rank: usize) -> Vec<String> {
    axes_of_output(tab, reg, id, tab.viewer_output, rank)
}

/// The axis names of output `out` (rank `rank`) of block `id`.
pub fn axes_of_output(
    tab: &PageTab,
    reg: &Registry,
    id: BlockId,
    out: usize,
    rank: usize,
) -> Vec<String> {
    let layout = layout_hint(tab, reg, id, out, rank);
    axis_names(rank, layout.as_deref())
}

/// The axis layout of a block's output: its own `data_format` attribute, or that of the block it
/// feeds (a `filter` input is laid out `DHWIO`).
fn layout_hint(
    tab: &PageTab,
    reg: &Registry,
    id: BlockId,
    out: usize,
    rank: usize,
) -> Option<String> {
    if rank != 5 {
        return None;
    }
    let block = tab.page.block(id)?;
    // The layout a port declares, for a block with these attributes.
    let declared = |layout: PortLayout, attrs: &blockspace_graph::Attrs| match layout {
        PortLayout::Filter => Some("DHWIO".to_owned()),
        PortLayout::DataFormat => attrs
            .get("data_format")
            .and_then(|v| v.as_str().map(str::to_owned)),
        PortLayout::Plain => None,
    };
    let own = reg.get(&block.type_id)?.outputs.get(out)?.layout;
    if let Some(l) = declared(own, &block.attrs) {
        return Some(l);
    }
    // A plain output (an Input, arithmetic) is named by what it feeds.
    tab.page
        .wires()
        .filter(|w| w.from.block == id)
        .find_map(|w| {
            let consumer = tab.page.block(w.to.block)?;
            let port = reg.get(&consumer.type_id)?.inputs.get(w.to.port)?;
            declared(port.layout, &consumer.attrs)
        })
}
