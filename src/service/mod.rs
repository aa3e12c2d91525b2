//! Use cases: funds, households, providers, vouchers, redemptions. Each checks its rules, reads
//! what it needs, and hands the ledger one command (entries plus the rows that must commit with
//! them). HTTP handlers are thin shells around these functions.

pub mod funds;
pub mod households;
pub mod links;
pub mod providers;
pub mod qr;
pub mod redemptions;
pub mod vouchers;

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::auth::Role;
use crate::core::money::Cents;
use crate::ledger::{Ledger, LedgerError};
use crate::store::{Store, StoreError};

/// How an error should be reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The request is malformed (400).
    BadRequest,
    /// Not allowed for this user (403).
    Forbidden,
    /// Unknown thing (404).
    NotFound,
    /// Conflicts with the current state (409).
    Conflict,
    /// Breaks a rule (422).
    Rule,
    /// Try again later (503).
    Unavailable,
    /// Our fault (500); details are logged, not shown.
    Internal,
}

/// A service error: kind, stable code, Dutch message.
#[derive(Debug, Clone)]
pub struct Error {
    /// How to report it.
    pub kind: Kind,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// Plain Dutch for people.
    pub message: String,
}

/// Result of a use case.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Builds an error.
    pub fn new(kind: Kind, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            code,
            message: message.into(),
        }
    }

    /// 400.
    pub fn bad(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Kind::BadRequest, code, message)
    }

    /// 404.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Kind::NotFound, code, message)
    }

    /// 409.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Kind::Conflict, code, message)
    }

    /// 422.
    pub fn rule(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Kind::Rule, code, message)
    }

    /// 403.
    pub fn forbidden() -> Self {
        Self::new(
            Kind::Forbidden,
            "forbidden",
            "U mag dit niet doen met uw account.",
        )
    }

    /// 500, logged.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(
            Kind::Internal,
            "internal_error",
            "Er ging iets mis aan onze kant. Probeer het later opnieuw.",
        )
    }

    /// 503.
    pub fn unavailable() -> Self {
        Self::new(
            Kind::Unavailable,
            "unavailable",
            "Het systeem is even niet bereikbaar. Probeer het over een minuut opnieuw.",
        )
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Locked(_) => Error::unavailable(),
            other => Error::internal(other),
        }
    }
}

impl From<LedgerError> for Error {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::Rejected(r) => {
                let code = r.code();
                let kind = match code {
                    "already_reversed" | "already_issued" => Kind::Conflict,
                    _ => Kind::Rule,
                };
                Error::new(kind, code, crate::http::error::rejection_message(code))
            }
            LedgerError::Conflict => {
                Error::conflict("conflict", "Dit botst met gegevens die er al zijn.")
            }
            LedgerError::Guard("fund_expired") => {
                Error::rule("fund_expired", "Deze regeling is afgelopen.")
            }
            LedgerError::Guard(code) => Error::conflict(
                code,
                "Dit kan niet meer: de gegevens zijn intussen veranderd.",
            ),
            LedgerError::Unavailable(detail) => {
                tracing::warn!(%detail, "ledger unavailable");
                Error::unavailable()
            }
            other => Error::internal(other),
        }
    }
}

/// Who is asking.
#[derive(Debug, Clone)]
pub enum Actor {
    /// A logged-in user.
    User {
        /// User id.
        id: Uuid,
        /// Role.
        role: Role,
        /// Provider of a provider manager or cashier.
        provider_id: Option<Uuid>,
    },
    /// A parent, through the household's personal link.
    Parent {
        /// The household the link belongs to.
        household_id: Uuid,
    },
}

impl Actor {
    /// The user id, for the audit trail of off-ledger rows.
    pub fn user_id(&self) -> Option<Uuid> {
        match self {
            Actor::User { id, .. } => Some(*id),
            Actor::Parent { .. } => None,
        }
    }

    /// True for a user acting as one of `roles`.
    pub fn is(&self, roles: &[Role]) -> bool {
        match self {
            Actor::User { role, .. } => roles.iter().any(|r| role.acts_as(*r)),
            Actor::Parent { .. } => false,
        }
    }

    /// The provider a provider manager or cashier works for.
    pub fn provider(&self) -> Option<Uuid> {
        match self {
            Actor::User { provider_id, .. } => *provider_id,
            Actor::Parent { .. } => None,
        }
    }
}

/// Everything the use cases need.
#[derive(Clone)]
pub struct Services {
    /// The ledger.
    pub ledger: Ledger,
    /// Storage.
    pub store: Store,
    /// Secret for deriving parent links.
    pub links: Arc<links::LinkSecret>,
    /// Public base URL for absolute links (e.g. `https://kindpakket.example`), if known.
    pub public_url: Option<String>,
}

impl Services {
    /// Now, by the ledger's clock.
    pub fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.ledger.now_ms() as i64).unwrap_or_else(Utc::now)
    }

    /// Today's Dutch calendar date, by the ledger's clock.
    pub fn today(&self) -> NaiveDate {
        crate::core::time::dutch_date(self.now())
    }
}

/// Checks an amount from a request: above zero.
pub fn positive_amount(cents: i64) -> Result<Cents> {
    if cents <= 0 {
        return Err(Error::bad(
            "invalid_amount",
            "Het bedrag moet groter zijn dan nul (in centen).",
        ));
    }
    Ok(Cents(cents))
}

/// Checks free text from a request: trimmed, not too long, no control characters.
pub fn clean_text(
    field: &'static str,
    s: &str,
    max: usize,
    required: bool,
) -> Result<Option<String>> {
    let t = s.trim();
    if t.is_empty() {
        return if required {
            Err(Error::bad(
                "invalid_field",
                format!("Het veld '{field}' mag niet leeg zijn."),
            ))
        } else {
            Ok(None)
        };
    }
    if t.chars().count() > max {
        return Err(Error::bad(
            "invalid_field",
            format!("Het veld '{field}' is te lang (hoogstens {max} tekens)."),
        ));
    }
    if t.chars().any(|c| c.is_control()) {
        return Err(Error::bad(
            "invalid_field",
            format!("Het veld '{field}' bevat tekens die niet zijn toegestaan."),
        ));
    }
    Ok(Some(t.to_owned()))
}
