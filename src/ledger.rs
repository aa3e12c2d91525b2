//! The single writer. One sequencer task per ledger takes queued commands, checks each against
//! the double-entry rules, writes the whole batch in one transaction (one fsync), then signs and
//! stores a checkpoint for the new tree, and only then answers every caller.
//!
//! A command is one or more entries plus row changes that must commit with them; it applies
//! completely or not at all, inside a savepoint, so a refused command never aborts the rest of
//! its batch. A crash before the commit loses only unanswered work; a crash after the commit but
//! before the checkpoint is repaired at the next start, which signs a checkpoint for what is on
//! disk. A checkpoint is never signed for an uncommitted entry.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock as StdRwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ed25519_dalek::SigningKey;
use tokio::sync::{RwLock, RwLockReadGuard, mpsc, oneshot};
use uuid::Uuid;

use crate::core::accounts::{LedgerState, Rejection, Undo};
use crate::core::entry::{
    AccountKind, Body, EncodeError, Entry, FLAG_NO_NEGATIVE, KeyAction, KeyPurpose, SignedEntry,
};
use crate::core::merkle::{self, Frontier, Hash};
use crate::core::money::Cents;
use crate::core::note::{self, Checkpoint, NoteSigner, Vkey};
use crate::core::proof::TlogProof;
use crate::core::token;
use crate::keys::{KeyError, KeyRing};
use crate::store::{Store, StoreError, Write, Writer};

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
    /// Row changes in the same transaction ([`crate::store::Value::EntryIndex`] refers to
    /// the entries above).
    pub writes: Vec<Write>,
}

