//! The Winograd kernel of the filter gradient: 64 multiplies per `2×2×2` tile of output
//! positions and channel pair where the direct method needs `27·8 = 216` for `3×3×3` filters
//! at stride 1 (F(3, 2) per dimension, 3.375× fewer). The scheme and its matrices are in
//! [`super::winograd_transform`] (the [`Scheme`] description leaves room for others, e.g.
//! stride 2); production uses it where it measures faster ([`worth_it`]).
//!
//! The output positions are cut into tiles of `2×2×2` (zero `out_backprop` past the end);
//! tile `t` reads the `E×E×E` input block `d_t` (`E` = stride + filter size) at its corner ×
//! stride minus the padding (zero outside the input) and its `2×2×2` gradient block `g_t`.
//! Per dimension the filter taps of one tile are `A'ᵀ[(G'g) ⊙ (Bᵀd)]`, so with
//! `V_t = (Bᵀ)^{⊗3} d_t` (`P³` points × `IC`) and `U_t = (G')^{⊗3} g_t` (`P³` points × `OC`):
//!
//! ```text
//! M[p][ic][oc] = Σ_t V_t[p][ic] · U_t[p][oc]          (one GEMM per point p, over tiles)
//! df[k][ic][oc] = (A'ᵀ)^{⊗3} (s_p · M[p][ic][oc])      (s_p: the halvings of G, exact)
//! ```
//!
//! Tiles are taken in fixed batches of [`BATCH`]: each batch's tiles are transformed into
//! `V` (`[p][t][IC]`) and `U` (`[p][oc block][t][NV·L]`), then for every point the crate's
//! microkernels sum the batch's tiles (one tile = one tap of length 1, rows `IC`, columns `OC`)
//! in registers and add the sum into `M`. Batches are grouped into a fixed number of *spans*
//! (it depends only on the problem), each with its own `M`; the spans' `M` are added in span
//! order, scaled and transformed back once. So the summation order, and the result, do not
//! depend on the thread count.
//!
//! # Rounding error
//! With `u` the unit roundoff (`2⁻²⁴` for float32) and `γ_n = n·u/(1 − n·u)`, every element
//! obeys (barring underflow and overflow)
//!
//! ```text
//! |df − df_exact| ≤ γ_{n} · 8 · Σ_t ‖d_t[·, ic]‖₁ · ‖g_t[·, oc]‖₁,   n = 13 + T,
//! ```
//!
//! `T` the number of tiles (`Σ_t` over all tiles, `‖·‖₁` over a tile's `E³` inputs / 8
//! gradients). Derivation: `Bᵀ` and `G'` have at most two `±1` per row, so each transformed
//! value is a sum of its block's entries with `±1` coefficients after three roundings
//! (one per dimension), and `|Bᵀ|` rows of the absolute values bound it; the product adds one
//! rounding; the sum over tiles at most `T` (register sums inside a batch, then batches, then
//! spans: a summation tree with `T` leaves is at most `T − 1` deep); `s_p` is exact; `A'ᵀ`
//! adds at most two per dimension, six in all. Hence `n = 3 + 3 + 1 + T + 6`. The absolute sums multiply out per dimension to
//! `Σ_p |A'ᵀ[k, p]| (|G'| |g|)_p (|Bᵀ| |d|)_p ≤ 2 ‖g‖₁ ‖d‖₁` for each tap `k` (checked
//! entry by entry: no product `|g_j||d_i|` appears with a coefficient above 2), so `2³ = 8`
//! in three dimensions. On small-integer data every step is exact (the sums stay below
//! `2²⁴`), so such results equal the direct method's.
//!
//! # Non-finite values
//! `Inf − Inf` inside a transform turns into NaN where the direct method (which also skips taps
//! outside the input) may give a finite or infinite value; any non-finite value in `input` or
//! `out_backprop` reaches some output as non-finite, as does an overflow. So a result with a
//! non-finite element is thrown away and the direct kernel runs instead.

use ndarray::{Array5, ArrayView5};
use std::ops::Range;
use std::sync::Mutex;

