//! A texture rebuilt only when its key changes (the image's key and the colour scale).

use egui::{ColorImage, TextureHandle, TextureOptions};

use crate::panels::viewer::colour::Scale;
use crate::panels::viewer::compute::Image;
use crate::panels::viewer::jobs::key_of;

/// One cached texture.
#[derive(Default)]
pub struct Tex {
    key: Option<u64>,
    handle: Option<TextureHandle>,
}

impl Tex {
    /// The texture for `key`, built by `build` when the key changed; the flag says whether it
    /// was rebuilt.
    pub fn get(
        &mut self,
        ctx: &egui::Context,
        name: &str,
        key: u64,
        build: impl FnOnce() -> ColorImage,
    ) -> (TextureHandle, bool) {
        if self.key == Some(key)
            && let Some(h) = &self.handle
        {
            return (h.clone(), false);
        }
        let image = build();
        let handle = match &mut self.handle {
            Some(h) => {
                h.set(image, TextureOptions::NEAREST);
                h.clone()
            }
            None => {
                let h = ctx.load_texture(name, image, TextureOptions::NEAREST);
                self.handle = Some(h.clone());
                h
            }
        };
        self.key = Some(key);
        (handle, true)
    }
}

/// The key of `image_key` drawn with `scale`.
#[must_use]
pub fn scaled_key(image_key: u64, scale: &Scale) -> u64 {
    key_of(&(image_key, scale.map, scale.lo.to_bits(), scale.hi.to_bits()))
}

/// Longest texture side the viewer makes (GPUs refuse textures past 8192 or 16384 pixels).
pub const MAX_SIDE: usize = 4096;

/// The pixels of `image` under `scale`; an image longer than [`MAX_SIDE`] is shrunk to every
/// k-th row and column (the views map the pointer through the image, not the texture).
#[must_use]
pub fn colour_image(image: &Image, scale: &Scale) -> ColorImage {
    if image.values.is_empty() {
        return ColorImage::new([1, 1], vec![scale.pixel(f64::NAN)]);
    }
    let step = image.rows.max(image.cols).div_ceil(MAX_SIDE).max(1);
    if step == 1 {
        return ColorImage::new([image.cols, image.rows], scale.pixels(&image.values));
    }
    let (rows, cols) = (image.rows.div_ceil(step), image.cols.div_ceil(step));
    let mut px = Vec::with_capacity(rows * cols);
    for r in 0..rows {
        for c in 0..cols {
            px.push(scale.pixel(f64::from(image.at(r * step, c * step))));
        }
    }
    ColorImage::new([cols, rows], px)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::panels::viewer::colour::ColourMap;

    #[test]
    fn long_images_are_shrunk_below_the_texture_limit() {
        let img = Image {
            rows: 1,
            cols: 100_000,
            values: vec![0.5; 100_000],
        };
        let c = colour_image(&img, &Scale::new(ColourMap::Grey, 0.0, 1.0));
        assert_eq!(c.size, [100_000usize.div_ceil(25), 1]);
        assert!(c.size[0] <= MAX_SIDE);
    }
}
