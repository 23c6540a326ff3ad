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

mod transform;
use transform::{input_chunks, output_chunks};

/// Outputs per tile along one dimension.
const OUT: usize = 2;
/// Transform points per dimension (`OUT + 2 − 1`).
const PTS: usize = OUT + 1;
/// Transform points per tile.
const XI: usize = PTS * PTS * PTS;

/// Filter transform `G`: transform point `i` is `G[i][0]·g_a + G[i][1]·g_b`.
const G: [[f64; 2]; PTS] = [[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]];

/// L2 budget for one thread's transformed tiles and products.
const TILE_BYTES: usize = 360 << 10;
/// Problems with fewer multiply-adds (of the direct kernel) than this run on the calling
/// thread.
const SERIAL_MACS: u64 = 1 << 20;

/// One stride phase of one spatial dimension.
#[derive(Debug, Clone, Copy)]
struct DimPhase {
    /// Output index of `j = 0`.
    r: usize,
    /// Outputs `j` in the phase (`x = r + S·j < X`).
    len: usize,
    /// Window `t` gives this phase the outputs `j = 2t + s + {0, 1}` (see [`Windows`]).
    s: usize,
    /// `out_backprop` index read by tap `k_a` for `j = 0`.
    e: isize,
    /// The two filter taps, `[k_a, k_b]`.
    taps: [usize; 2],
    /// Whether `k_a` lies inside the filter (a filter narrower than two strides leaves some
    /// phases only `k_b`).
    has_a: bool,
}

/// The stride phases of spatial dimension `dim` that hold at least one output, and the windows
/// along it.
fn dim_phases(p: &Conv3dBackpropInputParams, dim: usize) -> (Vec<DimPhase>, Windows) {
    let (x, s, pad) = (p.input_spatial[dim], p.strides[dim], p.pad_before[dim]);
    let k = p.kernel[dim];
    let mut phases: Vec<DimPhase> = (0..s.min(x))
        .map(|r| {
            let k0 = (r + pad) % s;
            DimPhase {
                r,
                len: (x - r).div_ceil(s),
                s: 0,
                e: signed((r + pad) / s) - 1,
                taps: [k0 + s, k0],
                has_a: k0 + s < k,
            }
        })
        .collect();
    // Windows start at the largest `e`; a phase with a smaller one (by 1: `e` grows by at
    // most one over the phases) takes its outputs one place on.
    let w0 = phases.iter().map(|ph| ph.e).max().unwrap_or(0);
    for ph in &mut phases {
        ph.s = usize::try_from(w0 - ph.e).unwrap_or(0);
    }
    // Phase `ph` needs the windows with `2t + s + 1 ≥ 0` and `2t + s ≤ len − 1`.
    let first = |ph: &DimPhase| (-signed(ph.s)).div_euclid(2);
    let last = |ph: &DimPhase| (signed(ph.len) - 1 - signed(ph.s)).div_euclid(2);
    let lo = phases.iter().map(first).min().unwrap_or(0);
    let hi = phases.iter().map(last).max().unwrap_or(-1);
    let count = usize::try_from(hi - lo + 1).unwrap_or(0);
    (phases, Windows { lo, count, w0 })
}

/// The windows along one dimension: window `t` (`lo ≤ t < lo + count`) is the input tile
/// `out_backprop[2t + w0 + {0, 1, 2}]`, which every phase shares: phase `ph` reads it at
/// `j + e` for its outputs `j = 2t + ph.s + {0, 1}`.
#[derive(Debug, Clone, Copy)]
struct Windows {
    /// The first window.
    lo: isize,
    /// How many.
    count: usize,
    /// `out_backprop` index of window 0's first row.
    w0: isize,
}

impl DimPhase {
    /// The outputs `od` (of `0, 1`) of window `t` that exist, as a range.
    #[inline(always)]
    fn valid(&self, t: isize) -> std::ops::Range<usize> {
        let j0 = 2 * t + signed(self.s);
        let lo = usize::try_from(-j0).unwrap_or(0).min(OUT);
        let hi = usize::try_from(signed(self.len) - j0).unwrap_or(0).min(OUT);
        lo..hi.max(lo)
    }

    /// The output index `x` of output `od` of window `t` (which exists).
    #[inline(always)]
    fn x(&self, t: isize, od: usize, stride: usize) -> usize {
        let j = usize::try_from(2 * t + signed(self.s + od)).unwrap_or(0);
        self.r + stride * j
    }

    /// Where outputs `0, 1` of window `t` go in a task that owns the outputs from `base` on
    /// (meaningless for outputs outside [`Self::valid`], which are never written).
    fn places(&self, t: isize, stride: usize, base: usize) -> [usize; OUT] {
        [0, 1].map(|od| self.x(t, od, stride).wrapping_sub(base))
    }

