//! The double-entry state machine: every rule an entry must satisfy, enforced in one place.
//!
//! Invariants (checked by [`LedgerState::apply`] before anything changes):
//! 1. Entries are numbered 0, 1, 2, … without gaps; time never goes back; entry ids are unique.
//! 2. Entry 0 is the genesis entry; every later entry is signed by an active ledger key.
//! 3. Every leg moves a positive amount between two different, open accounts, so every entry
//!    balances by construction; the sum of all balances is always zero.
//! 4. No account but an external one may go below zero.
//! 5. Each transfer kind moves money only along its own path (deposit: external → fund,
//!    issue and top-up: fund → its voucher, redeem and direct payment: active voucher → a
//!    provider of the same fund, reverse: the exact mirror of one earlier redemption or direct
//!    payment, at most once, expire: voucher → its fund, payout: provider → bank).
//! 6. A redemption carries a record of the voucher's token (its signed fields and digest, never
//!    the signature): same voucher, current generation, a known voucher key, not expired at the
//!    entry's time, and the category allowed by the token.
//! 7. An entry applies completely or not at all; [`LedgerState::undo`] takes it back exactly.

use std::collections::{BTreeMap, HashMap, HashSet};

use uuid::Uuid;

use super::category::Category;
use super::entry::{
    AccountKind, AccountStatus, Body, FLAG_NO_NEGATIVE, KeyAction, KeyPurpose, Leg, SignedEntry,
    TransferKind,
};
use super::money::Cents;
use super::note;
use super::token::{self, TokenRecord};

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
    /// Token generation (vouchers).
    pub generation: u8,
    /// Credits minus debits.
    pub balance: Cents,
    /// Whether an `issue` transfer has funded this voucher.
    pub issued: bool,
    /// Index of the entry that opened it.
    pub opened_at: u64,
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
    /// Its legs.
    pub legs: Vec<Leg>,
    /// Index of the reversing entry, once reversed.
    pub reversed_at: Option<u64>,
}

