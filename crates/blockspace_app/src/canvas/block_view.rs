//! What the canvas shows for each block, prepared from the page, its check and its results.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use blockspace_graph::{
    AttrKind, AttrValue, BlockId, Executor, Page, PageCheck, Registry, TensorMeta,
};
use egui::Color32;

/// How many attributes a block shows on the canvas (the inspector shows all): enough for an
/// Input's mode, dtype, shape and both parameters of its mode (`low`/`high`, `mean`/`std`).
const KEY_ATTRS: usize = 5;

/// What the canvas shows for one block; rebuilt when the page, the check or a result changes.
#[derive(Clone, Debug, Default)]
pub struct BlockView {
    /// Scope name (unique in the page).
    pub name: String,
    /// The block type's display name.
    pub type_name: String,
    /// Header colour (by category).
    pub color: Color32,
    /// Input port names.
    pub inputs: Vec<String>,
    /// Output port names.
    pub outputs: Vec<String>,
    /// Text on each output pin: inferred `dtype [shape]`.
    pub output_meta: Vec<String>,
    /// Key attrs as `name = value` lines.
    pub key_attrs: Vec<String>,
    /// What is wrong (check or run), if anything.
    pub error: Option<String>,
    /// Whether the block is being computed now.
    pub running: bool,
    /// Last run time, as text.
    pub run_time: Option<String>,
    /// The result is from an older revision of the page.
    pub stale: bool,
}

/// Header colour for a block category (stable hash → hue).
#[must_use]
pub fn category_color(category: &str, dark: bool) -> Color32 {
    let mut h: u32 = 2_166_136_261;
    for b in category.bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(16_777_619);
    }
    let hue = (h % 360) as f32 / 360.0;
    let (s, v) = if dark { (0.45, 0.42) } else { (0.35, 0.85) };
    egui::ecolor::Hsva::new(hue, s, v, 1.0).into()
}

/// What the views are built from, borrowed from the tab
/// ([`PageTab::views`](crate::app::PageTab::views)).
pub(crate) struct ViewSources<'a> {
    /// The page.
    pub page: &'a Page,
    /// Its check (of the current model revision).
    pub check: &'a PageCheck,
    /// Its executor (the results).
    pub executor: &'a Executor,
    /// Blocks being computed now.
    pub running: &'a BTreeSet<BlockId>,
    /// Whether a run is in flight.
    pub active: bool,
    /// The model revision of the last finished run.
    pub last_model: Option<u64>,
}

/// The view of every block of a tab (called by
/// [`PageTab::views`](crate::app::PageTab::views) when something changed).
pub(crate) fn build_views(
    tab: &ViewSources<'_>,
    registry: &Registry,
    dark: bool,
) -> HashMap<BlockId, BlockView> {
    let rev = tab.page.model_revision();
    let last_rev = tab.last_model;
    let ids: Vec<BlockId> = tab.page.blocks().map(|b| b.id).collect();
    let mut out = HashMap::with_capacity(ids.len());
    for id in ids {
        let check = crate::adapter::block_check(tab.check, id);
        let Some(b) = tab.page.block(id) else {
            continue;
        };
        let desc = registry.get(&b.type_id);
        let mut v = BlockView {
            name: b.name.clone(),
            type_name: desc.map_or_else(|| b.type_id.clone(), |d| d.display_name.to_owned()),
            color: category_color(desc.map_or("", |d| d.category), dark),
            inputs: desc
                .map(|d| d.inputs.iter().map(|p| p.name.to_owned()).collect())
                .unwrap_or_default(),
            outputs: desc
                .map(|d| d.outputs.iter().map(|p| p.name.to_owned()).collect())
                .unwrap_or_default(),
            ..BlockView::default()
        };
        if let Err(e) = registry.lookup(&b.type_id) {
            v.error = Some(e.to_string());
        }
        if let Some(d) = desc {
            for spec in d
                .attrs
                .iter()
                .filter(|s| s.visible(&b.attrs))
                .take(KEY_ATTRS)
            {
                let value = b
                    .attrs
                    .get(spec.name)
                    .cloned()
                    .unwrap_or_else(|| spec.default_value());
                v.key_attrs.push(format!(
                    "{} = {}",
                    spec.name,
                    short_value(&value, &spec.kind)
                ));
            }
        }
        match &check {
            Some(Ok(metas)) => v.output_meta = metas.iter().map(meta_text).collect(),
            Some(Err(e)) => v.error = Some(e.to_string()),
            None => {}
        }
        v.running = tab.running.contains(&id);
        if let Some(res) = tab.executor.result(id) {
            v.run_time = Some(fmt_duration(res.elapsed));
            if let (Err(e), None) = (&res.outputs, &v.error) {
                v.error = Some(e.to_string());
            }
            v.stale = last_rev != Some(rev) && tab.active;
        }
        out.insert(id, v);
    }
    out
}

/// `float32[1, 4, 4, 4, 2]` → compact text for a pin.
#[must_use]
pub fn meta_text(m: &TensorMeta) -> String {
    let dims: Vec<String> = m.shape.iter().map(ToString::to_string).collect();
    format!("{}[{}]", m.dtype, dims.join("×"))
}

/// A short form of an attribute value for the block body.
#[must_use]
pub fn short_value(v: &AttrValue, kind: &AttrKind) -> String {
    match v {
        AttrValue::Int(i) => i.to_string(),
        AttrValue::Float(f) => format!("{f}"),
        AttrValue::Bool(b) => b.to_string(),
        AttrValue::IntList(l) => {
            let parts: Vec<String> = l.iter().map(ToString::to_string).collect();
            format!("[{}]", parts.join(","))
        }
        AttrValue::Str(s) => {
            let one_line: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
            let limit = if matches!(kind, AttrKind::Text) {
                22
            } else {
                28
            };
            if one_line.chars().count() > limit {
                let cut: String = one_line.chars().take(limit).collect();
                format!("{cut}…")
            } else {
                one_line
            }
        }
    }
}

/// `1.234 ms` / `12 µs` / `3.2 s`.
#[must_use]
pub fn fmt_duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 1.0 {
        format!("{s:.2} s")
    } else if s >= 1e-3 {
        format!("{:.1} ms", s * 1e3)
    } else {
        format!("{:.0} µs", s * 1e6)
    }
}
