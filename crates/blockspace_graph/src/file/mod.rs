//! Page files: a versioned, human-readable JSON format with a serde DTO separate from the
//! runtime types, full validation with JSON paths, migrations and atomic saves.
//! See `docs/file-format.md`.
//!
//! | module | what |
//! |---|---|
//! | [`dto`] | the schema, once: [`PageFile`] and its parts (what saving writes, what loading knows) |
//! | [`encode`] | [`save_page`], [`page_to_json`], [`save_text`] (atomic) |
//! | [`decode`] | [`load_page`], [`page_from_json`]: every problem with its JSON path |
//! | `raw` | the text read into a compact tree shaped by the schema (a small multiple of the file) |
//! | `blocks` | each entry of `blocks` decoded as the parser reads it |
//! | [`error`] | [`FileError`], [`Problem`] |
//! | [`paths`] | `.npy` paths relative to the page: [`relative_path`], Save-As rebasing |
//! | [`migrate`] | older versions to the current one |
//! | [`strict_json`] | JSON read within a size cap, duplicate keys refused |

mod blocks;
pub mod decode;
pub mod dto;
pub mod encode;
pub mod error;
pub mod migrate;
pub mod paths;
mod raw;
pub mod strict_json;

pub use decode::{load_page, page_from_json};
use dto::KEYS;
pub use dto::{BlockDto, PageFile, PortDto, WireDto};
pub use encode::{page_to_file, page_to_json, save_page, save_text, to_pretty_json};
pub use error::{FileError, Problem};
pub use migrate::CURRENT_VERSION;
pub use paths::{rebase_paths_command, relative_path};

/// The `"format"` field of every page file.
pub const FORMAT: &str = "blockspace.page";
/// File name ending of page files.
pub const EXTENSION: &str = ".bspage.json";
