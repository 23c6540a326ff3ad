//! The viewer's numbers, as pure functions over a stream of values: statistics with a histogram
//! and robust percentiles, 2-D planes, projections along an axis, montage tiles, and the
//! comparison of a result with a reference (NumPy's `allclose`).
//!
//! Each function reads its input once or twice in C order and checks a cancel flag every
//! [`CHECK_EVERY`] elements, so the worker threads that run them stop soon after the user moves
//! on.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::panels::viewer::data::Volume;
use blockspace_graph::StatsPass;

/// How often (in elements) long loops look at the cancel flag.
pub const CHECK_EVERY: usize = 1 << 16;

/// Bins of the fine histogram the percentiles are read from.
const FINE_BINS: usize = 1 << 16;
/// Bins of the shown histogram (a divisor of the fine histogram's 65 536 bins).
pub const HIST_BINS: usize = 256;

/// The computation was cancelled (the user moved on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cancelled;

fn check(i: usize, cancel: &AtomicBool) -> Result<(), Cancelled> {
    if i.is_multiple_of(CHECK_EVERY) && cancel.load(Ordering::Relaxed) {
        Err(Cancelled)
    } else {
        Ok(())
    }
}

/// Statistics of the values (the graph crate's type: min/max/mean/std over the finite values).
pub use blockspace_graph::TensorStats as Stats;

/// Statistics, a histogram and the 1st/99th percentiles of a set of values.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// Count, range, mean, std, NaN and Inf counts.
    pub stats: Stats,
    /// Counts of the finite values in [`HIST_BINS`] equal bins over `[stats.min, stats.max]`.
    pub hist: Vec<u64>,
    /// The 1st percentile of the finite values.
    pub p1: f64,
    /// The 99th percentile of the finite values.
    pub p99: f64,
    /// How many values are negative (finite or −Inf).
    pub negative: usize,
}

/// The summary of `values` (read twice: `make` returns a fresh iterator each time).
pub fn summary<'a>(
    make: impl Fn() -> Box<dyn Iterator<Item = f64> + 'a>,
    cancel: &AtomicBool,
) -> Result<Summary, Cancelled> {
    let mut first = StatsPass::default();
    let mut negative = 0usize;
    for (i, v) in make().enumerate() {
        check(i, cancel)?;
        first.add(v);
        negative += usize::from(v < 0.0);
    }
    let Some(mean) = first.mean() else {
        return Ok(Summary {
            stats: first.finish(0.0),
            hist: vec![0; HIST_BINS],
            p1: f64::NAN,
            p99: f64::NAN,
            negative,
        });
    };
    let (min, max) = first.range();
    let mut dev2 = 0.0;
    let mut fine = vec![0u64; FINE_BINS];
    for (i, v) in make().filter(|v| v.is_finite()).enumerate() {
        check(i, cancel)?;
        dev2 += (v - mean) * (v - mean);
        fine[bin_of(v, min, max, FINE_BINS)] += 1;
    }
    let group = FINE_BINS / HIST_BINS;
    let hist = fine.chunks(group).map(|c| c.iter().sum()).collect();
    Ok(Summary {
        stats: first.finish(dev2),
        hist,
        p1: percentile(&fine, min, max, 0.01),
        p99: percentile(&fine, min, max, 0.99),
        negative,
    })
}

/// The bin of `v` among `bins` equal bins over `[lo, hi]` (the top value in the last bin).
#[must_use]
pub fn bin_of(v: f64, lo: f64, hi: f64, bins: usize) -> usize {
    if hi <= lo {
        return 0;
    }
    let t = (v - lo) / (hi - lo) * bins as f64;
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "clamped to [0, bins - 1]"
    )]
    let b = t.floor().clamp(0.0, (bins - 1) as f64) as usize;
    b
}

