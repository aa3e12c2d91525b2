//! What can go wrong in a use case, as typed values that callers match on. Each class of
//! problem is its own variant with its own reason enum, and each reason has one stable code
//! (`code()`); the Dutch sentence for people is in [`super::messages`]. Turning an error into
//! an HTTP status and body is the HTTP layer's business (`http::error`), and so is logging:
//! an internal error carries its cause, which the HTTP layer logs once.

use crate::core::money::Cents;
use std::sync::Arc;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::core::accounts::Rejection;
use crate::core::category::{Category, CategoryNameError};
use crate::core::token::TokenError;
use crate::ledger::LedgerError;
use crate::store::{Precondition, StoreError};

/// A use case's error.
#[derive(Debug, Clone)]
pub enum Error {
    /// The request is malformed: a field is missing, empty, too long or out of range.
    Invalid(Invalid),
    /// Nobody (or a parent link, where a log-in is needed) is logged in, or the log-in failed.
    Unauthenticated(Unauthenticated),
    /// Logged in, but this role or this user may not do this.
    Forbidden,
    /// Logged in, but two-factor log-in is required for this role and not set up yet: only
    /// setting it up (and logging out) is possible.
    TwoFactorEnrolmentRequired,
    /// Something named in the request does not exist (for this caller).
    NotFound(Missing),
    /// The request conflicts with the current state (done before, changed meanwhile).
    Conflict(Conflict),
    /// Well-formed, but a rule refuses it.
    Rule(Rule),
    /// Too many failed log-ins; try again after this many seconds.
    TooManyAttempts {
        /// Seconds until a new attempt is allowed.
        retry_after: u64,
    },
    /// Not possible right now (the ledger is busy or its database is unreachable); try again.
    Unavailable(Unavailable),
    /// The answer on record for an idempotency key, given again as it was given first.
    Replayed(Refusal),
    /// Our fault; the cause is for the log, never for the caller.
    Internal(Cause),
}

/// Malformed requests (400, and 405/413/415 for the transport's own refusals).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalid {
    /// A JSON body field is missing, unknown or of the wrong type.
    Body {
        /// What is wrong, and with which field.
        issue: FieldIssue,
        /// The parser's own words (English), for developers.
        detail: String,
    },
    /// A query parameter is missing, unknown or of the wrong type.
    Query {
        /// What is wrong, and with which parameter.
        issue: FieldIssue,
        /// The parser's own words (English), for developers.
        detail: String,
    },
    /// The body is JSON, but not one object.
    NotAnObject,
    /// The body is not JSON at all.
    MalformedJson {
        /// The parser's own words (English), for developers.
        detail: String,
    },
    /// The body is not sent as JSON.
    UnsupportedMediaType,
    /// The body is too large.
    BodyTooLarge,
    /// The address exists, but not for this method.
    MethodNotAllowed,
    /// A text field is empty, too long or holds control characters.
    Text {
        /// The field's name in the request.
        field: &'static str,
        /// What is wrong.
        problem: TextProblem,
    },
    /// An amount is zero or negative.
    Amount,
    /// A budget per child is zero, negative or above € 100.000,00.
    AmountPerChild,
    /// An amount is too large to represent.
    AmountTooLarge,
    /// The end date is before the start date.
    PeriodReversed,
    /// The end date is too far away for tokens to express.
    PeriodTooLong,
    /// The category list is empty or names an unknown category.
    Categories(CategoryNameError),
    /// The category is not one of ours.
    Category,
    /// The age limit is outside 0..=30.
    MaxAge,
    /// Pooling is neither `child` nor `household`.
    Pooling,
    /// Not a KvK number.
    Kvk,
    /// Not a valid IBAN.
    Iban,
    /// Not an e-mail address.
    Email,
    /// Not a phone number.
    Phone,
    /// Too few or too many children.
    Children,
    /// A birth date in the future or before 1900.
    BirthDate,
    /// Neither or both of `child_id` and `household_id`.
    ChildOrHousehold,
    /// The fund works per child: `child_id` is needed.
    ChildIdRequired,
    /// The fund works per household: `household_id` is needed.
    HouseholdIdRequired,
    /// A scanned code is far longer than any token.
    TokenTooLong,
    /// A voucher key id that is not 8 hex digits.
    KeyId,
    /// A password that is too short.
    Password,
    /// A login name that is empty, too long or holds spaces.
    Username,
    /// The request needs an `Idempotency-Key`.
    IdempotencyKeyMissing,
    /// The `Idempotency-Key` is not 1 to 255 visible characters.
    IdempotencyKey,
    /// A range of ledger entries ends before it starts.
    Range,
    /// A proof was asked for an index or sizes the tree does not have.
    ProofRequest(ProofProblem),
}

