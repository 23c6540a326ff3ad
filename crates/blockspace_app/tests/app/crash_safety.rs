//! Crash safety of what the app and the binary write, by SIGKILL at random moments:
//! `blockspace run --output DIR --force` (the real binary, alternating two pages that write the
//! same file names with different values) and the recovery writer (this test binary as the child,
//! writing two page versions alternately). After every kill each file is the old or the new
//! version, whole, and parses. Then: saving into a read-only folder shows an error, and the page
//! stays unsaved and recoverable.
//!
//! `BLOCKSPACE_CRASH_ITERATIONS` sets the number of kills per writer (default 100 for
//! `--output`, 60 for recovery).
#![expect(clippy::unwrap_used, reason = "test helpers")]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use blockspace_app::app::page_tab::TabId;
use blockspace_app::app::recovery::Recovery;
use blockspace_graph::{AttrValue, Page, Registry, load_page, page_to_json, save_page};
use blockspace_kernels::MemoryLimit;

const CHILD_ENV: &str = "BLOCKSPACE_RECOVERY_CHILD_DIR";
const NAMES: [&str; 3] = ["a", "b", "c"];

fn iterations(default: usize) -> usize {
    std::env::var("BLOCKSPACE_CRASH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A small deterministic generator (xorshift), so a failure can be replayed.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// A page of three 2 MiB float32 fills of `value`, saved as `dir/<file>`.
fn fill_page(dir: &Path, file: &str, value: f64) -> PathBuf {
    let reg = Registry::builtin();
    let mut page = Page::new("fills");
    for n in NAMES {
        page.add(
            &reg,
            "Input",
            n,
            &[
                ("mode", AttrValue::Str("fill".into())),
                ("dtype", AttrValue::Str("float32".into())),
                ("shape", AttrValue::IntList(vec![256, 256, 8])),
                ("value", AttrValue::Float(value)),
            ],
        )
        .unwrap();
    }
    let path = dir.join(file);
    save_page(&Registry::builtin(), &page, &path).unwrap();
    path
}

/// The one value every element of the `.npy` file at `path` has (panics when mixed or cut).
fn uniform_value(path: &Path) -> f64 {
    let t = blockspace_graph::npy::read_npy(path, &MemoryLimit::default()).unwrap();
    assert_eq!(t.shape(), &[256, 256, 8], "{}", path.display());
    let a = t.to_f64();
    let first = a.iter().copied().next().unwrap();
    assert!(
        a.iter().all(|&v| v == first),
        "mixed values in {}",
        path.display()
    );
    first
}

#[test]
fn run_output_survives_kill_9_at_random_moments() {
    let dir = tempfile::tempdir().unwrap();
    let pages = [
        fill_page(dir.path(), "one.bspage.json", 1.0),
        fill_page(dir.path(), "two.bspage.json", 2.0),
    ];
    let out = dir.path().join("out");
    let run = |page: &Path| {
        Command::new(env!("CARGO_BIN_EXE_blockspace"))
            .arg("run")
            .arg(page)
            .arg("--output")
            .arg(&out)
            .arg("--force")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    assert!(run(&pages[0]).wait().unwrap().success());
    let mut rng = 0x2545_F491_4F6C_DD1Du64;
    let mut seen = [0usize; 2];
    let n = iterations(100);
    for i in 0..n {
        let mut child = run(&pages[i % 2]);
        std::thread::sleep(Duration::from_micros(next(&mut rng) % 60_000));
        child.kill().unwrap();
        child.wait().unwrap();
        for name in NAMES {
            let v = uniform_value(&out.join(format!("{name}.npy")));
            assert!(v == 1.0 || v == 2.0, "kill {i}: {name}.npy holds {v}");
            seen[usize::from(v == 2.0)] += 1;
        }
        for e in std::fs::read_dir(&out).unwrap().flatten() {
            if e.file_name().to_string_lossy().ends_with(".tmp") {
                std::fs::remove_file(e.path()).unwrap();
            }
        }
    }
    println!("{n} kills of run --output: files seen old/new {seen:?}");
    if n >= 50 {
        assert!(seen[1] > 0, "no run got a file written: kills too early");
    }
}

/// The child: writes two versions of a recovery page alternately until it is killed.
#[test]
#[ignore = "the child process of recovery_writes_survive_kill_9_at_random_moments"]
fn recovery_child() {
    let Some(dir) = std::env::var_os(CHILD_ENV).map(PathBuf::from) else {
        return;
    };
    let texts = [
        std::fs::read_to_string(dir.join("v0.json")).unwrap(),
        std::fs::read_to_string(dir.join("v1.json")).unwrap(),
    ];
    let rec = Recovery::new(Some(&dir.join("state")));
    for v in (0..2).cycle() {
        rec.write(TabId(1), "page", None, &texts[v]).unwrap();
    }
}

fn big_page(v: usize) -> Page {
    let reg = Registry::builtin();
    let mut p = Page::new(format!("v{v}"));
    for i in 0..(300 + 200 * v) {
        p.add(
            &reg,
            "Input",
            &format!("x{i}"),
            &[("values", AttrValue::Str(format!("[{i}]")))],
        )
        .unwrap();
    }
    p
}

#[test]
fn recovery_writes_survive_kill_9_at_random_moments() {
    let dir = tempfile::tempdir().unwrap();
    let texts = [
        page_to_json(&Registry::builtin(), &big_page(0)),
        page_to_json(&Registry::builtin(), &big_page(1)),
    ];
    std::fs::write(dir.path().join("v0.json"), &texts[0]).unwrap();
    std::fs::write(dir.path().join("v1.json"), &texts[1]).unwrap();
    let reg = Registry::builtin();
    let mut rng = 0x1234_5678_9ABC_DEF1u64;
    let (mut whole, mut absent) = (0usize, 0usize);
    let n = iterations(60);
    for _ in 0..n {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--ignored", "--exact", "crash_safety::recovery_child"])
            .args(["--test-threads", "1"])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(next(&mut rng) % 60_000));
        child.kill().unwrap();
        child.wait().unwrap();
    }
    // Each killed session left its folder: every page file in them is one version, whole, and
    // is what the next start offers to restore.
    let mut rec = Recovery::new(Some(&dir.path().join("state")));
    let offered = rec.list();
    for session in std::fs::read_dir(dir.path().join("state/recovery")).unwrap() {
        let page_file = session.unwrap().path().join("page-1.bspage.json");
        if !page_file.exists() {
            absent += 1;
            continue;
        }
        let text = std::fs::read_to_string(&page_file).unwrap();
        assert!(
            texts.contains(&text),
            "{} is neither version",
            page_file.display()
        );
        load_page(&reg, &page_file).unwrap();
        assert!(offered.iter().any(|r| r.file == page_file), "offered");
        whole += 1;
    }
    println!(
        "{n} kills of the recovery writer: {whole} whole pages, {absent} before the first write"
    );
    if n >= 30 {
        assert!(
            whole > 0,
            "no child got a recovery page written: kills too early"
        );
    }
}

#[path = "../../../blockspace_graph/tests/support/read_only.rs"]
mod read_only;
use read_only::ReadOnly;

#[test]
fn saving_into_a_read_only_folder_keeps_the_page_unsaved_and_recoverable() {
    let state = tempfile::tempdir().unwrap();
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("page.bspage.json");
    let mut h = crate::harness::harness(state.path(), vec![]);
    crate::harness::wait_run(&mut h);
    let active = h.state().active;
    assert!(h.state_mut().save_tab_to(active, &path), "saved");
    let before = std::fs::read(&path).unwrap();
    let conv = crate::harness::block_named(&h, "input_grad");
    h.state_mut()
        .set_attr(conv, "padding", AttrValue::Str("VALID".into()));
    h.run_steps(2);

    let _ro = ReadOnly::new(folder.path());
    assert!(!h.state_mut().save_tab_to(active, &path), "the save fails");
    h.run_steps(2);
    let text = h.state().dialog_text().expect("an error is shown");
    assert!(
        text.contains("could not save the page") && text.contains("page.bspage.json"),
        "{text}"
    );
    assert!(h.state().tabs[active].is_dirty(), "the page stays unsaved");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the old file is intact"
    );
    h.state_mut().write_recovery();
    let rec = std::fs::read_dir(state.path().join("recovery"))
        .unwrap()
        .flatten()
        .flat_map(|s| std::fs::read_dir(s.path()).unwrap().flatten())
        .map(|f| f.path())
        .find(|p| p.to_string_lossy().ends_with(".bspage.json"))
        .expect("a recovery file");
    assert!(std::fs::read_to_string(rec).unwrap().contains("VALID"));
}