/// The `q`-quantile (0 ≤ q ≤ 1) read from a histogram over `[lo, hi]`, interpolated inside
/// its bin (accurate to one bin width).
#[must_use]
pub fn percentile(hist: &[u64], lo: f64, hi: f64, q: f64) -> f64 {
    let total: u64 = hist.iter().sum();
    if total == 0 || hist.is_empty() {
        return f64::NAN;
    }
    if hi <= lo {
        return lo;
    }
    #[expect(clippy::cast_precision_loss, reason = "counts below 2^53")]
    let target = q.clamp(0.0, 1.0) * total as f64;
    let width = (hi - lo) / hist.len() as f64;
    let mut below = 0.0;
    for (i, &c) in hist.iter().enumerate() {
        #[expect(clippy::cast_precision_loss, reason = "counts below 2^53")]
        let c = c as f64;
        if c > 0.0 && below + c >= target {
            let f = ((target - below) / c).clamp(0.0, 1.0);
            return lo + (i as f64 + f) * width;
        }
        below += c;
    }
    hi
}

/// A 2-D image of values, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Image {
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// `rows × cols` values.
    pub values: Vec<f32>,
}

impl Image {
    /// The value at `(r, c)` (NaN outside).
    #[must_use]
    pub fn at(&self, r: usize, c: usize) -> f32 {
        if r < self.rows && c < self.cols {
            self.values[r * self.cols + c]
        } else {
            f32::NAN
        }
    }
}

#[expect(clippy::cast_possible_truncation, reason = "shown as f32 pixels")]
fn to_f32(v: f64) -> f32 {
    v as f32
}

/// The plane of `vol` over axes `rows < cols` with every other axis at `index`.
#[must_use]
pub fn plane(vol: &Volume, rows: usize, cols: usize, index: &[usize]) -> Image {
    let fixed: Vec<Option<usize>> = (0..vol.shape().len())
        .map(|a| (a != rows && a != cols).then(|| index.get(a).copied().unwrap_or(0)))
        .collect();
    let (r, c) = (vol.shape()[rows], vol.shape()[cols]);
    let mut values: Vec<f32> = vol.iter_fixed(&fixed).map(to_f32).collect();
    values.resize(r * c, f32::NAN);
    Image {
        rows: r,
        cols: c,
        values,
    }
}

/// How a projection reduces the values along its axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reduce {
    /// The largest value (maximum intensity projection).
    Max,
    /// The smallest value.
    Min,
    /// The mean.
    Mean,
    /// The largest absolute value.
    MaxAbs,
}

impl Reduce {
    /// Every reduction, in menu order.
    pub const ALL: [Reduce; 4] = [Reduce::Max, Reduce::Min, Reduce::Mean, Reduce::MaxAbs];

    /// The name in menus.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Reduce::Max => "max",
            Reduce::Min => "min",
            Reduce::Mean => "mean",
            Reduce::MaxAbs => "max |x|",
        }
    }
}

/// Projects a 3-D block of values (`dims`, C order) along axis `along` (0, 1 or 2): the image of
/// the other two axes. NaN anywhere along a ray makes that pixel NaN (as NumPy's `max`/`mean`).
pub fn project(
    values: impl Iterator<Item = f64>,
    dims: [usize; 3],
    along: usize,
    how: Reduce,
    cancel: &AtomicBool,
) -> Result<Image, Cancelled> {
    let [d0, d1, d2] = dims;
    let (rows, cols) = match along {
        0 => (d1, d2),
        1 => (d0, d2),
        _ => (d0, d1),
    };
    let init = match how {
        Reduce::Max => f64::NEG_INFINITY,
        Reduce::Min => f64::INFINITY,
        Reduce::Mean | Reduce::MaxAbs => 0.0,
    };
    let mut acc = vec![init; rows * cols];
    let (mut i0, mut i1, mut i2) = (0usize, 0usize, 0usize);
    for (i, v) in values.take(d0 * d1 * d2).enumerate() {
        check(i, cancel)?;
        let o = match along {
            0 => i1 * cols + i2,
            1 => i0 * cols + i2,
            _ => i0 * cols + i1,
        };
        let a = &mut acc[o];
        *a = if v.is_nan() || a.is_nan() {
            f64::NAN
        } else {
            match how {
                Reduce::Max => a.max(v),
                Reduce::Min => a.min(v),
                Reduce::Mean => *a + v,
                Reduce::MaxAbs => a.max(v.abs()),
            }
        };
        i2 += 1;
        if i2 == d2 {
            i2 = 0;
            i1 += 1;
            if i1 == d1 {
                i1 = 0;
                i0 += 1;
            }
        }
    }
    let n = dims[along.min(2)].max(1) as f64;
    let values = acc
        .into_iter()
        .map(|a| to_f32(if how == Reduce::Mean { a / n } else { a }))
        .collect();
    Ok(Image { rows, cols, values })
}

