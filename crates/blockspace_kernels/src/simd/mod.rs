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
//! no FMA). The portable one also runs with AVX-512's geometry ([`KernelPath::PortableWide`]),
//! so every CPU can test the tiling, packing and tails the AVX-512 path uses. [`Isa`] can only
//! be built for an instruction set the CPU has, and every tile call checks its slice bounds
//! before any raw pointer is touched, so the safe API cannot cause undefined behaviour.
#![expect(
    unsafe_code,
    reason = "SIMD intrinsics, raw-pointer loads/stores in bounds-checked microkernels"
)]

use std::mem::MaybeUninit;

/// An instruction set of the microkernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KernelPath {
    /// AVX-512F (x86-64).
    Avx512,
    /// AVX2 with FMA (x86-64).
    Avx2,
    /// Plain Rust, any CPU.
    Portable,
    /// Plain Rust with AVX-512's geometry (16 f32 / 8 f64 lanes, up to 4 vectors and 16 rows
    /// per tile), any CPU: the callers' tiling, packing and tails exactly as on the AVX-512
    /// path, for tests on CPUs without it (`BLOCKSPACE_ISA=portable-wide`). Never chosen
    /// unless named.
    PortableWide,
}

impl KernelPath {
    /// Every path: the SIMD ones fastest first, then the portable ones.
    pub const ALL: [Self; 4] = [Self::Avx512, Self::Avx2, Self::Portable, Self::PortableWide];

    /// The name used by `BLOCKSPACE_ISA` and in benchmark output: `avx512`, `avx2`,
    /// `portable`, `portable-wide`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Avx512 => "avx512",
            Self::Avx2 => "avx2",
            Self::Portable => "portable",
            Self::PortableWide => "portable-wide",
        }
    }

    /// Whether this is plain Rust (no SIMD stores, no non-temporal stores).
    pub(crate) fn is_portable(self) -> bool {
        matches!(self, Self::Portable | Self::PortableWide)
    }
}

/// A [`KernelPath`] the running CPU supports (the only way to reach the SIMD code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Isa(KernelPath);

