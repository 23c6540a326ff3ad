//! `.npy` files, read and written in one place.
//!
//! Reading never trusts the file: the header is parsed by a small strict parser (the magic
//! string, versions 1–3, a header of at most 64 KiB that is a Python dict of exactly the keys
//! `descr`, `fortran_order` and `shape`, no nesting beyond the shape tuple), the shape's element
//! count and byte size are checked for overflow and against the memory limit before anything is
//! allocated, only regular files are opened (a FIFO or a device would block or never end), and
//! the file must hold exactly the bytes the header promises. Writing goes to a temporary file in
//! the target's folder that is renamed over the target, so a failed write never leaves a partial
//! file, and a symbolic link at the target is replaced, never followed.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use ndarray::{ArrayD, IxDyn, ShapeBuilder};

use crate::kernels::MemoryLimit;
use crate::tensor::{DType, Tensor};

/// The largest header this reader accepts (NumPy writes a few hundred bytes).
const MAX_HEADER: usize = 64 << 10;
/// The most dimensions a shape may have.
const MAX_RANK: usize = 32;

/// A `.npy` file that cannot be read, and why.
#[derive(Debug, thiserror::Error)]
pub enum NpyError {
    /// Opening or reading failed.
    #[error("cannot read the .npy file: {source}; check the path and permissions ({})", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// Not a regular file (a folder, FIFO or device).
    #[error("is not a regular file; choose a .npy file ({})", path.display())]
    NotAFile {
        /// The path.
        path: PathBuf,
    },
    /// The header is malformed.
    #[error("not a valid .npy file: {reason} ({})", path.display())]
    Header {
        /// What is wrong, quoting at most a few bytes of the file.
        reason: String,
        /// The file.
        path: PathBuf,
    },
    /// The element type is not one Blockspace holds.
    #[error("the file holds dtype {descr}, which Input cannot load; save it as int32, int64, float32 or float64 ({})", path.display())]
    UnsupportedDtype {
        /// The `descr` of the header.
        descr: String,
        /// The file.
        path: PathBuf,
    },
    /// The data is shorter or longer than the header's shape needs.
    #[error("holds {actual} bytes of data but its shape {shape:?} needs {expected}; the file is truncated or corrupt ({})", path.display())]
    Length {
        /// The header's shape.
        shape: Vec<usize>,
        /// Bytes the shape needs.
        expected: u64,
        /// Bytes after the header.
        actual: u64,
        /// The file.
        path: PathBuf,
    },
    /// The tensor would not fit the memory limit.
    #[error("its shape {shape:?} needs {bytes} bytes, over the memory limit of {limit} bytes; use a smaller array ({})", path.display())]
    TooLarge {
        /// The header's shape.
        shape: Vec<usize>,
        /// Bytes needed.
        bytes: u64,
        /// The limit.
        limit: u64,
        /// The file.
        path: PathBuf,
    },
    /// Writing failed.
    #[error("cannot write the .npy file: {message} ({})", path.display())]
    Write {
        /// What went wrong.
        message: String,
        /// The file.
        path: PathBuf,
    },
}

/// What a `.npy` header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpyHeader {
    /// Element type.
    pub dtype: DType,
    /// Whether the data is big-endian.
    pub big_endian: bool,
    /// Whether the data is in column-major (Fortran) order.
    pub fortran_order: bool,
    /// The array's shape.
    pub shape: Vec<usize>,
    /// Bytes before the data.
    pub data_offset: u64,
}

impl NpyHeader {
    /// Bytes of data the shape needs (checked: the header was validated).
    pub fn data_bytes(&self) -> u64 {
        self.shape
            .iter()
            .fold(self.dtype.size_of(), |acc, &d| acc.saturating_mul(d as u64))
    }
}