/// Every slice of a 3-D block along one axis, each shrunk to at most `tile_max` pixels a side
/// (every k-th row and column).
#[derive(Clone, Debug, PartialEq)]
pub struct Tiles {
    /// One image per slice, in index order.
    pub tiles: Vec<Image>,
    /// Every `step`-th row and column of a slice is kept.
    pub step: usize,
}

/// The slices of `values` (`dims`, C order) along axis `along`.
pub fn tiles(
    values: impl Iterator<Item = f64>,
    dims: [usize; 3],
    along: usize,
    tile_max: usize,
    cancel: &AtomicBool,
) -> Result<Tiles, Cancelled> {
    let [d0, d1, d2] = dims;
    let (n, rows, cols) = match along {
        0 => (d0, d1, d2),
        1 => (d1, d0, d2),
        _ => (d2, d0, d1),
    };
    let step = rows.max(cols).div_ceil(tile_max.max(1)).max(1);
    let (tr, tc) = (rows.div_ceil(step), cols.div_ceil(step));
    let mut tiles: Vec<Image> = (0..n)
        .map(|_| Image {
            rows: tr,
            cols: tc,
            values: vec![f32::NAN; tr * tc],
        })
        .collect();
    let (mut i0, mut i1, mut i2) = (0usize, 0usize, 0usize);
    for (i, v) in values.take(d0 * d1 * d2).enumerate() {
        check(i, cancel)?;
        let (s, r, c) = match along {
            0 => (i0, i1, i2),
            1 => (i1, i0, i2),
            _ => (i2, i0, i1),
        };
        if r % step == 0 && c % step == 0 {
            tiles[s].values[(r / step) * tc + c / step] = to_f32(v);
        }
        i2 += 1;
        if i2 == d2 {
            i2 = 0;
            i1 += 1;
            if i1 == d1 {
                i1 = 0;
                i0 += 1;
            }
        }
    }
    Ok(Tiles { tiles, step })
}

/// Whether `a` is close to the reference `b` by NumPy's `isclose` (`equal_nan=False`):
/// `|a − b| ≤ atol + rtol·|b|`; equal infinities are close, NaN never is.
#[must_use]
pub fn is_close(a: f64, b: f64, rtol: f64, atol: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return false;
    }
    if a.is_infinite() || b.is_infinite() {
        return a == b;
    }
    (a - b).abs() <= atol + rtol * b.abs()
}

/// How a result compares with a reference.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    /// Elements compared.
    pub count: usize,
    /// Elements that are not close.
    pub mismatches: usize,
    /// The largest `|a − b|` over elements where both are finite.
    pub max_abs: f64,
    /// The largest `|a − b| / |b|` over elements where both are finite and `b ≠ 0`.
    pub max_rel: f64,
    /// The flat (C-order) index of the worst element: among elements that are not close, the
    /// one furthest beyond the tolerance; when all are close, the largest `|a − b|`.
    pub worst: Option<usize>,
    /// `a` and `b` at the worst element.
    pub worst_values: (f64, f64),
    /// NumPy's `allclose(a, b, rtol, atol)`.
    pub allclose: bool,
    /// The tolerances used.
    pub rtol: f64,
    /// The tolerances used.
    pub atol: f64,
}

