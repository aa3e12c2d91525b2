//! The sequencer task: takes queued commands in batches, applies each inside a savepoint
//! (a refusal undoes only its own command), commits the batch in one transaction, signs a
//! checkpoint for the new tree, and answers every caller.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::handle::{
    Appended, Command, Draft, Job, LedgerError, Outcome, Sequencer, SignedCheckpoint,
};
use crate::core::accounts::{LedgerState, Undo};
use crate::core::entry::{Body, Entry, KeyPurpose, Opening, SignedEntry};
use crate::core::merkle;
use crate::core::money::Cents;
use crate::core::note::{self, Checkpoint, NoteSigner};
use crate::store::{Precondition, StoreError, Writer};

impl Sequencer {
    pub(super) fn publish(&self, cp: Arc<SignedCheckpoint>) {
        metrics::gauge!("kindpakket_ledger_size").set(cp.size as f64);
        match self.inner.checkpoint.write() {
            Ok(mut slot) => *slot = cp,
            Err(poisoned) => *poisoned.into_inner() = cp,
        }
    }

    /// Signs, stores and publishes a checkpoint for the current tree.
    pub(super) async fn sign_checkpoint(&mut self) -> Result<Arc<SignedCheckpoint>, LedgerError> {
        let size = self.frontier.size();
        let root = self.frontier.root();
        let public = {
            let state = self.inner.state.read().await;
            active_ledger_key(&state)?
        };
        let key = self.private_ledger_key(&public)?;
        let note = Checkpoint {
            origin: self.inner.origin.clone(),
            size,
            root,
        }
        .sign(&[NoteSigner {
            name: &self.inner.origin,
            key: &key,
        }])
        .map_err(|e| LedgerError::Corrupt(e.to_string()))?;
        self.w()?.insert_checkpoint(size, &note).await?;
        let cp = Arc::new(SignedCheckpoint { size, root, note });
        self.publish(cp.clone());
        Ok(cp)
    }

    pub(super) async fn run(mut self, mut rx: mpsc::Receiver<Job>) {
        let mut jobs: Vec<Job> = Vec::with_capacity(self.max_batch);
        loop {
            tokio::select! {
                n = rx.recv_many(&mut jobs, self.max_batch) => {
                    if n == 0 {
                        break;
                    }
                    let batch = std::mem::take(&mut jobs);
                    if !self.batch(batch).await {
                        break;
                    }
                }
                () = self.inner.shutdown.notified() => {
                    // Finish what is queued, then stop.
                    rx.close();
                    while rx.recv_many(&mut jobs, self.max_batch).await > 0 {
                        let batch = std::mem::take(&mut jobs);
                        if !self.batch(batch).await {
                            break;
                        }
                    }
                    break;
                }
            }
        }
        self.inner.running.store(false, Ordering::Relaxed);
        if let Some(w) = self.writer.take() {
            w.close().await;
        }
        tracing::info!("ledger sequencer stopped");
    }

