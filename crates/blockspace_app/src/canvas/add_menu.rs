//! The add-block search list (toolbar window, canvas menu, dropped-wire menu).

use blockspace_graph::Registry;
use egui::{RichText, Ui};

/// A text field plus a filtered list of block types; returns the chosen type id.
pub fn add_block_list(
    ui: &mut Ui,
    reg: &Registry,
    search: &mut String,
    focus: bool,
    in_menu: bool,
) -> Option<String> {
    let resp = ui.add(
        egui::TextEdit::singleline(search)
            .hint_text("Search blocks…")
            .desired_width(220.0),
    );
    resp.widget_info(|| {
        egui::WidgetInfo::labeled(egui::WidgetType::TextEdit, true, "Search blocks")
    });
    if focus {
        resp.request_focus();
    }
    let needle = search.to_lowercase();
    let mut matches: Vec<_> = reg
        .iter()
        .filter(|d| {
            needle.is_empty()
                || d.display_name.to_lowercase().contains(&needle)
                || d.type_id.to_lowercase().contains(&needle)
                || d.category.to_lowercase().contains(&needle)
        })
        .collect();
    // Best matches first (exact name, then name prefix, then anywhere), so Enter takes the
    // block the user most likely means; without a search, by category.
    let rank = |name: &str| {
        let name = name.to_lowercase();
        if needle.is_empty() || name == needle {
            0
        } else if name.starts_with(&needle) {
            1
        } else {
            2
        }
    };
    // Categories in registry order (Inputs, Convolution, Math, Reduction), blocks by name.
    let category_rank = |c: &str| {
        reg.iter()
            .position(|d| d.category == c)
            .unwrap_or(usize::MAX)
    };
    matches.sort_by_key(|d| {
        (
            rank(d.display_name),
            category_rank(d.category),
            d.display_name,
        )
    });
    let mut chosen = None;
    if matches.is_empty() {
        ui.weak("No block type matches.");
    }
    let enter = resp.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
    let mut category = "";
    for (i, d) in matches.iter().enumerate() {
        if d.category != category {
            category = d.category;
            ui.label(RichText::new(category).small().weak());
        }
        let r = ui
            .button(d.display_name)
            .on_hover_text(format!("{}\n\n{}", d.type_id, d.doc));
        if r.clicked() || (enter && i == 0) {
            chosen = Some(d.type_id.to_owned());
        }
    }
    if chosen.is_some() {
        search.clear();
        if in_menu {
            ui.close();
        }
    }
    chosen
}
