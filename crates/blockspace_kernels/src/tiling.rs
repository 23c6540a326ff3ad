//! Machinery shared by the gather kernels built on [`crate::simd::Tile`]: channel blocking,
//! filter packing, balanced row tiles, and the row-parallel driver with cancel and progress.

use crate::simd::{
    Column, Isa, RowWriter, STREAM_MIN_BYTES, SimdElement, Taps, Tile, as_out, build_by_rows,
};
use crate::{Element, KernelContext, KernelError};

/// Problems with fewer multiply-adds than this run on the calling thread.
pub(crate) const SERIAL_MACS: usize = 1 << 20;
/// L2 budget for one channel block's packed panels (Zen 4: 1 MiB L2 per core).
pub(crate) const PANEL_BYTES: usize = 480 << 10;
/// Target multiply-adds per parallel task.
const TASK_MACS: usize = 1 << 18;
/// Largest output row [`run_rows`] computes in a per-thread buffer: a quarter of L1, so the
/// buffer stays there next to the tiles' operands, and the rows need no zero-fill (where
/// every element is computed) and no read for ownership. Measured on Zen 4: rows of 4 KiB
/// (the input gradient's B2) 3–8 % faster staged, rows of 16 KiB (Conv3D's B5) 6 % slower;
/// on Zen 3 (one thread): rows of 8 KiB (float64 B2) 3–7 % faster staged for the input
/// gradient, 4 % for Conv3D.
const STAGE_ROW_BYTES: usize = 8 << 10;
/// Bytes of output per task when rows are staged: every task ends with a store fence that
/// waits for its non-temporal stores, so tasks of a single small row would mostly wait.
const STAGE_TASK_BYTES: usize = 256 << 10;

/// A block of consecutive channels (or any columns) handled by one tile column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ChannelBlock {
    /// First channel.
    pub(crate) c0: usize,
    /// Channels in the block (`≤ nv·lanes`).
    pub(crate) len: usize,
    /// Vectors per tile row.
    pub(crate) nv: usize,
    /// Offset of this block's panels in the packed buffer (see [`split_blocks`]).
    pub(crate) panel: usize,
}

impl ChannelBlock {
    /// Lanes of the block's last vector that hold channels (`1..=lanes`): a tile's `last`.
    pub(crate) fn last(&self, lanes: usize) -> usize {
        self.len - (self.nv - 1) * lanes
    }

    /// The block as a [`Column`] of [`SimdElement::tiles_across`] over `taps`.
    pub(crate) fn column<'a>(&self, lanes: usize, taps: Taps<'a>) -> Column<'a> {
        Column {
            c0: self.c0,
            nv: self.nv,
            last: self.last(lanes),
            taps,
        }
    }
}

/// Per-thread scratch of the gather kernels (Conv3D, the input gradient): one output row's
/// taps and one tile's tap list, reused from row to row.
#[derive(Default)]
pub(crate) struct Scratch {
    /// The row's taps: `(tap index, operand offset of the row's first column)` (may be negative).
    pub(crate) row_taps: Vec<(usize, isize)>,
    /// Which `kw` taps are valid for a border column.
    pub(crate) edge_ok: Vec<bool>,
    /// `(operand offset, packed-filter offset)` per tap: one border column's, or the
    /// interior's for each block in turn (see [`run_blocks`]).
    pub(crate) tile_taps: Vec<(usize, usize)>,
}

impl Scratch {
    /// Fills `tile_taps` with the interior tap list of each of `blocks` in turn: every
    /// `row_taps` entry with its operand offset moved by `shift`, and its panel in the block
    /// (`k` rows of `nv·lanes` per tap), as [`run_blocks`] takes them.
    pub(crate) fn block_taps(
        &mut self,
        blocks: &[ChannelBlock],
        (k, lanes): (usize, usize),
        shift: isize,
    ) {
        self.tile_taps.clear();
        for blk in blocks {
            let stride_b = k * blk.nv * lanes;
            self.tile_taps.extend(self.row_taps.iter().map(|&(tap, a)| {
                (
                    usize::try_from(a + shift).unwrap_or(usize::MAX),
                    blk.panel + tap * stride_b,
                )
            }));
        }
    }

