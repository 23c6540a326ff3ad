//! Autosave and recovery of unsaved pages, and the recent-files list: what the app keeps in its
//! state directory.

use std::path::{Path, PathBuf};

use crate::app::file_dialogs::PAGE_SUFFIX;
use crate::app::page_tab::TabId;

/// A recovery file could not be written.
#[derive(Debug, thiserror::Error)]
#[error("{source}")]
pub struct RecoveryError {
    /// The failed atomic write.
    #[source]
    pub source: blockspace_graph::FileError,
}

/// Where the app keeps its state (recent files, recovery files): `$XDG_STATE_HOME/blockspace`
/// or `~/.local/state/blockspace`.
#[must_use]
pub fn default_state_dir() -> Option<PathBuf> {
    if let Some(x) = std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(x).join("blockspace"));
    }
    std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .map(|h| PathBuf::from(h).join(".local/state/blockspace"))
}

/// The recent-files list, most recent first.
#[derive(Debug, Default)]
pub struct Recent {
    /// The paths.
    pub paths: Vec<PathBuf>,
    file: Option<PathBuf>,
}

const RECENT_MAX: usize = 10;

impl Recent {
    /// Loads the list from the state directory (an unreadable list is an empty list).
    #[must_use]
    pub fn load(state_dir: Option<&Path>) -> Self {
        let file = state_dir.map(|d| d.join("recent.json"));
        let paths = file
            .as_ref()
            .and_then(|f| std::fs::read_to_string(f).ok())
            .and_then(|t| serde_json::from_str::<Vec<PathBuf>>(&t).ok())
            .unwrap_or_default();
        Self { paths, file }
    }

    /// Puts `path` first and saves the list.
    pub fn add(&mut self, path: &Path) {
        let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        self.paths.retain(|p| p != &path);
        self.paths.insert(0, path);
        self.paths.truncate(RECENT_MAX);
        self.store();
    }

    /// Removes `path` (e.g. it no longer opens) and saves the list.
    pub fn remove(&mut self, path: &Path) {
        self.paths.retain(|p| p != path);
        self.store();
    }

    fn store(&self) {
        let Some(f) = &self.file else { return };
        if let Some(dir) = f.parent()
            && let Err(e) = std::fs::create_dir_all(dir)
        {
            log::warn!("cannot create {}: {e}", dir.display());
            return;
        }
        match serde_json::to_string_pretty(&self.paths) {
            Ok(text) => {
                if let Err(e) = std::fs::write(f, text) {
                    log::warn!("cannot write the recent-files list {}: {e}", f.display());
                }
            }
            Err(e) => log::warn!("cannot encode the recent-files list: {e}"),
        }
    }
}

/// One page found in the recovery directory.
#[derive(Debug, Clone)]
pub struct Recovered {
    /// The recovery file.
    pub file: PathBuf,
    /// The page's own file, if it had one.
    pub origin: Option<PathBuf>,
    /// The tab title.
    pub title: String,
}

/// Autosave of unsaved pages, offered again after a crash.
///
/// Each running app owns a session folder `<state_dir>/recovery/session-<pid>-<nanos>/` and
/// holds an exclusive lock on its `lock` file for as long as it runs (the OS drops the lock
/// when the process ends, however it ends). So several instances never touch each other's
/// files: [`Recovery::list`] offers only the pages of sessions whose lock is free (their app is
/// gone) and keeps those locked until [`Recovery::discard_orphans`], so a third instance does
/// not offer them too. Loose page files directly in `recovery/` (older versions) count as
/// orphans as well.
#[derive(Debug)]
pub struct Recovery {
    root: Option<PathBuf>,
    /// This app's session folder and its held lock.
    session: Option<(PathBuf, std::fs::File)>,
    /// Orphaned session folders listed by [`Recovery::list`], locked by us meanwhile.
    orphans: Vec<(PathBuf, std::fs::File)>,
}

const LOCK_FILE: &str = "lock";

impl Recovery {
    /// Recovery files live under `<state_dir>/recovery`; creates and locks this app's session
    /// folder (without one, autosave is off and a warning is logged).
    #[must_use]
    pub fn new(state_dir: Option<&Path>) -> Self {
        let root = state_dir.map(|d| d.join("recovery"));
        let session = root.as_deref().and_then(|root| {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            let dir = root.join(format!("session-{}-{nanos}", std::process::id()));
            let lock = std::fs::create_dir_all(&dir)
                .and_then(|()| std::fs::File::create(dir.join(LOCK_FILE)))
                .and_then(|f| f.try_lock().map(|()| f).map_err(std::io::Error::other));
            match lock {
                Ok(f) => Some((dir, f)),
                Err(e) => {
                    log::warn!(
                        "autosave is off: cannot lock a recovery folder ({e}); check that \
                         the folder is writable: {}",
                        dir.display()
                    );
                    None
                }
            }
        });
        Self {
            root,
            session,
            orphans: Vec::new(),
        }
    }

