//! Winograd `F(2×2×2, 2×2×2)` on the stride phases, for filters one to two strides wide
//! (`S < K ≤ 2·S`, no dilation: `k2 s1`, `k3 s2`, `k4 s2` as in 3-D U-Net upsampling, `k4`–`k6
//! s3`, …).
//!
//! Along one spatial dimension, the outputs `x = S·j + r` of stride phase `r` see exactly two
//! taps: `k_a = k0 + S` reading `out_backprop[j + e]` and `k_b = k0` reading `[j + e + 1]`,
//! with `k0 = (r + pad) mod S` and `e = (r + pad) div S − 1`. So a phase is a 2-tap
//! correlation `y_j = g_a·x_j + g_b·x_{j+1}` (after shifting `x` by `e`), and two neighbouring
//! outputs from three inputs need three products instead of four:
//!
//! ```text
//! V = Bᵀx:        x0 − x1,   x1,          x2 − x1
//! U = G g:        g_a,       g_a + g_b,   g_b
//! y = Aᵀ(U ⊙ V):  m0 + m1,   m1 + m2
//! ```
//!
//! Where the filter is narrower than two strides (`K < 2·S`), the phases with `k0 + S ≥ K`
//! have only `k_b`: with `g_a = 0`, point 0's `U` is zero, its products are skipped, and the
//! output transform is `(m1, m1 + m2) = (g_b·x1, g_b·x1 + g_b·(x2 − x1))` (see
//! `transform::at2`). `k3 s2` then takes, per dimension, 3 products for the 2-tap phase's two
//! outputs and 2 for the 1-tap phase's: 125 per `4×4×4` block of outputs instead of 216.
//!
//! In 3-D a `2×2×2` output tile takes 27 products instead of 64 (2.37× fewer multiplies). Each
//! transform point `ξ` is a GEMM over the `M` channels (`V[ξ]`: tiles `× M`, times `U[ξ]`:
//! `M × C`) run through the same register-blocked microkernels as the direct kernel; the
//! transforms work on 64 bytes of channels at a time held in registers. All coefficients are 0 or ±1,
//! so integer-valued data stays exact while partial sums fit the significand.
//!
//! Transformed values grow up to 8× on each side, so in `f32` (24-bit significand) a sum
//! that is exact in the direct kernel could round; the rounding error stays within the bound
//! of [`crate::correlation`] (`8·(K + 12)·u` times the magnitudes of the whole `3×3×3` input
//! tile; these transforms are the same `F(2, 2)`). Operands with a non-finite value or a
//! magnitude above [`crate::correlation::max_abs`] run the direct kernel, since `Inf − Inf`
//! inside a transform would turn TensorFlow's `±Inf` into `NaN`, and huge values could
//! overflow where the direct sum does not.
//!
//! **One input transform for every phase.** The phases of a dimension read `out_backprop`
//! at offsets `e` that differ by at most one, so their tiles can share input windows: window
//! `t` is `out_backprop[2t + w0 + {0, 1, 2}]` (`w0` the largest `e`), and gives phase `r` its
//! outputs `j = 2t + s + {0, 1}` with `s = w0 − e` (0 or 1). A `3×3×3` window is transformed
//! once and multiplied by all `S_D·S_H·S_W` phases' filters: 8 phases on B4, so 1/8 of the
//! input transforms of one tile set per phase. The price: a phase with `s = 1` needs one more
//! window than its own tiles (its first and last windows hold one output each), 9.7 % more
//! products on B4. Measured on Zen 3 (AVX2, float32 B4): 9.6 % faster on one thread, 5 % on two
//! (float64 4–5 %).
//!
//! Tasks are window rows `(n, td, th)`; each owns the output lines along W of the planes and
//! rows its windows hold (`2·S` of each, fewer at the ends) and runs its windows in blocks
//! along W: the block's input transforms, then, for each phase along D and H, every W phase's
//! products and output transforms into four staged lines along W (the block owns a
//! consecutive run of each), each written out with one copy (writing each output row on its
//! own, and zero-filling the skipped points' products, measured 25–30 % slower on B2). Rows
//! rather than whole slabs along D keep two threads busy to the end (17 slabs on B4, two of
//! them half empty, left one thread idle for 10 % of the time). Each
//! output element is written once, by one tile, in a fixed order, so the result is identical
//! for any thread count.

use ndarray::{Array5, ArrayView5};

