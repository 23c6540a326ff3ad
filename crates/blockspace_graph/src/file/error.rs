//! What can go wrong loading or saving a page file: [`FileError`], and the [`Problem`]s (each at
//! its JSON path) of an invalid file.

use std::fmt;
use std::path::PathBuf;

use super::FORMAT;

/// One problem found while loading, at a JSON path such as `blocks[2].attrs.strides`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where in the file.
    pub json_path: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.json_path, self.message)
    }
}

/// Loading or saving a page file failed. Messages end with the file.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file could not be read.
    #[error("cannot read page file: {source} ({})", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The text is not valid JSON.
    #[error("not valid JSON at line {line}, column {column}: {message}{}; fix the JSON or restore a backup ({origin})",
        if *truncated { " (the file ends too early: truncated?)" } else { "" })]
    Syntax {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's message.
        message: String,
        /// The text ended in the middle of a value.
        truncated: bool,
        /// File name (or other origin).
        origin: String,
    },
    /// Valid JSON, but not a Blockspace page.
    #[error("not a Blockspace page: \"format\" is {found}, expected \"{FORMAT}\" ({origin})")]
    NotAPage {
        /// What `format` was.
        found: String,
        /// File name.
        origin: String,
    },
    /// The file is from a newer Blockspace.
    #[error(
        "page file version {found} is newer than this Blockspace supports (version {max_supported}); update Blockspace to open it ({origin})"
    )]
    UnsupportedVersion {
        /// The file's version.
        found: u64,
        /// The newest version this build reads.
        max_supported: u32,
        /// File name.
        origin: String,
    },
    /// The file has one or more problems (each with its JSON path). Nothing was loaded.
    #[error("{}", invalid_text(problems, origin))]
    Invalid {
        /// Every problem found.
        problems: Vec<Problem>,
        /// File name.
        origin: String,
    },
    /// Saving failed; the previous file is intact.
    #[error("could not save the page: {source}; the previous file is unchanged ({})", path.display())]
    Save {
        /// The target file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

fn invalid_text(problems: &[Problem], origin: &str) -> String {
    let mut s = format!(
        "page file has {} problem{}:",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    for p in problems {
        s.push_str(&format!("\n  {p}"));
    }
    s.push_str(&format!("\nin {origin}"));
    s
}

impl FileError {
    /// The individual problems (one for errors other than [`FileError::Invalid`]).
    pub fn problems(&self) -> Vec<Problem> {
        match self {
            FileError::Invalid { problems, .. } => problems.clone(),
            FileError::Syntax { line, column, .. } => {
                vec![Problem {
                    json_path: format!("line {line}, column {column}"),
                    message: self.to_string(),
                }]
            }
            other => vec![Problem {
                json_path: "$".into(),
                message: other.to_string(),
            }],
        }
    }
}

pub(super) fn problem(path: impl Into<String>, message: impl Into<String>) -> Problem {
    Problem {
        json_path: path.into(),
        message: message.into(),
    }
}

pub(super) fn invalid(problems: Vec<Problem>, origin: &str) -> FileError {
    FileError::Invalid {
        problems,
        origin: origin.to_owned(),
    }
}

/// The most problems one load reports; a hostile file with millions of bad blocks must not
/// need gigabytes of messages (the first ones say what to fix).
pub const MAX_PROBLEMS: usize = 100;

/// The problems found so far: the first [`MAX_PROBLEMS`], how many more there were, and how
/// many blocks were not checked once the list was full (a file that long is refused anyway:
/// checking millions more blocks would only count problems nobody reads).
#[derive(Debug, Default)]
pub(super) struct Problems {
    list: Vec<Problem>,
    more: usize,
    unchecked_blocks: usize,
}

impl Problems {
    /// Records a problem (counted only past [`MAX_PROBLEMS`]).
    pub fn push(&mut self, p: Problem) {
        if self.list.len() < MAX_PROBLEMS {
            self.list.push(p);
        } else {
            self.more += 1;
        }
    }

    /// Whether the list is full.
    pub fn full(&self) -> bool {
        self.list.len() >= MAX_PROBLEMS
    }

    /// Counts a block left unchecked because the list is full.
    pub fn skip_block(&mut self) {
        self.unchecked_blocks += 1;
    }

    /// Whether nothing was found.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The list, ending with one line for what was left out.
    pub fn into_vec(mut self) -> Vec<Problem> {
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        let mut parts = Vec::new();
        if self.more > 0 {
            parts.push(format!(
                "{} more problem{} not listed",
                self.more,
                plural(self.more)
            ));
        }
        if self.unchecked_blocks > 0 {
            parts.push(format!(
                "{} more block{} not checked",
                self.unchecked_blocks,
                plural(self.unchecked_blocks)
            ));
        }
        if !parts.is_empty() {
            self.list.push(problem(
                "$",
                format!("and {}; fix these first", parts.join(", ")),
            ));
        }
        self.list
    }
}