    /// Fills `tile_taps` with a border column's tap list for `blk`: the `row_taps` entries
    /// (`kw` innermost) whose `kw` is valid there (`edge_ok`, one flag per `kw`, not empty),
    /// each operand offset moved by `shift`, with its panel in the block (`k` rows of
    /// `nv·lanes` per tap).
    pub(crate) fn border_taps(
        &mut self,
        blk: &ChannelBlock,
        (k, lanes): (usize, usize),
        shift: isize,
    ) {
        let stride_b = k * blk.nv * lanes;
        let nkw = self.edge_ok.len();
        self.tile_taps.clear();
        for (ti, &(tap, a)) in self.row_taps.iter().enumerate() {
            if self.edge_ok[ti % nkw] {
                self.tile_taps.push((
                    usize::try_from(a + shift).unwrap_or(usize::MAX),
                    blk.panel + tap * stride_b,
                ));
            }
        }
    }
}

/// Splits the `c` output channels (`c.div_ceil(lanes)` vectors) into balanced blocks of at
/// most `isa.nv_max()` vectors, each with `taps` panels of `k` rows.
///
/// `row_taps` is how many taps one output row can touch: a block is kept narrow enough that
/// those panels (`row_taps × k` rows) stay within the L2 budget.
pub(crate) fn channel_blocks(
    c: usize,
    k: usize,
    taps: usize,
    row_taps: usize,
    lanes: usize,
    size: usize,
    isa: Isa,
) -> Vec<ChannelBlock> {
    let vec_bytes = (row_taps * k * lanes * size).max(1);
    let nv_fit = (PANEL_BYTES / vec_bytes).clamp(1, isa.nv_max());
    split_blocks(c, lanes, nv_fit, taps * k)
}

/// Splits `len` columns into the fewest balanced blocks of at most `nv_max` vectors of
/// `lanes` lanes (vector counts differ by at most one; only the last block has a partial
/// vector). Block `b`'s panels start `panel_rows · nv·lanes` elements after block `b - 1`'s.
pub(crate) fn split_blocks(
    len: usize,
    lanes: usize,
    nv_max: usize,
    panel_rows: usize,
) -> Vec<ChannelBlock> {
    let nvec = len.div_ceil(lanes.max(1));
    let nblocks = nvec.div_ceil(nv_max.max(1));
    let mut blocks = Vec::with_capacity(nblocks);
    let (mut v0, mut panel) = (0, 0);
    for b in 0..nblocks {
        let nv = nvec / nblocks + usize::from(b < nvec % nblocks);
        let c0 = v0 * lanes;
        blocks.push(ChannelBlock {
            c0,
            len: (len - c0).min(nv * lanes),
            nv,
            panel,
        });
        panel += panel_rows * nv * lanes;
        v0 += nv;
    }
    blocks
}

/// Packs a filter per channel block as `[tap][k][nv·lanes]`, zero-padded past the block's
/// channels: `value(tap, kk, channel)` gives each entry.
pub(crate) fn pack_panels<T: Element>(
    blocks: &[ChannelBlock],
    taps: usize,
    k: usize,
    lanes: usize,
    value: impl Fn(usize, usize, usize) -> T,
) -> Vec<T> {
    let total: usize = blocks.iter().map(|b| taps * k * b.nv * lanes).sum();
    let mut out = vec![T::ZERO; total];
    for b in blocks {
        let width = b.nv * lanes;
        let mut o = b.panel;
        for tap in 0..taps {
            for kk in 0..k {
                for cc in 0..b.len {
                    out[o + cc] = value(tap, kk, b.c0 + cc);
                }
                o += width;
            }
        }
    }
    out
}

/// Balanced tiles `(j0, mr)` of at most `mr_max` rows covering `lo..hi`.
pub(crate) fn tiles(
    lo: usize,
    hi: usize,
    mr_max: usize,
) -> impl Iterator<Item = (usize, usize)> + use<> {
    let rows = hi.saturating_sub(lo);
    let ntiles = rows.div_ceil(mr_max.max(1));
    (0..ntiles).scan(lo, move |j0, t| {
        let mr = rows / ntiles + usize::from(t < rows % ntiles);
        let start = *j0;
        *j0 += mr;
        Some((start, mr))
    })
}

