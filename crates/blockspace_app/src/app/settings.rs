//! The settings that outlive a session, kept in `settings.json` in the state folder (beside the
//! recent-files list): for now the memory budget of runs. And where the budget in effect comes
//! from: the setting made in the app, else `BLOCKSPACE_MEMORY_LIMIT`, else the machine's
//! default (a fraction of the smallest of physical memory, the cgroup limit and `RLIMIT_AS`).

use std::fmt;
use std::path::{Path, PathBuf};

use blockspace_graph::{MachineMemory, format_size};

/// The persisted settings.
#[derive(Debug, Default)]
pub struct Settings {
    /// The memory budget of runs set in the app, in bytes (`None`: not set).
    pub memory_limit: Option<u64>,
    file: Option<PathBuf>,
}

impl Settings {
    /// Loads the settings from the state folder (missing or unreadable: none set; a bad file
    /// is logged and ignored, never fatal).
    #[must_use]
    pub fn load(state_dir: Option<&Path>) -> Self {
        let file = state_dir.map(|d| d.join("settings.json"));
        let doc = file
            .as_ref()
            .and_then(|f| std::fs::read_to_string(f).ok())
            .and_then(|t| match serde_json::from_str::<serde_json::Value>(&t) {
                Ok(v) => Some(v),
                Err(e) => {
                    log::warn!("ignoring the settings file: {e}");
                    None
                }
            });
        let memory_limit = doc
            .as_ref()
            .and_then(|d| d.get("memory_limit"))
            .and_then(serde_json::Value::as_u64)
            .filter(|&b| b > 0);
        Self { memory_limit, file }
    }

    /// Writes the settings (atomically).
    ///
    /// # Errors
    /// The message of the failed write (the settings stay in effect for this session).
    pub fn store(&self) -> Result<(), String> {
        let Some(f) = &self.file else {
            return Ok(());
        };
        if let Some(dir) = f.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let doc = serde_json::json!({ "memory_limit": self.memory_limit });
        let text = format!("{doc:#}\n");
        blockspace_graph::save_text(&text, f).map_err(|e| e.to_string())
    }
}

/// Where the memory budget in effect comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BudgetSource {
    /// Set in the app (Run ▸ Memory limit…).
    Setting,
    /// `BLOCKSPACE_MEMORY_LIMIT` when the app started.
    Environment,
    /// The machine's default; how it was worked out.
    Default(String),
}

/// The memory budget of runs and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    /// Bytes.
    pub bytes: u64,
    /// Where from.
    pub source: BudgetSource,
}

impl Budget {
    /// The budget in effect: the app's setting, else the environment's, else the default.
    #[must_use]
    pub fn effective(setting: Option<u64>, environment: Option<u64>) -> Self {
        match (setting, environment) {
            (Some(bytes), _) => Budget {
                bytes,
                source: BudgetSource::Setting,
            },
            (None, Some(bytes)) => Budget {
                bytes,
                source: BudgetSource::Environment,
            },
            (None, None) => {
                let m = MachineMemory::detect();
                Budget {
                    bytes: m.default_budget(),
                    source: BudgetSource::Default(m.describe()),
                }
            }
        }
    }
}

impl fmt::Display for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let size = format_size(self.bytes);
        match &self.source {
            BudgetSource::Setting => write!(f, "{size}, set in the app"),
            BudgetSource::Environment => write!(f, "{size}, from BLOCKSPACE_MEMORY_LIMIT"),
            BudgetSource::Default(how) => write!(f, "{size}, the default: {how}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_setting_round_trips_and_wins_over_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Settings::load(Some(dir.path()));
        assert_eq!(s.memory_limit, None);
        s.memory_limit = Some(3 << 30);
        s.store().unwrap();
        assert_eq!(Settings::load(Some(dir.path())).memory_limit, Some(3 << 30));
        let b = Budget::effective(Some(3 << 30), Some(1 << 30));
        assert_eq!(b.source, BudgetSource::Setting);
        assert_eq!(b.to_string(), "3.00 GiB, set in the app");
        let b = Budget::effective(None, Some(1 << 30));
        assert_eq!(b.to_string(), "1.00 GiB, from BLOCKSPACE_MEMORY_LIMIT");
        let b = Budget::effective(None, None);
        assert!(b.to_string().contains("the default: "), "{b}");
        std::fs::write(dir.path().join("settings.json"), "{not json").unwrap();
        assert_eq!(Settings::load(Some(dir.path())).memory_limit, None);
    }
}
