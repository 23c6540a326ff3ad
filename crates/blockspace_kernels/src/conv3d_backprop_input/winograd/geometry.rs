//! The geometry of the stride phases: each dimension's phases and the windows they share
//! (see the module docs of [`super`]), the blocks of windows along W, and which transform
//! points each phase multiplies.

use super::super::params::Conv3dBackpropInputParams;
use super::{OUT, PTS, XI};
use crate::tiling::signed;

/// One stride phase of one spatial dimension.
#[derive(Debug, Clone, Copy)]
pub(super) struct DimPhase {
    /// Output index of `j = 0`.
    pub(super) r: usize,
    /// Outputs `j` in the phase (`x = r + S·j < X`).
    pub(super) len: usize,
    /// Window `t` gives this phase the outputs `j = 2t + s + {0, 1}` (see [`Windows`]).
    pub(super) s: usize,
    /// `out_backprop` index read by tap `k_a` for `j = 0`.
    pub(super) e: isize,
    /// The two filter taps, `[k_a, k_b]`.
    pub(super) taps: [usize; 2],
    /// Whether `k_a` lies inside the filter (a filter narrower than two strides leaves some
    /// phases only `k_b`).
    pub(super) has_a: bool,
}

/// The stride phases of spatial dimension `dim` that hold at least one output, and the windows
/// along it.
pub(super) fn dim_phases(p: &Conv3dBackpropInputParams, dim: usize) -> (Vec<DimPhase>, Windows) {
    let (x, s, pad) = (p.input_spatial[dim], p.strides[dim], p.pad_before[dim]);
    let k = p.kernel[dim];
    let mut phases: Vec<DimPhase> = (0..s.min(x))
        .map(|r| {
            let k0 = (r + pad) % s;
            DimPhase {
                r,
                len: (x - r).div_ceil(s),
                s: 0,
                e: signed((r + pad) / s) - 1,
                taps: [k0 + s, k0],
                has_a: k0 + s < k,
            }
        })
        .collect();
    // Windows start at the largest `e`; a phase with a smaller one (by 1: `e` grows by at
    // most one over the phases) takes its outputs one place on.
    let w0 = phases.iter().map(|ph| ph.e).max().unwrap_or(0);
    for ph in &mut phases {
        ph.s = usize::try_from(w0 - ph.e).unwrap_or(0);
    }
    // Phase `ph` needs the windows with `2t + s + 1 ≥ 0` and `2t + s ≤ len − 1`.
    let first = |ph: &DimPhase| (-signed(ph.s)).div_euclid(2);
    let last = |ph: &DimPhase| (signed(ph.len) - 1 - signed(ph.s)).div_euclid(2);
    let lo = phases.iter().map(first).min().unwrap_or(0);
    let hi = phases.iter().map(last).max().unwrap_or(-1);
    let count = usize::try_from(hi - lo + 1).unwrap_or(0);
    (phases, Windows { lo, count, w0 })
}

/// The windows along one dimension: window `t` (`lo ≤ t < lo + count`) is the input tile
/// `out_backprop[2t + w0 + {0, 1, 2}]`, which every phase shares: phase `ph` reads it at
/// `j + e` for its outputs `j = 2t + ph.s + {0, 1}`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Windows {
    /// The first window.
    pub(super) lo: isize,
    /// How many.
    pub(super) count: usize,
    /// `out_backprop` index of window 0's first row.
    pub(super) w0: isize,
}

impl DimPhase {
    /// The outputs `od` (of `0, 1`) of window `t` that exist, as a range.
    #[inline(always)]
    pub(super) fn valid(&self, t: isize) -> std::ops::Range<usize> {
        let j0 = 2 * t + signed(self.s);
        let lo = usize::try_from(-j0).unwrap_or(0).min(OUT);
        let hi = usize::try_from(signed(self.len) - j0).unwrap_or(0).min(OUT);
        lo..hi.max(lo)
    }

    /// The output index `x` of output `od` of window `t` (which exists).
    #[inline(always)]
    pub(super) fn x(&self, t: isize, od: usize, stride: usize) -> usize {
        let j = usize::try_from(2 * t + signed(self.s + od)).unwrap_or(0);
        self.r + stride * j
    }

    /// Where outputs `0, 1` of window `t` go in a task that owns the outputs from `base` on
    /// (meaningless for outputs outside [`Self::valid`], which are never written).
    pub(super) fn places(&self, t: isize, stride: usize, base: usize) -> [usize; OUT] {
        [0, 1].map(|od| self.x(t, od, stride).wrapping_sub(base))
    }

    /// The window that owns output `x = r + S·j` of this phase.
    pub(super) fn window_of(&self, j: usize) -> isize {
        (signed(j) - signed(self.s)).div_euclid(2)
    }
}

/// A block of windows along W: windows `tw0..tw0 + nt` (counted from the first) own the
/// outputs `x0..x0 + len` along W, of every phase (consecutive: see [`DimPhase::window_of`]).
#[derive(Debug, Clone, Copy)]
pub(super) struct WBlock {
    pub(super) tw0: usize,
    pub(super) nt: usize,
    pub(super) x0: usize,
    pub(super) len: usize,
}

