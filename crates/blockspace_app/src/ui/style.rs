//! Looks: spacing and text sizes that stay legible at 100% and 200% scale, in both themes.

/// Applies the app's style to both the light and the dark theme.
pub fn apply(ctx: &egui::Context) {
    for theme in [egui::Theme::Light, egui::Theme::Dark] {
        ctx.style_mut_of(theme, |style| {
            style.spacing.item_spacing = egui::vec2(8.0, 5.0);
            style.spacing.button_padding = egui::vec2(6.0, 3.0);
            style.spacing.interact_size.y = 22.0;
            style.interaction.tooltip_delay = 0.25;
            // Solid scroll bars: the side panel's sections scroll, and a bar that shows only
            // on hover hides that there is more below.
            style.spacing.scroll = egui::style::ScrollStyle::solid();
            style.visuals.window_corner_radius = egui::CornerRadius::same(6);
        });
    }
}
