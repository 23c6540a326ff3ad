//! Blockspace's desktop app and the headless subcommands of the `blockspace` binary.

pub mod cli;