    /// The window that owns output `x = r + S·j` of this phase.
    fn window_of(&self, j: usize) -> isize {
        (signed(j) - signed(self.s)).div_euclid(2)
    }
}

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

/// A block of windows along W: windows `tw0..tw0 + nt` (counted from the first) own the
/// outputs `x0..x0 + len` along W, of every phase (consecutive: see [`DimPhase::window_of`]).
#[derive(Debug, Clone, Copy)]
struct WBlock {
    tw0: usize,
    nt: usize,
    x0: usize,
    len: usize,
}

/// Splits the `win.count` windows along W into blocks of at most `tb`, as even as can be.
fn w_blocks(phases: &[DimPhase], win: &Windows, tb: usize, stride: usize) -> Vec<WBlock> {
    let nblk = win.count.div_ceil(tb.max(1));
    let mut out = Vec::with_capacity(nblk);
    let mut tw0 = 0;
    for blk in 0..nblk {
        let nt = win.count / nblk + usize::from(blk < win.count % nblk);
        let xs = (tw0..tw0 + nt).flat_map(|i| {
            let t = win.lo + signed(i);
            phases
                .iter()
                .flat_map(move |ph| ph.valid(t).map(move |o| ph.x(t, o, stride)))
        });
        let (lo, hi) = xs.fold((usize::MAX, 0), |(lo, hi), x| (lo.min(x), hi.max(x + 1)));
        out.push(WBlock {
            tw0,
            nt,
            x0: lo.min(hi),
            len: hi.saturating_sub(lo),
        });
        tw0 += nt;
    }
    out
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

/// Per phase (in the order of [`Plan::u`]), the transform points it multiplies (see
/// [`Plan::points`]).
fn phase_points(dims: &[Vec<DimPhase>; 3]) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    for pd in &dims[0] {
        for ph in &dims[1] {
            for pw in &dims[2] {
                let used = |xi: &usize| {
                    let pts = [xi / (PTS * PTS), (xi / PTS) % PTS, xi % PTS];
                    [pd, ph, pw].iter().zip(pts).all(|(d, i)| i > 0 || d.has_a)
                };
                out.push((0..XI).filter(used).collect());
            }
        }
    }
    out
}

