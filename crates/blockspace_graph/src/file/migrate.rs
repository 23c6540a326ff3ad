//! Migrations of older page-file versions to the current one, one step per version.
//!
//! | version | change |
//! |---|---|
//! | 1 | first version |
//!
//! To change the format: bump [`CURRENT_VERSION`], append a step `fn(Value) -> Result<Value,
//! String>` to [`STEPS`] that turns version `n` into `n + 1`, keep an old fixture in
//! `tests/fixtures/`, and describe the change in `docs/file-format.md`.

use serde_json::Value;

/// The version this build writes and the newest it reads.
pub const CURRENT_VERSION: u32 = 1;

/// A migration step: turns a page of version `n` (index `n - 1`) into version `n + 1`.
pub type Step = fn(Value) -> Result<Value, String>;

/// Steps from version 1 upwards; `STEPS[n - 1]` migrates `n` to `n + 1`.
pub static STEPS: &[Step] = &[];

/// Migrates `value` from version `from` to [`CURRENT_VERSION`].
pub fn migrate(mut value: Value, from: u32) -> Result<Value, String> {
    if from == 0 {
        return Err("version 0 does not exist; the first version is 1".into());
    }
    let mut v = from;
    while v < CURRENT_VERSION {
        let step = STEPS
            .get((v - 1) as usize)
            .ok_or_else(|| format!("no migration from version {v}; this is a bug"))?;
        value = step(value).map_err(|e| format!("migrating from version {v}: {e}"))?;
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