/// Compares `a` with the reference `b` element by element (same length, C order).
pub fn compare(
    a: impl Iterator<Item = f64>,
    b: impl Iterator<Item = f64>,
    rtol: f64,
    atol: f64,
    cancel: &AtomicBool,
) -> Result<Comparison, Cancelled> {
    let mut out = Comparison {
        count: 0,
        mismatches: 0,
        max_abs: 0.0,
        max_rel: 0.0,
        worst: None,
        worst_values: (f64::NAN, f64::NAN),
        allclose: true,
        rtol,
        atol,
    };
    // The worst element: the largest excess over the tolerance among elements that are not
    // close (infinite for NaN/Inf mismatches); when all are close, the largest |a − b|.
    let mut worst_bad: Option<(f64, usize, f64, f64)> = None;
    let mut worst_diff: Option<(f64, usize, f64, f64)> = None;
    for (i, (x, y)) in a.zip(b).enumerate() {
        check(i, cancel)?;
        out.count += 1;
        let diff = (x - y).abs();
        if x.is_finite() && y.is_finite() {
            out.max_abs = out.max_abs.max(diff);
            if y != 0.0 {
                out.max_rel = out.max_rel.max(diff / y.abs());
            }
            if worst_diff.is_none_or(|w| diff > w.0) {
                worst_diff = Some((diff, i, x, y));
            }
        }
        if !is_close(x, y, rtol, atol) {
            out.mismatches += 1;
            let excess = if diff.is_finite() {
                diff - (atol + rtol * y.abs())
            } else {
                f64::INFINITY
            };
            if worst_bad.is_none_or(|w| excess > w.0) {
                worst_bad = Some((excess, i, x, y));
            }
        }
    }
    out.allclose = out.mismatches == 0;
    if let Some((_, i, x, y)) = worst_bad.or(worst_diff) {
        out.worst = Some(i);
        out.worst_values = (x, y);
    }
    Ok(out)
}

