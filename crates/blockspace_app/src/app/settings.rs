//! The settings that outlive a session, kept in `settings.json` in the state folder (beside the
//! recent-files list): the memory budget of runs, and the theme and interface scale chosen in the
//! View menu. And where the budget in effect comes from: the setting made in the app, else
//! `BLOCKSPACE_MEMORY_LIMIT`, else the machine's default (a fraction of the smallest of physical
//! memory, the cgroup limit and `RLIMIT_AS`).

use std::fmt;
use std::path::{Path, PathBuf};

use blockspace_graph::{MachineMemory, format_size};

/// Interface scales the settings file may hold (the View menu offers 100–200 %).
const SCALES: std::ops::RangeInclusive<f32> = 0.5..=4.0;

/// The persisted settings.
#[derive(Debug, Default)]
pub struct Settings {
    /// The memory budget of runs set in the app, in bytes (`None`: not set).
    pub memory_limit: Option<u64>,
    /// The theme chosen in View ▸ Theme (`None`: not chosen, egui's default).
    pub theme: Option<egui::ThemePreference>,
    /// The interface scale chosen in View ▸ Interface scale (`None`: not chosen, 100 %).
    pub interface_scale: Option<f32>,
    file: Option<PathBuf>,
}

/// The settings file's name of a theme.
fn theme_name(t: egui::ThemePreference) -> &'static str {
    match t {
        egui::ThemePreference::Light => "light",
        egui::ThemePreference::Dark => "dark",
        egui::ThemePreference::System => "system",
    }
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
        let field = |name: &str| doc.as_ref().and_then(|d| d.get(name));
        let memory_limit = field("memory_limit")
            .and_then(serde_json::Value::as_u64)
            .filter(|&b| b > 0);
        let theme = field("theme")
            .and_then(serde_json::Value::as_str)
            .and_then(|t| {
                [
                    egui::ThemePreference::Light,
                    egui::ThemePreference::Dark,
                    egui::ThemePreference::System,
                ]
                .into_iter()
                .find(|&p| theme_name(p) == t)
            });
        let interface_scale = field("interface_scale")
            .and_then(serde_json::Value::as_f64)
            .map(|z| z as f32)
            .filter(|z| SCALES.contains(z));
        Self {
            memory_limit,
            theme,
            interface_scale,
            file,
        }
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
        let doc = serde_json::json!({
            "memory_limit": self.memory_limit,
            "theme": self.theme.map(theme_name),
            "interface_scale": self.interface_scale,
        });
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

    #[test]
    fn the_theme_and_interface_scale_round_trip_and_bad_values_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Settings::load(Some(dir.path()));
        assert_eq!((s.theme, s.interface_scale), (None, None));
        s.theme = Some(egui::ThemePreference::Light);
        s.interface_scale = Some(1.25);
        s.memory_limit = Some(1 << 30);
        s.store().unwrap();
        let back = Settings::load(Some(dir.path()));
        assert_eq!(back.theme, Some(egui::ThemePreference::Light));
        assert_eq!(back.interface_scale, Some(1.25));
        assert_eq!(
            back.memory_limit,
            Some(1 << 30),
            "the other settings are kept"
        );
        std::fs::write(
            dir.path().join("settings.json"),
            r#"{"theme": "purple", "interface_scale": 40, "memory_limit": 5}"#,
        )
        .unwrap();
        let bad = Settings::load(Some(dir.path()));
        assert_eq!((bad.theme, bad.interface_scale), (None, None));
        assert_eq!(bad.memory_limit, Some(5));
    }
}
