//! The nested-loop join: with no equality keys every (build, probe) pair is a candidate.
//! The build side is buffered like a hash join's; each probe batch is crossed with it in
//! chunks of at most `batch_size` pairs, which then go through the same residual filter and
//! match bookkeeping as hash join pairs.

use super::table::{Cursor, END};

/// Appends the pairs of every build row with each probe row (probe-major), starting at
/// `cur`, until `limit` pairs are held; returns whether every probe row is done.
pub(super) fn expand_cross(
    num_build: usize,
    num_probe: usize,
    cur: &mut Cursor,
    limit: usize,
    build_idx: &mut Vec<u32>,
    probe_idx: &mut Vec<u32>,
) -> bool {
    if num_build == 0 {
        cur.row = num_probe;
        return true;
    }
    while cur.row < num_probe {
        let start = if cur.chain == END { 0 } else { cur.chain as usize };
        let room = limit.saturating_sub(build_idx.len());
        if room == 0 {
            cur.chain = start as u32;
            return false;
        }
        let end = num_build.min(start + room);
        build_idx.extend(start as u32..end as u32);
        probe_idx.extend(std::iter::repeat_n(cur.row as u32, end - start));
        if end < num_build {
            cur.chain = end as u32;
            return false;
        }
        cur.row += 1;
        cur.chain = END;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cross_pairs_in_chunks() {
        let mut cur = Cursor::default();
        let mut all = vec![];
        loop {
            let (mut b, mut p) = (vec![], vec![]);
            let done = expand_cross(3, 2, &mut cur, 4, &mut b, &mut p);
            assert!(b.len() <= 4);
            all.extend(b.into_iter().zip(p));
            if done {
                break;
            }
        }
        assert_eq!(all, vec![(0, 0), (1, 0), (2, 0), (0, 1), (1, 1), (2, 1)]);
    }

    #[test]
    fn cross_with_empty_sides() {
        let mut cur = Cursor::default();
        let (mut b, mut p) = (vec![], vec![]);
        assert!(expand_cross(0, 5, &mut cur, 4, &mut b, &mut p));
        assert!(b.is_empty());
        let mut cur = Cursor::default();
        assert!(expand_cross(5, 0, &mut cur, 4, &mut b, &mut p));
        assert!(b.is_empty() && p.is_empty());
    }
}
