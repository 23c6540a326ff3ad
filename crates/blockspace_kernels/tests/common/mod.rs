//! Random 3-D convolution problems shared by the property tests.

use blockspace_kernels::{Conv3dAttrs, DataFormat, Padding};
use proptest::prelude::*;

/// One problem: NDHWC sizes, `c` input and `m` output channels.
#[derive(Debug, Clone)]
pub struct Case {
    pub n: usize,
    pub spatial: [usize; 3],
    pub kernel: [usize; 3],
    pub strides: [usize; 3],
    pub dilations: [usize; 3],
    pub c: usize,
    pub m: usize,
    pub padding: Padding,
    pub format: DataFormat,
    pub seed: u64,
}

/// Batch 1–2, `D` 1–4, `H` 1–5, `W` 1–`max_w`, kernels 1–4, strides 1–3, dilations 1–2,
/// channels from `channels`, SAME/VALID, NDHWC/NCDHW.
pub fn case(channels: &'static [usize], max_w: usize) -> impl Strategy<Value = Case> {
    let nc = channels.len();
    (
        1usize..=2,
        (1usize..=4, 1usize..=5, 1usize..=max_w),
        (1usize..=4, 1usize..=4, 1usize..=4),
        (1usize..=3, 1usize..=3, 1usize..=3),
        (1usize..=2, 1usize..=2, 1usize..=2),
        (0usize..nc, 0usize..nc),
        any::<bool>(),
        any::<bool>(),
        any::<u64>(),
    )
        .prop_map(
            move |(n, (d, h, w), (kd, kh, kw), st, dil, (ci, mi), same, ncdhw, seed)| Case {
                n,
                spatial: [d, h, w],
                kernel: [kd, kh, kw],
                strides: [st.0, st.1, st.2],
                dilations: [dil.0, dil.1, dil.2],
                c: channels[ci],
                m: channels[mi],
                padding: if same { Padding::Same } else { Padding::Valid },
                format: if ncdhw {
                    DataFormat::Ncdhw
                } else {
                    DataFormat::Ndhwc
                },
                seed,
            },
        )
}

impl Case {
    /// The attributes (strides and dilations placed for the layout).
    pub fn attrs(&self) -> Conv3dAttrs {
        let mut strides = vec![1i64; 5];
        let mut dilations = vec![1i64; 5];
        for i in 0..3 {
            let t = self.format.spatial_dim(i);
            strides[t] = i64::try_from(self.strides[i]).expect("small");
            dilations[t] = i64::try_from(self.dilations[i]).expect("small");
        }
        Conv3dAttrs {
            strides,
            padding: self.padding,
            data_format: self.format,
            dilations,
        }
    }

    /// The (forward) input shape, in the layout.
    pub fn input_shape(&self) -> [usize; 5] {
        let [d, h, w] = self.spatial;
        self.format.shape_from_ndhwc([self.n, d, h, w, self.c])
    }

    /// `[KD, KH, KW, C, M]`.
    pub fn filter_shape(&self) -> [usize; 5] {
        let [kd, kh, kw] = self.kernel;
        [kd, kh, kw, self.c, self.m]
    }
}