/// The multi-index of flat C-order index `flat` in `shape`.
#[must_use]
pub fn unravel(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for (i, &n) in shape.iter().enumerate().rev() {
        let n = n.max(1);
        idx[i] = flat % n;
        flat /= n;
    }
    idx
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no() -> AtomicBool {
        AtomicBool::new(false)
    }

    fn boxed(v: &[f64]) -> Box<dyn Iterator<Item = f64> + '_> {
        Box::new(v.iter().copied())
    }

    #[test]
    fn summary_counts_and_percentiles() {
        // 0, 1, …, 100 and a NaN and an −Inf.
        let mut v: Vec<f64> = (0..=100).map(f64::from).collect();
        v.extend([f64::NAN, f64::NEG_INFINITY]);
        let s = summary(|| boxed(&v), &no()).unwrap();
        assert_eq!(s.stats.count, 103);
        assert_eq!((s.stats.min, s.stats.max, s.stats.mean), (0.0, 100.0, 50.0));
        assert_eq!(
            (s.stats.nan_count, s.stats.inf_count, s.negative),
            (1, 1, 1)
        );
        assert_eq!(s.hist.iter().sum::<u64>(), 101, "finite values binned");
        assert_eq!(s.hist[0], 1);
        assert_eq!(s.hist[HIST_BINS - 1], 1, "the top value in the last bin");
        let bin = 100.0 / FINE_BINS as f64;
        assert!((s.p1 - 1.0).abs() <= 2.0 * bin, "p1 {}", s.p1);
        assert!((s.p99 - 99.0).abs() <= 2.0 * bin, "p99 {}", s.p99);
    }

    #[test]
    fn percentile_of_a_flat_histogram() {
        let h = vec![10u64; 10];
        assert!((percentile(&h, 0.0, 10.0, 0.5) - 5.0).abs() < 1e-12);
        assert!((percentile(&h, 0.0, 10.0, 0.01) - 0.1).abs() < 1e-12);
        assert!(percentile(&[0, 0], 0.0, 1.0, 0.5).is_nan());
    }

    #[test]
    fn summary_stops_when_cancelled() {
        let v = vec![1.0; 10];
        let yes = AtomicBool::new(true);
        assert_eq!(summary(|| boxed(&v), &yes), Err(Cancelled));
    }

    /// A 2×3×4 block with value 100·i + 10·j + k at (i, j, k).
    fn block() -> Vec<f64> {
        let mut v = Vec::new();
        for i in 0..2 {
            for j in 0..3 {
                for k in 0..4 {
                    v.push(f64::from(100 * i + 10 * j + k));
                }
            }
        }
        v
    }

    #[test]
    fn projections_have_known_answers() {
        let v = block();
        let p = project(v.iter().copied(), [2, 3, 4], 0, Reduce::Max, &no()).unwrap();
        assert_eq!((p.rows, p.cols), (3, 4));
        assert_eq!(p.at(2, 3), 123.0);
        let p = project(v.iter().copied(), [2, 3, 4], 1, Reduce::Mean, &no()).unwrap();
        assert_eq!((p.rows, p.cols), (2, 4));
        assert_eq!(p.at(1, 2), 112.0, "mean of 102, 112, 122");
        let p = project(v.iter().copied(), [2, 3, 4], 2, Reduce::Min, &no()).unwrap();
        assert_eq!((p.rows, p.cols), (2, 3));
        assert_eq!(p.at(1, 1), 110.0);
        let signed: Vec<f64> = v.iter().map(|x| -x).collect();
        let p = project(signed.iter().copied(), [2, 3, 4], 0, Reduce::MaxAbs, &no()).unwrap();
        assert_eq!(p.at(0, 0), 100.0);
        let mut nan = v.clone();
        nan[5] = f64::NAN; // (0, 1, 1)
        let p = project(nan.iter().copied(), [2, 3, 4], 0, Reduce::Max, &no()).unwrap();
        assert!(p.at(1, 1).is_nan(), "NaN propagates along its ray");
        assert_eq!(p.at(1, 2), 112.0);
    }

    #[test]
    fn tiles_are_the_slices() {
        let v = block();
        let t = tiles(v.iter().copied(), [2, 3, 4], 1, 64, &no()).unwrap();
        assert_eq!(t.tiles.len(), 3);
        assert_eq!((t.tiles[2].rows, t.tiles[2].cols), (2, 4));
        assert_eq!(t.tiles[2].at(1, 3), 123.0);
        let t = tiles(v.iter().copied(), [2, 3, 4], 2, 2, &no()).unwrap();
        assert_eq!(t.step, 2, "3 × 2 slices shrunk to 2 a side");
        assert_eq!((t.tiles[0].rows, t.tiles[0].cols), (1, 2));
        assert_eq!(t.tiles[3].at(0, 1), 23.0);
    }

    #[test]
    fn allclose_is_numpys() {
        assert!(is_close(1.0 + 1e-6, 1.0, 1e-5, 1e-8));
        assert!(!is_close(1.0 + 1e-4, 1.0, 1e-5, 1e-8));
        assert!(is_close(1e-9, 0.0, 1e-5, 1e-8), "atol near zero");
        // Not symmetric: the tolerance scales with the reference b.
        assert!(is_close(2.0, 1.0, 1.0, 0.0));
        assert!(!is_close(1.0, 2.0, 0.4, 0.0));
        assert!(is_close(f64::INFINITY, f64::INFINITY, 0.0, 0.0));
        assert!(!is_close(f64::INFINITY, 1.0, 1.0, 1.0));
        assert!(!is_close(f64::NAN, f64::NAN, 1.0, 1.0));
    }

    #[test]
    fn comparison_finds_the_planted_difference() {
        let b: Vec<f64> = (0..100).map(|i| f64::from(i) * 0.5).collect();
        let mut a = b.clone();
        a[37] += 0.25;
        a[80] += 1e-9;
        let c = compare(a.iter().copied(), b.iter().copied(), 1e-5, 1e-8, &no()).unwrap();
        assert_eq!(c.count, 100);
        assert_eq!(c.mismatches, 1);
        assert!(!c.allclose);
        assert_eq!(c.worst, Some(37));
        assert!((c.max_abs - 0.25).abs() < 1e-12);
        assert!((c.max_rel - 0.25 / 18.5).abs() < 1e-12);
        let same = compare(b.iter().copied(), b.iter().copied(), 0.0, 0.0, &no()).unwrap();
        assert!(same.allclose && same.mismatches == 0);
        assert_eq!(unravel(37, &[4, 5, 5]), vec![1, 2, 2]);
    }
}
