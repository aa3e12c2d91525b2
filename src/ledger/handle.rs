//! The ledger's types and its handle: commands, what they get, why they fail, and the shared
//! state between the handle and the sequencer task.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock as StdRwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ed25519_dalek::SigningKey;
use tokio::sync::{RwLock, RwLockReadGuard, mpsc, oneshot};
use uuid::Uuid;

use crate::core::accounts::{LedgerState, Rejection};
use crate::core::entry::{Body, EncodeError, KeyPurpose};
use crate::core::merkle::{Frontier, Hash, MerkleError};
use crate::core::money::Cents;
use crate::core::note::Vkey;
use crate::keys::{KeyError, KeyRing};
use crate::store::{Change, Precondition, Store, StoreError, Writer};

/// Most commands committed in one transaction.
pub const MAX_BATCH: usize = 256;
/// Commands that may wait for the sequencer before callers are told to come back later.
pub const QUEUE: usize = 4096;

/// One entry to append; the sequencer adds index, time and signature.
#[derive(Debug, Clone)]
pub struct Draft {
    /// The entry id (unique on the ledger).
    pub id: Uuid,
    /// What happened.
    pub body: Body,
    /// An account's state as it was read when the draft was made: the command is refused
    /// ([`Precondition::AccountUnchanged`](crate::store::Precondition)) when it changed since.
    pub expect: Option<Expect>,
}

/// An account's status as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expect {
    /// The account.
    pub account: Uuid,
    /// Its status.
    pub status: crate::core::entry::AccountStatus,
}

impl Draft {
    /// A draft with a fresh time-ordered id.
    pub fn new(body: Body) -> Self {
        Self {
            id: Uuid::now_v7(),
            body,
            expect: None,
        }
    }

    /// A draft that is refused when the account is no longer as read.
    pub fn expecting(body: Body, expect: Expect) -> Self {
        Self {
            expect: Some(expect),
            ..Self::new(body)
        }
    }
}

/// Entries and row changes that commit together or not at all.
#[derive(Debug, Clone, Default)]
pub struct Command {
    /// Entries, appended in order.
    pub entries: Vec<Draft>,
    /// Row changes in the same transaction (a change that records an entry index refers to
    /// the entries above).
    pub changes: Vec<Change>,
}

impl Command {
    /// A command of a single entry.
    pub fn one(body: Body) -> Self {
        Self {
            entries: vec![Draft::new(body)],
            changes: Vec::new(),
        }
    }
}

/// A signed checkpoint as published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    /// Tree size.
    pub size: u64,
    /// Root hash.
    pub root: Hash,
    /// The C2SP signed note.
    pub note: String,
}

/// What a committed command got.
#[derive(Debug, Clone)]
pub struct Appended {
    /// Index of each entry, in command order.
    pub indexes: Vec<u64>,
    /// Leaf hash of each entry.
    pub leaf_hashes: Vec<Hash>,
    /// Balance of every account the command's transfers touched, right after the command.
    pub balances: Vec<(Uuid, Cents)>,
    /// The checkpoint that first covers these entries.
    pub checkpoint: Arc<SignedCheckpoint>,
}

impl Appended {
    /// The balance of an account right after the command, if the command touched it.
    pub fn balance(&self, account: &Uuid) -> Option<Cents> {
        self.balances
            .iter()
            .find(|(a, _)| a == account)
            .map(|(_, b)| *b)
    }
}

