//! Python export: Edit → Copy as Python, and File → Export as Python… once its save dialog
//! answers.

use egui_kittest::kittest::Queryable as _;

use crate::harness::{block_named, harness, select_on_canvas, wait_run};

#[test]
fn copy_and_export_as_python_from_the_menus() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path(), vec![]);
    wait_run(&mut h);
    // Edit → Copy as Python (PyTorch) with the demo's conv block selected: a snippet with the
    // blocks it reads, inputs inline.
    let conv = block_named(&h, "input_grad");
    select_on_canvas(&mut h, conv);
    h.get_by_label("Edit").click();
    h.run_steps(2);
    h.get_by_label("Copy as Python (PyTorch)").click();
    h.step();
    // The menu pushes the command; it is handled (and the text copied) after drawing.
    let copied = h
        .output()
        .platform_output
        .commands
        .iter()
        .find_map(|c| match c {
            egui::OutputCommand::CopyText(t) => Some(t.clone()),
            _ => None,
        })
        .expect("Copy as Python put text on the clipboard");
    assert!(
        copied.contains("import torch") && copied.contains("_pt_conv3d_backprop_input("),
        "{copied}"
    );
    assert!(copied.contains("np.array(["), "inputs inline: {copied}");
    h.run_steps(2);
    // File → Export as Python… ends in export_python once the save dialog answers.
    let script = dir.path().join("demo.py");
    let uid = h.state().tab().unwrap().uid;
    h.state_mut()
        .export_python(uid, blockspace_graph::Framework::TensorFlow, &script);
    // The export runs on a worker thread; the window keeps drawing until it reports.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while h.state().exports_running() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the export never finished"
        );
        h.step();
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    h.run_steps(2);
    let text = std::fs::read_to_string(&script).unwrap();
    assert!(text.contains("tf.raw_ops.Conv3DBackpropInputV2("), "{text}");
    assert!(
        h.state()
            .toast_texts()
            .iter()
            .any(|t| t.contains("Exported") && t.contains("TensorFlow")),
        "{:?}",
        h.state().toast_texts()
    );
}
