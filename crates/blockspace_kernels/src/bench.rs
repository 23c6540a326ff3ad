//! Benchmark support: the issue-5 shapes B1–B5, random problems, timing, and an f32 GEMM
//! yardstick, shared by `blockspace bench` and the criterion benches.
//!
//! A case is a `Conv3DBackpropInputV2` problem ([`BenchCase::problem`]) or, with the same
//! shapes read forward (`input_sizes` is the `Conv3D` input), a `Conv3D` problem
//! ([`BenchCase::conv3d_problem`]); both have the same nominal FLOPs.

use std::time::Instant;

use ndarray::{Array2, ArrayD, Axis, IxDyn, linalg::general_mat_mul};
use rayon::prelude::*;

use crate::conv3d::{Conv3dParams, conv3d_with_params};
use crate::conv3d_backprop_filter::{
    Conv3dBackpropFilterParams, conv3d_backprop_filter_v2_with_params,
};
use crate::conv3d_backprop_input::Conv3dAttrs;
use crate::conv3d_backprop_input::{Conv3dBackpropInputAttrs, Conv3dBackpropInputParams, Padding};
use crate::{Element, KernelContext, KernelError, conv3d_backprop_input_v2_with_params};

/// One benchmark shape (NDHWC).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BenchCase {
    /// `B1` … `B5`.
    pub name: &'static str,
    /// What the shape stands for.
    pub label: &'static str,
    /// `input_sizes`, `[N, D, H, W, C]`.
    pub input_sizes: [usize; 5],
    /// `[KD, KH, KW, C, M]`.
    pub filter: [usize; 5],
    /// The spatial stride (the same along D, H, W).
    pub stride: usize,
    /// Padding of the forward convolution.
    pub padding: Padding,
    /// Issue-5 target in seconds at 2 threads: `[f32 (TensorFlow oneDNN), f64 (TensorFlow / 3)]`.
    pub target_s: [f64; 2],
}

/// The benchmark shapes B1–B5 (see `shared/docs/peer-benchmarks.md`).
pub const CASES: [BenchCase; 5] = [
    BenchCase {
        name: "B1",
        label: "small",
        input_sizes: [1, 16, 16, 16, 8],
        filter: [3, 3, 3, 8, 16],
        stride: 1,
        padding: Padding::Same,
        target_s: [0.0007, 0.0010],
    },
    BenchCase {
        name: "B2",
        label: "volume",
        input_sizes: [1, 64, 64, 64, 16],
        filter: [3, 3, 3, 16, 32],
        stride: 2,
        padding: Padding::Same,
        target_s: [0.0070, 0.0112],
    },
    BenchCase {
        name: "B3",
        label: "video",
        input_sizes: [2, 16, 56, 56, 64],
        filter: [3, 3, 3, 64, 64],
        stride: 1,
        padding: Padding::Same,
        target_s: [0.0977, 0.2143],
    },
    BenchCase {
        name: "B4",
        label: "3-D U-Net upsample",
        input_sizes: [1, 64, 64, 64, 32],
        filter: [4, 4, 4, 32, 64],
        stride: 2,
        padding: Padding::Same,
        target_s: [0.0430, 0.0561],
    },
    BenchCase {
        name: "B5",
        label: "pointwise",
        input_sizes: [4, 32, 32, 32, 64],
        filter: [1, 1, 1, 64, 128],
        stride: 1,
        padding: Padding::Valid,
        target_s: [0.0155, 0.0167],
    },
];

/// TensorFlow 2.21's `Conv3DBackpropInputV2`, median seconds on B1–B5 at 2 threads on the
/// project's machine kind (`shared/docs/peer-benchmarks.md`): `[f32 default (oneDNN), f64]`.
const TF_INPUT_S: [[f64; 2]; 5] = [
    [0.0007, 0.0031],
    [0.0070, 0.0335],
    [0.0977, 0.6429],
    [0.0430, 0.1682],
    [0.0155, 0.0501],
];
/// TensorFlow 2.21's `Conv3D`, measured like [`TF_INPUT_S`] (f32 at 06:03 on a quiet machine, f64
/// earlier the same day) with
/// `crates/blockspace_kernels/benches/peers/tf_peers.py` (`docs/op-reference.md` has the table).
const TF_CONV3D_S: [[f64; 2]; 5] = [
    [0.00052, 0.0008],
    [0.00504, 0.01829],
    [0.0932, 0.2837],
    [0.0402, 0.2388],
    [0.0225, 0.0859],
];
/// TensorFlow 2.21's `Conv3DBackpropFilterV2`, measured like [`TF_CONV3D_S`].
const TF_FILTER_S: [[f64; 2]; 5] = [
    [0.00072, 0.00874],
    [0.00551, 0.02604],
    [0.1012, 0.3896],
    [0.051, 0.3194],
    [0.01573, 0.0904],
];

