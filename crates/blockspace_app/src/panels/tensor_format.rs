//! Formatting for the tensor viewer: axis names, default heatmap axes, the colour map and value
//! text (read-outs, tables, copied text).

use egui::Color32;
use ndarray::Axis;

/// Default axis names for a rank and a data format (`"NDHWC"`, `"NCDHW"`, or a filter layout).
#[must_use]
pub fn axis_names(rank: usize, layout: Option<&str>) -> Vec<String> {
    match layout {
        Some(l) if l.chars().count() == rank => l.chars().map(|c| c.to_string()).collect(),
        _ => (0..rank).map(|i| format!("dim{i}")).collect(),
    }
}

/// Picks the heatmap axes for a tensor: the two axes named H and W when present, else the last two
/// axes of size > 1 (or simply the last two).
pub(crate) fn default_axes(shape: &[usize], names: &[String]) -> (usize, usize) {
    let find = |n: &str| names.iter().position(|x| x == n);
    if let (Some(h), Some(w)) = (find("H"), find("W")) {
        return (h, w);
    }
    match shape.len() {
        0 => (0, 0),
        1 => (0, 0),
        r => {
            let big: Vec<usize> = (0..r).filter(|&i| shape[i] > 1).collect();
            if big.len() >= 2 {
                (big[big.len() - 2], big[big.len() - 1])
            } else {
                (r - 2, r - 1)
            }
        }
    }
}

/// A perceptual colour map (viridis, 9 stops, interpolated).
#[must_use]
pub fn colormap(t: f64) -> Color32 {
    const STOPS: [[u8; 3]; 9] = [
        [68, 1, 84],
        [71, 44, 122],
        [59, 81, 139],
        [44, 113, 142],
        [33, 144, 141],
        [39, 173, 129],
        [92, 200, 99],
        [170, 220, 50],
        [253, 231, 37],
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let x = t * (STOPS.len() - 1) as f64;
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "x is in [0, 8]"
    )]
    let i = (x.floor() as usize).min(STOPS.len() - 2);
    let f = x - i as f64;
    let lerp = |a: u8, b: u8| -> u8 {
        let v = f64::from(a) + (f64::from(b) - f64::from(a)) * f;
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "v is in [0, 255]"
        )]
        let v = v.round().clamp(0.0, 255.0) as u8;
        v
    };
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    Color32::from_rgb(lerp(a[0], b[0]), lerp(a[1], b[1]), lerp(a[2], b[2]))
}

pub(crate) fn value_color(v: f64, lo: f64, hi: f64) -> Color32 {
    if v.is_nan() {
        Color32::from_rgb(255, 0, 255)
    } else if v == f64::INFINITY {
        Color32::WHITE
    } else if v == f64::NEG_INFINITY {
        Color32::BLACK
    } else if hi > lo {
        colormap((v - lo) / (hi - lo))
    } else {
        colormap(0.5)
    }
}

/// Formats a value compactly for read-outs and tables.
#[must_use]
pub fn fmt_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 {
            "inf".to_owned()
        } else {
            "-inf".to_owned()
        }
    } else if v == v.trunc() && v.abs() < 1e9 {
        format!("{v:.0}")
    } else if v.abs() >= 1e5 || v.abs() < 1e-3 {
        format!("{v:.4e}")
    } else {
        format!("{v:.5}")
    }
}

/// `v` as nested brackets, one row per line (numpy-like).
pub(crate) fn nested_text(out: &mut String, v: &ndarray::ArrayViewD<'_, f64>, depth: usize) {
    if v.ndim() == 0 {
        out.push_str(&fmt_value(v.iter().next().copied().unwrap_or(f64::NAN)));
        return;
    }
    out.push('[');
    let n = v.shape()[0];
    for i in 0..n {
        if i > 0 {
            out.push(',');
            if v.ndim() > 1 {
                out.push('\n');
                out.push_str(&" ".repeat(depth + 1));
            } else {
                out.push(' ');
            }
        }
        nested_text(out, &v.index_axis(Axis(0), i), depth + 1);
    }
    out.push(']');
}
