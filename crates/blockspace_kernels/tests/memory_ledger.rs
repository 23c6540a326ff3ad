//! Every convolution reserves its output and its large buffers (layout copies, packed or
//! transformed filters, partial sums) in the run's [`MemoryLedger`] before allocating them, and
//! returns them all when it is done: a budget one byte under what a call reserved refuses it
//! with [`KernelError::OverBudget`], the exact budget lets it run, and nothing stays counted.

use blockspace_kernels::{
    Conv3dAttrs, DataFormat, KernelContext, KernelError, MemoryLedger, Padding, conv3d,
    conv3d_backprop_filter_v2, conv3d_backprop_input_v2,
};
use ndarray::{ArrayD, IxDyn, arr1};

/// `[N, D, H, W, C]` in `fmt`'s order.
fn dims(ndhwc: [usize; 5], fmt: DataFormat) -> Vec<usize> {
    let [n, d, h, w, c] = ndhwc;
    match fmt {
        DataFormat::Ndhwc => vec![n, d, h, w, c],
        DataFormat::Ncdhw => vec![n, c, d, h, w],
    }
}

fn values(shape: &[usize]) -> ArrayD<f32> {
    let n: usize = shape.iter().product();
    ArrayD::from_shape_vec(
        IxDyn(shape),
        (0..n).map(|i| ((i * 7 % 13) as f32 - 6.0) / 8.0).collect(),
    )
    .expect("shape and values agree")
}

fn sizes(shape: &[usize]) -> ArrayD<i64> {
    arr1(&shape.iter().map(|&d| d as i64).collect::<Vec<_>>()).into_dyn()
}

/// One call of each op on the shapes of a 3-D convolution layer, with a ledger of `budget`.
fn call(
    op: &str,
    fmt: DataFormat,
    stride: i64,
    budget: u64,
) -> (Result<usize, KernelError>, MemoryLedger) {
    let (c, m) = (32, 32);
    let x_shape = dims([1, 12, 12, 12, c], fmt);
    let out = 12 / stride as usize;
    let dy_shape = dims([1, out, out, out, m], fmt);
    let f_shape = [3, 3, 3, c, m];
    let s = match fmt {
        DataFormat::Ndhwc => vec![1, stride, stride, stride, 1],
        DataFormat::Ncdhw => vec![1, 1, stride, stride, stride],
    };
    let attrs = Conv3dAttrs {
        strides: s,
        padding: Padding::Same,
        data_format: fmt,
        ..Default::default()
    };
    let ledger = MemoryLedger::new(budget);
    let ctx = KernelContext {
        ledger: Some(ledger.clone()),
        ..KernelContext::default()
    };
    let (x, f, dy) = (values(&x_shape), values(&f_shape), values(&dy_shape));
    let r = match op {
        "Conv3D" => conv3d(x.view(), f.view(), &attrs, &ctx),
        "Conv3DBackpropInputV2" => {
            conv3d_backprop_input_v2(sizes(&x_shape).view(), f.view(), dy.view(), &attrs, &ctx)
        }
        _ => conv3d_backprop_filter_v2(x.view(), sizes(&f_shape).view(), dy.view(), &attrs, &ctx),
    };
    (r.map(|a| a.len()), ledger)
}

#[test]
fn convolutions_reserve_what_they_allocate_and_return_it() {
    for op in ["Conv3D", "Conv3DBackpropInputV2", "Conv3DBackpropFilterV2"] {
        for fmt in [DataFormat::Ndhwc, DataFormat::Ncdhw] {
            for stride in [1, 2] {
                let what = format!("{op} {fmt:?} stride {stride}");
                let (r, ledger) = call(op, fmt, stride, u64::MAX);
                let out_bytes = 4 * r.unwrap_or_else(|e| panic!("{what}: {e}")) as u64;
                let peak = ledger.peak();
                assert_eq!(ledger.live(), 0, "{what}: everything returned");
                assert!(
                    peak > out_bytes,
                    "{what}: the output and a workspace are reserved ({peak})"
                );
                if fmt == DataFormat::Ncdhw && op != "Conv3DBackpropFilterV2" {
                    assert!(
                        peak >= 2 * out_bytes,
                        "{what}: the NCDHW copy of the output too ({peak})"
                    );
                }
                let (r, ledger) = call(op, fmt, stride, peak - 1);
                assert!(
                    matches!(r, Err(KernelError::OverBudget { .. })),
                    "{what}: one byte short must be refused: {r:?}"
                );
                assert_eq!(ledger.live(), 0, "{what}: a refusal holds nothing");
                let (r, _) = call(op, fmt, stride, peak);
                assert!(r.is_ok(), "{what}: the exact budget fits: {r:?}");
            }
        }
    }
}