/// A ready-to-run problem with random data in `[-1, 1)`.
#[derive(Debug, Clone)]
pub struct BenchProblem<T> {
    /// The validated shapes.
    pub params: Conv3dBackpropInputParams,
    /// The filter, `[KD, KH, KW, C, M]`.
    pub filter: ArrayD<T>,
    /// `out_backprop`, NDHWC.
    pub out_backprop: ArrayD<T>,
}

impl BenchCase {
    /// The shape with this name (`"B3"`), case-insensitive.
    #[must_use]
    pub fn by_name(name: &str) -> Option<Self> {
        CASES
            .into_iter()
            .find(|c| c.name.eq_ignore_ascii_case(name.trim()))
    }

    /// The validated parameters.
    ///
    /// # Errors
    /// Never for the built-in cases; validation errors for custom ones.
    pub fn params(&self) -> Result<Conv3dBackpropInputParams, KernelError> {
        let to = |v: usize| i64::try_from(v).unwrap_or(i64::MAX);
        let s = to(self.stride);
        let attrs = Conv3dBackpropInputAttrs {
            strides: vec![1, s, s, s, 1],
            padding: self.padding,
            ..Conv3dBackpropInputAttrs::default()
        };
        let mut out = [0usize; 3];
        for (i, o) in out.iter_mut().enumerate() {
            let win = crate::conv3d_backprop_input::windowed_output_size(
                to(self.input_sizes[1 + i]),
                to(self.filter[i]),
                1,
                s,
                self.padding,
            )?;
            *o = usize::try_from(win.output).unwrap_or(0);
        }
        let sizes: Vec<i64> = self.input_sizes.iter().map(|&v| to(v)).collect();
        let (n, m) = (self.input_sizes[0], self.filter[4]);
        Conv3dBackpropInputParams::new(
            &[5],
            &sizes,
            &self.filter,
            &[n, out[0], out[1], out[2], m],
            &attrs,
        )
    }

    /// Nominal GFLOP: `2·N·OD·OH·OW·M·KD·KH·KW·C / 1e9`.
    ///
    /// # Errors
    /// As [`BenchCase::params`].
    pub fn gflop(&self) -> Result<f64, KernelError> {
        Ok(self.params()?.nominal_flops() / 1e9)
    }

    /// Random operands (uniform in `[-1, 1)`, reproducible from `seed`).
    ///
    /// # Errors
    /// As [`BenchCase::params`].
    pub fn problem<T: Element>(&self, seed: u64) -> Result<BenchProblem<T>, KernelError> {
        let params = self.params()?;
        let dy_shape = params.out_backprop_ndhwc();
        let mut rng = SplitMix(seed);
        let filter = random(&self.filter, &mut rng);
        let out_backprop = random(&dy_shape, &mut rng);
        Ok(BenchProblem {
            params,
            filter,
            out_backprop,
        })
    }
}

/// A ready-to-run `Conv3D` problem with random data in `[-1, 1)`.
#[derive(Debug, Clone)]
pub struct Conv3dBenchProblem<T> {
    /// The validated shapes.
    pub params: Conv3dParams,
    /// The input, NDHWC (`input_sizes` of the case).
    pub input: ArrayD<T>,
    /// The filter, `[KD, KH, KW, C, M]`.
    pub filter: ArrayD<T>,
}

impl BenchCase {
    /// The `Conv3D` problem of this shape: input `input_sizes`, the same filter, stride and
    /// padding.
    ///
    /// # Errors
    /// Never for the built-in cases; validation errors for custom ones.
    pub fn conv3d_params(&self) -> Result<Conv3dParams, KernelError> {
        let s = i64::try_from(self.stride).unwrap_or(i64::MAX);
        let attrs = Conv3dBackpropInputAttrs {
            strides: vec![1, s, s, s, 1],
            padding: self.padding,
            ..Conv3dBackpropInputAttrs::default()
        };
        Conv3dParams::new(&self.input_sizes, &self.filter, &attrs)
    }