impl Command {
    /// A command of a single entry.
    pub fn one(body: Body) -> Self {
        Self {
            entries: vec![Draft::new(body)],
            writes: Vec::new(),
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
    #[error("precondition failed: {0}")]
    Guard(&'static str),
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

impl From<EncodeError> for LedgerError {
    fn from(e: EncodeError) -> Self {
        LedgerError::Unavailable(e.to_string())
    }
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
                Some(_) => {
                    return Err(LedgerError::Corrupt(
                        "origin must not be empty or contain spaces or '+'".into(),
                    ));
                }
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

    /// The inclusion proof of entry `index` in the tree of `size` entries.
    pub async fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, LedgerError> {
        let idx = merkle::inclusion_indexes(index, size)
            .map_err(|e| LedgerError::Unavailable(e.to_string()))?;
        let hashes = self.inner.store.hashes(&idx).await?;
        merkle::inclusion_from_hashes(index, size, &hashes)
            .map_err(|e| LedgerError::Corrupt(e.to_string()))
    }

    /// The consistency proof from `old` to `new` entries.
    pub async fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, LedgerError> {
        let idx = merkle::consistency_indexes(old, new)
            .map_err(|e| LedgerError::Unavailable(e.to_string()))?;
        let hashes = self.inner.store.hashes(&idx).await?;
        merkle::consistency_from_hashes(old, new, &hashes)
            .map_err(|e| LedgerError::Corrupt(e.to_string()))
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

    /// Adds a new key of `purpose` and retires the one it replaces. Old public keys stay on the
    /// ledger, so everything they signed still verifies.
    pub async fn rotate(&self, purpose: KeyPurpose) -> Result<Appended, LedgerError> {
        let old = {
            let state = self.state().await;
            state
                .active_key(purpose)
                .map(|(id, k)| (id, k.public_key))
                .ok_or_else(|| LedgerError::Corrupt(format!("no active {purpose} key")))?
        };
        let new = {
            let mut keys = self
                .inner
                .keys
                .lock()
                .map_err(|_| LedgerError::Unavailable("key ring lock poisoned".into()))?;
            keys.generate(purpose)?.verifying_key()
        };
        let new_id = match purpose {
            KeyPurpose::Ledger => note::key_id(&self.inner.origin, new.as_bytes()),
            KeyPurpose::Voucher => token::voucher_key_id(&new),
        };
        self.submit(Command {
            entries: vec![
                Draft::new(Body::KeyEvent {
                    action: KeyAction::Added,
                    purpose,
                    key_id: new_id,
                    public_key: *new.as_bytes(),
                }),
                Draft::new(Body::KeyEvent {
                    action: KeyAction::Retired,
                    purpose,
                    key_id: old.0,
                    public_key: old.1,
                }),
            ],
            writes: Vec::new(),
        })
        .await
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

/// Verifier keys of every ledger key in the state.
pub fn ledger_vkeys(state: &LedgerState, origin: &str) -> Vec<Vkey> {
    let mut keys: Vec<_> = state.keys(KeyPurpose::Ledger).values().collect();
    keys.sort_by_key(|k| k.added_at);
    keys.into_iter()
        .filter_map(|k| ed25519_dalek::VerifyingKey::from_bytes(&k.public_key).ok())
        .filter_map(|k| Vkey::new(origin, k).ok())
        .collect()
}

fn random_origin() -> Result<String, LedgerError> {
    let mut b = [0u8; 4];
    getrandom::fill(&mut b).map_err(|_| KeyError::Random)?;
    Ok(format!("kindpakket.local/ledger-{}", note::hex(&b)))
}

/// Rebuilds state and tree from the stored entries and checks the stored hashes agree.
async fn replay(store: &Store) -> Result<(LedgerState, Frontier), LedgerError> {
    const PAGE: u64 = 5_000;
    let mut state = LedgerState::new();
    let mut frontier = Frontier::new();
    loop {
        let start = frontier.size();
        let rows = store.entries(start, start + PAGE).await?;
        let n = rows.len() as u64;
        for row in rows {
            let e = SignedEntry::decode(&row.bytes)
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

/// Outcome of one command inside a batch.
enum Outcome {
    Done(Vec<u64>, Vec<Hash>, Vec<(Uuid, Cents)>),
    Refused(LedgerError),
}

impl Sequencer {
    /// Writes the first entries of a new ledger: genesis, the voucher key, and the external
    /// (sponsor) and bank accounts.
    async fn genesis(&mut self) -> Result<(), LedgerError> {
        let (ledger_pk, voucher_pk) = {
            let keys = self
                .inner
                .keys
                .lock()
                .map_err(|_| LedgerError::Unavailable("key ring lock poisoned".into()))?;
            let l = keys
                .newest(KeyPurpose::Ledger)
                .ok_or_else(|| LedgerError::Corrupt("no ledger key".into()))?
                .verifying_key();
            let v = keys
                .newest(KeyPurpose::Voucher)
                .ok_or_else(|| LedgerError::Corrupt("no voucher key".into()))?
                .verifying_key();
            (l, v)
        };
        let account = |kind| {
            Draft::new(Body::OpenAccount {
                account: Uuid::new_v4(),
                kind,
                flags: if kind == AccountKind::External {
                    0
                } else {
                    FLAG_NO_NEGATIVE
                },
                fund: Uuid::nil(),
                party: Uuid::nil(),
            })
        };
        let command = Command {
            entries: vec![
                Draft::new(Body::Genesis {
                    origin: self.inner.origin.clone(),
                    ledger_key: *ledger_pk.as_bytes(),
                }),
                Draft::new(Body::KeyEvent {
                    action: KeyAction::Added,
                    purpose: KeyPurpose::Voucher,
                    key_id: token::voucher_key_id(&voucher_pk),
                    public_key: *voucher_pk.as_bytes(),
                }),
                account(AccountKind::External),
                account(AccountKind::Bank),
            ],
            writes: Vec::new(),
        };
        let (reply, rx) = oneshot::channel();
        self.batch(vec![Job { command, reply }]).await;
        match rx.await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(LedgerError::Unavailable("genesis was not written".into())),
        }
    }

    /// Makes sure the latest checkpoint covers every committed entry and matches the tree.
    async fn recover_checkpoint(&mut self) -> Result<(), LedgerError> {
        let size = self.frontier.size();
        let vkeys = {
            let state = self.inner.state.read().await;
            ledger_vkeys(&state, &self.inner.origin)
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

    fn publish(&self, cp: Arc<SignedCheckpoint>) {
        metrics::gauge!("kindpakket_ledger_size").set(cp.size as f64);
        match self.inner.checkpoint.write() {
            Ok(mut slot) => *slot = cp,
            Err(poisoned) => *poisoned.into_inner() = cp,
        }
    }

    /// Signs, stores and publishes a checkpoint for the current tree.
    async fn sign_checkpoint(&mut self) -> Result<Arc<SignedCheckpoint>, LedgerError> {
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

    async fn run(mut self, mut rx: mpsc::Receiver<Job>) {
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
    async fn batch(&mut self, jobs: Vec<Job>) -> bool {
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

    /// Re-establishes the writer connection (and its lock) if it is gone, and rebuilds state
    /// and tree from the database. Marks the ledger healthy again only when both worked.
    async fn resync(&mut self) {
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

    fn w(&mut self) -> Result<&mut Writer, LedgerError> {
        self.writer
            .as_mut()
            .ok_or_else(|| LedgerError::Unavailable("the ledger writer is reconnecting".into()))
    }

    fn inner_checkpoint(&self) -> Arc<SignedCheckpoint> {
        match self.inner.checkpoint.read() {
            Ok(c) => c.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Applies one command inside a savepoint. A refusal rolls back only this command; a
    /// database error fails the whole batch.
    async fn command(
        &mut self,
        state: &mut LedgerState,
        command: &Command,
        undos: &mut Vec<Undo>,
    ) -> Result<Outcome, LedgerError> {
        if command.entries.is_empty() && command.writes.is_empty() {
            return Ok(Outcome::Done(Vec::new(), Vec::new(), Vec::new()));
        }
        self.w()?.savepoint().await?;
        let mut mine: Vec<Undo> = Vec::new();
        let mut frontier = self.frontier.clone();
        let mut indexes = Vec::new();
        let mut leaves = Vec::new();
        let mut refusal: Option<LedgerError> = None;
        for draft in &command.entries {
            let signed = match self.sign(state, draft) {
                Ok(s) => s,
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
                    undo_all(state, mine);
                    return Err(e.into());
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
            if let Err(e) = self.w()?.insert_hashes(first_hash, &hashes).await {
                undo_all(state, mine);
                return Err(e.into());
            }
            indexes.push(e.index);
            leaves.push(leaf);
        }
        if refusal.is_none() {
            for w in &command.writes {
                match self.w()?.write(w, &indexes).await {
                    Ok(0) if w.guard.is_some() => {
                        refusal = w.guard.map(LedgerError::Guard);
                        break;
                    }
                    Ok(_) => {}
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
                        for id in legs.iter().flat_map(|l| [l.debit, l.credit]) {
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

    /// Gives a draft its index and time and signs it with the active ledger key.
    fn sign(&self, state: &LedgerState, draft: &Draft) -> Result<SignedEntry, LedgerError> {
        let public = match &draft.body {
            Body::Genesis { ledger_key, .. } => *ledger_key,
            _ => active_ledger_key(state)?,
        };
        let key = self.private_ledger_key(&public)?;
        let key_id = note::key_id(&self.inner.origin, &public);
        let time_ms = (self.clock)().max(state.last_time_ms());
        Ok(Entry {
            index: state.size(),
            time_ms,
            id: draft.id,
            body: draft.body.clone(),
        }
        .sign(&key, key_id)?)
    }

    /// The private key for a ledger public key, from the key ring.
    fn private_ledger_key(&self, public: &[u8; 32]) -> Result<SigningKey, LedgerError> {
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
fn active_ledger_key(state: &LedgerState) -> Result<[u8; 32], LedgerError> {
    state
        .active_key(KeyPurpose::Ledger)
        .map(|(_, k)| k.public_key)
        .ok_or_else(|| LedgerError::Corrupt("no active ledger key".into()))
}

fn undo_all(state: &mut LedgerState, undos: Vec<Undo>) {
    for u in undos.into_iter().rev() {
        state.undo(u);
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
