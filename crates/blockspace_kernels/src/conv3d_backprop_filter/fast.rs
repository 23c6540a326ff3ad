//! The production kernel (see the module docs of [`super`]).
//!
//! `dfᵀ[oc, col] = Σ_p dy[p, oc] · x[window(p) + off(col)]` over the positions `p` whose tap
//! lies inside the input. For a fixed `(kd, kh)` and unit W dilation, the columns
//! `(kw, ic)` are one contiguous run of `KW·IC` values of `x` (NDHWC); with a W dilation,
//! each tap's `IC` channels are. Runs are cut into blocks of at most `NV·L` columns.
//!
//! The microkernels of [`crate::simd`] then need no packing and no transposition: one *tap*
//! of a tile is one output position, with `k = 1`: `a` = `dy` (rows `oc` one apart,
//! `lda = 1`, tap offset `p·OC`), `b` = `x` (tap offset: where the block's `NV·L` values
//! start for that position). Positions whose `(kd, kh)` falls outside the input are skipped;
//! positions whose block straddles the W border (or would read past the end of `x`) get the
//! block's values copied, zero-filled where outside, into a small border buffer and run as a
//! second tap list. Lanes past a block's end read neighbouring values but are never stored.
//!
//! Positions are taken in fixed chunks ([`chunk`]); per chunk and block, a tile sums the
//! chunk's direct positions in order, then its border positions, in registers, and each sum
//! is added into the block's accumulator. Task: a fixed span of chunks × a contiguous group of
//! blocks × a contiguous group of `oc` rows; the spans' accumulators are added in span order
//! at the end. Every element is summed in this same order whatever the tasks are, so the
//! result does not depend on the thread count.

use ndarray::{Array5, ArrayView5, CowArray, Ix5};
use std::ops::Range;

use super::params::Conv3dBackpropFilterParams;
use crate::simd::{Isa, SimdElement, Taps, Tile, Vectorized, as_out, with_isa};
use crate::tiling::split_blocks;
use crate::{Element, KernelContext, KernelError, KernelPath, Reservation};

/// Positions per chunk. Fixed (never derived from the thread count), since it fixes the
/// summation order.
fn chunk(isa: Isa) -> usize {
    match isa.path() {
        // Measured: 1024 is ~3 % faster than 256 on B2 and B4 with AVX-512 (fewer tile
        // stores and tap-list rebuilds), but slower on AVX2's narrower tiles (B4, B5), whose
        // many row tiles re-read a chunk's input and want it in L1.
        KernelPath::Avx512 | KernelPath::PortableWide => 1024,
        KernelPath::Avx2 | KernelPath::Portable => 256,
    }
}

/// Problems with fewer multiply-adds than this run on the calling thread.
const SERIAL_MACS: usize = 1 << 20;
/// Tasks per thread to aim for (many, so rayon can balance them on a busy machine).
const TASKS_PER_THREAD: usize = 4;
/// Fewest positions in a span (whole chunks).
const SPAN_POSITIONS: usize = 2048;
/// Budget for the partial accumulators of all spans together.
const PARTIAL_BYTES: usize = 8 << 20;
/// Fewest `oc` rows worth a task of their own.
const MIN_TASK_ROWS: usize = 16;

/// Columns `col0..col0 + len` of `dfᵀ`: taps `(kd, kh, kw_first..=kw_last)`, starting at
/// channel `ic0` of `kw_first`.
#[derive(Debug, Clone, Copy)]
struct Block {
    kd: usize,
    kh: usize,
    kw_first: usize,
    kw_last: usize,
    /// First channel (of tap `kw_first`).
    ic0: usize,
    /// First column (`(tap, ic)` flattened, as in the output).
    col0: usize,
    /// Columns (`≤ nv·lanes`).
    len: usize,
    /// Vectors per tile row.
    nv: usize,
}

/// One parallel task: a span of positions × blocks × `oc` rows.
#[derive(Debug, Clone)]
struct Task {
    /// A fixed range of whole chunks of positions (a *span*).
    positions: Range<usize>,
    blocks: Range<usize>,
    rows: Range<usize>,
}

