//! The production kernel (see the module docs of [`super`]).
//!
//! `dfᵀ[oc, col] = Σ_p dy[p, oc] · xp[pix(p) + off(col)]`, where `xp` is `x` zero-padded by
//! the convolution's padding (NDHWC), `pix(p)` the padded-input offset of position `p`'s
//! window corner and `off(col)` the offset of column `col = (tap, ic)` inside the window.
//! For a fixed `(kd, kh)` and unit W dilation, the columns `(kw, ic)` are one contiguous run
//! of `KW·IC` values of `xp` (with a W dilation, each tap's `IC` channels are). Runs are cut
//! into blocks of at most `NV·L` columns.
//!
//! The microkernels of [`crate::simd`] then need no packing and no transposition at all: one
//! *tap* of a tile is one output position, with `k = 1`: `a` = `dy` (rows `oc` one apart,
//! `lda = 1`, tap offset `p·OC`), `b` = `xp` (tap offset `pix(p) + off(block)`, the block's
//! `NV·L` consecutive values). Positions are taken in fixed chunks of [`CHUNK`]; a tile
//! accumulates a whole chunk in registers and is added into the block's accumulator. Lanes
//! past a block's end read neighbouring values of `xp` but are never stored.
//!
//! Task: a contiguous group of blocks × a contiguous group of `oc` rows. Every element is summed
//! chunk by chunk, positions in order, whatever the tasks are, so the result does not depend
//! on the thread count.

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};

use ndarray::{Array5, ArrayView5, ArrayViewMut5, Zip, s};

use super::params::Conv3dBackpropFilterParams;
use crate::blocking::split_blocks;
use crate::simd::{Isa, SimdElement, Tile};
use crate::{Element, KernelContext, KernelError};

/// Positions per chunk: the taps of one microkernel call. Fixed (never derived from the
/// thread count), since it fixes the summation order.
pub(super) const CHUNK: usize = 256;
/// Problems with fewer multiply-adds than this run on the calling thread.
const SERIAL_MACS: usize = 1 << 20;
/// Fewest `oc` rows worth a task of their own.
const MIN_TASK_ROWS: usize = 16;

/// Columns `col0..col0 + len` of `dfᵀ`, read at `xp[pix(p) + x_off..]`.
#[derive(Debug, Clone, Copy)]
struct Block {
    /// Offset of the first column inside a window of `xp`.
    x_off: usize,
    /// First column (`(tap, ic)` flattened, as in the output).
    col0: usize,
    /// Columns (`≤ nv·lanes`).
    len: usize,
    /// Vectors per tile row.
    nv: usize,
}

/// One parallel task: blocks × `oc` rows.
#[derive(Debug, Clone)]
struct Task {
    blocks: Range<usize>,
    rows: Range<usize>,
}

/// The padded input geometry.
#[derive(Debug, Clone, Copy)]
struct Padded {
    /// `[Dp, Hp, Wp]`.
    dims: [usize; 3],
}

/// Everything a task needs, shared read-only by all threads.
struct Plan<'a, T> {
    isa: Isa,
    p: &'a Conv3dBackpropFilterParams,
    lanes: usize,
    /// Padded `input`, NDHWC, with slack after the end.
    xp: &'a [T],
    xdims: Padded,
    /// `out_backprop`, NDHWC, contiguous: `[positions][OC]`.
    dy: &'a [T],
    blocks: Vec<Block>,
    positions: usize,
}

/// `len` items split into `parts` balanced contiguous ranges.
fn balanced(len: usize, parts: usize) -> impl Iterator<Item = Range<usize>> {
    let parts = parts.max(1);
    (0..parts).scan(0, move |start, i| {
        let size = len / parts + usize::from(i < len % parts);
        let r = *start..*start + size;
        *start += size;
        Some(r)
    })
}

/// The column blocks: runs of columns contiguous in `xp`, cut into tiles' widths.
fn blocks(p: &Conv3dBackpropFilterParams, xd: Padded, lanes: usize, nv_max: usize) -> Vec<Block> {
    let [kd_, kh_, kw_] = p.kernel;
    let [dd, dh, dw] = p.dilations;
    let [_, hp, wp] = xd.dims;
    let ic = p.ic;
    // (x offset, first column, length) of each run.
    let mut runs = Vec::new();
    for kd in 0..kd_ {
        for kh in 0..kh_ {
            let base = (kd * dd * hp + kh * dh) * wp;
            let col = (kd * kh_ + kh) * kw_ * ic;
            if dw == 1 {
                runs.push((base * ic, col, kw_ * ic));
            } else {
                for kw in 0..kw_ {
                    runs.push(((base + kw * dw) * ic, col + kw * ic, ic));
                }
            }
        }
    }
    runs.into_iter()
        .flat_map(|(x_off, col0, len)| {
            split_blocks(len, lanes, nv_max, 0)
                .into_iter()
                .map(move |b| Block {
                    x_off: x_off + b.c0,
                    col0: col0 + b.c0,
                    len: b.len,
                    nv: b.nv,
                })
        })
        .collect()
}