    /// Processes one batch. Returns false when the sequencer must stop (crash injection).
    pub(super) async fn batch(&mut self, jobs: Vec<Job>) -> bool {
        if !self.inner.healthy.load(Ordering::Relaxed) {
            self.resync().await;
            if !self.inner.healthy.load(Ordering::Relaxed) {
                for job in jobs {
                    let _ = job.reply.send(Err(LedgerError::Unavailable(
                        "the ledger database is not reachable".into(),
                    )));
                }
                return true;
            }
        }
        let delay = self.faults.batch_delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            self.faults.delayed_batches.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        let started = std::time::Instant::now();
        metrics::histogram!("kindpakket_ledger_batch_commands").record(jobs.len() as f64);
        let inner = self.inner.clone();
        let mut state = inner.state.write().await;
        let before_frontier = self.frontier.clone();
        let mut undos: Vec<Undo> = Vec::new();
        let mut outcomes: Vec<Outcome> = Vec::with_capacity(jobs.len());
        let result: Result<(), LedgerError> = async {
            self.w()?.begin().await?;
            for job in &jobs {
                let outcome = self.command(&mut state, &job.command, &mut undos).await?;
                outcomes.push(outcome);
            }
            self.w()?.commit().await?;
            Ok(())
        }
        .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "ledger batch failed; nothing of it was written");
            if let Some(w) = self.writer.as_mut() {
                let _ = w.rollback().await;
            }
            for u in undos.into_iter().rev() {
                state.undo(u);
            }
            self.frontier = before_frontier;
            drop(state);
            for job in jobs {
                let _ = job.reply.send(Err(LedgerError::Unavailable(
                    "the database refused the batch".into(),
                )));
            }
            // The connection may be gone, or the commit may have succeeded although it reported
            // an error: reconnect and rebuild the state from what is stored.
            self.inner.healthy.store(false, Ordering::Relaxed);
            self.resync().await;
            return true;
        }
        drop(state);
        if self.faults.crash_after_commit.load(Ordering::SeqCst) {
            tracing::warn!("fault injection: stopping after commit, before the checkpoint");
            return false;
        }
        let appended = outcomes
            .iter()
            .any(|o| matches!(o, Outcome::Done(i, _, _) if !i.is_empty()));
        let checkpoint = if appended {
            match self.sign_checkpoint().await {
                Ok(cp) => Some(cp),
                Err(e) => {
                    tracing::error!(error = %e, "could not store the checkpoint");
                    None
                }
            }
        } else {
            Some(self.inner_checkpoint())
        };
        let entries: usize = outcomes
            .iter()
            .map(|o| match o {
                Outcome::Done(i, _, _) => i.len(),
                Outcome::Refused(_) => 0,
            })
            .sum();
        metrics::counter!("kindpakket_ledger_entries_total").increment(entries as u64);
        metrics::histogram!("kindpakket_ledger_batch_seconds")
            .record(started.elapsed().as_secs_f64());
        for (job, outcome) in jobs.into_iter().zip(outcomes) {
            let answer = match (outcome, &checkpoint) {
                (Outcome::Done(indexes, leaf_hashes, balances), Some(cp)) => Ok(Appended {
                    indexes,
                    leaf_hashes,
                    balances,
                    checkpoint: cp.clone(),
                }),
                (Outcome::Done(..), None) => Err(LedgerError::Unavailable(
                    "committed, but the checkpoint could not be stored".into(),
                )),
                (Outcome::Refused(e), _) => Err(e),
            };
            let _ = job.reply.send(answer);
        }
        true
    }

    pub(super) fn w(&mut self) -> Result<&mut Writer, LedgerError> {
        self.writer
            .as_mut()
            .ok_or_else(|| LedgerError::Unavailable("the ledger writer is reconnecting".into()))
    }

    pub(super) fn inner_checkpoint(&self) -> Arc<SignedCheckpoint> {
        match self.inner.checkpoint.read() {
            Ok(c) => c.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Applies one command inside a savepoint. A refusal (a ledger rule, a uniqueness conflict,
    /// a failed precondition, an entry that cannot be encoded) rolls back only this command; a
    /// database error fails the whole batch.
    pub(super) async fn command(
        &mut self,
        state: &mut LedgerState,
        command: &Command,
        undos: &mut Vec<Undo>,
    ) -> Result<Outcome, LedgerError> {
        if command.entries.is_empty() && command.changes.is_empty() {
            return Ok(Outcome::Done(Vec::new(), Vec::new(), Vec::new()));
        }
        self.w()?.savepoint().await?;
        let mut mine: Vec<Undo> = Vec::new();
        let mut frontier = self.frontier.clone();
        let mut indexes = Vec::new();
        let mut leaves = Vec::new();
        let mut refusal: Option<LedgerError> = None;
        for draft in &command.entries {
            if let Some(x) = &draft.expect {
                let now = state.account(&x.account).map(|a| a.status);
                if now != Some(x.status) {
                    refusal = Some(LedgerError::Guard(Precondition::AccountUnchanged));
                    break;
                }
            }
            let (signed, openings) = match self.sign(state, draft) {
                Ok(s) => s,
                Err(e @ LedgerError::Encode(_)) => {
                    refusal = Some(e);
                    break;
                }
                Err(e) => {
                    undo_all(state, mine);
                    return Err(e);
                }
            };
            match state.apply(&signed) {
                Ok(u) => mine.push(u),
                Err(r) => {
                    refusal = Some(LedgerError::Rejected(r));
                    break;
                }
            }
            let bytes = match signed.encode() {
                Ok(b) => b,
                Err(e) => {
                    refusal = Some(LedgerError::Encode(e));
                    break;
                }
            };
            let leaf = merkle::leaf_hash(&bytes);
            let first_hash = merkle::stored_hash_count(frontier.size());
            let hashes = frontier.append(leaf);
            let e = &signed.entry;
            match self
                .w()?
                .insert_entry(e.index, e.id, e.body.kind().code(), &bytes)
                .await
            {
                Ok(()) => {}
                Err(StoreError::Unique) => {
                    refusal = Some(LedgerError::Conflict);
                    break;
                }
                Err(other) => {
                    undo_all(state, mine);
                    return Err(other.into());
                }
            }
            if let Err(e) = self
                .w()?
                .insert_openings(e.index, &Opening::encode_all(&openings))
                .await
            {
                undo_all(state, mine);
                return Err(e.into());
            }
            if let Err(e) = self.w()?.insert_hashes(first_hash, &hashes).await {
                undo_all(state, mine);
                return Err(e.into());
            }
            indexes.push(e.index);
            leaves.push(leaf);
        }
        if refusal.is_none() {
            for change in &command.changes {
                match self.w()?.apply(change, &indexes).await {
                    Ok(Some(failed)) => {
                        refusal = Some(LedgerError::Guard(failed));
                        break;
                    }
                    Ok(None) => {}
                    Err(StoreError::Unique) => {
                        refusal = Some(LedgerError::Conflict);
                        break;
                    }
                    Err(other) => {
                        undo_all(state, mine);
                        return Err(other.into());
                    }
                }
            }
        }
        match refusal {
            Some(r) => {
                undo_all(state, mine);
                self.w()?.rollback_to_savepoint().await?;
                Ok(Outcome::Refused(r))
            }
            None => {
                if let Err(e) = self.w()?.release().await {
                    undo_all(state, mine);
                    return Err(e.into());
                }
                self.frontier = frontier;
                undos.extend(mine);
                let mut balances: Vec<(Uuid, Cents)> = Vec::new();
                for d in &command.entries {
                    if let Body::Transfer { legs, .. } = &d.body {
                        for id in legs
                            .iter()
                            .flat_map(|l| [l.debit.account(), l.credit.account()])
                            .flatten()
                        {
                            if !balances.iter().any(|(a, _)| *a == id)
                                && let Some(acc) = state.account(&id)
                            {
                                balances.push((id, acc.balance));
                            }
                        }
                    }
                }
                Ok(Outcome::Done(indexes, leaves, balances))
            }
        }
    }

    /// Gives a draft its index and time, seals its voucher references into fresh commitments
    /// and signs it with the active ledger key. Returns the entry and its openings.
    pub(super) fn sign(
        &self,
        state: &LedgerState,
        draft: &Draft,
    ) -> Result<(SignedEntry, Vec<Opening>), LedgerError> {
        let public = match &draft.body {
            Body::Genesis { ledger_key, .. } => *ledger_key,
            _ => active_ledger_key(state)?,
        };
        let key = self.private_ledger_key(&public)?;
        let key_id = note::key_id(&self.inner.origin, &public);
        // Strictly increasing: no two entries share a time, so a time never ties two entries
        // (say, two payments of one voucher written in one batch) together.
        let time_ms = (self.clock)().max(state.last_time_ms().saturating_add(1));
        let mut body = draft.body.clone();
        let openings = body.seal()?;
        let signed = Entry {
            index: state.size(),
            time_ms,
            id: draft.id,
            body,
        }
        .sign(&key, key_id)?;
        Ok((signed, openings))
    }

    /// The private key for a ledger public key, from the key ring.
    pub(super) fn private_ledger_key(&self, public: &[u8; 32]) -> Result<SigningKey, LedgerError> {
        let keys = self
            .inner
            .keys
            .lock()
            .map_err(|_| LedgerError::Unavailable("key ring lock poisoned".into()))?;
        keys.find(KeyPurpose::Ledger, public)
            .cloned()
            .ok_or_else(|| LedgerError::Corrupt("ledger private key missing".into()))
    }
}

/// The public key of the ledger key that signs from now on.
pub(super) fn active_ledger_key(state: &LedgerState) -> Result<[u8; 32], LedgerError> {
    state
        .active_key(KeyPurpose::Ledger)
        .map(|(_, k)| k.public_key)
        .ok_or_else(|| LedgerError::Corrupt("no active ledger key".into()))
}

pub(super) fn undo_all(state: &mut LedgerState, undos: Vec<Undo>) {
    for u in undos.into_iter().rev() {
        state.undo(u);
    }
}