/// Why an entry was refused. [`Rejection::code`] gives a stable snake_case code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The entry's index is not the next one.
    #[error("entry index {got} is not the next index {expected}")]
    WrongIndex {
        /// The next index.
        expected: u64,
        /// The entry's index.
        got: u64,
    },
    /// The entry's time is before the previous entry's.
    #[error("entry time goes back")]
    TimeWentBack,
    /// The entry id was used before.
    #[error("entry id {0} is already on the ledger")]
    DuplicateId(Uuid),
    /// Entry 0 must be the genesis entry and only entry 0.
    #[error("genesis must be the first entry and only the first")]
    Genesis,
    /// The signing key is not an active ledger key.
    #[error("entry is not signed by an active ledger key")]
    Signer,
    /// A key event is inconsistent.
    #[error("invalid key event: {0}")]
    Key(&'static str),
    /// The account already exists.
    #[error("account {0} already exists")]
    AccountExists(Uuid),
    /// The account does not exist.
    #[error("account {0} does not exist")]
    UnknownAccount(Uuid),
    /// An account-opening or state entry is inconsistent.
    #[error("invalid account: {0}")]
    InvalidAccount(&'static str),
    /// A transfer's legs do not follow its kind's path.
    #[error("invalid transfer: {0}")]
    InvalidTransfer(&'static str),
    /// An account is closed.
    #[error("account {0} is closed")]
    Closed(Uuid),
    /// The voucher (or provider) is blocked.
    #[error("account {0} is blocked")]
    Blocked(Uuid),
    /// A balance would go below zero.
    #[error("insufficient balance on {account}: {balance:?} available")]
    InsufficientBalance {
        /// The account.
        account: Uuid,
        /// Its balance before the entry.
        balance: Cents,
    },
    /// A sum would overflow.
    #[error("amount overflow")]
    Overflow,
    /// The voucher was issued before.
    #[error("voucher {0} was already issued")]
    AlreadyIssued(Uuid),
    /// No such reversible transfer.
    #[error("no redemption or direct payment with id {0}")]
    UnknownTransfer(Uuid),
    /// Reversed before.
    #[error("transfer {0} was already reversed")]
    AlreadyReversed(Uuid),
    /// The redemption's token does not fit.
    #[error("token does not fit the redemption: {0}")]
    Token(&'static str),
    /// The token's generation is not the voucher's current one.
    #[error("token generation is outdated")]
    Generation,
    /// The token had expired at the entry's time.
    #[error("token expired")]
    Expired,
    /// The category is not allowed by the token.
    #[error("category not allowed")]
    Category,
}

impl Rejection {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::WrongIndex { .. } => "wrong_index",
            Rejection::TimeWentBack => "time_went_back",
            Rejection::DuplicateId(_) => "duplicate_entry_id",
            Rejection::Genesis => "genesis",
            Rejection::Signer => "unknown_signer",
            Rejection::Key(_) => "invalid_key_event",
            Rejection::AccountExists(_) => "account_exists",
            Rejection::UnknownAccount(_) => "unknown_account",
            Rejection::InvalidAccount(_) => "invalid_account",
            Rejection::InvalidTransfer(_) => "invalid_transfer",
            Rejection::Closed(_) => "account_closed",
            Rejection::Blocked(_) => "voucher_blocked",
            Rejection::InsufficientBalance { .. } => "insufficient_balance",
            Rejection::Overflow => "amount_overflow",
            Rejection::AlreadyIssued(_) => "already_issued",
            Rejection::UnknownTransfer(_) => "unknown_redemption",
            Rejection::AlreadyReversed(_) => "already_reversed",
            Rejection::Token(_) => "invalid_token",
            Rejection::Generation => "token_superseded",
            Rejection::Expired => "voucher_expired",
            Rejection::Category => "category_not_allowed",
        }
    }
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
}

impl LedgerState {
    /// The state of an empty ledger.
    pub fn new() -> Self {
        Self::default()
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

    /// The legs and category a reversal of the redemption or direct payment `original` must
    /// have: the original's, mirrored. The money goes back where it came from: to the voucher,
    /// or, when the voucher has been closed since (its fund expired), to the voucher's fund, as
    /// expiry would have sent it. This is the one place that decides where it goes.
    pub fn reversal_of(&self, original: &Uuid) -> Result<(Vec<Leg>, Option<Category>), Rejection> {
        let orig = self
            .transfers
            .get(original)
            .ok_or(Rejection::UnknownTransfer(*original))?;
        if orig.reversed_at.is_some() {
            return Err(Rejection::AlreadyReversed(*original));
        }
        let legs = orig
            .legs
            .iter()
            .map(|l| Leg {
                debit: l.credit,
                credit: match self.accounts.get(&l.debit) {
                    Some(v)
                        if v.kind == AccountKind::Voucher && v.status == AccountStatus::Closed =>
                    {
                        v.fund
                    }
                    _ => l.debit,
                },
                amount: l.amount,
            })
            .collect();
        Ok((legs, orig.category))
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
        };
        match &entry.body {
            Body::Genesis { origin, ledger_key } => {
                if !note::valid_key_name(origin) {
                    return Err(Rejection::Key("the origin is not a valid key name"));
                }
                if e.key_id != note::key_id(origin, ledger_key) {
                    return Err(Rejection::Signer);
                }
                if !usable_key(ledger_key) {
                    return Err(Rejection::Key("not a usable public key"));
                }
                self.origin = Some(origin.clone());
                self.ledger_keys.insert(
                    e.key_id,
                    KeyRecord {
                        public_key: *ledger_key,
                        added_at: 0,
                        retired_at: None,
                    },
                );
                undo.key = Some((KeyPurpose::Ledger, e.key_id, None));
            }
            Body::KeyEvent {
                action,
                purpose,
                key_id,
                public_key,
            } => {
                if *action == KeyAction::Added && !usable_key(public_key) {
                    return Err(Rejection::Key("not a usable public key"));
                }
                let expected_id = match purpose {
                    KeyPurpose::Ledger => {
                        note::key_id(self.origin.as_deref().unwrap_or(""), public_key)
                    }
                    KeyPurpose::Voucher => {
                        let vk = ed25519_dalek::VerifyingKey::from_bytes(public_key)
                            .map_err(|_| Rejection::Key("not a valid public key"))?;
                        token::voucher_key_id(&vk)
                    }
                };
                if *key_id != expected_id {
                    return Err(Rejection::Key("key id does not match the key"));
                }
                let keys = match purpose {
                    KeyPurpose::Ledger => &mut self.ledger_keys,
                    KeyPurpose::Voucher => &mut self.voucher_keys,
                };
                let prev = keys.get(key_id).cloned();
                match action {
                    KeyAction::Added => {
                        if prev.is_some() {
                            return Err(Rejection::Key("key already known"));
                        }
                        keys.insert(
                            *key_id,
                            KeyRecord {
                                public_key: *public_key,
                                added_at: entry.index,
                                retired_at: None,
                            },
                        );
                    }
                    KeyAction::Retired => {
                        let Some(rec) = prev.clone().filter(|k| k.public_key == *public_key) else {
                            return Err(Rejection::Key("unknown key"));
                        };
                        if rec.retired_at.is_some() {
                            return Err(Rejection::Key("key already retired"));
                        }
                        let active = keys.values().filter(|k| k.retired_at.is_none()).count();
                        if *purpose == KeyPurpose::Ledger && active <= 1 {
                            return Err(Rejection::Key("cannot retire the last ledger key"));
                        }
                        keys.insert(
                            *key_id,
                            KeyRecord {
                                retired_at: Some(entry.index),
                                ..rec
                            },
                        );
                    }
                }
                undo.key = Some((*purpose, *key_id, prev));
            }
            Body::OpenAccount {
                account,
                kind,
                flags,
                fund,
                party,
            } => {
                self.check_open(account, *kind, *flags, fund, party)?;
                undo.accounts.push((*account, None));
                self.accounts.insert(
                    *account,
                    Account {
                        kind: *kind,
                        flags: *flags,
                        fund: *fund,
                        party: *party,
                        status: AccountStatus::Active,
                        generation: 0,
                        balance: Cents::ZERO,
                        issued: false,
                        opened_at: entry.index,
                    },
                );
                self.history.insert(*account, vec![entry.index]);
            }
            Body::AccountState {
                account,
                status,
                generation,
            } => {
                let acc = self
                    .accounts
                    .get(account)
                    .ok_or(Rejection::UnknownAccount(*account))?;
                if !matches!(acc.kind, AccountKind::Voucher | AccountKind::Provider) {
                    return Err(Rejection::InvalidAccount(
                        "only vouchers and providers change state",
                    ));
                }
                if acc.status == AccountStatus::Closed {
                    return Err(Rejection::Closed(*account));
                }
                let next = acc.generation.checked_add(1);
                if *generation != acc.generation && Some(*generation) != next {
                    return Err(Rejection::InvalidAccount(
                        "generation may only go up by one",
                    ));
                }
                if *status == AccountStatus::Closed && acc.balance != Cents::ZERO {
                    return Err(Rejection::InvalidAccount(
                        "only an empty account can be closed",
                    ));
                }
                let prev = *acc;
                let new = Account {
                    status: *status,
                    generation: *generation,
                    ..prev
                };
                undo.accounts.push((*account, Some(prev)));
                self.accounts.insert(*account, new);
                self.history.entry(*account).or_default().push(entry.index);
            }
            Body::Transfer {
                kind,
                category,
                reference,
                legs,
                attachment,
            } => {
                let changed = self.check_transfer(
                    entry.time_ms,
                    *kind,
                    *category,
                    reference,
                    legs,
                    attachment,
                )?;
                if *kind == TransferKind::Reverse {
                    let t = self
                        .transfers
                        .get_mut(reference)
                        .ok_or(Rejection::UnknownTransfer(*reference))?;
                    t.reversed_at = Some(entry.index);
                    undo.reversed = Some(*reference);
                }
                if matches!(kind, TransferKind::Redeem | TransferKind::DirectPayment) {
                    self.transfers.insert(
                        entry.id,
                        ReversibleTransfer {
                            index: entry.index,
                            kind: *kind,
                            category: *category,
                            legs: legs.clone(),
                            reversed_at: None,
                        },
                    );
                    undo.transfer_added = Some(entry.id);
                }
                for (id, acc) in changed {
                    let prev = self.accounts.insert(id, acc);
                    undo.accounts.push((id, prev));
                    self.history.entry(id).or_default().push(entry.index);
                }
            }
        }
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
                    self.accounts.remove(&id);
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
    }

    fn check_open(
        &self,
        account: &Uuid,
        kind: AccountKind,
        flags: u16,
        fund: &Uuid,
        party: &Uuid,
    ) -> Result<(), Rejection> {
        if account.is_nil() {
            return Err(Rejection::InvalidAccount("nil account id"));
        }
        if self.accounts.contains_key(account) {
            return Err(Rejection::AccountExists(*account));
        }
        if kind != AccountKind::External && flags & FLAG_NO_NEGATIVE == 0 {
            return Err(Rejection::InvalidAccount(
                "only external accounts may go negative",
            ));
        }
        let fund_ok = |f: &Uuid| {
            self.accounts
                .get(f)
                .is_some_and(|a| a.kind == AccountKind::Fund)
        };
        match kind {
            AccountKind::External | AccountKind::Fund | AccountKind::Bank => {
                if !fund.is_nil() || !party.is_nil() {
                    return Err(Rejection::InvalidAccount("this kind has no fund or party"));
                }
            }
            AccountKind::Voucher => {
                if !fund_ok(fund) || !party.is_nil() {
                    return Err(Rejection::InvalidAccount("a voucher belongs to a fund"));
                }
            }
            AccountKind::Provider => {
                if !fund_ok(fund) || party.is_nil() {
                    return Err(Rejection::InvalidAccount(
                        "a provider account names a fund and a provider",
                    ));
                }
            }
        }
        Ok(())
    }

    /// Checks a transfer and returns the new state of every account it touches.
    fn check_transfer(
        &self,
        time_ms: u64,
        kind: TransferKind,
        category: Option<Category>,
        reference: &Uuid,
        legs: &[Leg],
        attachment: &[u8],
    ) -> Result<Vec<(Uuid, Account)>, Rejection> {
        use AccountKind as K;
        use TransferKind as T;
        if legs.is_empty() {
            return Err(Rejection::InvalidTransfer("no legs"));
        }
        let needs_category = matches!(kind, T::Redeem | T::DirectPayment | T::Reverse);
        if needs_category != category.is_some() {
            return Err(Rejection::InvalidTransfer(
                "only redemptions, direct payments and their reversals carry a category",
            ));
        }
        if matches!(kind, T::Redeem | T::DirectPayment | T::Reverse) && legs.len() != 1 {
            return Err(Rejection::InvalidTransfer("this kind has exactly one leg"));
        }
        let refs_something = matches!(kind, T::Reverse);
        if refs_something == reference.is_nil() {
            return Err(Rejection::InvalidTransfer(
                "only a reversal refers to another entry",
            ));
        }
        match kind {
            T::Redeem => {}
            T::Payout if attachment.len() > 64 => {
                return Err(Rejection::InvalidTransfer("payout attachment too long"));
            }
            T::Payout => {}
            _ if !attachment.is_empty() => {
                return Err(Rejection::InvalidTransfer("unexpected attachment"));
            }
            _ => {}
        }
        if kind == T::Reverse {
            let (mirrored, original_category) = self.reversal_of(reference)?;
            if mirrored != legs || original_category != category {
                return Err(Rejection::InvalidTransfer(
                    "a reversal mirrors the original exactly",
                ));
            }
        }
        let mut changed: Vec<(Uuid, Account)> = Vec::new();
        for leg in legs {
            if leg.debit == leg.credit {
                return Err(Rejection::InvalidTransfer(
                    "debit and credit are the same account",
                ));
            }
            if !leg.amount.is_positive() {
                return Err(Rejection::InvalidTransfer("amounts must be positive"));
            }
            let d = self.current(&changed, &leg.debit)?;
            let c = self.current(&changed, &leg.credit)?;
            for (id, a) in [(leg.debit, &d), (leg.credit, &c)] {
                if a.status == AccountStatus::Closed {
                    return Err(Rejection::Closed(id));
                }
            }
            let path_ok = match kind {
                T::Deposit => d.kind == K::External && c.kind == K::Fund,
                T::Issue | T::TopUp => {
                    d.kind == K::Fund && c.kind == K::Voucher && c.fund == leg.debit
                }
                T::Redeem | T::DirectPayment => {
                    d.kind == K::Voucher && c.kind == K::Provider && c.fund == d.fund
                }
                T::Reverse => {
                    d.kind == K::Provider
                        && (c.kind == K::Voucher || (c.kind == K::Fund && d.fund == leg.credit))
                }
                T::Expire => d.kind == K::Voucher && c.kind == K::Fund && d.fund == leg.credit,
                T::Payout => d.kind == K::Provider && c.kind == K::Bank,
            };
            if !path_ok {
                return Err(Rejection::InvalidTransfer(
                    "accounts do not fit the transfer kind",
                ));
            }
            let mut d = d;
            let mut c = c;
            match kind {
                T::Issue => {
                    if c.issued {
                        return Err(Rejection::AlreadyIssued(leg.credit));
                    }
                    c.issued = true;
                }
                T::TopUp if !c.issued => {
                    return Err(Rejection::InvalidTransfer("top-up before issue"));
                }
                T::Redeem | T::DirectPayment => {
                    if d.status == AccountStatus::Blocked {
                        return Err(Rejection::Blocked(leg.debit));
                    }
                    if c.status == AccountStatus::Blocked {
                        return Err(Rejection::InvalidTransfer("provider is blocked"));
                    }
                }
                _ => {}
            }
            if kind == T::Redeem {
                self.check_token(time_ms, attachment, leg.debit, &d, category)?;
            }
            let before = d.balance;
            d.balance = d
                .balance
                .checked_sub(leg.amount)
                .ok_or(Rejection::Overflow)?;
            if d.flags & FLAG_NO_NEGATIVE != 0 && d.balance.0 < 0 {
                return Err(Rejection::InsufficientBalance {
                    account: leg.debit,
                    balance: before,
                });
            }
            c.balance = c
                .balance
                .checked_add(leg.amount)
                .ok_or(Rejection::Overflow)?;
            put(&mut changed, leg.debit, d);
            put(&mut changed, leg.credit, c);
        }
        Ok(changed)
    }

    fn check_token(
        &self,
        time_ms: u64,
        attachment: &[u8],
        voucher: Uuid,
        acc: &Account,
        category: Option<Category>,
    ) -> Result<(), Rejection> {
        let t = TokenRecord::from_bytes(attachment)
            .map_err(|_| Rejection::Token("attachment is not a token record"))?;
        if t.voucher != voucher {
            return Err(Rejection::Token("token is for another voucher"));
        }
        if !self.voucher_keys.contains_key(&t.key_id) {
            return Err(Rejection::Token("token signed by an unknown voucher key"));
        }
        if t.generation != acc.generation {
            return Err(Rejection::Generation);
        }
        if time_ms / 1000 >= u64::from(t.expiry) {
            return Err(Rejection::Expired);
        }
        if !category.is_some_and(|c| t.categories.contains(c)) {
            return Err(Rejection::Category);
        }
        Ok(())
    }

    fn current(&self, changed: &[(Uuid, Account)], id: &Uuid) -> Result<Account, Rejection> {
        changed
            .iter()
            .rev()
            .find(|(i, _)| i == id)
            .map(|(_, a)| *a)
            .or_else(|| self.accounts.get(id).copied())
            .ok_or(Rejection::UnknownAccount(*id))
    }
}

/// A valid Ed25519 point that is not of small order (weak keys would let batch and strict
/// verification disagree).
fn usable_key(bytes: &[u8; 32]) -> bool {
    ed25519_dalek::VerifyingKey::from_bytes(bytes).is_ok_and(|k| !k.is_weak())
}

fn put(changed: &mut Vec<(Uuid, Account)>, id: Uuid, acc: Account) {
    match changed.iter_mut().find(|(i, _)| *i == id) {
        Some(slot) => slot.1 = acc,
        None => changed.push((id, acc)),
    }
}

#[cfg(test)]
pub(crate) mod tests;