use super::fast::{AddInto, balanced, contiguous};
use super::params::Conv3dBackpropFilterParams;
use super::winograd_transform::{OutputTransform, Rows, S1_K3, Scheme, TileTransform};
use crate::simd::{Isa, SimdElement, Taps, Tile, as_out, with_isa};
use crate::tiling::signed;
use crate::tiling::{ChannelBlock, split_blocks};
use crate::{Element, KernelContext, KernelError};

/// Tiles per batch. Fixed (never derived from the thread count), since it fixes the
/// summation order.
pub(super) const BATCH: usize = 64;
/// Fewest batches in a span.
const SPAN_BATCHES: usize = 4;
/// Budget for the partial `M` of all spans together.
const PARTIAL_BYTES: usize = 8 << 20;
/// Fewest input and output channels for which the Winograd kernel beats the direct one.
const MIN_CHANNELS: usize = 16;
/// Fewest tiles for which it is used (below, the direct kernel's setup is cheaper).
const MIN_TILES: usize = 4 * BATCH;

/// The Winograd scheme for `p`, if it has one: a `3×3×3` filter at stride 1, no dilation.
pub(super) fn scheme(p: &Conv3dBackpropFilterParams) -> Option<&'static Scheme> {
    let [k, _, _] = p.kernel;
    let [st, _, _] = p.strides;
    if p.kernel != [k; 3] || p.strides != [st; 3] || p.dilations != [1; 3] {
        return None;
    }
    match (k, st) {
        (3, 1) => Some(&S1_K3),
        _ => None,
    }
}

/// The scheme to use for `p`: it has one, with channel and tile counts where it measures
/// faster than the direct kernel.
pub(super) fn worth_it(p: &Conv3dBackpropFilterParams) -> Option<&'static Scheme> {
    scheme(p).filter(|_| {
        p.ic >= MIN_CHANNELS
            && p.oc >= MIN_CHANNELS
            && tiles(p).iter().fold(p.n, |acc, &t| acc.saturating_mul(t)) >= MIN_TILES
    })
}

/// Tiles along D, H, W.
fn tiles(p: &Conv3dBackpropFilterParams) -> [usize; 3] {
    p.out_spatial.map(|o| o.div_ceil(2))
}

/// Everything a span needs, shared read-only by all threads.
struct Plan<'a, T> {
    scheme: &'static Scheme,
    /// Transform points (`P³`).
    points: usize,
    isa: Isa,
    p: &'a Conv3dBackpropFilterParams,
    lanes: usize,
    /// `input`, NDHWC, contiguous.
    x: &'a [T],
    /// `out_backprop`, NDHWC, contiguous.
    dy: &'a [T],
    /// Blocks of output channels (tile columns) with the offset of each one's columns in a
    /// padded row of `ocp` values.
    blocks: Vec<(ChannelBlock, usize)>,
    /// Output channels padded to whole vectors per block.
    ocp: usize,
}

/// Per-span buffers.
struct Scratch<T> {
    /// Transformed inputs of one batch, `[p][t][IC]`.
    v: Vec<T>,
    /// Transformed gradients of one batch, `[p][block][t][NV·L]`.
    u: Vec<T>,
    /// One tile's input block, then its transform.
    xt: Vec<T>,
    /// One tile's gradient block.
    gt: Vec<T>,
    /// Transform scratch.
    t1: Vec<T>,
    t2: Vec<T>,
    /// One microkernel tile's output.
    out: Vec<T>,
    /// Per block: the taps of a full batch.
    taps: Vec<Vec<(usize, usize)>>,
    /// Per block: where a tile's transformed gradient goes (see [`Rows`]).
    segments: Vec<(usize, usize, usize)>,
}

