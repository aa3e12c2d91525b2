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

#[cfg(test)]
mod tests {
    use super::*;

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
