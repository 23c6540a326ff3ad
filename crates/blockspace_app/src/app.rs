//! The eframe app: menus, page tabs, canvas, inspector, viewer, status bar, dialogs.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use blockspace_graph::{
    AttrValue, BlockId, Clipboard, Command, Framework, InPort, OutPort, Page, PortLayout, Registry,
    TensorMeta, Wire,
};
use egui::{Color32, RichText};
use egui_snarl::ui::SnarlWidget;

use crate::canvas::{CanvasRequest, CanvasViewer, Edit, add_block_list, snarl_style};
use crate::files::{DialogAnswer, DialogPurpose, Dialogs, Recent, Recovery, title_for};
use crate::page_tab::{PageTab, fmt_duration};
use crate::panels::inspector::{Inspector, InspectorRequest};
use crate::panels::tensor_viewer::{Stats, TensorViewer, ViewTensor, ViewerAction, axis_names};
use crate::ui_command::UiCommand;

/// The demo page shown at start-up (embedded at build time).
pub const DEMO_PAGE: &str = include_str!("../../../assets/demo.bspage.json");

/// How the app starts.
#[derive(Clone, Debug, Default)]
pub struct AppOptions {
    /// Page files to open. When empty, the demo page opens.
    pub pages: Vec<PathBuf>,
    /// Where recent files and recovery files live (`None`: the default state directory;
    /// tests pass a temporary directory).
    pub state_dir: Option<PathBuf>,
    /// Do not offer to restore recovery files (tests).
    pub no_recovery_offer: bool,
}

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

/// A modal dialog.
#[derive(Clone, Debug)]
enum Dialog {
    /// A message (e.g. a file failed to load).
    Error { title: String, message: String },
    /// Close this tab? It has unsaved changes.
    CloseTab { tab: u64 },
    /// Quit? Some tabs have unsaved changes.
    Quit,
    /// Restore pages from the last session?
    Restore { pages: Vec<crate::files::Recovered> },
    /// Rename the tab.
    RenameTab { tab: u64, text: String },
    /// Type a path (for machines without a native file dialog).
    PathPrompt { save_as: bool, text: String },
}

/// The Blockspace desktop app.
pub struct BlockspaceApp {
    registry: Arc<Registry>,
    ctx: egui::Context,
    /// Open pages.
    pub tabs: Vec<PageTab>,
    /// Index of the shown tab.
    pub active: usize,
    next_uid: u64,
    untitled: u64,
    clipboard: Option<(u64, Clipboard)>,
    clipboard_text: Option<String>,
    /// The viewer panel.
    pub viewer: TensorViewer,
    view_cache: Option<(u64, ViewTensor)>,
    view_job: Option<(u64, std::sync::mpsc::Receiver<ViewTensor>)>,
    inspector: Inspector,
    inspected: Option<(u64, BlockId)>,
    toasts: Vec<Toast>,
    dialog: Option<Dialog>,
    /// The tab being dragged to a new place in the tab bar.
    tab_drag: Option<usize>,
    dialog_gen: u64,
    dialogs: Dialogs,
    recent: Recent,
    recovery: Recovery,
    last_autosave: Instant,
    add_search: String,
    add_menu_open: bool,
    quitting: bool,
    last_title: String,
    pointer_was_down: bool,
    /// Statistics of recent frames (for the status bar and benchmarks): last frame's UI time.
    pub last_frame_time: Duration,
}

const AUTOSAVE_EVERY: Duration = Duration::from_secs(20);
/// Tensors up to this many elements are prepared for the viewer on the UI thread (a few ms).
const VIEW_INLINE_MAX: usize = 1 << 21;

impl BlockspaceApp {
    /// Creates the app; opens `options.pages`, or the demo page when there are none.
    pub fn new(ctx: &egui::Context, options: AppOptions) -> Self {
        let registry = Arc::new(Registry::builtin());
        let state_dir = options
            .state_dir
            .clone()
            .or_else(crate::files::default_state_dir);
        let mut app = Self {
            registry,
            ctx: ctx.clone(),
            tabs: Vec::new(),
            active: 0,
            next_uid: 1,
            untitled: 0,
            clipboard: None,
            clipboard_text: None,
            viewer: TensorViewer::default(),
            view_cache: None,
            view_job: None,
            inspector: Inspector::default(),
            inspected: None,
            toasts: Vec::new(),
            dialog: None,
            tab_drag: None,
            dialog_gen: 0,
            dialogs: Dialogs::default(),
            recent: Recent::load(state_dir.as_deref()),
            recovery: Recovery::new(state_dir.as_deref()),
            last_autosave: Instant::now(),
            add_search: String::new(),
            add_menu_open: false,
            quitting: false,
            last_title: String::new(),
            pointer_was_down: false,
            last_frame_time: Duration::ZERO,
        };
        crate::style::apply(ctx);
        for p in &options.pages {
            app.open_path(p);
        }
        if app.tabs.is_empty() {
            app.open_demo();
        }
        if !options.no_recovery_offer {
            let pages = app.recovery.list();
            if !pages.is_empty() {
                app.dialog = Some(Dialog::Restore { pages });
            }
        }
        app
    }

    /// The registry.
    #[must_use]
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    fn alloc_uid(&mut self) -> u64 {
        let uid = self.next_uid;
        self.next_uid += 1;
        uid
    }

