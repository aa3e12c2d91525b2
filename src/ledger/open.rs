//! Opening a ledger: keys, replay of what is stored, genesis for a new ledger, a checkpoint
//! for entries committed just before a crash, and the sequencer task.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, RwLock as StdRwLock};

use tokio::sync::{RwLock, mpsc};

use super::genesis::random_origin;
use super::handle::{
    Inner, Ledger, LedgerError, LedgerOptions, QUEUE, Sequencer, SignedCheckpoint,
};
use super::recovery::replay;
use crate::core::entry::KeyPurpose;
use crate::core::merkle;
use crate::core::note;
use crate::keys::KeyRing;
use crate::store::Store;

impl Ledger {
    /// Opens the ledger in `store`, creating keys and the genesis entries for a new one,
    /// repairing a missing checkpoint after a crash, and starts the sequencer.
    pub async fn open(
        store: Store,
        keys_dir: &Path,
        options: LedgerOptions,
    ) -> Result<Self, LedgerError> {
        let writer = store.writer().await?;
        let mut keys = KeyRing::load(keys_dir)?;
        let (state, frontier) = replay(&store).await?;
        let origin = match state.origin() {
            Some(o) => o.to_owned(),
            None => match &options.origin {
                Some(o) if note::valid_key_name(o) => o.clone(),
                Some(o) => return Err(LedgerError::InvalidOrigin(o.clone())),
                None => random_origin()?,
            },
        };
        if state.size() == 0 {
            for purpose in [KeyPurpose::Ledger, KeyPurpose::Voucher] {
                if keys.newest(purpose).is_none() {
                    keys.generate(purpose)?;
                }
            }
        } else {
            for purpose in [KeyPurpose::Ledger, KeyPurpose::Voucher] {
                let (id, rec) = state.active_key(purpose).ok_or_else(|| {
                    LedgerError::Corrupt(format!("no active {} key on the ledger", purpose))
                })?;
                if keys.find(purpose, &rec.public_key).is_none() {
                    return Err(LedgerError::Corrupt(format!(
                        "the private {purpose} key {} is not in {}",
                        note::hex(&id),
                        keys_dir.display()
                    )));
                }
            }
        }
        let (tx, rx) = mpsc::channel(QUEUE);
        let empty = Arc::new(SignedCheckpoint {
            size: 0,
            root: merkle::empty_root(),
            note: String::new(),
        });
        let inner = Arc::new(Inner {
            tx,
            state: RwLock::new(state),
            checkpoint: StdRwLock::new(empty),
            keys: Mutex::new(keys),
            store,
            origin,
            running: AtomicBool::new(true),
            healthy: AtomicBool::new(true),
            clock: options.clock.clone(),
            shutdown: tokio::sync::Notify::new(),
            task: Mutex::new(None),
        });
        let mut seq = Sequencer {
            inner: inner.clone(),
            writer: Some(writer),
            frontier,
            max_batch: options.max_batch.max(1),
            clock: options.clock.clone(),
            faults: options.faults.clone(),
        };
        if seq.frontier.size() == 0 {
            seq.genesis().await?;
        }
        seq.recover_checkpoint().await?;
        let handle = tokio::spawn(seq.run(rx));
        if let Ok(mut slot) = inner.task.lock() {
            *slot = Some(handle);
        }
        Ok(Ledger { inner })
    }
}
