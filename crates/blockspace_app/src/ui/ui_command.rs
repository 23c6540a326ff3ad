//! Menu and keyboard commands, in the style of rerun's `UICommand`: one enum, each with its text,
//! tooltip and shortcut, so menus, shortcuts and the command list never disagree.

use blockspace_graph::Framework;
use egui::{Key, KeyboardShortcut, Modifiers};

/// Something the user asks the app to do from a menu, a button or a shortcut.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UiCommand {
    /// A new empty page in a new tab.
    NewPage,
    /// Open page files (native dialog).
    Open,
    /// Save the current page (Save As when it has no file yet).
    Save,
    /// Save the current page under a new file name.
    SaveAs,
    /// Close the current tab (asks first when it has unsaved changes).
    CloseTab,
    /// Undo the last edit of the current page.
    Undo,
    /// Redo the last undone edit.
    Redo,
    /// Copy the selected blocks.
    Copy,
    /// Cut the selected blocks.
    Cut,
    /// Paste copied blocks into the current page.
    Paste,
    /// Duplicate the selected blocks.
    Duplicate,
    /// Delete the selected blocks.
    Delete,
    /// Select every block of the page.
    SelectAll,
    /// Run the page now.
    Run,
    /// Cancel the run in flight.
    Cancel,
    /// Fit every block into the view.
    ZoomToFit,
    /// Open the search box to add a block.
    AddBlock,
    /// Export the current page as a runnable Python script for this framework (save dialog).
    ExportPython(Framework),
    /// Copy the selected blocks (and what they read) as a Python snippet, inputs inline.
    CopyPython(Framework),
}

impl UiCommand {
    /// Every command, in menu order.
    pub const ALL: [Self; 21] = [
        Self::NewPage,
        Self::Open,
        Self::Save,
        Self::SaveAs,
        Self::CloseTab,
        Self::Undo,
        Self::Redo,
        Self::Cut,
        Self::Copy,
        Self::Paste,
        Self::Duplicate,
        Self::Delete,
        Self::SelectAll,
        Self::AddBlock,
        Self::Run,
        Self::Cancel,
        Self::ZoomToFit,
        Self::ExportPython(Framework::TensorFlow),
        Self::ExportPython(Framework::PyTorch),
        Self::CopyPython(Framework::TensorFlow),
        Self::CopyPython(Framework::PyTorch),
    ];

