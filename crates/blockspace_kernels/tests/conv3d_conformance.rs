//! Every case of the TensorFlow 2.21 conformance file `conv3d.json`: value cases bit-exact
//! (small-integer data, so every sum is exact), error cases with TensorFlow's message, on the
//! production kernel (every microkernel path this CPU has) and on the reference.
//!
//! The file is `shared/conformance/ops/conv3d.json` next to the workspace, or
//! `$BLOCKSPACE_CONFORMANCE_DIR/ops/conv3d.json` (or `$BLOCKSPACE_CONFORMANCE_DIR/conv3d.json`).
//! A missing file fails the test.

#![expect(clippy::unwrap_used, reason = "test helpers")]

use std::path::PathBuf;

use blockspace_kernels::conv3d::reference;
use blockspace_kernels::{
    Conv3dAttrs, Conv3dParams, Element, KernelContext, KernelError, KernelPath, conv3d,
    conv3d_on_path,
};
use ndarray::{ArrayD, IxDyn};
use serde_json::Value;

fn conformance_file() -> PathBuf {
    if let Some(dir) = std::env::var_os("BLOCKSPACE_CONFORMANCE_DIR") {
        let dir = PathBuf::from(dir);
        let nested = dir.join("ops").join("conv3d.json");
        return if nested.exists() {
            nested
        } else {
            dir.join("conv3d.json")
        };
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/ops/conv3d.json")
}

fn load() -> Vec<Value> {
    let path = conformance_file();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "conformance file {} is missing ({e}); set BLOCKSPACE_CONFORMANCE_DIR",
            path.display()
        )
    });
    let json: Value = serde_json::from_str(&text).unwrap();
    json["cases"].as_array().unwrap().clone()
}

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| usize::try_from(x.as_u64().unwrap()).unwrap())
        .collect()
}

fn i64s(v: &Value) -> Vec<i64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().unwrap())
        .collect()
}

fn tensor<T: Element>(v: &Value) -> ArrayD<T> {
    let data: Vec<T> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| T::from_f64(x.as_f64().unwrap()))
        .collect();
    ArrayD::from_shape_vec(IxDyn(&usizes(&v["shape"])), data).unwrap()
}

fn attrs(v: &Value) -> Conv3dAttrs {
    Conv3dAttrs {
        strides: i64s(&v["strides"]),
        padding: v["padding"].as_str().unwrap().parse().unwrap(),
        data_format: v["data_format"].as_str().unwrap().parse().unwrap(),
        dilations: i64s(&v["dilations"]),
    }
}

/// Runs one case in `T`; returns a description of the first mismatch.
fn check<T: Element>(case: &Value) -> Result<(), String> {
    let name = case["name"].as_str().unwrap();
    let x = tensor::<T>(&case["inputs"]["input"]);
    let f = tensor::<T>(&case["inputs"]["filter"]);
    let a = attrs(&case["attrs"]);
    let ctx = KernelContext::default();
    let mut results: Vec<(String, Result<ArrayD<T>, KernelError>)> = vec![
        ("conv3d".into(), conv3d(x.view(), f.view(), &a, &ctx)),
        (
            "reference".into(),
            reference::conv3d(x.view(), f.view(), &a),
        ),
    ];
    if let Ok(p) = Conv3dParams::new(x.shape(), f.shape(), &a) {
        for path in KernelPath::ALL {
            if let Some(r) = conv3d_on_path(path, &p, x.view(), f.view(), &ctx).transpose() {
                results.push((format!("{path:?}"), r));
            }
        }
    }
    for (who, got) in results {
        if let Some(err) = case.get("error") {
            let want = err["message"].as_str().unwrap();
            match got {
                Err(e) if e.to_string().contains(want) => {}
                other => {
                    return Err(format!(
                        "{name} ({who}): want error {want:?}, got {other:?}"
                    ));
                }
            }
        } else {
            let want = tensor::<T>(&case["expected"]);
            let got = got.map_err(|e| format!("{name} ({who}): unexpected error {e}"))?;
            if got.shape() != want.shape() {
                return Err(format!(
                    "{name} ({who}): shape {:?}, want {:?}",
                    got.shape(),
                    want.shape()
                ));
            }
            if let Some((i, (g, w))) = got
                .iter()
                .zip(want.iter())
                .enumerate()
                .find(|(_, (g, w))| g.to_f64().to_bits() != w.to_f64().to_bits())
            {
                return Err(format!("{name} ({who}): element {i} is {g:?}, want {w:?}"));
            }
        }
    }
    Ok(())
}

#[test]
fn every_tensorflow_case_passes() {
    let cases = load();
    let (mut values, mut errors, mut failures) = (0, 0, Vec::new());
    for case in &cases {
        assert_eq!(case["op"], "Conv3D", "only Conv3D cases in conv3d.json");
        let dtype = case["inputs"]["input"]["dtype"].as_str().unwrap();
        let outcome = match dtype {
            "float32" => check::<f32>(case),
            "float64" => check::<f64>(case),
            other => Err(format!("unknown dtype {other}")),
        };
        if case.get("error").is_some() {
            errors += 1;
        } else {
            values += 1;
        }
        if let Err(e) = outcome {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!((values, errors), (22, 8), "the file's case counts");
}
