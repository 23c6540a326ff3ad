//! The executor: caching (counted runs), failure propagation, panics, cancellation, the wake
//! callback and parallel branches.

#![expect(clippy::unwrap_used, reason = "test helpers")]

use blockspace_graph::ops::{
    AttrDefault, AttrKind, AttrSpec, EvalCtx, InferCtx, InferInput, OpDescriptor, OpError,
    PortLayout, PortSpec,
};
use blockspace_graph::{
    AttrValue, Attrs, BlockId, Command, DType, ExecEvent, Executor, Page, Registry, Tensor,
    TensorMeta, load_page,
};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

fn scalar_meta(
    _: &InferCtx<'_>,
    _: &Attrs,
    _: &[Option<InferInput<'_>>],
) -> Result<Vec<TensorMeta>, OpError> {
    Ok(vec![TensorMeta {
        dtype: DType::Float32,
        shape: vec![],
    }])
}
fn one(v: f32) -> Vec<Tensor> {
    vec![Tensor::F32(ndarray::arr0(v).into_dyn())]
}
fn eval_panic(_: &EvalCtx<'_>, _: &Attrs, _: &[&Tensor]) -> Result<Vec<Tensor>, OpError> {
    panic!("boom in a block");
}
/// Waits until cancelled (at most 20 s), or `ms` milliseconds if `ms` > 0.
fn eval_slow(ctx: &EvalCtx<'_>, attrs: &Attrs, _: &[&Tensor]) -> Result<Vec<Tensor>, OpError> {
    let ms = attrs.get("ms").and_then(AttrValue::as_int).unwrap_or(0);
    let start = Instant::now();
    if let Some(report) = &ctx.kernel.progress {
        report(0.5);
    }
    loop {
        if ctx.kernel.cancel.is_cancelled() {
            return Err(OpError::cancelled());
        }
        if ms > 0 && start.elapsed() >= Duration::from_millis(ms as u64) {
            return Ok(one(1.0));
        }
        if start.elapsed() > Duration::from_secs(20) {
            return Err(OpError::new("never cancelled"));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

static PANIC: OpDescriptor = OpDescriptor {
    type_id: "TestPanic",
    display_name: "TestPanic",
    category: "Test",
    doc: "Panics when run.",
    inputs: &[],
    outputs: &[PortSpec {
        name: "output",
        doc: "nothing",
        dtypes: &[DType::Float32],
        rank: None,
        layout: PortLayout::Plain,
    }],
    attrs: &[],
    infer: scalar_meta,
    eval: eval_panic,
    fold_constants: false,
    cache_salt: None,
    python: None,
};

static SLOW: OpDescriptor = OpDescriptor {
    type_id: "TestSlow",
    display_name: "TestSlow",
    category: "Test",
    doc: "Sleeps `ms` milliseconds, or until cancelled when ms = 0.",
    inputs: &[],
    outputs: &[PortSpec {
        name: "output",
        doc: "a scalar",
        dtypes: &[DType::Float32],
        rank: None,
        layout: PortLayout::Plain,
    }],
    attrs: &[AttrSpec {
        name: "ms",
        doc: "milliseconds (0 = until cancelled)",
        kind: AttrKind::Int {
            min: 0,
            max: 60_000,
        },
        default: AttrDefault::Int(0),
        visible_when: None,
    }],
    infer: scalar_meta,
    eval: eval_slow,
    fold_constants: false,
    cache_salt: None,
    python: None,
};

fn eval_pass(_: &EvalCtx<'_>, _: &Attrs, inputs: &[&Tensor]) -> Result<Vec<Tensor>, OpError> {
    Ok(vec![inputs[0].clone()])
}

static PASS: OpDescriptor = OpDescriptor {
    type_id: "TestPass",
    display_name: "TestPass",
    category: "Test",
    doc: "Passes its input through.",
    inputs: &[PortSpec {
        name: "input",
        doc: "anything float32",
        dtypes: &[DType::Float32],
        rank: None,
        layout: PortLayout::Plain,
    }],
    outputs: &[PortSpec {
        name: "output",
        doc: "the input",
        dtypes: &[DType::Float32],
        rank: None,
        layout: PortLayout::Plain,
    }],
    attrs: &[],
    infer: scalar_meta,
    eval: eval_pass,
    fold_constants: false,
    cache_salt: None,
    python: None,
};

fn test_registry() -> Arc<Registry> {
    let mut reg = Registry::builtin();
    reg.add(&PANIC).unwrap();
    reg.add(&SLOW).unwrap();
    reg.add(&PASS).unwrap();
    Arc::new(reg)
}

fn executor(reg: &Arc<Registry>) -> (Executor, Arc<AtomicUsize>) {
    let wakes = Arc::new(AtomicUsize::new(0));
    let w = Arc::clone(&wakes);
    (
        Executor::new(
            Arc::clone(reg),
            Arc::new(move || {
                w.fetch_add(1, Ordering::SeqCst);
            }),
        ),
        wakes,
    )
}

fn id(page: &Page, name: &str) -> BlockId {
    page.block_by_name(name).unwrap().id
}

#[test]
fn only_changed_blocks_run_again() {
    let reg = Arc::new(Registry::builtin());
    let mut page = load_page(&reg, &examples_dir().join("chain.bspage.json")).unwrap();
    let base = Some(examples_dir());
    let (mut exec, wakes) = executor(&reg);
    exec.run(&page, base.clone());
    exec.wait();
    assert_eq!(exec.evaluations(), 7, "first run evaluates every block");
    assert!(
        wakes.load(Ordering::SeqCst) > 0,
        "the wake callback was called"
    );

    exec.run(&page, base.clone());
    exec.wait();
    assert_eq!(
        exec.evaluations(),
        7,
        "nothing changed: everything from the cache"
    );
    assert!(exec.result(id(&page, "stage_2")).unwrap().from_cache);

    // Moving or renaming does not change results.
    let s2 = id(&page, "stage_2");
    page.apply(
        &reg,
        Command::MoveBlocks {
            moves: vec![(s2, [1.0, 2.0])],
        },
    )
    .unwrap();
    page.apply(
        &reg,
        Command::RenameBlock {
            block: s2,
            name: "upsample".into(),
        },
    )
    .unwrap();
    exec.run(&page, base.clone());
    exec.wait();
    assert_eq!(exec.evaluations(), 7);

    // An attr of the last block: only it runs.
    page.apply(
        &reg,
        Command::SetAttr {
            block: s2,
            attr: "padding".into(),
            value: AttrValue::Str("VALID".into()),
        },
    )
    .unwrap();
    page.apply(
        &reg,
        Command::SetAttr {
            block: s2,
            attr: "padding".into(),
            value: AttrValue::Str("SAME".into()),
        },
    )
    .unwrap();
    page.apply(
        &reg,
        Command::SetAttr {
            block: s2,
            attr: "strides".into(),
            value: AttrValue::IntList(vec![1, 2, 2, 2, 1]),
        },
    )
    .unwrap();
    let sizes2 = id(&page, "sizes_2");
    page.apply(
        &reg,
        Command::SetAttr {
            block: sizes2,
            attr: "values".into(),
            value: AttrValue::Str("1, 7, 8, 8, 2".into()),
        },
    )
    .unwrap();
    exec.run(&page, base.clone());
    let events = exec.wait();
    let started: Vec<BlockId> = events
        .iter()
        .filter_map(|e| {
            if let ExecEvent::BlockStarted { block } = e {
                Some(*block)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(started.len(), 2, "sizes_2 and stage_2 re-run: {events:?}");
    assert_eq!(exec.evaluations(), 9);
    assert_eq!(
        exec.result(s2).unwrap().outputs.as_ref().unwrap()[0].shape(),
        &[1, 7, 8, 8, 2]
    );

    // An upstream seed: the filter and both stages re-run, the other inputs do not.
    let f1 = id(&page, "filter_1");
    page.apply(
        &reg,
        Command::SetAttr {
            block: f1,
            attr: "seed".into(),
            value: AttrValue::Int(99),
        },
    )
    .unwrap();
    exec.run(&page, base);
    exec.wait();
    assert_eq!(exec.evaluations(), 12);
    let r = exec.result(s2).unwrap();
    assert_eq!(r.revision, page.revision());
    assert!(!r.from_cache);
}

#[test]
fn a_failing_block_skips_its_dependants_and_other_branches_run() {
    let reg = Arc::new(Registry::builtin());
    let mut page = load_page(&reg, &examples_dir().join("chain.bspage.json")).unwrap();
    let s1 = id(&page, "stage_1");
    page.apply(
        &reg,
        Command::SetAttr {
            block: s1,
            attr: "strides".into(),
            value: AttrValue::IntList(vec![2, 1, 1, 1, 1]),
        },
    )
    .unwrap();
    let (mut exec, _) = executor(&reg);
    exec.run(&page, Some(examples_dir()));
    let events = exec.wait();
    let e1 = exec.result(s1).unwrap().outputs.as_ref().unwrap_err();
    assert_eq!(e1.attr.as_deref(), Some("strides"));
    let s2 = id(&page, "stage_2");
    let skipped = events.iter().find_map(|e| match e {
        ExecEvent::BlockSkipped { block, reason } if *block == s2 => Some(reason.clone()),
        _ => None,
    });
    let reason = skipped.expect("stage_2 is skipped");
    assert!(
        reason.contains("stage_1") && reason.contains("out_backprop"),
        "{reason}"
    );
    assert!(
        exec.result(s2)
            .unwrap()
            .outputs
            .as_ref()
            .unwrap_err()
            .message
            .contains("not run")
    );
    assert!(
        exec.result(id(&page, "filter_2")).unwrap().outputs.is_ok(),
        "the other branch ran"
    );
    assert!(matches!(
        events.last(),
        Some(ExecEvent::Finished {
            cancelled: false,
            ..
        })
    ));
}

#[test]
fn a_panic_in_a_block_becomes_its_error() {
    let reg = test_registry();
    let mut page = Page::new("p");
    let bad = page.add(&reg, "TestPanic", "bad", &[]).unwrap();
    let good = page.add(&reg, "Input", "good", &[]).unwrap();
    let (mut exec, _) = executor(&reg);
    exec.run(&page, None);
    exec.wait();
    let e = exec.result(bad).unwrap().outputs.as_ref().unwrap_err();
    assert!(e.message.contains("panicked: boom in a block"), "{e}");
    assert!(exec.result(good).unwrap().outputs.is_ok());
    // The executor still works afterwards.
    exec.run(&page, None);
    exec.wait();
    assert!(exec.result(good).unwrap().outputs.is_ok());
}

#[test]
fn cancellation_stops_a_run_without_blocking_the_caller() {
    let reg = test_registry();
    let mut page = Page::new("p");
    let slow = page.add(&reg, "TestSlow", "slow", &[]).unwrap();
    let (mut exec, _) = executor(&reg);
    let t = Instant::now();
    exec.run(&page, None);
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "run() returns at once"
    );
    assert!(exec.is_running());
    // Wait (by polling, as the GUI would) until the block is evaluating.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if exec
            .poll()
            .iter()
            .any(|e| matches!(e, ExecEvent::BlockStarted { block } if *block == slow))
        {
            break;
        }
        assert!(Instant::now() < deadline, "the slow block never started");
        std::thread::sleep(Duration::from_millis(2));
    }
    // The kernel's progress reports reach the caller.
    while exec.block_progress(slow) != Some(0.5) {
        assert!(Instant::now() < deadline, "no progress report");
        std::thread::sleep(Duration::from_millis(2));
    }
    exec.cancel();
    let events = exec.wait();
    assert_eq!(exec.block_progress(slow), None);
    assert!(
        events.iter().any(|e| matches!(
            e,
            ExecEvent::Finished {
                cancelled: true,
                ..
            }
        )),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, ExecEvent::BlockSkipped { reason, .. } if reason == "cancelled"))
    );
    assert!(!exec.is_running());
    assert!(t.elapsed() < Duration::from_secs(10));
}

#[test]
fn a_new_run_supersedes_the_one_in_flight() {
    let reg = test_registry();
    let mut page = Page::new("p");
    let slow = page.add(&reg, "TestSlow", "slow", &[]).unwrap();
    let (mut exec, _) = executor(&reg);
    exec.run(&page, None);
    page.apply(
        &reg,
        Command::SetAttr {
            block: slow,
            attr: "ms".into(),
            value: AttrValue::Int(1),
        },
    )
    .unwrap();
    exec.run(&page, None);
    let events = exec.wait();
    assert!(
        matches!(events.last(), Some(ExecEvent::Finished { cancelled: false, revision }) if *revision == page.revision())
    );
    assert!(exec.result(slow).unwrap().outputs.is_ok());
}

#[test]
fn independent_blocks_run_in_parallel() {
    let reg = test_registry();
    let mut page = Page::new("p");
    let a = page
        .add(&reg, "TestSlow", "a", &[("ms", AttrValue::Int(300))])
        .unwrap();
    let b = page
        .add(&reg, "TestSlow", "b", &[("ms", AttrValue::Int(300))])
        .unwrap();
    let (mut exec, _) = executor(&reg);
    exec.run(&page, None);
    let events = exec.wait();
    let pos = |want: &dyn Fn(&ExecEvent) -> bool| events.iter().position(want).unwrap();
    let last_start = pos(&|e| matches!(e, ExecEvent::BlockStarted { block } if *block == a)).max(
        pos(&|e| matches!(e, ExecEvent::BlockStarted { block } if *block == b)),
    );
    let first_finish = pos(&|e| matches!(e, ExecEvent::BlockFinished { .. }));
    assert!(
        last_start < first_finish,
        "both started before either finished: {events:?}"
    );
    let ms = |id| exec.result(id).unwrap().elapsed;
    assert!(
        ms(a) >= Duration::from_millis(300) && ms(b) >= Duration::from_millis(300),
        "per-block timing"
    );
    assert_eq!(exec.progress(), Some((2, 2)));
}

#[test]
fn a_block_starts_as_soon_as_its_own_inputs_are_ready() {
    let reg = test_registry();
    let mut page = Page::new("p");
    let slow = page
        .add(&reg, "TestSlow", "slow", &[("ms", AttrValue::Int(400))])
        .unwrap();
    let fast = page
        .add(&reg, "TestSlow", "fast", &[("ms", AttrValue::Int(1))])
        .unwrap();
    let pass = page.add(&reg, "TestPass", "pass", &[]).unwrap();
    page.connect(&reg, fast, "output", pass, "input").unwrap();
    let (mut exec, _) = executor(&reg);
    exec.run(&page, None);
    let events = exec.wait();
    let finished = |id: BlockId| {
        events
            .iter()
            .position(|e| matches!(e, ExecEvent::BlockFinished { block, .. } if *block == id))
            .unwrap()
    };
    assert!(
        finished(pass) < finished(slow),
        "pass did not wait for the unrelated slow block: {events:?}"
    );
}
