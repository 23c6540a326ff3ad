//! The register-blocked microkernels of the gather kernels, and (in `rows`) their output
//! builders: the crate's only `unsafe` code.
//!
//! One *tile* computes `MR` output rows × `NV` SIMD vectors of channels:
//!
//! ```text
//! out[r·ldo + c] = Σ_taps Σ_k  a[ao + r·lda + k] · b[bo + k·NV·L + c]     (r < MR, c < NV·L)
//! ```
//!
//! with the accumulators held in registers over every tap and every `k`, and stored once
//! (the last vector masked to `last` lanes). The sum for each element runs in the order
//! taps, then `k`, with one fused multiply-add per term, whatever `MR` is; so the result of an
//! element depends only on the tap list, never on how rows were grouped into tiles.
//!
//! Three implementations, chosen at run time: AVX-512F (`L` = 16 f32 / 8 f64, up to 24
//! accumulators), AVX2+FMA (`L` = 8 / 4, up to 12 accumulators) and a portable one (`L` = 8,
//! no FMA). [`Isa`] can only be built for an instruction set the CPU has, and every tile call
//! checks its slice bounds before any raw pointer is touched, so the safe API cannot cause
//! undefined behaviour.
#![expect(
    unsafe_code,
    reason = "SIMD intrinsics, raw-pointer loads/stores in bounds-checked microkernels"
)]

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::{
    __m256i, _MM_HINT_T0, _mm_prefetch, _mm256_add_pd, _mm256_add_ps, _mm256_cmpgt_epi32,
    _mm256_cmpgt_epi64, _mm256_fmadd_pd, _mm256_fmadd_ps, _mm256_loadu_pd, _mm256_loadu_ps,
    _mm256_maskstore_pd, _mm256_maskstore_ps, _mm256_set1_epi32, _mm256_set1_epi64x,
    _mm256_set1_pd, _mm256_set1_ps, _mm256_setr_epi32, _mm256_setr_epi64x, _mm256_setzero_pd,
    _mm256_setzero_ps, _mm256_storeu_pd, _mm256_storeu_ps, _mm512_add_pd, _mm512_add_ps,
    _mm512_fmadd_pd, _mm512_fmadd_ps, _mm512_loadu_pd, _mm512_loadu_ps, _mm512_mask_storeu_pd,
    _mm512_mask_storeu_ps, _mm512_set1_pd, _mm512_set1_ps, _mm512_setzero_pd, _mm512_setzero_ps,
    _mm512_storeu_pd, _mm512_storeu_ps,
};

/// An instruction set of the microkernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KernelPath {
    /// AVX-512F (x86-64).
    Avx512,
    /// AVX2 with FMA (x86-64).
    Avx2,
    /// Plain Rust, any CPU.
    Portable,
}

impl KernelPath {
    /// Every path, fastest first.
    pub const ALL: [Self; 3] = [Self::Avx512, Self::Avx2, Self::Portable];

    /// The name used by `BLOCKSPACE_ISA` and in benchmark output: `avx512`, `avx2`, `portable`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Avx512 => "avx512",
            Self::Avx2 => "avx2",
            Self::Portable => "portable",
        }
    }
}

/// A [`KernelPath`] the running CPU supports (the only way to reach the SIMD code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Isa(KernelPath);

impl Isa {
    /// `path` if this CPU can run it.
    pub(crate) fn new(path: KernelPath) -> Option<Self> {
        let ok = match path {
            KernelPath::Portable => true,
            #[cfg(target_arch = "x86_64")]
            KernelPath::Avx512 => std::arch::is_x86_feature_detected!("avx512f"),
            #[cfg(target_arch = "x86_64")]
            KernelPath::Avx2 => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        };
        ok.then_some(Self(path))
    }