    fn push_tab(&mut self, title: String, page: Page, path: Option<PathBuf>) -> usize {
        let uid = self.alloc_uid();
        let mut tab = PageTab::new(uid, title, page, path, &self.registry, &self.ctx);
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

    fn open_demo(&mut self) {
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
        let tab = PageTab::new(uid, title, page, None, &self.registry, &self.ctx);
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

    /// Saves tab `idx` to `path`. Errors are shown in a dialog.
    pub fn save_tab_to(&mut self, idx: usize, path: &Path) -> bool {
        let reg = Arc::clone(&self.registry);
        let Some(tab) = self.tabs.get_mut(idx) else {
            return false;
        };
        // Saving into another folder keeps relative .npy paths pointing at the same files.
        let old_dir = tab.base_dir().or_else(|| std::env::current_dir().ok());
        let new_dir = match path.parent().filter(|d| !d.as_os_str().is_empty()) {
            Some(d) => std::fs::canonicalize(d).ok(),
            None => std::env::current_dir().ok(),
        };
        if let (Some(old), Some(new)) = (old_dir, new_dir)
            && old != new
        {
            let cmd = blockspace_graph::file::rebase_paths_command(&reg, &tab.page, &old, &new);
            if !matches!(&cmd, Command::Batch(c) if c.is_empty())
                && let Err(e) = tab.apply(
                    &reg,
                    Edit {
                        label: "Rebase .npy paths".into(),
                        cmd,
                    },
                )
            {
                self.error("Could not rebase the .npy paths", &e);
                return false;
            }
        }
        let Some(tab) = self.tabs.get_mut(idx) else {
            return false;
        };
        match blockspace_graph::save_page(&tab.page, path) {
            Ok(()) => {
                tab.path = Some(std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()));
                tab.saved_revision = Some(tab.page.revision());
                tab.title = title_for(path);
                let uid = tab.uid;
                self.recovery.remove(uid);
                self.recent.add(path);
                self.info(format!("Saved {}", path.display()));
                true
            }
            Err(e) => {
                self.error(
                    &format!("Could not save {}", path.display()),
                    &e.to_string(),
                );
                false
            }
        }
    }

    fn save_active(&mut self, save_as: bool, close_after: bool) {
        let Some(tab) = self.tabs.get(self.active) else {
            return;
        };
        match (&tab.path, save_as) {
            (Some(p), false) => {
                let p = p.clone();
                if self.save_tab_to(self.active, &p) && close_after {
                    self.close_tab_now(self.active);
                }
            }
            _ => {
                let purpose = DialogPurpose::SaveAs {
                    tab: tab.uid,
                    close_after,
                };
                let dir = tab.base_dir().or_else(|| {
                    self.recent
                        .paths
                        .first()
                        .and_then(|p| p.parent().map(Path::to_path_buf))
                });
                let name = format!("{}{}", tab.title, crate::files::PAGE_SUFFIX);
                if let Err(e) = self.dialogs.spawn(&self.ctx, purpose, dir, Some(name)) {
                    self.error("Save As", &e);
                }
            }
        }
    }

    fn close_tab_now(&mut self, idx: usize) {
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

    fn request_close_tab(&mut self, idx: usize) {
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

    fn tab_index(&self, uid: u64) -> Option<usize> {
        self.tabs.iter().position(|t| t.uid == uid)
    }

    fn error(&mut self, title: &str, message: &str) {
        log::error!("{title}: {message}");
        self.dialog = Some(Dialog::Error {
            title: title.to_owned(),
            message: message.to_owned(),
        });
        self.dialog_gen += 1;
    }

    fn toast_error(&mut self, text: String) {
        log::warn!("{text}");
        self.toasts.push(Toast {
            text,
            level: Level::Error,
            until: Instant::now() + Duration::from_secs(8),
        });
    }

    fn info(&mut self, text: String) {
        log::info!("{text}");
        self.toasts.push(Toast {
            text,
            level: Level::Info,
            until: Instant::now() + Duration::from_secs(3),
        });
    }

    /// The active tab.
    #[must_use]
    pub fn tab(&self) -> Option<&PageTab> {
        self.tabs.get(self.active)
    }

    /// The active tab, mutably.
    pub fn tab_mut(&mut self) -> Option<&mut PageTab> {
        self.tabs.get_mut(self.active)
    }

    /// Applies an edit to the active page (through its history); errors become toasts.
    pub fn apply_edit(&mut self, edit: Edit) -> bool {
        let reg = Arc::clone(&self.registry);
        let Some(tab) = self.tabs.get_mut(self.active) else {
            return false;
        };
        match tab.apply(&reg, edit) {
            Ok(()) => true,
            Err(e) => {
                self.toast_error(e);
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
        let cmd = match tab.page.add_block_command(&reg, type_id, pos) {
            Ok(c) => c,
            Err(e) => {
                self.toast_error(format!("Add block: {e}"));
                return None;
            }
        };
        let Command::AddBlock { block } = &cmd else {
            return None;
        };
        let id = block.id;
        let display = reg
            .get(type_id)
            .map_or(type_id, |d| d.display_name)
            .to_owned();
        let mut cmds = vec![cmd.clone()];
        if let Some(from) = from {
            // The first input that accepts the dragged tensor's dtype.
            let dtype = tab
                .block_check(&reg, from.block)
                .and_then(Result::ok)
                .and_then(|metas| metas.get(from.port).map(|m| m.dtype));
            let port = reg
                .get(type_id)
                .and_then(|d| {
                    d.inputs
                        .iter()
                        .position(|p| dtype.is_some_and(|t| p.dtypes.contains(&t)))
                })
                .unwrap_or(0);
            cmds.push(Command::Connect {
                wire: Wire {
                    from,
                    to: InPort { block: id, port },
                },
            });
        }
        if let Some(to) = to {
            for w in tab.page.wires().filter(|w| w.to == to) {
                cmds.push(Command::Disconnect { wire: *w });
            }
            cmds.push(Command::Connect {
                wire: Wire {
                    from: OutPort { block: id, port: 0 },
                    to,
                },
            });
        }
        let cmd = if cmds.len() == 1 {
            cmd
        } else {
            Command::Batch(cmds)
        };
        if self.apply_edit(Edit {
            label: format!("Add {display}"),
            cmd,
        }) {
            if let Some(tab) = self.tab_mut() {
                tab.selection = [id].into_iter().collect();
            }
            Some(id)
        } else {
            None
        }
    }

    /// Connects an output to an input of the active page (replacing the input's wire).
    pub fn connect(&mut self, from: OutPort, to: InPort) -> bool {
        let Some(tab) = self.tab() else { return false };
        let mut cmds: Vec<Command> = tab
            .page
            .wires()
            .filter(|w| w.to == to)
            .map(|w| Command::Disconnect { wire: *w })
            .collect();
        cmds.push(Command::Connect {
            wire: Wire { from, to },
        });
        self.apply_edit(Edit {
            label: "Connect".into(),
            cmd: Command::Batch(cmds),
        })
    }

    /// Sets one attribute of a block of the active page.
    pub fn set_attr(&mut self, block: BlockId, attr: &str, value: AttrValue) -> bool {
        self.apply_edit(Edit {
            label: format!("Set {attr}"),
            cmd: Command::SetAttr {
                block,
                attr: attr.to_owned(),
                value,
            },
        })
    }

    fn delete(&mut self, ids: &[BlockId]) {
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
        if self.apply_edit(Edit {
            label,
            cmd: Command::Batch(cmds),
        }) && let Some(tab) = self.tab_mut()
        {
            tab.selection.clear();
        }
    }

    fn copy(&mut self, ids: &[BlockId]) {
        let Some(tab) = self.tab() else { return };
        if ids.is_empty() {
            return;
        }
        let clip = tab.page.copy_blocks(ids);
        let uid = tab.uid;
        // Also as page text on the system clipboard: the window system turns Ctrl+V into a
        // paste event only when the clipboard holds text, and other Blockspace windows (or a
        // text editor) can take the blocks from there.
        let mut scratch = Page::new("clipboard");
        let (cmd, _) = scratch.paste_command(&self.registry, &clip, [0.0, 0.0]);
        match scratch.apply(&self.registry, cmd) {
            Ok(_) => {
                let text = blockspace_graph::page_to_json(&scratch);
                self.ctx.copy_text(text.clone());
                self.clipboard_text = Some(text);
            }
            Err(e) => log::warn!("the copied blocks could not be put on the system clipboard: {e}"),
        }
        self.clipboard = Some((uid, clip));
        self.info(format!("Copied {} block(s)", ids.len()));
    }

    /// Pastes text from the system clipboard: our own copy pastes the copied blocks; page text
    /// from elsewhere (another window) pastes its blocks.
    fn paste_text(&mut self, text: &str) {
        if self.clipboard_text.as_deref() == Some(text) || text.trim().is_empty() {
            self.paste();
            return;
        }
        match blockspace_graph::page_from_json(&self.registry, text, "the clipboard") {
            Ok(page) => {
                let ids: Vec<BlockId> = page.blocks().map(|b| b.id).collect();
                self.clipboard = Some((0, page.copy_blocks(&ids)));
                self.clipboard_text = Some(text.to_owned());
                self.paste();
            }
            // Not blocks: paste what was copied in this window, if anything.
            Err(_) => self.paste(),
        }
    }

    fn paste(&mut self) {
        let Some((src, clip)) = &self.clipboard else {
            self.info("Nothing to paste: copy blocks first".to_owned());
            return;
        };
        let reg = Arc::clone(&self.registry);
        let Some(tab) = self.tabs.get(self.active) else {
            return;
        };
        let offset = if *src == tab.uid {
            [40.0, 40.0]
        } else {
            [0.0, 0.0]
        };
        let was_empty = tab.page.blocks().next().is_none();
        let (cmd, ids) = tab.page.paste_command(&reg, clip, offset);
        let label = format!("Paste {} block(s)", ids.len());
        if self.apply_edit(Edit { label, cmd })
            && let Some(tab) = self.tab_mut()
        {
            tab.selection = ids.into_iter().collect();
            if was_empty {
                // Bring the pasted blocks into view (once their sizes are known).
                tab.fit_in_frames = Some(2);
            }
        }
    }

    fn duplicate(&mut self, ids: &[BlockId]) {
        let reg = Arc::clone(&self.registry);
        let Some(tab) = self.tabs.get(self.active) else {
            return;
        };
        if ids.is_empty() {
            return;
        }
        let clip = tab.page.copy_blocks(ids);
        let (cmd, new_ids) = tab.page.paste_command(&reg, &clip, [40.0, 40.0]);
        if self.apply_edit(Edit {
            label: format!("Duplicate {} block(s)", ids.len()),
            cmd,
        }) && let Some(tab) = self.tab_mut()
        {
            tab.selection = new_ids.into_iter().collect();
        }
    }

    /// Runs a UI command.
    pub fn run_command(&mut self, c: UiCommand) {
        let reg = Arc::clone(&self.registry);
        let selection: Vec<BlockId> = self
            .tab()
            .map(|t| t.selection.iter().copied().collect())
            .unwrap_or_default();
        match c {
            UiCommand::NewPage => self.new_page(),
            UiCommand::Open => {
                let dir = self.tab().and_then(PageTab::base_dir);
                if let Err(e) = self
                    .dialogs
                    .spawn(&self.ctx, DialogPurpose::Open, dir, None)
                {
                    self.error("Open", &e);
                }
            }
            UiCommand::Save => self.save_active(false, false),
            UiCommand::SaveAs => self.save_active(true, false),
            UiCommand::CloseTab => self.request_close_tab(self.active),
            UiCommand::Undo => {
                if let Some(tab) = self.tabs.get_mut(self.active) {
                    match tab.undo(&reg) {
                        Some(l) => self.info(format!("Undid {l}")),
                        None => self.info("Nothing to undo".to_owned()),
                    }
                }
            }
            UiCommand::Redo => {
                if let Some(tab) = self.tabs.get_mut(self.active) {
                    match tab.redo(&reg) {
                        Some(l) => self.info(format!("Redid {l}")),
                        None => self.info("Nothing to redo".to_owned()),
                    }
                }
            }
            UiCommand::Copy => self.copy(&selection),
            UiCommand::Cut => {
                self.copy(&selection);
                self.delete(&selection);
            }
            UiCommand::Paste => self.paste(),
            UiCommand::Duplicate => self.duplicate(&selection),
            UiCommand::Delete => self.delete(&selection),
            UiCommand::SelectAll => {
                if let Some(tab) = self.tab_mut() {
                    tab.selection = tab.page.blocks().map(|b| b.id).collect();
                }
            }
            UiCommand::Run => {
                if let Some(tab) = self.tab_mut() {
                    tab.run_now();
                }
            }
            UiCommand::Cancel => {
                if let Some(tab) = self.tab() {
                    tab.executor.cancel();
                }
            }
            UiCommand::ZoomToFit => {
                if let Some(tab) = self.tab_mut() {
                    tab.fit_in_frames = Some(0);
                }
            }
            UiCommand::AddBlock => self.add_menu_open = true,
            UiCommand::ExportPython(framework) => {
                let Some(tab) = self.tab() else { return };
                let purpose = DialogPurpose::ExportPython {
                    tab: tab.uid,
                    framework,
                };
                let name = format!("{}_{}.py", tab.title, framework.as_str());
                let dir = tab.base_dir();
                if let Err(e) = self.dialogs.spawn(&self.ctx, purpose, dir, Some(name)) {
                    self.error("Export as Python", &e);
                }
            }
            UiCommand::CopyPython(framework) => self.copy_python(&selection, framework),
        }
    }

    /// Writes the tab with uid `tab` as a Python script for `framework` to `path` (and its
    /// `.npy` inputs beside it); says so in a toast, or shows why not.
    pub fn export_python(&mut self, tab: u64, framework: Framework, path: &Path) {
        let Some(idx) = self.tab_index(tab) else {
            return;
        };
        let t = &self.tabs[idx];
        let opts = blockspace_graph::ExportOptions::script(framework, path);
        let result =
            blockspace_graph::export_page(&self.registry, &t.page, t.base_dir().as_deref(), &opts)
                .and_then(|e| blockspace_graph::write_export(&e, path).map(|()| e.files.len()));
        match result {
            Ok(files) => self.info(format!(
                "Exported {} for {framework}{}",
                path.display(),
                if files > 0 {
                    format!(" ({files} input file(s) beside it)")
                } else {
                    String::new()
                }
            )),
            Err(e) => self.error(
                &format!("Could not export {}", path.display()),
                &e.to_string(),
            ),
        }
    }

    /// Copies `ids` (and the blocks they read) as a Python snippet for `framework`.
    fn copy_python(&mut self, ids: &[BlockId], framework: Framework) {
        let Some(tab) = self.tab() else { return };
        let opts = blockspace_graph::ExportOptions::snippet(framework, ids.to_vec());
        match blockspace_graph::export_page(
            &self.registry,
            &tab.page,
            tab.base_dir().as_deref(),
            &opts,
        ) {
            Ok(e) => {
                self.ctx.copy_text(e.script);
                self.info(format!(
                    "Copied {} block(s) as Python ({framework})",
                    ids.len()
                ));
            }
            Err(e) => self.error("Copy as Python", &e.to_string()),
        }
    }

    fn command_enabled(&self, c: UiCommand) -> bool {
        let Some(tab) = self.tab() else {
            return matches!(c, UiCommand::NewPage | UiCommand::Open);
        };
        match c {
            UiCommand::Undo => tab.history.can_undo(),
            UiCommand::Redo => tab.history.can_redo(),
            UiCommand::Copy | UiCommand::Cut | UiCommand::Duplicate | UiCommand::Delete => {
                !tab.selection.is_empty()
            }
            UiCommand::Paste => self.clipboard.is_some(),
            UiCommand::CopyPython(_) => !tab.selection.is_empty(),
            UiCommand::Cancel => tab.executor.is_running(),
            _ => true,
        }
    }

    fn handle_dialog_answer(&mut self, a: DialogAnswer) {
        let Some(first) = a.paths.first().cloned() else {
            if a.open_for < Duration::from_millis(300) {
                self.toast_error(
                    "No system file dialog could be opened here; use File → Open by path… or \
                     File → Save to path…"
                        .to_owned(),
                );
            }
            return;
        };
        match a.purpose {
            DialogPurpose::Open => {
                for p in &a.paths {
                    self.open_path(p);
                }
            }
            DialogPurpose::SaveAs { tab, close_after } => {
                if let Some(idx) = self.tab_index(tab)
                    && self.save_tab_to(idx, &first)
                    && close_after
                {
                    self.close_tab_now(idx);
                }
                if self.quitting {
                    self.ctx.send_viewport_cmd(egui::ViewportCommand::Close);
                }
            }
            DialogPurpose::ExportNpy => self.export_npy(&first),
            DialogPurpose::ExportPython { tab, framework } => {
                self.export_python(tab, framework, &first);
            }
            DialogPurpose::AttrPath { tab, block, attr } => {
                if let Some(idx) = self.tab_index(tab) {
                    let base = self.tabs[idx].base_dir();
                    // Stored relative to the page file, so the page folder can move.
                    let value = match base {
                        Some(b) => blockspace_graph::file::relative_path(&b, &first),
                        None => first.clone(),
                    }
                    .to_string_lossy()
                    .replace('\\', "/");
                    self.active = idx;
                    self.set_attr(BlockId(block), &attr, AttrValue::Str(value));
                }
            }
        }
    }

    fn selected_tensor(&self) -> Option<(BlockId, blockspace_graph::Tensor)> {
        let tab = self.tab()?;
        let id = *tab.selection.iter().next_back()?;
        let res = tab.executor.result(id)?;
        let outputs = res.outputs.as_ref().ok()?;
        let t = outputs.get(tab.viewer_output).or_else(|| outputs.first())?;
        Some((id, t.clone()))
    }

    /// Writes the selected block's shown output to `path` as `.npy` (in its own dtype).
    pub fn export_npy(&mut self, path: &Path) {
        let Some((_, t)) = self.selected_tensor() else {
            self.toast_error("Nothing to export: the selected block has no result".to_owned());
            return;
        };
        match t.write_npy(path) {
            Ok(()) => self.info(format!("Exported {}", path.display())),
            Err(e) => self.error(
                &format!("Could not export {}", path.display()),
                &e.to_string(),
            ),
        }
    }

    fn autosave(&mut self) {
        if self.last_autosave.elapsed() < AUTOSAVE_EVERY {
            return;
        }
        self.last_autosave = Instant::now();
        self.write_recovery();
    }

    /// Writes recovery files for every tab with unsaved changes (and removes the others').
    pub fn write_recovery(&mut self) {
        let mut problems = Vec::new();
        for t in &self.tabs {
            if t.is_dirty() {
                let json = blockspace_graph::page_to_json(&t.page);
                if let Err(e) = self
                    .recovery
                    .write(t.uid, &t.title, t.path.as_deref(), &json)
                {
                    problems.push(e);
                }
            } else {
                self.recovery.remove(t.uid);
            }
        }
        for p in problems {
            self.toast_error(format!("Autosave failed: {p}"));
        }
    }

    fn restore(&mut self, pages: &[crate::files::Recovered]) {
        for r in pages {
            match blockspace_graph::load_page(&self.registry, &r.file) {
                Ok(page) => {
                    let idx = self.push_tab(r.title.clone(), page, r.origin.clone());
                    if let Some(t) = self.tabs.get_mut(idx) {
                        // Restored work is unsaved work.
                        t.saved_revision = None;
                    }
                    self.recovery.forget(&r.file);
                }
                // The file stays, and is offered again next time.
                Err(e) => self.error("Could not restore a page", &e.to_string()),
            }
        }
        self.recovery.release_orphans();
        self.write_recovery();
    }

    /// A frame of logic: shortcuts, dialogs, executor events, auto-run, autosave.
    fn logic(&mut self, ctx: &egui::Context) {
        if self.dialog.is_none() && !self.add_menu_open {
            for c in UiCommand::from_shortcuts(ctx) {
                self.run_command(c);
            }
            // Ctrl+C/X/V arrive as clipboard events from the window system.
            if !ctx.text_edit_focused() {
                let events = ctx.input(|i| i.events.clone());
                for e in events {
                    match e {
                        egui::Event::Copy => self.run_command(UiCommand::Copy),
                        egui::Event::Cut => self.run_command(UiCommand::Cut),
                        egui::Event::Paste(text) => self.paste_text(&text),
                        _ => {}
                    }
                }
            }
        }
        for a in self.dialogs.poll() {
            self.handle_dialog_answer(a);
        }
        let mut any_running = false;
        for t in &mut self.tabs {
            t.poll();
            any_running |= t.run.active;
        }
        if any_running {
            // Keep the spinner and progress moving.
            ctx.request_repaint_after(Duration::from_millis(100));
        }
        self.autosave();
        self.toasts.retain(|t| t.until > Instant::now());
        if !self.toasts.is_empty() {
            ctx.request_repaint_after(Duration::from_millis(250));
        }

        // Closing the window with unsaved work asks first.
        if ctx.input(|i| i.viewport().close_requested()) {
            if self.tabs.iter().any(PageTab::is_dirty) && !self.quitting_confirmed() {
                ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
                self.dialog = Some(Dialog::Quit);
            } else {
                self.recovery.clear_own();
            }
        }
    }

    fn quitting_confirmed(&self) -> bool {
        self.quitting && !self.tabs.iter().any(PageTab::is_dirty)
    }

    fn menu_bar(&mut self, ui: &mut egui::Ui) {
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("File", |ui| {
                for c in [UiCommand::NewPage, UiCommand::Open] {
                    if c.menu_button(ui, true) {
                        self.run_command(c);
                    }
                }
                ui.menu_button("Open recent", |ui| {
                    if self.recent.paths.is_empty() {
                        ui.weak("No recent files");
                    }
                    let mut chosen = None;
                    for p in &self.recent.paths {
                        if ui.button(p.display().to_string()).clicked() {
                            chosen = Some(p.clone());
                        }
                    }
                    if let Some(p) = chosen {
                        if !self.open_path(&p) {
                            self.recent.remove(&p);
                        }
                        ui.close();
                    }
                });
                if ui
                    .button("Open by path…")
                    .on_hover_text(
                        "Type the path of a page file (when no file dialog is available)",
                    )
                    .clicked()
                {
                    let dir = self.tab().and_then(PageTab::base_dir).unwrap_or_default();
                    self.dialog = Some(Dialog::PathPrompt {
                        save_as: false,
                        text: dir.join("").display().to_string(),
                    });
                }
                if ui.button("Open demo page").clicked() {
                    self.open_demo();
                }
                ui.separator();
                for c in [UiCommand::Save, UiCommand::SaveAs] {
                    if c.menu_button(ui, true) {
                        self.run_command(c);
                    }
                }
                if ui
                    .button("Save to path…")
                    .on_hover_text(
                        "Type the file path to save to (when no file dialog is available)",
                    )
                    .clicked()
                {
                    let text = self.tab().map_or_else(String::new, |t| match &t.path {
                        Some(p) => p.display().to_string(),
                        None => format!("{}{}", t.title, crate::files::PAGE_SUFFIX),
                    });
                    self.dialog = Some(Dialog::PathPrompt {
                        save_as: true,
                        text,
                    });
                }
                ui.menu_button("Export as Python…", |ui| {
                    for f in Framework::ALL {
                        let c = UiCommand::ExportPython(f);
                        if c.menu_button(ui, self.command_enabled(c)) {
                            self.run_command(c);
                        }
                    }
                });
                if UiCommand::CloseTab.menu_button(ui, true) {
                    self.run_command(UiCommand::CloseTab);
                }
                ui.separator();
                if ui.button("Quit").clicked() {
                    ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
                }
            });
            ui.menu_button("Edit", |ui| {
                let undo = self
                    .tab()
                    .and_then(|t| t.history.undo_label().map(str::to_owned));
                let redo = self
                    .tab()
                    .and_then(|t| t.history.redo_label().map(str::to_owned));
                for c in [UiCommand::Undo, UiCommand::Redo] {
                    let enabled = self.command_enabled(c);
                    let detail = if c == UiCommand::Undo { &undo } else { &redo };
                    let mut b = egui::Button::new(match detail {
                        Some(l) => format!("{} {l}", c.text()),
                        None => c.text().to_owned(),
                    });
                    if let Some(sc) = c.shortcut() {
                        b = b.shortcut_text(ui.ctx().format_shortcut(&sc));
                    }
                    if ui
                        .add_enabled(enabled, b)
                        .on_hover_text(c.tooltip())
                        .clicked()
                    {
                        self.run_command(c);
                    }
                }
                ui.separator();
                for c in [
                    UiCommand::Cut,
                    UiCommand::Copy,
                    UiCommand::Paste,
                    UiCommand::Duplicate,
                    UiCommand::Delete,
                    UiCommand::SelectAll,
                    UiCommand::CopyPython(Framework::TensorFlow),
                    UiCommand::CopyPython(Framework::PyTorch),
                ] {
                    if c.menu_button(ui, self.command_enabled(c)) {
                        self.run_command(c);
                    }
                }
            });
            ui.menu_button("View", |ui| {
                if UiCommand::ZoomToFit.menu_button(ui, true) {
                    self.run_command(UiCommand::ZoomToFit);
                }
                ui.separator();
                ui.label("Theme");
                let mut pref = ui.ctx().options(|o| o.theme_preference);
                ui.horizontal(|ui| {
                    ui.selectable_value(&mut pref, egui::ThemePreference::Light, "Light");
                    ui.selectable_value(&mut pref, egui::ThemePreference::Dark, "Dark");
                    ui.selectable_value(&mut pref, egui::ThemePreference::System, "System");
                });
                if pref != ui.ctx().options(|o| o.theme_preference) {
                    ui.ctx().set_theme(pref);
                }
                ui.separator();
                ui.label("Interface scale");
                let zoom = ui.ctx().zoom_factor();
                ui.horizontal(|ui| {
                    for z in [1.0_f32, 1.25, 1.5, 2.0] {
                        if ui
                            .selectable_label((zoom - z).abs() < 0.01, format!("{:.0}%", z * 100.0))
                            .clicked()
                        {
                            ui.ctx().set_zoom_factor(z);
                        }
                    }
                });
            });
            ui.menu_button("Run", |ui| {
                for c in [UiCommand::Run, UiCommand::Cancel] {
                    if c.menu_button(ui, self.command_enabled(c)) {
                        self.run_command(c);
                    }
                }
                if let Some(tab) = self.tab_mut() {
                    ui.checkbox(&mut tab.auto_run, "Run automatically after each change");
                }
            });
            ui.menu_button("Help", |ui| {
                ui.label(RichText::new("Blockspace").strong());
                ui.label("Right-click the canvas (or press Shift+A) to add a block.");
                ui.label("Drag from an output pin to an input pin to wire them.");
                ui.label("Shift+drag on the canvas selects a box of blocks.");
                ui.label("Right-click a wire or a pin to disconnect it.");
                ui.label(
                    "Double-click a tab to rename it; drag the canvas to pan, scroll to zoom.",
                );
            });
        });
    }

    fn tab_bar(&mut self, ui: &mut egui::Ui) {
        let mut close = None;
        let mut activate = None;
        let mut rename = None;
        let mut swap = None;
        let mut rects = Vec::with_capacity(self.tabs.len());
        ui.horizontal_wrapped(|ui| {
            let n = self.tabs.len();
            for (i, t) in self.tabs.iter().enumerate() {
                let selected = i == self.active;
                let title = t.display_title();
                let r = ui
                    .selectable_label(selected, RichText::new(&title).strong())
                    .interact(egui::Sense::drag());
                rects.push(r.rect);
                if r.drag_started() {
                    self.tab_drag = Some(i);
                }
                let tip = match &t.path {
                    Some(p) => p.display().to_string(),
                    None => "not saved yet".to_owned(),
                };
                let r = r.on_hover_text(format!(
                    "{tip}\nDrag to move; double-click to rename; right-click for more"
                ));
                if r.clicked() {
                    activate = Some(i);
                }
                if r.double_clicked() {
                    rename = Some(i);
                }
                r.context_menu(|ui| {
                    if ui.button("Rename…").clicked() {
                        rename = Some(i);
                        ui.close();
                    }
                    if ui
                        .add_enabled(i > 0, egui::Button::new("Move left"))
                        .clicked()
                    {
                        swap = Some((i, i - 1));
                        ui.close();
                    }
                    if ui
                        .add_enabled(i + 1 < n, egui::Button::new("Move right"))
                        .clicked()
                    {
                        swap = Some((i, i + 1));
                        ui.close();
                    }
                    if ui.button("Close").clicked() {
                        close = Some(i);
                        ui.close();
                    }
                });
                let x = ui
                    .small_button("×")
                    .on_hover_text(format!("Close {}", t.title));
                if x.clicked() {
                    close = Some(i);
                }
                // A tab's place in the bar spans its label and its close button.
                rects[i] = rects[i].union(x.rect);
                ui.separator();
            }
            if ui
                .button("+")
                .on_hover_text(UiCommand::NewPage.tooltip())
                .clicked()
            {
                self.new_page();
            }
        });
        if let Some(i) = activate {
            self.active = i;
        }
        if let Some(i) = rename
            && let Some(t) = self.tabs.get(i)
        {
            self.dialog = Some(Dialog::RenameTab {
                tab: t.uid,
                text: t.title.clone(),
            });
        }
        if let Some(from) = self.tab_drag {
            self.drag_tab(ui, from, &rects);
        }
        if let Some((a, b)) = swap {
            self.move_tab(a, b);
        }
        if let Some(i) = close {
            self.request_close_tab(i);
        }
    }

    /// While tab `from` is dragged: marks where it would land (the tab under the pointer,
    /// `rects` being the tabs' places) and moves it there on release.
    fn drag_tab(&mut self, ui: &egui::Ui, from: usize, rects: &[egui::Rect]) {
        let (pointer, down) = ui.input(|i| (i.pointer.interact_pos(), i.pointer.primary_down()));
        let target = pointer.and_then(|p| {
            rects
                .iter()
                .enumerate()
                .min_by(|(_, a), (_, b)| a.center().distance(p).total_cmp(&b.center().distance(p)))
                .map(|(i, _)| i)
        });
        match (target, down) {
            (Some(to), true) if to != from && from < rects.len() => {
                // A bar on the side of the target tab where the dragged one would go.
                let r = rects[to];
                let x = if to > from {
                    r.right() + 2.0
                } else {
                    r.left() - 2.0
                };
                ui.painter().vline(
                    x,
                    r.y_range(),
                    egui::Stroke::new(2.0, ui.visuals().selection.stroke.color),
                );
            }
            (_, true) => {}
            (target, false) => {
                if let Some(to) = target {
                    self.move_tab(from, to);
                }
                self.tab_drag = None;
            }
        }
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

    fn toolbar(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            let add = ui
                .button("➕ Add block")
                .on_hover_text(UiCommand::AddBlock.tooltip());
            if add.clicked() {
                self.add_menu_open = true;
            }
            if self.add_menu_open {
                let mut open = true;
                let reg = Arc::clone(&self.registry);
                let mut chosen = None;
                egui::Window::new("Add block")
                    .id(egui::Id::new("add-block-window"))
                    .open(&mut open)
                    .collapsible(false)
                    .resizable(false)
                    .fixed_pos(add.rect.left_bottom() + egui::vec2(0.0, 4.0))
                    .show(ui.ctx(), |ui| {
                        let focus = !ui.ctx().memory(|m| m.focused().is_some());
                        chosen = add_block_list(ui, &reg, &mut self.add_search, focus, false);
                        if ui.input(|i| i.key_pressed(egui::Key::Escape)) {
                            self.add_menu_open = false;
                        }
                    });
                if let Some(type_id) = chosen {
                    let pos = self.view_center();
                    self.add_block(&type_id, pos, None, None);
                    self.add_menu_open = false;
                }
                if !open {
                    self.add_menu_open = false;
                }
            }
            ui.separator();
            for c in [UiCommand::Undo, UiCommand::Redo] {
                let icon = if c == UiCommand::Undo {
                    "⟲ Undo"
                } else {
                    "⟳ Redo"
                };
                if ui
                    .add_enabled(self.command_enabled(c), egui::Button::new(icon))
                    .on_hover_text(c.tooltip())
                    .clicked()
                {
                    self.run_command(c);
                }
            }
            ui.separator();
            let running = self.tab().is_some_and(|t| t.run.active);
            if ui
                .button("▶ Run")
                .on_hover_text(format!("{} (F5)", UiCommand::Run.tooltip()))
                .clicked()
            {
                self.run_command(UiCommand::Run);
            }
            if ui
                .add_enabled(running, egui::Button::new("■ Cancel"))
                .on_hover_text(UiCommand::Cancel.tooltip())
                .clicked()
            {
                self.run_command(UiCommand::Cancel);
            }
            if let Some(tab) = self.tab_mut() {
                ui.checkbox(&mut tab.auto_run, "Auto-run")
                    .on_hover_text("Evaluate the page after every change");
            }
            ui.separator();
            if ui
                .button("⛶ Fit")
                .on_hover_text(UiCommand::ZoomToFit.tooltip())
                .clicked()
            {
                self.run_command(UiCommand::ZoomToFit);
            }
        });
    }

    /// Centre of the visible canvas in graph coordinates (where toolbar-added blocks go).
    fn view_center(&self) -> [f32; 2] {
        let Some(tab) = self.tab() else {
            return [0.0, 0.0];
        };
        let g = &tab.geometry;
        let c = g.to_screen.inverse() * g.screen_rect.center();
        // Near the centre of the view, in the first spot (on a spiral) that overlaps no block.
        let size = egui::vec2(240.0, 150.0);
        let free = |p: egui::Pos2| {
            let r = egui::Rect::from_min_size(p, size).expand(10.0);
            !g.node_rects.iter().any(|(_, n)| n.intersects(r))
        };
        let start = c - size * 0.5;
        for i in 0..64 {
            let angle = i as f32 * 0.9;
            let radius = 40.0 * (i as f32).sqrt() * 2.0;
            let p = start + egui::vec2(angle.cos(), angle.sin()) * radius;
            if free(p) {
                return [p.x, p.y];
            }
        }
        [start.x, start.y]
    }

    fn status_bar(&mut self, ui: &mut egui::Ui) {
        let dialogs_open = self.dialogs.open;
        let Some(tab) = self.tab() else { return };
        ui.horizontal(|ui| {
            if dialogs_open > 0 {
                ui.add(egui::Spinner::new());
                ui.label("Waiting for the file dialog…").on_hover_text(
                    "If no dialog appeared, use File → Open by path… or File → Save to path…",
                );
                ui.separator();
            }
            if tab.run.active {
                ui.add(egui::Spinner::new());
                let names: Vec<String> = tab
                    .run
                    .running
                    .iter()
                    .filter_map(|id| tab.page.block(*id).map(|b| b.name.clone()))
                    .collect();
                ui.label(format!(
                    "Running {}/{}{}",
                    tab.run.done,
                    tab.run.total,
                    if names.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", names.join(", "))
                    }
                ));
                let frac = if tab.run.total > 0 {
                    tab.run.done as f32 / tab.run.total as f32
                } else {
                    0.0
                };
                ui.add(egui::ProgressBar::new(frac).desired_width(120.0));
            } else if let Some((rev, cancelled, took)) = tab.run.last {
                let stale = rev != tab.page.revision();
                let text = if cancelled {
                    "Run cancelled".to_owned()
                } else {
                    format!("Evaluated in {}", fmt_duration(took))
                };
                ui.label(if stale {
                    format!("{text} (page changed since; press F5 to run)")
                } else {
                    text
                });
            } else {
                ui.label("Not evaluated yet — press F5 to run");
            }
            ui.separator();
            let errors = tab.views_snapshot_errors();
            if errors > 0 {
                ui.colored_label(
                    ui.visuals().error_fg_color,
                    format!("⚠ {errors} block(s) with problems"),
                );
                ui.separator();
            }
            ui.label(format!(
                "{} blocks, {} wires",
                tab.page.blocks().count(),
                tab.page.wires().count()
            ));
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                ui.weak(format!(
                    "UI {:.1} ms",
                    self.last_frame_time.as_secs_f64() * 1e3
                ));
            });
        });
    }

    fn canvas(&mut self, ui: &mut egui::Ui) {
        let reg = Arc::clone(&self.registry);
        let dark = ui.visuals().dark_mode;
        let Some(tab) = self.tabs.get_mut(self.active) else {
            return;
        };
        tab.mirror.sync(&tab.page);

        let snarl_id = egui::Id::new(("canvas", tab.uid));
        let before = tab.mirror.positions();
        let mut edits = Vec::new();
        let mut requests = Vec::new();
        let mut geometry = crate::canvas::CanvasGeometry::default();
        // Zoom to fit when asked (and after a page opens, once node sizes are known).
        let mut set_transform = tab.set_transform.take();
        match tab.fit_in_frames {
            Some(0) => {
                // Model positions are authoritative; the sizes come from the last frame.
                let sizes: std::collections::HashMap<BlockId, egui::Vec2> = tab
                    .geometry
                    .node_rects
                    .iter()
                    .map(|(id, r)| (*id, r.size()))
                    .collect();
                let bounds = tab.page.blocks().fold(egui::Rect::NOTHING, |a, b| {
                    let size = sizes
                        .get(&b.id)
                        .copied()
                        .unwrap_or(egui::vec2(200.0, 120.0));
                    a.union(egui::Rect::from_min_size(
                        egui::pos2(b.pos[0], b.pos[1]),
                        size,
                    ))
                });
                if let Some(t) = tab.geometry.fit(bounds) {
                    set_transform = Some(t);
                }
                tab.fit_in_frames = None;
            }
            Some(n) => {
                tab.fit_in_frames = Some(n - 1);
                ui.ctx().request_repaint();
            }
            None => {}
        }
        let views = tab.views(&reg, dark);
        let progress: std::collections::HashMap<BlockId, f64> = tab
            .run
            .running
            .iter()
            .filter_map(|id| tab.executor.block_progress(*id).map(|p| (*id, p)))
            .collect();
        let canvas_rect = ui.available_rect_before_wrap();
        let resp = {
            let mut viewer = CanvasViewer {
                registry: &reg,
                page: &tab.page,
                views: &views,
                selection: &tab.selection,
                edits: &mut edits,
                requests: &mut requests,
                geometry: &mut geometry,
                search: &mut self.add_search,
                set_transform,
                progress: &progress,
                menu_at: tab.menu_at,
            };
            SnarlWidget::new().id(snarl_id).style(snarl_style()).show(
                &mut tab.mirror.snarl,
                &mut viewer,
                ui,
            )
        };
        geometry.screen_rect = canvas_rect;

        // Selection: a press on a block selects it (Shift toggles); a click on empty canvas clears.
        let (pressed, press_pos, shift, down) = ui.input(|i| {
            (
                i.pointer.primary_pressed(),
                i.pointer.press_origin(),
                i.modifiers.shift,
                i.pointer.primary_down(),
            )
        });
        if pressed
            && let Some(pos) = press_pos
            && canvas_rect.contains(pos)
            && ui
                .ctx()
                .layer_id_at(pos)
                .is_none_or(|l| l.order == egui::Order::Background)
        {
            match geometry.block_at(pos) {
                Some(b) => {
                    if shift {
                        if !tab.selection.remove(&b) {
                            tab.selection.insert(b);
                        }
                    } else if !tab.selection.contains(&b) {
                        tab.selection = [b].into_iter().collect();
                    }
                    tab.drag_anchor = Some(b);
                }
                None => tab.drag_anchor = None,
            }
        }
        // Remember where the canvas was right-clicked (the add-block menu puts blocks there).
        if let Some(pos) = ui.input(|i| {
            i.pointer
                .button_pressed(egui::PointerButton::Secondary)
                .then(|| i.pointer.interact_pos())
                .flatten()
        }) && canvas_rect.contains(pos)
        {
            tab.menu_at = Some(geometry.to_screen.inverse() * pos);
        }
        if resp.clicked() && !shift && !ui.input(|i| i.modifiers.command) {
            tab.selection.clear();
        }
        // Box selection (Shift+drag) happens inside snarl: adopt what it adds or removes.
        let snarl_sel = egui_snarl::ui::get_selected_nodes(snarl_id, ui.ctx());
        if snarl_sel != tab.snarl_selected_prev {
            if tab.drag_anchor.is_none() {
                let prev: BTreeSet<_> = tab.snarl_selected_prev.iter().copied().collect();
                let now: BTreeSet<_> = snarl_sel.iter().copied().collect();
                for n in now.difference(&prev) {
                    if let Some(b) = tab.mirror.block(*n) {
                        tab.selection.insert(b);
                    }
                }
                for n in prev.difference(&now) {
                    if let Some(b) = tab.mirror.block(*n) {
                        tab.selection.remove(&b);
                    }
                }
            }
            tab.snarl_selected_prev = snarl_sel;
        }

        // Dragging: snarl moves the dragged node (or its own selection); we move exactly our
        // selection by the anchor's delta, and emit one MoveBlocks when the pointer is released.
        if let Some(anchor) = tab.drag_anchor
            && let (Some(a0), Some(&node)) = (before.get(&anchor), tab.mirror.nodes.get(&anchor))
            && let Some(a1) = tab.mirror.snarl.get_node_info(node).map(|n| n.pos)
        {
            let delta = a1 - *a0;
            if delta != egui::Vec2::ZERO {
                let ids: Vec<(BlockId, egui_snarl::NodeId)> =
                    tab.mirror.nodes.iter().map(|(b, n)| (*b, *n)).collect();
                for (b, n) in ids {
                    let Some(p0) = before.get(&b) else { continue };
                    let target = if b == anchor || tab.selection.contains(&b) {
                        *p0 + delta
                    } else {
                        *p0
                    };
                    if let Some(info) = tab.mirror.snarl.get_node_info_mut(n) {
                        info.pos = target;
                    }
                }
            }
        }
        // Snarl moves nodes only while the pointer is down, so compare positions on release.
        if !down && (tab.drag_anchor.is_some() || self.pointer_was_down) {
            tab.drag_anchor = None;
            if let Some(edit) = tab.pending_moves() {
                edits.push(edit);
            }
        }
        self.pointer_was_down = down;
        tab.geometry = geometry;

        for e in edits {
            self.apply_edit(e);
        }
        for r in requests {
            match r {
                CanvasRequest::AddBlock {
                    type_id,
                    pos,
                    from,
                    to,
                } => {
                    self.add_block(&type_id, pos, from, to);
                }
                CanvasRequest::Delete(ids) => self.delete(&ids),
                CanvasRequest::Duplicate(ids) => self.duplicate(&ids),
                CanvasRequest::Copy(ids) => self.copy(&ids),
                CanvasRequest::Rename(id) => {
                    if let Some(tab) = self.tab_mut() {
                        tab.selection = [id].into_iter().collect();
                    }
                    self.inspector.focus_name = true;
                }
            }
        }
        if self.tab().is_some_and(|t| t.page.blocks().next().is_none()) {
            let rect = canvas_rect;
            ui.put(
                egui::Rect::from_center_size(rect.center(), egui::vec2(420.0, 60.0)),
                egui::Label::new(
                    RichText::new(
                        "Empty page. Right-click the canvas or press Shift+A to add a block.",
                    )
                    .size(15.0)
                    .weak(),
                ),
            );
        }
    }

    fn side_panel(&mut self, ui: &mut egui::Ui) {
        // Inspector on top (40 % of the height), result below; each scrolls on its own.
        let height = ui.available_height();
        egui::ScrollArea::vertical()
            .id_salt("inspector-scroll")
            .max_height((height * 0.4).max(120.0))
            .auto_shrink([false, true])
            .show(ui, |ui| self.inspector_ui(ui));
        ui.separator();
        // Fit the heatmap into what is left (headers, stats and sliders take about 225 points).
        self.viewer.heatmap_max_height = (ui.available_height() - 225.0).clamp(120.0, 420.0);
        egui::ScrollArea::vertical()
            .id_salt("viewer-scroll")
            .auto_shrink([false, false])
            .show(ui, |ui| self.viewer_ui(ui));
    }

    fn inspector_ui(&mut self, ui: &mut egui::Ui) {
        let reg = Arc::clone(&self.registry);
        {
            {
                ui.heading("Inspector");
                let Some(tab) = self.tabs.get_mut(self.active) else {
                    return;
                };
                let selected = if tab.selection.len() == 1 {
                    tab.selection.iter().next().copied()
                } else {
                    None
                };
                if self.inspected != selected.map(|s| (tab.uid, s)) {
                    self.inspector.retain_block(tab.uid, selected);
                    self.inspected = selected.map(|s| (tab.uid, s));
                    tab.viewer_output = 0;
                }
                let mut edits = Vec::new();
                let mut requests = Vec::new();
                match selected.and_then(|id| tab.page.block(id).cloned()) {
                    Some(block) => {
                        let inputs_meta = input_metas(tab, &reg, block.id);
                        let outputs = tab.block_check(&reg, block.id);
                        let page = &tab.page;
                        let taken = |n: &str| page.blocks().any(|b| b.name == n);
                        self.inspector.ui(
                            ui,
                            tab.uid,
                            &reg,
                            &block,
                            &taken,
                            &inputs_meta,
                            outputs.as_ref(),
                            &mut edits,
                            &mut requests,
                        );
                    }
                    None => {
                        if tab.selection.len() > 1 {
                            ui.label(format!("{} blocks selected.", tab.selection.len()));
                        } else {
                            ui.weak("Select a block to see and edit its attributes.");
                        }
                    }
                }
                let uid = tab.uid;
                for e in edits {
                    self.apply_edit(e);
                }
                for r in requests {
                    match r {
                        InspectorRequest::PickPath { block, attr } => {
                            let dir = self.tab().and_then(PageTab::base_dir);
                            let purpose = DialogPurpose::AttrPath {
                                tab: uid,
                                block: block.0,
                                attr,
                            };
                            if let Err(e) = self.dialogs.spawn(&self.ctx, purpose, dir, None) {
                                self.error("Choose a file", &e);
                            }
                        }
                    }
                }
            }
        }
    }

    fn viewer_ui(&mut self, ui: &mut egui::Ui) {
        ui.heading("Result");
        let Some(tab) = self.tabs.get_mut(self.active) else {
            return;
        };
        let Some(id) = tab.selection.iter().next_back().copied() else {
            ui.weak("Select a block to see its result.");
            return;
        };
        let Some(block) = tab.page.block(id).cloned() else {
            return;
        };
        let desc = self.registry.get(&block.type_id);
        let Some(res) = tab.executor.result(id) else {
            if tab.run.active {
                ui.horizontal(|ui| {
                    ui.add(egui::Spinner::new());
                    ui.label("Computing…");
                });
            } else {
                ui.weak(format!(
                    "{} has no result yet. Press F5 to run the page.",
                    block.name
                ));
            }
            return;
        };
        let revision = res.revision;
        let outputs = match &res.outputs {
            Ok(o) => Arc::clone(o),
            Err(e) => {
                ui.colored_label(ui.visuals().error_fg_color, format!("⚠ {e}"));
                return;
            }
        };
        if outputs.is_empty() {
            ui.weak("This block has no outputs.");
            return;
        }
        if outputs.len() > 1 {
            ui.horizontal(|ui| {
                ui.label("output");
                for i in 0..outputs.len() {
                    let name = desc
                        .and_then(|d| d.outputs.get(i))
                        .map_or_else(|| i.to_string(), |p| p.name.to_owned());
                    ui.selectable_value(&mut tab.viewer_output, i, name);
                }
            });
        }
        let out_idx = tab.viewer_output.min(outputs.len() - 1);
        let Some(tensor) = outputs.get(out_idx) else {
            return;
        };
        let ptr = Arc::as_ptr(&outputs) as usize as u64;
        let key = hash_key(&(tab.uid, id.0, out_idx, revision, ptr));
        if self.view_cache.as_ref().is_none_or(|(k, _)| *k != key) {
            let rank = tensor.shape().len();
            let layout = layout_hint(tab, &self.registry, id, rank);
            let axis = axis_names(rank, layout.as_deref());
            let dtype = tensor.dtype().to_string();
            if tensor.len() <= VIEW_INLINE_MAX {
                let vt = ViewTensor {
                    key,
                    dtype,
                    values: Arc::new(tensor.to_f64()),
                    axis_names: axis,
                    stats: None,
                };
                self.view_cache = Some((key, vt));
            } else {
                // Converting and summarising a big tensor takes a while: do it off the UI thread.
                if self.view_job.as_ref().is_none_or(|(k, _)| *k != key) {
                    let (tx, rx) = std::sync::mpsc::channel();
                    let outputs = Arc::clone(&outputs);
                    let ctx = self.ctx.clone();
                    let spawned = std::thread::Builder::new()
                        .name("blockspace-viewer".into())
                        .spawn(move || {
                            let Some(t) = outputs.get(out_idx) else {
                                return;
                            };
                            let values = t.to_f64();
                            let stats = Some(Stats::of_values(values.iter().copied()));
                            let vt = ViewTensor {
                                key,
                                dtype,
                                values: Arc::new(values),
                                axis_names: axis,
                                stats,
                            };
                            // The viewer may have moved on; then nobody needs this.
                            let _ = tx.send(vt);
                            ctx.request_repaint();
                        });
                    match spawned {
                        Ok(_) => self.view_job = Some((key, rx)),
                        Err(e) => {
                            ui.colored_label(
                                ui.visuals().error_fg_color,
                                format!("cannot prepare the view: {e}"),
                            );
                            return;
                        }
                    }
                }
                if let Some((k, rx)) = &self.view_job
                    && *k == key
                    && let Ok(vt) = rx.try_recv()
                {
                    self.view_cache = Some((key, vt));
                    self.view_job = None;
                }
                if self.view_cache.as_ref().is_none_or(|(k, _)| *k != key) {
                    ui.horizontal(|ui| {
                        ui.add(egui::Spinner::new());
                        ui.label(format!("Preparing the view of {} elements…", tensor.len()));
                    });
                    return;
                }
            }
        }
        let Some((_, vt)) = &self.view_cache else {
            return;
        };
        let vt = vt.clone();
        let action = self.viewer.ui(ui, &vt);
        if action == Some(ViewerAction::ExportNpy) {
            let name = format!("{}.npy", block.name.replace(['/', '\\'], "_"));
            let dir = self.tab().and_then(PageTab::base_dir);
            if let Err(e) = self
                .dialogs
                .spawn(&self.ctx, DialogPurpose::ExportNpy, dir, Some(name))
            {
                self.error("Export", &e);
            }
        }
    }

    fn dialogs_ui(&mut self, ctx: &egui::Context) {
        let Some(dialog) = self.dialog.clone() else {
            return;
        };
        let gen_before = self.dialog_gen;
        let mut close = false;
        let modal = egui::Modal::new(egui::Id::new("dialog")).show(ctx, |ui| {
            ui.set_max_width(520.0);
            match dialog {
                Dialog::Error { title, message } => {
                    ui.heading(&title);
                    ui.add_space(6.0);
                    egui::ScrollArea::vertical().max_height(300.0).show(ui, |ui| {
                        ui.label(RichText::new(&message).monospace());
                    });
                    ui.add_space(6.0);
                    ui.horizontal(|ui| {
                        if ui.button("Copy message").clicked() {
                            ui.ctx().copy_text(format!("{title}\n{message}"));
                        }
                        if ui.button("OK").clicked() {
                            close = true;
                        }
                    });
                }
                Dialog::CloseTab { tab } => {
                    let title = self.tab_index(tab).map(|i| self.tabs[i].title.clone()).unwrap_or_default();
                    ui.heading(format!("Save changes to {title}?"));
                    ui.label("Your changes will be lost if you close the page without saving.");
                    ui.horizontal(|ui| {
                        if ui.button("Save").clicked() {
                            if let Some(i) = self.tab_index(tab) {
                                self.active = i;
                                self.save_active(false, true);
                            }
                            close = true;
                        }
                        if ui.button("Close without saving").clicked() {
                            if let Some(i) = self.tab_index(tab) {
                                self.close_tab_now(i);
                            }
                            close = true;
                        }
                        if ui.button("Cancel").clicked() {
                            close = true;
                        }
                    });
                }
                Dialog::Quit => {
                    ui.heading("Quit with unsaved changes?");
                    for t in self.tabs.iter().filter(|t| t.is_dirty()) {
                        ui.label(format!("• {}", t.title));
                    }
                    ui.horizontal(|ui| {
                        if ui.button("Save all and quit").clicked() {
                            self.quitting = true;
                            let dirty: Vec<usize> = (0..self.tabs.len()).filter(|&i| self.tabs[i].is_dirty()).collect();
                            for i in dirty {
                                self.active = i;
                                self.save_active(false, false);
                            }
                            if !self.tabs.iter().any(PageTab::is_dirty) {
                                ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
                            }
                            close = true;
                        }
                        if ui.button("Quit without saving").clicked() {
                            for t in &mut self.tabs {
                                t.saved_revision = Some(t.page.revision());
                            }
                            self.recovery.clear_own();
                            ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
                            close = true;
                        }
                        if ui.button("Cancel").clicked() {
                            close = true;
                        }
                    });
                }
                Dialog::Restore { pages } => {
                    ui.heading("Restore unsaved work?");
                    ui.label("Blockspace did not close cleanly last time. These pages had unsaved changes:");
                    for p in &pages {
                        let from = p.origin.as_ref().map_or_else(|| "never saved".to_owned(), |o| o.display().to_string());
                        ui.label(format!("• {} ({from})", p.title));
                    }
                    ui.horizontal(|ui| {
                        if ui.button("Restore").clicked() {
                            self.restore(&pages);
                            close = true;
                        }
                        if ui.button("Discard").clicked() {
                            self.recovery.discard_orphans();
                            close = true;
                        }
                    });
                }
                Dialog::PathPrompt { save_as, mut text } => {
                    ui.heading(if save_as { "Save page to path" } else { "Open page from path" });
                    let r = ui.add(egui::TextEdit::singleline(&mut text).desired_width(460.0));
                    if !r.has_focus() && !r.lost_focus() {
                        r.request_focus();
                    }
                    let enter = ui.input(|i| i.key_pressed(egui::Key::Enter));
                    self.dialog = Some(Dialog::PathPrompt { save_as, text: text.clone() });
                    ui.horizontal(|ui| {
                        let label = if save_as { "Save" } else { "Open" };
                        if (ui.button(label).clicked() || enter) && !text.trim().is_empty() {
                            close = true;
                            let path = PathBuf::from(text.trim());
                            if save_as {
                                let path = crate::files::with_page_suffix(&path);
                                self.save_tab_to(self.active, &path);
                            } else {
                                self.open_path(&path);
                            }
                        }
                        if ui.button("Cancel").clicked() {
                            close = true;
                        }
                    });
                }
                Dialog::RenameTab { tab, mut text } => {
                    ui.heading("Rename page");
                    let r = ui.text_edit_singleline(&mut text);
                    if !r.has_focus() && !r.lost_focus() {
                        r.request_focus();
                    }
                    let enter = ui.input(|i| i.key_pressed(egui::Key::Enter));
                    self.dialog = Some(Dialog::RenameTab { tab, text: text.clone() });
                    ui.horizontal(|ui| {
                        if (ui.button("Rename").clicked() || enter) && !text.trim().is_empty() {
                            if let Some(i) = self.tab_index(tab) {
                                self.tabs[i].title = text.trim().to_owned();
                                self.tabs[i].page.set_name(text.trim());
                            }
                            close = true;
                        }
                        if ui.button("Cancel").clicked() {
                            close = true;
                        }
                    });
                }
            }
        });
        if modal.should_close() && !matches!(self.dialog, Some(Dialog::Restore { .. })) {
            close = true;
        }
        // Keep a dialog opened by one of the buttons (e.g. an error from saving).
        if close && self.dialog_gen == gen_before {
            self.dialog = None;
        }
    }

    fn toasts_ui(&self, ctx: &egui::Context) {
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

    /// Texts of the toasts shown now (for tests).
    #[must_use]
    pub fn toast_texts(&self) -> Vec<String> {
        self.toasts.iter().map(|t| t.text.clone()).collect()
    }

    /// The message of the modal dialog shown now, if any (for tests).
    #[must_use]
    pub fn dialog_text(&self) -> Option<String> {
        self.dialog.as_ref().map(|d| format!("{d:?}"))
    }

    /// Closes the dialog shown now (for tests).
    pub fn dismiss_dialog(&mut self) {
        self.dialog = None;
    }

    fn title(&self) -> String {
        match self.tab() {
            Some(t) => format!(
                "{}{} — Blockspace",
                t.title,
                if t.is_dirty() { " *" } else { "" }
            ),
            None => "Blockspace".to_owned(),
        }
    }
}