impl<T: Element + SimdElement> Plan<'_, T> {
    /// Tile `t`'s batch index and corner in output positions.
    fn corner(&self, t: usize) -> (usize, [usize; 3]) {
        let [td, th, tw] = tiles(self.p);
        let c = t % tw;
        let b = (t / tw) % th;
        let a = (t / (tw * th)) % td;
        (t / (tw * th * td), [2 * a, 2 * b, 2 * c])
    }

    /// Tile `t`'s `E³` input block, `[d][h][w][IC]`, zero outside the input.
    fn gather_x(&self, t: usize, out: &mut [T]) {
        let p = self.p;
        let (ic, e, st) = (p.ic, self.scheme.extent, self.scheme.stride);
        let (n, o) = self.corner(t);
        let [d_, h_, w_] = p.input_spatial;
        let start = |i: usize| signed(o[i] * st) - signed(p.pad_before[i]);
        let (d0, h0, w0) = (start(0), start(1), start(2));
        let inside = |v: isize, len: usize| usize::try_from(v).ok().filter(|&v| v < len);
        for i in 0..e {
            for j in 0..e {
                let row = &mut out[(i * e + j) * e * ic..(i * e + j + 1) * e * ic];
                let (Some(d), Some(h)) = (inside(d0 + signed(i), d_), inside(h0 + signed(j), h_))
                else {
                    row.fill(T::ZERO);
                    continue;
                };
                let base = ((n * d_ + d) * h_ + h) * w_;
                if let Some(w) = inside(w0, w_).filter(|&w| w + e <= w_) {
                    row.copy_from_slice(&self.x[(base + w) * ic..(base + w + e) * ic]);
                    continue;
                }
                for (k, v) in row.chunks_exact_mut(ic).enumerate() {
                    match inside(w0 + signed(k), w_) {
                        Some(w) => v.copy_from_slice(&self.x[(base + w) * ic..(base + w + 1) * ic]),
                        None => v.fill(T::ZERO),
                    }
                }
            }
        }
    }

    /// Tile `t`'s `2×2×2` gradient block, `[d][h][w][OC]`, zero past the end.
    fn gather_dy(&self, t: usize, out: &mut [T]) {
        let p = self.p;
        let oc = p.oc;
        let (n, o) = self.corner(t);
        let [od_, oh_, ow_] = p.out_spatial;
        for i in 0..2 {
            for j in 0..2 {
                let row = &mut out[(i * 2 + j) * 2 * oc..(i * 2 + j + 1) * 2 * oc];
                let (d, h) = (o[0] + i, o[1] + j);
                if d >= od_ || h >= oh_ {
                    row.fill(T::ZERO);
                    continue;
                }
                let base = ((n * od_ + d) * oh_ + h) * ow_ + o[2];
                let have = (ow_ - o[2]).min(2);
                row[..have * oc].copy_from_slice(&self.dy[base * oc..(base + have) * oc]);
                row[have * oc..].fill(T::ZERO);
            }
        }
    }

    /// Transforms tile `t` into slot `j` of the batch buffers.
    fn transform(&self, t: usize, j: usize, s: &mut Scratch<T>) {
        let (ic, oc, ocp) = (self.p.ic, self.p.oc, self.ocp);
        self.gather_x(t, &mut s.xt);
        with_isa(
            self.isa,
            TileTransform {
                width: self.scheme.extent,
                ops: self.scheme.bt,
                tile: &s.xt,
                t1: &mut s.t1,
                t2: &mut s.t2,
                out: &mut s.v,
                rows: Rows {
                    p_stride: BATCH * ic,
                    segments: &[(0, ic, j * ic)],
                },
                len: ic,
            },
        );
        self.gather_dy(t, &mut s.gt);
        s.segments.clear();
        s.segments.extend(
            self.blocks
                .iter()
                .map(|&(b, off)| (b.c0, b.len, BATCH * off + j * b.nv * self.lanes)),
        );
        with_isa(
            self.isa,
            TileTransform {
                width: 2,
                ops: self.scheme.g,
                tile: &s.gt,
                t1: &mut s.t1,
                t2: &mut s.t2,
                out: &mut s.u,
                rows: Rows {
                    p_stride: BATCH * ocp,
                    segments: &s.segments,
                },
                len: oc,
            },
        );
    }

    /// Sums the tiles `range` into a fresh `M` (`[p][block][IC][NV·L]`).
    /// Fresh per-span buffers.
    fn scratch(&self) -> Scratch<T> {
        let (ic, oc, ocp, lanes, isa) = (self.p.ic, self.p.oc, self.ocp, self.lanes, self.isa);
        let max_w = self
            .blocks
            .iter()
            .map(|(b, _)| b.nv * lanes)
            .max()
            .unwrap_or(0);
        let points = self.points;
        Scratch {
            v: vec![T::ZERO; points * BATCH * ic],
            u: vec![T::ZERO; points * BATCH * ocp],
            xt: vec![T::ZERO; points * ic],
            gt: vec![T::ZERO; 8 * oc],
            t1: vec![T::ZERO; points * ic.max(oc)],
            t2: vec![T::ZERO; points * ic.max(oc)],
            out: vec![T::ZERO; isa.mr_max(1) * max_w],
            taps: self
                .blocks
                .iter()
                .map(|(b, _)| (0..BATCH).map(|t| (t * ic, t * b.nv * lanes)).collect())
                .collect(),
            segments: Vec::new(),
        }
    }

    /// Sums the tiles `range` into a fresh `M` (`[p][block][IC][NV·L]`), with buffers from
    /// `pool` (returned there afterwards: every value a batch reads was written for it).
    fn span(
        &self,
        range: Range<usize>,
        pool: &Mutex<Vec<Scratch<T>>>,
        ctx: &KernelContext,
        tick: &dyn Fn(),
    ) -> Result<Vec<T>, KernelError> {
        let (ic, ocp, lanes, isa) = (self.p.ic, self.ocp, self.lanes, self.isa);
        let points = self.points;
        let mut m = vec![T::ZERO; points * ic * ocp];
        let pooled = pool.lock().ok().and_then(|mut p| p.pop());
        let mut s = pooled.unwrap_or_else(|| self.scratch());
        let mut t0 = range.start;
        while t0 < range.end {
            ctx.check_cancelled()?;
            let nt = BATCH.min(range.end - t0);
            for j in 0..nt {
                self.transform(t0 + j, j, &mut s);
            }
            for pt in 0..points {
                let a = &s.v[pt * BATCH * ic..(pt + 1) * BATCH * ic];
                for (&(blk, off), taps) in self.blocks.iter().zip(&s.taps) {
                    let width = blk.nv * lanes;
                    let last = blk.last(lanes);
                    let b0 = pt * BATCH * ocp + BATCH * off;
                    let b = &s.u[b0..b0 + BATCH * width];
                    let taps = Taps::new(&taps[..nt]);
                    let m0 = pt * ic * ocp + ic * off;
                    let mut r0 = 0;
                    for rows in balanced(ic, ic.div_ceil(isa.mr_max(blk.nv))) {
                        let mr = rows.len();
                        T::tile(
                            isa,
                            mr,
                            blk.nv,
                            Tile {
                                a: &a[r0..],
                                lda: 1,
                                taps,
                                k: 1,
                                b,
                                out: as_out(&mut s.out),
                                ldo: width,
                                last,
                                stream: false,
                            },
                        );
                        let dst = &mut m[m0 + r0 * width..m0 + (r0 + mr) * width];
                        let src = &s.out[..mr * width];
                        with_isa(isa, AddInto { dst, src });
                        r0 += mr;
                    }
                }
            }
            tick();
            t0 += nt;
        }
        if let Ok(mut p) = pool.lock() {
            p.push(s);
        }
        Ok(m)
    }
}

