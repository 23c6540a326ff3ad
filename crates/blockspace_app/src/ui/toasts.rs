//! Toasts: short messages in the bottom-right corner that go away by themselves.

use std::time::{Duration, Instant};

use egui::{Color32, RichText};

#[derive(Clone, Debug, PartialEq, Eq)]
enum Level {
    Info,
    Error,
}

struct Toast {
    text: String,
    level: Level,
    until: Instant,
}

/// The toasts shown now.
#[derive(Default)]
pub struct Toasts {
    toasts: Vec<Toast>,
}

impl Toasts {
    /// Shows an error for 8 s (and logs it as a warning).
    pub fn error(&mut self, text: String) {
        log::warn!("{text}");
        self.toasts.push(Toast {
            text,
            level: Level::Error,
            until: Instant::now() + Duration::from_secs(8),
        });
    }

    /// Shows a message for 3 s (and logs it).
    pub fn info(&mut self, text: String) {
        log::info!("{text}");
        self.toasts.push(Toast {
            text,
            level: Level::Info,
            until: Instant::now() + Duration::from_secs(3),
        });
    }

    /// Drops the expired toasts; asks for a repaint while some are shown.
    pub fn expire(&mut self, ctx: &egui::Context) {
        self.toasts.retain(|t| t.until > Instant::now());
        if !self.toasts.is_empty() {
            ctx.request_repaint_after(Duration::from_millis(250));
        }
    }

    /// The texts shown now.
    #[must_use]
    pub fn texts(&self) -> Vec<String> {
        self.toasts.iter().map(|t| t.text.clone()).collect()
    }

    /// Draws the newest four.
    pub fn ui(&self, ctx: &egui::Context) {
        if self.toasts.is_empty() {
            return;
        }
        egui::Area::new(egui::Id::new("toasts"))
            .anchor(egui::Align2::RIGHT_BOTTOM, egui::vec2(-12.0, -36.0))
            .order(egui::Order::Tooltip)
            .interactable(false)
            .show(ctx, |ui| {
                for t in self.toasts.iter().rev().take(4).rev() {
                    let (fill, color) = match t.level {
                        Level::Error => (Color32::from_rgb(120, 30, 30), Color32::WHITE),
                        Level::Info => (ui.visuals().extreme_bg_color, ui.visuals().text_color()),
                    };
                    egui::Frame::popup(ui.style()).fill(fill).show(ui, |ui| {
                        ui.set_max_width(460.0);
                        ui.label(RichText::new(&t.text).color(color));
                    });
                }
            });
    }
}
