//! The production gather kernel (see the module docs of [`super`]).
//!
//! Work item: one output row `(n, d, h)` (a contiguous `W·C` slice of `dx`). Inside it, for each
//! W stride phase `rw` (outputs `w = rw + SW·j`) the valid taps `(kd, kh, kw)` read `dy` rows
//! `ow = j + const`, so a run of consecutive `j` is a small GEMM `Σ_taps dy[j.., M] · Ft[M, C]`.
//! Rows `j` where every tap of the phase is valid are tiled `MR × NV·L` and run through the
//! register-blocked microkernels of [`crate::simd`]; the few edge rows run one by one with their
//! own tap list. Every element is summed in the order taps (`kd`, `kh`, `kw`), then `m`,
//! independent of tiling and threads.
//!
//! A pointwise problem (`1×1×1` filter, unit strides) is one GEMM over all positions
//! ([`crate::tiling::pointwise_gemm`]).

use ndarray::{Array5, ArrayView5};

use super::params::Conv3dBackpropInputParams;
use crate::simd::{Isa, SimdElement, Taps, Tile, as_out};
use crate::tiling::{
    ChannelBlock, PANEL_BYTES, Scratch, Visit, channel_blocks, pack_panels, pointwise_gemm,
    run_blocks, run_rows, signed, visit_tiles,
};
use crate::{Element, KernelContext, KernelError};

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

/// The W stride phases with at least one column.
fn phases(p: &Conv3dBackpropInputParams) -> Vec<Phase> {
    let (w_, ow_) = (p.input_spatial[2], signed(p.out_spatial[2]));
    let (s, dil, pad) = (p.strides[2], p.dilations[2], p.pad_before[2]);
    (0..s.min(w_))
        .map(|rw| {
            let len = (w_ - rw).div_ceil(s);
            let taps: Vec<(usize, isize)> = (0..p.kernel[2])
                .filter_map(|kw| {
                    let num = signed(rw + pad) - signed(kw * dil);
                    (num.rem_euclid(signed(s)) == 0).then(|| (kw, num.div_euclid(signed(s))))
                })
                .collect();
            let lo = taps.iter().map(|&(_, o)| (-o).max(0)).max().unwrap_or(0);
            let hi = taps.iter().map(|&(_, o)| ow_ - o).min().unwrap_or(0);
            let clamp = |v: isize| usize::try_from(v.max(0)).unwrap_or(0).min(len);
            Phase {
                rw,
                len,
                taps,
                lo: clamp(lo),
                hi: clamp(hi).max(clamp(lo)),
            }
        })
        .collect()
}

/// Everything a row task needs, shared read-only by all threads.
struct Plan<'a, T> {
    isa: Isa,
    p: &'a Conv3dBackpropInputParams,
    lanes: usize,
    dy: &'a [T],
    packed: Vec<T>,
    blocks: Vec<ChannelBlock>,
    phases: Vec<Phase>,
    kd_taps: Vec<Vec<(usize, usize)>>,
    kh_taps: Vec<Vec<(usize, usize)>>,
    /// Loop tiles outside channel blocks (when every block's panels fit in L2 together).
    tile_major: bool,
}

