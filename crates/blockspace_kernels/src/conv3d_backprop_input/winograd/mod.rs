//! Winograd `F(2×2×2, 2×2×2)` on the stride phases, for filters exactly two strides wide
//! (`K = 2·S`, no dilation: `k2 s1`, `k4 s2` as in 3-D U-Net upsampling, `k6 s3`, …).
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
//! Work is split over slabs `(n, tile row along D)`, each `2·SD` consecutive output planes;
//! a slab runs phase by phase (the phase's transformed filter, `27·M·C` values, stays in L2)
//! over blocks of tiles along W. Each output element is written once, by one tile, in a fixed
//! order, so the result is identical for any thread count.

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
    /// Tiles of `OUT` outputs (`⌈len / OUT⌉`).
    tiles: usize,
    /// `out_backprop` index read by tap `k_a` for `j = 0`.
    e: isize,
    /// The two filter taps, `[k_a, k_b]`.
    taps: [usize; 2],
}

/// The stride phases of spatial dimension `dim` that hold at least one output.
fn dim_phases(p: &Conv3dBackpropInputParams, dim: usize) -> Vec<DimPhase> {
    let (x, s, pad) = (p.input_spatial[dim], p.strides[dim], p.pad_before[dim]);
    (0..s.min(x))
        .map(|r| {
            let len = (x - r).div_ceil(s);
            let k0 = (r + pad) % s;
            DimPhase {
                r,
                len,
                tiles: len.div_ceil(OUT),
                e: signed((r + pad) / s) - 1,
                taps: [k0 + s, k0],
            }
        })
        .collect()
}

/// Whether the problem has the shape this kernel handles, with channel counts where it beats
/// the direct kernel: at least 32 each way (fewer, and the transforms cost more than the
/// multiplies they save), and one phase's transformed filter (`27·M·C` values) within 1 MiB of
/// `f64` (beyond, it no longer stays in L2 while the phase's tiles run).
pub(super) fn applies(p: &Conv3dBackpropInputParams, size: usize) -> bool {
    (0..3).all(|i| p.dilations[i] == 1 && p.strides[i].checked_mul(2) == Some(p.kernel[i]))
        && p.m >= 32
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
    /// Elements of one `ξ`'s panels (all channel blocks).
    per_xi: usize,
    blocks: Vec<ChannelBlock>,
    /// Phases along D, H, W.
    dims: [Vec<DimPhase>; 3],
    /// Largest number of tiles per block along W.
    tb: usize,
}

/// Per-thread scratch: `zero` holds `M` zeros (an `out_backprop` row outside the tensor), `v`
/// the transformed tiles `[tile][ξ][M]`, `prod` the products `[tile][ξ][C]`, `stage` one tile's
/// 8 output rows.
fn ensure<T: Element>(s: &mut Scratch<T>, m: usize, c: usize, tb: usize) {
    s.ensure([m, tb * XI * m, tb * XI * c, OUT * OUT * OUT * c]);
}