    /// The fastest path this CPU supports, or the one `BLOCKSPACE_ISA` (`avx512`, `avx2`,
    /// `portable`) names when this CPU supports it (to measure or test a slower path on a
    /// faster machine). Read once per process.
    pub(crate) fn best() -> Self {
        static BEST: std::sync::OnceLock<Isa> = std::sync::OnceLock::new();
        *BEST.get_or_init(|| {
            let forced = std::env::var("BLOCKSPACE_ISA").ok().and_then(|v| {
                let path = KernelPath::ALL.into_iter().find(|p| p.name() == v.trim());
                if path.is_none() {
                    log::warn!("BLOCKSPACE_ISA={v:?} is not avx512, avx2 or portable; ignored");
                }
                path.and_then(Self::new)
            });
            forced.unwrap_or_else(|| {
                KernelPath::ALL
                    .into_iter()
                    .find_map(Self::new)
                    .unwrap_or(Self(KernelPath::Portable))
            })
        })
    }

    /// The path.
    pub(crate) fn path(self) -> KernelPath {
        self.0
    }

    /// Lanes per vector for elements of `size` bytes.
    pub(crate) fn lanes(self, size: usize) -> usize {
        match self.0 {
            KernelPath::Avx512 => 64 / size,
            KernelPath::Avx2 => 32 / size,
            KernelPath::Portable => PORTABLE_LANES,
        }
    }

    /// Largest number of vectors per tile.
    pub(crate) fn nv_max(self) -> usize {
        match self.0 {
            KernelPath::Avx512 => 4,
            KernelPath::Avx2 | KernelPath::Portable => 2,
        }
    }

    /// Largest number of rows per tile with `nv` vectors (`1 ≤ nv ≤ nv_max`).
    pub(crate) fn mr_max(self, nv: usize) -> usize {
        match (self.0, nv) {
            (KernelPath::Avx512, 1) => 16,
            (KernelPath::Avx512, 2) => 12,
            (KernelPath::Avx512, 3) => 8,
            (KernelPath::Avx512, _) => 6,
            (KernelPath::Avx2, 1) => 12,
            (KernelPath::Avx2, _) => 6,
            (KernelPath::Portable, _) => 4,
        }
    }
}

const PORTABLE_LANES: usize = 8;

/// A tap list (`(offset in a, offset in b)` of each tap, in summation order) with its largest
/// offsets, found once, so that the tiles sharing one list check their bounds in O(1).
#[derive(Debug, Clone, Copy)]
pub struct Taps<'a> {
    list: &'a [(usize, usize)],
    max_a: usize,
    max_b: usize,
}

impl<'a> Taps<'a> {
    /// Scans `list` once for its largest offsets.
    pub fn new(list: &'a [(usize, usize)]) -> Self {
        let (max_a, max_b) = list
            .iter()
            .fold((0, 0), |(ma, mb), &(a, b)| (ma.max(a), mb.max(b)));
        Self { list, max_a, max_b }
    }

    /// Whether there are no taps.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

/// Operands of one tile (see the module docs).
pub struct Tile<'a, T> {
    /// Left operand (`out_backprop`), rows `lda` apart.
    pub a: &'a [T],
    /// Row stride of `a`.
    pub lda: usize,
    /// The taps, in summation order.
    pub taps: Taps<'a>,
    /// Reduction length per tap.
    pub k: usize,
    /// Right operand: packed panels, `k` rows of `NV·L` each per tap.
    pub b: &'a [T],
    /// Output, rows `ldo` apart.
    pub out: &'a mut [T],
    /// Row stride of `out`.
    pub ldo: usize,
    /// Lanes stored from the last vector of each row (`1..=L`).
    pub last: usize,
}

impl<T> Tile<'_, T> {
    /// Panics unless every access of an `mr × nv` tile with `lanes` lanes is in bounds.
    fn check(&self, mr: usize, nv: usize, lanes: usize) {
        assert!(mr >= 1 && nv >= 1, "empty tile");
        assert!(self.last >= 1 && self.last <= lanes, "bad tail");
        let a_span = (mr - 1) * self.lda + self.k;
        let b_span = self.k * nv * lanes;
        // Every tap's offsets are at most the list's maxima, so checking those covers all.
        if !self.taps.is_empty() {
            assert!(
                self.taps
                    .max_a
                    .checked_add(a_span)
                    .is_some_and(|e| e <= self.a.len()),
                "tile reads past out_backprop"
            );
            assert!(
                self.taps
                    .max_b
                    .checked_add(b_span)
                    .is_some_and(|e| e <= self.b.len()),
                "tile reads past the packed filter"
            );
        }
        let out_span = (mr - 1) * self.ldo + (nv - 1) * lanes + self.last;
        assert!(out_span <= self.out.len(), "tile writes past the output");
    }
}

