//! The single writer. One sequencer task per ledger takes queued commands, checks each against
//! the double-entry rules, writes the whole batch in one transaction (one fsync), then signs and
//! stores a checkpoint for the new tree, and only then answers every caller.
//!
//! A command is one or more entries plus row changes that must commit with them; it applies
//! completely or not at all, inside a savepoint, so a refused command never aborts the rest of
//! its batch. A crash before the commit loses only unanswered work; a crash after the commit but
//! before the checkpoint is repaired at the next start, which signs a checkpoint for what is on
//! disk. A checkpoint is never signed for an uncommitted entry.
//!
//! - [`sequencer`]: the task that batches, applies, commits, signs and answers;
//! - [`recovery`]: replaying the stored ledger at start-up and after a database failure;
//! - [`genesis`]: the first entries of a new ledger, and key rotation;
//! - [`proofs`]: inclusion and consistency proofs and receipts from the stored hashes.

mod genesis;
mod proofs;
mod recovery;
mod sequencer;

pub use genesis::ledger_vkeys;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock as StdRwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ed25519_dalek::SigningKey;
use tokio::sync::{RwLock, RwLockReadGuard, mpsc, oneshot};
use uuid::Uuid;

use crate::core::accounts::{LedgerState, Rejection};
use crate::core::entry::{Body, EncodeError, KeyPurpose};
use crate::core::merkle::{self, Frontier, Hash, MerkleError};
use crate::core::money::Cents;
use crate::core::note::{self, Vkey};
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
}

impl Draft {
    /// A draft with a fresh time-ordered id.
    pub fn new(body: Body) -> Self {
        Self {
            id: Uuid::now_v7(),
            body,
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

fn system_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

type Reply = oneshot::Sender<Result<Appended, LedgerError>>;

struct Job {
    command: Command,
    reply: Reply,
}

struct Inner {
    tx: mpsc::Sender<Job>,
    state: RwLock<LedgerState>,
    checkpoint: StdRwLock<Arc<SignedCheckpoint>>,
    keys: Mutex<KeyRing>,
    store: Store,
    origin: String,
    running: AtomicBool,
    healthy: AtomicBool,
    clock: Arc<dyn Fn() -> u64 + Send + Sync>,
    shutdown: tokio::sync::Notify,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// Handle to a ledger: submit commands, read state, proofs and checkpoints.
#[derive(Clone)]
pub struct Ledger {
    inner: Arc<Inner>,
}

/// The sequencer's own mutable state, outside the shared lock.
struct Sequencer {
    inner: Arc<Inner>,
    /// The writer connection; `None` while it is being replaced after a failure.
    writer: Option<Writer>,
    frontier: Frontier,
    max_batch: usize,
    clock: Arc<dyn Fn() -> u64 + Send + Sync>,
    faults: Arc<Faults>,
}

/// Outcome of one command inside a batch.
enum Outcome {
    Done(Vec<u64>, Vec<Hash>, Vec<(Uuid, Cents)>),
    Refused(LedgerError),
}

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
        let (state, frontier) = recovery::replay(&store).await?;
        let origin = match state.origin() {
            Some(o) => o.to_owned(),
            None => match &options.origin {
                Some(o) if note::valid_key_name(o) => o.clone(),
                Some(o) => return Err(LedgerError::InvalidOrigin(o.clone())),
                None => genesis::random_origin()?,
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
        ledger_vkeys(&state, &self.inner.origin)
    }

    /// The private voucher-signing key that signs new tokens, with its key id.
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