fn hash_key<T: std::hash::Hash>(v: &T) -> u64 {
    use std::hash::Hasher as _;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    v.hash(&mut h);
    h.finish()
}

/// Metas of the blocks feeding each input of `id` (for live checks in the inspector).
fn input_metas(tab: &mut PageTab, reg: &Registry, id: BlockId) -> Vec<Option<TensorMeta>> {
    let n = tab
        .page
        .block(id)
        .and_then(|b| reg.get(&b.type_id))
        .map_or(0, |d| d.inputs.len());
    let feeds: Vec<(usize, OutPort)> = tab
        .page
        .wires()
        .filter(|w| w.to.block == id)
        .map(|w| (w.to.port, w.from))
        .collect();
    let mut out = vec![None; n];
    for (port, from) in feeds {
        if let Some(Ok(metas)) = tab.block_check(reg, from.block)
            && let (Some(slot), Some(m)) = (out.get_mut(port), metas.get(from.port))
        {
            *slot = Some(m.clone());
        }
    }
    out
}

/// The axis layout of a block's output: its own `data_format` attribute, or that of the block it
/// feeds (a `filter` input is laid out `DHWIO`).
fn layout_hint(tab: &PageTab, reg: &Registry, id: BlockId, rank: usize) -> Option<String> {
    if rank != 5 {
        return None;
    }
    let block = tab.page.block(id)?;
    // The layout a port declares, for a block with these attributes.
    let declared = |layout: PortLayout, attrs: &blockspace_graph::Attrs| match layout {
        PortLayout::Filter => Some("DHWIO".to_owned()),
        PortLayout::DataFormat => attrs
            .get("data_format")
            .and_then(|v| v.as_str().map(str::to_owned)),
        PortLayout::Plain => None,
    };
    let own = reg
        .get(&block.type_id)?
        .outputs
        .get(tab.viewer_output)?
        .layout;
    if let Some(l) = declared(own, &block.attrs) {
        return Some(l);
    }
    // A plain output (an Input, arithmetic) is named by what it feeds.
    tab.page
        .wires()
        .filter(|w| w.from.block == id)
        .find_map(|w| {
            let consumer = tab.page.block(w.to.block)?;
            let port = reg.get(&consumer.type_id)?.inputs.get(w.to.port)?;
            declared(port.layout, &consumer.attrs)
        })
}