/// Element types with microkernels.
pub trait SimdElement: Copy {
    /// Runs one `mr × nv` tile on `isa`. Panics on out-of-bounds operands or an unsupported
    /// shape (`mr > isa.mr_max(nv)`, `nv > isa.nv_max()`).
    #[doc(hidden)]
    fn tile(isa: Isa, mr: usize, nv: usize, t: Tile<'_, Self>)
    where
        Self: Sized;
}

/// Expands `match (nv, mr)` into calls of `$f::<MR, NV>($args)`.
macro_rules! dispatch {
    ($nv:expr, $mr:expr, $f:ident, $args:tt, [$($nvv:literal => [$($mrv:literal)*]),*]) => {
        match ($nv, $mr) {
            $($( ($nvv, $mrv) => $f::<$mrv, $nvv> $args, )*)*
            _ => panic!("unsupported tile shape"),
        }
    };
}

/// Defines an x86 microkernel `$name<MR, NV>` for one element type and instruction set.
macro_rules! x86_tile {
    (
        $name:ident, $row:ident, $feat:literal, $t:ty, $lanes:expr, $zero:ident, $load:ident,
        $set1:ident, $fmadd:ident, $add:ident, $store:ident, $mask_store:ident, $mask:ident
    ) => {
        /// A single-row tile (`MR = 1`) with the reduction split over `S` accumulator sets
        /// (`k ≡ s mod S`, summed `((s0 + s1) + s2) + s3` at the end), so a narrow row still
        /// has enough independent FMA chains to hide their latency.
        ///
        /// # Safety
        /// As for the `MR × NV` tile with `MR = 1`.
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $feat)]
        unsafe fn $row<const NV: usize, const S: usize>(
            a: *const $t,
            taps: &[(usize, usize)],
            k: usize,
            b: *const $t,
            out: *mut $t,
            last: usize,
        ) {
            let mut acc = [[$zero(); NV]; S];
            for &(ao, bo) in taps {
                // SAFETY: `Tile::check` proved `ao + k ≤ a.len()` and
                // `bo + k·NV·L ≤ b.len()`; every index below is below `k`.
                unsafe {
                    let ap = a.add(ao);
                    let bp = b.add(bo);
                    let mut kk = 0;
                    while kk + S <= k {
                        for s in 0..S {
                            let av = $set1(*ap.add(kk + s));
                            let brow = bp.add((kk + s) * NV * $lanes);
                            for v in 0..NV {
                                acc[s][v] = $fmadd(av, $load(brow.add(v * $lanes)), acc[s][v]);
                            }
                        }
                        kk += S;
                    }
                    while kk < k {
                        let av = $set1(*ap.add(kk));
                        let brow = bp.add(kk * NV * $lanes);
                        for v in 0..NV {
                            acc[0][v] = $fmadd(av, $load(brow.add(v * $lanes)), acc[0][v]);
                        }
                        kk += 1;
                    }
                }
            }
            let mut sum = acc[0];
            for set in &acc[1..] {
                for v in 0..NV {
                    sum[v] = $add(sum[v], set[v]);
                }
            }
            // SAFETY: `Tile::check` proved `(NV-1)·L + last ≤ out.len()`.
            unsafe {
                for v in 0..NV - 1 {
                    $store(out.add(v * $lanes), sum[v]);
                }
                // A masked store costs many cycles on AMD's AVX2 (`vmaskmovps`): only a
                // partial vector takes it.
                if last == $lanes {
                    $store(out.add((NV - 1) * $lanes), sum[NV - 1]);
                } else {
                    $mask_store(out.add((NV - 1) * $lanes), $mask(last), sum[NV - 1]);
                }
            }
        }