fn open_regular(path: &Path) -> Result<File, NpyError> {
    let io = |source| NpyError::Io {
        path: path.to_owned(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(NpyError::NotAFile {
            path: path.to_owned(),
        });
    }
    File::open(path).map_err(io)
}

/// Reads and checks the header of the `.npy` file at `path`.
///
/// # Errors
/// [`NpyError`] for an unreadable, non-regular or malformed file, an unsupported dtype, or data
/// that does not match the shape.
pub fn read_header(path: &Path) -> Result<NpyHeader, NpyError> {
    let file = open_regular(path)?;
    let file_len = file
        .metadata()
        .map_err(|source| NpyError::Io {
            path: path.to_owned(),
            source,
        })?
        .len();
    let mut reader = BufReader::new(file);
    let header = parse_header(&mut reader, path)?;
    let actual = file_len.saturating_sub(header.data_offset);
    if actual != header.data_bytes() {
        return Err(NpyError::Length {
            shape: header.shape.clone(),
            expected: header.data_bytes(),
            actual,
            path: path.to_owned(),
        });
    }
    Ok(header)
}

/// Reads the `.npy` file at `path` as a tensor of its own dtype (little- or big-endian, C or
/// Fortran order), refusing anything over `limit` before allocating.
///
/// # Errors
/// As [`read_header`], plus [`NpyError::TooLarge`].
pub fn read_npy(path: &Path, limit: &MemoryLimit) -> Result<Tensor, NpyError> {
    let header = read_header(path)?;
    let bytes = header.data_bytes();
    let elements: u64 = header.shape.iter().product::<usize>() as u64;
    if limit
        .check("the .npy data", elements, header.dtype.size_of())
        .is_err()
    {
        return Err(NpyError::TooLarge {
            shape: header.shape,
            bytes,
            limit: limit.max_bytes,
            path: path.to_owned(),
        });
    }
    let mut file = open_regular(path)?;
    let io = |source| NpyError::Io {
        path: path.to_owned(),
        source,
    };
    let mut skip = vec![0u8; usize::try_from(header.data_offset).unwrap_or(0)];
    file.read_exact(&mut skip).map_err(io)?;
    let mut data = Vec::new();
    (&mut file).take(bytes).read_to_end(&mut data).map_err(io)?;
    if data.len() as u64 != bytes {
        return Err(NpyError::Length {
            shape: header.shape,
            expected: bytes,
            actual: data.len() as u64,
            path: path.to_owned(),
        });
    }
    let shape = IxDyn(&header.shape).set_f(header.fortran_order);
    let be = header.big_endian;
    let bad = |e: ndarray::ShapeError| NpyError::Header {
        reason: format!("shape {:?} cannot hold the data ({e})", header.shape),
        path: path.to_owned(),
    };
    macro_rules! decode {
        ($t:ty, $n:expr, $variant:ident) => {{
            let values: Vec<$t> = data
                .chunks_exact($n)
                .map(|c| {
                    let mut b = [0u8; $n];
                    b.copy_from_slice(c);
                    if be {
                        <$t>::from_be_bytes(b)
                    } else {
                        <$t>::from_le_bytes(b)
                    }
                })
                .collect();
            let a = ArrayD::from_shape_vec(shape, values).map_err(bad)?;
            let a = if a.is_standard_layout() {
                a
            } else {
                a.as_standard_layout().into_owned()
            };
            Tensor::$variant(a)
        }};
    }
    Ok(match header.dtype {
        DType::Int32 => decode!(i32, 4, I32),
        DType::Int64 => decode!(i64, 8, I64),
        DType::Float32 => decode!(f32, 4, F32),
        DType::Float64 => decode!(f64, 8, F64),
    })
}

impl Tensor {
    /// Writes the tensor as a `.npy` file (little-endian, C order), atomically: through a
    /// temporary file in the same folder renamed over `path` (see [`write_npy`]).
    ///
    /// # Errors
    /// [`NpyError::Write`] when the folder is not writable or the disk is full.
    pub fn write_npy(&self, path: &Path) -> Result<(), NpyError> {
        write_npy(self, path)
    }
}

/// Writes `tensor` as a `.npy` file (little-endian, C order) through a temporary file in the
/// same folder renamed over `path`: the target is either the old file or the new one, whole.
/// A symbolic link at `path` is replaced by the rename; the file it points to is untouched.
///
/// # Errors
/// [`NpyError::Write`] when the folder is not writable or the disk is full.
pub fn write_npy(tensor: &Tensor, path: &Path) -> Result<(), NpyError> {
    write_npy_as(tensor, path, true)
}

/// As [`write_npy`], but refuses (with an error of kind [`std::io::ErrorKind::AlreadyExists`]
/// in its message) when anything already exists at `path`; the check and the rename are one
/// atomic step, so a file that appears meanwhile is not replaced either.
///
/// # Errors
/// [`NpyError::Write`] when `path` exists, the folder is not writable or the disk is full.
pub fn write_new_npy(tensor: &Tensor, path: &Path) -> Result<(), NpyError> {
    write_npy_as(tensor, path, false)
}

fn write_npy_as(tensor: &Tensor, path: &Path, replace: bool) -> Result<(), NpyError> {
    use ndarray_npy::WriteNpyExt;
    let fail = |message: String| NpyError::Write {
        message,
        path: path.to_owned(),
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let tmp = tempfile::Builder::new()
        .prefix(".blockspace-")
        .suffix(".npy.tmp")
        .tempfile_in(dir)
        .map_err(|e| fail(e.to_string()))?;
    {
        let mut w = std::io::BufWriter::new(tmp.as_file());
        match tensor {
            Tensor::I32(a) => a.write_npy(&mut w),
            Tensor::I64(a) => a.write_npy(&mut w),
            Tensor::F32(a) => a.write_npy(&mut w),
            Tensor::F64(a) => a.write_npy(&mut w),
        }
        .map_err(|e| fail(e.to_string()))?;
        std::io::Write::flush(&mut w).map_err(|e| fail(e.to_string()))?;
    }
    tmp.as_file().sync_all().map_err(|e| fail(e.to_string()))?;
    if replace {
        tmp.persist(path).map_err(|e| fail(e.error.to_string()))?;
    } else {
        tmp.persist_noclobber(path)
            .map_err(|e| fail(e.error.to_string()))?;
    }
    sync_dir(dir);
    Ok(())
}

/// Makes a rename in `dir` durable (best effort: not every file system can sync a folder).
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// At most `n` characters of `s`, for messages.
fn quote(s: &str, n: usize) -> String {
    let mut q: String = s.chars().take(n).collect();
    if s.chars().count() > n {
        q.push('…');
    }
    format!("{q:?}")
}

fn parse_header(r: &mut impl Read, path: &Path) -> Result<NpyHeader, NpyError> {
    let bad = |reason: String| NpyError::Header {
        reason,
        path: path.to_owned(),
    };
    let io = |source| NpyError::Io {
        path: path.to_owned(),
        source,
    };
    let mut magic = [0u8; 8];
    read_full(r, &mut magic)
        .map_err(io)?
        .then_some(())
        .ok_or_else(|| bad("the file is shorter than the 8-byte .npy preamble".to_owned()))?;
    if &magic[..6] != b"\x93NUMPY" {
        return Err(bad(
            "it does not start with the .npy magic string \\x93NUMPY".to_owned(),
        ));
    }
    let (len, prefix) = match magic[6] {
        1 => {
            let mut b = [0u8; 2];
            read_full(r, &mut b)
                .map_err(io)?
                .then_some(())
                .ok_or_else(|| bad("the header length is cut off".to_owned()))?;
            (usize::from(u16::from_le_bytes(b)), 10)
        }
        2 | 3 => {
            let mut b = [0u8; 4];
            read_full(r, &mut b)
                .map_err(io)?
                .then_some(())
                .ok_or_else(|| bad("the header length is cut off".to_owned()))?;
            (
                usize::try_from(u32::from_le_bytes(b)).unwrap_or(usize::MAX),
                12,
            )
        }
        v => {
            return Err(bad(format!(
                "format version {v}.{} is not 1, 2 or 3",
                magic[7]
            )));
        }
    };
    if len > MAX_HEADER {
        return Err(bad(format!(
            "its header claims {len} bytes, more than the {MAX_HEADER} this reader accepts"
        )));
    }
    let mut text = vec![0u8; len];
    read_full(r, &mut text)
        .map_err(io)?
        .then_some(())
        .ok_or_else(|| bad(format!("the header is cut off (it claims {len} bytes)")))?;
    let text = std::str::from_utf8(&text).map_err(|_| bad("the header is not text".to_owned()))?;
    let dict = HeaderParser::new(text)
        .dict()
        .map_err(|e| bad(format!("header {}: {e}", quote(text.trim_end(), 60))))?;
    let descr = dict
        .descr
        .ok_or_else(|| bad("the header has no 'descr'".to_owned()))?;
    let fortran_order = dict
        .fortran_order
        .ok_or_else(|| bad("the header has no 'fortran_order'".to_owned()))?;
    let shape = dict
        .shape
        .ok_or_else(|| bad("the header has no 'shape'".to_owned()))?;
    let (dtype, big_endian) = match descr.as_str() {
        "<i4" | "=i4" => (DType::Int32, false),
        ">i4" => (DType::Int32, true),
        "<i8" | "=i8" => (DType::Int64, false),
        ">i8" => (DType::Int64, true),
        "<f4" | "=f4" => (DType::Float32, false),
        ">f4" => (DType::Float32, true),
        "<f8" | "=f8" => (DType::Float64, false),
        ">f8" => (DType::Float64, true),
        other => {
            return Err(NpyError::UnsupportedDtype {
                descr: quote(other, 20),
                path: path.to_owned(),
            });
        }
    };
    // Overflow: the element count and byte size must fit (a zero makes the array empty, but
    // the other dimensions must still describe an array).
    let nonzero = shape
        .iter()
        .filter(|&&d| d != 0)
        .try_fold(dtype.size_of(), |acc, &d| acc.checked_mul(d as u64));
    if nonzero.is_none_or(|b| isize::try_from(b).is_err()) {
        return Err(bad(format!(
            "shape {shape:?} is too large to describe (its size overflows 64 bits)"
        )));
    }
    Ok(NpyHeader {
        dtype,
        big_endian,
        fortran_order,
        shape,
        data_offset: (prefix + len) as u64,
    })
}

/// Fills `buf`; `Ok(false)` at an early end of file.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<bool> {
    match r.read_exact(buf) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(e),
    }
}

