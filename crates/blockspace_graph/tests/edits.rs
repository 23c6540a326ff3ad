//! The gestures' edits (`edit.rs`), headless: wiring into an occupied input, pulling wires off a
//! pin, adding a block wired to a dragged-out pin, paste placement, duplicates and Save-As path
//! rebasing. Each edit is one command: applied through the history it is one undo step.

use blockspace_graph::edit::{PASTE_OFFSET, rebase_for_save_as};
use blockspace_graph::{
    AttrValue, AutoWire, BlockId, Command, DType, History, InPort, OutPort, Page, Registry, Wire,
};

fn out(block: BlockId) -> OutPort {
    OutPort { block, port: 0 }
}

fn input(block: BlockId, port: usize) -> InPort {
    InPort { block, port }
}

/// Two Inputs and a conv; `a` feeds the conv's filter.
fn page_with_conv(reg: &Registry) -> (Page, BlockId, BlockId, BlockId) {
    let mut p = Page::new("p");
    let a = p.add(reg, "Input", "a", &[]).expect("add a");
    let b = p.add(reg, "Input", "b", &[]).expect("add b");
    let conv = p
        .add(reg, "Conv3DBackpropInputV2", "conv", &[])
        .expect("add conv");
    p.connect(reg, a, "output", conv, "filter")
        .expect("a feeds the filter");
    (p, a, b, conv)
}

#[test]
fn connect_replacing_swaps_the_wire_into_an_occupied_input_in_one_step() {
    let reg = Registry::builtin();
    let (mut p, a, b, conv) = page_with_conv(&reg);
    let mut h = History::default();

    let (cmd, replaced) = p.connect_replacing(out(b), input(conv, 1));
    assert!(replaced, "the filter input was fed by a");
    h.apply(&mut p, &reg, "Reconnect", cmd).unwrap();
    let into: Vec<Wire> = p
        .wires()
        .filter(|w| w.to == input(conv, 1))
        .copied()
        .collect();
    assert_eq!(into.len(), 1, "an input keeps one wire");
    assert_eq!(into[0].from, out(b), "the new source feeds the input");

    assert!(h.undo(&mut p, &reg), "one undo step");
    assert_eq!(
        p.wire_into(input(conv, 1)).map(|w| w.from),
        Some(out(a)),
        "undo brings the old wire back"
    );

    let (cmd, replaced) = p.connect_replacing(out(b), input(conv, 2));
    assert!(!replaced, "out_backprop was free");
    assert!(
        matches!(cmd, Command::Connect { .. }),
        "a free input gets a plain Connect"
    );
}

#[test]
fn disconnect_port_removes_every_wire_at_a_pin() {
    let reg = Registry::builtin();
    let (mut p, a, _, conv) = page_with_conv(&reg);
    p.connect(&reg, a, "output", conv, "out_backprop").unwrap();
    assert_eq!(p.wires().count(), 2, "a feeds two inputs");

    assert!(
        p.disconnect_port(input(conv, 0)).is_none(),
        "a free input has nothing to disconnect"
    );
    let from_a = p.disconnect_port(out(a)).expect("a has wires");
    p.apply(&reg, from_a).unwrap();
    assert_eq!(p.wires().count(), 0, "both wires out of a are gone");

    p.connect(&reg, a, "output", conv, "filter").unwrap();
    let into = p
        .disconnect_port(input(conv, 1))
        .expect("the filter is wired");
    p.apply(&reg, into).unwrap();
    assert_eq!(p.wires().count(), 0, "the wire into the filter is gone");
}

#[test]
fn add_block_wired_picks_the_input_that_accepts_the_dragged_dtype() {
    let reg = Registry::builtin();
    let (mut p, a, _, conv) = page_with_conv(&reg);
    let sizes = p
        .add(
            &reg,
            "Input",
            "sizes",
            &[("dtype", AttrValue::Str("int32".into()))],
        )
        .unwrap();
    let conv_desc = reg.get("Conv3DBackpropInputV2").unwrap();
    for (source, dtype, want) in [
        (sizes, Some(DType::Int32), "input_sizes"),
        (a, Some(DType::Float32), "filter"),
    ] {
        let wire = AutoWire {
            from: Some(out(source)),
            from_dtype: dtype,
            to: None,
        };
        let (cmd, block) = p
            .add_block_wired(&reg, "Conv3DBackpropInputV2", [10.0, 20.0], wire)
            .unwrap();
        assert_eq!(
            block.id,
            p.next_block_id(),
            "the new block takes the next id"
        );
        assert_eq!(block.pos, [10.0, 20.0], "at the asked position");
        let mut q = p.clone();
        q.apply(&reg, cmd).unwrap();
        let w = q
            .wires()
            .find(|w| w.to.block == block.id)
            .expect("the new block is wired");
        assert_eq!(w.from, out(source), "from the dragged output");
        assert_eq!(
            conv_desc.inputs[w.to.port].name, want,
            "{dtype:?} goes into {want}"
        );
    }
    // An unknown dtype goes into the first input.
    let wire = AutoWire {
        from: Some(out(sizes)),
        ..AutoWire::default()
    };
    let (cmd, block) = p
        .add_block_wired(&reg, "Conv3DBackpropInputV2", [0.0, 0.0], wire)
        .unwrap();
    let Command::Batch(cmds) = cmd else {
        panic!("add and connect are one batch")
    };
    assert_eq!(
        cmds.last(),
        Some(&Command::Connect {
            wire: Wire {
                from: out(sizes),
                to: input(block.id, 0)
            }
        }),
        "wired into input 0"
    );

    // Dragged out of an occupied input: the new block's output replaces the wire.
    let wire = AutoWire {
        to: Some(input(conv, 1)),
        ..AutoWire::default()
    };
    let (cmd, block) = p.add_block_wired(&reg, "Input", [0.0, 0.0], wire).unwrap();
    let mut q = p.clone();
    q.apply(&reg, cmd).unwrap();
    assert_eq!(
        q.wire_into(input(conv, 1)).map(|w| w.from),
        Some(out(block.id)),
        "the new block feeds the input instead of a"
    );
    assert_eq!(q.wires().count(), 1, "the old wire is gone");

    let (cmd, block) = p
        .add_block_wired(&reg, "Input", [0.0, 0.0], AutoWire::default())
        .unwrap();
    assert_eq!(
        cmd,
        Command::AddBlock { block },
        "no wiring: a plain AddBlock"
    );
    assert!(
        p.add_block_wired(&reg, "NoSuchOp", [0.0, 0.0], AutoWire::default())
            .is_err(),
        "an unknown type is refused"
    );
}

