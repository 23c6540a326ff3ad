//! The production gather kernel (see the module docs of [`super`]).
//!
//! Work item: a *chunk*, `R` consecutive output rows `h` of one plane `(n, d)`. The rows of a
//! chunk fall into `SH` H classes (`h = h0 + rh + SH·i`) and each row's columns into `SW` W
//! phases (`w = rw + SW·j`); inside one class and phase the valid taps `(kd, kh, kw)` read
//! `dy` rows `oh = i + const` and columns `ow = j + const`. So a run of consecutive rows `i`
//! with the same `kh` taps, flattened to `F = i·OW + j`, reads `dy` at `F·M + const`: one
//! long GEMM `Σ_taps dy[F.., M] · Ft[M, C]` whose tiles `MR × NV·L` run through the
//! register-blocked microkernels of [`crate::simd`], with the per-call costs (tap lists,
//! dispatch, bounds checks) paid once per run instead of once per row.
//!
//! The flattened run also passes over the border columns of its rows, where some taps fall
//! outside `out_backprop` (they read the neighbouring row's values there); each border column
//! is then recomputed over all the run's rows at once, in one call of row stride `OW·M`, with
//! only its valid taps. The runs write a per-thread *stage* holding the chunk's rows by class
//! (`[rh][i][w][C]`, staged rows `OW·SW` columns apart, so flattened column `F` of phase `rw`
//! sits at column `rw + SW·F`); each staged row is then written to the output whole
//! (non-temporally where the output is large). Every element is summed in the order taps
//! (`kd`, `kh`, `kw`), then `m` (on x86 a single-row call splits `m` into interleaved partial
//! sums), independent of threads.
//!
//! A pointwise problem (`1×1×1` filter, unit strides) is one GEMM over all positions
//! ([`crate::tiling::pointwise_gemm`]).

use std::sync::{Mutex, PoisonError};

use ndarray::{Array5, ArrayView5};

use super::params::Conv3dBackpropInputParams;
use crate::simd::{Isa, RowWriter, SimdElement, Taps, Tile, as_out, build_by_rows};
use crate::tiling::{
    ChannelBlock, PANEL_BYTES, SERIAL_MACS, Scratch, channel_blocks, pack_panels, pointwise_gemm,
    run_blocks, signed,
};
use crate::{Element, KernelContext, KernelError};

/// Target bytes of output per chunk: the stage stays in L2 next to the packed filter.
const CHUNK_BYTES: usize = 128 << 10;
/// Fewest chunks a problem is split into where it has the rows, for balance over threads.
const MIN_CHUNKS: usize = 16;

/// The filter-tap pattern of one W stride phase.
#[derive(Debug, Clone)]
struct Phase {
    /// First output column `w`.
    rw: usize,
    /// Number of columns `j` (`w = rw + SW·j < W`).
    len: usize,
    /// `(kw, ow0)`: tap `kw` reads `ow = j + ow0`.
    taps: Vec<(usize, isize)>,
    /// `[lo, hi)`: the columns where every tap is valid (may be empty).
    lo: usize,
    /// End of the interior.
    hi: usize,
    /// Whether the rows of a run go through the interior as one flattened GEMM (the stage
    /// pitch is `OW` and the border columns the run passes over are few); otherwise row by
    /// row.
    flat: bool,
}

/// `(tap, out_index)` pairs that reach output index `i` along spatial dim `dim`.
fn taps_1d(i: usize, dim: usize, p: &Conv3dBackpropInputParams) -> Vec<(usize, usize)> {
    let (s, dil, pad) = (p.strides[dim], p.dilations[dim], p.pad_before[dim]);
    (0..p.kernel[dim])
        .filter_map(|k| {
            let num = (i + pad).checked_sub(k * dil)?;
            (num % s == 0 && num / s < p.out_spatial[dim]).then_some((k, num / s))
        })
        .collect()
}