impl<T: Element + SimdElement> Plan<'_, T> {
    /// Computes output row `row = (n·D + d)·H + h` into `out` (`W·C` elements, zero on entry
    /// unless [`Plan::covers_all`]).
    fn row(&self, row: usize, out: &mut [T], s: &mut Scratch) {
        let p = self.p;
        let [d_, h_, _] = p.input_spatial;
        let [od_, oh_, ow_] = p.out_spatial;
        let [_, kh_, kw_] = p.kernel;
        let m_ = p.m;
        let h = row % h_;
        let d = (row / h_) % d_;
        let n = row / (h_ * d_);
        let (kdl, khl) = (&self.kd_taps[d], &self.kh_taps[h]);
        if kdl.is_empty() || khl.is_empty() {
            return;
        }
        for ph in &self.phases {
            if ph.taps.is_empty() {
                continue;
            }
            s.row_taps.clear();
            for &(kd, od) in kdl {
                for &(kh, oh) in khl {
                    let base = signed((((n * od_ + od) * oh_ + oh) * ow_) * m_);
                    for &(kw, ow0) in &ph.taps {
                        let tap = (kd * kh_ + kh) * kw_ + kw;
                        s.row_taps.push((tap, base + ow0 * signed(m_)));
                    }
                }
            }
            let cols = (ph.lo, ph.hi, ph.len);
            visit_tiles(&self.blocks, self.tile_major, cols, |v| match v {
                Visit::Interior(blocks, j0, rows) => {
                    self.interior(blocks, ph, (j0, rows), s, out);
                }
                Visit::Edge(blk, j) => self.edge(blk, ph, j, s, out),
            });
        }
    }

    /// Interior columns `j0..j0 + rows` of phase `ph` for `blocks`, every tap of `s.row_taps`
    /// valid.
    fn interior(
        &self,
        blocks: &[ChannelBlock],
        ph: &Phase,
        (j0, rows): (usize, usize),
        s: &mut Scratch,
        out: &mut [T],
    ) {
        let (c_, m_, sw) = (self.p.c, self.p.m, self.p.strides[2]);
        let shift = signed(j0 * m_);
        s.block_taps(blocks, (m_, self.lanes), shift);
        let o = (ph.rw + sw * j0) * c_;
        let t = Tile {
            a: self.dy,
            lda: m_,
            taps: Taps::new(&[]),
            k: m_,
            b: &self.packed,
            out: as_out(&mut out[o..]),
            ldo: sw * c_,
            last: self.lanes,
            stream: false,
        };
        run_blocks(self.isa, rows, (blocks, &s.tile_taps), t);
    }

    /// Border column `j` of phase `ph`: one row, with only the taps valid for it.
    fn edge(&self, blk: &ChannelBlock, ph: &Phase, j: usize, s: &mut Scratch, out: &mut [T]) {
        let (c_, m_, sw) = (self.p.c, self.p.m, self.p.strides[2]);
        let ow_ = signed(self.p.out_spatial[2]);
        let stride_b = m_ * blk.nv * self.lanes;
        let jj = signed(j);
        s.edge_ok.clear();
        s.edge_ok.extend(
            ph.taps
                .iter()
                .map(|&(_, ow0)| jj + ow0 >= 0 && jj + ow0 < ow_),
        );
        if !s.edge_ok.contains(&true) {
            return;
        }
        let nkw = ph.taps.len();
        s.tile_taps.clear();
        for (ti, &(tap, a)) in s.row_taps.iter().enumerate() {
            if s.edge_ok[ti % nkw] {
                s.tile_taps.push((
                    usize::try_from(a + jj * signed(m_)).unwrap_or(usize::MAX),
                    blk.panel + tap * stride_b,
                ));
            }
        }
        let o = (ph.rw + sw * j) * c_ + blk.c0;
        self.edge_tile(blk, &s.tile_taps, &mut out[o..]);
    }

    /// Whether [`Plan::row`] writes every element of every row: some tap reaches every output
    /// row and column (otherwise the rows must be zeroed first).
    fn covers_all(&self) -> bool {
        let ow_ = signed(self.p.out_spatial[2]);
        let column = |ph: &Phase, j: usize| {
            let j = signed(j);
            ph.taps.iter().any(|&(_, o)| (0..ow_).contains(&(j + o)))
        };
        self.kd_taps
            .iter()
            .chain(&self.kh_taps)
            .all(|t| !t.is_empty())
            && self.phases.iter().all(|ph| {
                !ph.taps.is_empty() && (0..ph.lo).chain(ph.hi..ph.len).all(|j| column(ph, j))
            })
    }

    /// One border column of `blk` over `taps`.
    fn edge_tile(&self, blk: &ChannelBlock, taps: &[(usize, usize)], out: &mut [T]) {
        let last = blk.last(self.lanes);
        let t = Tile {
            a: self.dy,
            lda: self.p.m,
            taps: Taps::new(taps),
            k: self.p.m,
            b: &self.packed,
            out: as_out(out),
            ldo: self.p.strides[2] * self.p.c,
            last,
            stream: false,
        };
        T::tile(self.isa, 1, blk.nv, t);
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
    let plan = Plan {
        isa,
        p,
        lanes,
        dy,
        packed,
        blocks,
        phases: phases(p),
        kd_taps: (0..d_).map(|d| taps_1d(d, 0, p)).collect(),
        kh_taps: (0..h_).map(|h| taps_1d(h, 1, p)).collect(),
        tile_major,
    };
    let macs_per_row = row_len * ntaps * p.m;
    if pointwise {
        let dims = (rows, w_, p.c);
        let dx = pointwise_gemm(isa, (dy, p.m), (&plan.packed, &plan.blocks), dims, ctx)?;
        return Array5::from_shape_vec(shape, dx).map_err(|_| KernelError::Overflow {
            what: "the output shape",
        });
    }
    let dx = run_rows(
        isa,
        rows,
        row_len,
        (macs_per_row, plan.covers_all()),
        ctx,
        Scratch::default,
        |s, row, out| {
            plan.row(row, out, s);
        },
    )?;
    Array5::from_shape_vec(shape, dx).map_err(|_| KernelError::Overflow {
        what: "the output shape",
    })
}
