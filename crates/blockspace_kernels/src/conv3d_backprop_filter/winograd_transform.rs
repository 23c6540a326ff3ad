//! The transforms of the filter gradient's Winograd kernels (see [`super::winograd`]), one
//! dimension at a time, on vectors of channels.
//!
//! A [`Scheme`] gives, per dimension, the input transform `Bᵀ` (`E` input values → `P`
//! points), the gradient transform `G'` (2 gradient values → `P` points) and the inverse `A'ᵀ`
//! (`P` points → `K` filter taps), each row a sum or difference of at most three entries, so
//! that `Σ_j x[S·j + k]·g[j] = (A'ᵀ[(G'g) ⊙ (Bᵀx)])[k]` for the tile's two output positions
//! `j` (stride `S`), after the exact power-of-two [`Scheme::scale`] of each point:
//!
//! - stride 1, `K = 3` (F(3, 2)): `Bᵀx = [x0 − x2, x1 + x2, x2 − x1, x3 − x1]`,
//!   `G'g = [g0, g0 + g1, g0 − g1, g1]` (the usual `G` halves the middle two: that is the
//!   scale), `A'ᵀm = [m0 + m1 + m2, m1 − m2, m1 + m2 + m3]`.
//!
//! (Stride-2 schemes, F(2, 2) on each two-tap parity phase, were measured 2.4× (B2) and 1.17×
//! (B4) slower than the direct kernel at 16–32 channels, so there are none.)
//!
//! A pass reads `lines` lines of `width` vectors (`src`: `[line][i][len]`) and writes its
//! outputs as `[o][line][len]`: the transformed index becomes the outermost one, so three
//! passes over a `[d][h][w]` block (w innermost) give a `[d'][h'][w']` block again.

use crate::Element;
use crate::simd::Vectorized;

/// One output row of a transform: a copy, sum or difference of input rows.
#[derive(Debug, Clone, Copy)]
pub(super) enum Op {
    /// `s[a]`.
    Copy(usize),
    /// `s[a] + s[b]`.
    Add(usize, usize),
    /// `s[a] − s[b]`.
    Sub(usize, usize),
    /// `(s[a] + s[b]) + s[c]`.
    Add3(usize, usize, usize),
}

/// The transforms of one Winograd kernel (the same in every dimension).
#[derive(Debug)]
pub(super) struct Scheme {
    /// Filter taps `K`.
    pub(super) taps: usize,
    /// Stride `S`.
    pub(super) stride: usize,
    /// Input values per tile and dimension, `E = S + K` (two output positions).
    pub(super) extent: usize,
    /// `Bᵀ`, one row per point.
    pub(super) bt: &'static [Op],
    /// `G'`, one row per point.
    pub(super) g: &'static [Op],
    /// `A'ᵀ`, one row per tap.
    at: &'static [Op],
    /// Points whose value is halved (the scale).
    halved: &'static [bool],
}

/// Stride 1, 3 taps: F(3, 2).
pub(super) const S1_K3: Scheme = Scheme {
    taps: 3,
    stride: 1,
    extent: 4,
    bt: &[Op::Sub(0, 2), Op::Add(1, 2), Op::Sub(2, 1), Op::Sub(3, 1)],
    g: &[Op::Copy(0), Op::Add(0, 1), Op::Sub(0, 1), Op::Copy(1)],
    at: &[Op::Add3(0, 1, 2), Op::Sub(1, 2), Op::Add3(1, 2, 3)],
    halved: &[false, true, true, false],
};

impl Scheme {
    /// Points per dimension `P`.
    pub(super) fn points(&self) -> usize {
        self.bt.len()
    }

    /// The exact power-of-two factor of point `pt` (`[pd][ph][pw]` flattened).
    pub(super) fn scale<T: Element>(&self, pt: usize) -> T {
        let p = self.points();
        let halvings = [pt / (p * p), (pt / p) % p, pt % p]
            .iter()
            .filter(|&&i| self.halved[i])
            .count();
        T::from_f64(0.5f64.powi(i32::try_from(halvings).unwrap_or(0)))
    }
}

