//! The three transforms of the filter gradient's Winograd F(3, 2) (see [`super::winograd`]),
//! one dimension at a time, on vectors of channels.
//!
//! Per dimension, with `d` four input values, `g` two `out_backprop` values and `m` the four
//! products summed over tiles:
//!
//! ```text
//! Bᵀd = [d0 − d2, d1 + d2, d2 − d1, d3 − d1]          (input)
//! G'g = [g0, g0 + g1, g0 − g1, g1]                     (out_backprop, no halving)
//! A'ᵀm = [m0 + (m1 + m2)/2, (m1 − m2)/2, (m1 + m2)/2 + m3]   (filter taps 0, 1, 2)
//! ```
//!
//! so that `Σ_j d[k + j]·g[j] = (A'ᵀ[(G'g) ⊙ (Bᵀd)])[k]`: the usual `G` has `(g0 ± g1)/2`; the
//! halvings are moved to the end as one exact scaling by a power of two per transform point
//! ([`scale`]), so small-integer data stays integer until then.
//!
//! A pass reads `lines` lines of `NI` vectors (`src`: `[line][i][len]`) and writes its `NO`
//! outputs as `[o][line][len]`: the transformed index becomes the outermost one, so three
//! passes over a `[d][h][w]` block (w innermost) give a `[d'][h'][w']` block again.

use crate::Element;
use crate::simd::Vectorized;

/// Four disjoint planes of `plane` values at the start of `dst`.
fn planes<T>(dst: &mut [T], plane: usize) -> [&mut [T]; 4] {
    let (a, rest) = dst.split_at_mut(plane);
    let (b, rest) = rest.split_at_mut(plane);
    let (c, rest) = rest.split_at_mut(plane);
    [a, b, c, &mut rest[..plane]]
}

/// `Bᵀ` along the innermost dimension of `src` (`lines × 4 × len`), into `dst` (`4 × lines × len`).
#[inline(always)]
fn bt_pass<T: Element>(src: &[T], dst: &mut [T], len: usize, lines: usize) {
    let [q0, q1, q2, q3] = planes(dst, lines * len);
    for (line, s) in src[..lines * 4 * len].chunks_exact(4 * len).enumerate() {
        let (s0, s1, s2, s3) = (
            &s[..len],
            &s[len..2 * len],
            &s[2 * len..3 * len],
            &s[3 * len..4 * len],
        );
        let o = line * len;
        let (d0, d1, d2, d3) = (
            &mut q0[o..o + len],
            &mut q1[o..o + len],
            &mut q2[o..o + len],
            &mut q3[o..o + len],
        );
        for c in 0..len {
            let (a, b, cc, d) = (s0[c], s1[c], s2[c], s3[c]);
            d0[c] = a - cc;
            d1[c] = b + cc;
            d2[c] = cc - b;
            d3[c] = d - b;
        }
    }
}

/// `G'` along the innermost dimension of `src` (`lines × 2 × len`), into `dst` (`4 × lines × len`).
#[inline(always)]
fn g_pass<T: Element>(src: &[T], dst: &mut [T], len: usize, lines: usize) {
    let [q0, q1, q2, q3] = planes(dst, lines * len);
    for (line, s) in src[..lines * 2 * len].chunks_exact(2 * len).enumerate() {
        let (s0, s1) = (&s[..len], &s[len..2 * len]);
        let o = line * len;
        let (d0, d1, d2, d3) = (
            &mut q0[o..o + len],
            &mut q1[o..o + len],
            &mut q2[o..o + len],
            &mut q3[o..o + len],
        );
        for c in 0..len {
            let (a, b) = (s0[c], s1[c]);
            d0[c] = a;
            d1[c] = a + b;
            d2[c] = a - b;
            d3[c] = b;
        }
    }
}

/// `Aᵀ` (the unhalved `[m0 + m1 + m2, m1 − m2, m1 + m2 + m3]`, after [`scale`]) along the
/// innermost dimension of `src` (`lines × 4 × len`), into `dst` (`3 × lines × len`).
#[inline(always)]
fn at_pass<T: Element>(src: &[T], dst: &mut [T], len: usize, lines: usize) {
    let plane = lines * len;
    let (q0, rest) = dst.split_at_mut(plane);
    let (q1, rest) = rest.split_at_mut(plane);
    let q2 = &mut rest[..plane];
    for (line, s) in src[..lines * 4 * len].chunks_exact(4 * len).enumerate() {
        let (s0, s1, s2, s3) = (
            &s[..len],
            &s[len..2 * len],
            &s[2 * len..3 * len],
            &s[3 * len..4 * len],
        );
        let o = line * len;
        let (d0, d1, d2) = (
            &mut q0[o..o + len],
            &mut q1[o..o + len],
            &mut q2[o..o + len],
        );
        for c in 0..len {
            let (a, b, cc, d) = (s0[c], s1[c], s2[c], s3[c]);
            let mid = b + cc;
            d0[c] = a + mid;
            d1[c] = b - cc;
            d2[c] = mid + d;
        }
    }
}