impl PageTab {
    /// Number of blocks with a problem (from the cached views).
    #[must_use]
    pub fn views_snapshot_errors(&self) -> usize {
        self.cached_views()
            .values()
            .filter(|v| v.error.is_some())
            .count()
    }
}

impl eframe::App for BlockspaceApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let start = Instant::now();
        let ctx = ui.ctx().clone();
        self.logic(&ctx);
        let title = self.title();
        if title != self.last_title {
            ctx.send_viewport_cmd(egui::ViewportCommand::Title(title.clone()));
            self.last_title = title;
        }

        egui::Panel::top("menu").show(ui, |ui| {
            self.menu_bar(ui);
        });
        egui::Panel::top("tabs").show(ui, |ui| {
            self.tab_bar(ui);
            ui.add_space(2.0);
            self.toolbar(ui);
            ui.add_space(2.0);
        });
        egui::Panel::bottom("status").show(ui, |ui| {
            self.status_bar(ui);
        });
        // The side panel starts at no more than half the window (large interface scales).
        let half = (ui.available_width() * 0.5).max(240.0);
        egui::Panel::right("side")
            .resizable(true)
            .default_size(420.0_f32.min(half))
            .min_size(240.0_f32.min(half))
            .show(ui, |ui| {
                self.side_panel(ui);
            });
        egui::CentralPanel::default()
            .frame(egui::Frame::NONE)
            .show(ui, |ui| {
                self.canvas(ui);
            });
        self.dialogs_ui(&ctx);
        self.toasts_ui(&ctx);
        self.last_frame_time = start.elapsed();
    }

    fn on_exit(&mut self) {
        for t in &self.tabs {
            t.executor.cancel();
        }
        if self.tabs.iter().any(PageTab::is_dirty) {
            self.write_recovery();
        } else {
            self.recovery.clear_own();
        }
    }
}
