//! The exported script's `--output DIR`: existing files kept unless `--force`, atomic writes,
//! symbolic links replaced not followed, the script's own inputs never replaced. Runs the script
//! where TensorFlow is importable (`$BLOCKSPACE_PYTHON`, see `support/export.rs`).

#![expect(clippy::unwrap_used, reason = "test helpers")]

#[path = "support/export.rs"]
mod support;

use blockspace_graph::export::Framework;
use support::{examples_dir, export_to, importable, run_python};

/// `python SCRIPT --output DIR` keeps what is there: an existing file is not replaced without
/// `--force` (refused before computing, exit 2, naming it), with `--force` it is replaced by a
/// rename (a symbolic link replaced, the file it points to untouched), and the script's own
/// input files are never replaced.
#[test]
fn the_scripts_output_keeps_existing_files_unless_forced() {
    let tmp = tempfile::tempdir().unwrap();
    let script = export_to(
        &examples_dir().join("minimal.bspage.json"),
        Framework::TensorFlow,
        tmp.path(),
    );
    let text = std::fs::read_to_string(&script).unwrap();
    assert!(
        text.contains("OUTPUT_FILES = [\n    \"input_sizes.npy\",") && text.contains("--force"),
        "{text}"
    );
    if !importable("tensorflow") {
        return;
    }
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let kept = out.join("filter.npy");
    std::fs::write(&kept, b"not mine to lose").unwrap();
    let outside = tmp.path().join("outside.npy");
    std::fs::write(&outside, b"outside DIR").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(&outside, out.join("out_backprop.npy")).unwrap();
    let script_s = script.to_str().unwrap();
    let out_s = out.to_str().unwrap();

    let (ok, text) = run_python(&[script_s, "--output", out_s]);
    assert!(
        !ok && text.contains("already exist")
            && text.contains("filter.npy")
            && text.contains("--force"),
        "{text}"
    );
    assert_eq!(std::fs::read(&kept).unwrap(), b"not mine to lose");
    assert!(
        !out.join("input_sizes.npy").exists(),
        "nothing written: {text}"
    );

    let (ok, text) = run_python(&[script_s, "--output", out_s, "--force"]);
    assert!(ok, "{text}");
    assert!(
        std::fs::read(&kept).unwrap().starts_with(b"\x93NUMPY"),
        "replaced"
    );
    assert_eq!(
        std::fs::read(&outside).unwrap(),
        b"outside DIR",
        "not followed"
    );
    #[cfg(unix)]
    assert!(
        !std::fs::symlink_metadata(out.join("out_backprop.npy"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let left: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "no temporary files left: {left:?}");

    // The script's own inputs folder is never an output folder.
    let inputs = tmp.path().join("minimal_tensorflow_inputs");
    std::fs::create_dir_all(&inputs).unwrap();
    std::fs::write(inputs.join("filter.npy"), b"an input").unwrap();
    let (ok, text) = run_python(&[script_s, "--output", inputs.to_str().unwrap(), "--force"]);
    assert!(!ok && text.contains("own input files"), "{text}");
    assert_eq!(
        std::fs::read(inputs.join("filter.npy")).unwrap(),
        b"an input"
    );
}
