//! Ledger entries and their canonical binary encoding (the bytes that are hashed and signed).
//!
//! All integers are big-endian; every variable-length field is length-prefixed; decoding is
//! strict, so each entry has exactly one valid encoding. The full layout, with test vectors, is
//! in `docs/ledger-format.md`.
//!
//! ```text
//! SignedEntry = content || key_id[4] || signature[64]
//! content     = version u8 (=2) | kind u8 | index u64 | time_ms u64 | id[16] | body_len u16 | body
//! signature   = Ed25519(ledger key, "kindpakket/ledger-entry/v2\0" || content || key_id)
//! ```
//!
//! A voucher account never appears in the clear: every appearance is a fresh commitment
//! `SHA-256("kindpakket/voucher-commitment/v2\0" || salt[16] || account[16])` whose opening
//! (salt and account) is kept off the public ledger ([`Opening`]).

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use uuid::Uuid;

use super::category::Category;
use super::money::Cents;

/// Encoding version of entries.
pub const VERSION: u8 = 2;
/// Domain-separation prefix of entry signatures.
pub const SIGNING_CONTEXT: &[u8] = b"kindpakket/ledger-entry/v2\0";
/// Domain-separation prefix of voucher commitments.
pub const COMMITMENT_CONTEXT: &[u8] = b"kindpakket/voucher-commitment/v2\0";
/// Tag byte of an account named in the clear.
const REF_CLEAR: u8 = 0x01;
/// Tag byte of a voucher account named by a commitment.
const REF_COMMITTED: u8 = 0x02;
/// Largest encoded body.
pub const MAX_BODY: usize = u16::MAX as usize;
/// Most legs in one transfer.
pub const MAX_LEGS: usize = 255;

/// Account flag: debits may never exceed credits (the balance cannot go below zero).
pub const FLAG_NO_NEGATIVE: u16 = 0x0001;
const KNOWN_FLAGS: u16 = FLAG_NO_NEGATIVE;

/// Why bytes are not a valid entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input ended early.
    #[error("entry is truncated")]
    Truncated,
    /// Bytes remain after the entry.
    #[error("entry has trailing bytes")]
    Trailing,
    /// Unknown version byte.
    #[error("unknown entry version {0}")]
    Version(u8),
    /// Unknown kind or enum value.
    #[error("unknown value for {0}")]
    Unknown(&'static str),
    /// A field holds a value the format forbids.
    #[error("invalid {0}")]
    Invalid(&'static str),
}

macro_rules! wire_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $n:literal => $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vm])* $v = $n),+ }
        impl $name {
            /// The wire byte.
            pub fn code(self) -> u8 { self as u8 }
            /// Parses a wire byte.
            pub fn from_code(c: u8) -> Option<Self> { match c { $($n => Some(Self::$v),)+ _ => None } }
            /// Stable snake_case name used in JSON views.
            pub fn as_str(self) -> &'static str { match self { $(Self::$v => $s),+ } }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(self.as_str()) }
        }
    };
}

wire_enum!(
    /// Entry kinds.
    EntryKind {
        /// First entry: the log's origin and ledger key.
        Genesis = 1 => "genesis",
        /// A signing key was added or retired.
        KeyEvent = 2 => "key_event",
        /// A new account.
        OpenAccount = 3 => "open_account",
        /// An account's status or generation changed.
        AccountState = 4 => "account_state",
        /// Money moved.
        Transfer = 5 => "transfer",
    }
);

wire_enum!(
    /// What a key event does.
    KeyAction {
        /// The key becomes usable.
        Added = 1 => "added",
        /// The key signs nothing new. Entries it signed stay verifiable; tokens it signed stay
        /// spendable (tokens carry no issue time, and reissuing every printed letter after a
        /// routine rotation would burden parents for nothing).
        Retired = 2 => "retired",
    }
);

wire_enum!(
    /// What a key is for.
    KeyPurpose {
        /// Signs ledger entries and checkpoints.
        Ledger = 1 => "ledger",
        /// Signs voucher tokens.
        Voucher = 2 => "voucher",
    }
);

