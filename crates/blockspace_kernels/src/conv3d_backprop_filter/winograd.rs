//! Winograd F(3, 2) per dimension for `3×3×3` filters at stride 1 without dilation: 64
//! multiplies per `2×2×2` tile of output positions and channel pair where the direct method
//! needs `27·8 = 216` (3.375× fewer).
//!
//! The output positions are cut into tiles of `2×2×2` (zero `out_backprop` past the end);
//! tile `t` reads the `4×4×4` input block `d_t` at its corner minus the padding (zero outside
//! the input) and its `2×2×2` gradient block `g_t`. Per dimension the three filter taps of one
//! tile are `(A'ᵀ[(G'g) ⊙ (Bᵀd)])` (the matrices in [`super::winograd_transform`]), so with
//! `V_t = (Bᵀ)^{⊗3} d_t` (64 points × `IC`) and `U_t = (G')^{⊗3} g_t` (64 points × `OC`):
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
//! `T` the number of tiles (`Σ_t` over all tiles, `‖·‖₁` over a tile's 64 inputs / 8
//! gradients). Derivation: `Bᵀ` and `G'` have at most two `±1` per row, so each transformed
//! value is a sum of its block's entries with `±1` coefficients after three roundings
//! (one per dimension), and `|Bᵀ|` rows of the absolute values bound it; the product adds one
//! rounding; the sum over tiles at most `T` (register sums inside a batch, then batches, then
//! spans, each a subset of one running order); `s_p` is exact; `A'ᵀ` adds two per dimension,
//! six in all. Hence `n = 3 + 3 + 1 + T + 6`. The absolute sums multiply out per dimension to
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

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};

use ndarray::{Array5, ArrayView5};

use super::fast::{AddInto, balanced, contiguous};
use super::params::Conv3dBackpropFilterParams;
use super::winograd_transform::{GradTransform, InputTransform, OutputTransform, Rows, scale};
use crate::simd::{Isa, SimdElement, Taps, Tile, with_isa};
use crate::tiling::{ChannelBlock, split_blocks};
use crate::{Element, KernelContext, KernelError};

/// Tiles per batch. Fixed (never derived from the thread count), since it fixes the
/// summation order.
pub(super) const BATCH: usize = 64;
/// Transform points (`4³`).
const POINTS: usize = 64;
/// Fewest batches in a span.
const SPAN_BATCHES: usize = 4;
/// Budget for the partial `M` of all spans together.
const PARTIAL_BYTES: usize = 16 << 20;
/// Fewest input and output channels for which the Winograd kernel beats the direct one.
const MIN_CHANNELS: usize = 16;
/// Fewest tiles for which it is used (below, the direct kernel's setup is cheaper).
const MIN_TILES: usize = 4 * BATCH;

/// Whether the problem has the shape the Winograd kernel computes: `3×3×3` filter, stride 1,
/// no dilation.
pub(super) fn fits(p: &Conv3dBackpropFilterParams) -> bool {
    p.kernel == [3, 3, 3] && p.strides == [1, 1, 1] && p.dilations == [1, 1, 1]
}

/// Whether the Winograd kernel is used for `p` (it [`fits`] and measures faster).
pub(super) fn worth_it(p: &Conv3dBackpropFilterParams) -> bool {
    fits(p)
        && p.ic >= MIN_CHANNELS
        && p.oc >= MIN_CHANNELS
        && tiles(p).iter().product::<usize>() * p.n >= MIN_TILES
}

/// Tiles along D, H, W.
fn tiles(p: &Conv3dBackpropFilterParams) -> [usize; 3] {
    p.out_spatial.map(|o| o.div_ceil(2))
}

