//! Splitting a run of channels (or any columns) into SIMD tile blocks, shared by the kernels.

/// A block of consecutive columns handled by one tile column of the microkernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ChannelBlock {
    /// First column.
    pub(crate) c0: usize,
    /// Columns in the block (`≤ nv·lanes`).
    pub(crate) len: usize,
    /// Vectors per tile row.
    pub(crate) nv: usize,
    /// Offset of this block's panels in a packed buffer of `panel_rows` rows per block
    /// (see [`split_blocks`]).
    pub(crate) panel: usize,
}

/// Splits `len` columns into the fewest balanced blocks of at most `nv_max` vectors of
/// `lanes` lanes (vector counts differ by at most one; only the last block has a partial
/// vector). Block `b`'s panels start `panel_rows · nv·lanes` elements after block `b - 1`'s.
pub(crate) fn split_blocks(
    len: usize,
    lanes: usize,
    nv_max: usize,
    panel_rows: usize,
) -> Vec<ChannelBlock> {
    let nvec = len.div_ceil(lanes.max(1));
    let nblocks = nvec.div_ceil(nv_max.max(1));
    let mut blocks = Vec::with_capacity(nblocks);
    let (mut v0, mut panel) = (0, 0);
    for b in 0..nblocks {
        let nv = nvec / nblocks + usize::from(b < nvec % nblocks);
        let c0 = v0 * lanes;
        blocks.push(ChannelBlock {
            c0,
            len: (len - c0).min(nv * lanes),
            nv,
            panel,
        });
        panel += panel_rows * nv * lanes;
        v0 += nv;
    }
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_balanced_and_cover_every_column() {
        let b = split_blocks(216, 16, 4, 3);
        assert_eq!(
            b.iter().map(|b| b.nv).collect::<Vec<_>>(),
            [4, 4, 3, 3],
            "14 vectors in 4 blocks"
        );
        assert_eq!(b.iter().map(|b| b.len).sum::<usize>(), 216);
        assert_eq!(b[1].c0, 64);
        assert_eq!(b[1].panel, 3 * 64);
        assert_eq!(b[3].len, 216 - 176, "last block holds the tail");
        assert!(
            split_blocks(0, 16, 4, 1).is_empty(),
            "no columns, no blocks"
        );
    }
}