/// Where the last pass writes: row `p` (transform point) of column segment `(c0, len, off)`
/// goes to `dst[p·p_stride + off..][..len]`, from the pass's columns `c0..c0 + len`.
#[derive(Clone, Copy)]
pub(super) struct Rows<'a> {
    pub(super) p_stride: usize,
    pub(super) segments: &'a [(usize, usize, usize)],
}

/// The last `Bᵀ` pass (16 lines of 4 vectors of `len`), each of the 64 output rows written
/// where `rows` says: output `j` of line `l` is point `16·j + l`.
#[inline(always)]
fn bt_last<T: Element>(src: &[T], dst: &mut [T], len: usize, rows: Rows<'_>) {
    for p in 0..64 {
        let (j, line) = (p / 16, p % 16);
        let s = &src[line * 4 * len..(line + 1) * 4 * len];
        for &(c0, n, off) in rows.segments {
            let o = p * rows.p_stride + off;
            let d = &mut dst[o..o + n];
            let at = |i: usize| &s[i * len + c0..i * len + c0 + n];
            let (x, y, sub) = match j {
                0 => (at(0), at(2), true),
                1 => (at(1), at(2), false),
                2 => (at(2), at(1), true),
                _ => (at(3), at(1), true),
            };
            if sub {
                for c in 0..n {
                    d[c] = x[c] - y[c];
                }
            } else {
                for c in 0..n {
                    d[c] = x[c] + y[c];
                }
            }
        }
    }
}

/// The last `G'` pass (16 lines of 2 vectors of `len`), written as [`bt_last`] does.
#[inline(always)]
fn g_last<T: Element>(src: &[T], dst: &mut [T], len: usize, rows: Rows<'_>) {
    for p in 0..64 {
        let (j, line) = (p / 16, p % 16);
        let s = &src[line * 2 * len..(line + 1) * 2 * len];
        for &(c0, n, off) in rows.segments {
            let o = p * rows.p_stride + off;
            let d = &mut dst[o..o + n];
            let (a, b) = (&s[c0..c0 + n], &s[len + c0..len + c0 + n]);
            match j {
                0 => d.copy_from_slice(a),
                1 => {
                    for c in 0..n {
                        d[c] = a[c] + b[c];
                    }
                }
                2 => {
                    for c in 0..n {
                        d[c] = a[c] - b[c];
                    }
                }
                _ => d.copy_from_slice(b),
            }
        }
    }
}

/// The input transform of one tile: `tile` holds `4×4×4` vectors of `len` channels
/// (`[d][h][w]`), overwritten; point `p` of the result (`p = 16·d' + 4·h' + w'`) is written
/// to `out` as `rows` says.
pub(super) struct InputTransform<'a, T> {
    pub(super) tile: &'a mut [T],
    pub(super) tmp: &'a mut [T],
    pub(super) out: &'a mut [T],
    pub(super) rows: Rows<'a>,
    pub(super) len: usize,
}

impl<T: Element> Vectorized for InputTransform<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let Self {
            tile,
            tmp,
            out,
            rows,
            len,
        } = self;
        bt_pass(tile, tmp, len, 16);
        bt_pass(tmp, tile, len, 16);
        bt_last(tile, out, len, rows);
    }
}

/// The `out_backprop` transform of one tile: `tile` holds `2×2×2` vectors of `len` channels
/// (`[d][h][w]`); the `4×4×4` result is written to `out` as [`InputTransform`] writes its
/// own (`tmp` holds at least `48·len` values).
pub(super) struct GradTransform<'a, T> {
    pub(super) tile: &'a [T],
    pub(super) tmp: &'a mut [T],
    pub(super) out: &'a mut [T],
    pub(super) rows: Rows<'a>,
    pub(super) len: usize,
}

