//! The viewer panel on a 5-D tensor of a million elements stays smooth: statistics once per
//! tensor, the slice texture only when the slice changes (its frame times: the `frame_time`
//! benchmark).

use std::sync::Arc;

use blockspace_app::panels::tensor_viewer::{TensorViewer, ViewTensor, axis_names};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use ndarray::{ArrayD, IxDyn};

#[test]
fn five_d_million_elements_browse_smoothly() {
    // N D H W C = 2 × 8 × 250 × 250 × 1 = 1 000 000 elements.
    let shape = [2, 8, 250, 250, 1];
    let n: usize = shape.iter().product();
    let values = ArrayD::from_shape_vec(
        IxDyn(&shape),
        (0..n).map(|i| ((i % 977) as f64).sin()).collect(),
    )
    .unwrap();
    let tensor = ViewTensor {
        key: 1,
        dtype: "float32".into(),
        values: Arc::new(values),
        axis_names: axis_names(5, Some("NDHWC")),
        stats: None,
    };
    let mut h = Harness::builder()
        .with_size(egui::vec2(480.0, 900.0))
        .build_ui_state(
            move |ui, viewer: &mut TensorViewer| {
                egui::ScrollArea::vertical().show(ui, |ui| {
                    viewer.ui(ui, &tensor);
                });
            },
            TensorViewer::default(),
        );
    h.run_steps(2);
    assert_eq!(
        h.state().stats().count,
        1_000_000,
        "statistics over every element"
    );
    assert_eq!(
        (h.state().row_axis, h.state().col_axis),
        (2, 3),
        "the heatmap shows H × W"
    );
    h.get_by_label("elements");
    let builds = h.state().texture_builds;

    // Idle frames rebuild nothing.
    h.run_steps(20);
    assert_eq!(
        h.state().texture_builds,
        builds,
        "no texture rebuild without a change"
    );

    // Moving the D slider rebuilds the slice once per change.
    for d in 1..8 {
        h.state_mut().index[1] = d;
        h.step();
    }
    assert_eq!(
        h.state().texture_builds,
        builds + 7,
        "one rebuild per slider change"
    );
}

/// The viewer panel's look (rendered with Mesa's software Vulkan; `UPDATE_SNAPSHOTS=1` rewrites
/// `tests/snapshots/viewer_5d.png`).
#[test]
fn viewer_snapshot() {
    let shape = [1, 3, 12, 16, 2];
    let n: usize = shape.iter().product();
    let values = ArrayD::from_shape_vec(
        IxDyn(&shape),
        (0..n)
            .map(|i| {
                let (x, y) = ((i / 2) % 16, (i / 32) % 12);
                ((x as f64) * 0.4).sin() + ((y as f64) * 0.5).cos()
            })
            .collect(),
    )
    .unwrap();
    let tensor = ViewTensor {
        key: 7,
        dtype: "float32".into(),
        values: Arc::new(values),
        axis_names: axis_names(5, Some("NDHWC")),
        stats: None,
    };
    let mut h = Harness::builder()
        .with_size(egui::vec2(420.0, 760.0))
        .wgpu()
        .build_ui_state(
            move |ui, viewer: &mut TensorViewer| {
                viewer.ui(ui, &tensor);
            },
            TensorViewer::default(),
        );
    h.run_steps(3);
    h.snapshot("viewer_5d");
}

#[test]
fn hovering_the_heatmap_reads_out_the_value() {
    // H × W = 4 × 5, value = 10·h + w.
    let values = ArrayD::from_shape_fn(IxDyn(&[1, 1, 4, 5, 1]), |ix| (10 * ix[2] + ix[3]) as f64);
    let tensor = ViewTensor {
        key: 3,
        dtype: "float64".into(),
        values: Arc::new(values),
        axis_names: axis_names(5, Some("NDHWC")),
        stats: None,
    };
    let mut h = Harness::builder()
        .with_size(egui::vec2(420.0, 700.0))
        .build_ui_state(
            move |ui, viewer: &mut TensorViewer| {
                viewer.ui(ui, &tensor);
            },
            TensorViewer::default(),
        );
    h.run_steps(2);
    // The heatmap sits right above its caption; aim at the last row, first column.
    let caption = h.get_by_label_contains("slice; hover for values").rect();
    let heat_bottom = caption.top() - 6.0;
    h.hover_at(egui::pos2(caption.left() + 10.0, heat_bottom - 3.0));
    h.run_steps(2);
    h.get_by_label_contains("[N=0, D=0, H=3, W=0, C=0] = 30");
}