/// Everything a span needs, shared read-only by all threads.
struct Plan<'a, T> {
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
    tmp: Vec<T>,
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

    /// Tile `t`'s `4×4×4` input block, `[d][h][w][IC]`, zero outside the input.
    fn gather_x(&self, t: usize, out: &mut [T]) {
        let p = self.p;
        let ic = p.ic;
        let (n, o) = self.corner(t);
        let [d_, h_, w_] = p.input_spatial;
        let start = |i: usize| -> isize {
            crate::tiling::signed(o[i]) - crate::tiling::signed(p.pad_before[i])
        };
        let (d0, h0, w0) = (start(0), start(1), start(2));
        let inside = |v: isize, len: usize| usize::try_from(v).ok().filter(|&v| v < len);
        for i in 0..4 {
            for j in 0..4 {
                let row = &mut out[(i * 4 + j) * 4 * ic..(i * 4 + j + 1) * 4 * ic];
                let (Some(d), Some(h)) = (
                    inside(d0 + crate::tiling::signed(i), d_),
                    inside(h0 + crate::tiling::signed(j), h_),
                ) else {
                    row.fill(T::ZERO);
                    continue;
                };
                let base = ((n * d_ + d) * h_ + h) * w_;
                if let Some(w) = inside(w0, w_).filter(|&w| w + 4 <= w_) {
                    row.copy_from_slice(&self.x[(base + w) * ic..(base + w + 4) * ic]);
                    continue;
                }
                for (k, v) in row.chunks_exact_mut(ic).enumerate() {
                    match inside(w0 + crate::tiling::signed(k), w_) {
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
            InputTransform {
                tile: &mut s.xt,
                tmp: &mut s.tmp,
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
            GradTransform {
                tile: &s.gt,
                tmp: &mut s.tmp,
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
    fn span(
        &self,
        range: Range<usize>,
        ctx: &KernelContext,
        tick: &dyn Fn(),
    ) -> Result<Vec<T>, KernelError> {
        let (ic, oc, ocp, lanes, isa) = (self.p.ic, self.p.oc, self.ocp, self.lanes, self.isa);
        let max_w = self
            .blocks
            .iter()
            .map(|(b, _)| b.nv * lanes)
            .max()
            .unwrap_or(0);
        let mut m = vec![T::ZERO; POINTS * ic * ocp];
        let mut s = Scratch {
            v: vec![T::ZERO; POINTS * BATCH * ic],
            u: vec![T::ZERO; POINTS * BATCH * ocp],
            xt: vec![T::ZERO; POINTS * ic],
            gt: vec![T::ZERO; 8 * oc],
            tmp: vec![T::ZERO; POINTS * ic.max(oc)],
            out: vec![T::ZERO; isa.mr_max(1) * max_w],
            taps: self
                .blocks
                .iter()
                .map(|(b, _)| (0..BATCH).map(|t| (t * ic, t * b.nv * lanes)).collect())
                .collect(),
            segments: Vec::new(),
        };
        let mut t0 = range.start;
        while t0 < range.end {
            ctx.check_cancelled()?;
            let nt = BATCH.min(range.end - t0);
            for j in 0..nt {
                self.transform(t0 + j, j, &mut s);
            }
            for pt in 0..POINTS {
                let a = &s.v[pt * BATCH * ic..(pt + 1) * BATCH * ic];
                for (&(blk, off), taps) in self.blocks.iter().zip(&s.taps) {
                    let width = blk.nv * lanes;
                    let last = blk.len - (blk.nv - 1) * lanes;
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
                                out: &mut s.out,
                                ldo: width,
                                last,
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
        Ok(m)
    }
}

/// Computes `[3, 3, 3, IC, OC]` by Winograd on the microkernels of `isa`, or `None` when the
/// result has a non-finite element (then the direct kernel must run). `p` must [`fits`].
pub(super) fn compute_on<T: Element>(
    isa: Isa,
    p: &Conv3dBackpropFilterParams,
    x: ArrayView5<'_, T>,
    dy: ArrayView5<'_, T>,
    ctx: &KernelContext,
) -> Result<Option<Array5<T>>, KernelError> {
    use rayon::prelude::*;

    debug_assert!(fits(p), "Winograd needs a 3×3×3 filter at stride 1");
    let (ic, oc) = (p.ic, p.oc);
    let size = std::mem::size_of::<T>();
    let lanes = isa.lanes(size);
    let x = contiguous(x, "the NDHWC copy of input", ctx)?;
    let xs = x.as_slice().ok_or(KernelError::Overflow {
        what: "input layout",
    })?;
    let dy = contiguous(dy, "the NDHWC copy of out_backprop", ctx)?;
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
    let m_len = POINTS * ic * ocp;
    let max_spans = (PARTIAL_BYTES / (m_len * size).max(1)).max(1);
    let spans = batches.div_ceil(SPAN_BATCHES).clamp(1, max_spans);
    ctx.limit.check(
        "the Winograd partial sums",
        (m_len as u64).saturating_mul(spans as u64),
        size as u64,
    )?;
    ctx.limit.check(
        "the Winograd tile buffers",
        (POINTS * BATCH * (ic + ocp)) as u64,
        size as u64,
    )?;
    // Spans: balanced runs of whole batches, fixed by the problem.
    let ranges: Vec<Range<usize>> = balanced(batches, spans)
        .map(|r| r.start * BATCH..(r.end * BATCH).min(total))
        .collect();
    let done = AtomicUsize::new(0);
    let report_every = (batches / 100).max(1);
    let tick = || {
        let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(progress) = &ctx.progress
            && (finished.is_multiple_of(report_every) || finished == batches)
        {
            progress(finished as f64 / batches as f64);
        }
    };
    let run = |r: &Range<usize>| plan.span(r.clone(), ctx, &tick);
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
        let s = scale::<T>(pt);
        for v in mp {
            *v = *v * s;
        }
    }
    let mut df = vec![T::ZERO; 27 * ic * oc];
    let max_w = plan
        .blocks
        .iter()
        .map(|(b, _)| b.nv * lanes)
        .max()
        .unwrap_or(0);
    let mut mt = vec![T::ZERO; POINTS * max_w];
    let mut tmp = vec![T::ZERO; POINTS * max_w];
    let mut taps = vec![T::ZERO; 27 * max_w];
    for &(blk, off) in &plan.blocks {
        let width = blk.nv * lanes;
        for i in 0..ic {
            for pt in 0..POINTS {
                let o = pt * ic * ocp + ic * off + i * width;
                mt[pt * width..(pt + 1) * width].copy_from_slice(&m[o..o + width]);
            }
            with_isa(
                isa,
                OutputTransform {
                    m: &mut mt,
                    tmp: &mut tmp,
                    out: &mut taps,
                    len: width,
                },
            );
            for k in 0..27 {
                let o = (k * ic + i) * oc + blk.c0;
                df[o..o + blk.len].copy_from_slice(&taps[k * width..k * width + blk.len]);
            }
        }
    }
    if df.iter().any(|&v| !v.to_f64().is_finite()) {
        return Ok(None);
    }
    Array5::from_shape_vec((3, 3, 3, ic, oc), df)
        .map(Some)
        .map_err(|_| KernelError::Overflow {
            what: "the output shape",
        })
}
