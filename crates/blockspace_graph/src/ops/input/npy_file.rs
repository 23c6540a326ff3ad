//! The `npy` mode of `Input`: the `path` attribute resolved against the page's folder, the file's
//! header checked against `dtype` and `shape`. Reading and writing the format is [`crate::npy`].

use super::{OpError, attr_str};
use crate::kernels::MemoryLimit;
use crate::npy::{self, NpyError, NpyHeader};
use crate::tensor::{DType, Tensor};
use crate::value::Attrs;
use std::path::{Path, PathBuf};

pub(super) fn npy_path(attrs: &Attrs, base_dir: Option<&Path>) -> Result<PathBuf, OpError> {
    let p = attr_str(attrs, "path")?;
    if p.trim().is_empty() {
        return Err(OpError::attr("path", "is empty; choose a .npy file"));
    }
    let p = Path::new(p);
    if p.is_absolute() {
        return Ok(p.to_owned());
    }
    match base_dir {
        Some(dir) => Ok(dir.join(p)),
        None => Err(OpError::attr(
            "path",
            format!(
                "{:?} is relative, but the page has not been saved yet; save the page next to the file",
                p.display()
            ),
        )),
    }
}

/// Maps a `.npy` problem onto the attribute it is about.
fn npy_error(e: NpyError) -> OpError {
    OpError::attr("path", e.to_string())
}

pub(super) fn npy_header(
    path: &Path,
    dtype: DType,
    shape_attr: &[usize],
) -> Result<NpyHeader, OpError> {
    let header = npy::read_header(path).map_err(npy_error)?;
    if header.dtype != dtype {
        return Err(OpError::attr(
            "dtype",
            format!(
                "is {dtype} but the file holds {}; set dtype to {} ({})",
                header.dtype,
                header.dtype,
                path.display()
            ),
        ));
    }
    if !shape_attr.is_empty() && shape_attr != header.shape.as_slice() {
        return Err(OpError::attr(
            "shape",
            format!(
                "is {shape_attr:?} but the file holds shape {:?} (rank {}); set shape to {:?} or clear it ([]) ({})",
                header.shape,
                header.shape.len(),
                header.shape,
                path.display()
            ),
        ));
    }
    Ok(header)
}

pub(super) fn read_npy(path: &Path, limit: &MemoryLimit) -> Result<Tensor, OpError> {
    npy::read_npy(path, limit).map_err(npy_error)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{attrs, s};
    use super::super::{EvalCtx, eval};
    use super::*;
    use crate::kernels::KernelContext;
    use crate::value::AttrValue;
    use ndarray::{ArrayD, IxDyn};

    #[test]
    fn npy_round_trip_and_mismatches() {
        let dir = tempfile::tempdir().unwrap();
        let t = Tensor::I64(ArrayD::from_shape_vec(IxDyn(&[5]), vec![1, 4, 4, 4, 3]).unwrap());
        t.write_npy(&dir.path().join("s.npy")).unwrap();
        let k = KernelContext::default();
        let ctx = EvalCtx {
            kernel: &k,
            base_dir: Some(dir.path()),
        };
        let a = attrs(&[
            ("mode", s("npy")),
            ("dtype", s("int64")),
            ("path", s("s.npy")),
        ]);
        assert_eq!(eval(&ctx, &a, &[]).unwrap(), vec![t]);
        let wrong = attrs(&[
            ("mode", s("npy")),
            ("dtype", s("float32")),
            ("path", s("s.npy")),
        ]);
        let e = eval(&ctx, &wrong, &[]).unwrap_err();
        assert!(
            e.attr.as_deref() == Some("dtype") && e.message.contains("int64"),
            "{e}"
        );
        let rank = attrs(&[
            ("mode", s("npy")),
            ("dtype", s("int64")),
            ("path", s("s.npy")),
            ("shape", AttrValue::IntList(vec![1, 5])),
        ]);
        let e = eval(&ctx, &rank, &[]).unwrap_err();
        assert!(
            e.attr.as_deref() == Some("shape") && e.message.contains("rank 1"),
            "{e}"
        );
        let missing = attrs(&[
            ("mode", s("npy")),
            ("dtype", s("int64")),
            ("path", s("nope.npy")),
        ]);
        let e = eval(&ctx, &missing, &[]).unwrap_err();
        assert!(
            e.attr.as_deref() == Some("path") && e.message.contains("nope.npy"),
            "{e}"
        );
        std::fs::write(dir.path().join("bad.npy"), b"not numpy").unwrap();
        let bad = attrs(&[
            ("mode", s("npy")),
            ("dtype", s("int64")),
            ("path", s("bad.npy")),
        ]);
        assert!(eval(&ctx, &bad, &[]).is_err());
    }
}