/// The W stride phases with at least one column, and the stage pitch: the columns between
/// two staged rows of a class and phase.
///
/// The pitch is `OW` where every phase fits in it (so a run's rows are one flattened GEMM)
/// and it does not waste most of the stage; otherwise the longest phase, row by row.
fn phases(p: &Conv3dBackpropInputParams) -> (Vec<Phase>, usize) {
    let (w_, ow_) = (p.input_spatial[2], p.out_spatial[2]);
    let (s, dil, pad) = (p.strides[2], p.dilations[2], p.pad_before[2]);
    let mut phases: Vec<Phase> = (0..s.min(w_))
        .map(|rw| {
            let len = (w_ - rw).div_ceil(s);
            let taps: Vec<(usize, isize)> = (0..p.kernel[2])
                .filter_map(|kw| {
                    let num = signed(rw + pad) - signed(kw * dil);
                    (num.rem_euclid(signed(s)) == 0).then(|| (kw, num.div_euclid(signed(s))))
                })
                .collect();
            let lo = taps.iter().map(|&(_, o)| (-o).max(0)).max().unwrap_or(0);
            let hi = taps
                .iter()
                .map(|&(_, o)| signed(ow_) - o)
                .min()
                .unwrap_or(0);
            let clamp = |v: isize| usize::try_from(v.max(0)).unwrap_or(0).min(len);
            Phase {
                rw,
                len,
                taps,
                lo: clamp(lo),
                hi: clamp(hi).max(clamp(lo)),
                flat: false,
            }
        })
        .collect();
    let longest = phases.iter().map(|ph| ph.len).max().unwrap_or(0);
    let pitch = if longest <= ow_ && ow_ <= 2 * longest {
        ow_
    } else {
        longest
    };
    for ph in &mut phases {
        // Columns a flattened run computes per row only to discard or recompute them.
        let passed = pitch - (ph.hi - ph.lo);
        ph.flat = pitch == ow_ && ph.hi > ph.lo && 8 * passed <= pitch;
    }
    (phases, pitch)
}

/// Per-thread buffers of the chunk tasks.
struct Work<T> {
    s: Scratch,
    /// The chunk's output rows by class (see the module docs): room for the largest chunk.
    stage: Vec<T>,
    /// Offset in `stage` of each class's rows.
    bases: Vec<usize>,
}

/// Everything a chunk task needs, shared read-only by all threads.
struct Plan<'a, T> {
    isa: Isa,
    p: &'a Conv3dBackpropInputParams,
    lanes: usize,
    dy: &'a [T],
    packed: Vec<T>,
    blocks: Vec<ChannelBlock>,
    phases: Vec<Phase>,
    /// Stage columns per row of a class and phase ([`phases`]); a staged row holds
    /// `pitch·SW` columns.
    pitch: usize,
    kd_taps: Vec<Vec<(usize, usize)>>,
    kh_taps: Vec<Vec<(usize, usize)>>,
    /// Loop tiles outside channel blocks (when every block's panels fit in L2 together).
    tile_major: bool,
    /// Output rows per chunk (the last chunk of a plane may be shorter).
    chunk: usize,
}

