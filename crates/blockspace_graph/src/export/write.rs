//! Writing an export: the script and its `.npy` inputs folder, atomically.

use super::{ExportError, Exported};
use std::path::{Path, PathBuf};

/// Writes `exported` as `script_path`, and its `.npy` inputs into the folder
/// [`Exported::inputs_dir`] beside it. The folder is written under a temporary name and renamed
/// into place (replacing an older one), then the script is saved atomically (temp file, fsync,
/// rename), so a failure leaves the previous export intact.
///
/// # Errors
/// A folder or file cannot be created or written; the message ends with its path.
pub fn write_export(exported: &Exported, script_path: &Path) -> Result<(), ExportError> {
    let dir = match script_path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let werr = |path: &Path| {
        let path = path.to_owned();
        move |source| ExportError::Write { path, source }
    };
    if !exported.files.is_empty() {
        let tmp = tempfile::Builder::new()
            .prefix(".bsexport-")
            .tempdir_in(&dir)
            .map_err(werr(&dir))?;
        for (name, t) in &exported.files {
            t.write_npy(&tmp.path().join(name))?;
        }
        let target = dir.join(&exported.inputs_dir);
        let old = dir.join(format!(".{}.old", exported.inputs_dir));
        if target.exists() {
            if old.exists() {
                std::fs::remove_dir_all(&old).map_err(werr(&old))?;
            }
            std::fs::rename(&target, &old).map_err(werr(&target))?;
        }
        let kept = tmp.keep();
        if let Err(e) = std::fs::rename(&kept, &target) {
            let _ = std::fs::remove_dir_all(&kept);
            if old.exists() {
                let _ = std::fs::rename(&old, &target);
            }
            return Err(ExportError::Write {
                path: target,
                source: e,
            });
        }
        if old.exists() {
            let _ = std::fs::remove_dir_all(&old);
        }
    }
    crate::file::save_text(&exported.script, script_path).map_err(|e| match e {
        crate::file::FileError::Save { path, source } => ExportError::Write { path, source },
        other => ExportError::Write {
            path: script_path.to_owned(),
            source: std::io::Error::other(other.to_string()),
        },
    })
}