use super::params::Conv3dBackpropInputParams;
use crate::correlation::Scratch;
use crate::simd::{Isa, RowWriter, SimdElement, Vectorized, build_by_rows, with_isa};
use crate::tiling::{ChannelBlock, Panels, channel_blocks, gemm_rows, signed};
use crate::{Element, KernelContext, KernelError};

mod filter;
mod geometry;
mod transform;
use filter::transform_filter;
use geometry::{DimPhase, WBlock, Windows, dim_phases, phase_points, w_blocks};
use transform::{input_chunks, output_chunks};

/// Outputs per tile along one dimension.
const OUT: usize = 2;
/// Transform points per dimension (`OUT + 2 − 1`).
const PTS: usize = OUT + 1;
/// Transform points per tile.
const XI: usize = PTS * PTS * PTS;

/// L2 budget for one thread's transformed tiles and products.
const TILE_BYTES: usize = 360 << 10;
/// Problems with fewer multiply-adds (of the direct kernel) than this run on the calling
/// thread.
const SERIAL_MACS: u64 = 1 << 20;

/// Whether the problem has the shape this kernel handles, with channel counts where it beats
/// the direct kernel: at least 32 each way (fewer, and the transforms cost about what the
/// multiplies save: B2's `k3 s2` with 16 input channels measured as fast as direct), and one
/// phase's transformed filter (`27·M·C` values) within 1 MiB of `f64` (beyond, it no longer
/// stays in L2 while a block's windows run).
pub(super) fn applies(p: &Conv3dBackpropInputParams, size: usize) -> bool {
    (0..3).all(|i| {
        let (k, s) = (p.kernel[i], p.strides[i]);
        p.dilations[i] == 1 && s < k && s.checked_mul(2).is_some_and(|two| k <= two)
    }) && p.m >= 32
        && p.c >= 32
        && XI
            .saturating_mul(p.m)
            .saturating_mul(p.c)
            .saturating_mul(size)
            <= 1 << 20
        && crate::correlation::enabled()
}

/// Whether every value is finite and small enough for the transforms (see the module docs).
pub(super) fn values_fit<T: Element>(values: &ArrayView5<'_, T>) -> bool {
    match values.as_slice_memory_order() {
        Some(s) => crate::correlation::values_fit(s),
        None => values
            .iter()
            .all(|v| v.to_f64().abs() <= crate::correlation::max_abs::<T>()),
    }
}

/// The geometry shared by every task.
struct Plan<'a, T> {
    isa: Isa,
    p: &'a Conv3dBackpropInputParams,
    lanes: usize,
    dy: &'a [T],
    /// Transformed filter: `[phase][ξ][block panels]`.
    u: Vec<T>,
    /// Per phase, the transform points it multiplies (point 0 along a dimension where the
    /// phase has only `k_b` is left out: its `U` is zero).
    points: Vec<Vec<usize>>,
    /// Elements of one `ξ`'s panels (all channel blocks).
    per_xi: usize,
    blocks: Vec<ChannelBlock>,
    /// Phases along D, H, W.
    dims: [Vec<DimPhase>; 3],
    /// Windows along D, H, W.
    win: [Windows; 3],
    /// Most windows per block along W.
    tb: usize,
    /// The blocks of windows along W (the same in every window row).
    wblocks: Vec<WBlock>,
    /// The most outputs along W a block owns.
    line_len: usize,
    /// Per dimension (D, H) and window: the first output plane / row it owns, and how many.
    owned: [Vec<(usize, usize)>; 2],
}

/// Per-thread scratch: `zero` holds `M` zeros (an `out_backprop` row outside the tensor), `v`
/// the transformed tiles `[tile][ξ][M]`, `prod` the products `[tile][ξ][C]`, `stage` a block's
/// four output lines along W (`[od·2 + oh][x − x0][C]`) and one row of `C` that takes the
/// outputs of a tile that do not exist.
fn ensure<T: Element>(s: &mut Scratch<T>, m: usize, c: usize, tb: usize, line_len: usize) {
    s.ensure([m, tb * XI * m, tb * XI * c, (OUT * OUT * line_len + 1) * c]);
}

