//! The tile transforms of Winograd `F(2, R)` per dimension, `L` channels at a time: the input
//! transform `Bᵀ` and the output transform `Aᵀ` applied along W, H and D of one `P×P×P` tile
//! (`P = R + 1` points), and the filter transform `G` (applied once per call, in `f64`).
//!
//! Every coefficient of `Bᵀ`, `Aᵀ` and (scaled) `G` is an integer (0, ±1, 2), and the scale is
//! undone by a power of two at the end, so integer-valued data stays exact while partial sums
//! fit the significand.

use crate::Element;

/// Channels transformed together (one AVX-512 vector of `f32`, two of `f64`).
pub(super) const L: usize = 16;
/// Most transform points per tile (`4³`, for `R = 3`).
pub(super) const MAX_XI: usize = 64;

/// `L` channels of one row.
pub(super) type Chunk<T> = [T; L];

/// One `F(2, R)` algorithm: `y_j = Σ_{k<R} g_k·x_{j+k}` for `j = 0, 1` from `P = R + 1`
/// inputs, as `y = Aᵀ[(G g) ⊙ (Bᵀ x)]`.
pub(super) trait Transform {
    /// Filter taps per dimension.
    const R: usize;
    /// Transform points per dimension (`R + 1`).
    const P: usize;
    /// `G` scaled to integers (`P × R`, zero-padded to `4 × 3`).
    const G: [[f64; 3]; 4];
    /// The factor that undoes the scaling of `G` in one dimension (a power of two).
    const UNSCALE: f64;
    /// `Bᵀ` of one line of `P` chunks (the rest of the array is ignored and left as is).
    fn bt<T: Element>(x: [Chunk<T>; 4]) -> [Chunk<T>; 4];
    /// `Aᵀ` of one line of `P` chunks: the two outputs.
    fn at<T: Element>(m: [Chunk<T>; 4]) -> [Chunk<T>; 2];
}

/// `F(2, 2)`: two outputs of a 2-tap correlation from 3 inputs, 3 products instead of 4.
pub(super) struct F22;

/// `F(2, 3)`: two outputs of a 3-tap correlation from 4 inputs, 4 products instead of 6
/// (Lavin and Gray's transforms).
pub(super) struct F23;

impl Transform for F22 {
    const R: usize = 2;
    const P: usize = 3;
    const G: [[f64; 3]; 4] = [
        [1.0, 0.0, 0.0],
        [1.0, 1.0, 0.0],
        [0.0, 1.0, 0.0],
        [0.0, 0.0, 0.0],
    ];
    const UNSCALE: f64 = 1.0;
    #[inline(always)]
    fn bt<T: Element>([x0, x1, x2, x3]: [Chunk<T>; 4]) -> [Chunk<T>; 4] {
        [sub(&x0, &x1), x1, sub(&x2, &x1), x3]
    }
    #[inline(always)]
    fn at<T: Element>([m0, m1, m2, _]: [Chunk<T>; 4]) -> [Chunk<T>; 2] {
        [add(&m0, &m1), add(&m1, &m2)]
    }
}

impl Transform for F23 {
    const R: usize = 3;
    const P: usize = 4;
    /// Lavin's `G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]` times 2, so that transformed integer
    /// filters stay integers (and exact sums stay exact a factor 8 longer in 3-D).
    const G: [[f64; 3]; 4] = [
        [2.0, 0.0, 0.0],
        [1.0, 1.0, 1.0],
        [1.0, -1.0, 1.0],
        [0.0, 0.0, 2.0],
    ];
    const UNSCALE: f64 = 0.5;
    #[inline(always)]
    fn bt<T: Element>([x0, x1, x2, x3]: [Chunk<T>; 4]) -> [Chunk<T>; 4] {
        [sub(&x0, &x2), add(&x1, &x2), sub(&x2, &x1), sub(&x1, &x3)]
    }
    #[inline(always)]
    fn at<T: Element>([m0, m1, m2, m3]: [Chunk<T>; 4]) -> [Chunk<T>; 2] {
        [add(&add(&m0, &m1), &m2), sub(&sub(&m1, &m2), &m3)]
    }
}

/// The first `src.len() ≤ N` lanes of a chunk, zero past them.
#[inline(always)]
pub(crate) fn load<T: Element, const N: usize>(src: &[T]) -> [T; N] {
    if let Ok(full) = <&[T; N]>::try_from(src) {
        *full
    } else {
        let mut c = [T::ZERO; N];
        for (c, &v) in c.iter_mut().zip(src) {
            *c = v;
        }
        c
    }
}

/// Stores the first `dst.len() ≤ N` lanes of `c`.
#[inline(always)]
pub(crate) fn store<T: Element, const N: usize>(dst: &mut [T], c: &[T; N]) {
    if let Ok(full) = <&mut [T; N]>::try_from(&mut *dst) {
        *full = *c;
    } else {
        for (d, &v) in dst.iter_mut().zip(c) {
            *d = v;
        }
    }
}

