//! The machine's fused multiply-add peak: [`CHAINS`] independent FMA chains on full vectors,
//! the most a microkernel could reach, measured so that benchmarks can say how close a kernel
//! gets (`blockspace bench`'s `x peak` column).
//!
//! Twelve chains hide the FMA latency on every x86 core of the last decade (4 cycles, up to
//! two FMA ports: 8 chains needed) and fit AVX2's 16 registers with the two constants. Each
//! chain computes `acc = acc·m + c` with `m` just below 1, so values stay bounded and normal
//! (floating-point recurrences cannot be folded, so the optimizer keeps every step).

use super::{Isa, KernelPath};

/// Independent accumulators per thread.
const CHAINS: usize = 12;

/// Multiplier and addend of every step (`acc` converges to `c / (1 - m)` = 1).
const M: f64 = 0.999_999;
const C: f64 = 1.0 - M;
/// [`M`] and [`C`] in `f32`.
const M32: f32 = 0.999_999;
const C32: f32 = 1.0 - M32;

/// Defines `$name(iters) -> f64`: `iters` rounds of [`CHAINS`] vector FMAs, the lanes summed.
macro_rules! fma_chains {
    (
        $name:ident, $feat:literal, $t:ty, $vec:ty, $set1:ident, $fmadd:ident, $store:ident,
        $lanes:expr, $m:expr, $c:expr
    ) => {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $feat)]
        fn $name(iters: usize) -> f64 {
            use std::arch::x86_64::{$fmadd, $set1, $store};
            let (m, c) = ($set1($m), $set1($c));
            let mut acc: [$vec; CHAINS] = [c; CHAINS];
            for _ in 0..iters {
                for a in &mut acc {
                    *a = $fmadd(*a, m, c);
                }
            }
            let mut lanes = [0.0 as $t; $lanes];
            let mut sum = 0.0f64;
            for a in acc {
                // SAFETY: `lanes` holds exactly one vector.
                unsafe { $store(lanes.as_mut_ptr(), a) };
                sum += lanes.iter().map(|&v| f64::from(v)).sum::<f64>();
            }
            sum
        }
    };
}

fma_chains!(
    avx512_f32,
    "avx512f",
    f32,
    std::arch::x86_64::__m512,
    _mm512_set1_ps,
    _mm512_fmadd_ps,
    _mm512_storeu_ps,
    16,
    M32,
    C32
);
fma_chains!(
    avx512_f64,
    "avx512f",
    f64,
    std::arch::x86_64::__m512d,
    _mm512_set1_pd,
    _mm512_fmadd_pd,
    _mm512_storeu_pd,
    8,
    M,
    C
);
fma_chains!(
    avx2_f32,
    "avx2,fma",
    f32,
    std::arch::x86_64::__m256,
    _mm256_set1_ps,
    _mm256_fmadd_ps,
    _mm256_storeu_ps,
    8,
    M32,
    C32
);
fma_chains!(
    avx2_f64,
    "avx2,fma",
    f64,
    std::arch::x86_64::__m256d,
    _mm256_set1_pd,
    _mm256_fmadd_pd,
    _mm256_storeu_pd,
    4,
    M,
    C
);

/// The portable path: the same chains as separate multiplies and adds on 8-lane arrays (what
/// the portable microkernel does), `M·a + C` per lane.
fn portable<T>(iters: usize, m: T, c: T) -> f64
where
    T: Copy + Into<f64> + std::ops::Mul<Output = T> + std::ops::Add<Output = T>,
{
    let mut acc = [[c; super::PORTABLE_LANES]; CHAINS];
    for _ in 0..iters {
        for chain in &mut acc {
            for v in chain.iter_mut() {
                *v = *v * m + c;
            }
        }
    }
    acc.iter().flatten().map(|&v| v.into()).sum()
}

/// `iters` rounds of [`CHAINS`] vector multiply-adds of `f32` (`f64` when `double`) on `isa`;
/// returns the lanes' sum (each lane between `C` and 1) and the flops done.
pub(crate) fn run(isa: Isa, double: bool, iters: usize) -> (f64, f64) {
    let size = if double { 8 } else { 4 };
    #[expect(clippy::cast_precision_loss, reason = "flop counts far below 2^53")]
    let flops = (2 * iters * CHAINS * isa.lanes(size)) as f64;
    let sum = match (isa.path(), double) {
        // SAFETY (all four): `Isa` values with this path exist only when the CPU has it.
        #[cfg(target_arch = "x86_64")]
        (KernelPath::Avx512, false) => unsafe { avx512_f32(iters) },
        #[cfg(target_arch = "x86_64")]
        (KernelPath::Avx512, true) => unsafe { avx512_f64(iters) },
        #[cfg(target_arch = "x86_64")]
        (KernelPath::Avx2, false) => unsafe { avx2_f32(iters) },
        #[cfg(target_arch = "x86_64")]
        (KernelPath::Avx2, true) => unsafe { avx2_f64(iters) },
        (_, false) => portable(iters, M32, C32),
        (_, true) => portable(iters, M, C),
    };
    (sum, flops)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_counts_its_flops_and_stays_bounded() {
        for path in KernelPath::ALL {
            let Some(isa) = Isa::new(path) else { continue };
            for double in [false, true] {
                let (sum, flops) = run(isa, double, 1000);
                let lanes = isa.lanes(if double { 8 } else { 4 });
                assert_eq!(flops, (2 * 1000 * CHAINS * lanes) as f64, "{path:?}");
                // Every lane starts at C and moves towards 1 (a fixed point of a·M + C).
                let per_lane = sum / (CHAINS * lanes) as f64;
                assert!(
                    per_lane > C && per_lane < 1.0,
                    "{path:?} double={double}: {per_lane}"
                );
            }
        }
    }
}
