//! Rebuilding the in-memory state from what is stored: at start-up (replay, and a checkpoint
//! for entries committed just before a crash) and after a database failure (resync).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::handle::{LedgerError, Sequencer, SignedCheckpoint};
use crate::core::accounts::LedgerState;
use crate::core::entry::SignedEntry;
use crate::core::merkle::{self, Frontier};
use crate::core::note::Checkpoint;
use crate::store::Store;

/// Rebuilds state and tree from the stored entries and checks the stored hashes agree.
pub(super) async fn replay(store: &Store) -> Result<(LedgerState, Frontier), LedgerError> {
    const PAGE: u64 = 5_000;
    let mut state = LedgerState::new();
    let mut frontier = Frontier::new();
    loop {
        let start = frontier.size();
        let rows = store.entries_opened(start, start + PAGE).await?;
        let n = rows.len() as u64;
        for row in rows {
            let mut e = SignedEntry::decode(&row.bytes).map_err(|err| {
                LedgerError::Corrupt(format!(
                    "entry {}: {err} (this service reads ledger format version {} only)",
                    row.index,
                    crate::core::entry::VERSION
                ))
            })?;
            e.open_bytes(row.openings.as_deref().unwrap_or_default())
                .map_err(|err| LedgerError::Corrupt(format!("entry {}: {err}", row.index)))?;
            let _ = state
                .apply(&e)
                .map_err(|r| LedgerError::Corrupt(format!("entry {}: {r}", row.index)))?;
            frontier.append(merkle::leaf_hash(&row.bytes));
        }
        if n < PAGE {
            break;
        }
    }
    let count = store.entry_count().await?;
    if count != frontier.size() {
        return Err(LedgerError::Corrupt(format!(
            "{count} entries stored but only 0..{} are in sequence",
            frontier.size()
        )));
    }
    let stored = store.hashes(&Frontier::indexes(frontier.size())).await?;
    let from_store = Frontier::from_hashes(frontier.size(), &stored)
        .map_err(|e| LedgerError::Corrupt(e.to_string()))?;
    if from_store != frontier {
        return Err(LedgerError::Corrupt(
            "stored Merkle hashes do not match the entries".into(),
        ));
    }
    Ok((state, frontier))
}

impl Sequencer {
    /// Makes sure the latest checkpoint covers every committed entry and matches the tree.
    pub(super) async fn recover_checkpoint(&mut self) -> Result<(), LedgerError> {
        let size = self.frontier.size();
        let vkeys = {
            let state = self.inner.state.read().await;
            state.ledger_vkeys()
        };
        if let Some((stored_size, note)) = self.inner.store.latest_checkpoint().await? {
            let (cp, _) = Checkpoint::verify(&note, &vkeys).map_err(|e| {
                LedgerError::Corrupt(format!("latest checkpoint (size {stored_size}): {e}"))
            })?;
            if cp.size != stored_size || cp.size > size || cp.origin != self.inner.origin {
                return Err(LedgerError::Corrupt(format!(
                    "latest checkpoint is for {} entries of {:?}, but {size} entries of {:?} are stored",
                    cp.size, cp.origin, self.inner.origin
                )));
            }
            let hashes = self
                .inner
                .store
                .hashes(&merkle::root_indexes(cp.size))
                .await?;
            let root = merkle::root_from_hashes(cp.size, &hashes)
                .map_err(|e| LedgerError::Corrupt(e.to_string()))?;
            if root != cp.root {
                return Err(LedgerError::Corrupt(format!(
                    "the checkpoint for size {} does not match the stored entries",
                    cp.size
                )));
            }
            if cp.size == size {
                self.publish(Arc::new(SignedCheckpoint { size, root, note }));
                return Ok(());
            }
            tracing::warn!(
                checkpoint = cp.size,
                entries = size,
                "entries were committed after the last checkpoint (crash?); signing a checkpoint now"
            );
        }
        self.sign_checkpoint().await.map(|_| ())
    }

    /// Re-establishes the writer connection (and its lock) if it is gone, and rebuilds state
    /// and tree from the database. Marks the ledger healthy again only when both worked.
    pub(super) async fn resync(&mut self) {
        // A connection that reported an error may be half dead (PostgreSQL closes it after a
        // FATAL error, sometimes after answering one more query): always open a fresh one,
        // releasing the old one's lock first.
        if let Some(old) = self.writer.take() {
            old.close().await;
        }
        match self.inner.store.writer().await {
            Ok(w) => {
                self.writer = Some(w);
                tracing::warn!("ledger writer reconnected");
            }
            Err(e) => {
                tracing::error!(error = %e, "ledger writer cannot reconnect");
                return;
            }
        }
        match replay(&self.inner.store).await {
            Ok((state, frontier)) => {
                if frontier != self.frontier {
                    tracing::warn!(
                        memory = self.frontier.size(),
                        stored = frontier.size(),
                        "ledger state rebuilt from the database"
                    );
                }
                *self.inner.state.write().await = state;
                self.frontier = frontier;
                if self.inner_checkpoint().size < self.frontier.size()
                    && let Err(e) = self.sign_checkpoint().await
                {
                    tracing::error!(error = %e, "could not sign a checkpoint after resync");
                    return;
                }
                self.inner.healthy.store(true, Ordering::Relaxed);
            }
            Err(e) => tracing::error!(error = %e, "ledger state cannot be rebuilt"),
        }
    }
}