wire_enum!(
    /// Kinds of accounts.
    AccountKind {
        /// Money from outside (the sponsor); the only kind that may go negative.
        External = 1 => "external",
        /// A fund (regeling): budget not yet given to a voucher.
        Fund = 2 => "fund",
        /// A voucher: one child's (or household's) budget in one fund.
        Voucher = 3 => "voucher",
        /// What Leergeld owes one provider for one fund.
        Provider = 4 => "provider",
        /// Money paid out to providers by bank transfer.
        Bank = 5 => "bank",
    }
);

wire_enum!(
    /// Account status.
    AccountStatus {
        /// Usable.
        Active = 1 => "active",
        /// Blocked: cannot be spent from (a lost voucher).
        Blocked = 2 => "blocked",
        /// Closed for good.
        Closed = 3 => "closed",
    }
);

wire_enum!(
    /// Kinds of transfers.
    TransferKind {
        /// Sponsor money into a fund (external → fund).
        Deposit = 1 => "deposit",
        /// Budget onto a new voucher (fund → voucher).
        Issue = 2 => "issue",
        /// A club redeems a voucher with its token (voucher → provider).
        Redeem = 3 => "redeem",
        /// Undoes an earlier redemption or direct payment (provider → voucher).
        Reverse = 4 => "reverse",
        /// Extra budget onto an existing voucher (fund → voucher).
        TopUp = 5 => "top_up",
        /// End of the period: what is left goes back to the fund (voucher → fund).
        Expire = 6 => "expire",
        /// Leergeld pays a provider from a voucher without a token (voucher → provider).
        DirectPayment = 7 => "direct_payment",
        /// Bank transfer to a provider (provider → bank).
        Payout = 8 => "payout",
        /// Takes back (part of) a deposit booked in error (fund → external).
        DepositCorrection = 9 => "deposit_correction",
    }
);

/// The private half of a voucher commitment: the random salt and the voucher's ledger account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Opening {
    /// 16 random bytes, fresh for every appearance.
    pub salt: [u8; 16],
    /// The voucher's ledger account id.
    pub account: Uuid,
}

impl Opening {
    /// Size of one opening in bytes (salt, account).
    pub const LEN: usize = 32;

    /// A fresh opening for `account` with a random salt.
    pub fn fresh(account: Uuid) -> Result<Self, EncodeError> {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|_| EncodeError::Invalid("no randomness for a salt"))?;
        Ok(Self { salt, account })
    }

    /// `SHA-256(COMMITMENT_CONTEXT || salt || account)`.
    pub fn commitment(&self) -> [u8; 32] {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(COMMITMENT_CONTEXT);
        h.update(self.salt);
        h.update(self.account.as_bytes());
        h.finalize().into()
    }

    /// `salt || account`.
    pub fn to_bytes(&self) -> [u8; 32] {
        let mut b = [0u8; 32];
        b[..16].copy_from_slice(&self.salt);
        b[16..].copy_from_slice(self.account.as_bytes());
        b
    }

    /// The openings of one entry, concatenated.
    pub fn encode_all(openings: &[Opening]) -> Vec<u8> {
        openings.iter().flat_map(|o| o.to_bytes()).collect()
    }

    /// Splits concatenated openings; `None` unless the length is a multiple of 32.
    pub fn decode_all(bytes: &[u8]) -> Option<Vec<Opening>> {
        if !bytes.len().is_multiple_of(Self::LEN) {
            return None;
        }
        Some(
            bytes
                .chunks_exact(Self::LEN)
                .map(|c| {
                    let mut salt = [0u8; 16];
                    salt.copy_from_slice(&c[..16]);
                    let mut acc = [0u8; 16];
                    acc.copy_from_slice(&c[16..]);
                    Opening {
                        salt,
                        account: Uuid::from_bytes(acc),
                    }
                })
                .collect(),
        )
    }
}

/// How an entry names an account.
#[derive(Debug, Clone, Copy)]
pub enum AccountRef {
    /// A fund, provider, bank or external account, in the clear.
    Clear(Uuid),
    /// A voucher account as the writer means it, before sealing: it cannot be encoded.
    /// [`Body::seal`] turns it into a fresh commitment.
    Voucher(Uuid),
    /// A voucher account as it is on the ledger: a commitment, with its opening where known
    /// (to the writer and the full audit; never to the public).
    Committed {
        /// `SHA-256(COMMITMENT_CONTEXT || salt || account)`.
        commitment: [u8; 32],
        /// Salt and account, when known.
        opening: Option<Opening>,
    },
}

