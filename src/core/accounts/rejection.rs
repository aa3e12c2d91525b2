//! Why an entry was refused, with a stable code per reason.

use uuid::Uuid;

use crate::core::money::Cents;

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
    /// A voucher commitment without a fitting opening.
    #[error("commitment: {0}")]
    Opening(&'static str),
    /// A commitment value used before.
    #[error("a commitment appears twice on the ledger")]
    DuplicateCommitment,
    /// A deposit correction refers to no deposit into that fund.
    #[error("no deposit with id {0} into that fund")]
    UnknownDeposit(Uuid),
    /// A deposit correction takes back more than the deposit brought.
    #[error("the correction is more than what is left of deposit {0}")]
    CorrectionTooLarge(Uuid),
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
            Rejection::Opening(_) => "bad_opening",
            Rejection::DuplicateCommitment => "duplicate_commitment",
            Rejection::UnknownDeposit(_) => "unknown_deposit",
            Rejection::CorrectionTooLarge(_) => "correction_too_large",
        }
    }
}
