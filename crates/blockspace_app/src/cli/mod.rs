//! Headless subcommands of the `blockspace` binary. Each lives in its own file.

pub mod bench;
pub mod check;
pub mod conformance;
pub mod export;
pub mod memory;
pub mod run;
