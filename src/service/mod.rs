//! Use cases: funds, households, providers, vouchers, redemptions, sessions and users, and the
//! public view of the ledger. Each takes the acting [`Actor`], checks what that actor may do
//! before it looks at the request, checks its rules, reads what it needs, and hands the ledger
//! one command (entries plus the row changes that must commit with them). The HTTP layer and
//! the pages only find out who is asking, call a use case and render its answer; they never
//! reach the store or the ledger themselves.

pub mod actor;
pub mod credentials;
pub mod error;
pub mod funds;
pub mod households;
pub(crate) mod idempotency;
pub mod links;
mod messages;
pub mod providers;
pub mod qr;
pub mod redemptions;
pub mod sessions;
pub mod transparency;
pub mod users;
pub mod vouchers;

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};

pub use actor::{Actor, User};
pub use error::{Error, Result};

use crate::core::money::Cents;
use crate::ledger::Ledger;
use crate::store::Store;
use error::{Invalid, TextProblem};

/// Settings of the use cases.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long a log-in lasts.
    pub session_ttl: chrono::Duration,
    /// Public base URL for absolute parent links (e.g. `https://kindpakket.example`).
    pub public_url: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            session_ttl: chrono::Duration::hours(12),
            public_url: None,
        }
    }
}

/// Everything the use cases need. Cheap to clone.
#[derive(Clone)]
pub struct Services {
    ledger: Ledger,
    store: Store,
    links: Arc<links::LinkSecret>,
    settings: Arc<Settings>,
    limiter: Arc<sessions::LoginLimiter>,
    in_flight: idempotency::InFlight,
}

impl Services {
    /// The use cases over a ledger (and its store), with the secret behind parent links.
    pub fn new(ledger: Ledger, links: links::LinkSecret, settings: Settings) -> Self {
        Self {
            store: ledger.store().clone(),
            ledger,
            links: Arc::new(links),
            settings: Arc::new(settings),
            limiter: Arc::new(sessions::LoginLimiter::new(std::time::Duration::from_secs(
                15 * 60,
            ))),
            in_flight: idempotency::InFlight::default(),
        }
    }

    pub(crate) fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Now, by the ledger's clock.
    pub fn now(&self) -> DateTime<Utc> {
        i64::try_from(self.ledger.now_ms())
            .ok()
            .and_then(DateTime::from_timestamp_millis)
            .unwrap_or_else(Utc::now)
    }

    /// Today's Dutch calendar date, by the ledger's clock.
    pub fn today(&self) -> NaiveDate {
        crate::core::time::dutch_date(self.now())
    }

    /// True when the database answers and the ledger's writer runs.
    pub async fn ready(&self) -> bool {
        self.store.ping().await && self.ledger.is_running()
    }

    /// Stops the ledger after the commands already queued, and closes the database.
    pub async fn close(&self) {
        self.ledger.close().await;
        self.store.close().await;
    }
}

/// A request as it arrived: parsed, or why it could not be. A use case reads it only after it
/// has checked who asks, so that a caller who may not use an endpoint learns nothing about
/// the shape of its requests.
#[derive(Debug)]
pub struct Input<T>(Result<T>);

impl<T> Input<T> {
    /// A request that was parsed.
    pub fn new(value: T) -> Self {
        Self(Ok(value))
    }

    /// A request that could not be parsed, and why.
    pub fn invalid(error: Error) -> Self {
        Self(Err(error))
    }

    /// The parsed request transformed, or the same error.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Input<U> {
        Input(self.0.map(f))
    }

    /// The request, once the caller is known to be allowed.
    pub(crate) fn read(self) -> Result<T> {
        self.0
    }
}

impl<T> From<T> for Input<T> {
    fn from(value: T) -> Self {
        Self::new(value)
    }
}

/// Checks an amount from a request: above zero.
pub(crate) fn positive_amount(cents: i64) -> Result<Cents> {
    if cents <= 0 {
        return Err(Invalid::Amount.into());
    }
    Ok(Cents(cents))
}

/// Checks free text from a request: trimmed, at most `max` characters, no control characters;
/// `None` when empty and not required.
pub(crate) fn clean_text(
    field: &'static str,
    s: &str,
    max: usize,
    required: bool,
) -> Result<Option<String>> {
    let problem = |problem| Error::Invalid(Invalid::Text { field, problem });
    let t = s.trim();
    if t.is_empty() {
        return if required {
            Err(problem(TextProblem::Empty))
        } else {
            Ok(None)
        };
    }
    if t.chars().count() > max {
        return Err(problem(TextProblem::TooLong(max)));
    }
    if t.chars().any(char::is_control) {
        return Err(problem(TextProblem::ControlCharacters));
    }
    Ok(Some(t.to_owned()))
}

/// Like [`clean_text`] for a required field.
pub(crate) fn required_text(field: &'static str, s: &str, max: usize) -> Result<String> {
    clean_text(field, s, max, true)?.ok_or(Error::Invalid(Invalid::Text {
        field,
        problem: TextProblem::Empty,
    }))
}

/// Like [`clean_text`] for an optional field that may be absent.
pub(crate) fn optional_text(
    field: &'static str,
    s: Option<&str>,
    max: usize,
) -> Result<Option<String>> {
    match s {
        Some(s) => clean_text(field, s, max, false),
        None => Ok(None),
    }
}
