//! Winograd `F(2×2×2, R×R×R)` (`R` = 2 or 3) for the 3-D correlations the convolutions reduce
//! to: `Conv3D` with a filter exactly `R` strides wide (`k3 s1`, `k4 s2`, …) and the input
//! gradient with unit strides (`k3 s1`, `k2 s1`), in `f32` and `f64`.
//!
//! # The problem
//! A source tensor `[N, D, H, W, CS]` (NDHWC), cut into `S_D·S_H·S_W` *phases* (`S` per
//! dimension; the stride of a forward convolution, 1 otherwise), and output rows
//! ```text
//! y[n, o, :] = Σ_{phase r} Σ_{tap j < R} src[n, S·(o + j) + r + off, :] · w[r, j]      (per dimension)
//! ```
//! with source positions outside the tensor reading as zero. Stacking the phases along the
//! channels (`K = S_D·S_H·S_W·CS` reduction channels: a space-to-depth view, never copied),
//! this is a stride-1 `R×R×R` correlation, which Winograd computes per `2×2×2` output tile from
//! a `P×P×P` source tile (`P = R + 1`) with `P³` products per channel pair instead of `8·R³`:
//! 64 instead of 216 for `R = 3` (3.4× fewer multiplies), 27 instead of 64 for `R = 2`
//! (2.4×). Per dimension (see `transform.rs`):
//! ```text
//! F(2,3):  Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1]   G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]   Aᵀ = [1 1 1 0; 0 1 −1 −1]
//! F(2,2):  Bᵀ = [1 −1 0; 0 1 0; 0 −1 1]                    G = [1 0; 1 1; 0 1]                  Aᵀ = [1 1 0; 0 1 1]
//! ```
//! (`G` is stored times 2, so that integer filters transform to integers; the outputs are
//! multiplied by ⅛ at the end, exactly.) Each transform point `ξ` is a GEMM `V[ξ]` (tiles `× K`) times `U[ξ]` (`K × C_out`), run on
//! the register-blocked microkernels of the direct kernels; the input and output transforms
//! work on 16 channels at a time.
//!
//! # Rounding
//! With `u` the unit roundoff (2⁻²⁴ for `f32`, 2⁻⁵³ for `f64`), the computed output differs
//! from the exact one by at most (to first order)
//! ```text
//! |ŷ − y| ≤ 8·(K + 12)·u · Σ_c (Σ_taps |w_c|)·(Σ_window |x_c|)
//! ```
//! where the window is the `R×R×R` source positions (of every phase) the output reads, and the
//! sums run over the reduction channels: the input transform rounds once per dimension (3u),
//! the filter transform once (it is computed in `f64`, u), the `K`-term dot product of each
//! point at most `K·u`, the output transform twice per dimension (6u); and the absolute
//! transform coefficients that link a tap to a window position sum to at most 2 per dimension
//! (8 in 3-D). The direct kernel's bound is `27·K·u · Σ |w||x|` over the taps only. The
//! conversion of this bound into tests lives in `tests/correlation_rounding.rs`.
//!
//! Operands with a non-finite value, or a magnitude above 2⁴⁰ (`f32`) / 2⁴⁸⁰ (`f64`), must take
//! the direct kernel ([`values_fit`]): `Inf − Inf` inside a transform would turn TensorFlow's
//! `±Inf` into `NaN`, and the transforms' larger intermediates could overflow where the direct
//! sum does not.
//!
//! # Work split
//! Tasks are slabs `(n, tile row along D)` (two output planes). A slab runs its tiles in
//! blocks (as many as fit the L2 budget with their transformed values and products); each
//! output row is written once, by one tile, in a fixed order, so the result is identical for
//! any thread count.

use std::marker::PhantomData;

use ndarray::{Array5, ArrayView5};

use crate::simd::{Isa, RowWriter, SimdElement, Vectorized, build_by_rows, with_isa};
use crate::tiling::{Panels, channel_blocks, gemm_rows, signed};
use crate::{Element, KernelContext, KernelError};

mod points;
#[cfg(test)]
pub(crate) mod testing;
mod transform;
use points::{Points, SKIP};
use transform::{F22, F23, L, MAX_XI, Transform, filter_transform, input_chunk, output_chunk};
pub(crate) use transform::{add, load, store, sub};