/// `a + b`, lane by lane.
#[inline(always)]
pub(crate) fn add<T: Element, const N: usize>(a: &[T; N], b: &[T; N]) -> [T; N] {
    let mut r = *a;
    for (r, &b) in r.iter_mut().zip(b) {
        *r += b;
    }
    r
}

/// `a − b`, lane by lane.
#[inline(always)]
pub(crate) fn sub<T: Element, const N: usize>(a: &[T; N], b: &[T; N]) -> [T; N] {
    let mut r = *a;
    for (r, &b) in r.iter_mut().zip(b) {
        *r = *r - b;
    }
    r
}

/// Applies `Bᵀ` along the dimension of stride `s` (1: W, `P`: H, `P²`: D) to every line of
/// the tile `x` (`P³` chunks).
#[inline(always)]
fn input_pass<W: Transform, T: Element, const N: usize>(x: &mut [Chunk<T>; N], s: usize) {
    let p = W::P;
    for u in 0..p {
        for v in 0..p {
            // The line's first index: the two other digits are u and v, this one 0.
            let base = match s {
                1 => (u * p + v) * p,
                _ if s == p => u * p * p + v,
                _ => u * p + v,
            };
            let mut line = [[T::ZERO; L]; 4];
            for (k, l) in line.iter_mut().enumerate().take(p) {
                *l = x[base + k * s];
            }
            let line = W::bt(line);
            for (k, l) in line.iter().enumerate().take(p) {
                x[base + k * s] = *l;
            }
        }
    }
}

/// Channels `k0..k0 + w` of one input tile: `rows[ξ]` are its `P³` source rows, and point
/// `ξ` of the transformed tile goes to `v[dst[ξ] + k0..]` (nowhere where `dst[ξ]` is
/// `usize::MAX`).
#[inline(always)]
pub(super) fn input_chunk<W: Transform, T: Element>(
    rows: &[&[T]; MAX_XI],
    v: &mut [T],
    dst: &[usize; MAX_XI],
    k0: usize,
    w: usize,
) {
    // The tile array sized exactly (27 or 64 chunks), so no unused part is ever zeroed.
    if W::P == 3 {
        input_chunk_n::<W, T, 27>(rows, v, dst, k0, w);
    } else {
        input_chunk_n::<W, T, 64>(rows, v, dst, k0, w);
    }
}

/// [`input_chunk`] with `N = P³`.
#[inline(always)]
fn input_chunk_n<W: Transform, T: Element, const N: usize>(
    rows: &[&[T]; MAX_XI],
    v: &mut [T],
    dst: &[usize; MAX_XI],
    k0: usize,
    w: usize,
) {
    let xi = N;
    let mut x = [[T::ZERO; L]; N];
    for (x, row) in x.iter_mut().zip(rows).take(xi) {
        *x = load(&row[k0..k0 + w]);
    }
    input_pass::<W, T, N>(&mut x, 1);
    input_pass::<W, T, N>(&mut x, W::P);
    input_pass::<W, T, N>(&mut x, W::P * W::P);
    for (c, &d) in x.iter().zip(dst).take(xi) {
        if d != usize::MAX {
            let o = d + k0;
            store(&mut v[o..o + w], c);
        }
    }
}

/// Channels `k0..k0 + w` of the output transform of one tile: the `P³` products at
/// `prod[at + ξ·ld..]` become the 8 outputs `stage[j·c..]` (rows of `c` channels),
/// `j = (od·2 + oh)·2 + ow`.
#[inline(always)]
pub(super) fn output_chunk<W: Transform, T: Element>(
    prod: &[T],
    (at, ld): (usize, usize),
    (stage, c): (&mut [T], usize),
    k0: usize,
    w: usize,
) {
    if W::P == 3 {
        output_chunk_n::<W, T, 27>(prod, (at, ld), (stage, c), k0, w);
    } else {
        output_chunk_n::<W, T, 64>(prod, (at, ld), (stage, c), k0, w);
    }
}

