//! The public view of the ledger, for anyone and without a log-in: the latest signed
//! checkpoint, the verifier keys, entries, inclusion and consistency proofs, and the
//! voucher-signing keys.

use crate::core::entry::{KeyPurpose, SignedEntry};
use crate::core::hash::hex;
use crate::core::merkle::Hash;
use crate::core::note::Vkey;

use super::error::{Invalid, ProofProblem};
use super::{Error, Result, Services};

/// Most entries per call.
pub const MAX_ENTRIES: u64 = 1000;

/// The latest signed checkpoint (C2SP tlog-checkpoint note).
pub fn checkpoint(svc: &Services) -> String {
    svc.ledger().checkpoint().note.clone()
}

/// Every ledger verifier key, oldest first.
pub async fn verifier_keys(svc: &Services) -> Vec<Vkey> {
    svc.ledger().vkeys().await
}

/// One entry as published: its canonical bytes and what they say.
pub struct PublicEntry {
    /// Leaf index.
    pub index: u64,
    /// The canonical bytes.
    pub bytes: Vec<u8>,
    /// The decoded entry.
    pub entry: SignedEntry,
}

/// Entries `start <= index < end` covered by the latest checkpoint, at most
/// [`MAX_ENTRIES`]; `end` is clamped.
pub async fn entries(
    svc: &Services,
    start: Option<u64>,
    end: Option<u64>,
) -> Result<Vec<PublicEntry>> {
    let size = svc.ledger().checkpoint().size;
    let start = start.unwrap_or(0);
    let end = end.unwrap_or(u64::MAX);
    if end < start {
        return Err(Invalid::Range.into());
    }
    let end = end.min(size).min(start.saturating_add(MAX_ENTRIES));
    if start >= end {
        return Ok(Vec::new());
    }
    svc.store()
        .entries(start, end)
        .await?
        .into_iter()
        .map(|row| {
            let index = u64::try_from(row.index).map_err(Error::internal)?;
            let entry = SignedEntry::decode(&row.bytes)
                .map_err(|e| Error::bug(format!("entry {index}: {e}")))?;
            Ok(PublicEntry {
                index,
                bytes: row.bytes,
                entry,
            })
        })
        .collect()
}

/// The inclusion proof of entry `index` in the tree of `size` entries (default: the latest
/// checkpoint's): the size and the proof.
pub async fn inclusion(svc: &Services, index: u64, size: Option<u64>) -> Result<(u64, Vec<Hash>)> {
    let latest = svc.ledger().checkpoint().size;
    let size = size.unwrap_or(latest);
    if size > latest {
        return Err(Invalid::ProofRequest(ProofProblem::BeyondTree).into());
    }
    if index >= size {
        return Err(Invalid::ProofRequest(ProofProblem::IndexOutsideSize).into());
    }
    Ok((size, svc.ledger().inclusion_proof(index, size).await?))
}

/// The consistency proof from `from` entries to `to` entries (default: the latest
/// checkpoint's): `to` and the proof.
pub async fn consistency(svc: &Services, from: u64, to: Option<u64>) -> Result<(u64, Vec<Hash>)> {
    let latest = svc.ledger().checkpoint().size;
    let to = to.unwrap_or(latest);
    if to > latest {
        return Err(Invalid::ProofRequest(ProofProblem::BeyondTree).into());
    }
    if from > to {
        return Err(Invalid::ProofRequest(ProofProblem::FromAfterTo).into());
    }
    Ok((to, svc.ledger().consistency_proof(from, to).await?))
}

/// A voucher-signing public key with its validity.
pub struct VoucherKeyInfo {
    /// Key id as in tokens, hex.
    pub key_id: String,
    /// The Ed25519 public key.
    pub public_key: [u8; 32],
    /// False once retired (it still verifies tokens issued before).
    pub active: bool,
    /// Ledger index of the entry that added it.
    pub added_at_entry: u64,
    /// Ledger index of the entry that retired it.
    pub retired_at_entry: Option<u64>,
    /// The last day its tokens are accepted (a rotated-out key).
    pub accepted_until: Option<chrono::NaiveDate>,
    /// When it was revoked: its tokens are refused (`key_revoked`).
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The voucher-signing public keys, oldest first, with what Leergeld decided about each
/// (a last day after a rotation, a revocation after a compromise), so that anyone can see
/// which tokens are still accepted.
pub async fn voucher_keys(svc: &Services) -> crate::service::Result<Vec<VoucherKeyInfo>> {
    let statuses = svc.store().voucher_key_statuses().await?;
    let state = svc.ledger().state().await;
    let mut keys: Vec<VoucherKeyInfo> = state
        .keys(KeyPurpose::Voucher)
        .iter()
        .map(|(id, k)| {
            let status = statuses.iter().find(|s| s.key_id == id.as_slice());
            VoucherKeyInfo {
                key_id: hex(id),
                public_key: k.public_key,
                active: k.retired_at.is_none(),
                added_at_entry: k.added_at,
                retired_at_entry: k.retired_at,
                accepted_until: status.and_then(|s| s.accept_until),
                revoked_at: status.and_then(|s| s.revoked_at),
            }
        })
        .collect();
    keys.sort_by_key(|k| k.added_at_entry);
    Ok(keys)
}
