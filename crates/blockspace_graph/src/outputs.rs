//! Writing a run's results as `.npy` files into a folder (`blockspace run --output DIR`) without
//! losing anything:
//!
//! - every file goes through a temporary file in DIR renamed over its name
//!   ([`npy::write_npy`](crate::npy::write_npy)), so a target is the old file or the new one,
//!   whole, and a symbolic link at the target name is replaced, never followed;
//! - file names that collide after cleaning (`a/b` and `a_b` both give `a_b.npy`) are made
//!   unique deterministically ([`output_file_names`]): the block with the lowest id keeps the
//!   plain name, the others get `name__2.npy`, `name__3.npy`, … (skipping names another output
//!   already has);
//! - an existing file (or link) is not replaced unless `force` is set, and the check and the
//!   rename are one atomic step;
//! - the page's own input files (path attributes, e.g. an Input's `.npy`) and the page file are
//!   never replaced, even with `force` (canonical paths are compared).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::export::names::npy_name;
use crate::file::paths::path_attrs;
use crate::ids::BlockId;
use crate::ops::Registry;
use crate::page::Page;
use crate::tensor::Tensor;

/// Why an output file was not written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The output folder cannot be created or resolved.
    #[error("cannot create the output folder: {source} ({})", path.display())]
    Folder {
        /// The folder.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// Something already exists at the target name.
    #[error("already exists and is not replaced; pass --force to replace it, or choose another --output folder ({})", path.display())]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// A folder is in the way.
    #[error("is a folder, so a result cannot be written there; remove or rename it ({})", path.display())]
    IsFolder {
        /// The folder.
        path: PathBuf,
    },
    /// The target is one of the page's own files.
    #[error("is a file this page reads, and is never replaced (not even with --force); choose another --output folder ({})", path.display())]
    PageFile {
        /// The file.
        path: PathBuf,
    },
    /// Writing failed.
    #[error(transparent)]
    Write(#[from] crate::npy::NpyError),
}

/// The `.npy` file name of every output of every block of `page`, unique within the page:
/// [`npy_name`] for each, and for names that collide, the block with the lower id keeps the
/// name and the others get `stem__2.npy`, `stem__3.npy`, … (the first not taken by any output).
/// Keys are (block, output index); blocks of unknown types have no entry.
#[must_use]
pub fn output_file_names(reg: &Registry, page: &Page) -> BTreeMap<(BlockId, usize), String> {
    let mut plain = Vec::new();
    for b in page.blocks() {
        let Some(d) = reg.get(&b.type_id) else {
            continue;
        };
        for (i, spec) in d.outputs.iter().enumerate() {
            plain.push(((b.id, i), npy_name(&b.name, spec.name, d.outputs.len())));
        }
    }
    plain.sort_by_key(|(k, _)| *k);
    let all: BTreeSet<String> = plain.iter().map(|(_, n)| n.clone()).collect();
    let mut taken = BTreeSet::new();
    let mut out = BTreeMap::new();
    for (key, name) in plain {
        let name = if taken.contains(&name) {
            let stem = name.strip_suffix(".npy").unwrap_or(&name).to_owned();
            (2u64..)
                .map(|n| format!("{stem}__{n}.npy"))
                .find(|c| !taken.contains(c) && !all.contains(c))
                .unwrap_or(name)
        } else {
            name
        };
        taken.insert(name.clone());
        out.insert(key, name);
    }
    out
}

/// The files `page` reads: every non-empty path attribute, resolved against `base_dir` when
/// relative (paths that do not resolve are left out).
#[must_use]
pub fn page_input_files(reg: &Registry, page: &Page, base_dir: &Path) -> Vec<PathBuf> {
    path_attrs(reg, page)
        .filter(|(_, _, p)| !p.trim().is_empty())
        .map(|(_, _, p)| base_dir.join(p))
        .collect()
}

/// A folder results are written into, with the files it must never replace.
#[derive(Debug)]
pub struct OutputDir {
    dir: PathBuf,
    canonical: PathBuf,
    force: bool,
    protected: BTreeSet<PathBuf>,
}

impl OutputDir {
    /// Creates `dir` if missing. `protected` are files never replaced (the page and its
    /// inputs); `force` allows replacing anything else.
    ///
    /// # Errors
    /// [`OutputError::Folder`] when the folder cannot be created.
    pub fn create(dir: &Path, force: bool, protected: &[PathBuf]) -> Result<Self, OutputError> {
        let folder = |source| OutputError::Folder {
            path: dir.to_owned(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(folder)?;
        let canonical = std::fs::canonicalize(dir).map_err(folder)?;
        let protected = protected
            .iter()
            .filter_map(|p| std::fs::canonicalize(p).ok())
            .collect();
        Ok(Self {
            dir: dir.to_owned(),
            canonical,
            force,
            protected,
        })
    }

    /// The path `file_name` is written to.
    #[must_use]
    pub fn path(&self, file_name: &str) -> PathBuf {
        self.dir.join(file_name)
    }

    /// Whether `file_name` may be written: nothing there (or `force`), not a folder, not a
    /// protected file.
    ///
    /// # Errors
    /// The [`OutputError`] a write would meet.
    pub fn check(&self, file_name: &str) -> Result<(), OutputError> {
        let path = self.path(file_name);
        if self.protected.contains(&self.canonical.join(file_name)) {
            return Err(OutputError::PageFile { path });
        }
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.is_dir() => Err(OutputError::IsFolder { path }),
            Ok(_) if !self.force => Err(OutputError::Exists { path }),
            _ => Ok(()),
        }
    }

    /// Writes `tensor` as `file_name` (see the module docs) and returns the path written.
    ///
    /// # Errors
    /// As [`OutputDir::check`], plus [`OutputError::Write`].
    pub fn write(&self, file_name: &str, tensor: &Tensor) -> Result<PathBuf, OutputError> {
        self.check(file_name)?;
        let path = self.path(file_name);
        if self.force {
            crate::npy::write_npy(tensor, &path)?;
        } else if let Err(e) = crate::npy::write_new_npy(tensor, &path) {
            // Appeared between the check and the rename.
            if std::fs::symlink_metadata(&path).is_ok() {
                return Err(OutputError::Exists { path });
            }
            return Err(e.into());
        }
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::AttrValue;

    #[test]
    fn colliding_names_get_deterministic_suffixes() {
        let reg = Registry::builtin();
        let mut page = Page::new("p");
        let v = |s: &str| [("values", AttrValue::Str(s.into()))];
        let a = page.add(&reg, "Input", "a/b", &v("[1]")).unwrap();
        let b = page.add(&reg, "Input", "a_b", &v("[2]")).unwrap();
        let c = page.add(&reg, "Input", "a_b__2", &v("[3]")).unwrap();
        let d = page.add(&reg, "Input", "a/b_", &v("[4]")).unwrap();
        let names = output_file_names(&reg, &page);
        assert_eq!(names[&(a, 0)], "a_b.npy");
        // `a_b__2` is another block's own name, so the duplicate skips it.
        assert_eq!(names[&(b, 0)], "a_b__3.npy");
        assert_eq!(names[&(c, 0)], "a_b__2.npy");
        assert_eq!(names[&(d, 0)], "a_b_.npy");
        assert_eq!(output_file_names(&reg, &page), names);
    }
}
