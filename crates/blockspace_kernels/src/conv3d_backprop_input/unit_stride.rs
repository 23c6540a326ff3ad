//! The input gradient with unit strides on the shared Winograd correlation
//! ([`crate::correlation`]): a `k3 s1` or `k2 s1` filter, no dilation.
//!
//! With unit strides `dx[x] = Σ_k out_backprop[x + P − k] · F[k]ᵀ`; with `a = K − 1 − k` this
//! is a correlation reading `out_backprop[x + (P − K + 1) + a]` with weights `F[K − 1 − a]ᵀ`
//! (the filter flipped, its channel axes swapped).

use ndarray::{Array5, ArrayView5};

use super::params::Conv3dBackpropInputParams;
use crate::correlation::{Correlation, correlate, ndhwc, pays, with_fitting};
use crate::simd::Isa;
use crate::tiling::signed;
use crate::{Element, KernelContext, KernelError};

/// The taps per dimension when `p` has the shape this kernel handles, with channel counts
/// where it beats the direct kernel.
pub(super) fn taps(p: &Conv3dBackpropInputParams, size: usize) -> Option<usize> {
    let r = p.kernel[0];
    let shape_ok = (2..=3).contains(&r)
        && (0..3).all(|i| p.dilations[i] == 1 && p.strides[i] == 1 && p.kernel[i] == r);
    (shape_ok && pays((r, [1; 3], [r; 3]), (p.m, p.c, size))).then_some(r)
}

/// Computes the NDHWC output on `isa` with `r` taps per dimension ([`taps`]), or `None` when
/// an operand holds values the transforms cannot take (then the direct kernel runs).
///
/// # Errors
/// [`KernelError::TooLarge`], [`KernelError::Cancelled`].
pub(super) fn compute_on<T: Element>(
    isa: Isa,
    p: &Conv3dBackpropInputParams,
    r: usize,
    filter: ArrayView5<'_, T>,
    dy: ArrayView5<'_, T>,
    ctx: &KernelContext,
) -> Result<Option<Array5<T>>, KernelError> {
    let run = |src: &[T], f: &[T]| {
        let (c_, m_) = (p.c, p.m);
        let c = Correlation {
            n: p.n,
            src,
            src_dims: p.out_spatial,
            cs: m_,
            phases: [1, 1, 1],
            off: p.pad_before.map(|v| signed(v) - signed(r - 1)),
            out_dims: p.input_spatial,
            cout: c_,
            taps: r,
            limit: [r; 3],
        };
        let weight = |_: [usize; 3], a: [usize; 3], mi: usize, ci: usize| {
            let [kd, kh, kw] = a.map(|a| r - 1 - a);
            f[(((kd * r + kh) * r + kw) * c_ + ci) * m_ + mi]
        };
        correlate(isa, &c, weight, ctx)
    };
    let Some(dx) = with_fitting(&dy, &filter, run) else {
        return Ok(None);
    };
    let dx = dx?;
    let [d, h, w] = p.input_spatial;
    ndhwc(dx, [p.n, d, h, w, p.c]).map(Some)
}

#[cfg(test)]
mod tests {
    use ndarray::{Array5, ArrayD, Ix5, arr1};

    use super::*;
    use crate::conv3d_backprop_input::reference::conv3d_backprop_input_v2;
    use crate::correlation::testing::{Data, array, check_every_path, to_f64};
    use crate::{Conv3dAttrs, DataFormat, Padding};

    fn attrs(padding: Padding) -> Conv3dAttrs {
        Conv3dAttrs {
            strides: vec![1; 5],
            padding,
            data_format: DataFormat::Ndhwc,
            dilations: vec![1; 5],
        }
    }

    fn sizes(shape: [usize; 5]) -> ArrayD<i64> {
        arr1(&shape.map(|v| i64::try_from(v).expect("small"))).into_dyn()
    }

