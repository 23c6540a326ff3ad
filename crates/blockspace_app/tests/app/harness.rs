//! The shared harness of the app tests: the real app under egui_kittest with a temporary state
//! directory, and gestures aimed through the geometry the canvas records (snarl draws the graph
//! zoomed and shifted, so kittest's own `.click()` on canvas widgets would miss). Every gesture
//! asserts its effect, so a missed click fails the test.

use std::path::Path;
use std::time::{Duration, Instant};

use blockspace_app::{AppOptions, BlockspaceApp};
use blockspace_graph::{AttrValue, BlockId, InPort, OutPort};
use egui::accesskit::Role;
use egui::{Key, Modifiers, Pos2};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;

pub(crate) fn harness(
    state: &Path,
    pages: Vec<std::path::PathBuf>,
) -> Harness<'static, BlockspaceApp> {
    let state = state.to_path_buf();
    let mut h = Harness::builder()
        .with_size(egui::vec2(1400.0, 880.0))
        .with_max_steps(40)
        .build_eframe(move |cc| {
            BlockspaceApp::new(
                &cc.egui_ctx,
                AppOptions {
                    pages,
                    state_dir: Some(state),
                    no_recovery_offer: true,
                    ..Default::default()
                },
            )
        });
    h.run_steps(3);
    h
}