impl PartialEq for AccountRef {
    /// Equal when they encode the same (an opening does not count).
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Clear(a), Self::Clear(b)) | (Self::Voucher(a), Self::Voucher(b)) => a == b,
            (Self::Committed { commitment: a, .. }, Self::Committed { commitment: b, .. }) => {
                a == b
            }
            _ => false,
        }
    }
}
impl Eq for AccountRef {}

impl AccountRef {
    /// The account named, when it is known: always for clear and unsealed references, for a
    /// commitment only with its opening.
    pub fn account(&self) -> Option<Uuid> {
        match self {
            Self::Clear(a) | Self::Voucher(a) => Some(*a),
            Self::Committed { opening, .. } => opening.map(|o| o.account),
        }
    }

    /// The account in the clear, if this is a clear reference.
    pub fn clear(&self) -> Option<Uuid> {
        match self {
            Self::Clear(a) => Some(*a),
            _ => None,
        }
    }

    /// The commitment, if this is a committed reference.
    pub fn commitment(&self) -> Option<[u8; 32]> {
        match self {
            Self::Committed { commitment, .. } => Some(*commitment),
            _ => None,
        }
    }

    /// Whether this names a voucher (committed or unsealed).
    pub fn is_voucher(&self) -> bool {
        !matches!(self, Self::Clear(_))
    }

    fn seal(&mut self, openings: &mut Vec<Opening>) -> Result<(), EncodeError> {
        match *self {
            Self::Clear(_) => {}
            Self::Voucher(account) => {
                let o = Opening::fresh(account)?;
                *self = Self::Committed {
                    commitment: o.commitment(),
                    opening: Some(o),
                };
                openings.push(o);
            }
            Self::Committed { opening, .. } => {
                openings.push(opening.ok_or(EncodeError::Invalid("commitment without opening"))?)
            }
        }
        Ok(())
    }

    fn open(&mut self, openings: &mut std::slice::Iter<'_, Opening>) -> Result<(), OpeningError> {
        if let Self::Committed {
            commitment,
            opening,
        } = self
        {
            let o = openings.next().ok_or(OpeningError::Missing)?;
            if o.commitment() != *commitment {
                return Err(OpeningError::Mismatch);
            }
            *opening = Some(*o);
        }
        Ok(())
    }
}

/// Why an entry's openings do not fit it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OpeningError {
    /// A commitment has no opening.
    #[error("a commitment has no opening")]
    Missing,
    /// More openings than commitments.
    #[error("more openings than commitments")]
    Extra,
    /// An opening does not hash to its commitment.
    #[error("an opening does not match its commitment")]
    Mismatch,
    /// The stored openings are not a whole number of 32-byte openings.
    #[error("openings are not a multiple of 32 bytes")]
    Malformed,
}

/// One movement of money: `amount` leaves `debit` and arrives at `credit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leg {
    /// Account that is debited.
    pub debit: AccountRef,
    /// Account that is credited.
    pub credit: AccountRef,
    /// Amount, strictly positive.
    pub amount: Cents,
}

impl Leg {
    /// A leg between two accounts named in the clear.
    pub fn clear(debit: Uuid, credit: Uuid, amount: Cents) -> Self {
        Self {
            debit: AccountRef::Clear(debit),
            credit: AccountRef::Clear(credit),
            amount,
        }
    }
}