/// A run of consecutive output positions along W (same `n`, `od`, `oh`): the first one's `dy`
/// offset and window corner (may be negative: padding); position `j` of the run has `dy`
/// offset `dy + j·OC` and W corner `corner[2] + j·SW`.
#[derive(Debug, Clone, Copy)]
struct Run {
    dy: usize,
    len: usize,
    n: usize,
    corner: [isize; 3],
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
    blocks: Vec<Block>,
}

/// Per-task buffers.
#[derive(Default)]
struct Scratch<T> {
    runs: Vec<Run>,
    direct: Vec<(usize, usize)>,
    border: Vec<(usize, usize)>,
    border_x: Vec<T>,
    tmp: Vec<T>,
}

/// `dst += src` element by element, compiled for the microkernels' instruction set.
pub(super) struct AddInto<'a, T> {
    pub(super) dst: &'a mut [T],
    pub(super) src: &'a [T],
}

impl<T: Element> Vectorized for AddInto<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        for (a, &v) in self.dst.iter_mut().zip(self.src) {
            *a += v;
        }
    }
}

/// `len` items split into `parts` balanced contiguous ranges.
pub(super) fn balanced(len: usize, parts: usize) -> impl Iterator<Item = Range<usize>> {
    let parts = parts.max(1);
    (0..parts).scan(0, move |start, i| {
        let size = len / parts + usize::from(i < len % parts);
        let r = *start..*start + size;
        *start += size;
        Some(r)
    })
}

/// The column blocks: runs of columns contiguous in `x`, cut into tiles' widths.
fn blocks(p: &Conv3dBackpropFilterParams, lanes: usize, nv_max: usize) -> Vec<Block> {
    let [kd_, kh_, kw_] = p.kernel;
    let ic = p.ic;
    // (kd, kh, first kw, length) of each run.
    let mut runs = Vec::new();
    for kd in 0..kd_ {
        for kh in 0..kh_ {
            if p.dilations[2] == 1 {
                runs.push((kd, kh, 0, kw_ * ic));
            } else {
                runs.extend((0..kw_).map(|kw| (kd, kh, kw, ic)));
            }
        }
    }
    runs.into_iter()
        .flat_map(|(kd, kh, kw0, len)| {
            split_blocks(len, lanes, nv_max, 0)
                .into_iter()
                .map(move |b| Block {
                    kd,
                    kh,
                    kw_first: kw0 + b.c0 / ic,
                    kw_last: kw0 + (b.c0 + b.len - 1) / ic,
                    ic0: b.c0 % ic,
                    col0: ((kd * kh_ + kh) * kw_ + kw0) * ic + b.c0,
                    len: b.len,
                    nv: b.nv,
                })
        })
        .collect()
}

fn signed(v: usize) -> isize {
    isize::try_from(v).unwrap_or(isize::MAX)
}

