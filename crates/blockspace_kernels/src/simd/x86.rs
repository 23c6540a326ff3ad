//! The x86-64 microkernels (AVX-512F and AVX2+FMA, f32 and f64) behind
//! [`super::SimdElement::tile`]; see the module docs of [`super`] for what a tile computes.
#![expect(
    unsafe_code,
    reason = "SIMD intrinsics, raw-pointer loads/stores in bounds-checked microkernels"
)]

use std::arch::x86_64::{
    __m256i, _MM_HINT_T0, _mm_prefetch, _mm256_add_pd, _mm256_add_ps, _mm256_cmpgt_epi32,
    _mm256_cmpgt_epi64, _mm256_fmadd_pd, _mm256_fmadd_ps, _mm256_loadu_pd, _mm256_loadu_ps,
    _mm256_maskstore_pd, _mm256_maskstore_ps, _mm256_set1_epi32, _mm256_set1_epi64x,
    _mm256_set1_pd, _mm256_set1_ps, _mm256_setr_epi32, _mm256_setr_epi64x, _mm256_setzero_pd,
    _mm256_setzero_ps, _mm256_storeu_pd, _mm256_storeu_ps, _mm256_stream_pd, _mm256_stream_ps,
    _mm512_add_pd, _mm512_add_ps, _mm512_fmadd_pd, _mm512_fmadd_ps, _mm512_loadu_pd,
    _mm512_loadu_ps, _mm512_mask_storeu_pd, _mm512_mask_storeu_ps, _mm512_set1_pd, _mm512_set1_ps,
    _mm512_setzero_pd, _mm512_setzero_ps, _mm512_storeu_pd, _mm512_storeu_ps, _mm512_stream_pd,
    _mm512_stream_ps,
};

/// Defines an x86 microkernel `$name<MR, NV>` for one element type and instruction set.
macro_rules! x86_tile {
    (
        $name:ident, $strip:ident, $row:ident, $feat:literal, $t:ty, $lanes:expr, $zero:ident,
        $load:ident,
        $set1:ident, $fmadd:ident, $add:ident, $store:ident, $stream:ident, $mask_store:ident,
        $mask:ident
    ) => {
        /// A single-row tile (`MR = 1`) with the reduction split over `S` accumulator sets
        /// (`k ≡ s mod S`, summed `((s0 + s1) + s2) + s3` at the end), so a narrow row still
        /// has enough independent FMA chains to hide their latency.
        ///
        /// # Safety
        /// As for the `MR × NV` tile with `MR = 1`.
        #[target_feature(enable = $feat)]
        pub(super) unsafe fn $row<const NV: usize, const S: usize>(
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

        /// With `stream`, full vectors are stored with non-temporal stores (bypassing the
        /// caches: no read for ownership of output lines nobody reads soon).
        ///
        /// # Safety
        /// The CPU supports the target features; the operands passed `Tile::check` for
        /// `MR × NV` with `$lanes` lanes (`a`, `b`, `out` point at the slices' starts); with
        /// `stream`, `out` and `ldo` elements are multiples of the vector size in bytes.
        #[target_feature(enable = $feat)]
        #[expect(clippy::too_many_arguments, reason = "flat microkernel signature")]
        pub(super) unsafe fn $name<const MR: usize, const NV: usize>(
            a: *const $t,
            lda: usize,
            taps: &[(usize, usize)],
            k: usize,
            b: *const $t,
            out: *mut $t,
            ldo: usize,
            (last, stream): (usize, bool),
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
            if last == $lanes && stream {
                for r in 0..MR {
                    // SAFETY: as above; the caller guarantees the alignment the
                    // non-temporal stores need (every `o + v·L` is a multiple of the vector).
                    unsafe {
                        let o = out.add(r * ldo);
                        for v in 0..NV {
                            $stream(o.add(v * $lanes), acc[r][v]);
                        }
                    }
                }
            } else if last == $lanes {
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

        /// `count` consecutive `MR × NV` tiles (tile `i` reads `a` and writes `out` from row
        /// `i·MR` on), in one call: a strip of tiles pays the call, the dispatch and the bounds
        /// check once.
        ///
        /// # Safety
        /// As for one `MR·count × NV` tile.
        #[target_feature(enable = $feat)]
        #[expect(clippy::too_many_arguments, reason = "flat microkernel signature")]
        pub(super) unsafe fn $strip<const MR: usize, const NV: usize>(
            a: *const $t,
            lda: usize,
            taps: &[(usize, usize)],
            k: usize,
            b: *const $t,
            out: *mut $t,
            ldo: usize,
            last: (usize, bool),
            count: usize,
        ) {
            for i in 0..count {
                // SAFETY: the caller's check covers all `MR·count` rows.
                unsafe {
                    $name::<MR, NV>(
                        a.add(i * MR * lda),
                        lda,
                        taps,
                        k,
                        b,
                        out.add(i * MR * ldo),
                        ldo,
                        last,
                    );
                }
            }
        }
    };
}

fn mask16(last: usize) -> u16 {
    if last >= 16 {
        u16::MAX
    } else {
        (1u16 << last) - 1
    }
}

fn mask8(last: usize) -> u8 {
    if last >= 8 {
        u8::MAX
    } else {
        (1u8 << last) - 1
    }
}

#[target_feature(enable = "avx2")]
fn mask_epi32(last: usize) -> __m256i {
    let last = i32::try_from(last).unwrap_or(i32::MAX);
    _mm256_cmpgt_epi32(
        _mm256_set1_epi32(last),
        _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
    )
}

#[target_feature(enable = "avx2")]
fn mask_epi64(last: usize) -> __m256i {
    let last = i64::try_from(last).unwrap_or(i64::MAX);
    _mm256_cmpgt_epi64(_mm256_set1_epi64x(last), _mm256_setr_epi64x(0, 1, 2, 3))
}

x86_tile!(
    avx512_f32,
    avx512_f32_strip,
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
    _mm512_stream_ps,
    _mm512_mask_storeu_ps,
    mask16
);
x86_tile!(
    avx512_f64,
    avx512_f64_strip,
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
    _mm512_stream_pd,
    _mm512_mask_storeu_pd,
    mask8
);
x86_tile!(
    avx2_f32,
    avx2_f32_strip,
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
    _mm256_stream_ps,
    _mm256_maskstore_ps,
    mask_epi32
);
x86_tile!(
    avx2_f64,
    avx2_f64_strip,
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
    _mm256_stream_pd,
    _mm256_maskstore_pd,
    mask_epi64
);