/// Kind-specific content of an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// The first entry of every ledger.
    Genesis {
        /// Log origin (also the checkpoint key name).
        origin: String,
        /// The first ledger public key.
        ledger_key: [u8; 32],
    },
    /// A key was added or retired.
    KeyEvent {
        /// Added or retired.
        action: KeyAction,
        /// Ledger or voucher key.
        purpose: KeyPurpose,
        /// The key's id (note key id for ledger keys, token key id for voucher keys).
        key_id: [u8; 4],
        /// The public key.
        public_key: [u8; 32],
    },
    /// A new account.
    OpenAccount {
        /// Random account id; a voucher's is committed (and unrelated to its token's id).
        account: AccountRef,
        /// What kind of account.
        kind: AccountKind,
        /// `FLAG_*` bits.
        flags: u16,
        /// The fund a voucher or provider account belongs to (nil otherwise).
        fund: Uuid,
        /// The organisation behind a provider account (nil otherwise).
        party: Uuid,
    },
    /// Status change (block, unblock, reissue, close).
    AccountState {
        /// The account (a voucher's committed).
        account: AccountRef,
        /// New status.
        status: AccountStatus,
    },
    /// A balanced movement of money.
    Transfer {
        /// What kind of movement.
        kind: TransferKind,
        /// Spending category, for redemptions and direct payments.
        category: Option<Category>,
        /// The id this transfer refers to (for a reversal: the reversed entry's id), or nil.
        reference: Uuid,
        /// The legs, applied all together or not at all.
        legs: Vec<Leg>,
        /// Opaque kind-specific bytes: a payout's reference; empty for every other kind.
        attachment: Vec<u8>,
    },
}

impl Body {
    /// The kind byte for this body.
    pub fn kind(&self) -> EntryKind {
        match self {
            Body::Genesis { .. } => EntryKind::Genesis,
            Body::KeyEvent { .. } => EntryKind::KeyEvent,
            Body::OpenAccount { .. } => EntryKind::OpenAccount,
            Body::AccountState { .. } => EntryKind::AccountState,
            Body::Transfer { .. } => EntryKind::Transfer,
        }
    }

    fn refs_mut(&mut self) -> Vec<&mut AccountRef> {
        match self {
            Body::OpenAccount { account, .. } | Body::AccountState { account, .. } => {
                vec![account]
            }
            Body::Transfer { legs, .. } => legs
                .iter_mut()
                .flat_map(|l| [&mut l.debit, &mut l.credit])
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Every account reference in slot order: an opened or state-changed account, or each
    /// leg's debit then credit.
    pub fn refs(&self) -> Vec<&AccountRef> {
        match self {
            Body::OpenAccount { account, .. } | Body::AccountState { account, .. } => {
                vec![account]
            }
            Body::Transfer { legs, .. } => {
                legs.iter().flat_map(|l| [&l.debit, &l.credit]).collect()
            }
            _ => Vec::new(),
        }
    }

    /// Turns every unsealed voucher reference into a fresh commitment and returns the
    /// openings of all commitments in slot order.
    pub fn seal(&mut self) -> Result<Vec<Opening>, EncodeError> {
        let mut openings = Vec::new();
        for r in self.refs_mut() {
            r.seal(&mut openings)?;
        }
        Ok(openings)
    }

    /// Attaches openings (in slot order) to the commitments, checking each against its
    /// commitment and that none is missing or left over.
    pub fn open(&mut self, openings: &[Opening]) -> Result<(), OpeningError> {
        let mut it = openings.iter();
        for r in self.refs_mut() {
            r.open(&mut it)?;
        }
        if it.next().is_some() {
            return Err(OpeningError::Extra);
        }
        Ok(())
    }

    /// The openings attached to this body's commitments, in slot order (`None` if one is
    /// missing).
    pub fn openings(&self) -> Option<Vec<Opening>> {
        self.refs()
            .into_iter()
            .filter_map(|r| match r {
                AccountRef::Committed { opening, .. } => Some(*opening),
                _ => None,
            })
            .collect()
    }
}

/// An unsigned entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Position in the log (equal to its leaf index).
    pub index: u64,
    /// Sequencer time in milliseconds since the Unix epoch; never decreases.
    pub time_ms: u64,
    /// Unique id of the entry.
    pub id: Uuid,
    /// What happened.
    pub body: Body,
}

/// An entry with its ledger signature. Its encoding is the Merkle leaf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedEntry {
    /// The entry.
    pub entry: Entry,
    /// Note key id of the ledger key that signed it.
    pub key_id: [u8; 4],
    /// Ed25519 signature over `SIGNING_CONTEXT || content || key_id`.
    pub signature: [u8; 64],
}

struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn bytes(&mut self, b: &[u8]) {
        self.0.extend_from_slice(b);
    }
    fn uuid(&mut self, u: &Uuid) {
        self.0.extend_from_slice(u.as_bytes());
    }
    fn account(&mut self, r: &AccountRef) -> Result<(), EncodeError> {
        match r {
            AccountRef::Clear(u) => {
                self.u8(REF_CLEAR);
                self.uuid(u);
            }
            AccountRef::Committed { commitment, .. } => {
                self.u8(REF_COMMITTED);
                self.bytes(commitment);
            }
            AccountRef::Voucher(_) => {
                return Err(EncodeError::Invalid(
                    "a voucher account must be sealed into a commitment",
                ));
            }
        }
        Ok(())
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.0.len() < n {
            return Err(DecodeError::Truncated);
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array()?))
    }
    fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array()?))
    }
    fn uuid(&mut self) -> Result<Uuid, DecodeError> {
        Ok(Uuid::from_bytes(self.array()?))
    }
    fn account(&mut self) -> Result<AccountRef, DecodeError> {
        match self.u8()? {
            REF_CLEAR => Ok(AccountRef::Clear(self.uuid()?)),
            REF_COMMITTED => Ok(AccountRef::Committed {
                commitment: self.array()?,
                opening: None,
            }),
            _ => Err(DecodeError::Unknown("account reference")),
        }
    }
    fn finish(&self) -> Result<(), DecodeError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::Trailing)
        }
    }
}

/// Why an entry cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// A field is outside what the format can carry.
    #[error("cannot encode entry: {0}")]
    Invalid(&'static str),
}

fn encode_body(body: &Body, w: &mut Writer) -> Result<(), EncodeError> {
    match body {
        Body::Genesis { origin, ledger_key } => {
            if origin.is_empty() || origin.len() > 255 {
                return Err(EncodeError::Invalid("origin must be 1..255 bytes"));
            }
            w.u8(origin.len() as u8);
            w.bytes(origin.as_bytes());
            w.bytes(ledger_key);
        }
        Body::KeyEvent {
            action,
            purpose,
            key_id,
            public_key,
        } => {
            w.u8(action.code());
            w.u8(purpose.code());
            w.bytes(key_id);
            w.bytes(public_key);
        }
        Body::OpenAccount {
            account,
            kind,
            flags,
            fund,
            party,
        } => {
            w.account(account)?;
            w.u8(kind.code());
            w.u16(*flags);
            w.uuid(fund);
            w.uuid(party);
        }
        Body::AccountState { account, status } => {
            w.account(account)?;
            w.u8(status.code());
        }
        Body::Transfer {
            kind,
            category,
            reference,
            legs,
            attachment,
        } => {
            if legs.is_empty() || legs.len() > MAX_LEGS {
                return Err(EncodeError::Invalid("a transfer has 1..255 legs"));
            }
            w.u8(kind.code());
            w.u8(category.map_or(0, Category::code));
            w.uuid(reference);
            w.u8(legs.len() as u8);
            for leg in legs {
                if leg.amount.0 <= 0 {
                    return Err(EncodeError::Invalid("leg amounts must be positive"));
                }
                w.account(&leg.debit)?;
                w.account(&leg.credit)?;
                w.u64(leg.amount.0 as u64);
            }
            if attachment.len() > MAX_BODY {
                return Err(EncodeError::Invalid("attachment too long"));
            }
            w.u16(attachment.len() as u16);
            w.bytes(attachment);
        }
    }
    Ok(())
}