impl<T: Element + SimdElement> Plan<'_, T> {
    /// `(p·OC, pix(p))` of positions `p0..p0 + k`.
    fn chunk_offsets(&self, p0: usize, k: usize, out: &mut Vec<(usize, usize)>) {
        let p = self.p;
        let [od_, oh_, ow_] = p.out_spatial;
        let [sd, sh, sw] = p.strides;
        let [dp, hp, wp] = self.xdims.dims;
        let (ic, oc) = (p.ic, p.oc);
        let mut ow = p0 % ow_;
        let mut oh = (p0 / ow_) % oh_;
        let mut od = (p0 / (ow_ * oh_)) % od_;
        let mut n = p0 / (ow_ * oh_ * od_);
        out.clear();
        for j in 0..k {
            let pix = (((n * dp + od * sd) * hp + oh * sh) * wp + ow * sw) * ic;
            out.push(((p0 + j) * oc, pix));
            ow += 1;
            if ow == ow_ {
                ow = 0;
                oh += 1;
                if oh == oh_ {
                    oh = 0;
                    od += 1;
                    if od == od_ {
                        od = 0;
                        n += 1;
                    }
                }
            }
        }
    }

    /// Runs one task over every chunk; returns its accumulators, per block `rows × NV·L`.
    fn task(&self, t: &Task, ctx: &KernelContext, tick: &dyn Fn()) -> Result<Vec<T>, KernelError> {
        let lanes = self.lanes;
        let r_len = t.rows.len();
        let blocks = &self.blocks[t.blocks.clone()];
        let max_w = blocks.iter().map(|b| b.nv * lanes).max().unwrap_or(0);
        let mut acc = vec![T::ZERO; r_len * blocks.iter().map(|b| b.nv * lanes).sum::<usize>()];
        let mut tmp = vec![T::ZERO; self.isa.mr_max(1) * max_w];
        let mut offsets = Vec::with_capacity(CHUNK);
        let mut taps = Vec::with_capacity(CHUNK);
        let dy = &self.dy[t.rows.start..];
        let mut p0 = 0;
        while p0 < self.positions {
            ctx.check_cancelled()?;
            let k = CHUNK.min(self.positions - p0);
            self.chunk_offsets(p0, k, &mut offsets);
            let mut off = 0;
            for blk in blocks {
                let width = blk.nv * lanes;
                taps.clear();
                taps.extend(offsets.iter().map(|&(a, x)| (a, x + blk.x_off)));
                let mr_max = self.isa.mr_max(blk.nv);
                let last = blk.len - (blk.nv - 1) * lanes;
                let mut r0 = 0;
                for tile_rows in balanced(r_len, r_len.div_ceil(mr_max)) {
                    let mr = tile_rows.len();
                    T::tile(
                        self.isa,
                        mr,
                        blk.nv,
                        Tile {
                            a: &dy[r0..],
                            lda: 1,
                            taps: &taps,
                            k: 1,
                            b: self.xp,
                            out: &mut tmp,
                            ldo: width,
                            last,
                        },
                    );
                    let dst = &mut acc[off + r0 * width..off + (r0 + mr) * width];
                    for (a, &v) in dst.iter_mut().zip(&tmp[..mr * width]) {
                        *a += v;
                    }
                    r0 += mr;
                }
                off += r_len * width;
            }
            tick();
            p0 += k;
        }
        Ok(acc)
    }
}

/// `x` zero-padded to `dims`, with `pad` before, and `slack` zeros after the end.
fn pad_input<T: Element>(
    x: &ArrayView5<'_, T>,
    dims: [usize; 3],
    pad: [usize; 3],
    slack: usize,
    parallel: bool,
) -> Result<Vec<T>, KernelError> {
    let (n, d, h, w, c) = x.dim();
    let [dp, hp, wp] = dims;
    let len = n * dp * hp * wp * c;
    let mut buf = vec![T::ZERO; len + slack];
    let mut view = ArrayViewMut5::from_shape((n, dp, hp, wp, c), &mut buf[..len]).map_err(|_| {
        KernelError::Overflow {
            what: "the padded input shape",
        }
    })?;
    let [pd, ph, pw] = pad;
    let inner = view.slice_mut(s![.., pd..pd + d, ph..ph + h, pw..pw + w, ..]);
    let zip = Zip::from(inner).and(x);
    if parallel {
        zip.par_for_each(|o, &v| *o = v);
    } else {
        zip.for_each(|o, &v| *o = v);
    }
    Ok(buf)
}

