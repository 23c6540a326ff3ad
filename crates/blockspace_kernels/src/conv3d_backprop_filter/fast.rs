//! The production kernel (see the module docs of [`super`]).
//!
//! Task: a contiguous group of column blocks × a contiguous group of `oc` rows. For each chunk
//! of [`CHUNK`] positions, in order: transpose the task's rows of `dy` for the chunk into
//! `dyᵀ` (`rows × k`, contiguous over positions), then per column block pack
//! `col[chunk, block]` as `[k][NV·L]` and run balanced `MR × NV` tiles over the rows
//! (`a` = `dyᵀ`, `b` = the packed block, one tap entry, reduction over the chunk's
//! positions), adding each tile into the block's accumulator. Every element is summed chunk by
//! chunk in position order, whatever the tasks are, so the result does not depend on the
//! thread count.

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};

use ndarray::{Array5, ArrayView5};
use rayon::prelude::*;

use super::params::Conv3dBackpropFilterParams;
use crate::blocking::{ChannelBlock, split_blocks};
use crate::simd::{Isa, SimdElement, Tile};
use crate::{Element, KernelContext, KernelError};

/// Positions per chunk: the reduction length of one microkernel call. Fixed (never derived
/// from the thread count), since it fixes the summation order.
pub(super) const CHUNK: usize = 256;
/// Problems with fewer multiply-adds than this run on the calling thread.
const SERIAL_MACS: usize = 1 << 20;
/// Fewest `oc` rows worth a task of their own.
const MIN_TASK_ROWS: usize = 16;

/// A run of `len` input channels of one tap inside a column block.
#[derive(Debug, Clone, Copy)]
struct Segment {
    /// Dilated tap offsets `[kd·DD, kh·DH, kw·DW]`.
    off: [usize; 3],
    /// First input channel.
    ic0: usize,
    /// Channels in the run.
    len: usize,
    /// Column of the run inside the block.
    dst: usize,
}

/// One parallel task: column blocks × `oc` rows.
#[derive(Debug, Clone)]
struct Task {
    blocks: Range<usize>,
    rows: Range<usize>,
}

/// Everything a task needs, shared read-only by all threads.
struct Plan<'a, T> {
    isa: Isa,
    p: &'a Conv3dBackpropFilterParams,
    lanes: usize,
    /// `input`, NDHWC, contiguous.
    x: &'a [T],
    /// `out_backprop`, NDHWC, contiguous: `[positions][OC]`.
    dy: &'a [T],
    blocks: Vec<ChannelBlock>,
    /// Per block, its segments in column order.
    segments: Vec<Vec<Segment>>,
    positions: usize,
}

/// Per-task buffers.
struct Scratch<T> {
    /// `dyᵀ` of one chunk: `rows × k`.
    at: Vec<T>,
    /// One packed block of one chunk: `k × NV·L`.
    pack: Vec<T>,
    /// One tile's output.
    tmp: Vec<T>,
}

