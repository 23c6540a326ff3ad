//! `Conv3D` on the shared Winograd correlation ([`crate::correlation`]) when the filter spans
//! `R = ⌈K/S⌉` = 2 or 3 strides in every dimension (no dilation): `k3 s1`, `k4 s2` as in 3-D
//! U-Net downsampling, `k3 s2`, `k2 s1`, `k6 s2`, … wherever that saves enough multiplies.
//!
//! Tap `k = S·j + r` (`j < R`, phase `r < S`) reads input position `S·(o + j) + r − P`, so the
//! stride phases are the correlation's phases and `w[r, j] = F[S·j + r]` (zero past `K`).

use ndarray::{Array5, ArrayView5};

use super::params::Conv3dParams;
use crate::correlation::{Correlation, correlate, ndhwc, pays, with_fitting};
use crate::simd::Isa;
use crate::tiling::signed;
use crate::{Element, KernelContext, KernelError};

/// The taps per dimension `R` when `p` has the shape the Winograd kernel handles (no dilation,
/// `R = ⌈K/S⌉` of 2 or 3 in every dimension), with channel counts and a saving of multiplies
/// where it beats the direct kernel.
pub(super) fn taps(p: &Conv3dParams, size: usize) -> Option<usize> {
    let r = p.kernel[0].div_ceil(p.strides[0]);
    let shape_ok = (2..=3).contains(&r)
        && (0..3).all(|i| p.dilations[i] == 1 && p.kernel[i].div_ceil(p.strides[i]) == r);
    // Strides come from the user and may be huge: their product saturates.
    let k = p.strides.iter().fold(p.ic, |acc, &s| acc.saturating_mul(s));
    (shape_ok && pays((r, p.strides, p.kernel), (k, p.oc, size))).then_some(r)
}

/// Computes the NDHWC output on `isa` with `r` taps per dimension ([`taps`]), or `None` when
/// an operand holds values the transforms cannot take (then the direct kernel runs).
///
/// # Errors
/// [`KernelError::TooLarge`], [`KernelError::Cancelled`].
pub(super) fn compute_on<T: Element>(
    isa: Isa,
    p: &Conv3dParams,
    r: usize,
    input: ArrayView5<'_, T>,
    filter: ArrayView5<'_, T>,
    ctx: &KernelContext,
) -> Result<Option<Array5<T>>, KernelError> {
    let run = |x: &[T], f: &[T]| {
        let [kh_, kw_] = [p.kernel[1], p.kernel[2]];
        let (ic, oc) = (p.ic, p.oc);
        let c = Correlation {
            n: p.n,
            src: x,
            src_dims: p.input_spatial,
            cs: ic,
            phases: p.strides,
            off: p.pad_before.map(|v| -signed(v)),
            out_dims: p.out_spatial,
            cout: oc,
            taps: r,
            limit: p.kernel,
        };
        let s = p.strides;
        let weight = |ph: [usize; 3], j: [usize; 3], ci: usize, co: usize| {
            let [kd, kh, kw] = [0, 1, 2].map(|i| s[i] * j[i] + ph[i]);
            f[(((kd * kh_ + kh) * kw_ + kw) * ic + ci) * oc + co]
        };
        correlate(isa, &c, weight, ctx)
    };
    let Some(y) = with_fitting(&input, &filter, run) else {
        return Ok(None);
    };
    let y = y?;
    let [od, oh, ow] = p.out_spatial;
    ndhwc(y, [p.n, od, oh, ow, p.oc]).map(Some)
}

#[cfg(test)]
mod tests {
    use ndarray::{Array5, Ix5};

    use super::*;
    use crate::conv3d::reference::conv3d;
    use crate::correlation::testing::{Data, array, check_every_path, to_f64};
    use crate::{Conv3dAttrs, DataFormat, Padding};

    fn attrs(s: usize, padding: Padding) -> Conv3dAttrs {
        let s = i64::try_from(s).expect("small");
        Conv3dAttrs {
            strides: vec![1, s, s, s, 1],
            padding,
            data_format: DataFormat::Ndhwc,
            dilations: vec![1; 5],
        }
    }

    fn params(shape: &[usize], k: usize, s: usize, m: usize) -> Conv3dParams {
        Conv3dParams::new(shape, &[k, k, k, shape[4], m], &attrs(s, Padding::Same))
            .expect("valid problem")
    }

    #[test]
    fn applies_to_filters_a_whole_number_of_strides_wide() {
        let f32 = 4;
        assert_eq!(
            taps(&params(&[2, 16, 56, 56, 64], 3, 1, 64), f32),
            Some(3),
            "B3"
        );
        assert_eq!(
            taps(&params(&[1, 64, 64, 64, 32], 4, 2, 64), f32),
            Some(2),
            "B4"
        );
        assert_eq!(
            taps(&params(&[1, 9, 9, 9, 8], 6, 2, 32), f32),
            Some(3),
            "k6 s2"
        );
        assert_eq!(
            taps(&params(&[1, 64, 64, 64, 16], 3, 2, 32), f32),
            None,
            "B2: k3 s2, only 1.7× fewer multiplies"
        );
        assert_eq!(
            taps(&params(&[1, 9, 9, 9, 16], 5, 2, 32), f32),
            Some(3),
            "k5 s2: phases of 3 and 2 taps, 2.9× fewer"
        );
        assert_eq!(
            taps(&params(&[1, 16, 16, 16, 8], 3, 1, 16), f32),
            None,
            "B1: few channels"
        );
        assert_eq!(
            taps(&params(&[1, 8, 8, 8, 16], 1, 1, 64), f32),
            None,
            "pointwise"
        );
        let mut dilated = params(&[1, 9, 9, 9, 64], 3, 1, 64);
        dilated.dilations = [1, 2, 1];
        assert_eq!(taps(&dilated, f32), None, "dilation");
    }

