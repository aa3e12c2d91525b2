//! RFC 6962 / RFC 9162 Merkle tree with the "stored hash" layout of Go's `sumdb/tlog`.
//!
//! Every hash of a *complete* subtree is stored once, at a fixed position (Crosby–Wallach
//! post-order numbering): appending record `n` stores `1 + trailing_ones(n)` hashes and needs only
//! the hashes of the current right edge of the tree (the [`Frontier`]). Proofs are produced in two
//! steps so that this module stays free of I/O: first ask which stored hashes are needed
//! (`*_indexes`), read those from storage, then build the proof from them (`*_from_hashes`).
//! Both steps touch O(log n) hashes.

use sha2::{Digest, Sha256};

pub use super::hash::Hash;

/// `SHA-256("")`, the root of the empty tree (RFC 6962 §2.1).
pub fn empty_root() -> Hash {
    Hash::of(&[])
}

/// Leaf hash: `SHA-256(0x00 || entry)`.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(entry);
    Hash(h.finalize().into())
}

/// Interior node hash: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left.as_bytes());
    h.update(right.as_bytes());
    Hash(h.finalize().into())
}

/// Errors from proof construction and verification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MerkleError {
    /// The requested index or sizes do not describe a valid proof.
    #[error("invalid proof request: {0}")]
    InvalidRequest(&'static str),
    /// Storage returned a different number of hashes than were asked for.
    #[error("expected {expected} stored hashes, got {got}")]
    WrongHashCount {
        /// How many were needed.
        expected: usize,
        /// How many were supplied.
        got: usize,
    },
    /// The proof does not verify.
    #[error("proof does not verify")]
    ProofFailed,
}

/// Largest power of two strictly less than `n` (n ≥ 2), and its log₂.
fn maxpow2(n: u64) -> (u64, u32) {
    debug_assert!(n >= 2);
    let l = 63 - (n - 1).leading_zeros();
    (1u64 << l, l)
}

/// Position in storage of the hash of the `n`-th complete subtree at `level`
/// (level 0 = leaves). Level L's n'th hash is stored right after level L+1's (2n+1)'th.
pub fn stored_hash_index(level: u32, n: u64) -> u64 {
    let mut n = n;
    for _ in 0..level {
        n = 2 * n + 1;
    }
    let mut i = 0u64;
    let mut m = n;
    while m > 0 {
        i += m;
        m >>= 1;
    }
    i + u64::from(level)
}

/// Inverse of [`stored_hash_index`]: which `(level, n)` a stored position holds.
pub fn split_stored_hash_index(index: u64) -> (u32, u64) {
    // stored_hash_index(0, n) < 2n, so the record that wrote `index` is in [index/2, index/2 + log].
    let mut n = index / 2;
    let mut index_n = stored_hash_index(0, n);
    debug_assert!(index_n <= index);
    loop {
        // Record n+1 starts after record n's 1 + trailing_zeros(n+1) hashes.
        let x = index_n + 1 + u64::from((n + 1).trailing_zeros());
        if x > index {
            break;
        }
        n += 1;
        index_n = x;
    }
    let level = (index - index_n) as u32;
    (level, n >> level)
}

/// The record (leaf index) whose append wrote the stored hash at `index`.
pub fn record_of_stored_index(index: u64) -> u64 {
    let (level, n) = split_stored_hash_index(index);
    // The subtree (level, n) is completed by its last leaf.
    ((n + 1) << level) - 1
}

/// Number of stored hashes in a tree of `size` records.
pub fn stored_hash_count(size: u64) -> u64 {
    if size == 0 {
        return 0;
    }
    let mut count = stored_hash_index(0, size - 1) + 1;
    let mut i = size - 1;
    while i & 1 != 0 {
        count += 1;
        i >>= 1;
    }
    count
}