/// Splits the `win.count` windows along W into blocks of at most `tb`, as even as can be.
pub(super) fn w_blocks(
    phases: &[DimPhase],
    win: &Windows,
    tb: usize,
    stride: usize,
) -> Vec<WBlock> {
    let nblk = win.count.div_ceil(tb.max(1));
    let mut out = Vec::with_capacity(nblk);
    let mut tw0 = 0;
    for blk in 0..nblk {
        let nt = win.count / nblk + usize::from(blk < win.count % nblk);
        let xs = (tw0..tw0 + nt).flat_map(|i| {
            let t = win.lo + signed(i);
            phases
                .iter()
                .flat_map(move |ph| ph.valid(t).map(move |o| ph.x(t, o, stride)))
        });
        let (lo, hi) = xs.fold((usize::MAX, 0), |(lo, hi), x| (lo.min(x), hi.max(x + 1)));
        out.push(WBlock {
            tw0,
            nt,
            x0: lo.min(hi),
            len: hi.saturating_sub(lo),
        });
        tw0 += nt;
    }
    out
}

/// Per phase (in the order of `Plan::u`), the transform points it multiplies (see
/// `Plan::points`).
pub(super) fn phase_points(dims: &[Vec<DimPhase>; 3]) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    for pd in &dims[0] {
        for ph in &dims[1] {
            for pw in &dims[2] {
                let used = |xi: &usize| {
                    let pts = [xi / (PTS * PTS), (xi / PTS) % PTS, xi % PTS];
                    [pd, ph, pw].iter().zip(pts).all(|(d, i)| i > 0 || d.has_a)
                };
                out.push((0..XI).filter(used).collect());
            }
        }
    }
    out
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::{Conv3dBackpropInputAttrs, DataFormat, Padding};

    /// Params of an NDHWC problem with output `[1, s, s, s, c]`, a `k³` filter with `m`
    /// output channels, stride `st` and SAME padding.
    pub(in super::super) fn params(
        s: usize,
        k: usize,
        st: usize,
        c: usize,
        m: usize,
    ) -> Conv3dBackpropInputParams {
        let o = s.div_ceil(st);
        let i = |v: usize| i64::try_from(v).unwrap_or(i64::MAX);
        let attrs = Conv3dBackpropInputAttrs {
            strides: vec![1, i(st), i(st), i(st), 1],
            padding: Padding::Same,
            data_format: DataFormat::Ndhwc,
            dilations: vec![1; 5],
        };
        Conv3dBackpropInputParams::new(
            &[5],
            &[1, i(s), i(s), i(s), i(c)],
            &[k, k, k, c, m],
            &[1, o, o, o, m],
            &attrs,
        )
        .expect("valid problem")
    }

    /// Each phase's taps (`k_b`, and `k_a` where the filter has it) are exactly the taps the
    /// definition lets reach its outputs, for every filter width from `S + 1` to `2·S`:
    /// `x + pad − k ≡ 0 (mod S)` with `out_backprop` index `(x + pad − k) / S`.
    #[test]
    fn phases_have_the_definitions_taps() {
        for (x, st, pad) in [
            (64, 2, 1),
            (7, 3, 2),
            (9, 1, 0),
            (5, 2, 0),
            (6, 3, 0),
            (1, 2, 1),
        ] {
            for k in st + 1..=2 * st {
                let mut p = params(x.max(1), k, st, 32, 32);
                p.input_spatial = [x, x, x];
                p.pad_before = [pad; 3];
                let (phases, _) = dim_phases(&p, 0);
                assert_eq!(phases.len(), st.min(x));
                for ph in &phases {
                    for j in 0..ph.len {
                        let xx = signed(ph.r + st * j + pad);
                        let want: Vec<(usize, isize)> = (0..k)
                            .filter(|&k| (xx - signed(k)).rem_euclid(signed(st)) == 0)
                            .map(|k| (k, (xx - signed(k)).div_euclid(signed(st))))
                            .collect();
                        let j = signed(j);
                        let mut got = vec![(ph.taps[1], j + ph.e + 1)];
                        if ph.has_a {
                            got.push((ph.taps[0], j + ph.e));
                        }
                        let at = format!("x={x} k={k} s={st} pad={pad} r={} j={j}", ph.r);
                        assert_eq!(got, want, "{at}");
                    }
                }
            }
        }
    }

    /// Every output of every phase comes from exactly one window, which reads the phase's
    /// `out_backprop` rows (`j + e`, `j + e + 1` at window places `od`, `od + 1`), and the
    /// outputs each window owns are consecutive (a task's lines are one run per dimension).
    #[test]
    fn windows_cover_every_output_once_with_the_phases_rows() {
        for (x, st, pad) in [
            (64, 2, 1),
            (64, 2, 2),
            (63, 2, 1),
            (7, 3, 2),
            (9, 1, 0),
            (5, 2, 0),
            (6, 3, 0),
            (1, 2, 1),
            (11, 3, 5),
        ] {
            let mut p = params(x.max(1), 2 * st, st, 32, 32);
            p.input_spatial = [x, x, x];
            p.pad_before = [pad; 3];
            let (phases, win) = dim_phases(&p, 0);
            let mut owner = vec![None; x];
            for t in win.lo..win.lo + signed(win.count) {
                for ph in &phases {
                    for od in ph.valid(t) {
                        let xx = ph.x(t, od, st);
                        assert!(owner[xx].is_none(), "x={x} s={st} pad={pad}: {xx} twice");
                        owner[xx] = Some(t);
                        let j = signed((xx - ph.r) / st);
                        assert_eq!(2 * t + win.w0 + signed(od), j + ph.e, "first row of {xx}");
                        assert_eq!(ph.window_of((xx - ph.r) / st), t, "owner of {xx}");
                    }
                }
            }
            assert!(
                owner.iter().all(Option::is_some),
                "x={x} s={st} pad={pad}: every output has a window"
            );
            assert!(
                owner.windows(2).all(|w| w[0] <= w[1]),
                "x={x} s={st} pad={pad}: windows own consecutive outputs: {owner:?}"
            );
        }
    }
}