    /// Runs the Winograd kernel on every path this CPU has and checks it against the
    /// definition; returns the worst error in units of the bound's scale.
    fn case<T: Element>(
        spatial: [usize; 3],
        (k, s, c, m): (usize, usize, usize, usize),
        padding: Padding,
        data: Data,
    ) -> f64 {
        let a = attrs(s, padding);
        let [d, h, w] = spatial;
        let (xs, fs) = ([2, d, h, w, c], [k, k, k, c, m]);
        let x = array::<T>(&xs, 11, data);
        let f = array::<T>(&fs, 12, data);
        let p = Conv3dParams::new(&xs, &fs, &a).expect("valid problem");
        let r = taps(&p, std::mem::size_of::<T>()).expect("the Winograd kernel applies");
        let exact = conv3d(to_f64(&x, false).view(), to_f64(&f, false).view(), &a).expect("ok");
        // Σ_c (Σ_taps |w_c|)·(Σ_window |x_c|): |x| against the per-phase sums of |F|.
        let fa = to_f64(&f, true);
        let phase_sum = Array5::from_shape_fn(fs, |(kd, kh, kw, ci, co)| {
            let mut sum = 0.0;
            for jd in (kd % s..k).step_by(s) {
                for jh in (kh % s..k).step_by(s) {
                    for jw in (kw % s..k).step_by(s) {
                        sum += fa[[jd, jh, jw, ci, co]];
                    }
                }
            }
            sum
        });
        let scale = conv3d(to_f64(&x, true).view(), phase_sum.into_dyn().view(), &a).expect("ok");
        let (x5, f5) = (
            x.view().into_dimensionality::<Ix5>().expect("rank 5"),
            f.view().into_dimensionality::<Ix5>().expect("rank 5"),
        );
        let kernel = |isa| {
            compute_on(isa, &p, r, x5.view(), f5.view(), &KernelContext::default())
                .expect("runs")
                .expect("values fit")
                .into_dyn()
        };
        let k_sum = c * s * s * s;
        check_every_path(kernel, (&exact, &scale), (k_sum, k * k * k), data)
    }

    /// An infinity or a huge value sends the problem to the direct kernel (which gives
    /// TensorFlow's `±Inf`, where `Inf − Inf` in a transform would give `NaN`).
    #[test]
    fn refuses_values_the_transforms_cannot_take() {
        let p = params(&[1, 4, 4, 4, 32], 3, 1, 32);
        let f = array::<f32>(&[3, 3, 3, 32, 32], 1, Data::Ints);
        for special in [f32::INFINITY, f32::NAN, 2e12] {
            let mut x = array::<f32>(&[1, 4, 4, 4, 32], 2, Data::Ints);
            x[[0, 1, 2, 3, 4]] = special;
            let (x5, f5) = (
                x.view().into_dimensionality::<Ix5>().expect("rank 5"),
                f.view().into_dimensionality::<Ix5>().expect("rank 5"),
            );
            let got = compute_on(Isa::best(), &p, 3, x5, f5, &KernelContext::default());
            assert!(matches!(got, Ok(None)), "{special}");
        }
    }

    /// Spatial input size, `(k, stride, c, m)`, padding.
    type Shape = ([usize; 3], (usize, usize, usize, usize), Padding);

    const SHAPES: [Shape; 7] = [
        ([9, 8, 11], (5, 2, 8, 32), Padding::Same),
        ([10, 9, 11], (5, 2, 5, 33), Padding::Valid),
        ([5, 6, 7], (3, 1, 33, 40), Padding::Same),
        ([5, 6, 7], (3, 1, 32, 33), Padding::Valid),
        ([7, 6, 9], (4, 2, 8, 32), Padding::Same),
        ([4, 5, 3], (2, 1, 40, 32), Padding::Same),
        ([9, 8, 7], (6, 2, 8, 33), Padding::Valid),
    ];

    #[test]
    fn equals_the_definition_on_integers() {
        for (spatial, geometry, padding) in SHAPES {
            case::<f32>(spatial, geometry, padding, Data::Ints);
            case::<f64>(spatial, geometry, padding, Data::Ints);
        }
    }

    #[test]
    fn stays_within_its_rounding_bound() {
        let mut worst = 0.0f64;
        for (spatial, geometry, padding) in SHAPES {
            worst = worst.max(case::<f32>(spatial, geometry, padding, Data::Normal));
            case::<f64>(spatial, geometry, padding, Data::Normal);
        }
        // Typical errors are far inside the worst case (8·(K + 12) ≥ 352 here; measured 0.56).
        assert!(worst < 4.0, "f32 error up to {worst}·u·scale");
    }
}
