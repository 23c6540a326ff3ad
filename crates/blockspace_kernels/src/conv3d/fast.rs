//! The production kernel (see the module docs of [`super`]).
//!
//! Work item: one output row `(n, od, oh)`, a contiguous `OW·M` slice of the NDHWC output.
//! Column `ow` of tap `(kd, kh, kw)` reads the input at `iw = ow·SW - pad + kw·dil`, so
//! consecutive columns read input rows `SW·C` apart: a run of columns is a small GEMM
//! `Σ_taps x[ow.., C] · F_tap[C, M]`, exactly the [`Tile`] microkernel with `lda = SW·C` and
//! `k = C`. Interior columns (every `kw` inside the input) run as `MR × NV·L` tiles; border
//! columns run one by one with only their valid taps. Every element is summed in the order
//! taps (`kd`, `kh`, `kw`), then `c`, independent of tiling and threads.

use ndarray::{Array5, ArrayView5};

use super::params::Conv3dParams;
use crate::simd::{Isa, SimdElement, Taps, Tile, as_out};
use crate::tiling::{
    ChannelBlock, PANEL_BYTES, Scratch, Visit, channel_blocks, pack_panels, pointwise_gemm,
    run_blocks, run_rows, signed, visit_tiles,
};
use crate::{Element, KernelContext, KernelError};

/// `(tap, input index)` pairs of output index `o` along spatial dim `dim` that fall inside
/// the input.
fn taps_1d(o: usize, dim: usize, p: &Conv3dParams) -> Vec<(usize, usize)> {
    let (s, dil, pad) = (p.strides[dim], p.dilations[dim], p.pad_before[dim]);
    (0..p.kernel[dim])
        .filter_map(|k| {
            let i = (o * s + k * dil).checked_sub(pad)?;
            (i < p.input_spatial[dim]).then_some((k, i))
        })
        .collect()
}

/// Everything a row task needs, shared read-only by all threads.
struct Plan<'a, T> {
    isa: Isa,
    p: &'a Conv3dParams,
    lanes: usize,
    x: &'a [T],
    packed: Vec<T>,
    blocks: Vec<ChannelBlock>,
    /// `kw · dilation - pad` for every `kw`: column `ow` reads `iw = ow·SW + this`.
    kw_off: Vec<isize>,
    /// `[lo, hi)`: the columns where every `kw` tap is inside the input (may be empty).
    lo: usize,
    hi: usize,
    kd_taps: Vec<Vec<(usize, usize)>>,
    kh_taps: Vec<Vec<(usize, usize)>>,
    /// Loop tiles outside channel blocks (when every block's panels fit in L2 together).
    tile_major: bool,
}

impl<T: Element + SimdElement> Plan<'_, T> {
    /// Computes output row `row = (n·OD + od)·OH + oh` into `out` (`OW·M` values, zero on entry
    /// unless [`Plan::covers_all`]).
    fn row(&self, row: usize, out: &mut [T], s: &mut Scratch) {
        let p = self.p;
        let [d_, h_, w_] = p.input_spatial;
        let [od_, oh_, ow_] = p.out_spatial;
        let [_, kh_, kw_] = p.kernel;
        let c_ = p.ic;
        let oh = row % oh_;
        let od = (row / oh_) % od_;
        let n = row / (oh_ * od_);
        let (kdl, khl) = (&self.kd_taps[od], &self.kh_taps[oh]);
        if kdl.is_empty() || khl.is_empty() {
            return;
        }
        s.row_taps.clear();
        for &(kd, id) in kdl {
            for &(kh, ih) in khl {
                let base = signed(((n * d_ + id) * h_ + ih) * w_ * c_);
                for (kw, &off) in self.kw_off.iter().enumerate() {
                    let tap = (kd * kh_ + kh) * kw_ + kw;
                    s.row_taps.push((tap, base + off * signed(c_)));
                }
            }
        }
        let cols = (self.lo, self.hi, ow_);
        visit_tiles(&self.blocks, self.tile_major, cols, |v| match v {
            Visit::Interior(blocks, j0, rows) => self.interior(blocks, (j0, rows), s, out),
            Visit::Edge(blk, j) => self.edge(blk, j, s, out),
        });
    }

    /// Interior columns `j0..j0 + rows` for `blocks`, every tap of `s.row_taps` inside the
    /// input.
    fn interior(
        &self,
        blocks: &[ChannelBlock],
        (j0, rows): (usize, usize),
        s: &mut Scratch,
        out: &mut [T],
    ) {
        let p = self.p;
        let shift = signed(j0 * p.strides[2] * p.ic);
        s.block_taps(blocks, (p.ic, self.lanes), shift);
        let t = Tile {
            a: self.x,
            lda: p.strides[2] * p.ic,
            taps: Taps::new(&[]),
            k: p.ic,
            b: &self.packed,
            out: as_out(&mut out[j0 * p.oc..]),
            ldo: p.oc,
            last: self.lanes,
            stream: false,
        };
        run_blocks(self.isa, rows, (blocks, &s.tile_taps), t);
    }

    /// Border column `j`: one row, with only the taps inside the input.
    fn edge(&self, blk: &ChannelBlock, j: usize, s: &mut Scratch, out: &mut [T]) {
        let p = self.p;
        let iw0 = signed(j * p.strides[2]);
        let w_ = signed(p.input_spatial[2]);
        s.edge_ok.clear();
        s.edge_ok.extend(
            self.kw_off
                .iter()
                .map(|&off| (0..w_).contains(&(iw0 + off))),
        );
        if !s.edge_ok.contains(&true) {
            return;
        }
        s.border_taps(blk, (p.ic, self.lanes), iw0 * signed(p.ic));
        let o = j * p.oc + blk.c0;
        self.edge_tile(blk, &s.tile_taps, &mut out[o..]);
    }

    /// Whether [`Plan::row`] writes every element of every row: some tap reaches every output
    /// row and column (otherwise the rows must be zeroed first).
    fn covers_all(&self) -> bool {
        let p = self.p;
        let w_ = signed(p.input_spatial[2]);
        let column = |j: usize| {
            let iw0 = signed(j * p.strides[2]);
            self.kw_off
                .iter()
                .any(|&off| (0..w_).contains(&(iw0 + off)))
        };
        self.kd_taps
            .iter()
            .chain(&self.kh_taps)
            .all(|t| !t.is_empty())
            && (0..self.lo).chain(self.hi..p.out_spatial[2]).all(column)
    }

    /// One border column of `blk` over `taps`.
    fn edge_tile(&self, blk: &ChannelBlock, taps: &[(usize, usize)], out: &mut [T]) {
        let p = self.p;
        let last = blk.last(self.lanes);
        T::tile(
            self.isa,
            1,
            blk.nv,
            Tile {
                a: self.x,
                lda: p.strides[2] * p.ic,
                taps: Taps::new(taps),
                k: p.ic,
                b: &self.packed,
                out: as_out(out),
                ldo: p.oc,
                last,
                stream: false,
            },
        );
    }
}

