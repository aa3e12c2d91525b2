//! Our stored-hash Merkle tree against an independent RFC 6962 implementation (`ct-merkle`),
//! for every tree size from 1 to 1000: roots, every inclusion proof and every consistency proof
//! agree byte for byte and verify in both implementations.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failing test

use ct_merkle::mem_backed_tree::MemoryBackedTree;
use ct_merkle::{ConsistencyProof, InclusionProof, RootHash};
use kindpakket::core::merkle::{self, Frontier, Hash};
use sha2::Sha256;

const MAX: u64 = 1000;

struct Ours {
    stored: Vec<Hash>,
    frontier: Frontier,
}

impl Ours {
    fn read(&self, idx: &[u64]) -> Vec<Hash> {
        idx.iter().map(|i| self.stored[*i as usize]).collect()
    }
}

fn leaf(i: u64) -> Vec<u8> {
    format!("kindpakket entry {i}").into_bytes()
}

fn to_hashes(bytes: &[u8]) -> Vec<Hash> {
    bytes.chunks(32).map(|c| c.try_into().unwrap()).collect()
}

#[test]
fn proofs_agree_with_ct_merkle_for_every_size_up_to_1000() {
    let mut theirs = MemoryBackedTree::<Sha256, Vec<u8>>::new();
    let mut ours = Ours {
        stored: Vec::new(),
        frontier: Frontier::new(),
    };
    let mut roots: Vec<Hash> = vec![merkle::empty_root()];
    let (mut inclusions, mut consistencies) = (0u64, 0u64);
    for n in 1..=MAX {
        theirs.push(leaf(n - 1));
        let new = ours.frontier.append(merkle::leaf_hash(&leaf(n - 1)));
        ours.stored.extend(new);
        let their_root = theirs.root();
        let root = merkle::root_from_hashes(n, &ours.read(&merkle::root_indexes(n))).unwrap();
        assert_eq!(&root[..], &their_root.as_bytes()[..], "root at size {n}");
        assert_eq!(ours.frontier.root(), root);
        roots.push(root);

        for i in 0..n {
            let p = merkle::inclusion_from_hashes(
                i,
                n,
                &ours.read(&merkle::inclusion_indexes(i, n).unwrap()),
            )
            .unwrap();
            let tp = theirs.prove_inclusion(i as usize);
            assert_eq!(p, to_hashes(tp.as_bytes()), "inclusion proof of {i} in {n}");
            merkle::verify_inclusion(
                i,
                n,
                &merkle::leaf_hash(&leaf(i)),
                &to_hashes(tp.as_bytes()),
                &root,
            )
            .unwrap();
            let ours_as_theirs =
                InclusionProof::<Sha256>::from_digests(p.iter().map(|h| h.as_bytes().into()));
            their_root
                .verify_inclusion(&leaf(i), i, &ours_as_theirs)
                .unwrap();
            inclusions += 1;
        }
        for m in 1..n {
            let p = merkle::consistency_from_hashes(
                m,
                n,
                &ours.read(&merkle::consistency_indexes(m, n).unwrap()),
            )
            .unwrap();
            let tp = theirs.prove_consistency((n - m) as usize);
            assert_eq!(p, to_hashes(tp.as_bytes()), "consistency proof {m} -> {n}");
            merkle::verify_consistency(m, n, &roots[m as usize], &root, &p).unwrap();
            let old = RootHash::<Sha256>::new(roots[m as usize].0.into(), m);
            let ours_as_theirs =
                ConsistencyProof::<Sha256>::from_digests(p.iter().map(|h| h.as_bytes().into()));
            their_root
                .verify_consistency(&old, &ours_as_theirs)
                .unwrap();
            consistencies += 1;
        }
    }
    assert_eq!(inclusions, MAX * (MAX + 1) / 2);
    assert_eq!(consistencies, MAX * (MAX - 1) / 2);
}
