//! `blockspace export PAGE --python OUT.py [--framework tensorflow|pytorch]`: writes the page as
//! a runnable Python script, with its larger inputs as `.npy` files in `OUT_inputs/` beside it.

use std::io::Write;
use std::path::PathBuf;

use blockspace_graph::export::{ExportError, ExportOptions, Framework};
use blockspace_graph::{Registry, export_page, load_page, write_export};

use super::run::base_dir;

/// Arguments of `blockspace export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The page file (`*.bspage.json`).
    pub page: PathBuf,
    /// The Python script to write; its `.npy` inputs go into `<name>_inputs/` beside it.
    #[arg(long, value_name = "OUT.py")]
    pub python: PathBuf,
    /// `tensorflow` (eager `tf.raw_ops`) or `pytorch`.
    #[arg(long, default_value = "tensorflow", value_parser = parse_framework)]
    pub framework: Framework,
}

fn parse_framework(s: &str) -> Result<Framework, String> {
    s.parse()
        .map_err(|e: blockspace_graph::export::ParseFrameworkError| e.to_string())
}

/// Exit status: 0 written, 1 the page fails its check or has a block with no Python form,
/// 2 the page could not be loaded, 3 the script or its inputs could not be written.
///
/// # Errors
/// Only when writing to `out` or `err` fails.
pub fn run(args: &ExportArgs, out: &mut dyn Write, err: &mut dyn Write) -> std::io::Result<u8> {
    let registry = Registry::builtin();
    let page = match load_page(&registry, &args.page) {
        Ok(p) => p,
        Err(e) => {
            writeln!(err, "error: {e}")?;
            return Ok(2);
        }
    };
    let base = base_dir(&args.page);
    let opts = ExportOptions::script(args.framework, &args.python);
    let exported = match export_page(&registry, &page, Some(&base), &opts) {
        Ok(e) => e,
        Err(e) => {
            writeln!(err, "error: {e} ({})", args.page.display())?;
            return Ok(1);
        }
    };
    if let Err(e) = write_export(&exported, &args.python) {
        writeln!(err, "error: {e}")?;
        return Ok(match e {
            ExportError::Write { .. } | ExportError::Npy(_) => 3,
            _ => 1,
        });
    }
    write!(
        out,
        "wrote {} ({}",
        args.python.display(),
        args.framework.display_name()
    )?;
    if exported.files.is_empty() {
        writeln!(out, ")")?;
    } else {
        let dir = args
            .python
            .parent()
            .unwrap_or_else(|| std::path::Path::new(""))
            .join(&exported.inputs_dir);
        writeln!(
            out,
            ", {} input file(s) in {})",
            exported.files.len(),
            dir.display()
        )?;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn examples() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples")
    }

    fn export(page: PathBuf, python: PathBuf, framework: Framework) -> (u8, String, String) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = run(
            &ExportArgs {
                page,
                python,
                framework,
            },
            &mut out,
            &mut err,
        )
        .unwrap();
        (
            code,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    #[test]
    fn exports_writes_the_script_and_its_inputs() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("chain.py");
        let (code, out, err) = export(
            examples().join("chain.bspage.json"),
            script.clone(),
            Framework::PyTorch,
        );
        assert_eq!(code, 0, "{out}{err}");
        assert!(
            out.contains("PyTorch") && out.contains("chain_inputs"),
            "{out}"
        );
        assert!(
            std::fs::read_to_string(&script)
                .unwrap()
                .contains("import torch")
        );
        assert!(dir.path().join("chain_inputs/filter_1.npy").exists());
    }

    #[test]
    fn errors_have_their_own_exit_codes() {
        let dir = tempfile::tempdir().unwrap();
        let broken = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../blockspace_graph/tests/fixtures/broken_blocks.bspage.json");
        let (code, _, err) = export(broken, dir.path().join("b.py"), Framework::TensorFlow);
        assert_eq!(code, 1);
        assert!(err.contains("does not pass its check"), "{err}");
        let (code, _, _) = export(
            PathBuf::from("/nonexistent/p.bspage.json"),
            dir.path().join("p.py"),
            Framework::TensorFlow,
        );
        assert_eq!(code, 2);
        let (code, _, err) = export(
            examples().join("chain.bspage.json"),
            dir.path().join("no/such/dir/c.py"),
            Framework::TensorFlow,
        );
        assert_eq!(code, 3);
        assert!(err.trim_end().ends_with(")"), "{err}");
        assert!(err.contains("no/such/dir"), "{err}");
    }
}