impl<T: Element + SimdElement> Plan<'_, T> {
    /// The `out_backprop` line `(n, od, oh, ..)` along W (`OW·M` values), or `None` outside
    /// the tensor.
    #[inline(always)]
    fn dy_line(&self, n: usize, od: isize, oh: isize) -> Option<&[T]> {
        let [od_, oh_, ow_] = self.p.out_spatial;
        let idx = |v: isize, hi: usize| usize::try_from(v).ok().filter(|&v| v < hi);
        let (od, oh) = (idx(od, od_)?, idx(oh, oh_)?);
        let len = ow_ * self.p.m;
        let start = ((n * od_ + od) * oh_ + oh) * len;
        Some(&self.dy[start..start + len])
    }

    /// Transforms the input tile whose `out_backprop` rows are `rows` (`(d·3 + h)·3 + w`)
    /// into `s.v[tile][ξ]`, 64 bytes of channels at a time (16 `f32`, 8 `f64`), all 27
    /// values of each in registers.
    #[inline(always)]
    fn input_tile(&self, s: &mut Scratch<T>, rows: &[&[T]; XI], tile: usize) {
        let at = tile * XI * self.p.m;
        if std::mem::size_of::<T>() == 4 {
            input_chunks::<T, 16>(rows, &mut s.v, at);
        } else {
            input_chunks::<T, 8>(rows, &mut s.v, at);
        }
    }

    /// Inverse-transforms the products of `tile` of a phase with two taps where `two` says so
    /// (along D, H, W) into its outputs, 64 bytes of channels at a time: output
    /// `j = (od·2 + oh)·2 + ow` goes to `s.stage[dst[j]..]`.
    #[inline(always)]
    fn output_tile(&self, s: &mut Scratch<T>, tile: usize, two: [bool; 3], dst: &[usize; 8]) {
        let c = self.p.c;
        let Scratch { prod, stage, .. } = s;
        let at = tile * XI * c;
        if std::mem::size_of::<T>() == 4 {
            output_chunks::<T, 16>(two, (prod, at, c), stage, dst);
        } else {
            output_chunks::<T, 8>(two, (prod, at, c), stage, dst);
        }
    }

    /// Runs the products `V[ξ] · U[ξ]` of tiles `t0..t0 + nt` for phase `phase` (into product
    /// rows `0..nt`).
    fn products(&self, s: &mut Scratch<T>, phase: usize, (t0, nt): (usize, usize)) {
        let (m, c) = (self.p.m, self.p.c);
        for &xi in &self.points[phase] {
            let u = Panels {
                data: &self.u,
                b0: (phase * XI + xi) * self.per_xi,
                blocks: &self.blocks,
                lanes: self.lanes,
            };
            let v = (&s.v[..], (t0 * XI + xi) * m, XI * m, m);
            gemm_rows(self.isa, nt, v, &u, (&mut s.prod, xi * c, XI * c));
        }
    }

    /// Task `(n, td, th)`: the windows `(td, th, ..)` (counted from each dimension's first) of
    /// batch item `n`, in blocks along W: each block's input transforms once, then for each
    /// phase along D and H the products and output transforms of every phase along W into
    /// four staged lines, written out whole. `parts` are the output lines (along W) the task
    /// owns.
    fn window_row(
        &self,
        s: &mut Scratch<T>,
        [n, td, th]: [usize; 3],
        parts: &mut [RowWriter<'_, T>],
    ) {
        ensure(s, self.p.m, self.p.c, self.tb, self.line_len);
        let [wd, wh, ww] = self.win;
        let (t_d, t_h) = (wd.lo + signed(td), wh.lo + signed(th));
        let st = self.p.strides;
        let (c, rows) = (self.p.c, self.owned[1][th].1);
        let pw_count = self.dims[2].len();
        for blk in &self.wblocks {
            let input = InputTiles {
                plan: self,
                s,
                n,
                corner: [
                    2 * t_d + wd.w0,
                    2 * t_h + wh.w0,
                    2 * (ww.lo + signed(blk.tw0)) + ww.w0,
                ],
                nt: blk.nt,
            };
            with_isa(self.isa, input);
            for (i, pd) in self.dims[0].iter().enumerate() {
                let vd = pd.valid(t_d);
                for (j, ph) in self.dims[1].iter().enumerate() {
                    let vh = ph.valid(t_h);
                    if vd.is_empty() || vh.is_empty() || blk.len == 0 {
                        continue;
                    }
                    for (k, pw) in self.dims[2].iter().enumerate() {
                        let phase = (i * self.dims[1].len() + j) * pw_count + k;
                        // This phase's windows in the block with an output (a contiguous run).
                        let has = |i: usize| !pw.valid(ww.lo + signed(blk.tw0 + i)).is_empty();
                        let Some(first) = (0..blk.nt).find(|&i| has(i)) else {
                            continue;
                        };
                        let end = (first..blk.nt).find(|&i| !has(i)).unwrap_or(blk.nt);
                        self.products(s, phase, (first, end - first));
                        let output = OutputTiles {
                            plan: self,
                            s,
                            valid: [vd.clone(), vh.clone()],
                            two: [pd.has_a, ph.has_a],
                            pw,
                            tw: ww.lo + signed(blk.tw0 + first),
                            nt: end - first,
                            blk,
                        };
                        with_isa(self.isa, output);
                    }
                    let xd = pd.places(t_d, st[0], self.owned[0][td].0);
                    let xh = ph.places(t_h, st[1], self.owned[1][th].0);
                    for od in vd.clone() {
                        for oh in vh.clone() {
                            let at = (od * OUT + oh) * self.line_len * c;
                            let line = &s.stage[at..at + blk.len * c];
                            parts[xd[od] * rows + xh[oh]].write_rows(blk.x0, line);
                        }
                    }
                }
            }
        }
    }
}

