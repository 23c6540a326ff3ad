//! The inspector: name, doc, every attribute of the selected block with an editor chosen by its
//! `AttrKind`, and the inferred output shapes.
//!
//! Edits are buffered while the user types or drags, and committed as one `SetAttr` command when
//! the widget is released (focus lost, Enter, drag stopped): one gesture = one undo step.

use std::collections::HashMap;
use std::ops::RangeInclusive;

use blockspace_graph::page::validate_name;
use blockspace_graph::{
    AttrKind, AttrValue, Block, BlockError, BlockId, Command, OpDescriptor, Registry, TensorMeta,
};
use egui::RichText;

use crate::app::command::{AppCommand, Edit};
use crate::app::page_tab::TabId;
use crate::panels::number_text::{dragged, number_text, parse_number, parse_whole_in};

/// Buffered edits, keyed by (tab, block, attr).
#[derive(Default)]
pub struct Inspector {
    buffers: HashMap<(TabId, BlockId, String), Buffer>,
    /// Focus the name field next frame (after "Rename…").
    pub focus_name: bool,
}

#[derive(Clone, Debug)]
enum Buffer {
    Value(AttrValue),
    Text(String),
    /// A drag of a number field's handle: the value it started from and the points moved.
    Drag {
        from: AttrValue,
        points: f32,
    },
}

/// A list item that is not an integer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a whole number; write whole numbers separated by commas, e.g. 1, 4, 4, 4, 2")]
pub struct NotAnInteger(pub String);

/// Parses a list of integers written as `1, 2, 3`, `[1 2 3]` or `1x2x3`.
///
/// # Errors
/// [`NotAnInteger`] naming the first item that is not one.
pub fn parse_int_list(text: &str) -> Result<Vec<i64>, NotAnInteger> {
    let cleaned: String = text
        .chars()
        .map(|c| {
            if matches!(c, '[' | ']' | '(' | ')' | ',' | 'x' | '×') {
                ' '
            } else {
                c
            }
        })
        .collect();
    cleaned
        .split_whitespace()
        .map(|t| t.parse::<i64>().map_err(|_| NotAnInteger(t.to_owned())))
        .collect()
}

fn list_text(v: &[i64]) -> String {
    let parts: Vec<String> = v.iter().map(ToString::to_string).collect();
    parts.join(", ")
}

impl Inspector {
    /// Forgets buffers of other blocks (called when the selection changes).
    pub fn retain_block(&mut self, tab: TabId, block: Option<BlockId>) {
        self.buffers
            .retain(|(t, b, _), _| *t == tab && Some(*b) == block);
    }