/// Most `(phase, point)` pairs along one dimension (`S·P`; [`pays`] keeps `S ≤ 4`).
const MAX_AT: usize = 16;
/// L2 budget for one thread's block of transformed tiles and their products.
const TILE_BYTES: usize = 512 << 10;
/// Problems with fewer output values than this run on the calling thread.
const SERIAL_OUTPUTS: u64 = 1 << 14;

/// A correlation to compute (see the [module docs](self)).
pub(crate) struct Correlation<'a, T> {
    /// Batch items.
    pub(crate) n: usize,
    /// The source, NDHWC `[n, src_dims, cs]`, contiguous.
    pub(crate) src: &'a [T],
    /// Spatial size of the source.
    pub(crate) src_dims: [usize; 3],
    /// Channels per source row.
    pub(crate) cs: usize,
    /// Phases per dimension (`S`).
    pub(crate) phases: [usize; 3],
    /// Output `o`, tap `j`, phase `r` read source position `S·(o + j) + r + off`.
    pub(crate) off: [isize; 3],
    /// Spatial size of the output.
    pub(crate) out_dims: [usize; 3],
    /// Output channels.
    pub(crate) cout: usize,
    /// Filter taps per dimension (2 or 3).
    pub(crate) taps: usize,
    /// Tap `j` of phase `r` exists where `S·j + r < limit` (the filter's size per dimension;
    /// `R·S` when every phase has all `R` taps). A missing tap weighs zero.
    pub(crate) limit: [usize; 3],
}

/// Fewest reduction and output channels where the transforms cost less than the multiplies
/// they save.
const MIN_CHANNELS: usize = 32;
/// Largest transform point's filter panel (`K · cout` values) that stays in L2 beside a block
/// of tiles.
const MAX_PANEL_BYTES: usize = 256 << 10;

/// Fewest times fewer multiplies than the direct method for the transforms to pay (`k3 s2`,
/// 1.7× fewer, measured 1.8× slower than the direct kernel on B2: its transforms, one per
/// phase per tile, cost more than the multiplies they save).
const MIN_SAVINGS: f64 = 2.0;

/// Whether a correlation with `taps` taps per dimension over `phases` (tap `j` of phase `r`
/// existing where `S·j + r < limit`), `k` reduction and `cout` output channels of `size`-byte
/// values is worth the transforms (and they are not switched off).
pub(crate) fn pays(
    (taps, phases, limit): (usize, [usize; 3], [usize; 3]),
    (k, cout, size): (usize, usize, usize),
) -> bool {
    // The cheap bounds first: `savings` walks every phase, and strides can be huge.
    let fits = phases.iter().all(|&s| s.saturating_mul(taps + 1) <= MAX_AT)
        && k >= MIN_CHANNELS
        && cout >= MIN_CHANNELS
        && k.saturating_mul(cout).saturating_mul(size) <= MAX_PANEL_BYTES;
    let savings = || match taps {
        2 => points::savings::<F22>(phases, limit),
        3 => points::savings::<F23>(phases, limit),
        _ => 0.0,
    };
    fits && savings() >= MIN_SAVINGS && enabled()
}

/// `run(src, filter)` on the operands' values in standard layout, or `None` when one holds a
/// value the transforms cannot take ([`values_fit`]): then the direct kernel runs.
pub(crate) fn with_fitting<T: Element, R>(
    src: &ArrayView5<'_, T>,
    filter: &ArrayView5<'_, T>,
    run: impl FnOnce(&[T], &[T]) -> R,
) -> Option<R> {
    let (src, filter) = (src.as_standard_layout(), filter.as_standard_layout());
    let (s, f) = (src.as_slice()?, filter.as_slice()?);
    (values_fit(s) && values_fit(f)).then(|| run(s, f))
}

/// `values` (a correlation's output) as an NDHWC array of `shape`.
///
/// # Errors
/// [`KernelError::Overflow`] if the lengths disagree (never for [`correlate`]'s output).
pub(crate) fn ndhwc<T>(values: Vec<T>, shape: [usize; 5]) -> Result<Array5<T>, KernelError> {
    Array5::from_shape_vec(shape, values).map_err(|_| KernelError::Overflow {
        what: "the output shape",
    })
}