fn decode_body(kind: EntryKind, r: &mut Reader<'_>) -> Result<Body, DecodeError> {
    let body = match kind {
        EntryKind::Genesis => {
            let len = usize::from(r.u8()?);
            let origin = std::str::from_utf8(r.take(len)?)
                .map_err(|_| DecodeError::Invalid("origin encoding"))?;
            if !super::note::valid_key_name(origin) {
                return Err(DecodeError::Invalid("origin"));
            }
            Body::Genesis {
                origin: origin.to_owned(),
                ledger_key: r.array()?,
            }
        }
        EntryKind::KeyEvent => Body::KeyEvent {
            action: KeyAction::from_code(r.u8()?).ok_or(DecodeError::Unknown("key action"))?,
            purpose: KeyPurpose::from_code(r.u8()?).ok_or(DecodeError::Unknown("key purpose"))?,
            key_id: r.array()?,
            public_key: r.array()?,
        },
        EntryKind::OpenAccount => {
            let account = r.account()?;
            let kind =
                AccountKind::from_code(r.u8()?).ok_or(DecodeError::Unknown("account kind"))?;
            let flags = r.u16()?;
            if flags & !KNOWN_FLAGS != 0 {
                return Err(DecodeError::Unknown("account flags"));
            }
            Body::OpenAccount {
                account,
                kind,
                flags,
                fund: r.uuid()?,
                party: r.uuid()?,
            }
        }
        EntryKind::AccountState => Body::AccountState {
            account: r.account()?,
            status: AccountStatus::from_code(r.u8()?)
                .ok_or(DecodeError::Unknown("account status"))?,
        },
        EntryKind::Transfer => {
            let kind =
                TransferKind::from_code(r.u8()?).ok_or(DecodeError::Unknown("transfer kind"))?;
            let category = match r.u8()? {
                0 => None,
                c => Some(Category::from_code(c).ok_or(DecodeError::Unknown("category"))?),
            };
            let reference = r.uuid()?;
            let n = usize::from(r.u8()?);
            if n == 0 {
                return Err(DecodeError::Invalid("transfer without legs"));
            }
            let mut legs = Vec::with_capacity(n);
            for _ in 0..n {
                let debit = r.account()?;
                let credit = r.account()?;
                let amount = r.u64()?;
                if amount == 0 || amount > i64::MAX as u64 {
                    return Err(DecodeError::Invalid("leg amount"));
                }
                legs.push(Leg {
                    debit,
                    credit,
                    amount: Cents(amount as i64),
                });
            }
            let len = usize::from(r.u16()?);
            Body::Transfer {
                kind,
                category,
                reference,
                legs,
                attachment: r.take(len)?.to_vec(),
            }
        }
    };
    Ok(body)
}

impl Entry {
    /// The canonical content bytes (everything that is signed).
    pub fn content(&self) -> Result<Vec<u8>, EncodeError> {
        let mut body = Writer(Vec::with_capacity(160));
        encode_body(&self.body, &mut body)?;
        if body.0.len() > MAX_BODY {
            return Err(EncodeError::Invalid("body too long"));
        }
        let mut w = Writer(Vec::with_capacity(36 + body.0.len() + 68));
        w.u8(VERSION);
        w.u8(self.body.kind().code());
        w.u64(self.index);
        w.u64(self.time_ms);
        w.uuid(&self.id);
        w.u16(body.0.len() as u16);
        w.bytes(&body.0);
        Ok(w.0)
    }

    /// Signs the entry with a ledger key whose note key id is `key_id`.
    pub fn sign(self, key: &SigningKey, key_id: [u8; 4]) -> Result<SignedEntry, EncodeError> {
        let msg = signing_message(&self.content()?, &key_id);
        let signature = key.sign(&msg).to_bytes();
        Ok(SignedEntry {
            entry: self,
            key_id,
            signature,
        })
    }
}

fn signing_message(content: &[u8], key_id: &[u8; 4]) -> Vec<u8> {
    let mut m = Vec::with_capacity(SIGNING_CONTEXT.len() + content.len() + 4);
    m.extend_from_slice(SIGNING_CONTEXT);
    m.extend_from_slice(content);
    m.extend_from_slice(key_id);
    m
}