    /// Shows the inspector for `block`. `inputs_meta` are the inferred metas of its inputs (for
    /// live checks of text attributes); `outputs` is its check result.
    #[expect(clippy::too_many_arguments, reason = "the panel needs this context")]
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        tab: TabId,
        registry: &Registry,
        block: &Block,
        name_taken: &dyn Fn(&str) -> bool,
        inputs_meta: &[Option<TensorMeta>],
        outputs: Option<&Result<Vec<TensorMeta>, BlockError>>,
        commands: &mut Vec<AppCommand>,
    ) {
        let Some(desc) = registry.get(&block.type_id) else {
            ui.colored_label(
                ui.visuals().error_fg_color,
                format!("Unknown block type {:?}", block.type_id),
            );
            return;
        };
        ui.horizontal(|ui| {
            ui.label(RichText::new(desc.display_name).strong().size(15.0));
            ui.weak(desc.category);
        });
        ui.label(RichText::new(desc.doc).weak());
        ui.add_space(4.0);
        self.name_ui(ui, tab, block, name_taken, commands);
        // A problem comes first, where it is seen without scrolling.
        if let Some(Err(e)) = outputs {
            ui.add_space(2.0);
            egui::Frame::group(ui.style())
                .stroke(egui::Stroke::new(1.0, ui.visuals().error_fg_color))
                .show(ui, |ui| {
                    ui.colored_label(ui.visuals().error_fg_color, format!("⚠ {}", e.message));
                });
        }
        ui.add_space(4.0);

        egui::Grid::new(("inspector-attrs", tab, block.id))
            .num_columns(2)
            .spacing([8.0, 6.0])
            .striped(false)
            .show(ui, |ui| {
                for spec in desc.attrs.iter().filter(|s| s.visible(&block.attrs)) {
                    let current = block
                        .attrs
                        .get(spec.name)
                        .cloned()
                        .unwrap_or_else(|| spec.default_value());
                    // The attribute a problem is about is marked, with the message as tooltip.
                    match outputs
                        .and_then(|o| o.as_ref().err())
                        .filter(|e| e.attr.as_deref() == Some(spec.name))
                    {
                        Some(e) => {
                            ui.label(
                                RichText::new(format!("⚠ {}", spec.name))
                                    .color(ui.visuals().error_fg_color),
                            )
                            .on_hover_text(e.to_string());
                        }
                        None => {
                            ui.label(spec.name).on_hover_text(spec.doc);
                        }
                    }
                    ui.vertical(|ui| {
                        self.attr_ui(
                            ui,
                            tab,
                            desc,
                            block,
                            spec.name,
                            &spec.kind,
                            &current,
                            inputs_meta,
                            commands,
                        );
                    });
                    ui.end_row();
                }
            });

        ui.add_space(6.0);
        ui.label(RichText::new("Outputs").strong());
        match outputs {
            Some(Ok(metas)) => {
                for (port, meta) in desc.outputs.iter().zip(metas) {
                    let dims: Vec<String> = meta.shape.iter().map(ToString::to_string).collect();
                    ui.monospace(format!(
                        "{}: {} [{}]",
                        port.name,
                        meta.dtype,
                        dims.join(", ")
                    ));
                }
            }
            Some(Err(_)) => {
                ui.weak("none until the problem above is fixed");
            }
            None => {
                ui.weak("not checked yet");
            }
        }
        if !desc.inputs.is_empty() {
            ui.add_space(4.0);
            ui.label(RichText::new("Inputs").strong());
            for (i, port) in desc.inputs.iter().enumerate() {
                let meta = inputs_meta.get(i).cloned().flatten();
                let text = meta.map_or_else(
                    || "not connected".to_owned(),
                    |m| {
                        let dims: Vec<String> = m.shape.iter().map(ToString::to_string).collect();
                        format!("{} [{}]", m.dtype, dims.join(", "))
                    },
                );
                let line = RichText::new(format!("{}: {text}", port.name)).monospace();
                match outputs
                    .and_then(|o| o.as_ref().err())
                    .filter(|e| e.port.as_deref() == Some(port.name))
                {
                    Some(e) => {
                        ui.label(line.color(ui.visuals().error_fg_color))
                            .on_hover_text(e.to_string());
                    }
                    None => {
                        ui.label(line).on_hover_text(port.doc);
                    }
                }
            }
        }
    }

    fn name_ui(
        &mut self,
        ui: &mut egui::Ui,
        tab: TabId,
        block: &Block,
        name_taken: &dyn Fn(&str) -> bool,
        commands: &mut Vec<AppCommand>,
    ) {
        let key = (tab, block.id, "\u{0}name".to_owned());
        let mut text = match self.buffers.get(&key) {
            Some(Buffer::Text(t)) => t.clone(),
            _ => block.name.clone(),
        };
        ui.horizontal(|ui| {
            ui.label("name");
            let resp = ui.add(egui::TextEdit::singleline(&mut text).desired_width(180.0));
            resp.widget_info(|| {
                egui::WidgetInfo::labeled(egui::WidgetType::TextEdit, true, "Block name")
            });
            if self.focus_name {
                resp.request_focus();
                self.focus_name = false;
            }
            let trimmed = text.trim().to_owned();
            // The page's own naming rule, then its scope.
            let problem = if let Err(e) = validate_name(&trimmed) {
                Some(e.to_string())
            } else if trimmed != block.name && name_taken(&trimmed) {
                Some(format!("{trimmed:?} is already used on this page"))
            } else {
                None
            };
            if resp.changed() {
                self.buffers.insert(key.clone(), Buffer::Text(text.clone()));
            }
            if resp.lost_focus() {
                self.buffers.remove(&key);
                if problem.is_none() && trimmed != block.name {
                    commands.push(AppCommand::Edit(Edit::new(
                        format!("Rename {} to {trimmed}", block.name),
                        Command::RenameBlock {
                            block: block.id,
                            name: trimmed,
                        },
                    )));
                }
            }
            if let Some(p) = problem
                && self.buffers.contains_key(&key)
            {
                ui.colored_label(ui.visuals().error_fg_color, p);
            }
        });
    }

    #[expect(clippy::too_many_arguments, reason = "the editor needs this context")]
    #[expect(clippy::too_many_lines, reason = "one arm per attribute kind")]
    fn attr_ui(
        &mut self,
        ui: &mut egui::Ui,
        tab: TabId,
        desc: &OpDescriptor,
        block: &Block,
        attr: &str,
        kind: &AttrKind,
        current: &AttrValue,
        inputs_meta: &[Option<TensorMeta>],
        commands: &mut Vec<AppCommand>,
    ) {
        let key = (tab, block.id, attr.to_owned());
        let set = |value: AttrValue| {
            AppCommand::Edit(Edit::new(
                format!("Set {}.{attr}", block.name),
                Command::SetAttr {
                    block: block.id,
                    attr: attr.to_owned(),
                    value,
                },
            ))
        };
        match kind {
            AttrKind::Enum(choices) => {
                let cur = current.as_str().unwrap_or_default().to_owned();
                let mut chosen = cur.clone();
                egui::ComboBox::from_id_salt(("attr", tab, block.id, attr))
                    .selected_text(&cur)
                    .show_ui(ui, |ui| {
                        for c in *choices {
                            ui.selectable_value(&mut chosen, (*c).to_owned(), *c);
                        }
                    });
                if chosen != cur {
                    commands.push(set(AttrValue::Str(chosen)));
                }
            }
            AttrKind::Bool => {
                let cur = current.as_bool().unwrap_or_default();
                let mut v = cur;
                ui.checkbox(&mut v, "");
                if v != cur {
                    commands.push(set(AttrValue::Bool(v)));
                }
            }
            AttrKind::Int { min, max } => {
                // Text, not an i64 `DragValue` (whose arithmetic is f64, and which clamps what
                // is typed): only a whole number in the range is committed, exactly.
                let (min, max) = (*min, *max);
                if let Some(value) = self.number_field_ui(
                    ui,
                    &key,
                    current,
                    &(min..=max),
                    &format!("whole, {min} to {max}"),
                    |t| parse_whole_in(t, min, max).map(AttrValue::Int),
                ) && &value != current
                {
                    commands.push(set(value));
                }
            }
            AttrKind::Float => {
                // Text, not an f64 `DragValue`: a whole number stays an exact `Int`.
                if let Some(value) = self.number_field_ui(
                    ui,
                    &key,
                    current,
                    &(i64::MIN..=i64::MAX),
                    "e.g. 0.25 or -5",
                    parse_number,
                ) && &value != current
                {
                    commands.push(set(value));
                }
            }
            AttrKind::IntList { len } => {
                let mut v: Vec<i64> = match self.buffers.get(&key) {
                    Some(Buffer::Value(AttrValue::IntList(l))) => l.clone(),
                    _ => current
                        .as_int_list()
                        .map(<[i64]>::to_vec)
                        .unwrap_or_default(),
                };
                v.resize(*len, 1);
                let mut any_active = false;
                let mut changed = false;
                let mut released = false;
                ui.horizontal_wrapped(|ui| {
                    for (i, x) in v.iter_mut().enumerate() {
                        let r = ui.add(
                            egui::DragValue::new(x)
                                .speed(0.05)
                                .range(0..=i64::from(u16::MAX)),
                        );
                        let r = r.on_hover_text(format!("{attr}[{i}]"));
                        any_active |= r.dragged() || r.has_focus();
                        changed |= r.changed();
                        released |= r.drag_stopped() || r.lost_focus();
                    }
                });
                if changed {
                    self.buffers
                        .insert(key.clone(), Buffer::Value(AttrValue::IntList(v.clone())));
                }
                if (released || !any_active) && self.buffers.contains_key(&key) {
                    self.buffers.remove(&key);
                    let value = AttrValue::IntList(v);
                    if &value != current {
                        commands.push(set(value));
                    }
                }
            }
            AttrKind::Shape => {
                let shown = list_text(current.as_int_list().unwrap_or_default());
                if let Some(value) = self.parsed_line_ui(
                    ui,
                    &key,
                    &shown,
                    "e.g. 1, 4, 4, 4, 2",
                    |t| parse_int_list(t).map(AttrValue::IntList),
                    |_, _| None,
                ) && &value != current
                {
                    commands.push(set(value));
                }
            }
            AttrKind::Text => {
                let mut text = match self.buffers.get(&key) {
                    Some(Buffer::Text(t)) => t.clone(),
                    _ => current.as_str().unwrap_or_default().to_owned(),
                };
                let resp = ui.add(
                    egui::TextEdit::multiline(&mut text)
                        .desired_rows(2)
                        .desired_width(f32::INFINITY)
                        .code_editor(),
                );
                resp.widget_info(|| {
                    egui::WidgetInfo::labeled(egui::WidgetType::TextEdit, true, attr)
                });
                if resp.changed() {
                    self.buffers.insert(key.clone(), Buffer::Text(text.clone()));
                }
                // Live check: run the descriptor's inference on the edited text.
                if self.buffers.contains_key(&key) {
                    let mut attrs = block.attrs.clone();
                    attrs.insert(attr.to_owned(), AttrValue::Str(text.clone()));
                    match crate::adapter::infer(desc, &attrs, inputs_meta) {
                        Ok(metas) => {
                            if let Some(m) = metas.first() {
                                ui.weak(format!("→ {}", crate::canvas::block_view::meta_text(m)));
                            }
                        }
                        Err(e) => {
                            ui.colored_label(ui.visuals().error_fg_color, e.to_string());
                        }
                    }
                    ui.weak("Click outside the field (or press Ctrl+Enter) to apply.");
                }
                let ctrl_enter = resp.has_focus()
                    && ui.input(|i| i.modifiers.command && i.key_pressed(egui::Key::Enter));
                if resp.lost_focus() || ctrl_enter {
                    self.buffers.remove(&key);
                    let value = AttrValue::Str(text);
                    if &value != current {
                        commands.push(set(value));
                    }
                    if ctrl_enter {
                        resp.surrender_focus();
                    }
                }
            }
            AttrKind::Path { .. } => {
                let mut text = match self.buffers.get(&key) {
                    Some(Buffer::Text(t)) => t.clone(),
                    _ => current.as_str().unwrap_or_default().to_owned(),
                };
                ui.horizontal(|ui| {
                    let resp = ui.add(
                        egui::TextEdit::singleline(&mut text)
                            .desired_width(170.0)
                            .hint_text("file.npy"),
                    );
                    resp.widget_info(|| {
                        egui::WidgetInfo::labeled(egui::WidgetType::TextEdit, true, attr)
                    });
                    if resp.changed() {
                        self.buffers.insert(key.clone(), Buffer::Text(text.clone()));
                    }
                    if resp.lost_focus() {
                        self.buffers.remove(&key);
                        let value = AttrValue::Str(text.clone());
                        if &value != current {
                            commands.push(set(value));
                        }
                    }
                    if ui
                        .button("Browse…")
                        .on_hover_text("Choose a file")
                        .clicked()
                    {
                        commands.push(AppCommand::PickAttrPath {
                            tab,
                            block: block.id,
                            attr: attr.to_owned(),
                        });
                    }
                });
            }
        }
    }

    /// A number field: the exact text of `current` (or of where a drag of its handle has moved
    /// it) in a [`Self::parsed_line_ui`] read with `parse`, and the ↔ handle beside it, which
    /// moves an `Int` by whole steps within `ints` (see [`dragged`]). Returns the value to
    /// commit, typed or dragged.
    fn number_field_ui<E: std::fmt::Display>(
        &mut self,
        ui: &mut egui::Ui,
        key: &(TabId, BlockId, String),
        current: &AttrValue,
        ints: &RangeInclusive<i64>,
        hint: &str,
        parse: impl Fn(&str) -> Result<AttrValue, E>,
    ) -> Option<AttrValue> {
        let shown = match self.buffers.get(key) {
            Some(Buffer::Drag { from, points }) => number_text(&dragged(from, *points, ints)),
            _ => number_text(current),
        };
        self.parsed_line_ui(ui, key, &shown, hint, parse, |me, ui| {
            me.drag_handle(ui, key, current, ints)
        })
    }

    /// A one-line field for the attribute of `key`, whose value reads as `shown`, with `beside`
    /// drawn to its right (it may return a value to commit too). What the user types is kept in
    /// a [`Buffer::Text`]; Enter or focus loss reads it with `parse` and returns the value to
    /// commit. Text that does not read is not committed: it stays in the field with `parse`'s
    /// error under it until it is fixed, or Escape in the field drops it.
    fn parsed_line_ui<E: std::fmt::Display>(
        &mut self,
        ui: &mut egui::Ui,
        key: &(TabId, BlockId, String),
        shown: &str,
        hint: &str,
        parse: impl Fn(&str) -> Result<AttrValue, E>,
        beside: impl FnOnce(&mut Self, &mut egui::Ui) -> Option<AttrValue>,
    ) -> Option<AttrValue> {
        let mut text = match self.buffers.get(key) {
            Some(Buffer::Text(t)) => t.clone(),
            _ => shown.to_owned(),
        };
        // The field keeps Escape (egui would drop the focus before the field sees the key, and
        // the app would take it as Cancel) to drop the typed text.
        let keys = egui::EventFilter {
            horizontal_arrows: true,
            vertical_arrows: true,
            tab: false,
            escape: true,
        };
        let (resp, from_beside) = ui
            .horizontal(|ui| {
                let resp = ui.add(
                    egui::TextEdit::singleline(&mut text)
                        .desired_width(160.0)
                        .hint_text(hint)
                        .event_filter(keys),
                );
                (resp, beside(self, ui))
            })
            .inner;
        resp.widget_info(|| egui::WidgetInfo::labeled(egui::WidgetType::TextEdit, true, &key.2));
        let typed = self.read_typed(ui, key, &resp, &text, shown, parse);
        typed.or(from_beside)
    }

    /// The typing part of [`Self::parsed_line_ui`]: buffers `text` when it changed, drops it on
    /// Escape, and returns its value when the field is left with text that reads (else shows
    /// why not).
    fn read_typed<E: std::fmt::Display>(
        &mut self,
        ui: &mut egui::Ui,
        key: &(TabId, BlockId, String),
        resp: &egui::Response,
        text: &str,
        shown: &str,
        parse: impl Fn(&str) -> Result<AttrValue, E>,
    ) -> Option<AttrValue> {
        if resp.has_focus() && ui.input(|i| i.key_pressed(egui::Key::Escape)) {
            self.buffers.remove(key);
            resp.surrender_focus();
            return None;
        }
        if resp.changed() {
            self.buffers
                .insert(key.clone(), Buffer::Text(text.to_owned()));
        }
        if !matches!(self.buffers.get(key), Some(Buffer::Text(_))) {
            return None;
        }
        match parse(text) {
            Ok(value) if resp.lost_focus() => {
                self.buffers.remove(key);
                Some(value)
            }
            Ok(_) => None,
            Err(e) => {
                ui.colored_label(ui.visuals().error_fg_color, e.to_string());
                ui.weak(format!(
                    "Not applied. Fix it and press Enter, or press Escape in the field to keep {shown}."
                ));
                None
            }
        }
    }

    /// The drag handle of a number field: while it is dragged the value moves (see
    /// [`dragged`]) in a [`Buffer::Drag`]; when the drag stops the moved value is returned to
    /// commit (one drag, one undo step).
    fn drag_handle(
        &mut self,
        ui: &mut egui::Ui,
        key: &(TabId, BlockId, String),
        current: &AttrValue,
        ints: &RangeInclusive<i64>,
    ) -> Option<AttrValue> {
        let resp = ui
            .add(egui::Label::new("↔").sense(egui::Sense::drag()))
            .on_hover_cursor(egui::CursorIcon::ResizeHorizontal)
            .on_hover_text(if *ints == (i64::MIN..=i64::MAX) {
                "Drag to change the value: a whole number by 1 every 5 points, exactly; a decimal by 0.01 per point".to_owned()
            } else {
                format!(
                    "Drag to change the value by 1 every 5 points, exactly, from {} to {}",
                    ints.start(),
                    ints.end()
                )
            });
        resp.widget_info(|| {
            egui::WidgetInfo::labeled(egui::WidgetType::DragValue, true, format!("drag {}", key.2))
        });
        if resp.dragged() {
            let dx = resp.drag_delta().x;
            match self.buffers.get_mut(key) {
                Some(Buffer::Drag { points, .. }) => *points += dx,
                // A drag replaces text being typed: it starts from the value on the page.
                _ => {
                    self.buffers.insert(
                        key.clone(),
                        Buffer::Drag {
                            from: current.clone(),
                            points: dx,
                        },
                    );
                }
            }
        }
        if resp.drag_stopped()
            && let Some(Buffer::Drag { from, points }) = self.buffers.get(key)
        {
            let value = dragged(from, *points, ints);
            self.buffers.remove(key);
            return Some(value);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_lists_parse_in_many_spellings() {
        assert_eq!(parse_int_list("1, 2, 3").unwrap(), vec![1, 2, 3], "commas");
        assert_eq!(
            parse_int_list("[1 2 3]").unwrap(),
            vec![1, 2, 3],
            "brackets"
        );
        assert_eq!(parse_int_list("4x4×2").unwrap(), vec![4, 4, 2], "x");
        assert!(
            parse_int_list("1, a")
                .unwrap_err()
                .to_string()
                .contains("\"a\""),
            "error names the token"
        );
    }
}