impl Isa {
    /// `path` if this CPU can run it.
    pub(crate) fn new(path: KernelPath) -> Option<Self> {
        let ok = match path {
            KernelPath::Portable | KernelPath::PortableWide => true,
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
    /// `portable`, `portable-wide`) names when this CPU supports it (to measure or test a
    /// slower path on a faster machine). Read once per process.
    pub(crate) fn best() -> Self {
        static BEST: std::sync::OnceLock<Isa> = std::sync::OnceLock::new();
        *BEST.get_or_init(|| {
            let forced = std::env::var("BLOCKSPACE_ISA").ok().and_then(|v| {
                let path = KernelPath::ALL.into_iter().find(|p| p.name() == v.trim());
                if path.is_none() {
                    log::warn!(
                        "BLOCKSPACE_ISA={v:?} is not avx512, avx2, portable or portable-wide; ignored"
                    );
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

    /// The path to run a problem whose output rows are `width` elements of `size` bytes
    /// wide: AVX-512 hands rows at most half a vector wide (8 f32, 4 f64) to AVX2, whose
    /// vectors they fill. A half-masked AVX-512 vector does the useful work of one AVX2
    /// vector at best (and half of it where a 512-bit operation takes two 256-bit passes,
    /// as on AMD Zen 4), so AVX2 is never slower there and stores no masked tails.
    pub(crate) fn for_width(self, width: usize, size: usize) -> Self {
        if self.0 == KernelPath::Avx512 && 2 * width <= self.lanes(size) {
            Self::new(KernelPath::Avx2).unwrap_or(self)
        } else {
            self
        }
    }

    /// The path.
    pub(crate) fn path(self) -> KernelPath {
        self.0
    }

    /// Lanes per vector for elements of `size` bytes.
    pub(crate) fn lanes(self, size: usize) -> usize {
        match self.0 {
            KernelPath::Avx512 | KernelPath::PortableWide => 64 / size,
            KernelPath::Avx2 => 32 / size,
            KernelPath::Portable => PORTABLE_LANES,
        }
    }

    /// Largest number of vectors per tile.
    pub(crate) fn nv_max(self) -> usize {
        match self.0 {
            KernelPath::Avx512 | KernelPath::PortableWide => 4,
            KernelPath::Avx2 | KernelPath::Portable => 2,
        }
    }

    /// Largest number of rows per tile with `nv` vectors (`1 ≤ nv ≤ nv_max`).
    pub(crate) fn mr_max(self, nv: usize) -> usize {
        match (self.0, nv) {
            (KernelPath::Avx512 | KernelPath::PortableWide, 1) => 16,
            (KernelPath::Avx512 | KernelPath::PortableWide, 2) => 12,
            (KernelPath::Avx512 | KernelPath::PortableWide, 3) => 8,
            (KernelPath::Avx512 | KernelPath::PortableWide, _) => 6,
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
    /// Output, rows `ldo` apart: every element of the tile's rows and columns is written
    /// (with initialised values; nothing is read), so it may be uninitialised memory.
    pub out: &'a mut [MaybeUninit<T>],
    /// Row stride of `out`.
    pub ldo: usize,
    /// Lanes stored from the last vector of each row (`1..=L`).
    pub last: usize,
    /// A hint that nobody reads `out` soon: full, aligned vectors are then stored with
    /// non-temporal stores (no read for ownership of the output's lines).
    pub stream: bool,
}

/// One column block of [`SimdElement::tiles_across`]: output columns from `c0` on, `nv`
/// vectors (`last` lanes stored from the final one), over its own `taps`.
#[derive(Debug, Clone, Copy)]
pub struct Column<'a> {
    /// First output column.
    pub c0: usize,
    /// Vectors per tile row.
    pub nv: usize,
    /// Lanes stored from the last vector of each row (`1..=L`).
    pub last: usize,
    /// The taps, in summation order.
    pub taps: Taps<'a>,
}

/// `s` as the output of a [`Tile`].
pub(crate) fn as_out<T>(s: &mut [T]) -> &mut [MaybeUninit<T>] {
    // SAFETY: `MaybeUninit<T>` has the layout of `T`; the microkernels (the only writers
    // through a `Tile`) store initialised values only, so `s` stays initialised.
    unsafe { std::slice::from_raw_parts_mut(s.as_mut_ptr().cast(), s.len()) }
}

impl<T> Tile<'_, T> {
    /// Panics unless every access of `mr` rows of `column` with `lanes` lanes is in bounds.
    fn check(&self, mr: usize, column: &Column<'_>, lanes: usize) {
        let Column { c0, nv, last, taps } = *column;
        assert!(mr >= 1 && nv >= 1, "empty tile");
        assert!(last >= 1 && last <= lanes, "bad tail");
        let a_span = (mr - 1) * self.lda + self.k;
        let b_span = self.k * nv * lanes;
        // Every tap's offsets are at most the list's maxima, so checking those covers all.
        if !taps.is_empty() {
            assert!(
                taps.max_a
                    .checked_add(a_span)
                    .is_some_and(|e| e <= self.a.len()),
                "tile reads past out_backprop"
            );
            assert!(
                taps.max_b
                    .checked_add(b_span)
                    .is_some_and(|e| e <= self.b.len()),
                "tile reads past the packed filter"
            );
        }
        let out_span = c0 + (mr - 1) * self.ldo + (nv - 1) * lanes + last;
        assert!(out_span <= self.out.len(), "tile writes past the output");
    }
}

/// Element types with microkernels.
pub trait SimdElement: Copy {
    /// Runs `rows × nv` on `isa`, in balanced tiles of at most `isa.mr_max(nv)` rows (each
    /// element's sum is the same whatever the tiling). Panics on out-of-bounds operands or an
    /// unsupported width (`nv > isa.nv_max()`).
    #[doc(hidden)]
    fn tile(isa: Isa, rows: usize, nv: usize, t: Tile<'_, Self>)
    where
        Self: Sized,
    {
        let column = Column {
            c0: 0,
            nv,
            last: t.last,
            taps: t.taps,
        };
        Self::tiles_across(isa, rows, &[column], t);
    }

    /// Runs every column of `columns` (each with its own taps and tail; `t.taps` and
    /// `t.last` are not read) over `rows` rows of `t`, *tile-major*: for each balanced tile of
    /// at most the narrowest column's `isa.mr_max` rows, every column in turn, so the tile's
    /// rows of `a` stay in L1 while the columns' panels pass. A single column runs as
    /// [`SimdElement::tile`] does. The tiling, the bounds check and the dispatch cost one call,
    /// not one per tile and column. Panics like [`SimdElement::tile`].
    #[doc(hidden)]
    fn tiles_across(isa: Isa, rows: usize, columns: &[Column<'_>], t: Tile<'_, Self>)
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

/// The portable microkernel, `L` lanes per vector: same summation order, separate multiply
/// and add.
#[expect(clippy::needless_range_loop, reason = "fixed-size accumulator arrays")]
fn portable<T, const L: usize, const MR: usize, const NV: usize>(t: Tile<'_, T>)
where
    T: Copy + Default + std::ops::Add<Output = T> + std::ops::Mul<Output = T>,
{
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
            for (d, &x) in t.out[o..o + n].iter_mut().zip(&acc[r][v][..n]) {
                d.write(x);
            }
        }
    }
}

/// Runs `columns` over `rows` rows on one x86 path: a single row on the row kernels; else in
/// balanced tiles (at most `mr_max` rows), a strip of equal tiles in one call for a single
/// column, every column of one tile in turn for several (tile-major).
#[cfg(target_arch = "x86_64")]
macro_rules! run_columns {
    (
        ($kernel:ident, $strip:ident, $row:ident),
        ($rows:ident, $columns:ident, $mr_max:ident, $a:ident, $lda:ident, $k:ident, $b:ident,
         $out:ident, $ldo:ident, $stream:ident),
        [$($rnv:literal => $rs:literal),*],
        [$($nvv:literal => [$($mrv:literal)*]),*]
    ) => {{
        if $rows == 1 {
            for c in $columns {
                let (out, taps) = ($out.add(c.c0), c.taps.list);
                match c.nv {
                    $($rnv => $row::<$rnv, $rs>($a, taps, $k, $b, out, c.last),)*
                    _ => panic!("tile too wide"),
                }
            }
            return;
        }
        let strip = $columns.len() == 1;
        for (r0, mr, count) in Strips::new($rows, $mr_max) {
            let (tiles, per_call) = if strip { (1, count) } else { (count, 1) };
            for i in 0..tiles {
                let r = r0 + i * mr;
                for c in $columns {
                    let (a, out) = ($a.add(r * $lda), $out.add(r * $ldo + c.c0));
                    let (taps, tail) = (c.taps.list, (c.last, $stream(c)));
                    if per_call == 1 {
                        dispatch!(c.nv, mr, $kernel, (a, $lda, taps, $k, $b, out, $ldo, tail), [
                            $($nvv => [$($mrv)*]),*
                        ])
                    } else {
                        dispatch!(c.nv, mr, $strip,
                            (a, $lda, taps, $k, $b, out, $ldo, tail, per_call), [
                            $($nvv => [$($mrv)*]),*
                        ])
                    }
                }
            }
        }
    }};
}

macro_rules! impl_simd_element {
    (
        $t:ty, $avx512:ident, $avx512_strip:ident, $avx512_row:ident, $avx2:ident,
        $avx2_strip:ident, $avx2_row:ident
    ) => {
        impl SimdElement for $t {
            fn tiles_across(isa: Isa, rows: usize, columns: &[Column<'_>], t: Tile<'_, Self>) {
                let size = std::mem::size_of::<$t>();
                let lanes = isa.lanes(size);
                for c in columns {
                    assert!(c.nv <= isa.nv_max(), "tile too wide");
                    t.check(rows, c, lanes);
                }
                let Some(mr_max) = columns.iter().map(|c| isa.mr_max(c.nv)).min() else {
                    return;
                };
                let (a, b) = (t.a.as_ptr(), t.b.as_ptr());
                let out = t.out.as_mut_ptr().cast::<$t>();
                let (lda, ldo, k, streams) = (t.lda, t.ldo, t.k, t.stream);
                // Non-temporal stores need every stored vector aligned to its size.
                let vector = lanes * size;
                #[cfg_attr(not(target_arch = "x86_64"), expect(unused_variables))]
                let stream = |c: &Column<'_>| {
                    streams
                        && c.last == lanes
                        && (out.wrapping_add(c.c0) as usize).is_multiple_of(vector)
                        && (ldo * size).is_multiple_of(vector)
                };
                match isa.path() {
                    #[cfg(target_arch = "x86_64")]
                    KernelPath::Avx512 => {
                        // SAFETY: `Isa` values with this path exist only when the CPU has
                        // AVX-512F; `t.check` validated every access of all `rows` rows of
                        // every column, and each tile starts at a row below `rows`.
                        unsafe {
                            run_columns!(
                                ($avx512, $avx512_strip, $avx512_row),
                                (rows, columns, mr_max, a, lda, k, b, out, ldo, stream),
                                [1 => 4, 2 => 2, 3 => 2, 4 => 1],
                                [
                                    1 => [1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16],
                                    2 => [1 2 3 4 5 6 7 8 9 10 11 12],
                                    3 => [1 2 3 4 5 6 7 8],
                                    4 => [1 2 3 4 5 6]
                                ]
                            )
                        }
                    }
                    #[cfg(target_arch = "x86_64")]
                    KernelPath::Avx2 => {
                        // SAFETY: `Isa` values with this path exist only when the CPU has
                        // AVX2 and FMA; `t.check` validated every access of all `rows` rows
                        // of every column, and each tile starts at a row below `rows`.
                        unsafe {
                            run_columns!(
                                ($avx2, $avx2_strip, $avx2_row),
                                (rows, columns, mr_max, a, lda, k, b, out, ldo, stream),
                                [1 => 4, 2 => 2],
                                [
                                    1 => [1 2 3 4 5 6 7 8 9 10 11 12],
                                    2 => [1 2 3 4 5 6]
                                ]
                            )
                        }
                    }
                    #[cfg(not(target_arch = "x86_64"))]
                    KernelPath::Avx512 | KernelPath::Avx2 => unreachable!("no x86 Isa here"),
                    path @ (KernelPath::Portable | KernelPath::PortableWide) => {
                        fn port<const MR: usize, const NV: usize>(t: Tile<'_, $t>) {
                            portable::<$t, PORTABLE_LANES, MR, NV>(t);
                        }
                        fn wide<const MR: usize, const NV: usize>(t: Tile<'_, $t>) {
                            portable::<$t, { 64 / std::mem::size_of::<$t>() }, MR, NV>(t);
                        }
                        let wide_lanes = path == KernelPath::PortableWide;
                        let Tile { a, b, out, .. } = t;
                        for (r0, mr, count) in Strips::new(rows, mr_max) {
                            for i in 0..count {
                                let r = r0 + i * mr;
                                for c in columns {
                                    let t = Tile {
                                        a: &a[r * lda..],
                                        lda,
                                        taps: c.taps,
                                        k,
                                        b,
                                        out: &mut out[r * ldo + c.c0..],
                                        ldo,
                                        last: c.last,
                                        stream: false,
                                    };
                                    if wide_lanes {
                                        dispatch!(c.nv, mr, wide, (t), [
                                            1 => [1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16],
                                            2 => [1 2 3 4 5 6 7 8 9 10 11 12],
                                            3 => [1 2 3 4 5 6 7 8],
                                            4 => [1 2 3 4 5 6]
                                        ])
                                    } else {
                                        dispatch!(c.nv, mr, port, (t), [
                                            1 => [1 2 3 4],
                                            2 => [1 2 3 4]
                                        ])
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
}

impl_simd_element!(
    f32,
    avx512_f32,
    avx512_f32_strip,
    avx512_f32_row,
    avx2_f32,
    avx2_f32_strip,
    avx2_f32_row
);
impl_simd_element!(
    f64,
    avx512_f64,
    avx512_f64_strip,
    avx512_f64_row,
    avx2_f64,
    avx2_f64_strip,
    avx2_f64_row
);

/// The balanced tiles of `rows` rows (at most `mr_max` each, sizes differing by at most one,
/// as [`crate::tiling::tiles`] makes them) as at most two strips of equal tiles:
/// `(first row, rows per tile, tiles)`.
struct Strips(std::array::IntoIter<(usize, usize, usize), 2>);

impl Strips {
    #[inline]
    fn new(rows: usize, mr_max: usize) -> Self {
        if rows <= mr_max {
            // One tile (the common call): no divisions.
            return Self([(0, rows, 1), (0, 0, 0)].into_iter());
        }
        let ntiles = rows.div_ceil(mr_max.max(1)).max(1);
        let (mr, big) = (rows / ntiles, rows % ntiles);
        Self([(0, mr + 1, big), (big * (mr + 1), mr, ntiles - big)].into_iter())
    }
}

impl Iterator for Strips {
    type Item = (usize, usize, usize);
    fn next(&mut self) -> Option<Self::Item> {
        self.0.find(|&(_, mr, count)| mr > 0 && count > 0)
    }
}

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
#[cfg(target_arch = "x86_64")]
mod x86;
pub(crate) use rows::{RowWriter, STREAM_MIN_BYTES, build_by_rows, build_rows};
#[cfg(target_arch = "x86_64")]
use x86::{
    avx2_f32, avx2_f32_row, avx2_f32_strip, avx2_f64, avx2_f64_row, avx2_f64_strip, avx512_f32,
    avx512_f32_row, avx512_f32_strip, avx512_f64, avx512_f64_row, avx512_f64_strip,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_half_vector_rows_leave_avx512() {
        let Some(wide) = Isa::new(KernelPath::Avx512) else {
            return;
        };
        for (width, size, path) in [
            (8, 4, KernelPath::Avx2),
            (1, 4, KernelPath::Avx2),
            (9, 4, KernelPath::Avx512),
            (16, 4, KernelPath::Avx512),
            (4, 8, KernelPath::Avx2),
            (5, 8, KernelPath::Avx512),
        ] {
            assert_eq!(
                wide.for_width(width, size).path(),
                path,
                "{width} × {size} B"
            );
        }
        for narrow in [
            KernelPath::Avx2,
            KernelPath::Portable,
            KernelPath::PortableWide,
        ] {
            let isa = Isa::new(narrow).expect("an AVX-512 CPU has AVX2");
            assert_eq!(isa.for_width(1, 4), isa, "{narrow:?} stays");
        }
    }

    #[test]
    fn strips_are_the_balanced_tiles() {
        for mr_max in [4, 6, 12, 16] {
            for rows in 1..=5 * mr_max + 3 {
                let mut got = Vec::new();
                for (r0, mr, count) in Strips::new(rows, mr_max) {
                    got.extend((0..count).map(|i| (r0 + i * mr, mr)));
                }
                let want: Vec<_> = crate::tiling::tiles(0, rows, mr_max).collect();
                assert_eq!(got, want, "{rows} rows, mr_max {mr_max}");
            }
        }
    }

    /// Every available path, every width, row counts from one tile to several strips of
    /// unequal tiles, with plain stores (a partial last vector) and with non-temporal ones
    /// (full vectors into a cache-line aligned output): the exact integer result, and
    /// nothing written between the rows.
    #[test]
    fn any_row_count_matches_the_plain_sum() {
        let (lda, k, ldo) = (11, 5, 80);
        let taps = [(0, 0), (3, 7 * 64), (1, 2 * 64)];
        let a: Vec<f32> = (0..70 * lda + 16)
            .map(|i| ((i * 7) % 9) as f32 - 4.0)
            .collect();
        let b: Vec<f32> = (0..16 * 64).map(|i| ((i * 5) % 7) as f32 - 3.0).collect();
        for isa in KernelPath::ALL.into_iter().filter_map(Isa::new) {
            let lanes = isa.lanes(4);
            for nv in 1..=isa.nv_max() {
                let width = nv * lanes;
                let counts = [
                    1,
                    2,
                    isa.mr_max(nv),
                    isa.mr_max(nv) + 1,
                    3 * isa.mr_max(nv) + 2,
                ];
                for (last, rows) in [lanes - 1, lanes]
                    .into_iter()
                    .flat_map(|last| counts.map(|rows| (last, rows)))
                {
                    // A cache-line aligned output (`ldo` is 5 lines): full vectors stream.
                    let mut buf = vec![f32::NAN; rows * ldo + 16];
                    let skip = buf.as_ptr().align_offset(64);
                    let out = &mut buf[skip..skip + rows * ldo];
                    let t = Tile {
                        a: &a,
                        lda,
                        taps: Taps::new(&taps),
                        k,
                        b: &b,
                        out: as_out(out),
                        ldo,
                        last,
                        stream: last == lanes,
                    };
                    f32::tile(isa, rows, nv, t);
                    super::rows::store_fence();
                    for r in 0..rows {
                        for c in 0..ldo {
                            let got = out[r * ldo + c];
                            if c >= width - lanes + last {
                                assert!(got.is_nan(), "{isa:?} wrote column {c} of row {r}");
                                continue;
                            }
                            let want: f32 = taps
                                .iter()
                                .flat_map(|&(ao, bo)| {
                                    (0..k).map(move |kk| (ao + r * lda + kk, bo + kk * width + c))
                                })
                                .map(|(ia, ib)| a[ia] * b[ib])
                                .sum();
                            assert_eq!(got, want, "{isa:?} nv {nv}, {rows} rows: ({r}, {c})");
                        }
                    }
                }
            }
        }
    }
}