    /// The menu text.
    #[must_use]
    pub fn text(self) -> &'static str {
        match self {
            Self::NewPage => "New page",
            Self::Open => "Open…",
            Self::Save => "Save",
            Self::SaveAs => "Save As…",
            Self::CloseTab => "Close page",
            Self::Undo => "Undo",
            Self::Redo => "Redo",
            Self::Copy => "Copy",
            Self::Cut => "Cut",
            Self::Paste => "Paste",
            Self::Duplicate => "Duplicate",
            Self::Delete => "Delete",
            Self::SelectAll => "Select all",
            Self::Run => "Run",
            Self::Cancel => "Cancel run",
            Self::ZoomToFit => "Zoom to fit",
            Self::AddBlock => "Add block…",
            Self::ExportPython(Framework::TensorFlow) => "Export as Python (TensorFlow)…",
            Self::ExportPython(Framework::PyTorch) => "Export as Python (PyTorch)…",
            Self::CopyPython(Framework::TensorFlow) => "Copy as Python (TensorFlow)",
            Self::CopyPython(Framework::PyTorch) => "Copy as Python (PyTorch)",
        }
    }

    /// The tooltip.
    #[must_use]
    pub fn tooltip(self) -> &'static str {
        match self {
            Self::NewPage => "Open a new empty page in a new tab",
            Self::Open => "Open one or more page files (.bspage.json)",
            Self::Save => "Save the current page to its file",
            Self::SaveAs => "Save the current page to a new file",
            Self::CloseTab => "Close the current page (asks before losing unsaved changes)",
            Self::Undo => "Undo the last edit of this page",
            Self::Redo => "Redo the last undone edit",
            Self::Copy => "Copy the selected blocks (paste into any page)",
            Self::Cut => "Copy the selected blocks, then delete them",
            Self::Paste => "Paste the copied blocks, with new names from this page",
            Self::Duplicate => "Duplicate the selected blocks",
            Self::Delete => "Delete the selected blocks and their wires",
            Self::SelectAll => "Select every block of this page",
            Self::Run => "Evaluate the page now (only changed blocks are recomputed)",
            Self::Cancel => "Stop the run in flight",
            Self::ZoomToFit => "Pan and zoom so that every block is visible",
            Self::AddBlock => "Search the block types and add one to the page",
            Self::ExportPython(_) => {
                "Write the page as a runnable Python script (with its larger inputs as .npy files \
                 beside it); `python OUT.py --compare DIR` checks it against `blockspace run`"
            }
            Self::CopyPython(_) => {
                "Copy the selected blocks, and the blocks they read, as Python code with the \
                 inputs inline, to paste into a notebook"
            }
        }
    }

    /// The keyboard shortcut, if any.
    #[must_use]
    pub fn shortcut(self) -> Option<KeyboardShortcut> {
        let cmd = |key| Some(KeyboardShortcut::new(Modifiers::COMMAND, key));
        let cmd_shift = |key| {
            Some(KeyboardShortcut::new(
                Modifiers::COMMAND | Modifiers::SHIFT,
                key,
            ))
        };
        let plain = |key| Some(KeyboardShortcut::new(Modifiers::NONE, key));
        match self {
            Self::NewPage => cmd(Key::N),
            Self::Open => cmd(Key::O),
            Self::Save => cmd(Key::S),
            Self::SaveAs => cmd_shift(Key::S),
            Self::CloseTab => cmd(Key::W),
            Self::Undo => cmd(Key::Z),
            Self::Redo => cmd(Key::Y),
            Self::Copy => cmd(Key::C),
            Self::Cut => cmd(Key::X),
            Self::Paste => cmd(Key::V),
            Self::Duplicate => cmd(Key::D),
            Self::Delete => plain(Key::Delete),
            Self::SelectAll => cmd(Key::A),
            Self::Run => plain(Key::F5),
            Self::Cancel => plain(Key::Escape),
            Self::ZoomToFit => plain(Key::Home),
            Self::AddBlock => Some(KeyboardShortcut::new(Modifiers::SHIFT, Key::A)),
            Self::ExportPython(_) | Self::CopyPython(_) => None,
        }
    }

    /// Whether the shortcut may fire while a text field has keyboard focus.
    #[must_use]
    pub fn works_in_text_fields(self) -> bool {
        matches!(
            self,
            Self::NewPage | Self::Open | Self::Save | Self::SaveAs | Self::Run | Self::CloseTab
        )
    }

    /// Reads this frame's shortcuts (consuming them) and returns the commands they trigger.
    pub fn from_shortcuts(ctx: &egui::Context) -> Vec<Self> {
        let text_focus = ctx.text_edit_focused();
        let mut out = Vec::new();
        // Longer shortcuts first, so Ctrl+Shift+S is not taken as Ctrl+S.
        let mut cmds: Vec<Self> = Self::ALL.to_vec();
        cmds.sort_by_key(|c| {
            std::cmp::Reverse(c.shortcut().map_or(0, |s| {
                usize::from(s.modifiers.shift) + usize::from(s.modifiers.command)
            }))
        });
        for c in cmds {
            let Some(sc) = c.shortcut() else { continue };
            if text_focus && !c.works_in_text_fields() {
                continue;
            }
            if ctx.input_mut(|i| i.consume_shortcut(&sc)) {
                out.push(c);
            }
        }
        out
    }

    /// A menu button for the command; returns true when clicked.
    pub fn menu_button(self, ui: &mut egui::Ui, enabled: bool) -> bool {
        let mut button = egui::Button::new(self.text());
        if let Some(sc) = self.shortcut() {
            button = button.shortcut_text(ui.ctx().format_shortcut(&sc));
        }
        ui.add_enabled(enabled, button)
            .on_hover_text(self.tooltip())
            .clicked()
    }
}
