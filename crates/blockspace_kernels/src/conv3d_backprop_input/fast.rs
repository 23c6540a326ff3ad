//! The production gather kernel (see the module docs of [`super`]).

use std::sync::atomic::{AtomicUsize, Ordering};

use ndarray::{Array5, ArrayView5};
use rayon::prelude::*;

use super::params::Conv3dBackpropInputParams;
use crate::{Element, KernelContext, KernelError};

/// The filter repacked as `[KD·KH·KW][M][C]`: one contiguous `M × C` panel per tap.
fn pack_filter<T: Element>(filter: ArrayView5<'_, T>) -> Vec<T> {
    let (kd, kh, kw, c, m) = filter.dim();
    let mut out = Vec::with_capacity(kd * kh * kw * c * m);
    for a in 0..kd {
        for b in 0..kh {
            for e in 0..kw {
                for mm in 0..m {
                    for cc in 0..c {
                        out.push(filter[[a, b, e, cc, mm]]);
                    }
                }
            }
        }
    }
    out
}

/// `(tap, out_index)` pairs that reach output index `i` along spatial dim `dim`.
fn taps(i: usize, dim: usize, p: &Conv3dBackpropInputParams, out: &mut Vec<(usize, usize)>) {
    out.clear();
    let (s, dil, pad) = (p.strides[dim], p.dilations[dim], p.pad_before[dim]);
    for k in 0..p.kernel[dim] {
        let Some(num) = (i + pad).checked_sub(k * dil) else {
            break;
        };
        if num % s == 0 && num / s < p.out_spatial[dim] {
            out.push((k, num / s));
        }
    }
}

/// Computes the NDHWC output.
pub(super) fn compute<T: Element>(
    p: &Conv3dBackpropInputParams,
    filter: ArrayView5<'_, T>,
    dy: ArrayView5<'_, T>,
    ctx: &KernelContext,
) -> Result<Array5<T>, KernelError> {
    let [d_, h_, w_] = p.input_spatial;
    let shape = (p.n, d_, h_, w_, p.c);
    let row_len = w_ * p.c;
    if row_len == 0 || p.n * d_ * h_ == 0 {
        return Ok(Array5::from_elem(shape, T::ZERO));
    }
    let size = std::mem::size_of::<T>() as u64;
    ctx.limit
        .check("the packed filter", filter.len() as u64, size)?;
    let packed = pack_filter(filter);
    let dy = dy.as_standard_layout();
    let dy = dy.as_slice().ok_or(KernelError::Overflow {
        what: "out_backprop layout",
    })?;
    let mut dx = vec![T::ZERO; p.n * d_ * h_ * row_len];
    let rows = p.n * d_ * h_;
    let done = AtomicUsize::new(0);
    let report_every = (rows / 100).max(1);
    let [od_, oh_, ow_] = p.out_spatial;
    let [kh_, kw_] = [p.kernel[1], p.kernel[2]];
    let (c_, m_) = (p.c, p.m);
    // Rows per task: enough work per task to amortise scheduling.
    let work_per_row = (row_len * p.kernel.iter().product::<usize>() * m_).max(1);
    let min_rows = (1 << 15) / work_per_row + 1;
    dx.par_chunks_mut(row_len)
        .with_min_len(min_rows)
        .enumerate()
        .try_for_each_init(
            || (Vec::new(), Vec::new(), Vec::new()),
            |(kd_list, kh_list, kw_list), (row, out)| {
                ctx.check_cancelled()?;
                let h = row % h_;
                let d = (row / h_) % d_;
                let n = row / (h_ * d_);
                taps(d, 0, p, kd_list);
                taps(h, 1, p, kh_list);
                for (w, acc) in out.chunks_exact_mut(c_).enumerate() {
                    taps(w, 2, p, kw_list);
                    for &(kd, od) in kd_list.iter() {
                        for &(kh, oh) in kh_list.iter() {
                            for &(kw, ow) in kw_list.iter() {
                                let dy_off = (((n * od_ + od) * oh_ + oh) * ow_ + ow) * m_;
                                let f_off = ((kd * kh_ + kh) * kw_ + kw) * m_ * c_;
                                let dy_row = &dy[dy_off..dy_off + m_];
                                let panel = &packed[f_off..f_off + m_ * c_];
                                for (&v, f_row) in dy_row.iter().zip(panel.chunks_exact(c_)) {
                                    for (a, &f) in acc.iter_mut().zip(f_row) {
                                        *a += v * f;
                                    }
                                }
                            }
                        }
                    }
                }
                let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
                if let Some(progress) = &ctx.progress
                    && (finished.is_multiple_of(report_every) || finished == rows)
                {
                    progress(finished as f64 / rows as f64);
                }
                Ok(())
            },
        )?;
    Array5::from_shape_vec(shape, dx).map_err(|_| KernelError::Overflow {
        what: "the output shape",
    })
}