/// Where a pass writes: output row `r` (of `rows_out`) of column segment `(c0, len, off)`
/// goes to `dst[r·p_stride + off..][..len]`, from the pass's columns `c0..c0 + len`.
#[derive(Clone, Copy)]
pub(super) struct Rows<'a> {
    pub(super) p_stride: usize,
    pub(super) segments: &'a [(usize, usize, usize)],
}

/// One pass: `ops` along the innermost dimension of `src` (`lines × width × len`); output row
/// `o` of line `l` is row `o·lines + l` of `dst`, placed as `rows` says.
#[inline(always)]
fn pass<T: Element>(
    src: &[T],
    width: usize,
    ops: &[Op],
    lines: usize,
    len: usize,
    dst: &mut [T],
    rows: Rows<'_>,
) {
    for line in 0..lines {
        let s = &src[line * width * len..(line + 1) * width * len];
        for (o, op) in ops.iter().enumerate() {
            let row = o * lines + line;
            for &(c0, n, off) in rows.segments {
                let start = row * rows.p_stride + off;
                let d = &mut dst[start..start + n];
                let at = |i: usize| &s[i * len + c0..i * len + c0 + n];
                match *op {
                    Op::Copy(a) => d.copy_from_slice(at(a)),
                    Op::Add(a, b) => {
                        let (x, y) = (at(a), at(b));
                        for c in 0..n {
                            d[c] = x[c] + y[c];
                        }
                    }
                    Op::Sub(a, b) => {
                        let (x, y) = (at(a), at(b));
                        for c in 0..n {
                            d[c] = x[c] - y[c];
                        }
                    }
                    Op::Add3(a, b, e) => {
                        let (x, y, z) = (at(a), at(b), at(e));
                        for c in 0..n {
                            d[c] = (x[c] + y[c]) + z[c];
                        }
                    }
                }
            }
        }
    }
}

/// Three passes of `ops` (`width` inputs per line) over a `width³` block of vectors of `len`:
/// `src` → `t1` → `t2` → `out` (placed as `rows` says).
#[inline(always)]
#[expect(
    clippy::too_many_arguments,
    reason = "three buffers, a shape and a placement"
)]
fn three<T: Element>(
    src: &[T],
    width: usize,
    ops: &[Op],
    len: usize,
    t1: &mut [T],
    t2: &mut [T],
    out: &mut [T],
    rows: Rows<'_>,
) {
    let p = ops.len();
    let plain = [(0, len, 0)];
    let dense = Rows {
        p_stride: len,
        segments: &plain,
    };
    // [d][h][w] -> [w'][d][h] -> [h'][w'][d] -> [d'][h'][w'].
    pass(src, width, ops, width * width, len, t1, dense);
    pass(t1, width, ops, p * width, len, t2, dense);
    pass(t2, width, ops, p * p, len, out, rows);
}

/// A forward transform of one tile along all three dimensions: `tile` holds `width³` vectors
/// of `len` channels (`[d][h][w]`), transformed by `ops` (the scheme's `Bᵀ` on an `E³` input
/// block, or its `G'` on a `2³` gradient block); point `p` of the result (`[pd][ph][pw]`
/// flattened) is written to `out` as `rows` says. `t1` and `t2` hold at least `P³·len` values
/// each.
pub(super) struct TileTransform<'a, T> {
    pub(super) width: usize,
    pub(super) ops: &'static [Op],
    pub(super) tile: &'a [T],
    pub(super) t1: &'a mut [T],
    pub(super) t2: &'a mut [T],
    pub(super) out: &'a mut [T],
    pub(super) rows: Rows<'a>,
    pub(super) len: usize,
}

impl<T: Element> Vectorized for TileTransform<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        three(
            self.tile, self.width, self.ops, self.len, self.t1, self.t2, self.out, self.rows,
        );
    }
}

