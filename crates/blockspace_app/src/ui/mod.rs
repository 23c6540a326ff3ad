//! The window's chrome: menu bar, tab bar, toolbar, status bar, modal dialogs, toasts, the
//! menu/shortcut command table and the look. Each draws from the app's state and pushes
//! [`AppCommand`](crate::app::AppCommand)s; none changes the app's state itself.

pub mod menu_bar;
pub mod modals;
pub mod status_bar;
pub mod style;
pub mod tab_bar;
pub mod toasts;
pub mod toolbar;
pub mod ui_command;