/// What is wrong with one field of a parsed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldIssue {
    /// The field is required.
    Missing(String),
    /// No such field.
    Unknown(String),
    /// A number outside its type's range.
    OutOfRange(String),
    /// A value of the wrong kind or form.
    Wrong(String),
    /// The parser did not say which field.
    Unnamed,
}

/// What is wrong with a text field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextProblem {
    /// Empty, or only spaces.
    Empty,
    /// Longer than this many characters.
    TooLong(usize),
    /// Holds control characters.
    ControlCharacters,
    /// Holds an invisible format character (category Cf: a bidi override, a zero-width
    /// space, …).
    FormatCharacters,
}

/// What is wrong with a proof request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProofProblem {
    /// The tree is not (yet) that large.
    BeyondTree,
    /// The index is not below the size.
    IndexOutsideSize,
    /// `from` is larger than `to`.
    FromAfterTo,
}

/// Why a caller is not logged in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unauthenticated {
    /// No (valid) session.
    NotLoggedIn,
    /// Wrong name or password.
    InvalidLogin,
    /// Name and password were right; the two-factor code is missing.
    TotpRequired,
    /// Too many wrong two-factor codes in a row: codes from the app are refused, only a
    /// recovery code works.
    RecoveryCodeRequired,
    /// Even more wrong two-factor codes in a row: nothing works until an admin unlocks it (with
    /// a new password: someone knew the old one).
    TwoFactorLocked,
}

/// Things that do not exist (404).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// No such fund.
    Fund,
    /// No such household.
    Household,
    /// No such child.
    Child,
    /// No such provider.
    Provider,
    /// No such voucher (or not one this caller may see).
    Voucher,
    /// No such redemption (or another club's).
    Redemption,
    /// A user (or one that is not yours to manage).
    User,
    /// No voucher key with this id.
    VoucherKey,
    /// No deposit into this fund at that ledger index.
    Deposit,
    /// An id in the address is not an id.
    Path,
    /// No such page or endpoint.
    Page,
}

/// Conflicts with the current state (409).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    /// The child (or, pooled, the household) already has a voucher in this fund.
    AlreadyIssued {
        /// True for a fund pooled per household.
        pooled: bool,
    },
    /// Reversed before.
    AlreadyReversed,
    /// Paid out already; cannot be reversed.
    AlreadyPaidOut,
    /// Blocked already.
    AlreadyBlocked,
    /// The fund was expired before.
    AlreadyExpired,
    /// A household with this case reference exists.
    ReferenceTaken,
    /// There is a fund with this name already (a second "next year" from the same form).
    FundNameTaken,
    /// The same thing exists already.
    Exists,
    /// What the request was based on changed meanwhile (read again and retry).
    Changed,
    /// Another reissue of this voucher came first (its token key changed meanwhile).
    VoucherChanged,
    /// Two-factor log-in is on already (a new enrolment would replace a working app).
    TwoFactorOn,
    /// The first request with this idempotency key is still running.
    InFlight,
    /// Booked under this key, but its answer was not kept (a crash in between).
    InDoubt,
    /// The voucher's token can no longer be signed (its key was revoked or retired): reissue it.
    ReissueNeeded,
}

