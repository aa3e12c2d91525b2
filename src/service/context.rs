//! What every use case needs: the ledger, the store, the secret behind parent links, the
//! settings, and what the service holds in memory (failed log-ins, requests in progress).

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};

use super::in_flight::InFlight;
use super::links::LinkSecret;
use super::login_limit::{Delays, LoginLimiter};
use super::password_pool::PasswordPool;
use crate::core::money::Cents;
use crate::ledger::Ledger;
use crate::store::Store;

/// Settings of the use cases.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long a log-in lasts.
    pub session_ttl: chrono::Duration,
    /// How long a cashier's log-in lasts: a club's phone stays logged in for the season (the
    /// session ends earlier at log-out, "log out everywhere", a password reset or removal).
    pub cashier_session_ttl: chrono::Duration,
    /// Public base URL for absolute parent links (e.g. `https://kindpakket.example`).
    pub public_url: Option<String>,
    /// How long log-ins for a name under attack wait (see [`super::login_limit`]).
    pub login_delays: Delays,
    /// How many passwords are checked at once (argon2id takes 19 MiB each).
    pub password_checks_at_once: usize,
    /// How long a log-in waits for its turn to have its password checked before it is told to
    /// try again (503 `login_busy`).
    pub password_check_wait: std::time::Duration,
    /// Largest deposit in one booking (a typo of a few zeros must not reach the ledger, where
    /// only a new entry can correct it).
    pub max_deposit: Cents,
    /// Largest top-up of one voucher in one booking.
    pub max_top_up: Cents,
    /// Admin, staff and finance must set up two-factor log-in before anything else.
    pub require_two_factor: bool,
    /// How long one bulk request (reissuing for a key, issuing for a whole fund) works before
    /// it answers with what is left (well inside the request deadline; the caller repeats
    /// until nothing is left).
    pub bulk_reissue_budget: std::time::Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            session_ttl: chrono::Duration::hours(12),
            cashier_session_ttl: chrono::Duration::days(180),
            public_url: None,
            login_delays: Delays {
                first: std::time::Duration::from_millis(500),
                longest: std::time::Duration::from_secs(8),
            },
            password_checks_at_once: 4,
            password_check_wait: std::time::Duration::from_secs(5),
            // € 10.000.000 and € 1.000.
            max_deposit: Cents(1_000_000_000),
            max_top_up: Cents(100_000),
            require_two_factor: false,
            bulk_reissue_budget: std::time::Duration::from_secs(10),
        }
    }
}

/// Everything the use cases need. Cheap to clone.
#[derive(Clone)]
pub struct Services {
    ledger: Ledger,
    store: Store,
    links: Arc<LinkSecret>,
    settings: Arc<Settings>,
    limiter: Arc<LoginLimiter>,
    password_checks: Arc<PasswordPool>,
    in_flight: InFlight,
}

impl Services {
    /// The use cases over a ledger (and its store), with the secret behind parent links.
    pub fn new(ledger: Ledger, links: LinkSecret, settings: Settings) -> Self {
        let limiter = Arc::new(LoginLimiter::new(
            std::time::Duration::from_secs(15 * 60),
            settings.login_delays,
        ));
        let password_checks = Arc::new(PasswordPool::new(settings.password_checks_at_once));
        Self {
            store: ledger.store().clone(),
            ledger,
            links: Arc::new(links),
            settings: Arc::new(settings),
            limiter,
            password_checks,
            in_flight: InFlight::default(),
        }
    }

    pub(in crate::service) fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    pub(in crate::service) fn store(&self) -> &Store {
        &self.store
    }

    pub(in crate::service) fn links(&self) -> &LinkSecret {
        &self.links
    }

    pub(in crate::service) fn limiter(&self) -> &LoginLimiter {
        &self.limiter
    }

    pub(in crate::service) fn password_pool(&self) -> &PasswordPool {
        &self.password_checks
    }

    /// How many passwords have been checked since start (log-ins, for tests and metrics).
    pub fn passwords_checked(&self) -> u64 {
        self.password_checks.done()
    }

    pub(in crate::service) fn in_flight(&self) -> &InFlight {
        &self.in_flight
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
