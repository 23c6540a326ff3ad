//! Output builders of the gather kernels: each output row written once, in parallel, with
//! non-temporal stores where they pay and huge pages for large outputs.
#![expect(
    unsafe_code,
    reason = "non-temporal stores, madvise and the one set_len of each output builder"
)]

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::{
    __m256i, _mm256_loadu_si256, _mm256_stream_si256, _mm512_loadu_si512, _mm512_stream_si512,
};

use super::{Column, Isa, KernelPath, SimdElement, Tile};

/// Outputs smaller than this are written with plain stores: they may still be in cache when
/// the next op reads them, which non-temporal stores would prevent.
pub(crate) const STREAM_MIN_BYTES: usize = 8 << 20;

/// Asks the OS to back the whole 2 MiB pages inside `buf` with transparent huge pages.
///
/// Only a hint (contents are unchanged): a large freshly allocated output is then faulted in
/// a few 2 MiB pages at a time instead of thousands of 4 KiB pages. No-op elsewhere than Linux
/// and for buffers below 4 MiB.
fn advise_huge_pages_uninit<T>(buf: &mut [std::mem::MaybeUninit<T>]) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        const MADV_HUGEPAGE: i32 = 14;
        unsafe extern "C" {
            fn madvise(addr: *mut std::ffi::c_void, len: usize, advice: i32) -> i32;
        }
        let bytes = std::mem::size_of_val(buf);
        if bytes < 2 * HUGE {
            return;
        }
        let start = buf.as_mut_ptr().cast::<u8>();
        let addr = start as usize;
        let first = addr.next_multiple_of(HUGE);
        let end = (addr + bytes) / HUGE * HUGE;
        if end <= first {
            return;
        }
        // SAFETY: `[first, end)` is page-aligned and lies inside `buf`, which we borrow
        // exclusively; MADV_HUGEPAGE only changes how the kernel backs those pages, never their
        // contents, and its failure (ignored) leaves everything as it was.
        unsafe {
            madvise(start.add(first - addr).cast(), end - first, MADV_HUGEPAGE);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = buf;
}

/// Zero-fills `chunk` (while it is hot in cache) and returns it as initialised.
fn zeroed<T: Copy + Default>(chunk: &mut [std::mem::MaybeUninit<T>]) -> &mut [T] {
    chunk.fill(std::mem::MaybeUninit::new(T::default()));
    // SAFETY: every element of `chunk` was initialised by the `fill` just above, and
    // `MaybeUninit<T>` has the same layout as `T`.
    unsafe { std::slice::from_raw_parts_mut(chunk.as_mut_ptr().cast::<T>(), chunk.len()) }
}

/// One part of an output built by [`build_by_rows`]: rows of `row_len` values, each written
/// whole by [`RowWriter::write_row`].
pub(crate) struct RowWriter<'a, T> {
    data: &'a mut [std::mem::MaybeUninit<T>],
    row_len: usize,
    written: Vec<bool>,
    /// The instruction set of the non-temporal stores rows may be written with (none on the
    /// portable path).
    streaming: KernelPath,
}

impl<T: Copy + Default> RowWriter<'_, T> {
    /// Writes row `row` of this part (`src` is exactly one row). Panics out of range.
    #[inline]
    pub(crate) fn write_row(&mut self, row: usize, src: &[T]) {
        assert_eq!(src.len(), self.row_len, "a row is written whole");
        self.write_rows(row, src);
    }

    /// Writes the consecutive rows `first..` of this part (`src` is whole rows), in one
    /// copy. Panics out of range.
    #[inline]
    pub(crate) fn write_rows(&mut self, first: usize, src: &[T]) {
        assert!(
            src.len().is_multiple_of(self.row_len),
            "rows are written whole"
        );
        let rows = src.len() / self.row_len;
        let dst = &mut self.data[first * self.row_len..(first + rows) * self.row_len];
        if !stream_copy(self.streaming, dst, src) {
            for (d, &v) in dst.iter_mut().zip(src) {
                d.write(v);
            }
        }
        self.written[first..first + rows].fill(true);
    }

    /// Zero-fills the rows nobody wrote, so the whole part is initialised.
    fn finish(&mut self) {
        for (row, done) in self.written.iter().enumerate() {
            if !done {
                self.data[row * self.row_len..(row + 1) * self.row_len]
                    .fill(std::mem::MaybeUninit::new(T::default()));
            }
        }
    }
}

