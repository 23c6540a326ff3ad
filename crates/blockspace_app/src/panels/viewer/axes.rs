//! Which axes the views span: the (up to three) spatial axes of a tensor, named from its layout,
//! and the planes between them.

/// The spatial axes of a tensor (increasing): the axes named D, H and W when the layout names
/// them; for an unnamed 5-D tensor TensorFlow's default `NDHWC` (axes 1, 2, 3); else the last
/// three axes longer than 1 (or simply the last three, or both axes of a matrix).
#[must_use]
pub fn spatial_axes(shape: &[usize], names: &[String]) -> Vec<usize> {
    let find = |n: &str| names.iter().position(|x| x == n);
    if let (Some(d), Some(h), Some(w)) = (find("D"), find("H"), find("W")) {
        let mut v = vec![d, h, w];
        v.sort_unstable();
        return v;
    }
    let rank = shape.len();
    if rank == 5 {
        return vec![1, 2, 3];
    }
    if rank <= 3 {
        return (0..rank).collect();
    }
    let long: Vec<usize> = (0..rank).filter(|&a| shape[a] > 1).collect();
    if long.len() >= 3 {
        long[long.len() - 3..].to_vec()
    } else {
        (rank - 3..rank).collect()
    }
}

/// The planes between spatial axes, as (row axis, column axis): D×H, D×W, H×W for three, the one
/// plane for two.
#[must_use]
pub fn planes(spatial: &[usize]) -> Vec<(usize, usize)> {
    match spatial {
        [a, b, c] => vec![(*a, *b), (*a, *c), (*b, *c)],
        [a, b] => vec![(*a, *b)],
        _ => Vec::new(),
    }
}

/// `[N=0, D=3, …]` for an index.
#[must_use]
pub fn index_text(idx: &[usize], names: &[String]) -> String {
    let parts: Vec<String> = idx
        .iter()
        .zip(names)
        .filter(|(_, n)| n.as_str() != "-" && n.as_str() != "row")
        .map(|(i, n)| format!("{n}={i}"))
        .collect();
    format!("[{}]", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(s: &str) -> Vec<String> {
        s.chars().map(|c| c.to_string()).collect()
    }

    #[test]
    fn spatial_axes_follow_the_layout() {
        assert_eq!(
            spatial_axes(&[1, 8, 9, 10, 3], &names("NDHWC")),
            vec![1, 2, 3]
        );
        assert_eq!(
            spatial_axes(&[1, 3, 8, 9, 10], &names("NCDHW")),
            vec![2, 3, 4]
        );
        assert_eq!(
            spatial_axes(&[3, 3, 3, 2, 4], &names("DHWIO")),
            vec![0, 1, 2]
        );
        assert_eq!(spatial_axes(&[1, 8, 9, 10, 3], &[]), vec![1, 2, 3]);
        assert_eq!(spatial_axes(&[4, 5], &[]), vec![0, 1]);
        assert_eq!(spatial_axes(&[2, 1, 5, 6, 7, 1], &[]), vec![2, 3, 4]);
        assert_eq!(planes(&[1, 2, 3]), vec![(1, 2), (1, 3), (2, 3)]);
        assert_eq!(
            index_text(&[0, 2], &["row".to_owned(), "x".to_owned()]),
            "[x=2]"
        );
    }
}