        /// # Safety
        /// The CPU supports the target features; the operands passed [`Tile::check`] for
        /// `MR × NV` with `$lanes` lanes (`a`, `b`, `out` point at the slices' starts).
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $feat)]
        #[expect(clippy::too_many_arguments, reason = "flat microkernel signature")]
        unsafe fn $name<const MR: usize, const NV: usize>(
            a: *const $t,
            lda: usize,
            taps: &[(usize, usize)],
            k: usize,
            b: *const $t,
            out: *mut $t,
            ldo: usize,
            last: usize,
        ) {
            let mut acc = [[$zero(); NV]; MR];
            // Taps of length 1 (the filter gradient: one output position per tap): no
            // prefetch and no inner `k` loop, just one row of `b` and `MR` broadcasts per tap.
            let taps = if k == 1 {
                for &(ao, bo) in taps {
                    // SAFETY: `Tile::check` proved `ao + (MR-1)·lda + 1 ≤ a.len()` and
                    // `bo + NV·L ≤ b.len()`.
                    unsafe {
                        let ap = a.add(ao);
                        let bp = b.add(bo);
                        let mut bv = [$zero(); NV];
                        for v in 0..NV {
                            bv[v] = $load(bp.add(v * $lanes));
                        }
                        for r in 0..MR {
                            let av = $set1(*ap.add(r * lda));
                            for v in 0..NV {
                                acc[r][v] = $fmadd(av, bv[v], acc[r][v]);
                            }
                        }
                    }
                }
                &[]
            } else {
                taps
            };
            for &(ao, bo) in taps {
                // SAFETY: `Tile::check` proved `ao + (MR-1)·lda + k ≤ a.len()` and
                // `bo + k·NV·L ≤ b.len()`, so every pointer below stays inside its slice.
                unsafe {
                    let mut ap = a.add(ao);
                    let mut bp = b.add(bo);
                    let mut kk = 0;
                    while kk < k {
                        // Prefetch the next tile's rows (usually the next MR rows of `a`), one
                        // cache line per row per line of `k`; prefetches never fault.
                        for r in 0..MR {
                            _mm_prefetch::<_MM_HINT_T0>(
                                ap.wrapping_add((MR + r) * lda).cast::<i8>(),
                            );
                        }
                        let end = k.min(kk + 64 / std::mem::size_of::<$t>());
                        for _ in kk..end {
                            let mut bv = [$zero(); NV];
                            for v in 0..NV {
                                bv[v] = $load(bp.add(v * $lanes));
                            }
                            for r in 0..MR {
                                let av = $set1(*ap.add(r * lda));
                                for v in 0..NV {
                                    acc[r][v] = $fmadd(av, bv[v], acc[r][v]);
                                }
                            }
                            ap = ap.add(1);
                            bp = bp.add(NV * $lanes);
                        }
                        kk = end;
                    }
                }
            }
            // SAFETY (both loops): `Tile::check` proved `(MR-1)·ldo + (NV-1)·L + last ≤
            // out.len()`; full vectors are stored for `v < NV-1`, `last` lanes for the final
            // one. A masked store costs many cycles on AMD's AVX2 (`vmaskmovps`), so only a
            // partial last vector takes it.
            if last == $lanes {
                for r in 0..MR {
                    unsafe {
                        let o = out.add(r * ldo);
                        for v in 0..NV {
                            $store(o.add(v * $lanes), acc[r][v]);
                        }
                    }
                }
            } else {
                let mask = $mask(last);
                for r in 0..MR {
                    unsafe {
                        let o = out.add(r * ldo);
                        for v in 0..NV - 1 {
                            $store(o.add(v * $lanes), acc[r][v]);
                        }
                        $mask_store(o.add((NV - 1) * $lanes), mask, acc[r][NV - 1]);
                    }
                }
            }
        }
    };
}

#[cfg(target_arch = "x86_64")]
fn mask16(last: usize) -> u16 {
    if last >= 16 {
        u16::MAX
    } else {
        (1u16 << last) - 1
    }
}