    /// The problem with input `[2, spatial, c]`, a `k³ × c × m` filter, unit strides.
    fn params(
        spatial: [usize; 3],
        k: usize,
        c: usize,
        m: usize,
        padding: Padding,
    ) -> Conv3dBackpropInputParams {
        let [d, h, w] = spatial;
        let out = |i: usize| {
            if padding == Padding::Same {
                i
            } else {
                i + 1 - k
            }
        };
        let input = [2, d, h, w, c];
        Conv3dBackpropInputParams::from_operands(
            sizes(input).view(),
            &[k, k, k, c, m],
            &[2, out(d), out(h), out(w), m],
            &attrs(padding),
        )
        .expect("valid problem")
    }

    #[test]
    fn applies_to_unit_strides_only() {
        let f32 = 4;
        assert_eq!(
            taps(&params([16, 56, 56], 3, 64, 64, Padding::Same), f32),
            Some(3),
            "B3"
        );
        assert_eq!(
            taps(&params([8, 8, 8], 2, 32, 32, Padding::Valid), f32),
            Some(2),
            "k2 s1"
        );
        assert_eq!(
            taps(&params([16, 16, 16], 3, 8, 16, Padding::Same), f32),
            None,
            "B1"
        );
        let mut strided = params([8, 8, 8], 3, 64, 64, Padding::Same);
        strided.strides = [2, 2, 2];
        assert_eq!(taps(&strided, f32), None, "stride 2");
    }

    fn case<T: Element>(
        spatial: [usize; 3],
        (k, c, m): (usize, usize, usize),
        padding: Padding,
        data: Data,
    ) -> f64 {
        let p = params(spatial, k, c, m, padding);
        let a = attrs(padding);
        let [d, h, w] = spatial;
        let input = sizes([2, d, h, w, c]);
        let [od, oh, ow] = p.out_spatial;
        let f = array::<T>(&[k, k, k, c, m], 21, data);
        let dy = array::<T>(&[2, od, oh, ow, m], 22, data);
        let r = taps(&p, std::mem::size_of::<T>()).expect("the Winograd kernel applies");
        let (f64_, dy64) = (to_f64(&f, false), to_f64(&dy, false));
        let exact =
            conv3d_backprop_input_v2(input.view(), f64_.view(), dy64.view(), &a).expect("ok");
        // Σ_m (Σ_taps |w_m|)·(Σ_window |dy_m|): |dy| against the sum of |F| over all taps.
        let fa = to_f64(&f, true);
        let all = Array5::from_shape_fn([k, k, k, c, m], |(_, _, _, ci, mi)| {
            fa.index_axis(ndarray::Axis(4), mi)
                .index_axis(ndarray::Axis(3), ci)
                .sum()
        });
        let scale = conv3d_backprop_input_v2(
            input.view(),
            all.into_dyn().view(),
            to_f64(&dy, true).view(),
            &a,
        )
        .expect("ok");
        let (f5, dy5) = (
            f.view().into_dimensionality::<Ix5>().expect("rank 5"),
            dy.view().into_dimensionality::<Ix5>().expect("rank 5"),
        );
        let kernel = |isa| {
            compute_on(isa, &p, r, f5.view(), dy5.view(), &KernelContext::default())
                .expect("runs")
                .expect("values fit")
                .into_dyn()
        };
        check_every_path(kernel, (&exact, &scale), (m, k * k * k), data)
    }

    /// Spatial input size, `(k, c, m)`, padding.
    type Shape = ([usize; 3], (usize, usize, usize), Padding);

    const SHAPES: [Shape; 3] = [
        ([5, 6, 7], (3, 33, 40), Padding::Same),
        ([6, 5, 7], (3, 40, 32), Padding::Valid),
        ([4, 5, 3], (2, 32, 33), Padding::Same),
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
        assert!(worst < 4.0, "f32 error up to {worst}·u·scale");
    }
}
