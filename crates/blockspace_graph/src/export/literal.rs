//! Tensors written into a script as exact NumPy literals.

use crate::tensor::Tensor;

/// A float as Python text that parses to exactly `v` (Rust's shortest round-trip form; NaN and
/// infinities as `np.nan`, `np.inf`).
fn py_float(v: f64) -> String {
    if v.is_nan() {
        "np.nan".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 { "np.inf" } else { "-np.inf" }.to_owned()
    } else {
        format!("{v:?}")
    }
}

/// The values of `t` as Python number texts, row-major. A float32 value is written as the exact
/// float64 it widens to, so the `np.float32` cast gives the same bits back; integers are
/// written as integers (int64 beyond 2^53 stays exact).
fn values(t: &Tensor) -> Vec<String> {
    match t {
        Tensor::I32(a) => a.iter().map(|v| v.to_string()).collect(),
        Tensor::I64(a) => a.iter().map(|v| v.to_string()).collect(),
        Tensor::F32(a) => a.iter().map(|&v| py_float(f64::from(v))).collect(),
        Tensor::F64(a) => a.iter().map(|&v| py_float(v)).collect(),
    }
}

/// NumPy's name for the dtype of `t`: `np.float32`, ….
pub(crate) fn np_dtype(t: &Tensor) -> String {
    format!("np.{}", t.dtype().as_str())
}

/// A Python expression building `t` exactly as a NumPy array, wrapped to lines of about
/// `width` characters, continuation lines indented by `indent` spaces.
pub(crate) fn np_literal(t: &Tensor, indent: usize, width: usize) -> String {
    let dtype = np_dtype(t);
    let shape = t.shape();
    if t.is_empty() {
        return format!("np.zeros({shape:?}, dtype={dtype})");
    }
    let vals = values(t);
    if shape.is_empty() {
        return format!("np.array({}, dtype={dtype})", vals.join(""));
    }
    let pad = " ".repeat(indent + 4);
    let mut body = String::new();
    let mut line = String::new();
    for (i, v) in vals.iter().enumerate() {
        let item = if i + 1 < vals.len() {
            format!("{v}, ")
        } else {
            v.clone()
        };
        if !line.is_empty() && pad.len() + line.len() + item.len() > width {
            body.push_str(&pad);
            body.push_str(line.trim_end());
            body.push('\n');
            line.clear();
        }
        line.push_str(&item);
    }
    let reshape = if shape.len() == 1 {
        String::new()
    } else {
        format!(".reshape({shape:?})")
    };
    if body.is_empty() && indent + line.len() + 40 <= width {
        return format!("np.array([{line}], dtype={dtype}){reshape}");
    }
    body.push_str(&pad);
    body.push_str(&line);
    format!(
        "np.array([\n{body},\n{}], dtype={dtype}){reshape}",
        " ".repeat(indent)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{ArrayD, IxDyn};

    #[test]
    fn literals_are_exact() {
        let t = Tensor::F32(ArrayD::from_shape_vec(IxDyn(&[2]), vec![0.1f32, -2.5]).unwrap());
        assert_eq!(
            np_literal(&t, 0, 100),
            "np.array([0.10000000149011612, -2.5], dtype=np.float32)"
        );
        let t = Tensor::I64(ArrayD::from_shape_vec(IxDyn(&[1, 1]), vec![i64::MAX]).unwrap());
        assert_eq!(
            np_literal(&t, 0, 100),
            "np.array([9223372036854775807], dtype=np.int64).reshape([1, 1])"
        );
        let t = Tensor::F64(ArrayD::from_elem(IxDyn(&[]), f64::NAN));
        assert_eq!(np_literal(&t, 0, 100), "np.array(np.nan, dtype=np.float64)");
        let t = Tensor::zeros(crate::DType::Int32, &[0, 3]);
        assert_eq!(np_literal(&t, 0, 100), "np.zeros([0, 3], dtype=np.int32)");
        let long = Tensor::F64(ArrayD::from_elem(IxDyn(&[40]), 1.5));
        let text = np_literal(&long, 4, 60);
        assert!(text.lines().all(|l| l.len() <= 60), "{text}");
        assert_eq!(text.matches("1.5").count(), 40);
    }
}
