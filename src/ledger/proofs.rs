//! Proofs from the stored Merkle hashes: inclusion and consistency (RFC 6962), and C2SP
//! tlog-proof receipts. Each reads only the O(log n) stored hashes it needs.

use super::handle::{Ledger, LedgerError, SignedCheckpoint};
use crate::core::merkle::{self, Hash, MerkleError};
use crate::core::proof::TlogProof;

/// A request the tree cannot answer is the caller's mistake; hashes that do not fit what was
/// asked for mean the stored data is damaged.
fn classify(e: MerkleError) -> LedgerError {
    match e {
        MerkleError::InvalidRequest(_) => LedgerError::InvalidRequest(e),
        other => LedgerError::Corrupt(other.to_string()),
    }
}

impl Ledger {
    /// Proofs are for trees a signed checkpoint has published.
    fn within_tree(&self, size: u64) -> Result<(), LedgerError> {
        if size > self.checkpoint().size {
            return Err(LedgerError::InvalidRequest(MerkleError::InvalidRequest(
                "the tree is not that large (yet)",
            )));
        }
        Ok(())
    }

    /// The inclusion proof of entry `index` in the tree of `size` entries.
    pub async fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, LedgerError> {
        self.within_tree(size)?;
        let idx = merkle::inclusion_indexes(index, size).map_err(classify)?;
        let hashes = self.inner.store.hashes(&idx).await?;
        merkle::inclusion_from_hashes(index, size, &hashes).map_err(classify)
    }

    /// The consistency proof from `old` to `new` entries.
    pub async fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, LedgerError> {
        self.within_tree(new)?;
        let idx = merkle::consistency_indexes(old, new).map_err(classify)?;
        let hashes = self.inner.store.hashes(&idx).await?;
        merkle::consistency_from_hashes(old, new, &hashes).map_err(classify)
    }

    /// A C2SP tlog-proof receipt for entry `index` against `checkpoint`.
    pub async fn receipt(
        &self,
        index: u64,
        checkpoint: &SignedCheckpoint,
    ) -> Result<TlogProof, LedgerError> {
        Ok(TlogProof {
            extra: None,
            index,
            hashes: self.inclusion_proof(index, checkpoint.size).await?,
            checkpoint: checkpoint.note.clone(),
        })
    }
}
