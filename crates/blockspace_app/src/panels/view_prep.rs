//! Preparing a result for the viewer: converted to `f64` once per result, on the UI thread when
//! small, on a named worker thread when big (the viewer shows a spinner meanwhile); and the
//! names of its axes from the layout its ports declare.

use std::sync::Arc;
use std::sync::mpsc::Receiver;

use blockspace_graph::{BlockId, PortLayout, Registry, Tensor};

use crate::app::page_tab::PageTab;
use crate::panels::tensor_viewer::{Stats, ViewTensor, axis_names};

/// Tensors up to this many elements are prepared for the viewer on the UI thread (a few ms).
const VIEW_INLINE_MAX: usize = 1 << 21;

/// The prepared view and the one being prepared, by key.
#[derive(Default)]
pub struct ViewPrep {
    cache: Option<(u64, ViewTensor)>,
    job: Option<(u64, Receiver<ViewTensor>)>,
}

/// Where the preparation of a view stands.
pub enum Prepared {
    /// Ready.
    Ready(ViewTensor),
    /// Being prepared off the UI thread.
    Pending,
    /// The worker thread could not start.
    Failed(String),
}

impl ViewPrep {
    /// The view of `outputs[out_idx]` under `key` (with the axis names `axis` gives); starts
    /// preparing it if needed.
    pub fn get(
        &mut self,
        ctx: &egui::Context,
        key: u64,
        outputs: &Arc<Vec<Tensor>>,
        out_idx: usize,
        axis: impl FnOnce() -> Vec<String>,
    ) -> Prepared {
        if self.cache.as_ref().is_none_or(|(k, _)| *k != key) {
            let axis = axis();
            let Some(tensor) = outputs.get(out_idx) else {
                return Prepared::Pending;
            };
            let dtype = tensor.dtype().to_string();
            if tensor.len() <= VIEW_INLINE_MAX {
                let vt = ViewTensor {
                    key,
                    dtype,
                    values: Arc::new(tensor.to_f64()),
                    axis_names: axis,
                    stats: None,
                };
                self.cache = Some((key, vt));
            } else {
                // Converting and summarising a big tensor takes a while: do it off the UI thread.
                if self.job.as_ref().is_none_or(|(k, _)| *k != key) {
                    let (tx, rx) = std::sync::mpsc::channel();
                    let outputs = Arc::clone(outputs);
                    let ctx = ctx.clone();
                    let spawned = std::thread::Builder::new()
                        .name("blockspace-viewer".into())
                        .spawn(move || {
                            let Some(t) = outputs.get(out_idx) else {
                                return;
                            };
                            let values = t.to_f64();
                            let stats = Some(Stats::of_values(values.iter().copied()));
                            let vt = ViewTensor {
                                key,
                                dtype,
                                values: Arc::new(values),
                                axis_names: axis,
                                stats,
                            };
                            // The viewer may have moved on; then nobody needs this.
                            let _ = tx.send(vt);
                            ctx.request_repaint();
                        });
                    match spawned {
                        Ok(_) => self.job = Some((key, rx)),
                        Err(e) => return Prepared::Failed(format!("cannot prepare the view: {e}")),
                    }
                }
                if let Some((k, rx)) = &self.job
                    && *k == key
                    && let Ok(vt) = rx.try_recv()
                {
                    self.cache = Some((key, vt));
                    self.job = None;
                }
                if self.cache.as_ref().is_none_or(|(k, _)| *k != key) {
                    return Prepared::Pending;
                }
            }
        }
        match &self.cache {
            Some((_, vt)) => Prepared::Ready(vt.clone()),
            None => Prepared::Pending,
        }
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
    let layout = layout_hint(tab, reg, id, rank);
    axis_names(rank, layout.as_deref())
}

/// The axis layout of a block's output: its own `data_format` attribute, or that of the block it
/// feeds (a `filter` input is laid out `DHWIO`).
fn layout_hint(tab: &PageTab, reg: &Registry, id: BlockId, rank: usize) -> Option<String> {
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
    let own = reg
        .get(&block.type_id)?
        .outputs
        .get(tab.viewer_output)?
        .layout;
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