/// Rules that refuse a well-formed request (422).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// Not enough on the voucher for this amount.
    InsufficientBalance,
    /// Nothing left on the voucher.
    NothingLeft,
    /// Not enough in the fund.
    InsufficientFundBalance,
    /// The token's voucher key was revoked (a compromise): the voucher needs a new token.
    KeyRevoked,
    /// The token's voucher key was rotated out and its last day has passed.
    KeyRetired,
    /// An admin cannot disable their own account (nobody might be left to enable it).
    OwnAccount,
    /// The current password given to change it is not right.
    WrongPassword,
    /// The code from the authenticator app is not right (or was used before).
    WrongTotp,
    /// A deposit or top-up above the configured maximum for one booking.
    AmountAboveLimit {
        /// The maximum.
        limit: Cents,
    },
    /// The voucher is blocked.
    VoucherBlocked,
    /// The voucher has expired or is closed.
    VoucherExpired,
    /// The voucher's fund has not started yet.
    VoucherNotYetValid {
        /// Its first day.
        from: NaiveDate,
    },
    /// A newer token replaced this one.
    TokenSuperseded,
    /// The text is not a genuine token.
    Token(TokenError),
    /// The token's key is not one of ours.
    UnknownKey,
    /// A genuine token of a voucher we do not know.
    UnknownVoucherToken,
    /// The provider is not approved for the voucher's fund (as seen by Leergeld).
    ProviderNotApproved,
    /// The caller's own club is not approved for the voucher's fund.
    ClubNotApproved,
    /// The voucher may not be spent on this category.
    CategoryNotAllowed(Category),
    /// The voucher may not be spent on this category at this provider.
    CategoryNotAllowedHere(Category),
    /// The category is not part of the fund.
    CategoryNotInFund(Category),
    /// The provider does not offer the category.
    CategoryNotOffered(Category),
    /// The child is older than the fund allows.
    ChildNotEligible {
        /// The fund's age limit.
        max_age: i64,
    },
    /// None of the household's children is eligible.
    NoChildEligible {
        /// The fund's age limit.
        max_age: i64,
    },
    /// The household's personal data was erased.
    HouseholdErased,
    /// The child's personal data was erased.
    ChildErased,
    /// The fund has ended.
    FundExpired,
    /// The child has no voucher in this fund.
    NoVoucher,
    /// The voucher was reissued too often (generation 255).
    TooManyReissues,
    /// A bulk reissue of the active voucher key that is not revoked (it would only void every
    /// letter in circulation).
    KeyStillActive,
    /// Two-factor log-in is not on for this user: there is nothing to unlock or reset.
    TwoFactorOff,
    /// The "new" password is the current one (after a lock it must change: someone knows it).
    PasswordUnchanged,
    /// The same idempotency key was used for another request.
    IdempotencyConflict,
    /// Another rule of the ledger.
    Ledger(Rejection),
}

/// Why something is not possible right now (503).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unavailable {
    /// The ledger or its database cannot take this now.
    Busy {
        /// For the log.
        cause: String,
    },
    /// The request took too long; it may still have happened.
    Timeout,
    /// Too many log-ins at once: no turn to check the password came free in time.
    LoginBusy,
}

/// The class of a refusal kept with an idempotency key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalClass {
    /// Malformed (400).
    Invalid,
    /// Not logged in (401).
    Unauthenticated,
    /// Not allowed (403).
    Forbidden,
    /// Unknown (404).
    NotFound,
    /// Conflict (409).
    Conflict,
    /// Against a rule (422).
    Rule,
}

/// A refusal as kept with an idempotency key: given again exactly as it was given first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// Its class.
    pub class: RefusalClass,
    /// Its stable code.
    pub code: String,
    /// Its Dutch sentence.
    pub message: String,
    /// Its technical detail, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The cause of an internal error, kept for the log.
#[derive(Debug, Clone)]
pub struct Cause(Arc<anyhow::Error>);

impl Cause {
    /// The cause with its whole chain (`a: b: c`).
    pub fn chain(&self) -> String {
        describe(self.0.chain())
    }
}

