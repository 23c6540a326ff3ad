//! The transforms of one `3×3×3` tile (`F(2, 2)` per dimension, 3 points), `N` channels at a
//! time (64 bytes: 16 `f32` or 8 `f64`; one AVX-512 vector, two AVX2 ones): the input
//! transform `Bᵀ` and the output transform `Aᵀ` applied along W, H and D in straight-line code
//! (the 27 chunks stay in registers).

use super::XI;
use crate::Element;
use crate::correlation::{add, load, store, sub};

/// `N` channels of one row.
type Chunk<T, const N: usize> = [T; N];

/// Runs `$body` with `$i` bound to each of the 27 tile indices (straight-line code, so the
/// 27 chunks stay in registers).
macro_rules! each27 {
    ($i:ident => $body:block) => {
        each27!(@ $i $body; 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26)
    };
    (@ $i:ident $body:block; $($n:literal)*) => {
        $({
            let $i: usize = $n;
            $body
        })*
    };
}

/// Applies `$f` to the 9 triples `(x[b], x[b + s], x[b + 2s])` along the dimension of stride `$s`
/// (1: W, 3: H, 9: D) of a `3×3×3` tile, or to the triples starting at the listed `b` only.
macro_rules! along {
    ($x:ident, $f:ident, 1) => { along!(@ $x, $f, 1; 0 3 6 9 12 15 18 21 24) };
    ($x:ident, $f:ident, 3) => { along!(@ $x, $f, 3; 0 1 2 9 10 11 18 19 20) };
    ($x:ident, $f:ident, 9) => { along!(@ $x, $f, 9; 0 1 2 3 4 5 6 7 8) };
    ($x:ident, $f:ident, $s:literal, [$($b:literal)*]) => { along!(@ $x, $f, $s; $($b)*) };
    (@ $x:ident, $f:ident, $s:literal; $($b:literal)*) => {
        $({
            let [x0, x1, x2] = [$x[$b], $x[$b + $s], $x[$b + 2 * $s]];
            let [y0, y1, y2] = $f(x0, x1, x2);
            $x[$b] = y0;
            $x[$b + $s] = y1;
            $x[$b + 2 * $s] = y2;
        })*
    };
}

/// The input transform `Bᵀ = [[1, −1, 0], [0, 1, 0], [0, −1, 1]]` of one triple.
#[inline(always)]
fn bt3<T: Element, const N: usize>(
    x0: Chunk<T, N>,
    x1: Chunk<T, N>,
    x2: Chunk<T, N>,
) -> [Chunk<T, N>; 3] {
    [sub(&x0, &x1), x1, sub(&x2, &x1)]
}

/// The output transform of a dimension where the phase has only tap `k_b` (point 0's
/// product is zero): `[m1, m1 + m2]` (third place unused).
#[inline(always)]
fn at2<T: Element, const N: usize>(
    m0: Chunk<T, N>,
    m1: Chunk<T, N>,
    m2: Chunk<T, N>,
) -> [Chunk<T, N>; 3] {
    let _ = m0;
    [m1, add(&m1, &m2), m2]
}

/// The output transform `Aᵀ = [[1, 1, 0], [0, 1, 1]]` of one triple (third place unused).
#[inline(always)]
fn at3<T: Element, const N: usize>(
    m0: Chunk<T, N>,
    m1: Chunk<T, N>,
    m2: Chunk<T, N>,
) -> [Chunk<T, N>; 3] {
    [add(&m0, &m1), add(&m1, &m2), m2]
}

/// Channels `k0..k0 + w` of one input tile: `rows` are its `out_backprop` rows (`M` values
/// each), and transform point `ξ` goes to `v[at + ξ·M + k0..]`.
#[inline(always)]
fn input_chunk<T: Element, const N: usize>(
    rows: &[&[T]; XI],
    v: &mut [T],
    at: usize,
    k0: usize,
    w: usize,
) {
    let m = rows[0].len();
    let mut x = [[T::ZERO; N]; XI];
    each27!(i => {
        x[i] = load(&rows[i][k0..k0 + w]);
    });
    along!(x, bt3, 1);
    along!(x, bt3, 3);
    along!(x, bt3, 9);
    each27!(i => {
        let o = at + i * m + k0;
        store(&mut v[o..o + w], &x[i]);
    });
}