/// Computes the NDHWC output from the NDHWC input with the microkernels of `isa`.
///
/// `p` must describe a non-grouped problem (`p.ic == p.filter_ic`), as validation ensures
/// whenever the output has elements.
pub(super) fn compute_on<T: Element>(
    isa: Isa,
    p: &Conv3dParams,
    input: ArrayView5<'_, T>,
    filter: ArrayView5<'_, T>,
    ctx: &KernelContext,
) -> Result<Array5<T>, KernelError> {
    let shape = p.output_ndhwc();
    // A 1×1×1 filter with unit strides is one GEMM over all positions (`pointwise_gemm`), in
    // rows of whole `(n, d)` planes (same memory layout), so tiles are long.
    let flat;
    let pointwise = p.kernel == [1, 1, 1] && p.strides == [1, 1, 1];
    let p = if pointwise {
        let [d_, h_, w_] = p.input_spatial;
        flat = Conv3dParams {
            n: p.n * d_,
            input_spatial: [1, 1, h_ * w_],
            out_spatial: [1, 1, h_ * w_],
            dilations: [1, 1, 1],
            pad_before: [0, 0, 0],
            ..p.clone()
        };
        &flat
    } else {
        p
    };
    let [od_, oh_, ow_] = p.out_spatial;
    let row_len = ow_ * p.oc;
    let rows = p.n * od_ * oh_;
    if row_len == 0 || rows == 0 || p.ic == 0 {
        return Ok(Array5::from_elem(shape, T::ZERO));
    }
    let size = std::mem::size_of::<T>();
    let lanes = isa.lanes(size);
    let [kd_, kh_, kw_] = p.kernel;
    let ntaps = kd_ * kh_ * kw_;
    let blocks = channel_blocks(p.oc, p.ic, ntaps, ntaps, lanes, size, isa);
    let packed_len: usize = blocks.iter().map(|b| ntaps * p.ic * b.nv * lanes).sum();
    let tile_major = blocks.len() > 1 && packed_len * size <= PANEL_BYTES;
    let _packed = ctx.reserve("the packed filter", packed_len as u64, size as u64)?;
    let packed = pack_panels(&blocks, ntaps, p.ic, lanes, |tap, c, m| {
        filter[[tap / (kh_ * kw_), (tap / kw_) % kh_, tap % kw_, c, m]]
    });
    let input = input.as_standard_layout();
    let x = input.as_slice().ok_or(KernelError::Overflow {
        what: "input layout",
    })?;
    let (w_, sw, dw, pw) = (
        signed(p.input_spatial[2]),
        signed(p.strides[2]),
        signed(p.dilations[2]),
        signed(p.pad_before[2]),
    );
    let kw_off: Vec<isize> = (0..kw_).map(|kw| signed(kw) * dw - pw).collect();
    // Interior: ow·SW - pad ≥ 0 and ow·SW - pad + (KW-1)·dil ≤ W - 1.
    let lo = (pw + sw - 1) / sw;
    let top = w_ - 1 + pw - signed(kw_ - 1) * dw;
    let hi = if top < 0 { 0 } else { top / sw + 1 };
    let clamp = |v: isize| usize::try_from(v.max(0)).unwrap_or(0).min(ow_);
    let (lo, hi) = (clamp(lo), clamp(hi).max(clamp(lo)));
    let plan = Plan {
        isa,
        p,
        lanes,
        x,
        packed,
        blocks,
        kw_off,
        lo,
        hi,
        kd_taps: (0..od_).map(|o| taps_1d(o, 0, p)).collect(),
        kh_taps: (0..oh_).map(|o| taps_1d(o, 1, p)).collect(),
        tile_major,
    };
    if pointwise {
        let dims = (rows, ow_, p.oc);
        let y = pointwise_gemm(isa, (x, p.ic), (&plan.packed, &plan.blocks), dims, ctx)?;
        return Array5::from_shape_vec(shape, y).map_err(|_| KernelError::Overflow {
            what: "the output shape",
        });
    }
    let macs_per_row = row_len * ntaps * p.ic;
    let y = run_rows(
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
    Array5::from_shape_vec(shape, y).map_err(|_| KernelError::Overflow {
        what: "the output shape",
    })
}