/// The column blocks' segments: which tap and channel run each part of a block copies.
fn segments(p: &Conv3dBackpropFilterParams, blocks: &[ChannelBlock]) -> Vec<Vec<Segment>> {
    let [_, kh_, kw_] = p.kernel;
    let ic = p.ic;
    blocks
        .iter()
        .map(|b| {
            let mut segs = Vec::new();
            let mut col = b.c0;
            while col < b.c0 + b.len {
                let (tap, ic0) = (col / ic, col % ic);
                let len = (ic - ic0).min(b.c0 + b.len - col);
                let (kd, kh, kw) = (tap / (kh_ * kw_), (tap / kw_) % kh_, tap % kw_);
                segs.push(Segment {
                    off: [
                        kd * p.dilations[0],
                        kh * p.dilations[1],
                        kw * p.dilations[2],
                    ],
                    ic0,
                    len,
                    dst: col - b.c0,
                });
                col += len;
            }
            segs
        })
        .collect()
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

impl<T: Element + SimdElement> Plan<'_, T> {
    /// `dyᵀ` of positions `p0..p0 + k` and `rows` into `at` (`rows.len() × k`).
    fn transpose_dy(&self, p0: usize, k: usize, rows: &Range<usize>, at: &mut [T]) {
        let oc = self.p.oc;
        let r_len = rows.len();
        for j in 0..k {
            let src = &self.dy[(p0 + j) * oc + rows.start..(p0 + j) * oc + rows.end];
            for (r, &v) in src.iter().enumerate() {
                at[r * k + j] = v;
            }
        }
        debug_assert!(r_len * k <= at.len(), "dyT fits");
    }

    /// Packs `col[p0..p0 + k, block]` into `pack` as `[k][width]`.
    fn pack(&self, block: usize, p0: usize, k: usize, pack: &mut [T]) {
        let p = self.p;
        let width = self.blocks[block].nv * self.lanes;
        let segs = &self.segments[block];
        let [d_, h_, w_] = p.input_spatial;
        let [od_, oh_, ow_] = p.out_spatial;
        let [sd, sh, sw] = p.strides;
        let [pd, ph, pw] = p.pad_before;
        let ic = p.ic;
        // Decode the first position, then step through the chunk.
        let mut ow = p0 % ow_;
        let mut oh = (p0 / ow_) % oh_;
        let mut od = (p0 / (ow_ * oh_)) % od_;
        let mut n = p0 / (ow_ * oh_ * od_);
        for j in 0..k {
            let row = &mut pack[j * width..(j + 1) * width];
            let (d0, h0, w0) = (od * sd, oh * sh, ow * sw);
            for s in segs {
                let dst = &mut row[s.dst..s.dst + s.len];
                // Input index + padding; valid when in [pad, pad + size).
                let (d, h, w) = (d0 + s.off[0], h0 + s.off[1], w0 + s.off[2]);
                if d >= pd && d < pd + d_ && h >= ph && h < ph + h_ && w >= pw && w < pw + w_ {
                    let src = (((n * d_ + d - pd) * h_ + h - ph) * w_ + w - pw) * ic + s.ic0;
                    dst.copy_from_slice(&self.x[src..src + s.len]);
                } else {
                    dst.fill(T::ZERO);
                }
            }
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
        let widths: Vec<usize> = self.blocks[t.blocks.clone()]
            .iter()
            .map(|b| b.nv * lanes)
            .collect();
        let max_w = widths.iter().copied().max().unwrap_or(0);
        let mut acc = vec![T::ZERO; r_len * widths.iter().sum::<usize>()];
        let mut s = Scratch {
            at: vec![T::ZERO; r_len * CHUNK],
            pack: vec![T::ZERO; CHUNK * max_w],
            tmp: vec![T::ZERO; self.isa.mr_max(1) * max_w],
        };
        let mut p0 = 0;
        while p0 < self.positions {
            ctx.check_cancelled()?;
            let k = CHUNK.min(self.positions - p0);
            self.transpose_dy(p0, k, &t.rows, &mut s.at);
            let mut off = 0;
            for (bi, &width) in t.blocks.clone().zip(&widths) {
                let blk = self.blocks[bi];
                self.pack(bi, p0, k, &mut s.pack);
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
                            a: &s.at,
                            lda: k,
                            taps: &[(r0 * k, 0)],
                            k,
                            b: &s.pack,
                            out: &mut s.tmp,
                            ldo: width,
                            last,
                        },
                    );
                    let dst = &mut acc[off + r0 * width..off + (r0 + mr) * width];
                    for (a, &v) in dst.iter_mut().zip(&s.tmp[..mr * width]) {
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

/// Computes `[KD, KH, KW, IC, OC]` with the microkernels of `isa`; `x` and `dy` are NDHWC.
pub(super) fn compute_on<T: Element>(
    isa: Isa,
    p: &Conv3dBackpropFilterParams,
    x: ArrayView5<'_, T>,
    dy: ArrayView5<'_, T>,
    ctx: &KernelContext,
) -> Result<Array5<T>, KernelError> {
    let [kd_, kh_, kw_] = p.kernel;
    let shape = (kd_, kh_, kw_, p.ic, p.oc);
    let cols = kd_ * kh_ * kw_ * p.ic;
    let [od_, oh_, ow_] = p.out_spatial;
    let positions = p.n * od_ * oh_ * ow_;
    if cols == 0 || p.oc == 0 || positions == 0 || x.is_empty() {
        return Ok(Array5::from_elem(shape, T::ZERO));
    }
    let size = std::mem::size_of::<T>() as u64;
    if !x.is_standard_layout() {
        ctx.limit
            .check("the NDHWC copy of input", x.len() as u64, size)?;
    }
    if !dy.is_standard_layout() {
        ctx.limit
            .check("the NDHWC copy of out_backprop", dy.len() as u64, size)?;
    }
    let x = x.as_standard_layout();
    let dy = dy.as_standard_layout();
    let layout = KernelError::Overflow {
        what: "operand layout",
    };
    let (xs, dys) = (
        x.as_slice().ok_or(layout.clone())?,
        dy.as_slice().ok_or(layout)?,
    );
    let lanes = isa.lanes(std::mem::size_of::<T>());
    let blocks = split_blocks(cols, lanes, isa.nv_max(), 0);
    let plan = Plan {
        isa,
        p,
        lanes,
        x: xs,
        dy: dys,
        segments: segments(p, &blocks),
        blocks,
        positions,
    };
    // Tasks: block groups × row groups.
    let threads = rayon::current_num_threads();
    let macs = positions.saturating_mul(cols).saturating_mul(p.oc);
    let parallel = threads > 1 && macs >= SERIAL_MACS;
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
    ctx.limit.check("the accumulators", padded as u64, size)?;
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
                    df[(blk.c0 + c) * oc + row] = v;
                }
            }
            off += t.rows.len() * width;
        }
    }
    Array5::from_shape_vec(shape, df).map_err(|_| KernelError::Overflow {
        what: "the output shape",
    })
}