    fn files(&self, uid: TabId) -> Option<(PathBuf, PathBuf)> {
        let (d, _) = self.session.as_ref()?;
        Some((
            d.join(format!("page-{uid}{PAGE_SUFFIX}")),
            d.join(format!("page-{uid}.meta.json")),
        ))
    }

    /// Writes the page text (and where it belongs) for tab `uid`, each file atomically.
    pub fn write(
        &self,
        uid: TabId,
        title: &str,
        origin: Option<&Path>,
        page_json: &str,
    ) -> Result<(), RecoveryError> {
        let Some((page_file, meta_file)) = self.files(uid) else {
            return Ok(());
        };
        let meta = serde_json::json!({ "title": title, "origin": origin });
        let write = |text: &str, file: &Path| {
            blockspace_graph::save_text(text, file).map_err(|source| RecoveryError { source })
        };
        write(&meta.to_string(), &meta_file)?;
        write(page_json, &page_file)?;
        Ok(())
    }

    /// Removes the recovery files of tab `uid` (it was saved or closed).
    pub fn remove(&self, uid: TabId) {
        if let Some((a, b)) = self.files(uid) {
            let _ = std::fs::remove_file(a);
            let _ = std::fs::remove_file(b);
        }
    }

    /// Pages left behind by apps that did not end cleanly (never this app's own, nor those of
    /// other apps still running). Their folders stay locked by this app until
    /// [`Recovery::discard_orphans`].
    #[must_use]
    pub fn list(&mut self) -> Vec<Recovered> {
        let Some(root) = self.root.clone() else {
            return Vec::new();
        };
        let own = self.session.as_ref().map(|(d, _)| d.clone());
        let mut out = pages_in(&root);
        let Ok(entries) = std::fs::read_dir(&root) else {
            return out;
        };
        let mut dirs: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir() && Some(p) != own.as_ref())
            .collect();
        dirs.sort();
        for dir in dirs {
            if self.orphans.iter().any(|(d, _)| *d == dir) {
                out.extend(pages_in(&dir));
                continue;
            }
            let Ok(lock) = std::fs::File::open(dir.join(LOCK_FILE)) else {
                // A folder without its lock file: its app is gone.
                out.extend(pages_in(&dir));
                continue;
            };
            if lock.try_lock().is_ok() {
                let pages = pages_in(&dir);
                if pages.is_empty() {
                    // An app that ended with nothing unsaved.
                    drop(lock);
                    let _ = std::fs::remove_dir_all(&dir);
                } else {
                    out.extend(pages);
                    self.orphans.push((dir, lock));
                }
            }
        }
        out.sort_by(|a, b| a.file.cmp(&b.file));
        out
    }

    /// Deletes the orphaned pages of [`Recovery::list`] (restored into this app, or declined).
    pub fn discard_orphans(&mut self) {
        let Some(root) = self.root.clone() else {
            return;
        };
        for r in pages_in(&root) {
            remove_page_files(&r.file);
        }
        for (dir, lock) in std::mem::take(&mut self.orphans) {
            let _ = std::fs::remove_dir_all(&dir);
            drop(lock);
        }
        if let Ok(entries) = std::fs::read_dir(&root) {
            // Folders that had lost their lock file.
            for dir in entries.flatten().map(|e| e.path()) {
                let own = self.session.as_ref().is_some_and(|(d, _)| *d == dir);
                if dir.is_dir() && !own && !dir.join(LOCK_FILE).exists() {
                    let _ = std::fs::remove_dir_all(&dir);
                }
            }
        }
    }

    /// Deletes one orphaned page of [`Recovery::list`] (it was restored into this app).
    pub fn forget(&self, page: &Path) {
        remove_page_files(page);
    }

    /// Gives up the orphaned folders of [`Recovery::list`] without deleting what is left in
    /// them (pages that could not be restored are offered again next time); empty ones go.
    pub fn release_orphans(&mut self) {
        for (dir, lock) in std::mem::take(&mut self.orphans) {
            if pages_in(&dir).is_empty() {
                let _ = std::fs::remove_dir_all(&dir);
            }
            drop(lock);
        }
    }

    /// Removes this app's recovery files (after a clean exit or "quit without saving").
    pub fn clear_own(&self) {
        if let Some((dir, _)) = &self.session {
            for r in pages_in(dir) {
                remove_page_files(&r.file);
            }
        }
    }
}