impl<T: Element + SimdElement> Plan<'_, T> {
    /// Chunks per plane `(n, d)`.
    fn chunks_per_plane(&self) -> usize {
        self.p.input_spatial[1].div_ceil(self.chunk)
    }

    /// `(plane, first row, rows)` of chunk `task`.
    fn chunk_rows(&self, task: usize) -> (usize, usize, usize) {
        let cpp = self.chunks_per_plane();
        let h0 = (task % cpp) * self.chunk;
        (task / cpp, h0, self.chunk.min(self.p.input_spatial[1] - h0))
    }

    /// Elements between two staged rows of a class: `pitch·SW` columns of `C`.
    fn stage_row(&self) -> usize {
        self.pitch * self.p.strides[2] * self.p.c
    }

    /// Stage elements a chunk of `rows` rows needs, with each class's offset pushed to
    /// `bases`.
    fn layout(&self, rows: usize, bases: &mut Vec<usize>) -> usize {
        let sh = self.p.strides[1];
        bases.clear();
        let mut total = 0;
        for rh in 0..sh {
            bases.push(total);
            total += rows.saturating_sub(rh).div_ceil(sh) * self.stage_row();
        }
        total
    }

    /// Computes chunk `task` and writes its rows to `out`.
    fn chunk(&self, task: usize, w: &mut Work<T>, out: &mut RowWriter<'_, T>) {
        let p = self.p;
        let (sh, rs) = (p.strides[1], self.stage_row());
        let (plane, h0, rows) = self.chunk_rows(task);
        let (n, d) = (plane / p.input_spatial[0], plane % p.input_spatial[0]);
        self.layout(rows, &mut w.bases);
        for rh in 0..sh.min(rows) {
            let ni = (rows - rh).div_ceil(sh);
            let khl = |i: usize| &self.kh_taps[h0 + rh + sh * i];
            let mut i0 = 0;
            while i0 < ni {
                // A run: consecutive rows with the same `kh` taps (each reading the next
                // `dy` row).
                let same = |i: usize| {
                    khl(i).len() == khl(i0).len()
                        && khl(i).iter().zip(khl(i0)).all(|(a, b)| a.0 == b.0)
                };
                let i1 = (i0 + 1..ni).find(|&i| !same(i)).unwrap_or(ni);
                for ph in &self.phases {
                    let base = w.bases[rh] + i0 * rs;
                    self.run(w, (n, d), khl(i0), ph, (base, i1 - i0));
                }
                i0 = i1;
            }
        }
        let row_len = p.input_spatial[2] * p.c;
        for r in 0..rows {
            let from = w.bases[r % sh] + (r / sh) * rs;
            out.write_row(r, &w.stage[from..from + row_len]);
        }
    }

    /// The columns of phase `ph` in `rows` staged rows of one class from `first`, all with
    /// the `kh` taps `khl` (of the first row; each next row reads the next `dy` row).
    fn run(
        &self,
        w: &mut Work<T>,
        (n, d): (usize, usize),
        khl: &[(usize, usize)],
        ph: &Phase,
        (first, rows): (usize, usize),
    ) {
        let p = self.p;
        let (c_, m_, sw, rs) = (p.c, p.m, p.strides[2], self.stage_row());
        let [od_, oh_, ow_] = p.out_spatial;
        let [_, kh_, kw_] = p.kernel;
        let kdl = &self.kd_taps[d];
        let stage = &mut w.stage[first..first + rows * rs];
        // Column `j` of the phase in staged row `i`.
        let at = |i: usize, j: usize| i * rs + (ph.rw + sw * j) * c_;
        if kdl.is_empty() || khl.is_empty() || ph.taps.is_empty() {
            for i in 0..rows {
                for j in 0..ph.len {
                    stage[at(i, j)..at(i, j) + c_].fill(T::ZERO);
                }
            }
            return;
        }
        let s = &mut w.s;
        s.row_taps.clear();
        for &(kd, od) in kdl {
            for &(kh, oh) in khl {
                let row0 = signed((((n * od_ + od) * oh_ + oh) * ow_) * m_);
                for &(kw, ow0) in &ph.taps {
                    let tap = (kd * kh_ + kh) * kw_ + kw;
                    s.row_taps.push((tap, row0 + ow0 * signed(m_)));
                }
            }
        }
        if ph.hi > ph.lo {
            let cols = ph.hi - ph.lo;
            if ph.flat {
                // Staged rows are `OW·SW` columns apart: flattened column `F = i·OW + j`
                // lands at `at(0, F)`.
                let count = (rows - 1) * ow_ + cols;
                self.interior(s, ph.lo * m_, count, &mut stage[at(0, ph.lo)..]);
            } else {
                for i in 0..rows {
                    let out = &mut stage[at(i, ph.lo)..];
                    self.interior(s, (i * ow_ + ph.lo) * m_, cols, out);
                }
            }
        }
        for j in (0..ph.lo).chain(ph.hi..ph.len) {
            self.border(s, ph, (j, rows), &mut stage[at(0, j)..]);
        }
    }

    /// An interior tile over `dy` and the packed filter, storing into `out` (a phase's
    /// columns, `SW·C` apart).
    fn flat_tile<'o>(&'o self, out: &'o mut [T]) -> Tile<'o, T> {
        Tile {
            a: self.dy,
            lda: self.p.m,
            taps: Taps::new(&[]),
            k: self.p.m,
            b: &self.packed,
            out: as_out(out),
            ldo: self.p.strides[2] * self.p.c,
            last: self.lanes,
            stream: false,
        }
    }

    /// `count` consecutive flattened columns from `s.row_taps` moved by `shift` in `dy`, into
    /// `out` (columns `SW·C` apart).
    fn interior(&self, s: &mut Scratch, shift: usize, count: usize, out: &mut [T]) {
        let m_ = self.p.m;
        let shift = signed(shift);
        if self.tile_major || self.blocks.len() == 1 {
            s.block_taps(&self.blocks, (m_, self.lanes), shift);
            run_blocks(
                self.isa,
                count,
                (&self.blocks, &s.tile_taps),
                self.flat_tile(out),
            );
        } else {
            for blk in &self.blocks {
                let one = std::slice::from_ref(blk);
                s.block_taps(one, (m_, self.lanes), shift);
                run_blocks(
                    self.isa,
                    count,
                    (one, &s.tile_taps),
                    self.flat_tile(&mut *out),
                );
            }
        }
    }

    /// Border column `j` of phase `ph` over `rows` rows (`out` from the first row's, staged
    /// rows apart), with only the taps valid for it; zeros where none is.
    fn border(&self, s: &mut Scratch, ph: &Phase, (j, rows): (usize, usize), out: &mut [T]) {
        let (c_, m_) = (self.p.c, self.p.m);
        let ow_ = self.p.out_spatial[2];
        let ldo = self.stage_row();
        let jj = signed(j);
        s.edge_ok.clear();
        s.edge_ok.extend(
            ph.taps
                .iter()
                .map(|&(_, ow0)| (0..signed(ow_)).contains(&(jj + ow0))),
        );
        if !s.edge_ok.contains(&true) {
            for i in 0..rows {
                out[i * ldo..i * ldo + c_].fill(T::ZERO);
            }
            return;
        }
        for blk in &self.blocks {
            s.border_taps(blk, (m_, self.lanes), jj * signed(m_));
            let t = Tile {
                a: self.dy,
                lda: ow_ * m_,
                taps: Taps::new(&s.tile_taps),
                k: m_,
                b: &self.packed,
                out: as_out(&mut out[blk.c0..]),
                ldo,
                last: blk.last(self.lanes),
                stream: false,
            };
            T::tile(self.isa, rows, blk.nv, t);
        }
    }
}

