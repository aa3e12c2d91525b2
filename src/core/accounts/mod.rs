//! The double-entry state machine: every rule an entry must satisfy, enforced in one place.
//!
//! Invariants (checked by [`LedgerState::apply`] before anything changes):
//! 1. Entries are numbered 0, 1, 2, … without gaps; time never goes back; entry ids are unique.
//! 2. Entry 0 is the genesis entry; every later entry is signed by an active ledger key.
//! 3. Every leg moves a positive amount between two different, open accounts, so every entry
//!    balances by construction; the sum of all balances is always zero.
//! 4. No account but an external one may go below zero.
//! 5. Each transfer kind moves money only along its own path (deposit: external → fund,
//!    issue: fund → a voucher it opens, top-up: fund → its voucher, redeem and direct
//!    payment: active voucher → a provider of the same fund, reverse: the exact mirror of one
//!    earlier redemption or direct payment, at most once, expire: voucher → its fund, payout:
//!    provider → bank).
//! 6. A voucher account is named only by a commitment, fresh for every appearance (no value is
//!    used twice on the ledger), whose opening must be known here; every other account only in
//!    the clear. A redemption carries nothing of the token: the writer checks the token.
//! 7. A deposit correction takes back at most what one deposit brought into a fund.
//! 8. An entry applies completely or not at all; [`LedgerState::undo`] takes it back exactly.

mod keys;
mod open;
mod rejection;
mod status;
#[cfg(test)]
pub(crate) mod tests;
mod transfer;

use std::collections::{BTreeMap, HashMap, HashSet};

use uuid::Uuid;

use super::category::Category;
use super::entry::{
    AccountKind, AccountRef, AccountStatus, Body, KeyPurpose, SignedEntry, TransferKind,
};
use super::money::Cents;

pub use rejection::Rejection;

/// A public key the ledger knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// The Ed25519 public key.
    pub public_key: [u8; 32],
    /// Index of the entry that added it.
    pub added_at: u64,
    /// Index of the entry that retired it, if any.
    pub retired_at: Option<u64>,
}

/// An account's current state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Account {
    /// Kind of account.
    pub kind: AccountKind,
    /// `FLAG_*` bits.
    pub flags: u16,
    /// Fund of a voucher or provider account.
    pub fund: Uuid,
    /// Organisation of a provider account.
    pub party: Uuid,
    /// Active, blocked or closed.
    pub status: AccountStatus,
    /// Credits minus debits.
    pub balance: Cents,
    /// Index of the entry that opened it.
    pub opened_at: u64,
}

/// One leg with its accounts resolved (a voucher's commitment opened).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flow {
    /// Account debited.
    pub debit: Uuid,
    /// Account credited.
    pub credit: Uuid,
    /// Amount.
    pub amount: Cents,
}

/// A transfer that may later be reversed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReversibleTransfer {
    /// Index of the entry.
    pub index: u64,
    /// Redeem or direct payment.
    pub kind: TransferKind,
    /// Its category.
    pub category: Option<Category>,
    /// Its legs, resolved.
    pub legs: Vec<Flow>,
    /// Index of the reversing entry, once reversed.
    pub reversed_at: Option<u64>,
}

/// What [`LedgerState::apply`] changed, so that [`LedgerState::undo`] can take it back.
#[derive(Debug, Clone)]
#[must_use]
pub struct Undo {
    size: u64,
    last_time_ms: u64,
    id: Uuid,
    genesis: bool,
    key: Option<(KeyPurpose, [u8; 4], Option<KeyRecord>)>,
    accounts: Vec<(Uuid, Option<Account>)>,
    transfer_added: Option<Uuid>,
    reversed: Option<Uuid>,
    commitments: Vec<[u8; 32]>,
    deposit_added: Option<Uuid>,
    corrected: Option<((Uuid, Uuid, Uuid), Cents)>,
}

/// The ledger's state after replaying entries: keys, accounts, balances.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LedgerState {
    origin: Option<String>,
    size: u64,
    last_time_ms: u64,
    ledger_keys: BTreeMap<[u8; 4], KeyRecord>,
    voucher_keys: BTreeMap<[u8; 4], KeyRecord>,
    accounts: HashMap<Uuid, Account>,
    /// Per account, the indexes of every entry that touched it, in order. Kept apart from
    /// [`Account`] so that checking a transfer copies a few fixed-size fields, not a list that
    /// grows with every payment a busy fund or club account takes.
    history: HashMap<Uuid, Vec<u64>>,
    entry_ids: HashSet<Uuid>,
    transfers: HashMap<Uuid, ReversibleTransfer>,
    /// Every commitment on the ledger: each may appear once.
    commitments: HashSet<[u8; 32]>,
    /// Deposits by entry id, with their legs, for corrections.
    deposits: HashMap<Uuid, Vec<Flow>>,
    /// What was corrected so far per (deposit, fund, external account).
    corrected: HashMap<(Uuid, Uuid, Uuid), Cents>,
    /// Public replay: commitments are not opened; the vouchers of each fund are replayed as one
    /// pool account ([`pool_id`]).
    public: bool,
    /// The pool id of every fund, reserved in both replays so that no account can take it and
    /// the full and the public replay always agree.
    pool_ids: HashMap<Uuid, Uuid>,
}

