//! The app room: [`BlockspaceApp`]'s state, the `eframe::App` impl and the frame's order.
//!
//! | file | concern |
//! |---|---|
//! | `mod.rs` | the state, start-up, the frame: logic → draw (pushes [`AppCommand`]s) → drain |
//! | `command.rs` | [`AppCommand`], the one intent queue, and [`Edit`] |
//! | `command_handling.rs` | draining the queue: the one place that changes app state |
//! | `edits.rs` | page edits of the active tab (add, connect, delete, copy/paste, …) |
//! | `tabs.rs` | opening, closing, moving tabs |
//! | `files.rs` | saving, file-dialog answers, `.npy` and Python export |
//! | `autosave.rs` | autosave, recovery, restore |
//! | `page_tab.rs` | [`PageTab`]: one open page, its history, executor and canvas mirror |
//! | `dialog.rs` | [`Dialog`]: the open modal and its state |
//! | `file_dialogs.rs`, `recovery.rs` | native dialogs off the UI thread; recovery and recent files |

pub mod autosave;
pub mod command;
pub mod command_handling;
pub mod dialog;
pub mod edits;
pub mod export_jobs;
pub mod file_dialogs;
pub mod files;
pub mod page_tab;
pub mod recovery;
pub mod settings;
pub mod tabs;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use blockspace_graph::{BlockId, Clipboard, PageId, Registry};
use blockspace_kernels::MemoryLedger;

pub use command::{AddMenuAt, AppCommand, Edit};
pub use page_tab::{EditError, PageTab, TabCounters, TabId};

use crate::app::dialog::Dialog;
use crate::app::export_jobs::ExportJobs;
use crate::app::file_dialogs::Dialogs;
use crate::app::recovery::{Recent, Recovery};
use crate::app::settings::{Budget, Settings};
use crate::panels::inspector::Inspector;
use crate::panels::viewer::VolumeViewer;
use crate::ui::toasts::Toasts;

/// The demo page shown at start-up (embedded at build time).
pub const DEMO_PAGE: &str = include_str!("../../../../assets/demo.bspage.json");

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
    /// How often unsaved pages are written to the recovery folder (`None`: 20 s; the binary
    /// reads `BLOCKSPACE_AUTOSAVE_SECS`).
    pub autosave_interval: Option<Duration>,
    /// The memory budget of a run in bytes (`None`: 75 % of the smallest of physical memory,
    /// the cgroup limit and the address-space limit; the binary reads
    /// `BLOCKSPACE_MEMORY_LIMIT`). A limit set in the app (Run ▸ Memory limit…, kept in the
    /// state folder) takes precedence. A page whose run would not fit is not run.
    pub memory_limit: Option<u64>,
}

/// The Blockspace desktop app.
pub struct BlockspaceApp {
    pub(crate) registry: Arc<Registry>,
    /// The memory every open page's results and running blocks hold, against the budget
    /// (shared by the pages' executors).
    pub(crate) ledger: MemoryLedger,
    pub(crate) ctx: egui::Context,
    /// Open pages.
    pub tabs: Vec<PageTab>,
    /// Index of the shown tab.
    pub active: usize,
    next_uid: u64,
    untitled: u64,
    /// What was copied last, and the page it came from (`None`: from outside this window).
    pub(crate) clipboard: Option<(Option<PageId>, Clipboard)>,
    pub(crate) clipboard_text: Option<String>,
    /// The viewer panel.
    pub viewer: VolumeViewer,
    pub(crate) inspector: Inspector,
    pub(crate) inspected: Option<(TabId, BlockId)>,
    pub(crate) toasts: Toasts,
    pub(crate) dialog: Option<Dialog>,
    /// What the UI asked for this frame; drained once, after drawing.
    pub(crate) commands: Vec<AppCommand>,
    /// The tab being dragged to a new place in the tab bar.
    pub(crate) tab_drag: Option<usize>,
    pub(crate) dialogs: Dialogs,
    /// Python exports running on worker threads.
    pub(crate) exports: ExportJobs,
    pub(crate) recent: Recent,
    pub(crate) recovery: Recovery,
    pub(crate) last_autosave: Instant,
    pub(crate) autosave_every: Duration,
    /// The budget `BLOCKSPACE_MEMORY_LIMIT` gave at start-up ([`AppOptions::memory_limit`]).
    pub(crate) memory_env: Option<u64>,
    /// Settings kept in the state folder (the memory limit, theme and interface scale).
    pub(crate) settings: Settings,
    /// The theme and interface scale last kept in the settings (`None` before the first frame;
    /// see [`Self::keep_look`]).
    look_seen: Option<(egui::ThemePreference, f32)>,
    pub(crate) add_search: String,
    /// The add-block search window, while open: under the toolbar button, or at the pointer
    /// on the canvas (Shift+A there).
    pub(crate) add_menu: Option<AddMenuAt>,
    pub(crate) quitting: bool,
    last_title: String,
    pub(crate) pointer_was_down: bool,
    /// Statistics of recent frames (for the status bar and benchmarks): last frame's UI time.
    pub last_frame_time: Duration,
}

