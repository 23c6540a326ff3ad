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

/// The pixels of `image` under `scale`.
#[must_use]
pub fn colour_image(image: &Image, scale: &Scale) -> ColorImage {
    ColorImage::new(
        [image.cols.max(1), image.rows.max(1)],
        if image.values.is_empty() {
            vec![scale.pixel(f64::NAN)]
        } else {
            scale.pixels(&image.values)
        },
    )
}