/// Why a command was not appended.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The command breaks a ledger rule; nothing was written.
    #[error("refused: {0}")]
    Rejected(#[from] Rejection),
    /// A row change hit a uniqueness constraint; nothing was written.
    #[error("conflict with existing data")]
    Conflict,
    /// A guarded row change found no row; nothing was written.
    #[error("precondition failed: {0:?}")]
    Guard(Precondition),
    /// An entry of the command cannot be encoded (for example a transfer with more legs than
    /// the format carries): a mistake of the caller; only this command is refused.
    #[error("cannot encode the entry: {0}")]
    Encode(#[from] EncodeError),
    /// A proof was asked for sizes or an index the tree does not have.
    #[error("invalid proof request: {0}")]
    InvalidRequest(MerkleError),
    /// The origin given for a new ledger is not a valid key name.
    #[error("invalid origin {0:?}: it must not be empty or contain spaces or '+'")]
    InvalidOrigin(String),
    /// The ledger cannot take writes right now (database trouble, shutting down, queue full).
    #[error("ledger unavailable: {0}")]
    Unavailable(String),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Key files failed.
    #[error(transparent)]
    Keys(#[from] KeyError),
    /// Stored data contradicts itself; the ledger refuses to start.
    #[error("ledger is damaged: {0}")]
    Corrupt(String),
}

/// Settings for opening a ledger.
#[derive(Clone)]
pub struct LedgerOptions {
    /// Origin for a new ledger (ignored when the ledger exists). `None`: a random one.
    pub origin: Option<String>,
    /// Largest batch.
    pub max_batch: usize,
    /// Milliseconds since the epoch; replaceable in tests.
    pub clock: Arc<dyn Fn() -> u64 + Send + Sync>,
    /// Fault injection for crash tests.
    pub faults: Arc<Faults>,
}

impl Default for LedgerOptions {
    fn default() -> Self {
        Self {
            origin: None,
            max_batch: MAX_BATCH,
            clock: Arc::new(system_ms),
            faults: Arc::default(),
        }
    }
}

/// Crash points for tests: when set, the sequencer stops dead at that point, as if the
/// process had been killed there.
#[derive(Debug, Default)]
pub struct Faults {
    /// Stop after the batch committed, before any checkpoint is signed or caller answered.
    pub crash_after_commit: AtomicBool,
    /// Milliseconds the sequencer waits before writing each batch (a slow disk or database).
    pub batch_delay_ms: std::sync::atomic::AtomicU64,
    /// Batches that have started waiting out `batch_delay_ms` (so a test knows a command is
    /// held by the sequencer without sleeping).
    pub delayed_batches: std::sync::atomic::AtomicU64,
}

pub(super) fn system_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

pub(super) type Reply = oneshot::Sender<Result<Appended, LedgerError>>;

pub(super) struct Job {
    pub(super) command: Command,
    pub(super) reply: Reply,
}

pub(super) struct Inner {
    pub(super) tx: mpsc::Sender<Job>,
    pub(super) state: RwLock<LedgerState>,
    pub(super) checkpoint: StdRwLock<Arc<SignedCheckpoint>>,
    pub(super) keys: Mutex<KeyRing>,
    pub(super) store: Store,
    pub(super) origin: String,
    pub(super) running: AtomicBool,
    pub(super) healthy: AtomicBool,
    pub(super) clock: Arc<dyn Fn() -> u64 + Send + Sync>,
    pub(super) shutdown: tokio::sync::Notify,
    pub(super) task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// Handle to a ledger: submit commands, read state, proofs and checkpoints.
#[derive(Clone)]
pub struct Ledger {
    pub(super) inner: Arc<Inner>,
}

/// The sequencer's own mutable state, outside the shared lock.
pub(super) struct Sequencer {
    pub(super) inner: Arc<Inner>,
    /// The writer connection; `None` while it is being replaced after a failure.
    pub(super) writer: Option<Writer>,
    pub(super) frontier: Frontier,
    pub(super) max_batch: usize,
    pub(super) clock: Arc<dyn Fn() -> u64 + Send + Sync>,
    pub(super) faults: Arc<Faults>,
}

/// Outcome of one command inside a batch.
pub(super) enum Outcome {
    Done(Vec<u64>, Vec<Hash>, Vec<(Uuid, Cents)>),
    Refused(LedgerError),
}

impl Ledger {
    /// Submits a command and waits until it is committed and covered by a signed checkpoint.
    pub async fn submit(&self, command: Command) -> Result<Appended, LedgerError> {
        let (reply, rx) = oneshot::channel();
        self.inner
            .tx
            .try_send(Job { command, reply })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => {
                    LedgerError::Unavailable("too many requests are waiting".into())
                }
                mpsc::error::TrySendError::Closed(_) => {
                    LedgerError::Unavailable("the ledger has stopped".into())
                }
            })?;
        rx.await
            .map_err(|_| LedgerError::Unavailable("the ledger stopped before answering".into()))?
    }

    /// Read access to the committed state.
    pub async fn state(&self) -> RwLockReadGuard<'_, LedgerState> {
        self.inner.state.read().await
    }

    /// The ledger's clock: milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> u64 {
        (self.inner.clock)()
    }

    /// The storage behind the ledger.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The log origin (also the checkpoint key name).
    pub fn origin(&self) -> &str {
        &self.inner.origin
    }

    /// True while the sequencer runs and its database connection works.
    pub fn is_running(&self) -> bool {
        self.inner.running.load(Ordering::Relaxed)
            && self.inner.healthy.load(Ordering::Relaxed)
            && !self.inner.tx.is_closed()
    }

    /// The latest signed checkpoint.
    pub fn checkpoint(&self) -> Arc<SignedCheckpoint> {
        match self.inner.checkpoint.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Verifier keys of every ledger key the ledger has had, oldest first.
    pub async fn vkeys(&self) -> Vec<Vkey> {
        let state = self.state().await;
        state.ledger_vkeys()
    }

    /// The private half of a voucher key by id, while the keys directory holds it.
    pub async fn voucher_key(&self, id: [u8; 4]) -> Option<SigningKey> {
        let public = {
            let state = self.state().await;
            state.keys(KeyPurpose::Voucher).get(&id)?.public_key
        };
        let keys = self.inner.keys.lock().ok()?;
        keys.find(KeyPurpose::Voucher, &public).cloned()
    }

    /// Moves the private key of a public key out of the keys directory into `archive`.
    pub fn archive_key(
        &self,
        purpose: KeyPurpose,
        public_key: &[u8; 32],
        archive: &std::path::Path,
    ) -> Result<Option<std::path::PathBuf>, LedgerError> {
        let mut keys = self
            .inner
            .keys
            .lock()
            .map_err(|_| LedgerError::Unavailable("key ring lock poisoned".into()))?;
        Ok(keys.archive(purpose, public_key, archive)?)
    }

    /// The active voucher-signing key and its id.
    pub async fn voucher_signer(&self) -> Option<([u8; 4], SigningKey)> {
        let public = {
            let state = self.state().await;
            state
                .active_key(KeyPurpose::Voucher)
                .map(|(id, k)| (id, k.public_key))?
        };
        let keys = self.inner.keys.lock().ok()?;
        keys.find(KeyPurpose::Voucher, &public.1)
            .map(|k| (public.0, k.clone()))
    }

    /// Stops the sequencer after the commands already queued, and waits until it has released
    /// the writer lock.
    pub async fn close(&self) {
        self.inner.running.store(false, Ordering::Relaxed);
        self.inner.shutdown.notify_one();
        let handle = self.inner.task.lock().ok().and_then(|mut t| t.take());
        if let Some(h) = handle {
            let _ = h.await;
        }
    }
}

/// Waits until `f` holds or the deadline passes (for tests and shutdown).
pub async fn wait_until(deadline: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = tokio::time::Instant::now() + deadline;
    while tokio::time::Instant::now() < end {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    f()
}