/// What [`visit_tiles`] hands its visitor.
pub(crate) enum Visit<'b> {
    /// `Interior(blocks, j0, rows)`: columns `j0..j0 + rows` of every block of `blocks`, all
    /// their taps valid (see [`run_blocks`]).
    Interior(&'b [ChannelBlock], usize, usize),
    /// `Edge(block, j)`: border column `j` of one block, with only its valid taps.
    Edge(&'b ChannelBlock, usize),
}

/// Visits the columns `0..len` of one output row for every channel block: the interior
/// `lo..hi` in one visit (the microkernels split it into tiles), the border columns one by
/// one.
///
/// With `tile_major` (all blocks' panels fit in L2 together), the interior of every block is
/// one visit, run tile by tile with every block on each tile ([`run_blocks`]), so the tile's
/// input rows stay hot in L1; otherwise block by block, so one block's panels stay in L2
/// while its tiles run.
pub(crate) fn visit_tiles(
    blocks: &[ChannelBlock],
    tile_major: bool,
    (lo, hi, len): (usize, usize, usize),
    mut visit: impl FnMut(Visit<'_>),
) {
    let edges = (0..lo).chain(hi..len);
    if tile_major {
        if hi > lo {
            visit(Visit::Interior(blocks, lo, hi - lo));
        }
        for j in edges {
            for blk in blocks {
                visit(Visit::Edge(blk, j));
            }
        }
    } else {
        for blk in blocks {
            if hi > lo {
                visit(Visit::Interior(std::slice::from_ref(blk), lo, hi - lo));
            }
            for j in edges.clone() {
                visit(Visit::Edge(blk, j));
            }
        }
    }
}

/// Most channel blocks one [`run_blocks`] call hands the microkernels at once.
const COLUMNS: usize = 8;

/// Runs `rows` rows of `t` for every block of `blocks`, block `b` over its own taps
/// `lists[b·n..(b + 1)·n]` (`n` taps per block; `t.taps` and `t.last` are not read), block
/// `b` storing from column `b.c0` of `t.out`: tile-major, one
/// [`SimdElement::tiles_across`] call per group of up to [`COLUMNS`] blocks.
pub(crate) fn run_blocks<T: SimdElement>(
    isa: Isa,
    rows: usize,
    (blocks, lists): (&[ChannelBlock], &[(usize, usize)]),
    t: Tile<'_, T>,
) {
    let lanes = isa.lanes(std::mem::size_of::<T>());
    if let [blk] = blocks {
        T::tiles_across(isa, rows, &[blk.column(lanes, Taps::new(lists))], t);
        return;
    }
    let n = lists.len() / blocks.len().max(1);
    let Tile {
        a,
        lda,
        k,
        b,
        out,
        ldo,
        stream,
        ..
    } = t;
    let none = Column {
        c0: 0,
        nv: 1,
        last: 1,
        taps: Taps::new(&[]),
    };
    let mut columns = [none; COLUMNS];
    for (g, group) in blocks.chunks(COLUMNS).enumerate() {
        for (i, (col, blk)) in columns.iter_mut().zip(group).enumerate() {
            *col = blk.column(lanes, Taps::new(&lists[(g * COLUMNS + i) * n..][..n]));
        }
        let t = Tile {
            a,
            lda,
            taps: Taps::new(&[]),
            k,
            b,
            out: &mut *out,
            ldo,
            last: lanes,
            stream,
        };
        T::tiles_across(isa, rows, &columns[..group.len()], t);
    }
}

/// A matrix packed per channel block by [`pack_panels`]-style layouts: block `b`'s `k × nv·L`
/// panel at `b0 + b.panel` of `data`.
pub(crate) struct Panels<'a, T> {
    pub(crate) data: &'a [T],
    pub(crate) b0: usize,
    pub(crate) blocks: &'a [ChannelBlock],
    pub(crate) lanes: usize,
}

/// One GEMM on the microkernels: `out[o0 + r·ldo + c] = Σ_{kk<k} a[a0 + r·lda + kk] · B[kk, c]`
/// for rows `r < rows` and every channel block of `b` (one strip of tiles per block).
pub(crate) fn gemm_rows<T: SimdElement>(
    isa: Isa,
    rows: usize,
    (a, a0, lda, k): (&[T], usize, usize, usize),
    b: &Panels<'_, T>,
    (out, o0, ldo): (&mut [T], usize, usize),
) {
    if rows == 0 {
        return;
    }
    for blk in b.blocks {
        let taps = [(a0, b.b0 + blk.panel)];
        T::tile(
            isa,
            rows,
            blk.nv,
            Tile {
                a,
                lda,
                taps: Taps::new(&taps),
                k,
                b: b.data,
                out: as_out(&mut out[o0 + blk.c0..]),
                ldo,
                last: blk.last(b.lanes),
                stream: false,
            },
        );
    }
}

/// `v` as `isize` (saturating; sizes of real arrays always fit).
pub(crate) fn signed(v: usize) -> isize {
    isize::try_from(v).unwrap_or(isize::MAX)
}

/// A pointwise problem (`1×1×1` filter, unit strides) as one GEMM `a[P, K] · packed`, with
/// `P = rows · w` positions and `N` output channels in `blocks`, computed by
/// [`RowWriter::tiles_in_place`] straight into the output where it can (no zero-fill pass,
/// and for large outputs non-temporal stores: no read for ownership of the output's lines).
/// Returns the `P · N` output.
///
/// One task per row of `w` positions, in one [`SimdElement::tiles_across`] call: tile by
/// tile, every channel block runs on the tile's rows of `a` while they are in L1 (the packed
/// panels stream from L2), and the bounds check and the dispatch are paid once per row. A
/// call per tile and block measured 5 % slower on float64 B5 (Zen 3, AVX2); sweeping one
/// block at a time over runs of 64 KiB of `a` (panel in L1) measured level on float32 B5
/// (median per-round ratios 0.97–1.02), so one order serves both.
///
/// # Errors
/// [`KernelError::Cancelled`] (checked before every task; progress is reported per task).
pub(crate) fn pointwise_gemm<T: Element>(
    isa: Isa,
    (a, k): (&[T], usize),
    (packed, blocks): (&[T], &[ChannelBlock]),
    (rows, w, n): (usize, usize, usize),
    ctx: &KernelContext,
) -> Result<Vec<T>, KernelError> {
    let lanes = isa.lanes(std::mem::size_of::<T>());
    let mr_max = blocks.iter().map(|b| isa.mr_max(b.nv)).min().unwrap_or(1);
    let parts: Vec<(usize, usize)> = (0..rows).map(|t| (w.saturating_mul(n), t)).collect();
    // Each block's one tap, at the start of a tile's rows of `a`.
    let lists: Vec<[(usize, usize); 1]> = blocks.iter().map(|b| [(0, b.panel)]).collect();
    let columns: Vec<Column<'_>> = blocks
        .iter()
        .zip(&lists)
        .map(|(blk, list)| blk.column(lanes, Taps::new(list)))
        .collect();
    let counter = ctx.work_counter(rows);
    let work = |stage: &mut Vec<T>, task: usize, out: &mut [RowWriter<'_, T>]| {
        ctx.check_cancelled()?;
        for part in out {
            // The whole row in one call, unless the part is staged: then a tile's rows at a
            // time, so the stage stays in L1.
            let group = if part.stages(0) { mr_max } else { w };
            for (j0, count) in tiles(0, w, group) {
                let t = Tile {
                    a: a.get((task * w + j0) * k..).unwrap_or_default(),
                    lda: k,
                    taps: Taps::new(&[]),
                    k,
                    b: packed,
                    out: &mut [],
                    ldo: 0,
                    last: lanes,
                    stream: false,
                };
                part.tiles_in_place(isa, (j0, count), stage, &columns, t);
            }
        }
        counter.tick();
        Ok::<(), KernelError>(())
    };
    let macs = rows.saturating_mul(w).saturating_mul(n).saturating_mul(k);
    let parallel = macs >= SERIAL_MACS && rayon::current_num_threads() > 1;
    build_by_rows(isa, &parts, n, rows, parallel, Vec::new, work)
}

/// Builds an output of `rows` rows of `row_len` values, `row(scratch, index, out_row)` filling
/// each (zeroed on entry, unless `covers` says `row` writes every element of every row), in
/// parallel on rayon's pool unless the problem is small (`macs_per_row` multiply-adds per
/// row). Checks `ctx.cancel` before every row and reports progress about every 1 % of rows.
///
/// An output of [`STREAM_MIN_BYTES`] or more with rows of at most [`STAGE_ROW_BYTES`] is built
/// row by row in a per-thread buffer that stays in L1, each finished row then written to the
/// output whole with `isa`'s non-temporal stores: no zero-fill pass over the output and no
/// read for ownership of its lines (half the memory traffic of storing into it). The buffer
/// holds the previous row on entry when `covers`.
///
/// # Errors
/// [`KernelError::Cancelled`].
pub(crate) fn run_rows<T: Element, S>(
    isa: Isa,
    rows: usize,
    row_len: usize,
    (macs_per_row, covers): (usize, bool),
    ctx: &KernelContext,
    init: impl Fn() -> S + Sync + Send,
    row: impl Fn(&mut S, usize, &mut [T]) + Sync + Send,
) -> Result<Vec<T>, KernelError> {
    let counter = ctx.work_counter(rows);
    let work = |s: &mut S, r: usize, out: &mut [T]| -> Result<(), KernelError> {
        ctx.check_cancelled()?;
        row(s, r, out);
        counter.tick();
        Ok(())
    };
    let macs_per_row = macs_per_row.max(1);
    let parallel =
        macs_per_row.saturating_mul(rows) >= SERIAL_MACS && rayon::current_num_threads() > 1;
    let min_rows = TASK_MACS.div_ceil(macs_per_row).max(1);
    let row_bytes = row_len.saturating_mul(std::mem::size_of::<T>());
    if row_bytes > STAGE_ROW_BYTES || row_bytes.saturating_mul(rows) < STREAM_MIN_BYTES {
        return crate::simd::build_rows(rows, row_len, parallel, min_rows, init, work);
    }
    // Tasks of about `STAGE_TASK_BYTES` of consecutive rows (at least 16 tasks, for balance),
    // each one part of the output.
    let min_rows = min_rows
        .max(STAGE_TASK_BYTES / row_bytes.max(1))
        .min(rows.div_ceil(16))
        .max(1);
    let tasks = rows.div_ceil(min_rows);
    let part_rows = |task: usize| min_rows.min(rows - task * min_rows);
    let parts: Vec<(usize, usize)> = (0..tasks).map(|t| (part_rows(t) * row_len, t)).collect();
    let staged = |(s, stage): &mut (S, Vec<T>), task: usize, out: &mut [RowWriter<'_, T>]| {
        for part in out {
            for i in 0..part_rows(task) {
                if !covers {
                    stage.fill(T::ZERO);
                }
                work(s, task * min_rows + i, stage)?;
                part.write_row(i, stage);
            }
        }
        Ok(())
    };
    let init = || (init(), vec![T::ZERO; row_len]);
    build_by_rows(isa, &parts, row_len, tasks, parallel, init, staged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_balanced_and_cover_every_column() {
        let b = split_blocks(216, 16, 4, 3);
        assert_eq!(
            b.iter().map(|b| b.nv).collect::<Vec<_>>(),
            [4, 4, 3, 3],
            "14 vectors in 4 blocks"
        );
        assert_eq!(b.iter().map(|b| b.len).sum::<usize>(), 216);
        assert_eq!(b[1].c0, 64);
        assert_eq!(b[1].panel, 3 * 64);
        assert_eq!(b[3].len, 216 - 176, "last block holds the tail");
        assert!(
            split_blocks(0, 16, 4, 1).is_empty(),
            "no columns, no blocks"
        );
    }
}