/// An error and its sources as one line (`a: b: c`), leaving out a source whose text the
/// error before it already shows (many errors print their source in their own message).
pub fn describe<'a>(
    chain: impl IntoIterator<Item = &'a (dyn std::error::Error + 'static)>,
) -> String {
    let mut out = String::new();
    for e in chain {
        let text = e.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

/// The result of a use case.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An internal error with its cause.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        Error::Internal(Cause(Arc::new(cause.into())))
    }

    /// An internal error described in words.
    pub fn bug(what: impl std::fmt::Display) -> Self {
        Error::internal(anyhow::anyhow!("{what}"))
    }

    /// The stable snake_case code.
    pub fn code(&self) -> &str {
        match self {
            Error::Invalid(i) => i.code(),
            Error::Unauthenticated(Unauthenticated::NotLoggedIn) => "not_logged_in",
            Error::Unauthenticated(Unauthenticated::InvalidLogin) => "invalid_login",
            Error::Forbidden => "forbidden",
            Error::TwoFactorEnrolmentRequired => "two_factor_enrolment_required",
            Error::Unauthenticated(Unauthenticated::TotpRequired) => "totp_required",
            Error::Unauthenticated(Unauthenticated::RecoveryCodeRequired) => {
                "recovery_code_required"
            }
            Error::Unauthenticated(Unauthenticated::TwoFactorLocked) => "two_factor_locked",
            Error::NotFound(m) => m.code(),
            Error::Conflict(c) => c.code(),
            Error::Rule(r) => r.code(),
            Error::TooManyAttempts { .. } => "too_many_attempts",
            Error::Unavailable(Unavailable::Busy { .. }) => "unavailable",
            Error::Unavailable(Unavailable::Timeout) => "timeout",
            Error::Unavailable(Unavailable::LoginBusy) => "login_busy",
            Error::Replayed(r) => &r.code,
            Error::Internal(_) => "internal_error",
        }
    }

    /// Technical detail for developers (English), when there is any.
    pub fn detail(&self) -> Option<&str> {
        match self {
            Error::Invalid(
                Invalid::Body { detail, .. }
                | Invalid::Query { detail, .. }
                | Invalid::MalformedJson { detail },
            ) => Some(detail),
            Error::Replayed(r) => r.detail.as_deref(),
            _ => None,
        }
    }

    /// The refusal to keep with an idempotency key; `None` for errors that are not an answer
    /// to the request itself (unavailable, internal), which are never kept.
    pub fn refusal(&self) -> Option<Refusal> {
        let class = match self {
            Error::Invalid(_) => RefusalClass::Invalid,
            Error::Unauthenticated(_) => RefusalClass::Unauthenticated,
            Error::Forbidden | Error::TwoFactorEnrolmentRequired => RefusalClass::Forbidden,
            Error::NotFound(_) => RefusalClass::NotFound,
            Error::Conflict(_) => RefusalClass::Conflict,
            Error::Rule(_) => RefusalClass::Rule,
            Error::Replayed(r) => return Some(r.clone()),
            Error::TooManyAttempts { .. } | Error::Unavailable(_) | Error::Internal(_) => {
                return None;
            }
        };
        Some(Refusal {
            class,
            code: self.code().to_owned(),
            message: self.message().into_owned(),
            detail: self.detail().map(str::to_owned),
        })
    }
}

impl Invalid {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Invalid::Body { .. } | Invalid::Text { .. } => "invalid_field",
            Invalid::Query { .. } => "invalid_query",
            Invalid::MalformedJson { .. } => "malformed_json",
            Invalid::NotAnObject => "invalid_body",
            Invalid::UnsupportedMediaType => "unsupported_media_type",
            Invalid::BodyTooLarge => "body_too_large",
            Invalid::MethodNotAllowed => "method_not_allowed",
            Invalid::Amount | Invalid::AmountPerChild | Invalid::AmountTooLarge => "invalid_amount",
            Invalid::PeriodReversed | Invalid::PeriodTooLong => "invalid_period",
            Invalid::Categories(_) => "invalid_categories",
            Invalid::Category => "invalid_category",
            Invalid::MaxAge
            | Invalid::Pooling
            | Invalid::ChildOrHousehold
            | Invalid::TokenTooLong => "invalid_field",
            Invalid::Kvk => "invalid_kvk",
            Invalid::Iban => "invalid_iban",
            Invalid::Email => "invalid_email",
            Invalid::Phone => "invalid_phone",
            Invalid::Children => "invalid_children",
            Invalid::BirthDate => "invalid_birth_date",
            Invalid::ChildIdRequired => "child_id_required",
            Invalid::HouseholdIdRequired => "household_id_required",
            Invalid::IdempotencyKeyMissing => "idempotency_key_missing",
            Invalid::Password => "invalid_password",
            Invalid::KeyId => "invalid_key_id",
            Invalid::Username => "invalid_username",
            Invalid::IdempotencyKey => "invalid_idempotency_key",
            Invalid::Range => "invalid_range",
            Invalid::ProofRequest(_) => "invalid_proof_request",
        }
    }
}

impl Missing {
    /// The stable code.
    pub fn code(self) -> &'static str {
        match self {
            Missing::Fund => "unknown_fund",
            Missing::Household => "unknown_household",
            Missing::Child => "unknown_child",
            Missing::Provider => "unknown_provider",
            Missing::Voucher => "unknown_voucher",
            Missing::Redemption => "unknown_redemption",
            Missing::User => "unknown_user",
            Missing::VoucherKey => "unknown_voucher_key",
            Missing::Deposit => "unknown_deposit",
            Missing::Path | Missing::Page => "not_found",
        }
    }
}