/// The filter transformed per phase and packed per channel block (see [`Plan::u`]).
fn transform_filter<T: Element>(
    filter: &ArrayView5<'_, T>,
    dims: &[Vec<DimPhase>; 3],
    blocks: &[ChannelBlock],
    per_xi: usize,
    lanes: usize,
    m: usize,
) -> Vec<T> {
    let phases = dims.iter().map(Vec::len).product::<usize>();
    let mut u = vec![T::ZERO; phases * XI * per_xi];
    let (kh_, kw_, c) = (filter.shape()[1], filter.shape()[2], filter.shape()[3]);
    let filter = filter.as_standard_layout();
    let Some(f) = filter.as_slice() else {
        return u;
    };
    let cm = c * m;
    let tap = |kd: usize, kh: usize, kw: usize| &f[((kd * kh_ + kh) * kw_ + kw) * cm..][..cm];
    let mut sum = vec![0.0f64; cm];
    // Tap `i` (0: `k_a`, 1: `k_b`) of a phase, if the filter has it.
    let has = |ph: &DimPhase, i: usize| i == 1 || ph.has_a;
    let mut phase = 0;
    for pd in &dims[0] {
        for ph in &dims[1] {
            for pw in &dims[2] {
                for xi in 0..XI {
                    let (a, b, g) = (xi / (PTS * PTS), (xi / PTS) % PTS, xi % PTS);
                    // Σ G[a][i]·G[b][j]·G[g][k] · F[tap(i, j, k)] over the nonzero coefficients.
                    sum.fill(0.0);
                    for (i, &gd) in G[a].iter().enumerate() {
                        for (j, &gh) in G[b].iter().enumerate() {
                            for (k, &gw) in G[g].iter().enumerate() {
                                let coef = gd * gh * gw;
                                if coef != 0.0 && has(pd, i) && has(ph, j) && has(pw, k) {
                                    let t = tap(pd.taps[i], ph.taps[j], pw.taps[k]);
                                    for (s, v) in sum.iter_mut().zip(t) {
                                        *s += coef * v.to_f64();
                                    }
                                }
                            }
                        }
                    }
                    let base = (phase * XI + xi) * per_xi;
                    for blk in blocks {
                        let width = blk.nv * lanes;
                        for mm in 0..m {
                            let row = &mut u[base + blk.panel + mm * width..][..blk.len];
                            for (cc, out) in row.iter_mut().enumerate() {
                                *out = T::from_f64(sum[(blk.c0 + cc) * m + mm]);
                            }
                        }
                    }
                }
                phase += 1;
            }
        }
    }
    u
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
    use super::*;
    use crate::{Conv3dBackpropInputAttrs, DataFormat, Padding};

    /// Params of an NDHWC problem with output `[1, s, s, s, c]`, a `k³` filter with `m`
    /// output channels, stride `st` and SAME padding.
    fn params(s: usize, k: usize, st: usize, c: usize, m: usize) -> Conv3dBackpropInputParams {
        let o = s.div_ceil(st);
        let i = |v: usize| i64::try_from(v).unwrap_or(i64::MAX);
        let attrs = Conv3dBackpropInputAttrs {
            strides: vec![1, i(st), i(st), i(st), 1],
            padding: Padding::Same,
            data_format: DataFormat::Ndhwc,
            dilations: vec![1; 5],
        };
        Conv3dBackpropInputParams::new(
            &[5],
            &[1, i(s), i(s), i(s), i(c)],
            &[k, k, k, c, m],
            &[1, o, o, o, m],
            &attrs,
        )
        .expect("valid problem")
    }

    #[test]
    fn applies_to_unet_upsampling_only() {
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

    /// Each phase's taps (`k_b`, and `k_a` where the filter has it) are exactly the taps the
    /// definition lets reach its outputs, for every filter width from `S + 1` to `2·S`:
    /// `x + pad − k ≡ 0 (mod S)` with `out_backprop` index `(x + pad − k) / S`.
    #[test]
    fn phases_have_the_definitions_taps() {
        for (x, st, pad) in [
            (64, 2, 1),
            (7, 3, 2),
            (9, 1, 0),
            (5, 2, 0),
            (6, 3, 0),
            (1, 2, 1),
        ] {
            for k in st + 1..=2 * st {
                let mut p = params(x.max(1), k, st, 32, 32);
                p.input_spatial = [x, x, x];
                p.pad_before = [pad; 3];
                let (phases, _) = dim_phases(&p, 0);
                assert_eq!(phases.len(), st.min(x));
                for ph in &phases {
                    for j in 0..ph.len {
                        let xx = signed(ph.r + st * j + pad);
                        let want: Vec<(usize, isize)> = (0..k)
                            .filter(|&k| (xx - signed(k)).rem_euclid(signed(st)) == 0)
                            .map(|k| (k, (xx - signed(k)).div_euclid(signed(st))))
                            .collect();
                        let j = signed(j);
                        let mut got = vec![(ph.taps[1], j + ph.e + 1)];
                        if ph.has_a {
                            got.push((ph.taps[0], j + ph.e));
                        }
                        let at = format!("x={x} k={k} s={st} pad={pad} r={} j={j}", ph.r);
                        assert_eq!(got, want, "{at}");
                    }
                }
            }
        }
    }

    /// Every output of every phase comes from exactly one window, which reads the phase's
    /// `out_backprop` rows (`j + e`, `j + e + 1` at window places `od`, `od + 1`), and the
    /// outputs each window owns are consecutive (a task's lines are one run per dimension).
    #[test]
    fn windows_cover_every_output_once_with_the_phases_rows() {
        for (x, st, pad) in [
            (64, 2, 1),
            (64, 2, 2),
            (63, 2, 1),
            (7, 3, 2),
            (9, 1, 0),
            (5, 2, 0),
            (6, 3, 0),
            (1, 2, 1),
            (11, 3, 5),
        ] {
            let mut p = params(x.max(1), 2 * st, st, 32, 32);
            p.input_spatial = [x, x, x];
            p.pad_before = [pad; 3];
            let (phases, win) = dim_phases(&p, 0);
            let mut owner = vec![None; x];
            for t in win.lo..win.lo + signed(win.count) {
                for ph in &phases {
                    for od in ph.valid(t) {
                        let xx = ph.x(t, od, st);
                        assert!(owner[xx].is_none(), "x={x} s={st} pad={pad}: {xx} twice");
                        owner[xx] = Some(t);
                        let j = signed((xx - ph.r) / st);
                        assert_eq!(2 * t + win.w0 + signed(od), j + ph.e, "first row of {xx}");
                        assert_eq!(ph.window_of((xx - ph.r) / st), t, "owner of {xx}");
                    }
                }
            }
            assert!(
                owner.iter().all(Option::is_some),
                "x={x} s={st} pad={pad}: every output has a window"
            );
            assert!(
                owner.windows(2).all(|w| w[0] <= w[1]),
                "x={x} s={st} pad={pad}: windows own consecutive outputs: {owner:?}"
            );
        }
    }
}