/// Whether the Winograd kernels may run: `BLOCKSPACE_WINOGRAD=off` makes every convolution
/// take the direct kernel (to compare speed, or to reproduce the direct kernel's rounding).
/// Read once per process.
pub(crate) fn enabled() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var("BLOCKSPACE_WINOGRAD").map_or(true, |v| v.trim() != "off"))
}

/// Largest magnitude of an operand value the transforms accept: 2⁴⁰ for `f32`, 2⁴⁸⁰ for
/// `f64` (see the module docs).
pub(crate) fn max_abs<T>() -> f64 {
    if std::mem::size_of::<T>() == 4 {
        1_099_511_627_776.0
    } else {
        3.121_748_550_315_992_3e144
    }
}

/// Whether every value is finite and small enough for the transforms (see the module docs).
pub(crate) fn values_fit<T: Element>(values: &[T]) -> bool {
    use rayon::prelude::*;
    let max_abs = max_abs::<T>();
    // A branch-free fold per block, so the check vectorizes.
    let fit = |s: &[T]| {
        s.iter()
            .fold(true, |ok, v| ok & (v.to_f64().abs() <= max_abs))
    };
    values
        .par_chunks(1 << 16)
        .all(|c| c.chunks(1 << 10).all(fit))
}

/// Computes the correlation `c` on `isa`: the output, NDHWC `[n, out_dims, cout]`.
/// `weight(phase, tap, k, co)` gives the filter: the weight of source channel `k` of phase
/// `phase` at tap `tap` (per dimension `< c.taps`) for output channel `co`.
///
/// # Errors
/// [`KernelError::TooLarge`] if the transformed filter exceeds `ctx.limit`;
/// [`KernelError::Cancelled`].
pub(crate) fn correlate<T: Element>(
    isa: Isa,
    c: &Correlation<'_, T>,
    weight: impl Fn([usize; 3], [usize; 3], usize, usize) -> T,
    ctx: &KernelContext,
) -> Result<Vec<T>, KernelError> {
    if c.taps == 2 {
        run::<F22, T>(isa, c, weight, ctx)
    } else {
        run::<F23, T>(isa, c, weight, ctx)
    }
}

/// The geometry shared by every task.
struct Plan<'a, 'c, T, W> {
    isa: Isa,
    c: &'a Correlation<'c, T>,
    lanes: usize,
    /// Transform points per tile.
    xi: usize,
    /// Transformed filter: per point `ξ`, its block panels (see [`Points`]).
    u: Vec<T>,
    /// Which phases each point needs, and where they live in `u` and `v`.
    points: Points,
    /// Tiles per dimension.
    tiles: [usize; 3],
    /// Tiles per block.
    tb: usize,
    /// Distance between two transform points in `prod` (`tb·cout`), plus one cache line, so
    /// that the `P³` rows of one tile never share a cache set (`v` is laid out likewise).
    prod_ld: usize,
    _w: PhantomData<fn() -> W>,
}

/// Per-thread scratch of the Winograd kernels (this one and the input gradient's phases).
#[derive(Default)]
pub(crate) struct Scratch<T> {
    /// Zeros (a source row outside the tensor).
    pub(crate) zero: Vec<T>,
    /// Transformed tiles (here `[ξ][tile][K]`).
    pub(crate) v: Vec<T>,
    /// Products (here `[ξ][tile][cout]`).
    pub(crate) prod: Vec<T>,
    /// One tile's 8 output rows.
    pub(crate) stage: Vec<T>,
}

impl<T: Element> Scratch<T> {
    /// Grows `zero`, `v`, `prod` and `stage` to at least these lengths.
    pub(crate) fn ensure(&mut self, lens: [usize; 4]) {
        let bufs = [&mut self.zero, &mut self.v, &mut self.prod, &mut self.stage];
        for (buf, len) in bufs.into_iter().zip(lens) {
            if buf.len() < len {
                buf.resize(len, T::ZERO);
            }
        }
    }
}

