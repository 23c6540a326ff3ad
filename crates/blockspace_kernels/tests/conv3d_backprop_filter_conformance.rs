//! TensorFlow 2.21's `Conv3DBackpropFilterV2` conformance vectors
//! (`shared/conformance/ops/conv3d_backprop_filter_v2.json`): every value case bit-exact on
//! every kernel path this CPU has and in the reference, every error case with TensorFlow's text.
//!
//! The folder is found at `BLOCKSPACE_CONFORMANCE_DIR` if set, else at
//! `$CARGO_MANIFEST_DIR/../../../shared/conformance/ops`; a missing file fails the test.

use std::path::PathBuf;

use blockspace_kernels::conv3d_backprop_filter::reference;
use blockspace_kernels::{
    Conv3dAttrs, Conv3dBackpropFilterParams, Element, KernelContext, KernelPath,
    conv3d_backprop_filter_v2, conv3d_backprop_filter_v2_on_path,
};
use ndarray::{ArrayD, IxDyn};
use serde_json::Value;

fn conformance_file() -> PathBuf {
    let dir = std::env::var_os("BLOCKSPACE_CONFORMANCE_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/ops"),
        PathBuf::from,
    );
    dir.join("conv3d_backprop_filter_v2.json")
}

fn shape(v: &Value) -> Vec<usize> {
    v["shape"]
        .as_array()
        .expect("shape")
        .iter()
        .map(|d| usize::try_from(d.as_u64().expect("dim")).expect("dim fits"))
        .collect()
}

fn floats<T: Element>(v: &Value) -> ArrayD<T> {
    let data: Vec<T> = v["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|x| T::from_f64(x.as_f64().expect("number")))
        .collect();
    ArrayD::from_shape_vec(IxDyn(&shape(v)), data).expect("data matches shape")
}

fn ints(v: &Value) -> ArrayD<i64> {
    let data: Vec<i64> = v["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|x| x.as_i64().expect("integer"))
        .collect();
    ArrayD::from_shape_vec(IxDyn(&shape(v)), data).expect("data matches shape")
}

fn attrs(a: &Value) -> Conv3dAttrs {
    let list = |k: &str| -> Vec<i64> {
        a[k].as_array()
            .expect("list attr")
            .iter()
            .map(|x| x.as_i64().expect("int"))
            .collect()
    };
    Conv3dAttrs {
        strides: list("strides"),
        padding: a["padding"]
            .as_str()
            .expect("padding")
            .parse()
            .expect("SAME/VALID"),
        data_format: a["data_format"]
            .as_str()
            .expect("data_format")
            .parse()
            .expect("NDHWC/NCDHW"),
        dilations: list("dilations"),
    }
}

/// Runs one case in `T`; returns a failure description, if any.
fn run_case<T: Element>(case: &Value) -> Option<String> {
    let name = case["name"].as_str().expect("name");
    let ins = &case["inputs"];
    let x = floats::<T>(&ins["input"]);
    let fs = ints(&ins["filter_sizes"]);
    let dy = floats::<T>(&ins["out_backprop"]);
    let a = attrs(&case["attrs"]);
    let ctx = KernelContext::default();
    let got = conv3d_backprop_filter_v2(x.view(), fs.view(), dy.view(), &a, &ctx);
    if let Some(err) = case.get("error") {
        let want = err["message"].as_str().expect("message");
        let reference = reference::conv3d_backprop_filter_v2(x.view(), fs.view(), dy.view(), &a);
        return match (got, reference) {
            (Err(e), Err(r)) if e.to_string().contains(want) && r == e => None,
            (got, r) => Some(format!(
                "{name}: want error {want:?}, got {got:?} / reference {r:?}"
            )),
        };
    }
    let want = floats::<T>(&case["expected"]);
    let got = match got {
        Ok(g) => g,
        Err(e) => return Some(format!("{name}: unexpected error {e}")),
    };
    if got != want {
        return Some(format!("{name}: got {got:?}, want {want:?}"));
    }
    let r = reference::conv3d_backprop_filter_v2(x.view(), fs.view(), dy.view(), &a)
        .expect("reference accepts what the kernel accepts");
    if r != want {
        return Some(format!("{name}: reference differs"));
    }
    let p = Conv3dBackpropFilterParams::from_operands(x.shape(), fs.view(), dy.shape(), &a)
        .expect("valid");
    for path in KernelPath::ALL {
        let on =
            conv3d_backprop_filter_v2_on_path(path, &p, x.view(), dy.view(), &ctx).expect("runs");
        if on.is_some_and(|on| on != want) {
            return Some(format!("{name}: path {path:?} differs"));
        }
    }
    None
}

#[test]
fn every_tensorflow_case_passes() {
    let path = conformance_file();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "conformance file {} is missing ({e}); set BLOCKSPACE_CONFORMANCE_DIR to the folder",
            path.display()
        )
    });
    let doc: Value = serde_json::from_str(&text).expect("valid JSON");
    let cases = doc["cases"].as_array().expect("cases");
    let (mut values, mut errors) = (0, 0);
    let mut failures = Vec::new();
    for case in cases {
        assert_eq!(
            case["op"], "Conv3DBackpropFilterV2",
            "op of {}",
            case["name"]
        );
        let dtype = case["inputs"]["input"]["dtype"].as_str().expect("dtype");
        let failure = match dtype {
            "float32" => run_case::<f32>(case),
            "float64" => run_case::<f64>(case),
            other => Some(format!("{}: unexpected dtype {other}", case["name"])),
        };
        if case.get("error").is_some() {
            errors += 1;
        } else {
            values += 1;
        }
        failures.extend(failure);
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!((values, errors), (18, 8), "case counts");
}
