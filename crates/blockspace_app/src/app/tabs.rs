//! Tabs: opening pages (files, the demo, new ones), closing and moving tabs.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use blockspace_graph::{BlockId, Page};

use crate::app::dialog::Dialog;
use crate::app::file_dialogs::title_for;
use crate::app::{BlockspaceApp, DEMO_PAGE, PageTab, TabId};

impl BlockspaceApp {
    fn alloc_uid(&mut self) -> TabId {
        let uid = TabId(self.next_uid);
        self.next_uid += 1;
        uid
    }

    pub(crate) fn push_tab(&mut self, title: String, page: Page, path: Option<PathBuf>) -> usize {
        let uid = self.alloc_uid();
        let memory = (&self.ledger, self.memory_budget().bytes);
        let mut tab = PageTab::new(uid, title, page, path, &self.registry, &self.ctx, memory);
        // Show a result at once: select the newest block that feeds nothing (a page's output).
        let feeds: BTreeSet<BlockId> = tab.page.wires().map(|w| w.from.block).collect();
        tab.selection = tab
            .page
            .blocks()
            .filter(|b| !feeds.contains(&b.id))
            .map(|b| b.id)
            .max()
            .into_iter()
            .collect();
        // Replace a pristine untitled tab rather than piling them up.
        if self.tabs.len() == 1
            && self.tabs[0].path.is_none()
            && self.tabs[0].page.blocks().next().is_none()
            && !self.tabs[0].history.can_undo()
        {
            self.tabs[0] = tab;
            self.active = 0;
            return 0;
        }
        self.tabs.push(tab);
        self.active = self.tabs.len() - 1;
        self.active
    }

    pub(crate) fn open_demo(&mut self) {
        match blockspace_graph::page_from_json(&self.registry, DEMO_PAGE, "demo page (built in)") {
            Ok(page) => {
                let idx = self.push_tab("demo".to_owned(), page, None);
                if let Some(t) = self.tabs.get_mut(idx) {
                    t.saved_revision = Some(t.page.revision());
                    t.auto_run = true;
                }
            }
            Err(e) => {
                self.new_page();
                self.error("The demo page could not be loaded", &e.to_string());
            }
        }
    }

    /// Opens a new empty page in a new tab.
    pub fn new_page(&mut self) {
        self.untitled += 1;
        let title = format!("Untitled {}", self.untitled);
        let page = Page::new(&title);
        let uid = self.alloc_uid();
        let memory = (&self.ledger, self.memory_budget().bytes);
        let tab = PageTab::new(uid, title, page, None, &self.registry, &self.ctx, memory);
        self.tabs.push(tab);
        self.active = self.tabs.len() - 1;
    }

    /// Opens a page file in a new tab (or shows the tab if it is open already). A file that
    /// fails to load shows the loader's error; nothing already open is touched.
    pub fn open_path(&mut self, path: &Path) -> bool {
        let canon = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        if let Some(i) = self.tabs.iter().position(|t| {
            t.path
                .as_ref()
                .is_some_and(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.clone()) == canon)
        }) {
            self.active = i;
            self.info(format!("{} is already open", path.display()));
            return true;
        }
        match blockspace_graph::load_page(&self.registry, path) {
            Ok(page) => {
                // Absolute, so relative .npy paths and Save As elsewhere resolve the same way.
                self.push_tab(title_for(path), page, Some(canon.clone()));
                self.recent.add(path);
                true
            }
            Err(e) => {
                self.error(
                    &format!("Could not open {}", path.display()),
                    &e.to_string(),
                );
                false
            }
        }
    }

    pub(crate) fn close_tab_now(&mut self, idx: usize) {
        if idx >= self.tabs.len() {
            return;
        }
        let tab = self.tabs.remove(idx);
        tab.executor.cancel();
        self.recovery.remove(tab.uid);
        if self.tabs.is_empty() {
            self.new_page();
        }
        self.active = self.active.min(self.tabs.len() - 1);
        if idx < self.active {
            self.active -= 1;
        }
    }

    pub(crate) fn request_close_tab(&mut self, idx: usize) {
        let Some(tab) = self.tabs.get(idx) else {
            return;
        };
        if tab.is_dirty() {
            self.active = idx;
            self.dialog = Some(Dialog::CloseTab { tab: tab.uid });
        } else {
            self.close_tab_now(idx);
        }
    }

    pub(crate) fn tab_index(&self, uid: TabId) -> Option<usize> {
        self.tabs.iter().position(|t| t.uid == uid)
    }

    /// Moves tab `from` to position `to` (the others shift), keeping the same tab active.
    pub fn move_tab(&mut self, from: usize, to: usize) {
        if from >= self.tabs.len() || to >= self.tabs.len() || from == to {
            return;
        }
        let active = self.tabs.get(self.active).map(|t| t.uid);
        let tab = self.tabs.remove(from);
        self.tabs.insert(to, tab);
        if let Some(i) = active.and_then(|uid| self.tabs.iter().position(|t| t.uid == uid)) {
            self.active = i;
        }
    }
}