impl<T: Element + SimdElement> Plan<'_, T> {
    /// The `out_backprop` row `(n, od, oh, ow)`, or `None` outside the tensor.
    #[inline(always)]
    fn dy_row(&self, n: usize, o: [isize; 3]) -> Option<&[T]> {
        let [od_, oh_, ow_] = self.p.out_spatial;
        let idx = |v: isize, hi: usize| usize::try_from(v).ok().filter(|&v| v < hi);
        let (od, oh, ow) = (idx(o[0], od_)?, idx(o[1], oh_)?, idx(o[2], ow_)?);
        let m = self.p.m;
        let start = (((n * od_ + od) * oh_ + oh) * ow_ + ow) * m;
        Some(&self.dy[start..start + m])
    }

    /// Transforms the input tile whose first row is `out_backprop[n, o]` into `s.v[ξ][tile]`,
    /// 64 bytes of channels at a time (16 `f32`, 8 `f64`), all 27 values of each in registers.
    #[inline(always)]
    fn input_tile(&self, s: &mut Scratch<T>, n: usize, o: [isize; 3], tile: usize) {
        let m = self.p.m;
        let Scratch { v, zero, .. } = s;
        let zero: &[T] = &zero[..m];
        let mut rows: [&[T]; XI] = [zero; XI];
        for (i, row) in rows.iter_mut().enumerate() {
            let (a, b, c) = (i / (PTS * PTS), (i / PTS) % PTS, i % PTS);
            let at = [o[0] + signed(a), o[1] + signed(b), o[2] + signed(c)];
            if let Some(r) = self.dy_row(n, at) {
                *row = r;
            }
        }
        let at = tile * XI * m;
        if std::mem::size_of::<T>() == 4 {
            input_chunks::<T, 16>(&rows, v, at);
        } else {
            input_chunks::<T, 8>(&rows, v, at);
        }
    }

    /// Inverse-transforms the products of `tile` into its outputs, 64 bytes of channels at a time:
    /// output `(od, oh, ow)` goes to `parts[first[0] + SD·od]`, row `first[1] + SH·oh`,
    /// column `first[2] + SW·ow`, for `od < valid[0]` and so on.
    #[inline(always)]
    fn output_tile(
        &self,
        s: &mut Scratch<T>,
        tile: usize,
        first: [usize; 3],
        valid: [usize; 3],
        parts: &mut [RowWriter<'_, T>],
    ) {
        let c = self.p.c;
        let Scratch { prod, stage, .. } = s;
        let at = tile * XI * c;
        if std::mem::size_of::<T>() == 4 {
            output_chunks::<T, 16>(prod, at, c, stage);
        } else {
            output_chunks::<T, 8>(prod, at, c, stage);
        }
        let w_ = self.p.input_spatial[2];
        let st = self.p.strides;
        for od in 0..valid[0] {
            let plane = &mut parts[first[0] + st[0] * od];
            for oh in 0..valid[1] {
                for ow in 0..valid[2] {
                    let (h, w) = (first[1] + st[1] * oh, first[2] + st[2] * ow);
                    let j = (od * OUT + oh) * OUT + ow;
                    plane.write_row(h * w_ + w, &stage[j * c..(j + 1) * c]);
                }
            }
        }
    }

    /// Runs the products `V[ξ] · U[ξ]` of tiles `0..nt` for phase `phase`.
    fn products(&self, s: &mut Scratch<T>, phase: usize, nt: usize) {
        let (m, c) = (self.p.m, self.p.c);
        for xi in 0..XI {
            let u = Panels {
                data: &self.u,
                b0: (phase * XI + xi) * self.per_xi,
                blocks: &self.blocks,
                lanes: self.lanes,
            };
            let v = (&s.v[..], xi * m, XI * m, m);
            gemm_rows(self.isa, nt, v, &u, (&mut s.prod, xi * c, XI * c));
        }
    }

    /// Computes slab `(n, td)`: `parts` are the output planes of tile row `td` along D of
    /// batch item `n`. Phases run outermost, so each phase's transformed filter stays in L2
    /// while its tiles run.
    fn slab(
        &self,
        s: &mut Scratch<T>,
        [n, td]: [usize; 2],
        parts: &mut [RowWriter<'_, T>],
        ctx: &KernelContext,
    ) -> Result<(), KernelError> {
        ensure(s, self.p.m, self.p.c, self.tb);
        let [dd, dh, dw] = &self.dims;
        let mut phase = 0;
        for pd in dd {
            for ph in dh {
                for pw in dw {
                    ctx.check_cancelled()?;
                    if td < pd.tiles {
                        for th in 0..ph.tiles {
                            self.tile_row(s, phase, [pd, ph, pw], [n, td, th], parts);
                        }
                    }
                    phase += 1;
                }
            }
        }
        Ok(())
    }

    /// The tiles `(td, th, ..)` of one phase (`dims` along D, H, W), in blocks along W.
    fn tile_row(
        &self,
        s: &mut Scratch<T>,
        phase: usize,
        [pd, ph, pw]: [&DimPhase; 3],
        [n, td, th]: [usize; 3],
        parts: &mut [RowWriter<'_, T>],
    ) {
        let valid = [(pd.len - OUT * td).min(OUT), (ph.len - OUT * th).min(OUT)];
        let nblk = pw.tiles.div_ceil(self.tb);
        let mut tw0 = 0;
        for blk in 0..nblk {
            let nt = pw.tiles / nblk + usize::from(blk < pw.tiles % nblk);
            let input = InputTiles {
                plan: self,
                s,
                n,
                corner: [
                    signed(OUT * td) + pd.e,
                    signed(OUT * th) + ph.e,
                    signed(OUT * tw0) + pw.e,
                ],
                nt,
            };
            with_isa(self.isa, input);
            self.products(s, phase, nt);
            let output = OutputTiles {
                plan: self,
                s,
                first: [pd.r, ph.r + OUT * self.p.strides[1] * th, pw.r],
                valid,
                pw,
                tw0,
                nt,
                parts: &mut *parts,
            };
            with_isa(self.isa, output);
            tw0 += nt;
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
        for t in 0..self.nt {
            let corner = [d, h, w + signed(OUT * t)];
            self.plan.input_tile(self.s, self.n, corner, t);
        }
    }
}

/// The output transforms of `nt` tiles along W of phase `pw`, from tile `tw0`: `first` is
/// where the tiles' first output goes in `parts` (plane, row, column of tile 0), and `valid`
/// how many of the outputs along D and H exist.
struct OutputTiles<'a, 'p, 'o, T> {
    plan: &'a Plan<'p, T>,
    s: &'a mut Scratch<T>,
    first: [usize; 3],
    valid: [usize; 2],
    pw: &'a DimPhase,
    tw0: usize,
    nt: usize,
    parts: &'a mut [RowWriter<'o, T>],
}

impl<T: Element + SimdElement> Vectorized for OutputTiles<'_, '_, '_, T> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let sw = self.plan.p.strides[2];
        let [d, h, w] = self.first;
        for t in 0..self.nt {
            let tw = self.tw0 + t;
            let first = [d, h, w + OUT * sw * tw];
            let valid = [
                self.valid[0],
                self.valid[1],
                (self.pw.len - OUT * tw).min(OUT),
            ];
            self.plan
                .output_tile(self.s, t, first, valid, &mut *self.parts);
        }
    }
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
                                if coef != 0.0 {
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
    let dims = [dim_phases(p, 0), dim_phases(p, 1), dim_phases(p, 2)];
    let phases = dims.iter().map(Vec::len).product::<usize>();
    let _transformed = ctx.reserve(
        "the transformed filter",
        (phases * XI * per_xi) as u64,
        size as u64,
    )?;
    let u = transform_filter(&filter, &dims, &blocks, per_xi, lanes, p.m);
    let max_tiles_w = dims[2].iter().map(|d| d.tiles).max().unwrap_or(1);
    let tb = (TILE_BYTES / (XI * (p.m + p.c) * size).max(1)).clamp(1, max_tiles_w);
    let dy = dy.as_standard_layout();
    let dy = dy.as_slice().ok_or(KernelError::Overflow {
        what: "out_backprop layout",
    })?;
    let plan = Plan {
        isa,
        p,
        lanes,
        dy,
        u,
        per_xi,
        blocks,
        dims,
        tb,
    };
    // Slab (n, td) owns planes [OUT·SD·td, OUT·SD·(td + 1)) of batch item n (fewer at the end).
    let slab = OUT * p.strides[0];
    let slabs = d_.div_ceil(slab);
    let plane = h_ * w_ * p.c;
    let parts: Vec<(usize, usize)> = (0..p.n * d_)
        .map(|nd| (plane, (nd / d_) * slabs + (nd % d_) / slab))
        .collect();
    let tasks = p.n * slabs;
    let counter = ctx.work_counter(tasks);
    let work = |s: &mut Scratch<T>, task: usize, out: &mut [RowWriter<'_, T>]| {
        plan.slab(s, [task / slabs, task % slabs], out, ctx)?;
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
            !applies(&params(64, 3, 2, 32, 64), 8),
            "k3 s2: phases of 1 and 2 taps"
        );
        assert!(
            !applies(&params(64, 4, 2, 16, 64), 8),
            "too few input channels"
        );
        assert!(
            !applies(&params(16, 4, 2, 128, 128), 8),
            "filter transform beyond L2"
        );
    }

    /// Each phase's two taps are exactly the taps the definition lets reach its outputs:
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
            let mut p = params(x.max(1), 2 * st, st, 32, 32);
            p.input_spatial = [x, x, x];
            p.pad_before = [pad; 3];
            let phases = dim_phases(&p, 0);
            assert_eq!(phases.len(), st.min(x));
            for ph in &phases {
                for j in 0..ph.len {
                    let xx = signed(ph.r + st * j + pad);
                    let want: Vec<(usize, isize)> = (0..2 * st)
                        .filter(|&k| (xx - signed(k)).rem_euclid(signed(st)) == 0)
                        .map(|k| (k, (xx - signed(k)).div_euclid(signed(st))))
                        .collect();
                    let j = signed(j);
                    let got = vec![(ph.taps[1], j + ph.e + 1), (ph.taps[0], j + ph.e)];
                    assert_eq!(got, want, "x={x} s={st} pad={pad} r={} j={j}", ph.r);
                }
            }
        }
    }
}
