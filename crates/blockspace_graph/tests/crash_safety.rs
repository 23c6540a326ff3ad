//! Crash safety of the atomic writers: a child process saves a page and writes a `.npy` file
//! over and over, alternating two versions, and is killed with SIGKILL at random moments; after
//! each kill both files are exactly the old or the new version, whole (compared byte for byte
//! and parsed). Then: saving into a read-only folder is a clear error and the old file stays.
//!
//! `BLOCKSPACE_CRASH_ITERATIONS` sets the number of kills (default 100).
#![expect(clippy::unwrap_used, reason = "test helpers")]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use blockspace_graph::{AttrValue, Page, Registry, Tensor, load_page, page_to_json, save_page};
use blockspace_kernels::MemoryLimit;
use ndarray::{ArrayD, IxDyn};

const CHILD_ENV: &str = "BLOCKSPACE_CRASH_CHILD_DIR";

/// Version `v` (0 or 1) of the page: different names and block counts.
fn page(v: usize) -> Page {
    let reg = Registry::builtin();
    let mut p = Page::new(format!("version{v}"));
    for i in 0..(20 + 30 * v) {
        p.add(
            &reg,
            "Input",
            &format!("b{v}_{i}"),
            &[("values", AttrValue::Str(format!("[{i}, {v}]")))],
        )
        .unwrap();
    }
    p
}

/// Version `v` of the tensor: 1 MiB of `v + 1`.
fn tensor(v: usize) -> Tensor {
    Tensor::F32(ArrayD::from_elem(IxDyn(&[512, 512]), (v + 1) as f32))
}

fn npy_bytes(v: usize, dir: &Path) -> Vec<u8> {
    let p = dir.join(format!("ref{v}.npy"));
    tensor(v).write_npy(&p).unwrap();
    std::fs::read(p).unwrap()
}

/// The child: writes the two versions alternately until it is killed.
#[test]
#[ignore = "the child process of writes_survive_kill_9_at_random_moments"]
fn crash_child() {
    let Some(dir) = std::env::var_os(CHILD_ENV).map(PathBuf::from) else {
        return;
    };
    let pages = [page(0), page(1)];
    let tensors = [tensor(0), tensor(1)];
    for v in (0..2).cycle() {
        save_page(&Registry::builtin(), &pages[v], &dir.join("p.bspage.json")).unwrap();
        tensors[v].write_npy(&dir.join("x.npy")).unwrap();
    }
}

/// A small deterministic generator (xorshift), so a failure can be replayed.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fn iterations(default: usize) -> usize {
    std::env::var("BLOCKSPACE_CRASH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn writes_survive_kill_9_at_random_moments() {
    let dir = tempfile::tempdir().unwrap();
    let refs = tempfile::tempdir().unwrap();
    let texts = [
        page_to_json(&Registry::builtin(), &page(0)),
        page_to_json(&Registry::builtin(), &page(1)),
    ];
    let npys = [npy_bytes(0, refs.path()), npy_bytes(1, refs.path())];
    save_page(
        &Registry::builtin(),
        &page(0),
        &dir.path().join("p.bspage.json"),
    )
    .unwrap();
    tensor(0).write_npy(&dir.path().join("x.npy")).unwrap();
    let reg = Registry::builtin();
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let (mut saw_new, mut leftovers) = (0, 0);
    let n = iterations(100);
    for i in 0..n {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--ignored", "--exact", "crash_child", "--test-threads", "1"])
            .env(CHILD_ENV, dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(next(&mut rng) % 40_000));
        child.kill().unwrap();
        child.wait().unwrap();

        let text = std::fs::read_to_string(dir.path().join("p.bspage.json")).unwrap();
        let which = texts.iter().position(|t| *t == text);
        assert!(which.is_some(), "kill {i}: the page is neither version");
        load_page(&reg, &dir.path().join("p.bspage.json")).unwrap();
        let npy = std::fs::read(dir.path().join("x.npy")).unwrap();
        assert!(
            npys.contains(&npy),
            "kill {i}: the .npy file is neither version"
        );
        blockspace_graph::npy::read_npy(&dir.path().join("x.npy"), &MemoryLimit::default())
            .unwrap();
        saw_new += usize::from(which == Some(1));
        // A kill between creating and renaming a temporary file leaves it behind (named
        // `.bspage-*.tmp` / `.blockspace-*.npy.tmp`); it never replaces anything.
        for e in std::fs::read_dir(dir.path()).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".tmp") {
                leftovers += 1;
                std::fs::remove_file(e.path()).unwrap();
            }
        }
    }
    println!("{n} kills: the new page version {saw_new} times, {leftovers} temporary files left");
    if n >= 50 {
        assert!(
            saw_new > 0,
            "the child never got a write done: kills too early"
        );
    }
}

#[path = "support/read_only.rs"]
mod read_only;
use read_only::ReadOnly;

#[test]
fn saving_into_a_read_only_folder_is_a_clear_error_and_keeps_the_old_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.bspage.json");
    save_page(&Registry::builtin(), &page(0), &path).unwrap();
    let before = std::fs::read(&path).unwrap();
    let _ro = ReadOnly::new(dir.path());
    let e = save_page(&Registry::builtin(), &page(1), &path)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("could not save the page")
            && e.contains("previous file is unchanged")
            && e.contains("p.bspage.json"),
        "{e}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), before);
    let e = tensor(1)
        .write_npy(&dir.path().join("x.npy"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("cannot write the .npy file") && e.contains("x.npy"),
        "{e}"
    );
}
