//! A folder made read-only for a test, shared by the graph's and the app's crash-safety tests
//! (the app's includes this file by path).

use std::path::{Path, PathBuf};
use std::process::Command;

/// Makes `dir` read-only for this process, also for root (`chattr +i`); undone on drop.
pub struct ReadOnly(PathBuf);

impl ReadOnly {
    pub fn new(dir: &Path) -> Self {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555)).unwrap();
        let guard = Self(dir.to_owned());
        if std::fs::File::create(dir.join(".probe")).is_ok() {
            // Root ignores permission bits; make the folder immutable instead.
            std::fs::remove_file(dir.join(".probe")).unwrap();
            let ok = Command::new("chattr")
                .arg("+i")
                .arg(dir)
                .status()
                .is_ok_and(|s| s.success());
            assert!(
                ok && std::fs::File::create(dir.join(".probe")).is_err(),
                "cannot make a read-only folder here (neither permissions nor chattr +i work)"
            );
        }
        guard
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        use std::os::unix::fs::PermissionsExt;
        let _ = Command::new("chattr").arg("-i").arg(&self.0).status();
        let _ = std::fs::set_permissions(&self.0, std::fs::Permissions::from_mode(0o755));
    }
}