#[test]
fn paste_lands_offset_only_in_the_page_it_was_copied_from() {
    let reg = Registry::builtin();
    let (p, a, _, conv) = page_with_conv(&reg);
    let clip = p.copy_blocks(&[a, conv]);
    let pos = |page: &Page, id: BlockId| page.block(id).unwrap().pos;

    let mut same = p.clone();
    let (cmd, ids) = same.paste_here(&reg, &clip, Some(p.id()));
    same.apply(&reg, cmd).unwrap();
    assert_eq!(ids.len(), 2, "two blocks pasted");
    assert_eq!(
        pos(&same, ids[0]),
        [
            pos(&p, a)[0] + PASTE_OFFSET[0],
            pos(&p, a)[1] + PASTE_OFFSET[1]
        ],
        "shifted beside the original"
    );

    for source in [None, Some(Page::new("other").id())] {
        let mut other = Page::new("q");
        let (cmd, ids) = other.paste_here(&reg, &clip, source);
        other.apply(&reg, cmd).unwrap();
        assert_eq!(
            pos(&other, ids[0]),
            pos(&p, a),
            "same place in another page"
        );
        assert_eq!(
            other.wires().count(),
            1,
            "the wire between them comes along"
        );
    }
}

#[test]
fn duplicate_copies_blocks_and_their_wires_with_new_names() {
    let reg = Registry::builtin();
    let (mut p, a, _, conv) = page_with_conv(&reg);
    let (cmd, ids) = p.duplicate_command(&reg, &[a, conv]);
    p.apply(&reg, cmd).unwrap();
    assert_eq!(ids.len(), 2, "two new blocks");
    let names: Vec<&str> = ids
        .iter()
        .map(|id| p.block(*id).unwrap().name.as_str())
        .collect();
    assert_eq!(names, ["a_1", "conv_1"], "unique names in the page's scope");
    assert!(
        p.wires()
            .any(|w| w.from.block == ids[0] && w.to.block == ids[1]),
        "the copies are wired like the originals"
    );
}

#[test]
fn save_as_elsewhere_rebases_relative_paths() {
    let reg = Registry::builtin();
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    let (old, new) = (root.join("a"), root.join("b"));
    std::fs::create_dir_all(&old).unwrap();
    std::fs::create_dir_all(&new).unwrap();
    let mut p = Page::new("p");
    let x = p
        .add(
            &reg,
            "Input",
            "x",
            &[
                ("mode", AttrValue::Str("npy".into())),
                ("path", AttrValue::Str("data/x.npy".into())),
            ],
        )
        .unwrap();

    assert!(
        rebase_for_save_as(&reg, &p, Some(&old), &old.join("again.bspage.json")).is_none(),
        "saving into the same folder changes nothing"
    );
    let cmd = rebase_for_save_as(&reg, &p, Some(&old), &new.join("p.bspage.json"))
        .expect("another folder rebases");
    p.apply(&reg, cmd).unwrap();
    assert_eq!(
        p.block(x).and_then(|b| b.attrs["path"].as_str()),
        Some("../a/data/x.npy"),
        "the path still points at a/data/x.npy"
    );

    let plain = Page::new("plain");
    assert!(
        rebase_for_save_as(&reg, &plain, Some(&old), &new.join("p.bspage.json")).is_none(),
        "a page without relative paths needs no command"
    );
}

#[test]
fn saving_makes_absolute_paths_inside_the_page_folder_relative() {
    let reg = Registry::builtin();
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    let data = root.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let outside = std::fs::canonicalize(elsewhere.path())
        .unwrap()
        .join("y.npy");
    // A page never saved: Browse… stored absolute paths.
    let mut p = Page::new("p");
    let npy = |path: &std::path::Path| {
        [
            ("mode", AttrValue::Str("npy".into())),
            ("path", AttrValue::Str(path.to_string_lossy().into_owned())),
        ]
    };
    let x = p
        .add(&reg, "Input", "x", &npy(&data.join("x.npy")))
        .unwrap();
    let y = p.add(&reg, "Input", "y", &npy(&outside)).unwrap();
    let cmd = rebase_for_save_as(&reg, &p, None, &root.join("p.bspage.json"))
        .expect("an absolute path inside the page folder is rewritten");
    p.apply(&reg, cmd).unwrap();
    assert_eq!(
        p.block(x).and_then(|b| b.attrs["path"].as_str()),
        Some("data/x.npy"),
        "stored relative to the page file"
    );
    assert_eq!(
        p.block(y).and_then(|b| b.attrs["path"].as_str()),
        Some(outside.to_string_lossy().as_ref()),
        "a file outside the page folder keeps its absolute path"
    );
    assert!(
        rebase_for_save_as(&reg, &p, Some(&root), &root.join("p.bspage.json")).is_none(),
        "saving again changes nothing"
    );
}