/// Channels `k0..k0 + w` of the output transform of one tile of a phase with two taps along
/// D, H, W where `D2`, `H2`, `W2` (else only `k_b`, whose point 0 has no product): the
/// products at `prod[at + ξ·c..]` become the 8 outputs, output `j = (od·2 + oh)·2 + ow` going
/// to `out[dst[j]..]`.
#[inline(always)]
fn output_chunk<T: Element, const N: usize, const D2: bool, const H2: bool, const W2: bool>(
    (prod, at, c): (&[T], usize, usize),
    out: &mut [T],
    dst: &[usize; 8],
    k0: usize,
    w: usize,
) {
    let mut x = [[T::ZERO; N]; XI];
    each27!(i => {
        // Point 0 along a dimension with one tap has no product.
        let (pd, ph, pw) = (i / 9, (i / 3) % 3, i % 3);
        if (pd > 0 || D2) && (ph > 0 || H2) && (pw > 0 || W2) {
            let o = at + i * c + k0;
            x[i] = load(&prod[o..o + w]);
        }
    });
    let at_w = if W2 { at3::<T, N> } else { at2::<T, N> };
    let at_h = if H2 { at3::<T, N> } else { at2::<T, N> };
    let at_d = if D2 { at3::<T, N> } else { at2::<T, N> };
    // Along W every triple; along H only those with `ow < 2`, along D with `oh, ow < 2`.
    along!(x, at_w, 1);
    along!(x, at_h, 3, [0 1 9 10 18 19]);
    along!(x, at_d, 9, [0 1 3 4]);
    for (j, i) in [0, 1, 3, 4, 9, 10, 12, 13].into_iter().enumerate() {
        let o = dst[j] + k0;
        store(&mut out[o..o + w], &x[i]);
    }
}

/// [`input_chunk`] over all `M` channels of the tile: whole chunks of `N` (fixed-size loads
/// and stores), then the tail.
#[inline(always)]
pub(super) fn input_chunks<T: Element, const N: usize>(rows: &[&[T]; XI], v: &mut [T], at: usize) {
    let m = rows[0].len();
    let full = m / N * N;
    let mut k0 = 0;
    while k0 < full {
        input_chunk::<T, N>(rows, v, at, k0, N);
        k0 += N;
    }
    if full < m {
        input_chunk::<T, N>(rows, v, at, full, m - full);
    }
}

/// [`output_chunk`] over all `c` channels of the tile, as [`input_chunks`].
#[inline(always)]
fn output_chunks_of<T: Element, const N: usize, const D2: bool, const H2: bool, const W2: bool>(
    (prod, at, c): (&[T], usize, usize),
    out: &mut [T],
    dst: &[usize; 8],
) {
    let full = c / N * N;
    let mut k0 = 0;
    while k0 < full {
        output_chunk::<T, N, D2, H2, W2>((prod, at, c), out, dst, k0, N);
        k0 += N;
    }
    if full < c {
        output_chunk::<T, N, D2, H2, W2>((prod, at, c), out, dst, full, c - full);
    }
}

/// [`output_chunks_of`] for a phase with two taps along the dimensions where `two` says so.
#[inline(always)]
pub(super) fn output_chunks<T: Element, const N: usize>(
    two: [bool; 3],
    tile: (&[T], usize, usize),
    out: &mut [T],
    dst: &[usize; 8],
) {
    match two {
        [true, true, true] => output_chunks_of::<T, N, true, true, true>(tile, out, dst),
        [true, true, false] => output_chunks_of::<T, N, true, true, false>(tile, out, dst),
        [true, false, true] => output_chunks_of::<T, N, true, false, true>(tile, out, dst),
        [true, false, false] => output_chunks_of::<T, N, true, false, false>(tile, out, dst),
        [false, true, true] => output_chunks_of::<T, N, false, true, true>(tile, out, dst),
        [false, true, false] => output_chunks_of::<T, N, false, true, false>(tile, out, dst),
        [false, false, true] => output_chunks_of::<T, N, false, false, true>(tile, out, dst),
        [false, false, false] => output_chunks_of::<T, N, false, false, false>(tile, out, dst),
    }
}