    /// Random `Conv3D` operands (uniform in `[-1, 1)`, reproducible from `seed`).
    ///
    /// # Errors
    /// As [`BenchCase::conv3d_params`].
    pub fn conv3d_problem<T: Element>(
        &self,
        seed: u64,
    ) -> Result<Conv3dBenchProblem<T>, KernelError> {
        let params = self.conv3d_params()?;
        let mut rng = SplitMix(seed);
        let filter = random(&self.filter, &mut rng);
        let input = random(&self.input_sizes, &mut rng);
        Ok(Conv3dBenchProblem {
            params,
            input,
            filter,
        })
    }
}

impl<T: Element> Conv3dBenchProblem<T> {
    /// Runs the production `Conv3D` kernel once.
    ///
    /// # Errors
    /// Whatever the kernel returns.
    pub fn run(&self, ctx: &KernelContext) -> Result<ArrayD<T>, KernelError> {
        conv3d_with_params(&self.params, self.input.view(), self.filter.view(), ctx)
    }
}

/// A ready-to-run `Conv3DBackpropFilterV2` problem with random data in `[-1, 1)`.
#[derive(Debug, Clone)]
pub struct FilterBenchProblem<T> {
    /// The validated shapes.
    pub params: Conv3dBackpropFilterParams,
    /// The forward input, NDHWC (`input_sizes` of the case).
    pub input: ArrayD<T>,
    /// `out_backprop`, NDHWC (the forward output's shape).
    pub out_backprop: ArrayD<T>,
}

impl BenchCase {
    /// The `Conv3DBackpropFilterV2` problem of this shape: input `input_sizes`,
    /// `filter_sizes` the case's filter, `out_backprop` the forward output's shape.
    ///
    /// # Errors
    /// Never for the built-in cases; validation errors for custom ones.
    pub fn filter_params(&self) -> Result<Conv3dBackpropFilterParams, KernelError> {
        let forward = self.conv3d_params()?;
        let s = i64::try_from(self.stride).unwrap_or(i64::MAX);
        let attrs = Conv3dAttrs {
            strides: vec![1, s, s, s, 1],
            padding: self.padding,
            ..Conv3dAttrs::default()
        };
        let sizes: Vec<i64> = self
            .filter
            .iter()
            .map(|&v| i64::try_from(v).unwrap_or(i64::MAX))
            .collect();
        Conv3dBackpropFilterParams::new(
            &self.input_sizes,
            &[5],
            &sizes,
            &forward.output_ndhwc(),
            &attrs,
        )
    }

    /// Random `Conv3DBackpropFilterV2` operands (uniform in `[-1, 1)`, from `seed`).
    ///
    /// # Errors
    /// As [`BenchCase::filter_params`].
    pub fn filter_problem<T: Element>(
        &self,
        seed: u64,
    ) -> Result<FilterBenchProblem<T>, KernelError> {
        let params = self.filter_params()?;
        let mut rng = SplitMix(seed);
        let input = random(&self.input_sizes, &mut rng);
        let out_backprop = random(&params.out_backprop_ndhwc(), &mut rng);
        Ok(FilterBenchProblem {
            params,
            input,
            out_backprop,
        })
    }

    /// A ready-to-run problem of `op` on this shape, boxed so callers can time any op alike.
    ///
    /// # Errors
    /// As the op's params.
    pub fn op_problem<T: Element>(&self, op: BenchOp, seed: u64) -> Result<OpRunner, KernelError> {
        Ok(match op {
            BenchOp::Conv3D => {
                let p = self.conv3d_problem::<T>(seed)?;
                Box::new(move |ctx| p.run(ctx).map(drop))
            }
            BenchOp::Conv3DBackpropInputV2 => {
                let p = self.problem::<T>(seed)?;
                Box::new(move |ctx| p.run(ctx).map(drop))
            }
            BenchOp::Conv3DBackpropFilterV2 => {
                let p = self.filter_problem::<T>(seed)?;
                Box::new(move |ctx| p.run(ctx).map(drop))
            }
        })
    }
}

impl<T: Element> FilterBenchProblem<T> {
    /// Runs the production `Conv3DBackpropFilterV2` kernel once.
    ///
    /// # Errors
    /// Whatever the kernel returns.
    pub fn run(&self, ctx: &KernelContext) -> Result<ArrayD<T>, KernelError> {
        conv3d_backprop_filter_v2_with_params(
            &self.params,
            self.input.view(),
            self.out_backprop.view(),
            ctx,
        )
    }
}

/// One run of a benchmark problem, whatever its op.
pub type OpRunner = Box<dyn Fn(&KernelContext) -> Result<(), KernelError> + Sync>;