impl BlockspaceApp {
    /// Creates the app; opens `options.pages`, or the demo page when there are none.
    pub fn new(ctx: &egui::Context, options: AppOptions) -> Self {
        let registry = Arc::new(Registry::builtin());
        let state_dir = options
            .state_dir
            .clone()
            .or_else(recovery::default_state_dir);
        let mut app = Self {
            registry,
            ledger: MemoryLedger::new(u64::MAX),
            ctx: ctx.clone(),
            tabs: Vec::new(),
            active: 0,
            next_uid: 1,
            untitled: 0,
            clipboard: None,
            clipboard_text: None,
            viewer: VolumeViewer::default(),
            inspector: Inspector::default(),
            inspected: None,
            toasts: Toasts::default(),
            dialog: None,
            commands: Vec::new(),
            tab_drag: None,
            dialogs: Dialogs::default(),
            exports: ExportJobs::default(),
            recent: Recent::load(state_dir.as_deref()),
            recovery: Recovery::new(state_dir.as_deref()),
            last_autosave: Instant::now(),
            autosave_every: options
                .autosave_interval
                .unwrap_or(autosave::AUTOSAVE_EVERY),
            memory_env: options.memory_limit,
            settings: Settings::load(state_dir.as_deref()),
            add_search: String::new(),
            add_menu: None,
            quitting: false,
            last_title: String::new(),
            pointer_was_down: false,
            last_frame_time: Duration::ZERO,
            look_seen: None,
        };
        crate::ui::style::apply(ctx);
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

    /// Keeps the theme and interface scale in the settings when they change (View menu, or
    /// egui's Ctrl +/− zoom), so the next session opens with them. The first frame applies
    /// those of the last session (here rather than at creation, so nothing the window set-up
    /// does afterwards overrides them).
    fn keep_look(&mut self, ctx: &egui::Context) {
        let look = look_of(ctx);
        let Some(seen) = self.look_seen else {
            if let Some(theme) = self.settings.theme {
                ctx.set_theme(theme);
            }
            if let Some(scale) = self.settings.interface_scale {
                // Takes effect from the next frame on.
                ctx.set_zoom_factor(scale);
            }
            self.look_seen = Some((
                self.settings.theme.unwrap_or(look.0),
                self.settings.interface_scale.unwrap_or(look.1),
            ));
            return;
        };
        if look == seen {
            return;
        }
        self.look_seen = Some(look);
        self.settings.theme = Some(look.0);
        self.settings.interface_scale = Some(look.1);
        if let Err(e) = self.settings.store() {
            self.toast_error(format!(
                "The theme and interface scale apply to this session only: {e}"
            ));
        }
    }

    /// The memory budget of runs in effect, and where it comes from (the setting made in the
    /// app, else `BLOCKSPACE_MEMORY_LIMIT`, else the machine's default).
    #[must_use]
    pub fn memory_budget(&self) -> Budget {
        Budget::effective(self.settings.memory_limit, self.memory_env)
    }

    /// Sets (or clears) the memory limit made in the app, keeps it in the state folder and
    /// gives every page the budget now in effect.
    pub(crate) fn set_memory_limit(&mut self, limit: Option<u64>) {
        self.settings.memory_limit = limit;
        if let Err(e) = self.settings.store() {
            self.toast_error(format!(
                "The memory limit applies to this session only: {e}"
            ));
        }
        let budget = self.memory_budget();
        for tab in &mut self.tabs {
            tab.set_memory_budget(budget.bytes);
        }
        self.info(format!("Memory budget of runs: {budget}"));
    }

    /// The registry.
    #[must_use]
    pub fn registry(&self) -> &Registry {
        &self.registry
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

    /// Queues a command; it is applied after this frame is drawn.
    pub fn push(&mut self, cmd: AppCommand) {
        self.commands.push(cmd);
    }

    /// Texts of the toasts shown now (for tests).
    #[must_use]
    pub fn toast_texts(&self) -> Vec<String> {
        self.toasts.texts()
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

    pub(crate) fn error(&mut self, title: &str, message: &str) {
        log::error!("{title}: {message}");
        self.dialog = Some(Dialog::Error {
            title: title.to_owned(),
            message: message.to_owned(),
        });
    }

    pub(crate) fn toast_error(&mut self, text: String) {
        self.toasts.error(text);
    }

    pub(crate) fn info(&mut self, text: String) {
        self.toasts.info(text);
    }

    /// A frame of logic before drawing: shortcuts and clipboard events (queued), file-dialog
    /// answers (queued), executor events, autosave, the window's close button.
    fn logic(&mut self, ctx: &egui::Context) {
        if self.dialog.is_none() && self.add_menu.is_none() {
            for c in crate::ui::ui_command::UiCommand::from_shortcuts(ctx) {
                // Shift+A over the canvas opens the search where the pointer is, as a
                // right-click does; from the menu or elsewhere, under the toolbar button.
                let on_canvas = ctx.pointer_hover_pos().filter(|&p| {
                    self.tab()
                        .is_some_and(|t| t.geometry.screen_rect.contains(p))
                });
                match (c, on_canvas) {
                    (crate::ui::ui_command::UiCommand::AddBlock, Some(at)) => {
                        self.push(AppCommand::OpenAddMenu(AddMenuAt::Pointer(at)));
                    }
                    _ => self.push(AppCommand::Ui(c)),
                }
            }
            // Ctrl+C/X/V arrive as clipboard events from the window system.
            if !ctx.text_edit_focused() {
                use crate::ui::ui_command::UiCommand;
                let events = ctx.input(|i| i.events.clone());
                for e in events {
                    match e {
                        egui::Event::Copy => self.push(AppCommand::Ui(UiCommand::Copy)),
                        egui::Event::Cut => self.push(AppCommand::Ui(UiCommand::Cut)),
                        egui::Event::Paste(text) => self.push(AppCommand::PasteText(text)),
                        _ => {}
                    }
                }
            }
        }
        for a in self.dialogs.poll() {
            self.push(AppCommand::FileDialogAnswer(a));
        }
        for done in self.exports.poll() {
            self.export_finished(done);
        }
        let mut any_running = false;
        for t in &mut self.tabs {
            t.poll(&self.registry);
            any_running |= t.run.active;
        }
        if any_running {
            // Keep the spinner and progress moving.
            ctx.request_repaint_after(Duration::from_millis(100));
        }
        self.toasts.expire(ctx);
        self.keep_look(ctx);

        // Closing the window with unsaved work asks first.
        if ctx.input(|i| i.viewport().close_requested()) {
            if self.tabs.iter().any(PageTab::is_dirty) && !self.quitting_confirmed() {
                ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
                self.push(AppCommand::ShowDialog(Dialog::Quit));
            } else {
                self.recovery.clear_own();
            }
        }
    }

    fn quitting_confirmed(&self) -> bool {
        self.quitting && !self.tabs.iter().any(PageTab::is_dirty)
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

impl eframe::App for BlockspaceApp {
    /// Runs every pass, also while the window is hidden or minimized (eframe then skips `ui`).
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.autosave(ctx);
    }

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
        self.modals(&ctx);
        self.toasts.ui(&ctx);
        self.drain_commands();
        // An edit made this frame starts the autosave clock without waiting for another event.
        self.autosave(&ctx);
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

/// The theme preference and interface scale in effect.
fn look_of(ctx: &egui::Context) -> (egui::ThemePreference, f32) {
    (ctx.options(|o| o.theme_preference), ctx.zoom_factor())
}