/// Computes `[KD, KH, KW, IC, OC]` with the microkernels of `isa`; `x` and `dy` are NDHWC.
pub(super) fn compute_on<T: Element>(
    isa: Isa,
    p: &Conv3dBackpropFilterParams,
    x: ArrayView5<'_, T>,
    dy: ArrayView5<'_, T>,
    ctx: &KernelContext,
) -> Result<Array5<T>, KernelError> {
    use rayon::prelude::*;

    let [kd_, kh_, kw_] = p.kernel;
    let shape = (kd_, kh_, kw_, p.ic, p.oc);
    let cols = kd_ * kh_ * kw_ * p.ic;
    let [od_, oh_, ow_] = p.out_spatial;
    let positions = p.n * od_ * oh_ * ow_;
    if cols == 0 || p.oc == 0 || positions == 0 || x.is_empty() {
        return Ok(Array5::from_elem(shape, T::ZERO));
    }
    let size = std::mem::size_of::<T>();
    let lanes = isa.lanes(size);
    let threads = rayon::current_num_threads();
    let macs = positions.saturating_mul(cols).saturating_mul(p.oc);
    let parallel = threads > 1 && macs >= SERIAL_MACS;
    // Padded geometry: every window of every position lies inside.
    let mut dims = [0usize; 3];
    for (i, dim) in dims.iter_mut().enumerate() {
        let reach = (p.out_spatial[i] - 1) * p.strides[i] + (p.kernel[i] - 1) * p.dilations[i] + 1;
        *dim = (p.pad_before[i] + p.input_spatial[i]).max(reach);
    }
    let xd = Padded { dims };
    let blocks = blocks(p, xd, lanes, isa.nv_max());
    // The furthest any tile reads in xp.
    let [dp, hp, wp] = dims;
    let padded_len = p.n * dp * hp * wp * p.ic;
    let last_pix = ((((p.n - 1) * dp + (od_ - 1) * p.strides[0]) * hp
        + (oh_ - 1) * p.strides[1])
        * wp
        + (ow_ - 1) * p.strides[2])
        * p.ic;
    let reach = last_pix
        + blocks
            .iter()
            .map(|b| b.x_off + b.nv * lanes)
            .max()
            .unwrap_or(0);
    let direct = p.pad_before == [0; 3]
        && dims == p.input_spatial
        && x.is_standard_layout()
        && reach <= padded_len;
    let copied;
    let xp: &[T] = if direct {
        x.as_slice().ok_or(KernelError::Overflow {
            what: "input layout",
        })?
    } else {
        let slack = reach.saturating_sub(padded_len);
        ctx.limit
            .check("the padded input", (padded_len + slack) as u64, size as u64)?;
        copied = pad_input(&x, dims, p.pad_before, slack, parallel)?;
        &copied
    };
    if !dy.is_standard_layout() {
        ctx.limit
            .check("the NDHWC copy of out_backprop", dy.len() as u64, size as u64)?;
    }
    let dy = dy.as_standard_layout();
    let dys = dy.as_slice().ok_or(KernelError::Overflow {
        what: "out_backprop layout",
    })?;
    let plan = Plan {
        isa,
        p,
        lanes,
        xp,
        xdims: xd,
        dy: dys,
        blocks,
        positions,
    };
    // Tasks: block groups × row groups.
    let target = if parallel { 2 * threads } else { 1 };
    let nb = plan.blocks.len();
    let bgroups = nb.min(target);
    let rgroups = target
        .div_ceil(bgroups)
        .min(p.oc.div_ceil(MIN_TASK_ROWS))
        .max(1);
    let tasks: Vec<Task> = balanced(nb, bgroups)
        .flat_map(|b| {
            balanced(p.oc, rgroups).map(move |r| Task {
                blocks: b.clone(),
                rows: r,
            })
        })
        .collect();
    let padded: usize = plan.blocks.iter().map(|b| b.nv * lanes).sum::<usize>() * p.oc;
    ctx.limit
        .check("the accumulators", padded as u64, size as u64)?;
    let chunks = positions.div_ceil(CHUNK);
    let total = tasks.len() * chunks;
    let done = AtomicUsize::new(0);
    let report_every = (total / 100).max(1);
    let tick = || {
        let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(progress) = &ctx.progress
            && (finished.is_multiple_of(report_every) || finished == total)
        {
            progress(finished as f64 / total as f64);
        }
    };
    let run = |t: &Task| plan.task(t, ctx, &tick);
    let accs: Vec<Vec<T>> = if parallel {
        tasks
            .par_iter()
            .with_max_len(1)
            .map(run)
            .collect::<Result<_, _>>()?
    } else {
        tasks.iter().map(run).collect::<Result<_, _>>()?
    };
    // dfᵀ accumulators -> [KD, KH, KW, IC, OC].
    let oc = p.oc;
    let mut df = vec![T::ZERO; cols * oc];
    for (t, acc) in tasks.iter().zip(&accs) {
        let mut off = 0;
        for blk in &plan.blocks[t.blocks.clone()] {
            let width = blk.nv * lanes;
            for (r, row) in t.rows.clone().enumerate() {
                let src = &acc[off + r * width..off + r * width + blk.len];
                for (c, &v) in src.iter().enumerate() {
                    df[(blk.col0 + c) * oc + row] = v;
                }
            }
            off += t.rows.len() * width;
        }
    }
    Array5::from_shape_vec(shape, df).map_err(|_| KernelError::Overflow {
        what: "the output shape",
    })
}