impl SignedEntry {
    /// The canonical bytes: content, key id, signature. This is the Merkle leaf.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        let mut b = self.entry.content()?;
        b.extend_from_slice(&self.key_id);
        b.extend_from_slice(&self.signature);
        Ok(b)
    }

    /// Decodes canonical bytes strictly.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader(bytes);
        let version = r.u8()?;
        if version != VERSION {
            return Err(DecodeError::Version(version));
        }
        let kind = EntryKind::from_code(r.u8()?).ok_or(DecodeError::Unknown("entry kind"))?;
        let index = r.u64()?;
        let time_ms = r.u64()?;
        let id = r.uuid()?;
        let len = usize::from(r.u16()?);
        let mut body_reader = Reader(r.take(len)?);
        let body = decode_body(kind, &mut body_reader)?;
        body_reader.finish()?;
        let key_id = r.array()?;
        let signature = r.array()?;
        r.finish()?;
        Ok(Self {
            entry: Entry {
                index,
                time_ms,
                id,
                body,
            },
            key_id,
            signature,
        })
    }

    /// The message the signature covers.
    pub fn signing_message(&self) -> Result<Vec<u8>, EncodeError> {
        Ok(signing_message(&self.entry.content()?, &self.key_id))
    }

    /// Attaches the entry's openings ([`Body::open`]).
    pub fn open(&mut self, openings: &[Opening]) -> Result<(), OpeningError> {
        self.entry.body.open(openings)
    }

    /// Attaches openings as stored (concatenated 32-byte openings; empty for none).
    pub fn open_bytes(&mut self, openings: &[u8]) -> Result<(), OpeningError> {
        let o = Opening::decode_all(openings).ok_or(OpeningError::Malformed)?;
        self.open(&o)
    }

    /// Verifies the signature strictly with the given key.
    pub fn verify(&self, key: &VerifyingKey) -> bool {
        self.signing_message().is_ok_and(|m| {
            key.verify_strict(&m, &Signature::from_bytes(&self.signature))
                .is_ok()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn committed(a: Uuid, salt: u8) -> AccountRef {
        let o = Opening {
            salt: [salt; 16],
            account: a,
        };
        AccountRef::Committed {
            commitment: o.commitment(),
            opening: Some(o),
        }
    }

    pub(crate) fn samples() -> Vec<Entry> {
        let a = Uuid::from_bytes([1; 16]);
        let b = Uuid::from_bytes([2; 16]);
        vec![
            Entry {
                index: 0,
                time_ms: 1,
                id: Uuid::from_bytes([9; 16]),
                body: Body::Genesis {
                    origin: "kindpakket.example/ledger".into(),
                    ledger_key: [7; 32],
                },
            },
            Entry {
                index: 1,
                time_ms: 2,
                id: Uuid::from_bytes([10; 16]),
                body: Body::KeyEvent {
                    action: KeyAction::Added,
                    purpose: KeyPurpose::Voucher,
                    key_id: [1, 2, 3, 4],
                    public_key: [5; 32],
                },
            },
            Entry {
                index: 2,
                time_ms: 2,
                id: Uuid::from_bytes([11; 16]),
                body: Body::OpenAccount {
                    account: committed(a, 1),
                    kind: AccountKind::Voucher,
                    flags: FLAG_NO_NEGATIVE,
                    fund: b,
                    party: Uuid::nil(),
                },
            },
            Entry {
                index: 3,
                time_ms: 3,
                id: Uuid::from_bytes([12; 16]),
                body: Body::AccountState {
                    account: committed(a, 2),
                    status: AccountStatus::Blocked,
                },
            },
            Entry {
                index: 4,
                time_ms: 4,
                id: Uuid::from_bytes([13; 16]),
                body: Body::Transfer {
                    kind: TransferKind::Redeem,
                    category: Some(Category::Sport),
                    reference: Uuid::nil(),
                    legs: vec![Leg {
                        debit: committed(a, 3),
                        credit: AccountRef::Clear(b),
                        amount: Cents(12_000),
                    }],
                    attachment: vec![],
                },
            },
        ]
    }

    #[test]
    fn every_kind_round_trips_and_verifies() {
        let key = SigningKey::from_bytes(&[4; 32]);
        for e in samples() {
            let s = e.clone().sign(&key, [1, 2, 3, 4]).unwrap();
            let bytes = s.encode().unwrap();
            let d = SignedEntry::decode(&bytes).unwrap();
            assert_eq!(d, s);
            assert_eq!(d.encode().unwrap(), bytes);
            assert!(d.verify(&key.verifying_key()));
        }
    }

    #[test]
    fn every_single_byte_flip_is_refused_or_breaks_the_signature() {
        let key = SigningKey::from_bytes(&[4; 32]);
        for e in samples() {
            let bytes = e.sign(&key, [1, 2, 3, 4]).unwrap().encode().unwrap();
            for i in 0..bytes.len() {
                for bit in [0x01u8, 0x80] {
                    let mut b = bytes.clone();
                    b[i] ^= bit;
                    if let Ok(d) = SignedEntry::decode(&b) {
                        assert!(
                            !d.verify(&key.verifying_key()),
                            "flip at {i} still verifies"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn decoding_is_strict() {
        let key = SigningKey::from_bytes(&[4; 32]);
        let bytes = samples()[4]
            .clone()
            .sign(&key, [0; 4])
            .unwrap()
            .encode()
            .unwrap();
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(SignedEntry::decode(&longer), Err(DecodeError::Trailing));
        assert_eq!(
            SignedEntry::decode(&bytes[..bytes.len() - 1]),
            Err(DecodeError::Truncated)
        );
        let mut v1 = bytes.clone();
        v1[0] = 1;
        assert_eq!(SignedEntry::decode(&v1), Err(DecodeError::Version(1)));
        let mut tag = bytes.clone();
        tag[36 + 19] = 3;
        assert_eq!(
            SignedEntry::decode(&tag),
            Err(DecodeError::Unknown("account reference"))
        );
        // Zero amount: offset of the amount = 36 (header) + 1+1+16+1 (kind, cat, ref, count)
        // + 33 (committed debit) + 17 (clear credit).
        let a = 36 + 19 + 50;
        let mut zero = bytes.clone();
        zero[a..a + 8].copy_from_slice(&0u64.to_be_bytes());
        assert_eq!(
            SignedEntry::decode(&zero),
            Err(DecodeError::Invalid("leg amount"))
        );
        let mut huge = bytes.clone();
        huge[a..a + 8].copy_from_slice(&u64::MAX.to_be_bytes());
        assert_eq!(
            SignedEntry::decode(&huge),
            Err(DecodeError::Invalid("leg amount"))
        );
    }

    #[test]
    fn openings_must_fit_their_commitments() {
        let mut e = samples()[4].clone();
        let openings = e.body.openings().unwrap();
        assert_eq!(openings.len(), 1);
        let key = SigningKey::from_bytes(&[4; 32]);
        let bytes = e.clone().sign(&key, [0; 4]).unwrap().encode().unwrap();
        let mut d = SignedEntry::decode(&bytes).unwrap();
        assert_eq!(
            d.entry.body.openings(),
            None,
            "decoded bytes carry no opening"
        );
        let mut wrong = openings[0];
        wrong.salt[0] ^= 1;
        assert_eq!(d.open(&[wrong]), Err(OpeningError::Mismatch));
        assert_eq!(d.open(&[]), Err(OpeningError::Missing));
        assert_eq!(d.open(&[openings[0], wrong]), Err(OpeningError::Extra));
        assert_eq!(d.open_bytes(&[0; 31]), Err(OpeningError::Malformed));
        d.open_bytes(&Opening::encode_all(&openings)).unwrap();
        assert_eq!(d.entry.body.openings(), Some(openings));
        // An unsealed voucher cannot be encoded; sealing makes a fresh commitment each time.
        if let Body::Transfer { legs, .. } = &mut e.body {
            legs[0].debit = AccountRef::Voucher(Uuid::from_bytes([1; 16]));
        }
        assert!(e.content().is_err());
        let (mut x, mut y) = (e.clone(), e.clone());
        let (ox, oy) = (x.body.seal().unwrap(), y.body.seal().unwrap());
        assert_eq!(ox[0].account, oy[0].account);
        assert_ne!(ox[0].commitment(), oy[0].commitment());
        assert_ne!(x.content().unwrap(), y.content().unwrap());
    }

    #[test]
    fn amounts_that_cannot_be_encoded_are_refused() {
        let mut e = samples()[4].clone();
        if let Body::Transfer { legs, .. } = &mut e.body {
            legs[0].amount = Cents(0);
        }
        assert!(e.content().is_err());
    }
}