impl<T: Element + SimdElement> Plan<'_, T> {
    /// Positions `p0..p0 + k`, as runs along W.
    fn chunk_runs(&self, p0: usize, k: usize, out: &mut Vec<Run>) {
        let p = self.p;
        let [od_, oh_, ow_] = p.out_spatial;
        let [sd, sh, sw] = p.strides;
        let [pd, ph, pw] = p.pad_before.map(signed);
        out.clear();
        let mut q = p0;
        while q < p0 + k {
            let ow = q % ow_;
            let oh = (q / ow_) % oh_;
            let od = (q / (ow_ * oh_)) % od_;
            let n = q / (ow_ * oh_ * od_);
            let len = (ow_ - ow).min(p0 + k - q);
            out.push(Run {
                dy: q * p.oc,
                len,
                n,
                corner: [
                    signed(od * sd) - pd,
                    signed(oh * sh) - ph,
                    signed(ow * sw) - pw,
                ],
            });
            q += len;
        }
    }

    /// The chunk's tap lists for `blk`: direct reads of `x`, and border rows copied into
    /// `s.border_x` (rows `width` apart).
    fn taps(&self, blk: &Block, width: usize, s: &mut Scratch<T>) {
        let p = self.p;
        let [d_, h_, w_] = p.input_spatial.map(signed);
        let [dd, dh, dw] = p.dilations.map(signed);
        let ic = p.ic;
        let (kd, kh) = (signed(blk.kd), signed(blk.kh));
        let (kw_first, kw_last) = (signed(blk.kw_first), signed(blk.kw_last));
        s.direct.clear();
        s.border.clear();
        let mut rows = 0;
        let sw = signed(p.strides[2]);
        let span = (kw_last - kw_first) * dw;
        for run in &s.runs {
            let d = run.corner[0] + kd * dd;
            let h = run.corner[1] + kh * dh;
            if d < 0 || d >= d_ || h < 0 || h >= h_ {
                continue;
            }
            // Non-negative and in range: checked just above.
            let base = ((run.n * p.input_spatial[0] + d.unsigned_abs()) * p.input_spatial[1]
                + h.unsigned_abs())
                * p.input_spatial[2];
            let len = signed(run.len);
            // W of the block's first tap at position 0 of the run; positions
            // `j_lo..j_hi` have the whole block inside the input (read directly).
            let w0 = run.corner[2] + kw_first * dw;
            let j_lo = if w0 >= 0 { 0 } else { (-w0 + sw - 1) / sw }.min(len);
            let j_hi = if w0 + span >= w_ {
                0
            } else {
                ((w_ - 1 - span - w0) / sw + 1).min(len)
            }
            .max(j_lo);
            for j in 0..len {
                let wl = w0 + j * sw;
                let dy = run.dy + j.unsigned_abs() * p.oc;
                if j >= j_lo && j < j_hi {
                    let xo = (base + wl.unsigned_abs()) * ic + blk.ic0;
                    if xo + width <= self.x.len() {
                        s.direct.push((dy, xo));
                        continue;
                    }
                } else if wl + span < 0 || wl >= w_ {
                    continue;
                }
                if s.border_x.len() < (rows + 1) * width {
                    s.border_x.resize((rows + 1) * width, T::ZERO);
                }
                // Tap by tap: its channels copied whole, or zeros where it lies outside.
                let row = &mut s.border_x[rows * width..rows * width + blk.len];
                let (mut c, mut ch0, mut w) = (0, blk.ic0, wl);
                while c < blk.len {
                    let seg = &mut row[c..(c + ic - ch0).min(blk.len)];
                    if w >= 0 && w < w_ {
                        let xo = (base + w.unsigned_abs()) * ic + ch0;
                        seg.copy_from_slice(&self.x[xo..xo + seg.len()]);
                    } else {
                        seg.fill(T::ZERO);
                    }
                    c += seg.len();
                    ch0 = 0;
                    w += dw;
                }
                s.border.push((dy, rows * width));
                rows += 1;
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
        let mut s = Scratch {
            tmp: vec![T::ZERO; self.isa.mr_max(1) * max_w],
            ..Scratch::default()
        };
        let dy = &self.dy[t.rows.start..];
        let mut p0 = t.positions.start;
        while p0 < t.positions.end {
            ctx.check_cancelled()?;
            let k = chunk(self.isa).min(t.positions.end - p0);
            self.chunk_runs(p0, k, &mut s.runs);
            let mut off = 0;
            for blk in blocks {
                let width = blk.nv * lanes;
                self.taps(blk, width, &mut s);
                let lists = [
                    (Taps::new(&s.direct), self.x),
                    (Taps::new(&s.border), &s.border_x[..]),
                ];
                let mr_max = self.isa.mr_max(blk.nv);
                let last = blk.len - (blk.nv - 1) * lanes;
                let mut r0 = 0;
                for tile_rows in balanced(r_len, r_len.div_ceil(mr_max)) {
                    let mr = tile_rows.len();
                    for &(taps, b) in &lists {
                        if taps.is_empty() {
                            continue;
                        }
                        T::tile(
                            self.isa,
                            mr,
                            blk.nv,
                            Tile {
                                a: &dy[r0..],
                                lda: 1,
                                taps,
                                k: 1,
                                b,
                                out: as_out(&mut s.tmp),
                                ldo: width,
                                last,
                                stream: false,
                            },
                        );
                        let dst = &mut acc[off + r0 * width..off + (r0 + mr) * width];
                        let src = &s.tmp[..mr * width];
                        with_isa(self.isa, AddInto { dst, src });
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

/// `a` in standard (NDHWC, contiguous) layout: a view when it already is, else a copy named
/// `what`, reserved in the memory budget (hold the reservation as long as the copy).
pub(super) fn contiguous<'a, T: Element>(
    a: ArrayView5<'a, T>,
    what: &'static str,
    ctx: &KernelContext,
) -> Result<(CowArray<'a, T, Ix5>, Reservation), KernelError> {
    if a.is_standard_layout() {
        return Ok((CowArray::from(a), Reservation::default()));
    }
    let held = ctx.reserve(what, a.len() as u64, std::mem::size_of::<T>() as u64)?;
    Ok((CowArray::from(a.as_standard_layout().into_owned()), held))
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
    let blocks = blocks(p, lanes, isa.nv_max());
    let (x, _x_copy) = contiguous(x, "the NDHWC copy of input", ctx)?;
    let xs = x.as_slice().ok_or(KernelError::Overflow {
        what: "input layout",
    })?;
    let (dy, _dy_copy) = contiguous(dy, "the NDHWC copy of out_backprop", ctx)?;
    let dys = dy.as_slice().ok_or(KernelError::Overflow {
        what: "out_backprop layout",
    })?;
    let plan = Plan {
        isa,
        p,
        lanes,
        x: xs,
        dy: dys,
        blocks,
    };
    // Spans: fixed runs of whole chunks, each summed into its own partial accumulators, which
    // are added in span order at the end. Their size depends only on the problem (never on
    // the thread count), so neither does the result.
    let nb = plan.blocks.len();
    let padded: usize = plan.blocks.iter().map(|b| b.nv * lanes).sum::<usize>() * p.oc;
    let chunk = chunk(isa);
    let chunks = positions.div_ceil(chunk);
    let max_spans = (PARTIAL_BYTES / (padded * size).max(1)).max(1);
    let span_chunks = chunks.div_ceil(max_spans).max(SPAN_POSITIONS / chunk);
    let spans = chunks.div_ceil(span_chunks);
    let _partials = ctx.reserve(
        "the partial accumulators",
        (padded as u64).saturating_mul(spans as u64),
        size as u64,
    )?;
    // Tasks: spans × block groups × row groups. Splitting blocks re-reads `dy`, splitting rows
    // re-reads `x`, so both are split only when the spans cannot feed every thread.
    let want = if parallel {
        TASKS_PER_THREAD * threads
    } else {
        1
    };
    let bgroups = nb.min(want.div_ceil(spans)).max(1);
    let rgroups = if parallel && spans * bgroups < threads {
        threads
            .div_ceil(spans * bgroups)
            .min(p.oc.div_ceil(MIN_TASK_ROWS))
            .max(1)
    } else {
        1
    };
    let span_len = span_chunks * chunk;
    let tasks: Vec<Task> = (0..spans)
        .flat_map(|sp| {
            let pr = sp * span_len..((sp + 1) * span_len).min(positions);
            balanced(nb, bgroups).flat_map(move |b| {
                let pr = pr.clone();
                balanced(p.oc, rgroups).map(move |r| Task {
                    positions: pr.clone(),
                    blocks: b.clone(),
                    rows: r,
                })
            })
        })
        .collect();
    let total = bgroups * rgroups * chunks;
    let counter = ctx.work_counter(total);
    let tick = || counter.tick();
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
    // dfᵀ partial accumulators, added in span order: tasks are span-major and every span has
    // the same (block group × row group) tasks, so task `i` of each span has the layout of
    // task `i` of span 0 and the spans are summed element by element, contiguously; then
    // transposed once -> [KD, KH, KW, IC, OC].
    let per_span = tasks.len() / spans;
    let _sums = ctx.reserve(
        "the summed partial accumulators",
        accs[..per_span].iter().map(|a| a.len() as u64).sum(),
        size as u64,
    )?;
    let mut sums: Vec<Vec<T>> = accs[..per_span]
        .iter()
        .map(|a| vec![T::ZERO; a.len()])
        .collect();
    for span in accs.chunks(per_span) {
        for (dst, src) in sums.iter_mut().zip(span) {
            with_isa(isa, AddInto { dst, src });
        }
    }
    let oc = p.oc;
    let mut df = vec![T::ZERO; cols * oc];
    for (t, acc) in tasks.iter().zip(&sums) {
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
