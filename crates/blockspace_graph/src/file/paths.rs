//! Paths inside a page (an Input's `.npy` file) relative to the page file, so pages move together
//! with their data.

use crate::ids::BlockId;
use crate::ops::{AttrKind, Registry};
use crate::page::Page;
use crate::value::AttrValue;
use std::path::{Path, PathBuf};

/// `file` written relative to `base_dir` (the page file's directory) when both are absolute or
/// both relative, e.g. `data/x.npy` or `../shared/x.npy`; otherwise `file` unchanged. Use it for
/// paths the user picks, so pages can be moved together with their data.
pub fn relative_path(base_dir: &Path, file: &Path) -> PathBuf {
    use std::path::Component;
    if base_dir.is_absolute() != file.is_absolute() {
        return file.to_owned();
    }
    let base: Vec<Component<'_>> = base_dir
        .components()
        .filter(|c| *c != Component::CurDir)
        .collect();
    let target: Vec<Component<'_>> = file
        .components()
        .filter(|c| *c != Component::CurDir)
        .collect();
    let common = base.iter().zip(&target).take_while(|(a, b)| a == b).count();
    if base[common..]
        .iter()
        .any(|c| matches!(c, Component::ParentDir))
    {
        return file.to_owned(); // cannot climb out of an unknown directory
    }
    let mut out = PathBuf::new();
    for _ in common..base.len() {
        out.push("..");
    }
    for c in &target[common..] {
        out.push(c.as_os_str());
    }
    out
}

/// Every non-empty path attribute (e.g. an Input's `.npy` path) set on the page's blocks, as
/// `(block, attribute name, path as written)`; blocks of unknown types are passed over.
pub fn path_attrs<'a>(
    reg: &'a Registry,
    page: &'a Page,
) -> impl Iterator<Item = (BlockId, &'static str, &'a str)> + 'a {
    page.blocks().flat_map(move |b| {
        reg.get(&b.type_id)
            .into_iter()
            .flat_map(|d| d.attrs.iter())
            .filter(|spec| matches!(spec.kind, AttrKind::Path { .. }))
            .filter_map(move |spec| match b.attrs.get(spec.name) {
                Some(AttrValue::Str(p)) if !p.is_empty() => Some((b.id, spec.name, p.as_str())),
                _ => None,
            })
    })
}

/// A command that rewrites the path attributes (e.g. an Input's `.npy` path) of a page saved
/// into `new_dir` whose relative paths resolved against `old_dir` until now: relative paths
/// still point at the same files ("Save As" into another folder), and absolute paths to files
/// inside `new_dir` become relative to it (a file picked before the page was first saved), so
/// the page folder can move. Apply it (through the history) before saving; it is an empty batch
/// when nothing changes.
pub fn rebase_paths_command(
    reg: &Registry,
    page: &Page,
    old_dir: &Path,
    new_dir: &Path,
) -> crate::Command {
    let mut cmds = Vec::new();
    for (block, attr, p) in path_attrs(reg, page) {
        let moved = if Path::new(p).is_absolute() {
            match inside(new_dir, Path::new(p)) {
                Some(rel) => rel,
                None => continue,
            }
        } else {
            relative_path(new_dir, &old_dir.join(p))
        };
        let moved = moved.to_string_lossy().replace('\\', "/");
        if moved != p {
            cmds.push(crate::Command::SetAttr {
                block,
                attr: attr.to_owned(),
                value: AttrValue::Str(moved),
            });
        }
    }
    crate::Command::Batch(cmds)
}

/// `file` relative to `dir` when it lies inside it (as written, or once both are resolved:
/// symbolic links, `..`), else `None`.
fn inside(dir: &Path, file: &Path) -> Option<PathBuf> {
    if let Ok(rel) = file.strip_prefix(dir) {
        return Some(rel.to_owned());
    }
    let (dir, file) = (
        std::fs::canonicalize(dir).ok()?,
        std::fs::canonicalize(file).ok()?,
    );
    file.strip_prefix(dir).ok().map(Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths() {
        let r = |b: &str, f: &str| {
            relative_path(Path::new(b), Path::new(f))
                .to_string_lossy()
                .into_owned()
        };
        assert_eq!(r("/a/b", "/a/b/data/x.npy"), "data/x.npy");
        assert_eq!(r("/a/b", "/a/c/x.npy"), "../c/x.npy");
        assert_eq!(r("examples", "examples/data/x.npy"), "data/x.npy");
        assert_eq!(r("/a", "rel/x.npy"), "rel/x.npy");
    }

    #[test]
    fn rebasing_keeps_npy_paths_pointing_at_the_same_file() {
        let reg = Registry::builtin();
        let mut p = Page::new("p");
        let a = p
            .add(
                &reg,
                "Input",
                "a",
                &[
                    ("mode", AttrValue::Str("npy".into())),
                    ("path", AttrValue::Str("data/x.npy".into())),
                ],
            )
            .expect("add");
        let cmd = rebase_paths_command(
            &reg,
            &p,
            Path::new("/work/examples"),
            Path::new("/work/other"),
        );
        p.apply(&reg, cmd).expect("apply");
        assert_eq!(
            p.block(a).and_then(|b| b.attrs["path"].as_str()),
            Some("../examples/data/x.npy")
        );
        let none =
            rebase_paths_command(&reg, &p, Path::new("/work/other"), Path::new("/work/other"));
        assert!(none.is_noop());
    }
}
