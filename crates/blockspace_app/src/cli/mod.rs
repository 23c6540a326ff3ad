//! Headless subcommands of the `blockspace` binary. Each lives in its own file.

pub mod check;
pub mod conformance;
pub mod run;