impl<T: Element> Vectorized for GradTransform<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let Self {
            tile,
            tmp,
            out,
            rows,
            len,
        } = self;
        // [d][h][w] (4 lines of 2) -> [w'][d][h] (8 lines of 2 along h) -> [h'][w'][d]
        // (16 lines of 2 along d) -> [d'][h'][w'].
        let (first, second) = tmp.split_at_mut(16 * len);
        g_pass(tile, first, len, 4);
        g_pass(first, second, len, 8);
        g_last(second, out, len, rows);
    }
}

/// The inverse transform: `m` holds `4×4×4` vectors of `len` values (`[d'][h'][w']`, already
/// [`scale`]d), overwritten; the `3×3×3` filter taps (`[kd][kh][kw]`) are written to `out`.
pub(super) struct OutputTransform<'a, T> {
    pub(super) m: &'a mut [T],
    pub(super) tmp: &'a mut [T],
    pub(super) out: &'a mut [T],
    pub(super) len: usize,
}

impl<T: Element> Vectorized for OutputTransform<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let Self { m, tmp, out, len } = self;
        // [d][h][w] 16 lines -> [kw][d][h] 12 lines -> [kh][kw][d] 9 lines -> [kd][kh][kw].
        at_pass(m, tmp, len, 16);
        at_pass(tmp, m, len, 12);
        at_pass(m, out, len, 9);
    }
}

/// The exact power-of-two factor of transform point `(pd, ph, pw)`: the `1/2` of `G`'s two
/// middle rows, once per dimension.
pub(super) fn scale<T: Element>(point: usize) -> T {
    let halvings = [point / 16, (point / 4) % 4, point % 4]
        .iter()
        .filter(|&&i| i == 1 || i == 2)
        .count();
    T::from_f64(0.5f64.powi(i32::try_from(halvings).unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every entry of the 3-D correlation of a 4³ input tile with a 2³ gradient tile.
    #[expect(clippy::needless_range_loop, reason = "the definition, index by index")]
    fn direct(d: &[f64], g: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; 27];
        for k in 0..27 {
            let (kd, kh, kw) = (k / 9, (k / 3) % 3, k % 3);
            for j in 0..8 {
                let (jd, jh, jw) = (j / 4, (j / 2) % 2, j % 2);
                out[k] += d[(kd + jd) * 16 + (kh + jh) * 4 + kw + jw] * g[j];
            }
        }
        out
    }

    #[test]
    fn transforms_compute_the_tile_correlation_exactly_on_integers() {
        let len = 3;
        let mut seed = 7u64;
        let mut next = || {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            ((seed >> 33) % 9) as f64 - 4.0
        };
        let d: Vec<f64> = (0..64 * len).map(|_| next()).collect();
        let g: Vec<f64> = (0..8 * len).map(|_| next()).collect();
        let mut tile = d.clone();
        let mut tmp = vec![0.0; 64 * len];
        let rows = Rows {
            p_stride: len,
            segments: &[(0, len, 0)],
        };
        let mut v = vec![0.0; 64 * len];
        InputTransform {
            tile: &mut tile,
            tmp: &mut tmp,
            out: &mut v,
            rows,
            len,
        }
        .run();
        let mut u = vec![0.0; 64 * len];
        GradTransform {
            tile: &g,
            tmp: &mut tmp,
            out: &mut u,
            rows,
            len,
        }
        .run();
        let mut m: Vec<f64> = (0..64 * len)
            .map(|i| v[i] * u[i] * scale::<f64>(i / len))
            .collect();
        let mut out = vec![0.0; 27 * len];
        OutputTransform {
            m: &mut m,
            tmp: &mut tmp,
            out: &mut out,
            len,
        }
        .run();
        for c in 0..len {
            let dc: Vec<f64> = (0..64).map(|i| d[i * len + c]).collect();
            let gc: Vec<f64> = (0..8).map(|i| g[i * len + c]).collect();
            let want = direct(&dc, &gc);
            let got: Vec<f64> = (0..27).map(|k| out[k * len + c]).collect();
            assert_eq!(got, want, "channel {c}");
        }
    }

    #[test]
    fn scale_halves_once_per_middle_index() {
        assert_eq!(scale::<f64>(0), 1.0);
        assert_eq!(scale::<f64>(1), 0.5);
        assert_eq!(scale::<f64>(16 + 4 + 2), 0.125);
        assert_eq!(scale::<f64>(63), 1.0);
        assert_eq!(scale::<f64>(3 * 16 + 2 * 4 + 3), 0.5);
    }
}