#[derive(Default)]
struct HeaderDict {
    descr: Option<String>,
    fortran_order: Option<bool>,
    shape: Option<Vec<usize>>,
}

/// A strict parser of the one dict literal a `.npy` header holds.
struct HeaderParser<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> HeaderParser<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            s: text.as_bytes(),
            i: 0,
        }
    }

    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.s.get(self.i).copied()
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        match self.peek() {
            Some(x) if x == c => {
                self.i += 1;
                Ok(())
            }
            Some(x) => Err(format!(
                "expected '{}' at byte {}, found '{}'",
                c as char, self.i, x as char
            )),
            None => Err(format!("expected '{}', found the end", c as char)),
        }
    }

    fn string(&mut self) -> Result<String, String> {
        let q = self.peek().ok_or("expected a string, found the end")?;
        if q != b'\'' && q != b'"' {
            return Err(format!("expected a quoted string at byte {}", self.i));
        }
        self.i += 1;
        let start = self.i;
        while self.i < self.s.len() && self.s[self.i] != q {
            if self.s[self.i] == b'\\' {
                return Err("escapes are not allowed in a .npy header string".to_owned());
            }
            self.i += 1;
        }
        if self.i >= self.s.len() {
            return Err("a string is not closed".to_owned());
        }
        let v = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
        self.i += 1;
        Ok(v)
    }

    fn word(&mut self) -> &'a [u8] {
        self.ws();
        let start = self.i;
        while self.i < self.s.len() && self.s[self.i].is_ascii_alphanumeric() {
            self.i += 1;
        }
        &self.s[start..self.i]
    }

    fn shape(&mut self) -> Result<Vec<usize>, String> {
        self.expect(b'(')?;
        let mut dims = Vec::new();
        loop {
            if self.peek() == Some(b')') {
                self.i += 1;
                return Ok(dims);
            }
            let w = self.word();
            if w.is_empty() {
                return Err(format!("expected a dimension at byte {}", self.i));
            }
            let text = std::str::from_utf8(w).unwrap_or("?");
            let text = text.strip_suffix('L').unwrap_or(text);
            let d: usize = text
                .parse()
                .map_err(|_| format!("dimension {} is not a whole number ≥ 0", quote(text, 24)))?;
            dims.push(d);
            if dims.len() > MAX_RANK {
                return Err(format!("the shape has more than {MAX_RANK} dimensions"));
            }
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b')') => {}
                _ => {
                    return Err(format!(
                        "expected ',' or ')' in the shape at byte {}",
                        self.i
                    ));
                }
            }
        }
    }

    fn dict(&mut self) -> Result<HeaderDict, String> {
        let mut d = HeaderDict::default();
        self.expect(b'{')?;
        loop {
            if self.peek() == Some(b'}') {
                self.i += 1;
                break;
            }
            let key = self.string()?;
            self.expect(b':')?;
            match key.as_str() {
                "descr" if d.descr.is_none() => d.descr = Some(self.string()?),
                "fortran_order" if d.fortran_order.is_none() => {
                    d.fortran_order = Some(match self.word() {
                        b"True" => true,
                        b"False" => false,
                        _ => return Err("'fortran_order' must be True or False".to_owned()),
                    });
                }
                "shape" if d.shape.is_none() => d.shape = Some(self.shape()?),
                "descr" | "fortran_order" | "shape" => {
                    return Err(format!("the key '{key}' appears twice"));
                }
                other => {
                    return Err(format!(
                        "unexpected key {} (a .npy header has descr, fortran_order and shape)",
                        quote(other, 24)
                    ));
                }
            }
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {}
                _ => return Err(format!("expected ',' or '}}' at byte {}", self.i)),
            }
        }
        self.ws();
        if self.i != self.s.len() {
            return Err(format!("unexpected text after the dict at byte {}", self.i));
        }
        Ok(d)
    }
}