/// The input transforms of `nt` tiles along W, the first reading `out_backprop` at `corner`.
struct InputTiles<'a, 'p, T> {
    plan: &'a Plan<'p, T>,
    s: &'a mut Scratch<T>,
    n: usize,
    corner: [isize; 3],
    nt: usize,
}

impl<T: Element + SimdElement> Vectorized for InputTiles<'_, '_, T> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let [d, h, w] = self.corner;
        let plan = self.plan;
        let (m, ow_) = (plan.p.m, signed(plan.p.out_spatial[2]));
        // The nine lines along W the tiles read (D and H are the same for all of them).
        let lines: [Option<&[T]>; PTS * PTS] =
            std::array::from_fn(|i| plan.dy_line(self.n, d + signed(i / PTS), h + signed(i % PTS)));
        let zero = std::mem::take(&mut self.s.zero);
        for t in 0..self.nt {
            let w0 = w + signed(OUT * t);
            let mut rows: [&[T]; XI] = [&zero[..m]; XI];
            for (i, line) in lines.iter().enumerate() {
                let Some(line) = line else { continue };
                for c in 0..PTS {
                    let x = w0 + signed(c);
                    if (0..ow_).contains(&x) {
                        let x = usize::try_from(x).unwrap_or(0) * m;
                        rows[i * PTS + c] = &line[x..x + m];
                    }
                }
            }
            plan.input_tile(self.s, &rows, t);
        }
        self.s.zero = zero;
    }
}

/// The output transforms of `nt` windows along W of phase `pw`, the first being window `tw`
/// (products in rows `0..nt`), into the staged lines of block `blk`: `valid` are the outputs
/// along D and H that exist, `two` whether the phases along D and H have two taps.
struct OutputTiles<'a, 'p, T> {
    plan: &'a Plan<'p, T>,
    s: &'a mut Scratch<T>,
    valid: [std::ops::Range<usize>; 2],
    two: [bool; 2],
    pw: &'a DimPhase,
    tw: isize,
    nt: usize,
    blk: &'a WBlock,
}

impl<T: Element + SimdElement> Vectorized for OutputTiles<'_, '_, T> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let (sw, c, line) = (self.plan.p.strides[2], self.plan.p.c, self.plan.line_len);
        let [vd, vh] = self.valid;
        let two = [self.two[0], self.two[1], self.pw.has_a];
        // Outputs that do not exist go to the row after the four lines.
        let spare = OUT * OUT * line * c;
        // Per output line `(od, oh)`: where it starts in the stage, if it exists.
        let lines: [Option<usize>; OUT * OUT] = std::array::from_fn(|l| {
            (vd.contains(&(l / OUT)) && vh.contains(&(l % OUT))).then_some(l * line * c)
        });
        for t in 0..self.nt {
            let tw = self.tw + signed(t);
            let vw = self.pw.valid(tw);
            let mut dst = [spare; OUT * OUT * OUT];
            for ow in vw {
                let x = (self.pw.x(tw, ow, sw) - self.blk.x0) * c;
                for (l, start) in lines.iter().enumerate() {
                    if let Some(start) = start {
                        dst[l * OUT + ow] = start + x;
                    }
                }
            }
            self.plan.output_tile(self.s, t, two, &dst);
        }
    }
}