impl<T: Element + SimdElement, W: Transform> Plan<'_, '_, T, W> {
    fn ensure(&self, s: &mut Scratch<T>) {
        let c = self.c;
        s.ensure([c.cs, self.points.v_len, self.xi * self.prod_ld, 8 * c.cout]);
    }

    /// Tile `t` of a slab as `(th, tw)`.
    #[inline(always)]
    fn tile_hw(&self, t: usize) -> (usize, usize) {
        (t / self.tiles[2], t % self.tiles[2])
    }

    /// The input transforms of tiles `t0..t0 + nt` of slab `(n, td)` into `s.v`.
    #[inline(always)]
    fn input_tiles(&self, s: &mut Scratch<T>, [n, td]: [usize; 2], t0: usize, nt: usize) {
        let (p, c, pts) = (W::P, self.c, &self.points);
        let Scratch { v, zero, .. } = s;
        let zero: &[T] = &zero[..c.cs];
        let full = c.cs / L * L;
        let [d_, h_, w_] = c.src_dims;
        let step = [h_ * w_ * c.cs, w_ * c.cs, c.cs];
        let src = &c.src[n * d_ * step[0]..];
        for t in 0..nt {
            let (th, tw) = self.tile_hw(t0 + t);
            let corner = [2 * td, 2 * th, 2 * tw];
            // Per dimension, phase r and point a: the source offset, or SKIP outside.
            let mut at = [[SKIP; MAX_AT]; 3];
            for (dim, at) in at.iter_mut().enumerate() {
                for r in 0..c.phases[dim] {
                    for a in 0..p {
                        let pos = signed(c.phases[dim] * (corner[dim] + a) + r) + c.off[dim];
                        if let Ok(i) = usize::try_from(pos)
                            && i < c.src_dims[dim]
                        {
                            at[r * p + a] = i * step[dim];
                        }
                    }
                }
            }
            let mut tile_at = [0; MAX_XI];
            for (x, d) in tile_at.iter_mut().enumerate().take(self.xi) {
                *d = pts.v_off[x] + t * pts.k[x];
            }
            let mut g = 0;
            for rd in 0..c.phases[0] {
                for rh in 0..c.phases[1] {
                    for rw in 0..c.phases[2] {
                        let mut rows: [&[T]; MAX_XI] = [zero; MAX_XI];
                        for a in 0..p {
                            let od = at[0][rd * p + a];
                            for b in 0..p {
                                let oh = at[1][rh * p + b];
                                for e in 0..p {
                                    let ow = at[2][rw * p + e];
                                    if od != SKIP && oh != SKIP && ow != SKIP {
                                        let o = od + oh + ow;
                                        rows[(a * p + b) * p + e] = &src[o..o + c.cs];
                                    }
                                }
                            }
                        }
                        let mut dst = [SKIP; MAX_XI];
                        let slots = &pts.slot[g];
                        for x in 0..self.xi {
                            if slots[x] != SKIP {
                                dst[x] = tile_at[x] + slots[x];
                            }
                        }
                        for k0 in (0..full).step_by(L) {
                            input_chunk::<W, T>(&rows, v, &dst, k0, L);
                        }
                        if full < c.cs {
                            input_chunk::<W, T>(&rows, v, &dst, full, c.cs - full);
                        }
                        g += 1;
                    }
                }
            }
        }
    }

    /// The products `V[ξ] · U[ξ]` of `nt` tiles.
    fn products(&self, s: &mut Scratch<T>, nt: usize) {
        let pts = &self.points;
        for xi in 0..self.xi {
            let u = Panels {
                data: &self.u,
                b0: pts.u_off[xi],
                blocks: &pts.blocks[xi],
                lanes: self.lanes,
            };
            let v = (&s.v[..], pts.v_off[xi], pts.k[xi], pts.k[xi]);
            gemm_rows(
                self.isa,
                nt,
                v,
                &u,
                (&mut s.prod, xi * self.prod_ld, self.c.cout),
            );
        }
    }

