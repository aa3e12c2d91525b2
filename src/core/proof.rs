//! C2SP `tlog-proof` receipts: an entry index, its inclusion proof and a signed checkpoint,
//! verifiable offline with only the log's verifier key.
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! [extra <base64>]
//! index <decimal>
//! <base64 proof hash>...
//!
//! <checkpoint note>
//! ```

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use super::merkle::{self, Hash};
use super::note::{Checkpoint, NoteError, Vkey};

const HEADER: &str = "c2sp.org/tlog-proof@v1";
/// Longest inclusion proof a tree of 2⁶³ entries can need.
const MAX_PROOF_HASHES: usize = 63;

/// Why a receipt was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The text is not a tlog-proof.
    #[error("malformed tlog-proof: {0}")]
    Malformed(&'static str),
    /// The embedded checkpoint did not verify.
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] NoteError),
    /// The checkpoint is for another log.
    #[error("checkpoint origin {0:?} is not the expected log")]
    WrongOrigin(String),
    /// The inclusion proof does not lead to the checkpoint's root.
    #[error("inclusion proof does not verify against the checkpoint")]
    Inclusion,
}

/// A parsed receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogProof {
    /// Optional opaque, unauthenticated extra data.
    pub extra: Option<Vec<u8>>,
    /// Index of the entry in the log.
    pub index: u64,
    /// Inclusion proof hashes, leaf sibling first.
    pub hashes: Vec<Hash>,
    /// The signed checkpoint note, verbatim.
    pub checkpoint: String,
}

impl TlogProof {
    /// Formats the receipt.
    pub fn encode(&self) -> String {
        let mut s = String::new();
        s.push_str(HEADER);
        s.push('\n');
        if let Some(extra) = &self.extra {
            s.push_str("extra ");
            s.push_str(&B64.encode(extra));
            s.push('\n');
        }
        s.push_str(&format!("index {}\n", self.index));
        for h in &self.hashes {
            s.push_str(&h.to_base64());
            s.push('\n');
        }
        s.push('\n');
        s.push_str(&self.checkpoint);
        s
    }

    /// Parses a receipt strictly (one valid text form).
    pub fn parse(text: &str) -> Result<Self, ProofError> {
        let rest = text
            .strip_prefix(HEADER)
            .and_then(|r| r.strip_prefix('\n'))
            .ok_or(ProofError::Malformed("missing header line"))?;
        let (mut line, mut rest) = next_line(rest)?;
        let mut extra = None;
        if let Some(b64) = line.strip_prefix("extra ") {
            extra = Some(
                B64.decode(b64)
                    .map_err(|_| ProofError::Malformed("extra is not base64"))?,
            );
            (line, rest) = next_line(rest)?;
        }
        let idx = line
            .strip_prefix("index ")
            .ok_or(ProofError::Malformed("missing index line"))?;
        if idx.is_empty()
            || !idx.bytes().all(|b| b.is_ascii_digit())
            || (idx.len() > 1 && idx.starts_with('0'))
        {
            return Err(ProofError::Malformed("index is not a canonical decimal"));
        }
        let index = idx
            .parse()
            .map_err(|_| ProofError::Malformed("index out of range"))?;
        let mut hashes = Vec::new();
        loop {
            let (line, r) = next_line(rest)?;
            rest = r;
            if line.is_empty() {
                break;
            }
            if hashes.len() == MAX_PROOF_HASHES {
                return Err(ProofError::Malformed("too many proof hashes"));
            }
            hashes.push(Hash::from_base64(line).ok_or(ProofError::Malformed(
                "proof hash is not 32 bytes of base64",
            ))?);
        }
        if rest.is_empty() {
            return Err(ProofError::Malformed("missing checkpoint"));
        }
        Ok(Self {
            extra,
            index,
            hashes,
            checkpoint: rest.to_owned(),
        })
    }

    /// Verifies the receipt for an entry with the given leaf hash: the checkpoint must be signed
    /// by one of `keys`, carry `origin`, and the proof must lead from the leaf to its root.
    pub fn verify(
        &self,
        origin: &str,
        keys: &[Vkey],
        leaf: &Hash,
    ) -> Result<Checkpoint, ProofError> {
        let (cp, _) = Checkpoint::verify(&self.checkpoint, keys)?;
        if cp.origin != origin {
            return Err(ProofError::WrongOrigin(cp.origin));
        }
        merkle::verify_inclusion(self.index, cp.size, leaf, &self.hashes, &cp.root)
            .map_err(|_| ProofError::Inclusion)?;
        Ok(cp)
    }
}

fn next_line(s: &str) -> Result<(&str, &str), ProofError> {
    s.split_once('\n')
        .ok_or(ProofError::Malformed("unexpected end of text"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::merkle::{Frontier, leaf_hash};
    use crate::core::note::NoteSigner;
    use ed25519_dalek::SigningKey;

    #[test]
    fn receipt_round_trips_and_verifies() {
        let key = SigningKey::from_bytes(&[9; 32]);
        let origin = "kindpakket.example/test";
        let vkey = Vkey::new(origin, key.verifying_key()).unwrap();
        let leaves: Vec<Hash> = (0..5u8).map(|i| leaf_hash(&[i])).collect();
        let mut f = Frontier::new();
        for l in &leaves {
            f.append(*l);
        }
        let cp = Checkpoint {
            origin: origin.into(),
            size: 5,
            root: f.root(),
        };
        let note = cp
            .sign(&[NoteSigner {
                name: origin,
                key: &key,
            }])
            .unwrap();
        // Proof for index 3 in a tree of 5: sibling leaf 2, then the root of [0,2), then leaf 4.
        let n01 = merkle::node_hash(&leaves[0], &leaves[1]);
        let p = TlogProof {
            extra: Some(b"hi".to_vec()),
            index: 3,
            hashes: vec![leaves[2], n01, leaves[4]],
            checkpoint: note,
        };
        let text = p.encode();
        let parsed = TlogProof::parse(&text).unwrap();
        assert_eq!(parsed, p);
        assert_eq!(
            parsed
                .verify(origin, std::slice::from_ref(&vkey), &leaves[3])
                .unwrap(),
            cp
        );
        assert_eq!(
            parsed
                .verify(origin, std::slice::from_ref(&vkey), &leaves[2])
                .unwrap_err(),
            ProofError::Inclusion
        );
        assert!(matches!(
            parsed.verify("other", &[vkey], &leaves[3]).unwrap_err(),
            ProofError::WrongOrigin(_)
        ));
        assert!(TlogProof::parse(&text.replace("index 3", "index 03")).is_err());
        assert!(TlogProof::parse(&text.replace(HEADER, "c2sp.org/tlog-proof@v2")).is_err());
    }
}