/// Steps frames until the active page's run is finished (or a timeout).
pub(crate) fn wait_run(h: &mut Harness<'static, BlockspaceApp>) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        h.step();
        let app = h.state();
        let tab = app.tab().expect("a tab");
        let done = !tab.run.active
            && !tab.executor.is_running()
            && (!tab.auto_run || tab.submitted == Some(tab.page.model_revision()));
        if done {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the run did not finish within 30 s"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    h.run_steps(3);
}

pub(crate) fn block_named(h: &Harness<'static, BlockspaceApp>, name: &str) -> BlockId {
    h.state()
        .tab()
        .and_then(|t| t.page.blocks().find(|b| b.name == name).map(|b| b.id))
        .unwrap_or_else(|| panic!("no block named {name:?}"))
}

/// The first block of type `type_id` on the current page.
pub(crate) fn block_of_type(h: &Harness<'static, BlockspaceApp>, type_id: &str) -> BlockId {
    h.state()
        .tab()
        .and_then(|t| t.page.blocks().find(|b| b.type_id == type_id).map(|b| b.id))
        .unwrap_or_else(|| panic!("no block of type {type_id:?}"))
}

/// The value of attribute `name` set on block `id` of the current page (`None`: not set).
pub(crate) fn attr_of(
    h: &Harness<'static, BlockspaceApp>,
    id: BlockId,
    name: &str,
) -> Option<AttrValue> {
    let tab = h.state().tab().expect("a page is open");
    let block = tab.page.block(id).expect("the block exists");
    block.attrs.get(name).cloned()
}

pub(crate) fn block_count(h: &Harness<'static, BlockspaceApp>) -> usize {
    h.state().tab().map_or(0, |t| t.page.blocks().count())
}

/// Adds a block through the toolbar's search menu: type to filter, click the type.
pub(crate) fn add_via_search(
    h: &mut Harness<'static, BlockspaceApp>,
    search: &str,
    type_name: &str,
) {
    let before = block_count(h);
    h.get_by_label("➕ Add block").click();
    h.run_steps(3);
    let field = h.get_by_label_contains("Search blocks");
    field.focus();
    h.run_steps(1);
    h.get_by_label_contains("Search blocks").type_text(search);
    h.run_steps(2);
    h.get_by_role_and_label(Role::Button, type_name).click();
    h.run_steps(3);
    assert_eq!(
        block_count(h),
        before + 1,
        "adding {type_name} through the search menu added one block"
    );
}

pub(crate) fn pointer_drag(
    h: &mut Harness<'static, BlockspaceApp>,
    from: Pos2,
    to: Pos2,
    modifiers: Modifiers,
) {
    h.event(egui::Event::ModifiersChanged(modifiers));
    h.event(egui::Event::PointerMoved(from));
    h.step();
    h.event(egui::Event::PointerButton {
        pos: from,
        button: egui::PointerButton::Primary,
        pressed: true,
        modifiers,
    });
    h.step();
    for i in 1..=8 {
        let t = i as f32 / 8.0;
        h.event(egui::Event::PointerMoved(from + (to - from) * t));
        h.step();
    }
    h.event(egui::Event::PointerButton {
        pos: to,
        button: egui::PointerButton::Primary,
        pressed: false,
        modifiers,
    });
    h.step();
    h.event(egui::Event::PointerGone);
    h.event(egui::Event::ModifiersChanged(Modifiers::NONE));
    h.run_steps(2);
}

pub(crate) fn click_at(h: &mut Harness<'static, BlockspaceApp>, pos: Pos2) {
    h.event(egui::Event::PointerMoved(pos));
    h.step();
    h.event(egui::Event::PointerButton {
        pos,
        button: egui::PointerButton::Primary,
        pressed: true,
        modifiers: Modifiers::NONE,
    });
    h.step();
    h.event(egui::Event::PointerButton {
        pos,
        button: egui::PointerButton::Primary,
        pressed: false,
        modifiers: Modifiers::NONE,
    });
    h.step();
    h.event(egui::Event::PointerGone);
    h.run_steps(2);
}

/// Wires `from` → `to` by dragging from the output pin onto the input pin.
pub(crate) fn wire_by_drag(h: &mut Harness<'static, BlockspaceApp>, from: OutPort, to: InPort) {
    let before = h.state().tab().map_or(0, |t| t.page.wires().count());
    let g = &h.state().tab().expect("tab").geometry;
    let a = g
        .output_pin_screen(from.block, from.port)
        .expect("output pin on screen");
    let b = g
        .input_pin_screen(to.block, to.port)
        .expect("input pin on screen");
    pointer_drag(h, a, b, Modifiers::NONE);
    let tab = h.state().tab().expect("tab");
    assert_eq!(
        tab.page.wires().count(),
        before + 1,
        "dragging a pin onto a pin added a wire"
    );
    assert!(
        tab.page.wires().any(|w| w.from == from && w.to == to),
        "the wire joins the right ports"
    );
}

/// Where block `id` of the current page is drawn on screen.
pub(crate) fn block_rect(h: &Harness<'static, BlockspaceApp>, id: BlockId) -> egui::Rect {
    h.state()
        .tab()
        .expect("a page is open")
        .geometry
        .block_screen_rect(id)
        .expect("the block is on screen")
}

/// Selects a block by clicking its header on the canvas.
pub(crate) fn select_on_canvas(h: &mut Harness<'static, BlockspaceApp>, id: BlockId) {
    let r = block_rect(h, id);
    click_at(h, egui::pos2(r.center().x, r.top() + 8.0));
    let sel = &h.state().tab().expect("tab").selection;
    assert!(
        sel.len() == 1 && sel.contains(&id),
        "clicking the block selected it (selection {sel:?})"
    );
}

/// Focuses the text field labelled `label`, selects all its text and types `text` over it
/// (not applied yet).
pub(crate) fn replace_text(h: &mut Harness<'static, BlockspaceApp>, label: &str, text: &str) {
    h.get_by_role_and_label(Role::TextInput, label).focus();
    h.run_steps(1);
    h.key_press_modifiers(Modifiers::COMMAND, Key::A);
    h.run_steps(1);
    h.get_by_role_and_label(Role::TextInput, label)
        .type_text(text);
    h.run_steps(1);
}

/// Replaces the text of the inspector field labelled `label`, then applies it with Ctrl+Enter.
pub(crate) fn set_text_field(h: &mut Harness<'static, BlockspaceApp>, label: &str, text: &str) {
    replace_text(h, label, text);
    h.key_press_modifiers(Modifiers::COMMAND, Key::Enter);
    h.run_steps(3);
}