    /// The output transforms of tiles `t0..t0 + nt` of slab `(·, td)`, written to `parts`
    /// (the slab's output planes).
    #[inline(always)]
    fn output_tiles(
        &self,
        s: &mut Scratch<T>,
        td: usize,
        (t0, nt): (usize, usize),
        parts: &mut [RowWriter<'_, T>],
    ) {
        let cout = self.c.cout;
        let [od_, oh_, ow_] = self.c.out_dims;
        let Scratch { prod, stage, .. } = s;
        let full = cout / L * L;
        let ld = self.prod_ld;
        for t in 0..nt {
            let (th, tw) = self.tile_hw(t0 + t);
            for k0 in (0..full).step_by(L) {
                output_chunk::<W, T>(prod, (t * cout, ld), (stage, cout), k0, L);
            }
            if full < cout {
                output_chunk::<W, T>(prod, (t * cout, ld), (stage, cout), full, cout - full);
            }
            for (a, plane) in parts.iter_mut().enumerate().take(od_ - 2 * td) {
                for b in 0..2.min(oh_ - 2 * th) {
                    for e in 0..2.min(ow_ - 2 * tw) {
                        let j = (a * 2 + b) * 2 + e;
                        let row = (2 * th + b) * ow_ + 2 * tw + e;
                        plane.write_row(row, &stage[j * cout..(j + 1) * cout]);
                    }
                }
            }
        }
    }

    /// Computes slab `(n, td)` into `parts`, its output planes.
    fn slab(
        &self,
        s: &mut Scratch<T>,
        [n, td]: [usize; 2],
        parts: &mut [RowWriter<'_, T>],
        ctx: &KernelContext,
    ) -> Result<(), KernelError> {
        self.ensure(s);
        let total = self.tiles[1] * self.tiles[2];
        let nblk = total.div_ceil(self.tb);
        let mut t0 = 0;
        for blk in 0..nblk {
            ctx.check_cancelled()?;
            let nt = total / nblk + usize::from(blk < total % nblk);
            with_isa(
                self.isa,
                InputStage {
                    plan: self,
                    s: &mut *s,
                    slab: [n, td],
                    tiles: (t0, nt),
                },
            );
            self.products(s, nt);
            with_isa(
                self.isa,
                OutputStage {
                    plan: self,
                    s: &mut *s,
                    td,
                    tiles: (t0, nt),
                    parts: &mut *parts,
                },
            );
            t0 += nt;
        }
        Ok(())
    }
}

/// The input transforms of a block of tiles, compiled for the plan's instruction set by
/// [`with_isa`] (everything it calls is `#[inline(always)]`).
struct InputStage<'a, 'p, 'c, T, W> {
    plan: &'a Plan<'p, 'c, T, W>,
    s: &'a mut Scratch<T>,
    slab: [usize; 2],
    tiles: (usize, usize),
}

impl<T: Element + SimdElement, W: Transform> Vectorized for InputStage<'_, '_, '_, T, W> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let (t0, nt) = self.tiles;
        self.plan.input_tiles(self.s, self.slab, t0, nt);
    }
}

/// The output transforms of a block of tiles (see [`InputStage`]).
struct OutputStage<'a, 'p, 'c, 'o, T, W> {
    plan: &'a Plan<'p, 'c, T, W>,
    s: &'a mut Scratch<T>,
    td: usize,
    tiles: (usize, usize),
    parts: &'a mut [RowWriter<'o, T>],
}

impl<T: Element + SimdElement, W: Transform> Vectorized for OutputStage<'_, '_, '_, '_, T, W> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        self.plan
            .output_tiles(self.s, self.td, self.tiles, &mut *self.parts);
    }
}

