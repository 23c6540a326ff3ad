//! The volume viewer on a `[1, 128, 128, 128, 16]` float32 result (134 MB): the UI thread's
//! time to redraw after a crosshair move and after a channel-slider change (the planes are
//! read from the tensor in its own dtype, coloured and uploaded in that frame), and the peak
//! memory the viewer adds while it summarises the tensor, builds the montage and the
//! projection and compares it with a pinned result (printed: Linux's peak RSS, reset before).
//!
//! ```sh
//! cargo bench -p blockspace_app --bench viewer
//! ```

use std::time::{Duration, Instant};

use blockspace_app::panels::view_prep::axis_names;
use blockspace_app::panels::viewer::{Mode, Shown, VolumeViewer};
use blockspace_graph::Tensor;
use criterion::{Criterion, criterion_group, criterion_main};
use egui_kittest::Harness;

type State = (VolumeViewer, Shown);

const SHAPE: [usize; 5] = [1, 128, 128, 128, 16];

fn tensor() -> Tensor {
    Tensor::F32(ndarray::ArrayD::from_shape_fn(
        ndarray::IxDyn(&SHAPE),
        |ix| {
            let (d, h, w, c) = (ix[1] as f32, ix[2] as f32, ix[3] as f32, ix[4] as f32);
            (0.05 * d).sin() * (0.07 * h).cos() + 0.01 * w - 0.02 * c
        },
    ))
}

/// A field of `/proc/self/status` in bytes (Linux), e.g. `VmRSS`, `VmHWM`.
fn status_bytes(field: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with(field))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn settle(h: &mut Harness<'static, State>) {
    let deadline = Instant::now() + Duration::from_secs(120);
    h.run_steps(2);
    while h.state().0.jobs.busy() {
        assert!(
            Instant::now() < deadline,
            "the viewer's jobs take over 2 minutes"
        );
        std::thread::sleep(Duration::from_millis(5));
        h.step();
    }
    h.run_steps(2);
}

fn viewer(c: &mut Criterion) {
    let t = tensor();
    let names = axis_names(5, Some("NDHWC"));
    let shown = Shown::tensor(1, "big:output", t, &names);
    // Peak RSS from here on (Linux: writing 5 to clear_refs resets VmHWM).
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let base = status_bytes("VmRSS");
    let mut h = Harness::builder()
        .with_size(egui::vec2(1000.0, 1400.0))
        .with_max_steps(10)
        .build_ui_state(
            |ui, (viewer, shown): &mut State| {
                viewer.plane_max = 300.0;
                viewer.ui(ui, shown);
            },
            (VolumeViewer::default(), shown),
        );
    let t0 = Instant::now();
    settle(&mut h);
    println!(
        "viewer 134 MB: statistics, histogram and percentiles ready in {:.0} ms (worker thread)",
        t0.elapsed().as_secs_f64() * 1e3
    );
    for mode in [Mode::Montage, Mode::Projection] {
        h.state_mut().0.mode = mode;
        let t0 = Instant::now();
        settle(&mut h);
        println!(
            "viewer 134 MB: {mode:?} ready in {:.0} ms (worker thread)",
            t0.elapsed().as_secs_f64() * 1e3
        );
    }
    // Compare with a pinned result (the same tensor, shared: no copy).
    let pinned = h.state().1.volume.a().clone();
    h.state_mut()
        .0
        .pin(blockspace_app::panels::viewer::Reference {
            label: "pinned".into(),
            tensor: pinned.clone(),
        });
    h.state_mut().0.compare.against = Some(blockspace_app::panels::viewer::Reference {
        label: "pinned".into(),
        tensor: pinned,
    });
    let t0 = Instant::now();
    settle(&mut h);
    println!(
        "viewer 134 MB: comparison (allclose) ready in {:.0} ms (worker thread)",
        t0.elapsed().as_secs_f64() * 1e3
    );
    h.state_mut().0.compare.against = None;
    h.state_mut().0.mode = Mode::Planes;
    settle(&mut h);
    if let (true, Some(base), Some(peak)) = (reset, base, status_bytes("VmHWM")) {
        println!(
            "viewer 134 MB: peak extra memory {:.1} MB over the {:.1} MB held before (tensor = \
             134.2 MB)",
            peak.saturating_sub(base) as f64 / 1e6,
            base as f64 / 1e6
        );
    }

    let mut g = c.benchmark_group("viewer_134MB");
    g.sample_size(60);
    let mut i = 0usize;
    g.bench_function("crosshair_move_frame", |b| {
        b.iter(|| {
            i += 1;
            let st = &mut h.state_mut().0;
            st.index[2] = i % 128;
            st.index[3] = (i * 7) % 128;
            h.step();
        });
    });
    g.bench_function("channel_slider_frame", |b| {
        b.iter(|| {
            i += 1;
            h.state_mut().0.index[4] = i % 16;
            h.step();
        });
    });
    g.bench_function("idle_frame", |b| b.iter(|| h.step()));
    g.finish();
}

criterion_group!(benches, viewer);
criterion_main!(benches);
