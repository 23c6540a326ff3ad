//! [`Dialog`]: which modal dialog is open, and its state (drawn by `ui/modals.rs`).

use crate::app::page_tab::TabId;
use crate::app::recovery::Recovered;

/// A modal dialog.
#[derive(Clone, Debug)]
pub enum Dialog {
    /// A message (e.g. a file failed to load).
    Error {
        /// The heading.
        title: String,
        /// The message.
        message: String,
    },
    /// Close this tab? It has unsaved changes.
    CloseTab {
        /// The tab.
        tab: TabId,
    },
    /// Quit? Some tabs have unsaved changes.
    Quit,
    /// Restore pages from the last session?
    Restore {
        /// The pages offered.
        pages: Vec<Recovered>,
    },
    /// Rename the tab.
    RenameTab {
        /// The tab.
        tab: TabId,
        /// The text typed so far.
        text: String,
    },
    /// The memory budget of runs: what is in effect and where from, and a new limit.
    MemoryLimit {
        /// The size typed so far (e.g. `4GiB`).
        text: String,
        /// Why the text is not a size, once "Set" was pressed.
        error: Option<String>,
    },
    /// Type a path (for machines without a native file dialog).
    PathPrompt {
        /// Save the active page there (else open it).
        save_as: bool,
        /// The text typed so far.
        text: String,
    },
}