#[cfg(target_arch = "x86_64")]
fn mask8(last: usize) -> u8 {
    if last >= 8 {
        u8::MAX
    } else {
        (1u8 << last) - 1
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn mask_epi32(last: usize) -> __m256i {
    let last = i32::try_from(last).unwrap_or(i32::MAX);
    _mm256_cmpgt_epi32(
        _mm256_set1_epi32(last),
        _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
    )
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn mask_epi64(last: usize) -> __m256i {
    let last = i64::try_from(last).unwrap_or(i64::MAX);
    _mm256_cmpgt_epi64(_mm256_set1_epi64x(last), _mm256_setr_epi64x(0, 1, 2, 3))
}

x86_tile!(
    avx512_f32,
    avx512_f32_row,
    "avx512f",
    f32,
    16,
    _mm512_setzero_ps,
    _mm512_loadu_ps,
    _mm512_set1_ps,
    _mm512_fmadd_ps,
    _mm512_add_ps,
    _mm512_storeu_ps,
    _mm512_mask_storeu_ps,
    mask16
);
x86_tile!(
    avx512_f64,
    avx512_f64_row,
    "avx512f",
    f64,
    8,
    _mm512_setzero_pd,
    _mm512_loadu_pd,
    _mm512_set1_pd,
    _mm512_fmadd_pd,
    _mm512_add_pd,
    _mm512_storeu_pd,
    _mm512_mask_storeu_pd,
    mask8
);
x86_tile!(
    avx2_f32,
    avx2_f32_row,
    "avx2,fma",
    f32,
    8,
    _mm256_setzero_ps,
    _mm256_loadu_ps,
    _mm256_set1_ps,
    _mm256_fmadd_ps,
    _mm256_add_ps,
    _mm256_storeu_ps,
    _mm256_maskstore_ps,
    mask_epi32
);
x86_tile!(
    avx2_f64,
    avx2_f64_row,
    "avx2,fma",
    f64,
    4,
    _mm256_setzero_pd,
    _mm256_loadu_pd,
    _mm256_set1_pd,
    _mm256_fmadd_pd,
    _mm256_add_pd,
    _mm256_storeu_pd,
    _mm256_maskstore_pd,
    mask_epi64
);

/// The portable microkernel: same summation order, separate multiply and add.
#[expect(clippy::needless_range_loop, reason = "fixed-size accumulator arrays")]
fn portable<T, const MR: usize, const NV: usize>(t: Tile<'_, T>)
where
    T: Copy + Default + std::ops::Add<Output = T> + std::ops::Mul<Output = T>,
{
    const L: usize = PORTABLE_LANES;
    let mut acc = [[[T::default(); L]; NV]; MR];
    for &(ao, bo) in t.taps.list {
        for kk in 0..t.k {
            let brow = &t.b[bo + kk * NV * L..bo + (kk + 1) * NV * L];
            for r in 0..MR {
                let av = t.a[ao + r * t.lda + kk];
                for v in 0..NV {
                    for l in 0..L {
                        acc[r][v][l] = acc[r][v][l] + av * brow[v * L + l];
                    }
                }
            }
        }
    }
    for r in 0..MR {
        for v in 0..NV {
            let n = if v + 1 == NV { t.last } else { L };
            let o = r * t.ldo + v * L;
            t.out[o..o + n].copy_from_slice(&acc[r][v][..n]);
        }
    }
}

macro_rules! impl_simd_element {
    ($t:ty, $avx512:ident, $avx512_row:ident, $avx2:ident, $avx2_row:ident) => {
        impl SimdElement for $t {
            fn tile(isa: Isa, mr: usize, nv: usize, t: Tile<'_, Self>) {
                assert!(nv <= isa.nv_max() && mr <= isa.mr_max(nv), "tile too large");
                let lanes = isa.lanes(std::mem::size_of::<$t>());
                t.check(mr, nv, lanes);
                let (a, b, out) = (t.a.as_ptr(), t.b.as_ptr(), t.out.as_mut_ptr());
                let (lda, ldo, k, last, taps) = (t.lda, t.ldo, t.k, t.last, t.taps.list);
                match isa.path() {
                    #[cfg(target_arch = "x86_64")]
                    KernelPath::Avx512 => {
                        // SAFETY: `Isa` values with this path exist only when the CPU has
                        // AVX-512F; `t.check` validated every access of this tile shape.
                        unsafe {
                            if mr == 1 {
                                match nv {
                                    1 => $avx512_row::<1, 4>(a, taps, k, b, out, last),
                                    2 => $avx512_row::<2, 2>(a, taps, k, b, out, last),
                                    3 => $avx512_row::<3, 2>(a, taps, k, b, out, last),
                                    _ => $avx512_row::<4, 1>(a, taps, k, b, out, last),
                                }
                                return;
                            }
                            dispatch!(nv, mr, $avx512, (a, lda, taps, k, b, out, ldo, last), [
                                1 => [1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16],
                                2 => [1 2 3 4 5 6 7 8 9 10 11 12],
                                3 => [1 2 3 4 5 6 7 8],
                                4 => [1 2 3 4 5 6]
                            ])
                        }
                    }
                    #[cfg(target_arch = "x86_64")]
                    KernelPath::Avx2 => {
                        // SAFETY: `Isa` values with this path exist only when the CPU has
                        // AVX2 and FMA; `t.check` validated every access of this tile shape.
                        unsafe {
                            if mr == 1 {
                                match nv {
                                    1 => $avx2_row::<1, 4>(a, taps, k, b, out, last),
                                    _ => $avx2_row::<2, 2>(a, taps, k, b, out, last),
                                }
                                return;
                            }
                            dispatch!(nv, mr, $avx2, (a, lda, taps, k, b, out, ldo, last), [
                                1 => [1 2 3 4 5 6 7 8 9 10 11 12],
                                2 => [1 2 3 4 5 6]
                            ])
                        }
                    }
                    #[cfg(not(target_arch = "x86_64"))]
                    KernelPath::Avx512 | KernelPath::Avx2 => unreachable!("no x86 Isa here"),
                    KernelPath::Portable => {
                        fn port<const MR: usize, const NV: usize>(t: Tile<'_, $t>) {
                            portable::<$t, MR, NV>(t);
                        }
                        dispatch!(nv, mr, port, (t), [
                            1 => [1 2 3 4],
                            2 => [1 2 3 4]
                        ])
                    }
                }
            }
        }
    };
}

impl_simd_element!(f32, avx512_f32, avx512_f32_row, avx2_f32, avx2_f32_row);
impl_simd_element!(f64, avx512_f64, avx512_f64_row, avx2_f64, avx2_f64_row);

/// Plain-Rust work to compile for each instruction set (see [`with_isa`]). Implementations
/// mark `run` `#[inline(always)]`, as they do the helpers it calls.
pub(crate) trait Vectorized {
    /// What the work returns.
    type Output;
    /// Does the work.
    fn run(self) -> Self::Output;
}

/// Runs `work` inside a function compiled for `isa`'s instruction set, so its plain loops are
/// vectorized for it (AVX-512 or AVX2 rather than the SSE2 baseline).
pub(crate) fn with_isa<W: Vectorized>(isa: Isa, work: W) -> W::Output {
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    fn avx512<W: Vectorized>(work: W) -> W::Output {
        work.run()
    }
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn avx2<W: Vectorized>(work: W) -> W::Output {
        work.run()
    }
    match isa.path() {
        // SAFETY: `Isa` values with this path exist only when the CPU has AVX-512F.
        #[cfg(target_arch = "x86_64")]
        KernelPath::Avx512 => unsafe { avx512(work) },
        // SAFETY: `Isa` values with this path exist only when the CPU has AVX2 and FMA.
        #[cfg(target_arch = "x86_64")]
        KernelPath::Avx2 => unsafe { avx2(work) },
        _ => work.run(),
    }
}

pub(crate) mod peak;
mod rows;
pub(crate) use rows::{RowWriter, STREAM_MIN_BYTES, build_by_rows, build_rows};