/// Computes `[K, K, K, IC, OC]` by Winograd (`scheme`) on the microkernels of `isa`, or `None` when the
/// result has a non-finite element (then the direct kernel must run). `scheme` must be `p`'s
/// [`scheme`].
pub(super) fn compute_on<T: Element>(
    scheme: &'static Scheme,
    isa: Isa,
    p: &Conv3dBackpropFilterParams,
    x: ArrayView5<'_, T>,
    dy: ArrayView5<'_, T>,
    ctx: &KernelContext,
) -> Result<Option<Array5<T>>, KernelError> {
    use rayon::prelude::*;

    let pts = scheme.points();
    let points = pts * pts * pts;
    let taps = scheme.taps * scheme.taps * scheme.taps;
    let (ic, oc) = (p.ic, p.oc);
    let size = std::mem::size_of::<T>();
    let lanes = isa.lanes(size);
    let (x, _x_copy) = contiguous(x, "the NDHWC copy of input", ctx)?;
    let xs = x.as_slice().ok_or(KernelError::Overflow {
        what: "input layout",
    })?;
    let (dy, _dy_copy) = contiguous(dy, "the NDHWC copy of out_backprop", ctx)?;
    let dys = dy.as_slice().ok_or(KernelError::Overflow {
        what: "out_backprop layout",
    })?;
    let mut blocks = Vec::new();
    let mut ocp = 0;
    for b in split_blocks(oc, lanes, isa.nv_max(), 0) {
        blocks.push((b, ocp));
        ocp += b.nv * lanes;
    }
    let plan = Plan {
        scheme,
        points,
        isa,
        p,
        lanes,
        x: xs,
        dy: dys,
        blocks,
        ocp,
    };
    let total = p.n * tiles(p).iter().product::<usize>();
    let batches = total.div_ceil(BATCH);
    let m_len = points * ic * ocp;
    let max_spans = (PARTIAL_BYTES / (m_len * size).max(1)).max(1);
    let spans = batches.div_ceil(SPAN_BATCHES).clamp(1, max_spans);
    let _partials = ctx.reserve(
        "the Winograd partial sums",
        (m_len as u64).saturating_mul(spans as u64),
        size as u64,
    )?;
    let _tiles = ctx.reserve(
        "the Winograd tile buffers",
        (points * BATCH * (ic + ocp)) as u64,
        size as u64,
    )?;
    // Spans: balanced runs of whole batches, fixed by the problem.
    let ranges: Vec<Range<usize>> = balanced(batches, spans)
        .map(|r| r.start * BATCH..(r.end * BATCH).min(total))
        .collect();
    let counter = ctx.work_counter(batches);
    let tick = || counter.tick();
    let pool = Mutex::new(Vec::new());
    let run = |r: &Range<usize>| plan.span(r.clone(), &pool, ctx, &tick);
    let parallel = rayon::current_num_threads() > 1 && ranges.len() > 1;
    let parts: Vec<Vec<T>> = if parallel {
        ranges
            .par_iter()
            .with_max_len(1)
            .map(run)
            .collect::<Result<_, _>>()?
    } else {
        ranges.iter().map(run).collect::<Result<_, _>>()?
    };
    let mut parts = parts.into_iter();
    let mut m = parts.next().unwrap_or_else(|| vec![T::ZERO; m_len]);
    for part in parts {
        with_isa(
            isa,
            AddInto {
                dst: &mut m,
                src: &part,
            },
        );
    }
    // Scale each point by its halvings, then transform back per (block, ic).
    for (pt, mp) in m.chunks_exact_mut(ic * ocp).enumerate() {
        let s = scheme.scale::<T>(pt);
        for v in mp {
            *v = *v * s;
        }
    }
    let mut df = vec![T::ZERO; taps * ic * oc];
    let max_w = plan
        .blocks
        .iter()
        .map(|(b, _)| b.nv * lanes)
        .max()
        .unwrap_or(0);
    let mut mt = vec![T::ZERO; points * max_w];
    let mut t1 = vec![T::ZERO; points * max_w];
    let mut t2 = vec![T::ZERO; points * max_w];
    let mut out = vec![T::ZERO; taps * max_w];
    for &(blk, off) in &plan.blocks {
        let width = blk.nv * lanes;
        for i in 0..ic {
            for pt in 0..points {
                let o = pt * ic * ocp + ic * off + i * width;
                mt[pt * width..(pt + 1) * width].copy_from_slice(&m[o..o + width]);
            }
            with_isa(
                isa,
                OutputTransform {
                    scheme,
                    m: &mt,
                    t1: &mut t1,
                    t2: &mut t2,
                    out: &mut out,
                    len: width,
                },
            );
            for k in 0..taps {
                let o = (k * ic + i) * oc + blk.c0;
                df[o..o + blk.len].copy_from_slice(&out[k * width..k * width + blk.len]);
            }
        }
    }
    if df.iter().any(|&v| !v.to_f64().is_finite()) {
        return Ok(None);
    }
    let k = scheme.taps;
    Array5::from_shape_vec((k, k, k, ic, oc), df)
        .map(Some)
        .map_err(|_| KernelError::Overflow {
            what: "the output shape",
        })
}