/// The account that stands for all vouchers of `fund` in a public replay: the first 16 bytes of
/// `SHA-256("kindpakket/voucher-pool/v2\0" || fund)`, so no real account can be it.
pub fn pool_id(fund: &Uuid) -> Uuid {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(b"kindpakket/voucher-pool/v2\0");
    h.update(fund.as_bytes());
    let d: [u8; 32] = h.finalize().into();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    Uuid::from_bytes(b)
}

impl LedgerState {
    /// The state of an empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    /// The state of an empty ledger for a public replay: commitments are not opened, and each
    /// fund's vouchers are replayed together as one pool account ([`pool_id`]).
    pub fn public() -> Self {
        Self {
            public: true,
            ..Self::default()
        }
    }

    /// Whether this is a public replay.
    pub fn is_public(&self) -> bool {
        self.public
    }

    /// The log origin, once the genesis entry is applied.
    pub fn origin(&self) -> Option<&str> {
        self.origin.as_deref()
    }

    /// Number of entries applied.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Time of the last entry.
    pub fn last_time_ms(&self) -> u64 {
        self.last_time_ms
    }

    /// An account by id.
    pub fn account(&self, id: &Uuid) -> Option<&Account> {
        self.accounts.get(id)
    }

    /// Indexes of every entry that touched an account (opening, state changes, transfers),
    /// in order; empty for an unknown account.
    pub fn history(&self, id: &Uuid) -> &[u64] {
        self.history.get(id).map_or(&[], Vec::as_slice)
    }

    /// All accounts.
    pub fn accounts(&self) -> impl Iterator<Item = (&Uuid, &Account)> {
        self.accounts.iter()
    }

    /// A reversible transfer by entry id.
    pub fn reversible(&self, id: &Uuid) -> Option<&ReversibleTransfer> {
        self.transfers.get(id)
    }

    /// Every redemption and direct payment, by entry id.
    pub fn reversibles(&self) -> impl Iterator<Item = (&Uuid, &ReversibleTransfer)> {
        self.transfers.iter()
    }

    /// Keys of a purpose, by key id.
    pub fn keys(&self, purpose: KeyPurpose) -> &BTreeMap<[u8; 4], KeyRecord> {
        match purpose {
            KeyPurpose::Ledger => &self.ledger_keys,
            KeyPurpose::Voucher => &self.voucher_keys,
        }
    }

    /// The newest active key of a purpose: the one that signs from now on.
    pub fn active_key(&self, purpose: KeyPurpose) -> Option<([u8; 4], &KeyRecord)> {
        self.keys(purpose)
            .iter()
            .filter(|(_, k)| k.retired_at.is_none())
            .max_by_key(|(_, k)| k.added_at)
            .map(|(id, k)| (*id, k))
    }

    /// Sum of all balances; zero whenever the invariants hold.
    pub fn total(&self) -> i128 {
        self.accounts
            .values()
            .map(|a| i128::from(a.balance.0))
            .sum()
    }

    /// Checks an entry against every rule and applies it, or changes nothing.
    pub fn apply(&mut self, e: &SignedEntry) -> Result<Undo, Rejection> {
        let entry = &e.entry;
        if entry.index != self.size {
            return Err(Rejection::WrongIndex {
                expected: self.size,
                got: entry.index,
            });
        }
        if entry.time_ms < self.last_time_ms {
            return Err(Rejection::TimeWentBack);
        }
        if self.entry_ids.contains(&entry.id) {
            return Err(Rejection::DuplicateId(entry.id));
        }
        let is_genesis = matches!(entry.body, Body::Genesis { .. });
        if is_genesis != (self.size == 0) {
            return Err(Rejection::Genesis);
        }
        if !is_genesis {
            let signer = self.ledger_keys.get(&e.key_id);
            if signer.is_none_or(|k| k.retired_at.is_some()) {
                return Err(Rejection::Signer);
            }
        }
        let mut undo = Undo {
            size: self.size,
            last_time_ms: self.last_time_ms,
            id: entry.id,
            genesis: is_genesis,
            key: None,
            accounts: Vec::new(),
            transfer_added: None,
            reversed: None,
            commitments: Vec::new(),
            deposit_added: None,
            corrected: None,
        };
        let commitments = self.check_refs(&entry.body)?;
        match &entry.body {
            Body::Genesis { origin, ledger_key } => {
                self.apply_genesis(e, origin, ledger_key, &mut undo)?
            }
            Body::KeyEvent {
                action,
                purpose,
                key_id,
                public_key,
            } => self.apply_key_event(
                entry.index,
                *action,
                *purpose,
                key_id,
                public_key,
                &mut undo,
            )?,
            Body::OpenAccount {
                account,
                kind,
                flags,
                fund,
                party,
            } => self.apply_open_account(
                entry.index,
                account,
                *kind,
                *flags,
                fund,
                party,
                &mut undo,
            )?,
            Body::AccountState { account, status } => {
                self.apply_account_state(entry.index, account, *status, &mut undo)?
            }
            Body::Transfer { .. } => self.apply_transfer(&e.entry, &mut undo)?,
        }
        for c in &commitments {
            self.commitments.insert(*c);
        }
        undo.commitments = commitments;
        self.entry_ids.insert(entry.id);
        self.size += 1;
        self.last_time_ms = entry.time_ms;
        Ok(undo)
    }

