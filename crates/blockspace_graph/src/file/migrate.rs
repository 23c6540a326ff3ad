//! Migrations of older page-file versions to the current one, one step per version.
//!
//! | version | change |
//! |---|---|
//! | 1 | first version |
//!
//! To change the format: bump [`CURRENT_VERSION`], append a step `fn(Value) -> Result<Value,
//! StepError>` to [`STEPS`] that turns version `n` into `n + 1`, keep an old fixture in
//! `tests/fixtures/`, and describe the change in `docs/file-format.md`.

use serde_json::Value;

/// The version this build writes and the newest it reads.
pub const CURRENT_VERSION: u32 = 1;

/// A migration step: turns a page of version `n` (index `n - 1`) into version `n + 1`.
pub type Step = fn(Value) -> Result<Value, StepError>;

/// What a migration step found wrong with the page it was given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StepError(pub String);

/// Migrating a page file to the current version failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MigrateError {
    /// The file says version 0.
    #[error("version 0 does not exist; the first version is 1")]
    VersionZero,
    /// No step is registered for this version.
    #[error("no migration from version {0}; this is a bug")]
    NoStep(u32),
    /// A step refused the page.
    #[error("migrating from version {from}: {source}")]
    Step {
        /// The version the step starts from.
        from: u32,
        /// What the step found wrong.
        #[source]
        source: StepError,
    },
}

/// Steps from version 1 upwards; `STEPS[n - 1]` migrates `n` to `n + 1`.
pub static STEPS: &[Step] = &[];

/// Migrates `value` from version `from` to [`CURRENT_VERSION`].
///
/// # Errors
/// [`MigrateError`]: version 0, a missing step, or a step that refused the page.
pub fn migrate(mut value: Value, from: u32) -> Result<Value, MigrateError> {
    if from == 0 {
        return Err(MigrateError::VersionZero);
    }
    let mut v = from;
    while v < CURRENT_VERSION {
        let step = STEPS.get((v - 1) as usize).ok_or(MigrateError::NoStep(v))?;
        value = step(value).map_err(|source| MigrateError::Step { from: v, source })?;
        v += 1;
    }
    if let Some(obj) = value.as_object_mut() {
        obj.insert("version".into(), Value::from(CURRENT_VERSION));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_cover_every_older_version() {
        assert_eq!(STEPS.len() as u32, CURRENT_VERSION - 1);
    }

    #[test]
    fn current_version_passes_through_and_zero_is_refused() {
        let v = serde_json::json!({"format": "blockspace.page", "version": 1, "blocks": []});
        assert_eq!(migrate(v.clone(), 1), Ok(v.clone()));
        assert!(migrate(v, 0).is_err());
    }
}
