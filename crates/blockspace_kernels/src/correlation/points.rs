//! Which stride phases each transform point needs, and where their values live.
//!
//! With `S` phases per dimension and a filter of `K` taps (`K ≤ R·S`), phase `r` has the taps
//! `j < R` with `S·j + r < K`: all `R` when `K = R·S`, fewer otherwise (`k3 s2`: phase 0 has
//! taps 0 and 2, phase 1 only tap 1). A transform point `q` whose row of `G` touches none of
//! a phase's taps multiplies that phase by zero, so the point's GEMM leaves the phase out: its
//! reduction runs over the phases it needs only (`k3 s2`: 5 points per dimension instead of 6
//! products, 125 instead of 216 in 3-D).

use super::transform::{MAX_XI, Transform};
use crate::tiling::{ChannelBlock, split_blocks};

/// A slot that a point does not need.
pub(super) const SKIP: usize = usize::MAX;

/// Whether point `q` needs phase `r` along one dimension (`s` phases, `limit` taps).
fn active<W: Transform>(q: usize, r: usize, s: usize, limit: usize) -> bool {
    (0..W::R).any(|j| s * j + r < limit && W::G[q][j] != 0.0)
}

/// Multiply-adds of the direct method over those of the transforms, per output tile:
/// `Π_dim 2·K / (points needed over all phases)` (3.4 for `k3 s1`, 2.4 for `k4 s2`, 1.7 for
/// `k3 s2`).
pub(super) fn savings<W: Transform>(phases: [usize; 3], limit: [usize; 3]) -> f64 {
    (0..3)
        .map(|d| {
            let needed = (0..phases[d])
                .flat_map(|r| (0..W::P).map(move |q| (q, r)))
                .filter(|&(q, r)| active::<W>(q, r, phases[d], limit[d]))
                .count();
            2.0 * limit[d] as f64 / needed.max(1) as f64
        })
        .product()
}

/// The layout of the transformed values and filter, per transform point `ξ`.
pub(super) struct Points {
    /// The phase groups point `ξ` needs, in order (group `g = (rd·SH + rh)·SW + rw`).
    pub(super) groups: Vec<Vec<usize>>,
    /// Reduction channels of point `ξ` (`groups · cs`).
    pub(super) k: Vec<usize>,
    /// The channel blocks of point `ξ`'s panels (`k[ξ]` rows each).
    pub(super) blocks: Vec<Vec<ChannelBlock>>,
    /// Offset of point `ξ`'s panels in the transformed filter.
    pub(super) u_off: Vec<usize>,
    /// Length of the transformed filter.
    pub(super) u_len: usize,
    /// Offset of point `ξ`'s block of tiles in `v` (`tb·k[ξ]` values, one cache line apart).
    pub(super) v_off: Vec<usize>,
    /// Length of `v`.
    pub(super) v_len: usize,
    /// Per group: the column of its first channel in a tile's row of each point, or [`SKIP`].
    pub(super) slot: Vec<[usize; MAX_XI]>,
}

impl Points {
    /// The layout for `cs` channels per phase, `cout` output channels in blocks of at most
    /// `nv_max` vectors of `lanes`, and blocks of `tb` tiles.
    pub(super) fn new<W: Transform>(
        (phases, limit, cs): ([usize; 3], [usize; 3], usize),
        (cout, lanes, nv_max): (usize, usize, usize),
        tb: usize,
    ) -> Self {
        let p = W::P;
        let xi = p * p * p;
        let ng = phases.iter().product::<usize>();
        let mut slot = vec![[SKIP; MAX_XI]; ng];
        let mut points = Self {
            groups: Vec::with_capacity(xi),
            k: Vec::with_capacity(xi),
            blocks: Vec::with_capacity(xi),
            u_off: Vec::with_capacity(xi),
            u_len: 0,
            v_off: Vec::with_capacity(xi),
            v_len: 0,
            slot: Vec::new(),
        };
        for x in 0..xi {
            let q = [x / (p * p), (x / p) % p, x % p];
            let groups: Vec<usize> = (0..ng)
                .filter(|&g| {
                    let r = [
                        g / (phases[1] * phases[2]),
                        (g / phases[2]) % phases[1],
                        g % phases[2],
                    ];
                    (0..3).all(|d| active::<W>(q[d], r[d], phases[d], limit[d]))
                })
                .collect();
            for (i, &g) in groups.iter().enumerate() {
                if let Some(s) = slot.get_mut(g) {
                    s[x] = i * cs;
                }
            }
            let k = groups.len() * cs;
            let blocks = split_blocks(cout, lanes, nv_max, k);
            let width: usize = blocks.iter().map(|b| b.nv * lanes).sum();
            points.u_off.push(points.u_len);
            points.u_len += k * width;
            points.v_off.push(points.v_len);
            points.v_len += tb * k + super::L;
            points.groups.push(groups);
            points.k.push(k);
            points.blocks.push(blocks);
        }
        points.slot = slot;
        points
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::correlation::transform::{F22, F23};

    #[test]
    fn counts_the_multiplies_saved() {
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        assert!(close(savings::<F23>([1; 3], [3; 3]), 3.375), "k3 s1");
        assert!(close(savings::<F22>([2; 3], [4; 3]), 64.0 / 27.0), "k4 s2");
        assert!(
            close(savings::<F22>([2; 3], [3; 3]), 216.0 / 125.0),
            "k3 s2"
        );
        assert!(close(savings::<F22>([1; 3], [2; 3]), 64.0 / 27.0), "k2 s1");
        assert!(
            close(savings::<F23>([2; 3], [5; 3]), 1000.0 / 343.0),
            "k5 s2"
        );
    }

    /// `k3 s2`: along each dimension phase 0 (taps 0, 2) needs all 3 points, phase 1 (tap 1)
    /// the first two.
    #[test]
    fn leaves_out_the_phases_a_point_multiplies_by_zero() {
        let pts = Points::new::<F22>(([2; 3], [3; 3], 16), (32, 16, 4), 4);
        assert_eq!(pts.groups[0], (0..8).collect::<Vec<_>>(), "point (0, 0, 0)");
        assert_eq!(pts.groups[26], [0], "point (2, 2, 2): only phase (0, 0, 0)");
        assert_eq!(
            pts.groups[2],
            [0, 2, 4, 6],
            "point (0, 0, 2): phases with rw = 0"
        );
        assert_eq!(pts.k.iter().sum::<usize>(), 125 * 16);
        assert_eq!(pts.slot[1][2], SKIP);
        assert_eq!(pts.slot[2][2], 16);
    }
}