/// The right edge of a tree: the roots of its maximal complete subtrees, largest first.
///
/// This is all the state needed to append and to compute the root; it holds at most
/// ⌈log₂ n⌉ hashes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Frontier {
    size: u64,
    /// `(level, hash)`, strictly decreasing levels, matching the set bits of `size`.
    nodes: Vec<(u32, Hash)>,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of records in the tree.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Stored positions of the hashes that make up the frontier of a tree of `size`.
    pub fn indexes(size: u64) -> Vec<u64> {
        subtree_indexes(0, size, Vec::new())
    }

    /// Rebuilds the frontier of a tree of `size` from the hashes at [`Frontier::indexes`].
    pub fn from_hashes(size: u64, hashes: &[Hash]) -> Result<Self, MerkleError> {
        let idx = Self::indexes(size);
        if idx.len() != hashes.len() {
            return Err(MerkleError::WrongHashCount {
                expected: idx.len(),
                got: hashes.len(),
            });
        }
        let nodes = idx
            .iter()
            .zip(hashes)
            .map(|(i, h)| (split_stored_hash_index(*i).0, *h))
            .collect();
        Ok(Self { size, nodes })
    }

    /// Appends a record by its leaf hash. Returns the hashes to store, in storage order,
    /// starting at position `stored_hash_count(old size)`.
    pub fn append(&mut self, leaf: Hash) -> Vec<Hash> {
        let mut out = vec![leaf];
        let mut h = leaf;
        let mut level = 0u32;
        while let Some(&(l, left)) = self.nodes.last() {
            if l != level {
                break;
            }
            self.nodes.pop();
            h = node_hash(&left, &h);
            level += 1;
            out.push(h);
        }
        self.nodes.push((level, h));
        self.size += 1;
        out
    }

    /// The RFC 6962 root hash of the tree.
    pub fn root(&self) -> Hash {
        let mut it = self.nodes.iter().rev();
        match it.next() {
            None => empty_root(),
            Some(&(_, first)) => it.fold(first, |acc, (_, left)| node_hash(left, &acc)),
        }
    }
}

/// Appends to `need` the stored positions of the complete subtrees covering `[lo, hi)`,
/// largest first. `lo` must be aligned to the first subtree's size.
fn subtree_indexes(mut lo: u64, hi: u64, mut need: Vec<u64>) -> Vec<u64> {
    while lo < hi {
        let (k, level) = maxpow2(hi - lo + 1);
        debug_assert_eq!(lo & (k - 1), 0);
        need.push(stored_hash_index(level, lo >> level));
        lo += k;
    }
    need
}

/// Stored hashes being consumed by a proof, front first. Proofs are built from exactly the
/// hashes their `*_indexes` function asked for: running short or leaving some over means the
/// caller passed the wrong hashes, and is an error, never a panic or a silent drop (Go's tlog
/// treats it the same way).
struct Cursor<'a> {
    rest: &'a [Hash],
    total: usize,
}