/// Which op a benchmark times. The three have the same nominal FLOPs on a case's shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BenchOp {
    /// The forward convolution.
    Conv3D,
    /// The gradient with respect to the input (the default).
    Conv3DBackpropInputV2,
    /// The gradient with respect to the filter.
    Conv3DBackpropFilterV2,
}

impl BenchOp {
    /// All three, in `blockspace bench --op` order.
    pub const ALL: [Self; 3] = [
        Self::Conv3D,
        Self::Conv3DBackpropInputV2,
        Self::Conv3DBackpropFilterV2,
    ];

    /// TensorFlow's op name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Conv3D => "Conv3D",
            Self::Conv3DBackpropInputV2 => "Conv3DBackpropInputV2",
            Self::Conv3DBackpropFilterV2 => "Conv3DBackpropFilterV2",
        }
    }

    /// The op called `name` (TensorFlow's spelling, case-insensitive).
    #[must_use]
    pub fn by_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|op| op.name().eq_ignore_ascii_case(name.trim()))
    }

    /// TensorFlow's median seconds on this case, measured on the project's machine kind
    /// (2 threads; f32 with TensorFlow's default kernel, oneDNN there; f64 its Eigen kernel):
    /// `[f32, f64]`, or `None` where not measured.
    #[must_use]
    pub fn tensorflow_s(self, case: &BenchCase) -> Option<[f64; 2]> {
        let i = CASES.iter().position(|c| c.name == case.name)?;
        match self {
            Self::Conv3DBackpropInputV2 => Some(TF_INPUT_S[i]),
            Self::Conv3D => Some(TF_CONV3D_S[i]),
            Self::Conv3DBackpropFilterV2 => Some(TF_FILTER_S[i]),
        }
    }
}

impl<T: Element> BenchProblem<T> {
    /// Runs the production kernel once.
    ///
    /// # Errors
    /// Whatever the kernel returns.
    pub fn run(&self, ctx: &KernelContext) -> Result<ArrayD<T>, KernelError> {
        conv3d_backprop_input_v2_with_params(
            &self.params,
            self.filter.view(),
            self.out_backprop.view(),
            ctx,
        )
    }
}

struct SplitMix(u64);

impl SplitMix {
    fn next_unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        #[expect(clippy::cast_precision_loss, reason = "53 random bits")]
        let v = (z >> 11) as f64 / (1u64 << 53) as f64;
        2.0 * v - 1.0
    }
}

fn random<T: Element>(shape: &[usize], rng: &mut SplitMix) -> ArrayD<T> {
    ArrayD::from_shape_simple_fn(IxDyn(shape), || T::from_f64(rng.next_unit()))
}

/// Seconds of repeated runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    /// Median.
    pub median_s: f64,
    /// Fastest run.
    pub min_s: f64,
    /// Slowest run.
    pub max_s: f64,
}

/// Runs `f` `warmup` times untimed, then `runs` (at least 1) times timed.
///
/// # Errors
/// The first error of `f`.
pub fn time<E>(
    warmup: usize,
    runs: usize,
    mut f: impl FnMut() -> Result<(), E>,
) -> Result<Timing, E> {
    for _ in 0..warmup {
        f()?;
    }
    let mut secs = Vec::with_capacity(runs.max(1));
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        f()?;
        secs.push(t.elapsed().as_secs_f64());
    }
    secs.sort_by(f64::total_cmp);
    let mid = secs.len() / 2;
    let median_s = if secs.len() % 2 == 1 {
        secs[mid]
    } else {
        0.5 * (secs[mid - 1] + secs[mid])
    };
    Ok(Timing {
        median_s,
        min_s: secs[0],
        max_s: secs[secs.len() - 1],
    })
}

/// What the GEMM yardstick runs.
pub const GEMM_YARDSTICK: &str = "f32 GEMM 1024x1024x1024, ndarray general_mat_mul (matrixmultiply crate), rows split over the rayon pool";