impl Drop for Recovery {
    /// An app that ends with no unsaved work leaves no session folder behind.
    fn drop(&mut self) {
        if let Some((dir, _)) = &self.session
            && pages_in(dir).is_empty()
        {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// The recovery pages directly inside `dir`.
fn pages_in(dir: &Path) -> Vec<Recovered> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let file = e.path();
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Some(stem) = name.strip_suffix(PAGE_SUFFIX) else {
            continue;
        };
        let meta: serde_json::Value =
            std::fs::read_to_string(dir.join(format!("{stem}.meta.json")))
                .ok()
                .and_then(|t| serde_json::from_str(&t).ok())
                .unwrap_or_default();
        let origin = meta
            .get("origin")
            .and_then(|o| o.as_str())
            .map(PathBuf::from);
        let title = meta
            .get("title")
            .and_then(|t| t.as_str())
            .map_or_else(|| stem.to_owned(), str::to_owned);
        out.push(Recovered {
            file,
            origin,
            title,
        });
    }
    out.sort_by(|a, b| a.file.cmp(&b.file));
    out
}

/// Removes a recovery page and its meta file.
fn remove_page_files(page: &Path) {
    let _ = std::fs::remove_file(page);
    let meta = page.to_string_lossy().replace(PAGE_SUFFIX, ".meta.json");
    let _ = std::fs::remove_file(meta);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let crashed = Recovery::new(Some(dir.path()));
        crashed
            .write(
                TabId(7),
                "demo",
                Some(Path::new("/x/demo.bspage.json")),
                "{}",
            )
            .unwrap();
        assert!(
            Recovery::new(Some(dir.path())).list().is_empty(),
            "a running app's pages are not offered"
        );
        drop(crashed); // its lock goes, as when the process dies
        let mut next = Recovery::new(Some(dir.path()));
        let list = next.list();
        assert_eq!(list.len(), 1, "one recovered page");
        assert_eq!(list[0].title, "demo", "title");
        assert_eq!(
            list[0].origin.as_deref(),
            Some(Path::new("/x/demo.bspage.json")),
            "origin"
        );
        assert!(
            Recovery::new(Some(dir.path())).list().is_empty(),
            "pages being offered by one app are not offered by another"
        );
        next.discard_orphans();
        assert!(next.list().is_empty(), "discarded");
        assert!(
            Recovery::new(Some(dir.path())).list().is_empty(),
            "gone for good"
        );
    }

    /// Two apps at once: same tab ids, separate files; one's clean exit keeps the other's.
    #[test]
    fn two_apps_keep_their_own_recovery_files() {
        let dir = tempfile::tempdir().unwrap();
        let a = Recovery::new(Some(dir.path()));
        let b = Recovery::new(Some(dir.path()));
        a.write(TabId(1), "a", None, "{\"a\":1}").unwrap();
        b.write(TabId(1), "b", None, "{\"b\":1}").unwrap();
        a.clear_own();
        drop(a);
        drop(b); // b "crashes" with its page unsaved
        let mut c = Recovery::new(Some(dir.path()));
        let list = c.list();
        assert_eq!(list.len(), 1, "only b's page is left: {list:?}");
        assert_eq!(list[0].title, "b");
        assert_eq!(std::fs::read_to_string(&list[0].file).unwrap(), "{\"b\":1}");
    }

    /// Pages written flat into `recovery/` by older versions are still offered.
    #[test]
    fn loose_pages_of_older_versions_are_offered() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("recovery");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(root.join(format!("page-3{PAGE_SUFFIX}")), "{}").unwrap();
        let mut r = Recovery::new(Some(dir.path()));
        assert_eq!(r.list().len(), 1);
        r.discard_orphans();
        assert!(r.list().is_empty());
    }

    #[test]
    fn recent_keeps_order_and_limit() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = Recent::load(Some(dir.path()));
        for i in 0..12 {
            r.add(Path::new(&format!("/nonexistent/p{i}.bspage.json")));
        }
        r.add(Path::new("/nonexistent/p3.bspage.json"));
        let again = Recent::load(Some(dir.path()));
        assert_eq!(again.paths.len(), RECENT_MAX, "limit");
        assert_eq!(
            again.paths[0],
            Path::new("/nonexistent/p3.bspage.json"),
            "most recent first"
        );
    }
}
