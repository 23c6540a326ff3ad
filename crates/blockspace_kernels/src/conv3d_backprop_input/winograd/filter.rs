//! The filter transform: each phase's two taps per dimension through `G`, packed per channel
//! block for the microkernels.

use ndarray::ArrayView5;

use super::geometry::DimPhase;
use super::{PTS, XI};
use crate::Element;
use crate::tiling::ChannelBlock;

/// Filter transform `G`: transform point `i` is `G[i][0]·g_a + G[i][1]·g_b`.
const G: [[f64; 2]; PTS] = [[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]];

/// The filter transformed per phase and packed per channel block (see `Plan::u`).
pub(super) fn transform_filter<T: Element>(
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