/// Computes the NDHWC output with the Winograd kernel on `isa` (the caller checked
/// [`applies`] and [`values_fit`]).
pub(super) fn compute_on<T: Element>(
    isa: Isa,
    p: &Conv3dBackpropInputParams,
    filter: ArrayView5<'_, T>,
    dy: ArrayView5<'_, T>,
    ctx: &KernelContext,
) -> Result<Array5<T>, KernelError> {
    let [d_, h_, w_] = p.input_spatial;
    let shape = (p.n, d_, h_, w_, p.c);
    let size = std::mem::size_of::<T>();
    let lanes = isa.lanes(size);
    let blocks = channel_blocks(p.c, p.m, 1, XI, lanes, size, isa);
    let per_xi: usize = blocks.iter().map(|b| p.m * b.nv * lanes).sum();
    let ((d0, w0), (d1, w1), (d2, w2)) = (dim_phases(p, 0), dim_phases(p, 1), dim_phases(p, 2));
    let (dims, win) = ([d0, d1, d2], [w0, w1, w2]);
    let phases = dims.iter().map(Vec::len).product::<usize>();
    let _transformed = ctx.reserve(
        "the transformed filter",
        (phases * XI * per_xi) as u64,
        size as u64,
    )?;
    let u = transform_filter(&filter, &dims, &blocks, per_xi, lanes, p.m);
    let points = phase_points(&dims);
    let tb = (TILE_BYTES / (XI * (p.m + p.c) * size).max(1)).clamp(1, win[2].count.max(1));
    let wblocks = w_blocks(&dims[2], &win[2], tb, p.strides[2]);
    let line_len = wblocks.iter().map(|b| b.len).max().unwrap_or(0);
    let dy = dy.as_standard_layout();
    let dy = dy.as_slice().ok_or(KernelError::Overflow {
        what: "out_backprop layout",
    })?;
    // Output plane x (row x along H) belongs to the window along D (H) that owns it; a task
    // (n, td, th) owns the lines along W of its planes and rows.
    let owner = |dim: usize, x: usize| {
        let ph = &dims[dim][x % p.strides[dim]];
        usize::try_from(ph.window_of(x / p.strides[dim]) - win[dim].lo).unwrap_or(0)
    };
    let owned = [0, 1].map(|dim| {
        let mut owned = vec![(usize::MAX, 0); win[dim].count];
        for x in 0..p.input_spatial[dim] {
            let o = &mut owned[owner(dim, x)];
            *o = (o.0.min(x), o.1 + 1);
        }
        owned
    });
    let (wd, wh) = (win[0].count, win[1].count);
    let tasks = p.n * wd * wh;
    let line = w_ * p.c;
    let parts: Vec<(usize, usize)> = (0..p.n * d_ * h_)
        .map(|i| {
            let (n, x_d, x_h) = (i / (d_ * h_), (i / h_) % d_, i % h_);
            (line, (n * wd + owner(0, x_d)) * wh + owner(1, x_h))
        })
        .collect();
    let plan = Plan {
        isa,
        p,
        lanes,
        dy,
        u,
        points,
        per_xi,
        blocks,
        dims,
        win,
        tb,
        wblocks,
        line_len,
        owned,
    };
    let counter = ctx.work_counter(tasks);
    let work = |s: &mut Scratch<T>, task: usize, out: &mut [RowWriter<'_, T>]| {
        ctx.check_cancelled()?;
        plan.window_row(s, [task / (wd * wh), (task / wh) % wd, task % wh], out);
        counter.tick();
        Ok::<(), KernelError>(())
    };
    let macs = p.output_len().saturating_mul(8 * p.m as u64);
    let parallel = macs >= SERIAL_MACS && rayon::current_num_threads() > 1;
    let dx = build_by_rows(isa, &parts, p.c, tasks, parallel, Scratch::default, work)?;
    Array5::from_shape_vec(shape, dx).map_err(|_| KernelError::Overflow {
        what: "the output shape",
    })
}

#[cfg(test)]
mod tests {
    use super::geometry::tests::params;
    use super::*;

    #[test]
    fn applies_to_filters_one_to_two_strides_wide() {
        assert!(applies(&params(64, 4, 2, 32, 64), 8), "B4");
        assert!(applies(&params(16, 2, 1, 64, 64), 8), "k2 s1");
        assert!(
            applies(&params(64, 3, 2, 32, 64), 4),
            "k3 s2: phases of 1 and 2 taps"
        );
        assert!(
            !applies(&params(64, 3, 2, 16, 32), 4),
            "B2: too few input channels"
        );
        assert!(applies(&params(30, 5, 3, 32, 32), 8), "k5 s3");
        assert!(!applies(&params(64, 5, 2, 32, 32), 8), "k5 s2: 3 taps");
        assert!(!applies(&params(64, 2, 2, 32, 32), 8), "k2 s2: 1 tap");
        assert!(
            !applies(&params(64, 4, 2, 8, 64), 8),
            "too few input channels"
        );
        assert!(
            !applies(&params(16, 4, 2, 128, 128), 8),
            "filter transform beyond L2"
        );
    }
}
