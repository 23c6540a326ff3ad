//! File readers as fuzz targets: pages, `.npy` files, conformance files.

use std::sync::OnceLock;

use crate::check::{CheckOptions, check_page_with, topo_order};
use crate::fuzzing::scratch_file;
use crate::kernels::MemoryLimit;
use crate::ops::Registry;

pub(crate) fn registry() -> &'static Registry {
    static REG: OnceLock<Registry> = OnceLock::new();
    REG.get_or_init(Registry::builtin)
}

/// A page file: loads, and when it loads, checks (under a 256 MiB limit), orders, and saves
/// and loads back to the same page.
///
/// # Panics
/// When any of that panics, or the round trip changes the page.
pub fn page_file(data: &[u8]) {
    let scratch = scratch_file("page.bspage.json", data);
    let path = scratch.path();
    let reg = registry();
    let Ok(page) = crate::file::load_page(reg, path) else {
        return;
    };
    let opts = CheckOptions {
        base_dir: path.parent().map(std::path::Path::to_path_buf),
        limit: MemoryLimit::bytes(256 << 20),
    };
    let check = check_page_with(reg, &page, &opts);
    assert!(
        check.order.len() <= page.len(),
        "more blocks ordered than exist"
    );
    let _ = topo_order(&page);
    let text = crate::file::page_to_json(reg, &page);
    match crate::file::page_from_json(reg, &text, "round trip") {
        Ok(again) => assert!(again == page, "the round trip changed the page"),
        Err(e) => panic!("a loaded page does not load back after saving: {e}"),
    }
}

/// A `.npy` file: the header, then the data under a 64 MiB limit; a file that reads must
/// have the header's shape and dtype.
///
/// # Panics
/// When reading panics, or the tensor disagrees with the header.
pub fn npy_file(data: &[u8]) {
    let scratch = scratch_file("x.npy", data);
    let path = scratch.path();
    let Ok(header) = crate::npy::read_header(path) else {
        return;
    };
    if let Ok(t) = crate::npy::read_npy(path, &MemoryLimit::bytes(64 << 20)) {
        assert_eq!(
            t.shape(),
            header.shape.as_slice(),
            "shape differs from the header"
        );
        assert_eq!(t.dtype(), header.dtype, "dtype differs from the header");
    }
}

/// A conformance file: parsing every case (nothing is run).
///
/// # Panics
/// When parsing panics.
pub fn conformance_file(data: &[u8]) {
    let scratch = scratch_file("cases.json", data);
    let path = scratch.path();
    if let Ok(cases) = crate::conformance::load_file(path) {
        for c in &cases {
            let _ = c.name();
        }
    }
}