/// Times the f32 GEMM yardstick ([`GEMM_YARDSTICK`]) on the current rayon pool.
///
/// Returns the timing and the GFLOP/s of its median.
#[must_use]
pub fn gemm_yardstick(warmup: usize, runs: usize) -> (Timing, f64) {
    const N: usize = 1024;
    let mut rng = SplitMix(42);
    let a = Array2::<f32>::from_shape_simple_fn((N, N), || f32::from_f64(rng.next_unit()));
    let b = Array2::<f32>::from_shape_simple_fn((N, N), || f32::from_f64(rng.next_unit()));
    let mut c = Array2::<f32>::zeros((N, N));
    let threads = rayon::current_num_threads().max(1);
    let rows = N.div_ceil(threads);
    let timing = time::<()>(warmup, runs, || {
        let mut blocks: Vec<_> = a
            .axis_chunks_iter(Axis(0), rows)
            .zip(c.axis_chunks_iter_mut(Axis(0), rows))
            .collect();
        blocks.par_iter_mut().for_each(|(a_blk, c_blk)| {
            general_mat_mul(1.0, a_blk, &b, 0.0, c_blk);
        });
        Ok(())
    })
    .unwrap_or(Timing {
        median_s: f64::NAN,
        min_s: f64::NAN,
        max_s: f64::NAN,
    });
    #[expect(clippy::cast_precision_loss, reason = "small integer")]
    let flop = 2.0 * (N * N * N) as f64;
    (timing, flop / timing.median_s / 1e9)
}

/// What the FMA peak ([`fma_peak`]) runs.
pub const FMA_PEAK: &str = "12 independent vector FMA chains per thread, on the kernels' instruction set, every pool thread at once";

/// The fused multiply-add peak of the current rayon pool in GFLOP/s for `f32` (`f64` when
/// `double`) on the kernels' instruction set ([`isa_name`]): every thread runs [`FMA_PEAK`]'s
/// chains at once, fastest of `runs` timed runs (a peak: what the cores can do when nothing
/// else runs). No kernel can go faster; `× peak` of a case is its GFLOP/s over this.
#[must_use]
pub fn fma_peak(double: bool, warmup: usize, runs: usize) -> f64 {
    // About 5 ms per run on a 3 GHz core with one 512-bit FMA per cycle.
    const ITERS: usize = 1_500_000;
    let isa = crate::simd::Isa::best();
    let mut flops = 0.0;
    let timing = time::<()>(warmup, runs, || {
        let done =
            rayon::broadcast(|_| crate::simd::peak::run(isa, double, std::hint::black_box(ITERS)));
        flops = std::hint::black_box(done).iter().map(|&(_, f)| f).sum();
        Ok(())
    });
    timing.map_or(f64::NAN, |t| flops / t.min_s / 1e9)
}

/// Runs `f` inside a fresh rayon pool of `threads` threads (0: rayon's default).
///
/// # Errors
/// When the pool cannot be built.
pub fn with_threads<R: Send>(
    threads: usize,
    f: impl FnOnce() -> R + Send,
) -> Result<R, rayon::ThreadPoolBuildError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;
    Ok(pool.install(f))
}

/// The microkernel path the kernels use in this process (`avx512`, `avx2` or `portable`;
/// `BLOCKSPACE_ISA` can force a slower one).
#[must_use]
pub fn isa_name() -> &'static str {
    crate::simd::Isa::best().path().name()
}

/// The microkernel path `op` runs on `case` in this process (`f64` when `double`): the
/// process's path ([`isa_name`]), except where an output of at most half an AVX-512 vector of
/// channels (B1's input gradient, 8 channels) runs AVX2's.
#[must_use]
pub fn case_isa_name(op: BenchOp, case: &BenchCase, double: bool) -> &'static str {
    let [_, _, _, c, m] = case.filter;
    // The output's channels: the input gradient's are the filter's `C`, the forward
    // convolution's and the filter gradient's its `M`.
    let width = if op == BenchOp::Conv3DBackpropInputV2 {
        c
    } else {
        m
    };
    let size = if double { 8 } else { 4 };
    crate::simd::Isa::best()
        .for_width(width, size)
        .path()
        .name()
}

/// Threads of the current rayon pool.
#[must_use]
pub fn current_threads() -> usize {
    rayon::current_num_threads()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_narrow_outputs_leave_the_process_path() {
        let process = isa_name();
        let b1 = BenchCase::by_name("B1").expect("B1");
        let b3 = BenchCase::by_name("B3").expect("B3");
        let narrow = if process == "avx512" { "avx2" } else { process };
        assert_eq!(
            case_isa_name(BenchOp::Conv3DBackpropInputV2, &b1, false),
            narrow,
            "B1's input gradient has 8 float32 channels"
        );
        for (op, case, double) in [
            (BenchOp::Conv3DBackpropInputV2, &b1, true),
            (BenchOp::Conv3D, &b1, false),
            (BenchOp::Conv3DBackpropFilterV2, &b1, false),
            (BenchOp::Conv3DBackpropInputV2, &b3, false),
        ] {
            assert_eq!(
                case_isa_name(op, case, double),
                process,
                "{op:?} {}",
                case.name
            );
        }
    }
}