impl<'a> Cursor<'a> {
    fn new(hashes: &'a [Hash]) -> Self {
        Self {
            rest: hashes,
            total: hashes.len(),
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [Hash], MerkleError> {
        if self.rest.len() < n {
            return Err(MerkleError::WrongHashCount {
                expected: self.total - self.rest.len() + n,
                got: self.total,
            });
        }
        let (taken, rest) = self.rest.split_at(n);
        self.rest = rest;
        Ok(taken)
    }

    /// Every hash must have been used.
    fn finish<T>(self, value: T) -> Result<T, MerkleError> {
        if self.rest.is_empty() {
            Ok(value)
        } else {
            Err(MerkleError::WrongHashCount {
                expected: self.total - self.rest.len(),
                got: self.total,
            })
        }
    }
}

/// Hash of `[lo, hi)` from the hashes of its complete subtrees (as listed by
/// [`subtree_indexes`]), taken from the front of `hashes`.
fn subtree_hash(mut lo: u64, hi: u64, hashes: &mut Cursor<'_>) -> Result<Hash, MerkleError> {
    let mut count = 0usize;
    while lo < hi {
        let (k, _) = maxpow2(hi - lo + 1);
        lo += k;
        count += 1;
    }
    let parts = hashes.take(count)?;
    let (last, before) = parts
        .split_last()
        .ok_or(MerkleError::InvalidRequest("empty subtree"))?;
    Ok(before
        .iter()
        .rev()
        .fold(*last, |acc, left| node_hash(left, &acc)))
}

/// Stored positions needed for the root of a tree of `size` records.
pub fn root_indexes(size: u64) -> Vec<u64> {
    Frontier::indexes(size)
}

/// The root of a tree of `size` from the hashes at [`root_indexes`].
pub fn root_from_hashes(size: u64, hashes: &[Hash]) -> Result<Hash, MerkleError> {
    Ok(Frontier::from_hashes(size, hashes)?.root())
}

/// Stored positions needed for the inclusion proof of record `index` in a tree of `size`.
pub fn inclusion_indexes(index: u64, size: u64) -> Result<Vec<u64>, MerkleError> {
    if index >= size {
        return Err(MerkleError::InvalidRequest(
            "index must be below the tree size",
        ));
    }
    Ok(leaf_proof_indexes(0, size, index, Vec::new()))
}

fn leaf_proof_indexes(lo: u64, hi: u64, n: u64, need: Vec<u64>) -> Vec<u64> {
    if lo + 1 == hi {
        return need;
    }
    let (k, _) = maxpow2(hi - lo);
    if n < lo + k {
        let need = leaf_proof_indexes(lo, lo + k, n, need);
        subtree_indexes(lo + k, hi, need)
    } else {
        let need = subtree_indexes(lo, lo + k, need);
        leaf_proof_indexes(lo + k, hi, n, need)
    }
}

/// The RFC 6962 audit path for record `index` in a tree of `size`, leaf sibling first, from
/// exactly the hashes at [`inclusion_indexes`].
pub fn inclusion_from_hashes(
    index: u64,
    size: u64,
    hashes: &[Hash],
) -> Result<Vec<Hash>, MerkleError> {
    if index >= size {
        return Err(MerkleError::InvalidRequest(
            "index must be below the tree size",
        ));
    }
    let mut cursor = Cursor::new(hashes);
    let proof = leaf_proof(0, size, index, &mut cursor)?;
    cursor.finish(proof)
}

fn leaf_proof(lo: u64, hi: u64, n: u64, hashes: &mut Cursor<'_>) -> Result<Vec<Hash>, MerkleError> {
    if lo + 1 == hi {
        return Ok(Vec::new());
    }
    let (k, _) = maxpow2(hi - lo);
    let (mut p, th) = if n < lo + k {
        let p = leaf_proof(lo, lo + k, n, hashes)?;
        (p, subtree_hash(lo + k, hi, hashes)?)
    } else {
        let th = subtree_hash(lo, lo + k, hashes)?;
        (leaf_proof(lo + k, hi, n, hashes)?, th)
    };
    p.push(th);
    Ok(p)
}

/// Stored positions needed for a consistency proof from `old` to `new` records.
pub fn consistency_indexes(old: u64, new: u64) -> Result<Vec<u64>, MerkleError> {
    if old > new {
        return Err(MerkleError::InvalidRequest(
            "old size must not exceed new size",
        ));
    }
    if old == 0 || old == new {
        return Ok(Vec::new());
    }
    Ok(tree_proof_indexes(0, new, old, Vec::new()))
}

fn tree_proof_indexes(lo: u64, hi: u64, n: u64, need: Vec<u64>) -> Vec<u64> {
    if n == hi {
        if lo == 0 {
            return need;
        }
        return subtree_indexes(lo, hi, need);
    }
    let (k, _) = maxpow2(hi - lo);
    if n <= lo + k {
        let need = tree_proof_indexes(lo, lo + k, n, need);
        subtree_indexes(lo + k, hi, need)
    } else {
        let need = subtree_indexes(lo, lo + k, need);
        tree_proof_indexes(lo + k, hi, n, need)
    }
}

/// The RFC 6962 consistency proof (SUBPROOF) that the tree of `old` records is a prefix of
/// the tree of `new` records, from exactly the hashes at [`consistency_indexes`]. Empty when
/// `old` is 0 or equal to `new`.
pub fn consistency_from_hashes(
    old: u64,
    new: u64,
    hashes: &[Hash],
) -> Result<Vec<Hash>, MerkleError> {
    if old > new {
        return Err(MerkleError::InvalidRequest(
            "old size must not exceed new size",
        ));
    }
    let mut cursor = Cursor::new(hashes);
    if old == 0 || old == new {
        return cursor.finish(Vec::new());
    }
    let proof = tree_proof(0, new, old, &mut cursor)?;
    cursor.finish(proof)
}

fn tree_proof(lo: u64, hi: u64, n: u64, hashes: &mut Cursor<'_>) -> Result<Vec<Hash>, MerkleError> {
    if n == hi {
        if lo == 0 {
            return Ok(Vec::new());
        }
        return Ok(vec![subtree_hash(lo, hi, hashes)?]);
    }
    let (k, _) = maxpow2(hi - lo);
    let (mut p, th) = if n <= lo + k {
        let p = tree_proof(lo, lo + k, n, hashes)?;
        (p, subtree_hash(lo + k, hi, hashes)?)
    } else {
        let th = subtree_hash(lo, lo + k, hashes)?;
        (tree_proof(lo + k, hi, n, hashes)?, th)
    };
    p.push(th);
    Ok(p)
}

/// Verifies an inclusion proof (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), MerkleError> {
    if index >= size {
        return Err(MerkleError::ProofFailed);
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if sn == 0 {
            return Err(MerkleError::ProofFailed);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn == 0 && r == *root {
        Ok(())
    } else {
        Err(MerkleError::ProofFailed)
    }
}

/// Verifies a consistency proof between two tree heads (RFC 9162 §2.1.4.2).
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), MerkleError> {
    let fail = Err(MerkleError::ProofFailed);
    if old > new {
        return fail;
    }
    if old == new {
        return if proof.is_empty() && old_root == new_root {
            Ok(())
        } else {
            fail
        };
    }
    if old == 0 {
        return if proof.is_empty() { Ok(()) } else { fail };
    }
    if proof.is_empty() {
        return fail;
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let (mut fn_, mut sn) = (old - 1, new - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if sn == 0 {
            return fail;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if fr == *old_root && sr == *new_root && sn == 0 {
        Ok(())
    } else {
        fail
    }
}

/// The root over a list of leaf hashes, computed recursively from the definition.
/// Used by audits and tests as an independent check of the incremental structure.
pub fn root_of_leaves(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let (k, _) = maxpow2(n as u64);
            let k = k as usize;
            node_hash(&root_of_leaves(&leaves[..k]), &root_of_leaves(&leaves[k..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// An in-memory stored-hash table that counts how many hashes are read.
    #[derive(Default)]
    struct Store {
        hashes: Vec<Hash>,
        frontier: Frontier,
        reads: Cell<usize>,
    }

    impl Store {
        fn append(&mut self, data: &[u8]) {
            assert_eq!(
                self.hashes.len() as u64,
                stored_hash_count(self.frontier.size())
            );
            let new = self.frontier.append(leaf_hash(data));
            self.hashes.extend(new);
        }
        fn read(&self, idx: &[u64]) -> Vec<Hash> {
            self.reads.set(self.reads.get() + idx.len());
            idx.iter().map(|i| self.hashes[*i as usize]).collect()
        }
        fn root(&self, size: u64) -> Hash {
            root_from_hashes(size, &self.read(&root_indexes(size))).unwrap()
        }
        fn inclusion(&self, i: u64, size: u64) -> Vec<Hash> {
            let idx = inclusion_indexes(i, size).unwrap();
            inclusion_from_hashes(i, size, &self.read(&idx)).unwrap()
        }
        fn consistency(&self, a: u64, b: u64) -> Vec<Hash> {
            let idx = consistency_indexes(a, b).unwrap();
            consistency_from_hashes(a, b, &self.read(&idx)).unwrap()
        }
    }

    fn data(i: u64) -> Vec<u8> {
        format!("entry {i}").into_bytes()
    }

    #[test]
    fn a_proof_built_from_too_many_or_too_few_hashes_is_an_error() {
        let mut s = Store::default();
        for i in 0..13 {
            s.append(&data(i));
        }
        for (i, size) in [(0, 13), (5, 13), (12, 13), (3, 8)] {
            let mut hashes = s.read(&inclusion_indexes(i, size).unwrap());
            // The proof builder itself, not only a count check in front of it, refuses a
            // hash it would otherwise leave unused.
            hashes.push(leaf_hash(b"left over"));
            let mut cursor = Cursor::new(&hashes);
            let built = leaf_proof(0, size, i, &mut cursor).unwrap();
            assert!(matches!(
                cursor.finish(built),
                Err(MerkleError::WrongHashCount { .. })
            ));
            assert!(inclusion_from_hashes(i, size, &hashes).is_err());
            hashes.truncate(hashes.len() - 2);
            assert!(inclusion_from_hashes(i, size, &hashes).is_err(), "no panic");
        }
        for (a, b) in [(3, 13), (4, 8), (7, 13)] {
            let mut hashes = s.read(&consistency_indexes(a, b).unwrap());
            hashes.push(leaf_hash(b"left over"));
            assert!(consistency_from_hashes(a, b, &hashes).is_err());
            hashes.truncate(hashes.len() - 2);
            assert!(consistency_from_hashes(a, b, &hashes).is_err(), "no panic");
        }
        assert!(consistency_from_hashes(5, 5, &[leaf_hash(b"x")]).is_err());
    }

    #[test]
    fn empty_tree_root_is_sha256_of_nothing() {
        let b64 = empty_root().to_base64();
        assert_eq!(b64, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
        assert_eq!(Frontier::new().root(), empty_root());
    }

    #[test]
    fn stored_hash_index_round_trips_and_counts_match() {
        for idx in 0..5000u64 {
            let (level, n) = split_stored_hash_index(idx);
            assert_eq!(stored_hash_index(level, n), idx);
        }
        // 1 + trailing_ones per record, as in the Go layout: 1,994 hashes for 1,000 leaves.
        assert_eq!(stored_hash_count(1000), 1994);
        let mut s = Store::default();
        for i in 0..300 {
            s.append(&data(i));
            assert_eq!(s.hashes.len() as u64, stored_hash_count(i + 1));
        }
    }

    #[test]
    fn stored_hashes_remember_which_record_wrote_them() {
        let mut s = Store::default();
        let mut owner = Vec::new();
        for i in 0..200u64 {
            let before = s.hashes.len();
            s.append(&data(i));
            owner.extend(std::iter::repeat_n(i, s.hashes.len() - before));
        }
        for (idx, rec) in owner.iter().enumerate() {
            assert_eq!(
                record_of_stored_index(idx as u64),
                *rec,
                "stored index {idx}"
            );
        }
    }

    #[test]
    fn roots_match_the_recursive_definition() {
        let mut s = Store::default();
        let mut leaves = Vec::new();
        for i in 0..260u64 {
            s.append(&data(i));
            leaves.push(leaf_hash(&data(i)));
            assert_eq!(s.root(i + 1), root_of_leaves(&leaves));
            assert_eq!(s.frontier.root(), root_of_leaves(&leaves));
            // Roots of every earlier size are still reachable from the same storage.
            let old = i / 2 + 1;
            assert_eq!(s.root(old), root_of_leaves(&leaves[..old as usize]));
        }
    }

    #[test]
    fn frontier_is_rebuilt_from_storage() {
        let mut s = Store::default();
        for i in 0..100u64 {
            s.append(&data(i));
            let size = i + 1;
            let f = Frontier::from_hashes(size, &s.read(&Frontier::indexes(size))).unwrap();
            assert_eq!(f, s.frontier);
        }
    }

    #[test]
    fn inclusion_and_consistency_proofs_verify_and_reject_tampering() {
        let mut s = Store::default();
        for i in 0..70u64 {
            s.append(&data(i));
        }
        for size in 1..=70u64 {
            let root = s.root(size);
            for i in 0..size {
                let p = s.inclusion(i, size);
                let leaf = leaf_hash(&data(i));
                verify_inclusion(i, size, &leaf, &p, &root).unwrap();
                let wrong = leaf_hash(b"forged");
                assert!(verify_inclusion(i, size, &wrong, &p, &root).is_err());
                if let Some(first) = p.first() {
                    let mut bad = p.clone();
                    bad[0][0] ^= 1;
                    assert!(verify_inclusion(i, size, &leaf, &bad, &root).is_err());
                    assert_ne!(first, &bad[0]);
                }
            }
            for old in 0..=size {
                let p = s.consistency(old, size);
                let old_root = s.root(old);
                verify_consistency(old, size, &old_root, &root, &p).unwrap();
                if old > 0 && old < size {
                    let mut bad = p.clone();
                    bad[0][5] ^= 0x80;
                    assert!(verify_consistency(old, size, &old_root, &root, &bad).is_err());
                    let other = leaf_hash(b"other");
                    assert!(verify_consistency(old, size, &other, &root, &p).is_err());
                }
            }
        }
    }

    #[test]
    fn appending_and_proving_read_logarithmically_many_hashes() {
        let mut s = Store::default();
        let n = 1u64 << 14;
        for i in 0..n {
            s.append(&data(i));
        }
        // Appending needs only the frontier, which is at most log2(n)+1 hashes.
        for size in [n - 1, n, n + 1] {
            assert!(Frontier::indexes(size).len() <= 15);
        }
        for size in [n / 3, n / 2 + 1, n - 1, n] {
            for i in [0, size / 2, size - 1] {
                s.reads.set(0);
                let _ = s.inclusion(i, size);
                assert!(
                    s.reads.get() <= 2 * 14 + 2,
                    "inclusion read {} hashes",
                    s.reads.get()
                );
            }
            s.reads.set(0);
            let _ = s.consistency(size / 3 + 1, size);
            assert!(
                s.reads.get() <= 2 * 14 + 2,
                "consistency read {} hashes",
                s.reads.get()
            );
            s.reads.set(0);
            let _ = s.root(size);
            assert!(s.reads.get() <= 15);
        }
    }

    #[test]
    fn wrong_hash_counts_and_bad_requests_are_errors() {
        assert!(inclusion_indexes(5, 5).is_err());
        assert!(consistency_indexes(6, 5).is_err());
        assert!(inclusion_from_hashes(0, 4, &[]).is_err());
        assert!(Frontier::from_hashes(3, &[Hash([0; 32])]).is_err());
    }
}