impl Conflict {
    /// The stable code.
    pub fn code(self) -> &'static str {
        match self {
            Conflict::AlreadyIssued { .. } => "already_issued",
            Conflict::AlreadyReversed => "already_reversed",
            Conflict::AlreadyPaidOut => "already_paid_out",
            Conflict::AlreadyBlocked => "already_blocked",
            Conflict::AlreadyExpired => "already_expired",
            Conflict::ReferenceTaken => "reference_taken",
            Conflict::FundNameTaken => "fund_name_taken",
            Conflict::Exists => "conflict",
            Conflict::Changed => "fund_changed",
            Conflict::VoucherChanged => "voucher_changed",
            Conflict::TwoFactorOn => "two_factor_already_on",
            Conflict::InFlight => "idempotency_in_flight",
            Conflict::InDoubt => "idempotency_in_doubt",
            Conflict::ReissueNeeded => "reissue_needed",
        }
    }
}

impl Rule {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Rule::InsufficientBalance | Rule::NothingLeft => "insufficient_balance",
            Rule::InsufficientFundBalance => "insufficient_fund_balance",
            Rule::AmountAboveLimit { .. } => "amount_above_limit",
            Rule::OwnAccount => "own_account",
            Rule::KeyRevoked => "key_revoked",
            Rule::KeyRetired => "key_retired",
            Rule::WrongPassword => "wrong_password",
            Rule::WrongTotp => "wrong_totp",
            Rule::VoucherBlocked => "voucher_blocked",
            Rule::VoucherExpired => "voucher_expired",
            Rule::VoucherNotYetValid { .. } => "voucher_not_yet_valid",
            Rule::TokenSuperseded => "token_superseded",
            Rule::Token(e) => e.code(),
            Rule::UnknownKey => "unknown_key",
            Rule::UnknownVoucherToken => "unknown_voucher",
            Rule::ProviderNotApproved | Rule::ClubNotApproved => "provider_not_approved",
            Rule::CategoryNotAllowed(_) | Rule::CategoryNotAllowedHere(_) => "category_not_allowed",
            Rule::CategoryNotInFund(_) => "category_not_in_fund",
            Rule::CategoryNotOffered(_) => "category_not_offered",
            Rule::ChildNotEligible { .. } | Rule::NoChildEligible { .. } => "child_not_eligible",
            Rule::HouseholdErased | Rule::ChildErased => "personal_data_erased",
            Rule::FundExpired => "fund_expired",
            Rule::NoVoucher => "no_voucher",
            Rule::TooManyReissues => "too_many_reissues",
            Rule::KeyStillActive => "key_still_active",
            Rule::TwoFactorOff => "two_factor_off",
            Rule::PasswordUnchanged => "password_unchanged",
            Rule::IdempotencyConflict => "idempotency_conflict",
            Rule::Ledger(r) => r.code(),
        }
    }
}

impl From<Invalid> for Error {
    fn from(i: Invalid) -> Self {
        Error::Invalid(i)
    }
}

impl From<Missing> for Error {
    fn from(m: Missing) -> Self {
        Error::NotFound(m)
    }
}

impl From<Conflict> for Error {
    fn from(c: Conflict) -> Self {
        Error::Conflict(c)
    }
}

impl From<Rule> for Error {
    fn from(r: Rule) -> Self {
        Error::Rule(r)
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            e if e.is_unavailable() => Error::Unavailable(Unavailable::Busy {
                cause: e.to_string(),
            }),
            StoreError::Unique => Error::Conflict(Conflict::Exists),
            StoreError::Precondition(p) => precondition(p),
            other => Error::internal(other),
        }
    }
}

/// What a failed precondition means to the caller.
fn precondition(p: Precondition) -> Error {
    match p {
        Precondition::FundOpen => Error::Rule(Rule::FundExpired),
        Precondition::FundUnchanged => Error::Conflict(Conflict::Changed),
        Precondition::HouseholdNotErased => Error::Rule(Rule::HouseholdErased),
        Precondition::TokenKeyUnchanged | Precondition::AccountUnchanged => {
            Error::Conflict(Conflict::VoucherChanged)
        }
        Precondition::TokenCurrent => Error::Rule(Rule::TokenSuperseded),
    }
}