/// The filter in `f64` as `[tap][K][cout]`, transformed and packed per point and channel
/// block (only the phases each point needs, see [`Points`]).
fn transform_weights<W: Transform, T: Element>(
    c: &Correlation<'_, T>,
    weight: impl Fn([usize; 3], [usize; 3], usize, usize) -> T,
    pts: &Points,
    (k, lanes): (usize, usize),
) -> Vec<T> {
    let (r, cout) = (W::R, c.cout);
    let len = k * cout;
    let mut taps = vec![0.0f64; r * r * r * len];
    for (tap, chunk) in taps.chunks_exact_mut(len).enumerate() {
        let j = [tap / (r * r), (tap / r) % r, tap % r];
        let mut g = 0;
        for rd in 0..c.phases[0] {
            for rh in 0..c.phases[1] {
                for rw in 0..c.phases[2] {
                    let ph = [rd, rh, rw];
                    // A tap beyond the filter (`S·j + r ≥ limit`) weighs zero.
                    let exists = (0..3).all(|d| c.phases[d] * j[d] + ph[d] < c.limit[d]);
                    if exists {
                        for ci in 0..c.cs {
                            let row = &mut chunk[(g * c.cs + ci) * cout..][..cout];
                            for (co, v) in row.iter_mut().enumerate() {
                                *v = weight(ph, j, ci, co).to_f64();
                            }
                        }
                    }
                    g += 1;
                }
            }
        }
    }
    let uf = filter_transform::<W>(&taps, len);
    let mut u = vec![T::ZERO; pts.u_len];
    for (xi, src) in uf.chunks_exact(len).enumerate() {
        for blk in &pts.blocks[xi] {
            let width = blk.nv * lanes;
            for (i, &g) in pts.groups[xi].iter().enumerate() {
                for ci in 0..c.cs {
                    let (row, kk) = (i * c.cs + ci, g * c.cs + ci);
                    let out = &mut u[pts.u_off[xi] + blk.panel + row * width..][..blk.len];
                    for (cc, o) in out.iter_mut().enumerate() {
                        *o = T::from_f64(src[kk * cout + blk.c0 + cc]);
                    }
                }
            }
        }
    }
    u
}

fn run<W: Transform, T: Element>(
    isa: Isa,
    c: &Correlation<'_, T>,
    weight: impl Fn([usize; 3], [usize; 3], usize, usize) -> T,
    ctx: &KernelContext,
) -> Result<Vec<T>, KernelError> {
    let size = std::mem::size_of::<T>();
    let lanes = isa.lanes(size);
    let (p, r) = (W::P, W::R);
    let xi = p * p * p;
    let k = c.phases.iter().product::<usize>() * c.cs;
    let nv_max = channel_blocks(c.cout, k, 1, 1, lanes, size, isa)
        .iter()
        .map(|b| b.nv)
        .max()
        .unwrap_or(1);
    let tiles = c.out_dims.map(|o| o.div_ceil(2));
    // Tiles per block from the largest per-tile footprint (every phase at every point).
    let per_tile = (xi * (k + c.cout) * size).max(1);
    let tb = (TILE_BYTES / per_tile).clamp(1, (tiles[1] * tiles[2]).max(1));
    let points = Points::new::<W>((c.phases, c.limit, c.cs), (c.cout, lanes, nv_max), tb);
    let _transformed = ctx.reserve("the transformed filter", points.u_len as u64, size as u64)?;
    // The f64 staging of the filter transform: R³ taps, then P³ points (transient).
    let staging = ctx.reserve(
        "the filter transform's staging",
        ((r * r * r + xi) * k * c.cout) as u64,
        8,
    )?;
    let u = transform_weights::<W, T>(c, weight, &points, (k, lanes));
    drop(staging);
    let plan: Plan<'_, '_, T, W> = Plan {
        isa,
        c,
        lanes,
        xi,
        u,
        points,
        tiles,
        tb,
        prod_ld: tb * c.cout + L,
        _w: PhantomData,
    };
    let [od_, oh_, ow_] = c.out_dims;
    let plane = oh_ * ow_ * c.cout;
    let parts: Vec<(usize, usize)> = (0..c.n * od_)
        .map(|nd| (plane, (nd / od_) * tiles[0] + (nd % od_) / 2))
        .collect();
    let tasks = c.n * tiles[0];
    let counter = ctx.work_counter(tasks);
    let work = |s: &mut Scratch<T>, task: usize, out: &mut [RowWriter<'_, T>]| {
        plan.slab(s, [task / tiles[0], task % tiles[0]], out, ctx)?;
        counter.tick();
        Ok::<(), KernelError>(())
    };
    let outputs = (c.n * od_ * oh_ * ow_) as u64;
    let parallel = outputs >= SERIAL_OUTPUTS && rayon::current_num_threads() > 1;
    build_by_rows(isa, &parts, c.cout, tasks, parallel, Scratch::default, work)
}