impl<T: SimdElement + Copy + Default + 'static> RowWriter<'_, T> {
    /// Whether [`RowWriter::tiles_in_place`] computes rows from `first` on in its stage
    /// buffer rather than straight into the output: a large output (streamed) whose rows do
    /// not start on cache lines.
    pub(crate) fn stages(&self, first: usize) -> bool {
        let size = std::mem::size_of::<T>();
        let start = self.data.as_ptr().wrapping_add(first * self.row_len) as usize;
        let aligned = start.is_multiple_of(64) && (self.row_len * size).is_multiple_of(64);
        !self.streaming.is_portable() && !aligned
    }

    /// Computes rows `first..first + rows` of this part: `t` (its `out`, `ldo` and `stream`
    /// are set here) over every column of `columns`, tile-major
    /// ([`SimdElement::tiles_across`]). Panics unless the columns are consecutive and cover
    /// the whole row, so every element is written.
    ///
    /// The tiles store straight into the output: non-temporally where the output is large
    /// and every row starts on a cache line, with plain stores where it is small. A large
    /// output whose rows are not line-aligned (an allocator that does not align large
    /// blocks, or a row length that is no whole number of lines) is computed into `stage`
    /// (`rows` rows: keep them few, see [`RowWriter::stages`]) and streamed out by
    /// [`RowWriter::write_rows`], which handles the partial lines.
    pub(crate) fn tiles_in_place(
        &mut self,
        isa: Isa,
        (first, rows): (usize, usize),
        stage: &mut Vec<T>,
        columns: &[Column<'_>],
        t: Tile<'_, T>,
    ) {
        let (row_len, lanes) = (self.row_len, isa.lanes(std::mem::size_of::<T>()));
        let streaming = !self.streaming.is_portable();
        let staged = self.stages(first);
        let dst = &mut self.data[first * row_len..(first + rows) * row_len];
        let out: &mut [std::mem::MaybeUninit<T>] = if staged {
            stage.resize(rows * row_len, T::default());
            super::as_out(&mut stage[..])
        } else {
            dst
        };
        let stream = streaming && !staged;
        let mut end = 0;
        for c in columns {
            assert_eq!(c.c0, end, "column blocks are consecutive");
            end = c.c0 + (c.nv.max(1) - 1) * lanes + c.last;
        }
        assert_eq!(end, row_len, "the column blocks cover the row");
        let t = Tile {
            out,
            ldo: row_len,
            stream,
            ..t
        };
        T::tiles_across(isa, rows, columns, t);
        if staged {
            self.write_rows(first, &stage[..rows * row_len]);
        } else {
            self.written[first..first + rows].fill(true);
        }
    }
}

/// Copies `src` into `dst` (the same length), the whole 64-byte lines of `dst` with
/// non-temporal stores of `path` (AVX-512 or AVX2: bypassing the caches, no read for
/// ownership), the partial lines at either end with plain stores; returns `false` (copying
/// nothing) on the portable path, for different lengths, or for an element size that does
/// not divide 64. [`store_fence`] orders the stores before other threads read.
#[inline]
fn stream_copy<T: Copy>(path: KernelPath, dst: &mut [std::mem::MaybeUninit<T>], src: &[T]) -> bool {
    let size = std::mem::size_of::<T>();
    if path.is_portable() || src.len() != dst.len() || size == 0 || !64usize.is_multiple_of(size) {
        return false;
    }
    let per_line = 64 / size;
    let to_line = (64 - (dst.as_ptr() as usize) % 64) % 64;
    if !to_line.is_multiple_of(size) {
        return false;
    }
    let head = (to_line / size).min(dst.len());
    let body = (dst.len() - head) / per_line * per_line;
    let (dst_head, rest) = dst.split_at_mut(head);
    let (dst_body, dst_tail) = rest.split_at_mut(body);
    let (src_head, rest) = src.split_at(head);
    let (src_body, src_tail) = rest.split_at(body);
    for (d, s) in dst_head
        .iter_mut()
        .zip(src_head)
        .chain(dst_tail.iter_mut().zip(src_tail))
    {
        d.write(*s);
    }
    if body == 0 {
        return true;
    }
    let lines = stream_lines(path, dst_body, src_body);
    debug_assert!(lines, "the body is whole aligned lines");
    lines
}

/// [`stream_copy`] of whole aligned lines only: `false` (copying nothing) unless `dst` is
/// 64-byte aligned and a whole number of lines, or on the portable path.
#[inline]
fn stream_lines<T: Copy>(
    path: KernelPath,
    dst: &mut [std::mem::MaybeUninit<T>],
    src: &[T],
) -> bool {
    let bytes = std::mem::size_of_val(src);
    if path.is_portable()
        || src.len() != dst.len()
        || !bytes.is_multiple_of(64)
        || !(dst.as_ptr() as usize).is_multiple_of(64)
    {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f")]
        unsafe fn avx512(dst: *mut u8, src: *const u8, bytes: usize) {
            let mut off = 0;
            while off < bytes {
                // SAFETY: the caller checked both ranges hold `bytes` bytes and `dst` is
                // 64-byte aligned; `off` is a multiple of 64 below `bytes`.
                unsafe {
                    let v = _mm512_loadu_si512(src.add(off).cast());
                    _mm512_stream_si512(dst.add(off).cast(), v);
                }
                off += 64;
            }
        }
        #[target_feature(enable = "avx2")]
        unsafe fn avx2(dst: *mut u8, src: *const u8, bytes: usize) {
            let mut off = 0;
            while off < bytes {
                // SAFETY: as for `avx512`; each 32-byte half of a line is 32-byte aligned.
                unsafe {
                    let v = _mm256_loadu_si256(src.add(off).cast::<__m256i>());
                    _mm256_stream_si256(dst.add(off).cast::<__m256i>(), v);
                }
                off += 32;
            }
        }
        let (d, s) = (dst.as_mut_ptr().cast(), src.as_ptr().cast());
        match path {
            // SAFETY: `path` comes from an `Isa`, so the CPU has AVX-512F; `src` and `dst`
            // have the same length in `T`s, so both span `bytes` bytes; `dst` is aligned.
            KernelPath::Avx512 => unsafe { avx512(d, s, bytes) },
            // SAFETY: as above, the CPU has AVX2.
            KernelPath::Avx2 => unsafe { avx2(d, s, bytes) },
            KernelPath::Portable | KernelPath::PortableWide => return false,
        }
        true
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// Orders earlier non-temporal stores before anything this thread does next (a no-op off
/// x86-64).
pub(super) fn store_fence() {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `sfence` only orders stores; SSE is part of the x86-64 baseline.
    unsafe {
        std::arch::x86_64::_mm_sfence();
    }
}

/// Builds a `Vec` of `Σ len` elements split into consecutive parts `(len, task)` of whole
/// rows of `row_len`: each task gets its parts (in order) as [`RowWriter`]s,
/// `f(scratch, task, parts)`, and writes each output row once, with no zero-fill pass first
/// (rows left unwritten are zeroed afterwards). Tasks run in parallel on the rayon pool
/// unless `parallel` is false. Every task index must be below `tasks`, every `len` a multiple
/// of `row_len`.
///
/// # Errors
/// The first error of `f` (the partial buffer is freed).
pub(crate) fn build_by_rows<T, E, S>(
    isa: Isa,
    parts: &[(usize, usize)],
    row_len: usize,
    tasks: usize,
    parallel: bool,
    init: impl Fn() -> S + Sync + Send,
    f: impl Fn(&mut S, usize, &mut [RowWriter<'_, T>]) -> Result<(), E> + Sync + Send,
) -> Result<Vec<T>, E>
where
    T: Copy + Default + Send + Sync,
    E: Send,
{
    use rayon::prelude::*;

    let len: usize = parts.iter().map(|&(l, _)| l).sum();
    let mut v: Vec<T> = Vec::with_capacity(len);
    if len == 0 || row_len == 0 {
        v.resize(len, T::default());
        return Ok(v);
    }
    advise_huge_pages_uninit(v.spare_capacity_mut());
    let mut owned: Vec<Vec<RowWriter<'_, T>>> = (0..tasks).map(|_| Vec::new()).collect();
    let mut rest = &mut v.spare_capacity_mut()[..len];
    for &(l, task) in parts {
        assert!(l.is_multiple_of(row_len), "parts are whole rows");
        let (part, tail) = rest.split_at_mut(l);
        owned[task].push(RowWriter {
            data: part,
            row_len,
            written: vec![false; l / row_len],
            streaming: if len * std::mem::size_of::<T>() >= STREAM_MIN_BYTES {
                isa.path()
            } else {
                KernelPath::Portable
            },
        });
        rest = tail;
    }
    let one = |s: &mut S, (task, mut mine): (usize, Vec<RowWriter<'_, T>>)| {
        let done = f(s, task, &mut mine);
        store_fence();
        done?;
        mine.iter_mut().for_each(RowWriter::finish);
        Ok(())
    };
    if parallel {
        owned
            .into_par_iter()
            .with_min_len(1)
            .enumerate()
            .try_for_each_init(&init, one)?;
    } else {
        let mut s = init();
        for job in owned.into_iter().enumerate() {
            one(&mut s, job)?;
        }
    }
    // SAFETY: the parts cover the first `len` elements, and every part was finished: each of
    // its rows was written whole by `write_row` or zero-filled by `finish` (errors and panics
    // return before this point, dropping `v` with length 0); `len ≤ capacity`.
    unsafe { v.set_len(len) };
    Ok(v)
}

/// Builds a `Vec` of `rows · row_len` elements, row by row: each row is zero-filled (while it
/// is hot in cache) and handed to `f(scratch, row_index, row)`, with one `init()` scratch per
/// task. Rows run in parallel on the rayon pool (at least `min_rows` per task) unless
/// `parallel` is false. This avoids `calloc`'s serial
/// zeroing pass over a recycled multi-megabyte output.
///
/// # Errors
/// The first error of `f` (the partial buffer is freed).
pub(crate) fn build_rows<T, E, S>(
    rows: usize,
    row_len: usize,
    parallel: bool,
    min_rows: usize,
    init: impl Fn() -> S + Sync + Send,
    f: impl Fn(&mut S, usize, &mut [T]) -> Result<(), E> + Sync + Send,
) -> Result<Vec<T>, E>
where
    T: Copy + Default + Send + Sync,
    E: Send,
{
    use rayon::prelude::*;
    use std::mem::MaybeUninit;

    let len = rows * row_len;
    let mut v: Vec<T> = Vec::with_capacity(len);
    if len == 0 {
        return Ok(v);
    }
    advise_huge_pages_uninit(v.spare_capacity_mut());
    let spare = &mut v.spare_capacity_mut()[..len];
    let one = |s: &mut S, row: usize, chunk: &mut [MaybeUninit<T>]| f(s, row, zeroed(chunk));
    if parallel {
        spare
            .par_chunks_mut(row_len)
            .with_min_len(min_rows.max(1))
            .enumerate()
            .try_for_each_init(&init, |s, (row, chunk)| one(s, row, chunk))?;
    } else {
        let mut s = init();
        for (row, chunk) in spare.chunks_mut(row_len).enumerate() {
            one(&mut s, row, chunk)?;
        }
    }
    // SAFETY: every chunk of the first `len` elements was initialised (errors and panics
    // return before this point, dropping `v` with length 0), and `len ≤ capacity`.
    unsafe { v.set_len(len) };
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simd::Taps;

    /// Rows written by their task hold what was written (through the streaming path where the
    /// CPU has it), rows nobody wrote are zero, and an error frees everything.
    #[test]
    fn write_rows_writes_consecutive_rows_in_one_call() {
        for path in KernelPath::ALL {
            let Some(isa) = Isa::new(path) else { continue };
            let src: Vec<f32> = (0..2 * 5).map(|v| v as f32 + 1.0).collect();
            let out = build_by_rows(
                isa,
                &[(4 * 5, 0)],
                5,
                1,
                false,
                || (),
                |(), _, mine: &mut [RowWriter<'_, f32>]| {
                    mine[0].write_rows(1, &src);
                    Ok::<(), ()>(())
                },
            )
            .expect("builds");
            assert_eq!(&out[..5], &[0.0; 5], "{path:?}: row 0 unwritten");
            assert_eq!(&out[5..15], &src[..], "{path:?}: rows 1 and 2");
            assert_eq!(&out[15..], &[0.0; 5], "{path:?}: row 3 unwritten");
        }
    }

    /// Tiles computed in place: two channel blocks fill rows 1..4 of a 5-row part exactly,
    /// and nothing else, on every path: straight into a line-aligned part (non-temporally
    /// where the CPU has it), through the stage for a part one element off a line or rows of
    /// no whole number of lines (a partial last vector), and with plain stores when not
    /// streaming. Blocks that leave a gap in the row are refused.
    #[test]
    fn tiles_in_place_fill_the_rows_and_refuse_gaps() {
        let (k, rows, part_rows) = (3, 3, 5);
        for path in KernelPath::ALL {
            let Some(isa) = Isa::new(path) else { continue };
            let lanes = isa.lanes(4);
            let a: Vec<f32> = (0..(1 + rows) * k).map(|i| (i % 5) as f32).collect();
            let b: Vec<f32> = (0..2 * k * lanes).map(|i| (i % 7) as f32 - 3.0).collect();
            let taps = [[(0, 0)], [(0, k * lanes)]];
            // Block 0: one full vector; block 1: one vector of `last` lanes.
            let columns = |last: usize| {
                [(0, lanes), (lanes, last)].map(|(c0, last)| Column {
                    c0,
                    nv: 1,
                    last,
                    taps: Taps::new(&taps[usize::from(c0 > 0)]),
                })
            };
            let tile = || Tile {
                a: &a[k..],
                lda: k,
                taps: Taps::new(&[]),
                k,
                b: &b,
                out: &mut [],
                ldo: 0,
                last: lanes,
                stream: false,
            };
            for (last, skew, streaming) in [
                (lanes, 0, isa.path()),
                (lanes, 1, isa.path()),
                (3, 0, isa.path()),
                (lanes, 0, KernelPath::Portable),
            ] {
                let row_len = lanes + last;
                let mut buf = vec![std::mem::MaybeUninit::new(f32::NAN); part_rows * row_len + 32];
                let skip = buf.as_ptr().align_offset(64) + skew;
                let mut part = RowWriter {
                    data: &mut buf[skip..skip + part_rows * row_len],
                    row_len,
                    written: vec![false; part_rows],
                    streaming,
                };
                part.tiles_in_place(isa, (1, rows), &mut Vec::new(), &columns(last), tile());
                store_fence();
                assert_eq!(part.written, [false, true, true, true, false]);
                for r in 0..part_rows {
                    for c in 0..row_len {
                        // SAFETY (test): `buf` was initialised with NaN.
                        let got = unsafe { part.data[r * row_len + c].assume_init() };
                        if !(1..=rows).contains(&r) {
                            assert!(got.is_nan(), "{path:?} wrote row {r}");
                            continue;
                        }
                        let (col, base) = if c < lanes {
                            (c, 0)
                        } else {
                            (c - lanes, k * lanes)
                        };
                        let want: f32 = (0..k)
                            .map(|kk| a[k + (r - 1) * k + kk] * b[base + kk * lanes + col])
                            .sum();
                        let case = format!("{path:?} last {last} skew {skew} {streaming:?}");
                        assert_eq!(got, want, "{case}: ({r}, {c})");
                    }
                }
            }
            let gap = std::panic::catch_unwind(|| {
                let mut buf = vec![std::mem::MaybeUninit::new(0.0); 5 * (lanes + 3)];
                let mut part = RowWriter {
                    data: &mut buf,
                    row_len: lanes + 3,
                    written: vec![false; 5],
                    streaming: KernelPath::Portable,
                };
                part.tiles_in_place(isa, (1, rows), &mut Vec::new(), &columns(2), tile());
            });
            assert!(
                gap.is_err(),
                "{path:?}: a block one column short is refused"
            );
        }
    }

    #[test]
    fn build_by_rows_writes_rows_once_and_zeroes_the_rest() {
        for path in KernelPath::ALL {
            let Some(isa) = Isa::new(path) else { continue };
            // Three parts of 4 rows of 8 values (one 64-byte line each), two tasks.
            let parts = [(32, 0), (32, 1), (32, 0)];
            let out = build_by_rows(
                isa,
                &parts,
                8,
                2,
                true,
                || (),
                |(), task, mine: &mut [RowWriter<'_, f64>]| {
                    for (i, part) in mine.iter_mut().enumerate() {
                        for row in (0..4).filter(|r| r % 2 == task) {
                            let v = (task * 100 + i * 10 + row) as f64;
                            part.write_row(row, &[v; 8]);
                        }
                    }
                    Ok::<(), ()>(())
                },
            )
            .expect("builds");
            let row = |r: usize| out[r * 8];
            // Task 0 owns parts 0 and 2 and writes rows 0 and 2; task 1 owns part 1, rows 1, 3.
            assert_eq!(
                (0..12).map(row).collect::<Vec<_>>(),
                [
                    0.0, 0.0, 2.0, 0.0, 0.0, 101.0, 0.0, 103.0, 10.0, 0.0, 12.0, 0.0
                ],
                "{path:?}"
            );
            assert!(out.chunks(8).all(|r| r.iter().all(|&v| v == r[0])));
            let failed: Result<Vec<f64>, i32> =
                build_by_rows(isa, &parts, 8, 2, false, || (), |(), _, _| Err(7));
            assert_eq!(failed, Err(7));
        }
    }

    /// Copies stream the whole lines and write the partial ones at both ends, at every
    /// alignment and length; nothing is copied on the portable path.
    #[test]
    fn stream_copy_copies_every_value_at_any_alignment() {
        let src: Vec<f64> = (0..40).map(f64::from).collect();
        let mut buf = vec![std::mem::MaybeUninit::<f64>::uninit(); 48];
        assert!(
            !stream_copy(KernelPath::Portable, &mut buf[..16], &src[..16]),
            "no streaming stores on the portable path"
        );
        assert!(
            !stream_copy(KernelPath::Avx2, &mut buf[..3], &src[..4]),
            "lengths differ"
        );
        for path in [KernelPath::Avx512, KernelPath::Avx2] {
            let Some(isa) = Isa::new(path) else { continue };
            for start in 0..8 {
                for len in [0, 1, 7, 8, 9, 16, 23, 40] {
                    let dst = &mut buf[start..start + len];
                    dst.fill(std::mem::MaybeUninit::new(-1.0));
                    assert!(stream_copy(isa.path(), dst, &src[..len]), "{path:?}");
                    store_fence();
                    // SAFETY (test): `dst` was filled just above, then overwritten.
                    let got: Vec<f64> = dst.iter().map(|v| unsafe { v.assume_init() }).collect();
                    assert_eq!(got, src[..len], "{path:?} start {start} len {len}");
                }
            }
        }
    }
}
