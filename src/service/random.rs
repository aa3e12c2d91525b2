//! Randomness for use cases: shuffling what the public ledger shows together, so that its order
//! says nothing.

use crate::service::{Error, Result};

/// Shuffles in place (Fisher–Yates) with the operating system's randomness.
pub(crate) fn shuffle<T>(items: &mut [T]) -> Result<()> {
    for i in (1..items.len()).rev() {
        let mut b = [0u8; 8];
        getrandom::fill(&mut b).map_err(|_| Error::bug("no randomness to shuffle with"))?;
        // The bias of a 64-bit modulo over at most a few hundred thousand items is negligible.
        let j = (u64::from_be_bytes(b) % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
    Ok(())
}

/// Packs groups (each kept whole) into as few bins of at most `max` items as hold them, as
/// evenly as possible, keeping their order within a bin: each group goes to the emptiest bin
/// with room. If some group fits nowhere, everything is packed again into one bin more, so that
/// no group is left alone in a bin of its own while others share (unless there is one group).
pub(crate) fn pack_evenly<T>(
    groups: Vec<T>,
    size: impl Fn(&T) -> usize,
    max: usize,
) -> Vec<Vec<T>> {
    let total: usize = groups.iter().map(&size).sum();
    let mut bins = total.div_ceil(max.max(1)).max(1);
    loop {
        let mut counts = vec![0usize; bins];
        let mut slots = Vec::with_capacity(groups.len());
        let mut spilled = false;
        for g in &groups {
            let n = size(g);
            match (0..bins)
                .filter(|&b| counts[b] + n <= max)
                .min_by_key(|&b| counts[b])
            {
                Some(b) => {
                    counts[b] += n;
                    slots.push(b);
                }
                None => {
                    spilled = true;
                    break;
                }
            }
        }
        // A group larger than a bin can never fit: give up spreading (cannot happen for
        // callers, whose groups hold at most `max` items).
        if spilled && bins < groups.len() {
            bins += 1;
            continue;
        }
        let mut out: Vec<Vec<T>> = (0..bins).map(|_| Vec::new()).collect();
        if spilled {
            for (i, g) in groups.into_iter().enumerate() {
                out[i % bins].push(g);
            }
        } else {
            for (g, b) in groups.into_iter().zip(slots) {
                out[b].push(g);
            }
        }
        out.retain(|b| !b.is_empty());
        return out;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_is_even_and_never_leaves_a_group_alone() {
        let sizes = |bins: &Vec<Vec<usize>>| -> Vec<usize> {
            bins.iter().map(|b| b.iter().sum()).collect()
        };
        // 261 legs in groups of 1, 2, 3: two bins, within one group of each other.
        let groups: Vec<usize> = (0..130).map(|n| 1 + n % 3).chain([2]).collect();
        let bins = pack_evenly(groups, |g| *g, 255);
        let s = sizes(&bins);
        assert_eq!(s.len(), 2);
        assert!(
            s.iter().max().unwrap() - s.iter().min().unwrap() <= 3,
            "{s:?}"
        );
        // 510 legs in groups of 3 (170 groups): two bins of 255 each would fit exactly, and
        // however they fill, no group ends up alone.
        let mut groups: Vec<usize> = vec![3; 169];
        groups.extend([1, 2]);
        let bins = pack_evenly(groups, |g| *g, 255);
        assert!(bins.iter().all(|b| b.len() > 1), "{:?}", sizes(&bins));
        assert!(sizes(&bins).iter().all(|s| *s <= 255));
        assert_eq!(sizes(&bins).iter().sum::<usize>(), 510);
        // One group: one bin.
        assert_eq!(pack_evenly(vec![3usize], |g| *g, 255).len(), 1);
        assert!(pack_evenly(Vec::<usize>::new(), |g| *g, 255).is_empty());
    }

    #[test]
    fn a_shuffle_keeps_every_item_and_moves_them() {
        let mut v: Vec<u32> = (0..1000).collect();
        shuffle(&mut v).unwrap();
        let mut sorted = v.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..1000).collect::<Vec<_>>());
        // A shuffle leaving 1000 items in order has probability 1/1000!.
        assert_ne!(v, sorted);
        let mut empty: Vec<u8> = Vec::new();
        shuffle(&mut empty).unwrap();
    }
}