/// The one mapping of ledger outcomes to use-case errors. Use cases that give a refusal a more
/// specific meaning (an insufficient balance of the fund rather than of a voucher) match on
/// the typed [`LedgerError`] before falling back to this.
impl From<LedgerError> for Error {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::Rejected(Rejection::InsufficientBalance { .. }) => {
                Error::Rule(Rule::InsufficientBalance)
            }
            LedgerError::Rejected(Rejection::Blocked(_)) => Error::Rule(Rule::VoucherBlocked),
            LedgerError::Rejected(Rejection::AlreadyIssued(_)) => {
                Error::Conflict(Conflict::AlreadyIssued { pooled: false })
            }
            LedgerError::Rejected(Rejection::AlreadyReversed(_)) => {
                Error::Conflict(Conflict::AlreadyReversed)
            }
            LedgerError::Rejected(r) => Error::Rule(Rule::Ledger(r)),
            LedgerError::Conflict => Error::Conflict(Conflict::Exists),
            LedgerError::Guard(p) => precondition(p),
            LedgerError::InvalidRequest(_) => {
                Error::Invalid(Invalid::ProofRequest(ProofProblem::BeyondTree))
            }
            LedgerError::Unavailable(cause) => Error::Unavailable(Unavailable::Busy { cause }),
            LedgerError::Store(s) => s.into(),
            other @ (LedgerError::Encode(_)
            | LedgerError::InvalidOrigin(_)
            | LedgerError::Keys(_)
            | LedgerError::Corrupt(_)) => Error::internal(other),
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Internal(c) => write!(f, "internal error: {}", c.chain()),
            Error::Unavailable(Unavailable::Busy { cause }) => write!(f, "unavailable: {cause}"),
            other => write!(f, "{}: {}", other.code(), other.message()),
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::money::Cents;
    use uuid::Uuid;

    /// One mapping of the ledger's answers, whoever calls: each gives one class and code.
    #[test]
    fn ledger_refusals_map_to_one_class_and_code() {
        let cases: Vec<(LedgerError, &str, Option<RefusalClass>)> = vec![
            (
                LedgerError::Rejected(Rejection::AlreadyReversed(Uuid::nil())),
                "already_reversed",
                Some(RefusalClass::Conflict),
            ),
            (
                LedgerError::Rejected(Rejection::AlreadyIssued(Uuid::nil())),
                "already_issued",
                Some(RefusalClass::Conflict),
            ),
            (
                LedgerError::Rejected(Rejection::InsufficientBalance {
                    account: Uuid::nil(),
                    balance: Cents(0),
                }),
                "insufficient_balance",
                Some(RefusalClass::Rule),
            ),
            (
                LedgerError::Guard(Precondition::TokenCurrent),
                "token_superseded",
                Some(RefusalClass::Rule),
            ),
            (
                LedgerError::Rejected(Rejection::Closed(Uuid::nil())),
                "account_closed",
                Some(RefusalClass::Rule),
            ),
            (
                LedgerError::Conflict,
                "conflict",
                Some(RefusalClass::Conflict),
            ),
            (
                LedgerError::Guard(Precondition::FundOpen),
                "fund_expired",
                Some(RefusalClass::Rule),
            ),
            (
                LedgerError::Guard(Precondition::FundUnchanged),
                "fund_changed",
                Some(RefusalClass::Conflict),
            ),
            (
                LedgerError::InvalidRequest(crate::core::merkle::MerkleError::InvalidRequest("x")),
                "invalid_proof_request",
                Some(RefusalClass::Invalid),
            ),
            (LedgerError::Unavailable("busy".into()), "unavailable", None),
            (LedgerError::Corrupt("x".into()), "internal_error", None),
        ];
        for (l, code, class) in cases {
            let e = Error::from(l);
            assert_eq!(e.code(), code);
            assert_eq!(e.refusal().map(|r| r.class), class, "{code}");
        }
    }

    #[test]
    fn causes_are_described_once_each() {
        let e = anyhow::Error::new(StoreError::Io(std::io::Error::other("disk full")))
            .context("storing the checkpoint");
        assert_eq!(describe(e.chain()), "storing the checkpoint: disk full");
    }
}
