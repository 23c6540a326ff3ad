//! [`AppCommand`]: the one intent queue. Menus, shortcuts, the canvas, the panels and the modals
//! only push commands; [`BlockspaceApp::drain_commands`](crate::BlockspaceApp) applies them once
//! per frame, after everything is drawn (`command_handling.rs`).

use std::path::PathBuf;

use blockspace_graph::{BlockId, InPort, OutPort};

use crate::app::dialog::Dialog;
use crate::app::file_dialogs::DialogAnswer;
pub use crate::app::page_tab::Edit;
use crate::app::page_tab::TabId;
use crate::app::recovery::Recovered;
use crate::ui::ui_command::UiCommand;

/// Where the add-block search window opens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AddMenuAt {
    /// Under the toolbar's "Add block" button; the block goes to a free spot near the middle
    /// of the view.
    Toolbar,
    /// At this screen position on the canvas; the block goes there.
    Pointer(egui::Pos2),
}

/// Something the user (or a finished file dialog) asks the app to do.
#[derive(Clone, Debug)]
pub enum AppCommand {
    /// A menu, toolbar or keyboard command.
    Ui(UiCommand),
    /// Apply an edit to the active page (through its history; a refusal becomes a toast).
    Edit(Edit),
    /// Add a block of `type_id` at `pos` (graph coordinates) to the active page, wired to a
    /// dragged-out pin if any, and select it.
    AddBlock {
        /// Registry type id.
        type_id: String,
        /// Graph position.
        pos: [f32; 2],
        /// Wire this output into the new block's input that accepts its dtype.
        from: Option<OutPort>,
        /// Wire the new block's first output into this input.
        to: Option<InPort>,
    },
    /// Open the add-block search window.
    OpenAddMenu(AddMenuAt),
    /// Delete these blocks of the active page.
    Delete(Vec<BlockId>),
    /// Duplicate these blocks of the active page.
    Duplicate(Vec<BlockId>),
    /// Copy these blocks of the active page.
    Copy(Vec<BlockId>),
    /// Select only this block and focus its name in the inspector.
    RenameBlock(BlockId),
    /// Paste text from the system clipboard (our blocks, or page text from elsewhere).
    PasteText(String),
    /// Open a file dialog to pick the file of a path attribute.
    PickAttrPath {
        /// The tab.
        tab: TabId,
        /// The block.
        block: BlockId,
        /// The attribute.
        attr: String,
    },
    /// Open a file dialog to export the viewer's tensor as `.npy`, suggesting `file_name`.
    ExportNpy {
        /// The suggested file name.
        file_name: String,
    },
    /// Open a file dialog to pick a `.npy` file the viewer compares its result with.
    PickReferenceNpy,
    /// Compare the viewer's result with this `.npy` file.
    LoadReference(PathBuf),
    /// A native file dialog answered.
    FileDialogAnswer(DialogAnswer),
    /// Open a page file (or show its tab).
    OpenPath(PathBuf),
    /// Open a recent file; forget it when it no longer opens.
    OpenRecent(PathBuf),
    /// Open the built-in demo page.
    OpenDemo,
    /// Save the active page to this path (`.bspage.json` is added when missing).
    SaveActiveTo(PathBuf),
    /// Show the tab at this index.
    ActivateTab(usize),
    /// Move the tab at `from` to `to`.
    MoveTab {
        /// Index now.
        from: usize,
        /// Index after.
        to: usize,
    },
    /// Close the tab at this index (asks first when it has unsaved changes).
    CloseTab(usize),
    /// Close this tab now, unsaved changes or not.
    CloseTabNow(TabId),
    /// Save this tab (Save As when it has no file), then close it.
    SaveAndCloseTab(TabId),
    /// Rename a tab (and its page).
    RenameTab {
        /// The tab.
        tab: TabId,
        /// The new title.
        title: String,
    },
    /// Run the active page after every change, or not.
    SetAutoRun(bool),
    /// Set the memory budget of runs (kept in the state folder), or `None` to go back to
    /// `BLOCKSPACE_MEMORY_LIMIT` or the machine's default. Every page is planned again.
    SetMemoryLimit(Option<u64>),
    /// Show a modal dialog.
    ShowDialog(Dialog),
    /// Close the modal dialog.
    CloseDialog,
    /// Restore these pages from the recovery folder.
    Restore(Vec<Recovered>),
    /// Delete the recovery pages that were offered.
    DiscardRecovery,
    /// Save every page with unsaved changes, then quit.
    SaveAllAndQuit,
    /// Quit, dropping unsaved changes.
    QuitWithoutSaving,
    /// Close the window (asks first when there are unsaved changes).
    Quit,
}
