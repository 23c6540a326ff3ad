//! The `.npy` reader against hostile and unusual files: every class an attacker or an unlucky
//! user produced (a panic in the old reader, an exponential parse, truncated data, absurd
//! shapes, non-regular files) is a clear error within a second; NumPy's own variants (Fortran
//! order, big-endian, scalars) read correctly; writes are atomic.

#![expect(clippy::unwrap_used, reason = "test helpers")]

use blockspace_graph::Tensor;
use blockspace_graph::npy::{NpyError, read_header, read_npy, write_npy};
use blockspace_kernels::MemoryLimit;

fn file_with(header: &str, data: &[u8]) -> tempfile::NamedTempFile {
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    let mut h = header.to_owned();
    while !(10 + h.len() + 1).is_multiple_of(64) {
        h.push(' ');
    }
    h.push('\n');
    bytes.extend_from_slice(&u16::try_from(h.len()).unwrap().to_le_bytes());
    bytes.extend_from_slice(h.as_bytes());
    bytes.extend_from_slice(data);
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), bytes).unwrap();
    f
}

fn limit() -> MemoryLimit {
    MemoryLimit::bytes(1 << 30)
}

#[test]
fn reads_what_numpy_writes_in_every_order_and_endianness() {
    let le: Vec<u8> = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let f = file_with(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
        &le,
    );
    let Tensor::F32(a) = read_npy(f.path(), &limit()).unwrap() else {
        panic!("f32")
    };
    assert_eq!(a.shape(), [2, 3]);
    assert_eq!(a[[1, 0]], 4.0);
    let f = file_with(
        "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }",
        &le,
    );
    let Tensor::F32(a) = read_npy(f.path(), &limit()).unwrap() else {
        panic!("f32")
    };
    assert_eq!(a[[1, 0]], 2.0, "column-major: the second value is row 1");
    assert!(a.is_standard_layout());
    let be: Vec<u8> = [7i64, -8].iter().flat_map(|v| v.to_be_bytes()).collect();
    let f = file_with(
        "{'descr': '>i8', 'fortran_order': False, 'shape': (2,), }",
        &be,
    );
    assert_eq!(
        read_npy(f.path(), &limit()).unwrap(),
        Tensor::I64(ndarray::arr1(&[7i64, -8]).into_dyn())
    );
    let f = file_with(
        "{'descr': '<f8', 'fortran_order': False, 'shape': (), }",
        &2.5f64.to_le_bytes(),
    );
    assert_eq!(
        read_npy(f.path(), &limit()).unwrap().shape(),
        &[] as &[usize]
    );
}

#[test]
fn round_trips_through_the_atomic_writer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.npy");
    let t = Tensor::F64(ndarray::arr2(&[[1.5, -2.0], [3.0, 4.25]]).into_dyn());
    write_npy(&t, &path).unwrap();
    assert_eq!(read_npy(&path, &limit()).unwrap(), t);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no temp file left"
    );
}

#[test]
fn hostile_headers_are_clear_errors_at_once() {
    let cases: &[(&str, &str)] = &[
        // A zero and two huge dimensions (ndarray-npy panicked on this).
        (
            "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 9223372036854775807, 9223372036854775807), }",
            "too large",
        ),
        // Nested dicts (ndarray-npy's parser took exponential time).
        (
            "{'descr': {'a': {'b': {'c': {'d': {}}}}}, 'fortran_order': False, 'shape': (1,), }",
            "quoted string",
        ),
        (
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 1}",
            "unexpected key",
        ),
        (
            "{'descr': '<f4', 'descr': '<f8', 'fortran_order': False, 'shape': (1,)}",
            "twice",
        ),
        (
            "{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}",
            "True or False",
        ),
        (
            "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}",
            "dimension",
        ),
        ("{'descr': '<f4', 'fortran_order': False}", "no 'shape'"),
        (
            "{'descr': 'O', 'fortran_order': False, 'shape': (1,)}",
            "dtype",
        ),
        ("[1, 2]", "expected '{'"),
    ];
    for (header, needle) in cases {
        let f = file_with(header, &[0u8; 4]);
        let t = std::time::Instant::now();
        let e = read_npy(f.path(), &limit()).unwrap_err().to_string();
        assert!(e.contains(needle), "{header}: {e}");
        assert!(e.len() < 400, "bounded message: {e}");
        assert!(t.elapsed().as_secs() < 1, "{header}");
    }
}

#[test]
fn truncated_data_oversized_arrays_and_odd_files_are_refused() {
    let f = file_with(
        "{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }",
        &[0u8; 16],
    );
    let e = read_npy(f.path(), &limit()).unwrap_err();
    assert!(
        matches!(
            e,
            NpyError::Length {
                expected: 32,
                actual: 16,
                ..
            }
        ),
        "{e}"
    );
    let f = file_with(
        "{'descr': '<f8', 'fortran_order': False, 'shape': (1024, 1024), }",
        &[0u8; 8],
    );
    assert!(matches!(
        read_header(f.path()),
        Err(NpyError::Length { .. })
    ));
    let f = file_with(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }",
        &[0u8; 16],
    );
    let e = read_npy(f.path(), &MemoryLimit::bytes(8)).unwrap_err();
    assert!(matches!(e, NpyError::TooLarge { .. }), "{e}");
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        read_npy(dir.path(), &limit()),
        Err(NpyError::NotAFile { .. })
    ));
    let short = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(short.path(), b"\x93NUM").unwrap();
    assert!(
        read_npy(short.path(), &limit())
            .unwrap_err()
            .to_string()
            .contains("shorter")
    );
}