/// The inverse transform: `m` holds `P³` vectors of `len` values (already scaled); the `K³`
/// filter taps (`[kd][kh][kw]`) are written to `out`.
pub(super) struct OutputTransform<'a, T> {
    pub(super) scheme: &'static Scheme,
    pub(super) m: &'a [T],
    pub(super) t1: &'a mut [T],
    pub(super) t2: &'a mut [T],
    pub(super) out: &'a mut [T],
    pub(super) len: usize,
}

impl<T: Element> Vectorized for OutputTransform<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let s = self.scheme;
        let (p, k, len) = (s.points(), s.taps, self.len);
        let plain = [(0, len, 0)];
        let dense = Rows {
            p_stride: len,
            segments: &plain,
        };
        pass(self.m, p, s.at, p * p, len, self.t1, dense);
        pass(self.t1, p, s.at, k * p, len, self.t2, dense);
        pass(self.t2, p, s.at, k * k, len, self.out, dense);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The 3-D correlation of an `E³` input tile with a `2³` gradient tile at stride `s`.
    fn direct(d: &[f64], g: &[f64], e: usize, k: usize, s: usize) -> Vec<f64> {
        let mut out = vec![0.0; k * k * k];
        for (t, o) in out.iter_mut().enumerate() {
            let (kd, kh, kw) = (t / (k * k), (t / k) % k, t % k);
            for (j, gv) in g.iter().enumerate() {
                let (jd, jh, jw) = (j / 4, (j / 2) % 2, j % 2);
                *o += d[((kd + s * jd) * e + kh + s * jh) * e + kw + s * jw] * gv;
            }
        }
        out
    }

    #[test]
    fn every_scheme_computes_the_tile_correlation_exactly_on_integers() {
        for scheme in [&S1_K3] {
            let (e, p, k, len) = (scheme.extent, scheme.points(), scheme.taps, 3);
            let mut seed = 7u64;
            let mut next = || {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                ((seed >> 33) % 9) as f64 - 4.0
            };
            let d: Vec<f64> = (0..e * e * e * len).map(|_| next()).collect();
            let g: Vec<f64> = (0..8 * len).map(|_| next()).collect();
            let n = p * p * p * len;
            let (mut t1, mut t2) = (vec![0.0; n], vec![0.0; n]);
            let plain = [(0, len, 0)];
            let rows = Rows {
                p_stride: len,
                segments: &plain,
            };
            let mut v = vec![0.0; n];
            TileTransform {
                width: e,
                ops: scheme.bt,
                tile: &d,
                t1: &mut t1,
                t2: &mut t2,
                out: &mut v,
                rows,
                len,
            }
            .run();
            let mut u = vec![0.0; n];
            TileTransform {
                width: 2,
                ops: scheme.g,
                tile: &g,
                t1: &mut t1,
                t2: &mut t2,
                out: &mut u,
                rows,
                len,
            }
            .run();
            let m: Vec<f64> = (0..n)
                .map(|i| v[i] * u[i] * scheme.scale::<f64>(i / len))
                .collect();
            let mut out = vec![0.0; k * k * k * len];
            OutputTransform {
                scheme,
                m: &m,
                t1: &mut t1,
                t2: &mut t2,
                out: &mut out,
                len,
            }
            .run();
            for c in 0..len {
                let dc: Vec<f64> = (0..e * e * e).map(|i| d[i * len + c]).collect();
                let gc: Vec<f64> = (0..8).map(|i| g[i * len + c]).collect();
                let want = direct(&dc, &gc, e, k, scheme.stride);
                let got: Vec<f64> = (0..k * k * k).map(|t| out[t * len + c]).collect();
                assert_eq!(got, want, "{scheme:?} channel {c}");
            }
        }
    }

    #[test]
    fn scale_halves_once_per_middle_index() {
        assert_eq!(S1_K3.scale::<f64>(0), 1.0);
        assert_eq!(S1_K3.scale::<f64>(1), 0.5);
        assert_eq!(S1_K3.scale::<f64>(16 + 4 + 2), 0.125);
        assert_eq!(S1_K3.scale::<f64>(63), 1.0);
        assert_eq!(S1_K3.scale::<f64>(3 * 16 + 2 * 4 + 3), 0.5);
    }
}