    /// Takes back the most recently applied entry.
    pub fn undo(&mut self, undo: Undo) {
        self.size = undo.size;
        self.last_time_ms = undo.last_time_ms;
        self.entry_ids.remove(&undo.id);
        if undo.genesis {
            self.origin = None;
        }
        if let Some((purpose, id, prev)) = undo.key {
            let keys = match purpose {
                KeyPurpose::Ledger => &mut self.ledger_keys,
                KeyPurpose::Voucher => &mut self.voucher_keys,
            };
            match prev {
                Some(k) => keys.insert(id, k),
                None => keys.remove(&id),
            };
        }
        // Every account in `undo.accounts` got exactly one history index from this entry.
        for (id, prev) in undo.accounts.into_iter().rev() {
            match prev {
                Some(a) => {
                    self.accounts.insert(id, a);
                    if let Some(h) = self.history.get_mut(&id) {
                        h.pop();
                    }
                }
                None => {
                    if self
                        .accounts
                        .remove(&id)
                        .is_some_and(|a| a.kind == AccountKind::Fund)
                    {
                        self.pool_ids.remove(&pool_id(&id));
                    }
                    self.history.remove(&id);
                }
            }
        }
        if let Some(id) = undo.transfer_added {
            self.transfers.remove(&id);
        }
        if let Some(id) = undo.reversed
            && let Some(t) = self.transfers.get_mut(&id)
        {
            t.reversed_at = None;
        }
        for c in &undo.commitments {
            self.commitments.remove(c);
        }
        if let Some(id) = undo.deposit_added {
            self.deposits.remove(&id);
        }
        if let Some((k, prev)) = undo.corrected {
            if prev == Cents::ZERO {
                self.corrected.remove(&k);
            } else {
                self.corrected.insert(k, prev);
            }
        }
    }

    /// Every commitment of an entry must come with an opening that hashes to it and be new on
    /// the ledger (and within the entry). Returns the entry's commitments.
    fn check_refs(&self, body: &Body) -> Result<Vec<[u8; 32]>, Rejection> {
        let mut seen = Vec::new();
        for r in body.refs() {
            match r {
                AccountRef::Clear(_) => {}
                AccountRef::Voucher(_) => {
                    return Err(Rejection::Opening("a voucher reference was not sealed"));
                }
                AccountRef::Committed {
                    commitment,
                    opening,
                } => {
                    match opening {
                        Some(o) if o.commitment() != *commitment => {
                            return Err(Rejection::Opening(
                                "an opening does not match its commitment",
                            ));
                        }
                        Some(_) => {}
                        None if self.public => {}
                        None => return Err(Rejection::Opening("a commitment has no opening")),
                    }
                    if self.commitments.contains(commitment) || seen.contains(commitment) {
                        return Err(Rejection::DuplicateCommitment);
                    }
                    seen.push(*commitment);
                }
            }
        }
        Ok(seen)
    }

    /// The account a reference names, which must be a voucher exactly when it is committed. In
    /// a public replay, an unopened commitment is the pool of `fund`, when the context names one.
    pub(super) fn resolve_in(&self, r: &AccountRef, fund: Option<Uuid>) -> Result<Uuid, Rejection> {
        if self.public
            && let AccountRef::Committed { opening: None, .. } = r
        {
            return fund.map(|f| pool_id(&f)).ok_or(Rejection::InvalidTransfer(
                "a voucher commitment needs an account in the clear on the other side",
            ));
        }
        self.resolve(r)
    }

    /// The account a reference names, which must be a voucher exactly when it is committed.
    pub(super) fn resolve(&self, r: &AccountRef) -> Result<Uuid, Rejection> {
        let id = r
            .account()
            .ok_or(Rejection::Opening("a commitment has no opening"))?;
        if let Some(a) = self.accounts.get(&id)
            && (a.kind == AccountKind::Voucher) != r.is_voucher()
        {
            return Err(Rejection::InvalidAccount(
                "a voucher account is named by a commitment, every other account in the clear",
            ));
        }
        Ok(id)
    }
}

/// A valid Ed25519 point that is not of small order (weak keys would let batch and strict
/// verification disagree).
pub(super) fn usable_key(bytes: &[u8; 32]) -> bool {
    ed25519_dalek::VerifyingKey::from_bytes(bytes).is_ok_and(|k| !k.is_weak())
}

pub(super) fn put(changed: &mut Vec<(Uuid, Account)>, id: Uuid, acc: Account) {
    match changed.iter_mut().find(|(i, _)| *i == id) {
        Some(slot) => slot.1 = acc,
        None => changed.push((id, acc)),
    }
}