/// Computes the NDHWC output with the microkernels of `isa`.
pub(super) fn compute_on<T: Element>(
    isa: Isa,
    p: &Conv3dBackpropInputParams,
    filter: ArrayView5<'_, T>,
    dy: ArrayView5<'_, T>,
    ctx: &KernelContext,
) -> Result<Array5<T>, KernelError> {
    let [d_, h_, w_] = p.input_spatial;
    let shape = (p.n, d_, h_, w_, p.c);
    // A 1×1×1 filter with unit strides is one GEMM over all positions (`pointwise_gemm`), in
    // rows of whole `(n, d)` planes (same memory layout), so tiles are long.
    let flat;
    let pointwise =
        p.kernel == [1, 1, 1] && p.strides == [1, 1, 1] && p.input_spatial == p.out_spatial;
    let p = if pointwise {
        flat = Conv3dBackpropInputParams {
            n: p.n * d_,
            input_spatial: [1, 1, h_ * w_],
            out_spatial: [1, 1, h_ * w_],
            pad_before: [0, 0, 0],
            ..p.clone()
        };
        &flat
    } else {
        p
    };
    let [d_, h_, w_] = p.input_spatial;
    let row_len = w_ * p.c;
    let rows = p.n * d_ * h_;
    if row_len == 0 || rows == 0 {
        return Ok(Array5::from_elem(shape, T::ZERO));
    }
    let size = std::mem::size_of::<T>();
    let lanes = isa.lanes(size);
    let ntaps: usize = p.kernel.iter().product();
    // Taps one row can touch (a stride phase of D and H, every kw): what must stay in L2.
    let row_taps: usize = (0..2)
        .map(|i| p.kernel[i].div_ceil(p.strides[i]).min(p.kernel[i]))
        .product::<usize>()
        * p.kernel[2];
    let blocks = channel_blocks(p.c, p.m, ntaps, row_taps, lanes, size, isa);
    let packed_len: usize = blocks.iter().map(|b| ntaps * p.m * b.nv * lanes).sum();
    let nvec: usize = blocks.iter().map(|b| b.nv).sum();
    let tile_major = blocks.len() > 1 && row_taps * p.m * nvec * lanes * size <= PANEL_BYTES;
    let _packed = ctx.reserve("the packed filter", packed_len as u64, size as u64)?;
    let [_, kh_, kw_] = p.kernel;
    let packed = pack_panels(&blocks, ntaps, p.m, lanes, |tap, mm, c| {
        filter[[tap / (kh_ * kw_), (tap / kw_) % kh_, tap % kw_, c, mm]]
    });
    let dy = dy.as_standard_layout();
    let dy = dy.as_slice().ok_or(KernelError::Overflow {
        what: "out_backprop layout",
    })?;
    if pointwise {
        let dims = (rows, w_, p.c);
        let dx = pointwise_gemm(isa, (dy, p.m), (&packed, &blocks), dims, ctx)?;
        return Array5::from_shape_vec(shape, dx).map_err(|_| KernelError::Overflow {
            what: "the output shape",
        });
    }
    let (phases, pitch) = phases(p);
    // Chunks of whole H classes of about `CHUNK_BYTES`, at least `MIN_CHUNKS` of them.
    let sh = p.strides[1];
    let fit = CHUNK_BYTES / (row_len * size) / sh;
    let balance = rows / MIN_CHUNKS / sh;
    let chunk = (fit.min(balance).max(1) * sh).min(h_);
    let plan = Plan {
        isa,
        p,
        lanes,
        dy,
        packed,
        blocks,
        phases,
        pitch,
        kd_taps: (0..d_).map(|d| taps_1d(d, 0, p)).collect(),
        kh_taps: (0..h_).map(|h| taps_1d(h, 1, p)).collect(),
        tile_major,
        chunk,
    };
    let tasks = p.n * d_ * plan.chunks_per_plane();
    let parallel = rayon::current_num_threads() > 1
        && rows.saturating_mul(row_len * ntaps * p.m) >= SERIAL_MACS;
    let threads = if parallel {
        rayon::current_num_threads()
    } else {
        1
    };
    let stage_len = plan.layout(chunk, &mut Vec::new());
    let _stages = ctx.reserve(
        "the per-thread stages",
        (stage_len * threads) as u64,
        size as u64,
    )?;
    let parts: Vec<(usize, usize)> = (0..tasks)
        .map(|t| (plan.chunk_rows(t).2 * row_len, t))
        .collect();
    // One set of buffers per worker thread, allocated here, before the output: stages
    // allocated by the tasks themselves (after the output) left a hole where the next call's
    // output did not fit, which measured 3–4 MiB more peak RSS on B2 (mimalloc).
    let slots: Vec<Mutex<Work<T>>> = (0..threads)
        .map(|_| {
            Mutex::new(Work {
                s: Scratch::default(),
                stage: vec![T::ZERO; stage_len],
                bases: Vec::new(),
            })
        })
        .collect();
    let counter = ctx.work_counter(tasks);
    let work = |(): &mut (), task: usize, out: &mut [RowWriter<'_, T>]| {
        ctx.check_cancelled()?;
        let slot = rayon::current_thread_index().unwrap_or(0) % slots.len();
        let mut w = slots[slot].lock().unwrap_or_else(PoisonError::into_inner);
        for part in out {
            plan.chunk(task, &mut w, part);
        }
        counter.tick();
        Ok::<(), KernelError>(())
    };
    let dx = build_by_rows(isa, &parts, row_len, tasks, parallel, || (), work)?;
    Array5::from_shape_vec(shape, dx).map_err(|_| KernelError::Overflow {
        what: "the output shape",
    })
}
