//! Previews on blocks: a small picture of each block's first output (the middle slice of its
//! H × W plane, coloured by the viewer's rules: diverging for signed data, else viridis, over the
//! slice's own range). The pictures are computed in one batch per set of new results (off the
//! UI thread when the batch is big) and kept as textures until the result changes.

use std::collections::HashMap;

use egui::{TextureHandle, TextureId, TextureOptions};

use crate::panels::viewer::colour::{MapChoice, Scale};
use crate::panels::viewer::compute::{self, Image};
use crate::panels::viewer::jobs::{Slot, Status, key_of};
use crate::panels::viewer::texture::colour_image;
use crate::panels::viewer::{TensorRef, Volume, axes};

/// Longest side of a preview, in pixels.
const SIDE: usize = 48;

/// One block's output to preview.
#[derive(Clone, Debug)]
pub struct PreviewSource {
    /// The block (its id's number).
    pub block: u64,
    /// The output and its axis names.
    pub tensor: TensorRef,
    /// One name per axis.
    pub names: Vec<String>,
}

/// The previews of one tab's blocks.
#[derive(Default)]
pub struct Thumbnails {
    /// Whether the canvas shows them (View menu).
    pub enabled: bool,
    shown: HashMap<u64, (u64, TextureHandle)>,
    batch: Slot<Vec<(u64, u64, egui::ColorImage)>>,
}

impl Thumbnails {
    /// The texture of every block's preview (block number → texture and size); computes those
    /// missing or out of date.
    pub fn update(
        &mut self,
        ctx: &egui::Context,
        sources: Vec<PreviewSource>,
    ) -> HashMap<u64, (TextureId, egui::Vec2)> {
        let key_of_source = |s: &PreviewSource| key_of(&(s.block, s.tensor.id()));
        let missing: Vec<PreviewSource> = sources
            .iter()
            .filter(|s| {
                self.shown
                    .get(&s.block)
                    .is_none_or(|(k, _)| *k != key_of_source(s))
            })
            .cloned()
            .collect();
        if !missing.is_empty() {
            let batch_key = key_of(&missing.iter().map(key_of_source).collect::<Vec<_>>());
            let cost: usize = missing.iter().map(|s| plane_cost(&s.tensor)).sum();
            let st = self.batch.get(ctx, batch_key, cost, move |cancel| {
                let mut out = Vec::with_capacity(missing.len());
                for s in &missing {
                    if cancel.load(std::sync::atomic::Ordering::Relaxed) {
                        return Ok(None);
                    }
                    let img = preview(&s.tensor, &s.names);
                    out.push((s.block, key_of_source(s), coloured(&img)));
                }
                Ok(Some(out))
            });
            if let Status::Ready(done) = st {
                for (block, key, image) in done.iter().cloned() {
                    let tex = ctx.load_texture(
                        format!("block-preview-{block}"),
                        image,
                        TextureOptions::NEAREST,
                    );
                    self.shown.insert(block, (key, tex));
                }
            }
        }
        let live: std::collections::HashSet<u64> = sources.iter().map(|s| s.block).collect();
        self.shown.retain(|b, _| live.contains(b));
        self.shown
            .iter()
            .map(|(b, (_, t))| (*b, (t.id(), t.size_vec2())))
            .collect()
    }

    /// How many previews are ready.
    #[must_use]
    pub fn count(&self) -> usize {
        self.shown.len()
    }
}

/// Elements read for one preview (about one plane).
fn plane_cost(t: &TensorRef) -> usize {
    let s = t.tensor().shape();
    s.iter().rev().take(3).product::<usize>().max(1)
}

/// The middle slice of the H × W plane (batch and channel 0), every k-th row and column.
fn preview(t: &TensorRef, names: &[String]) -> Image {
    let vol = Volume::new(0, t.clone(), names);
    let spatial = axes::spatial_axes(vol.shape(), vol.names());
    let Some(&(r, c)) = axes::planes(&spatial).last() else {
        return Image {
            rows: 1,
            cols: 1,
            values: vec![f32::NAN],
        };
    };
    let mut idx = vec![0; vol.shape().len()];
    for &a in &spatial {
        if a != r && a != c {
            idx[a] = vol.shape()[a] / 2;
        }
    }
    let full = compute::plane(&vol, r, c, &idx);
    let step = full.rows.max(full.cols).div_ceil(SIDE).max(1);
    let (rows, cols) = (full.rows.div_ceil(step), full.cols.div_ceil(step));
    let mut values = Vec::with_capacity(rows * cols);
    for i in 0..rows {
        for j in 0..cols {
            values.push(full.at(i * step, j * step));
        }
    }
    Image { rows, cols, values }
}

/// The preview's pixels: diverging for signed data, else viridis, over its own range.
fn coloured(img: &Image) -> egui::ColorImage {
    let (lo, hi) = img
        .values
        .iter()
        .filter(|v| v.is_finite())
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let (lo, hi) = if lo <= hi {
        (f64::from(lo), f64::from(hi))
    } else {
        (0.0, 1.0)
    };
    let scale = Scale::new(MapChoice::Auto.resolve(lo), lo, hi);
    colour_image(img, &scale)
}

#[cfg(test)]
mod tests {
    use super::*;
    use blockspace_graph::Tensor;
    use ndarray::{ArrayD, IxDyn};

    #[test]
    fn preview_is_the_shrunk_middle_slice() {
        // N D H W C = 1 × 5 × 96 × 100 × 2, value = 1000·d + h.
        let t = Tensor::F32(ArrayD::from_shape_fn(IxDyn(&[1, 5, 96, 100, 2]), |ix| {
            (1000 * ix[1] + ix[2]) as f32
        }));
        let names: Vec<String> = "NDHWC".chars().map(String::from).collect();
        let img = preview(&TensorRef::single(t), &names);
        assert_eq!((img.rows, img.cols), (32, 34), "every 3rd of 96 × 100");
        assert_eq!(img.at(1, 0), 2003.0, "D = 2 (the middle), H = 3");
        let px = coloured(&img);
        assert_eq!(px.size, [34, 32]);
    }
}