/// [`output_chunk`] with `N = P³`.
#[inline(always)]
fn output_chunk_n<W: Transform, T: Element, const N: usize>(
    prod: &[T],
    (at, ld): (usize, usize),
    (stage, c): (&mut [T], usize),
    k0: usize,
    w: usize,
) {
    let p = W::P;
    let xi = N;
    let mut x = [[T::ZERO; L]; N];
    for (i, x) in x.iter_mut().enumerate().take(xi) {
        let o = at + i * ld + k0;
        *x = load(&prod[o..o + w]);
    }
    // Along W on every line, leaving the two outputs in places 0 and 1 of the line; along H
    // only on the lines with `ow < 2`, along D on those with `oh, ow < 2`.
    let pass = |x: &mut [Chunk<T>; N], base: usize, s: usize| {
        let mut line = [[T::ZERO; L]; 4];
        for (k, l) in line.iter_mut().enumerate().take(p) {
            *l = x[base + k * s];
        }
        let [y0, y1] = W::at(line);
        x[base] = y0;
        x[base + s] = y1;
    };
    for u in 0..p * p {
        pass(&mut x, u * p, 1);
    }
    for d in 0..p {
        for ow in 0..2 {
            pass(&mut x, d * p * p + ow, p);
        }
    }
    for oh in 0..2 {
        for ow in 0..2 {
            pass(&mut x, oh * p + ow, p * p);
        }
    }
    let unscale = W::UNSCALE * W::UNSCALE * W::UNSCALE;
    for od in 0..2 {
        for oh in 0..2 {
            for ow in 0..2 {
                let j = (od * 2 + oh) * 2 + ow;
                let o = j * c + k0;
                let mut y = x[(od * p + oh) * p + ow];
                if unscale != 1.0 {
                    let f = T::from_f64(unscale);
                    y.iter_mut().for_each(|v| *v = *v * f);
                }
                store(&mut stage[o..o + w], &y);
            }
        }
    }
}

/// The filter transform `U = G·g·Gᵀ` along all three dimensions: `taps` holds `R³` blocks of
/// `len` values (tap `(i, j, k)` at `((i·R + j)·R + k)·len`); returns `P³` blocks (point
/// `(a, b, c)` at `((a·P + b)·P + c)·len`), in `f64`.
pub(super) fn filter_transform<W: Transform>(taps: &[f64], len: usize) -> Vec<f64> {
    let (r, p) = (W::R, W::P);
    // One dimension at a time: [R][R][R] -> [P][R][R] -> [P][P][R] -> [P][P][P].
    let step = |src: &[f64], outer: usize, inner: usize| {
        // src: [outer][R][inner·len] -> [outer][P][inner·len]
        let blk = inner * len;
        let mut dst = vec![0.0; outer * p * blk];
        for o in 0..outer {
            for (a, g) in W::G.iter().enumerate().take(p) {
                let out = &mut dst[(o * p + a) * blk..][..blk];
                for (i, &coef) in g.iter().enumerate().take(r) {
                    if coef != 0.0 {
                        let s = &src[(o * r + i) * blk..][..blk];
                        for (d, &v) in out.iter_mut().zip(s) {
                            *d += coef * v;
                        }
                    }
                }
            }
        }
        dst
    };
    // Along D (outer 1, inner R·R), then H (outer P, inner R), then W (outer P·P, inner 1).
    let d = step(taps, 1, r * r);
    let h = step(&d, p, r);
    step(&h, p * p, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Aᵀ[(G g) ⊙ (Bᵀ x)]` in one dimension equals the 2 outputs of the `R`-tap correlation.
    fn one_dim<W: Transform>() {
        let x: Vec<f64> = (0..W::P).map(|i| [3.0, -1.5, 2.25, 7.0][i]).collect();
        let g = [0.5, -2.0, 1.25];
        let mut line = [[0.0f64; L]; 4];
        for (l, &v) in line.iter_mut().zip(&x) {
            *l = [v; L];
        }
        let v = W::bt(line);
        let mut m = [[0.0f64; L]; 4];
        for (a, row) in W::G.iter().enumerate().take(W::P) {
            let u: f64 = row.iter().zip(&g).take(W::R).map(|(c, g)| c * g).sum();
            m[a] = [u * v[a][0] * W::UNSCALE; L];
        }
        let y = W::at(m);
        for (j, y) in y.iter().enumerate() {
            let want: f64 = (0..W::R).map(|k| g[k] * x[j + k]).sum();
            assert!(
                (y[0] - want).abs() < 1e-12,
                "R={} y{j}: {} vs {want}",
                W::R,
                y[0]
            );
        }
    }

    #[test]
    fn transforms_compute_the_correlation() {
        one_dim::<F22>();
        one_dim::<F23>();
    }

    /// The separable filter transform equals the direct triple sum.
    #[test]
    fn filter_transform_is_separable() {
        let (r, p, len) = (F23::R, F23::P, 2);
        let taps: Vec<f64> = (0..r * r * r * len)
            .map(|i| (i as f64) * 0.37 - 5.0)
            .collect();
        let u = filter_transform::<F23>(&taps, len);
        for a in 0..p {
            for b in 0..p {
                for c in 0..p {
                    for e in 0..len {
                        let mut want = 0.0;
                        for i in 0..r {
                            for j in 0..r {
                                for k in 0..r {
                                    want += F23::G[a][i]
                                        * F23::G[b][j]
                                        * F23::G[c][k]
                                        * taps[((i * r + j) * r + k) * len + e];
                                }
                            }
                        }
                        let got = u[((a * p + b) * p + c) * len + e];
                        assert!((got - want).abs() < 1e-9, "{a}{b}{c}: {got} vs {want}");
                    }
                }
            }
        }
    }
}
