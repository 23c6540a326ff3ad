//! Page edits of the active tab: each builds its command with the graph crate's edit functions
//! (`blockspace_graph::edit`) and applies it through the tab's history. Refusals become toasts.

use std::sync::Arc;

use blockspace_graph::{AttrValue, AutoWire, BlockId, Command, InPort, OutPort, Page};

use crate::app::{BlockspaceApp, Edit};

impl BlockspaceApp {
    /// Applies an edit to the active page (through its history); errors become toasts.
    pub fn apply_edit(&mut self, edit: Edit) -> bool {
        let reg = Arc::clone(&self.registry);
        let Some(tab) = self.tabs.get_mut(self.active) else {
            return false;
        };
        match tab.apply(&reg, edit) {
            Ok(()) => true,
            Err(e) => {
                self.toast_error(e.to_string());
                false
            }
        }
    }

    /// Adds a block of `type_id` at `pos`, optionally wired; selects it. Returns its id.
    pub fn add_block(
        &mut self,
        type_id: &str,
        pos: [f32; 2],
        from: Option<OutPort>,
        to: Option<InPort>,
    ) -> Option<BlockId> {
        let reg = Arc::clone(&self.registry);
        let tab = self.tabs.get_mut(self.active)?;
        // The dtype flowing out of a dragged output picks the input it goes into.
        let from_dtype = from.and_then(|from| {
            tab.block_check(&reg, from.block)
                .and_then(Result::ok)
                .and_then(|metas| metas.get(from.port).map(|m| m.dtype))
        });
        let wire = AutoWire {
            from,
            from_dtype,
            to,
        };
        let (cmd, block) = match tab.page.add_block_wired(&reg, type_id, pos, wire) {
            Ok(c) => c,
            Err(e) => {
                self.toast_error(format!("Add block: {e}"));
                return None;
            }
        };
        let display = reg
            .get(type_id)
            .map_or(type_id, |d| d.display_name)
            .to_owned();
        if self.apply_edit(Edit::new(format!("Add {display}"), cmd)) {
            if let Some(tab) = self.tab_mut() {
                tab.selection = [block.id].into_iter().collect();
            }
            Some(block.id)
        } else {
            None
        }
    }

    /// Connects an output to an input of the active page (replacing the input's wire).
    pub fn connect(&mut self, from: OutPort, to: InPort) -> bool {
        let Some(tab) = self.tab() else { return false };
        let (cmd, _) = tab.page.connect_replacing(from, to);
        self.apply_edit(Edit::new("Connect", cmd))
    }

    /// Sets one attribute of a block of the active page.
    pub fn set_attr(&mut self, block: BlockId, attr: &str, value: AttrValue) -> bool {
        self.apply_edit(Edit::new(
            format!("Set {attr}"),
            Command::SetAttr {
                block,
                attr: attr.to_owned(),
                value,
            },
        ))
    }

    pub(crate) fn delete(&mut self, ids: &[BlockId]) {
        if ids.is_empty() {
            return;
        }
        let cmds: Vec<Command> = ids
            .iter()
            .map(|id| Command::RemoveBlock { id: *id })
            .collect();
        let label = if ids.len() == 1 {
            "Delete block".to_owned()
        } else {
            format!("Delete {} blocks", ids.len())
        };
        if self.apply_edit(Edit::new(label, Command::Batch(cmds)))
            && let Some(tab) = self.tab_mut()
        {
            tab.selection.clear();
        }
    }

    pub(crate) fn copy(&mut self, ids: &[BlockId]) {
        let Some(tab) = self.tab() else { return };
        if ids.is_empty() {
            return;
        }
        let clip = tab.page.copy_blocks(ids);
        let source = tab.page.id();
        // Also as page text on the system clipboard: the window system turns Ctrl+V into a
        // paste event only when the clipboard holds text, and other Blockspace windows (or a
        // text editor) can take the blocks from there.
        let mut scratch = Page::new("clipboard");
        let (cmd, _) = scratch.paste_command(&self.registry, &clip, [0.0, 0.0]);
        match scratch.apply(&self.registry, cmd) {
            Ok(_) => {
                let text = blockspace_graph::page_to_json(&self.registry, &scratch);
                self.ctx.copy_text(text.clone());
                self.clipboard_text = Some(text);
            }
            Err(e) => log::warn!("the copied blocks could not be put on the system clipboard: {e}"),
        }
        self.clipboard = Some((Some(source), clip));
        self.info(format!("Copied {} block(s)", ids.len()));
    }

    /// Pastes text from the system clipboard: our own copy pastes the copied blocks; page text
    /// from elsewhere (another window) pastes its blocks.
    pub(crate) fn paste_text(&mut self, text: &str) {
        if self.clipboard_text.as_deref() == Some(text) || text.trim().is_empty() {
            self.paste();
            return;
        }
        match blockspace_graph::page_from_json(&self.registry, text, "the clipboard") {
            Ok(page) => {
                let ids: Vec<BlockId> = page.blocks().map(|b| b.id).collect();
                self.clipboard = Some((None, page.copy_blocks(&ids)));
                self.clipboard_text = Some(text.to_owned());
                self.paste();
            }
            // Not blocks: paste what was copied in this window, if anything.
            Err(_) => self.paste(),
        }
    }

    pub(crate) fn paste(&mut self) {
        let Some((source, clip)) = &self.clipboard else {
            self.info("Nothing to paste: copy blocks first".to_owned());
            return;
        };
        let reg = Arc::clone(&self.registry);
        let Some(tab) = self.tabs.get(self.active) else {
            return;
        };
        let was_empty = tab.page.blocks().next().is_none();
        let (cmd, ids) = tab.page.paste_here(&reg, clip, *source);
        let label = format!("Paste {} block(s)", ids.len());
        if self.apply_edit(Edit::new(label, cmd))
            && let Some(tab) = self.tab_mut()
        {
            tab.selection = ids.into_iter().collect();
            if was_empty {
                // Bring the pasted blocks into view (once their sizes are known).
                tab.fit_in_frames = Some(2);
            }
        }
    }

    pub(crate) fn duplicate(&mut self, ids: &[BlockId]) {
        let reg = Arc::clone(&self.registry);
        let Some(tab) = self.tabs.get(self.active) else {
            return;
        };
        if ids.is_empty() {
            return;
        }
        let (cmd, new_ids) = tab.page.duplicate_command(&reg, ids);
        if self.apply_edit(Edit::new(format!("Duplicate {} block(s)", ids.len()), cmd))
            && let Some(tab) = self.tab_mut()
        {
            tab.selection = new_ids.into_iter().collect();
        }
    }
}
