//! Idempotency keys, stored per scope (operation and user) and key. A booking writes its key
//! in the same transaction as its ledger entry (so the key and the booking exist together or
//! not at all) and its outcome afterwards; a refusal writes key and outcome at once. What an
//! outcome means is the service's business: here it is text.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::pool::{Store, StoreError, fetch_optional};

/// A stored key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// Fingerprint of the request that used the key.
    pub fingerprint: Vec<u8>,
    /// The id the request created.
    pub resource_id: Uuid,
    /// What is on record as its outcome.
    pub outcome: Stored,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
}

/// The outcome on record for a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// Booked, outcome not (yet) stored.
    Nothing,
    /// The outcome as the service stored it.
    Outcome(String),
    /// An answer stored by a version before outcomes were kept (migration 0004): an HTTP
    /// status and JSON body.
    Legacy {
        /// HTTP status.
        status: i64,
        /// JSON body.
        body: String,
    },
}

#[derive(sqlx::FromRow)]
struct Row {
    fingerprint: Vec<u8>,
    resource_id: Uuid,
    outcome: Option<String>,
    response_status: Option<i64>,
    response_body: Option<String>,
    created_at: DateTime<Utc>,
}

impl Store {
    /// The stored key, if any.
    pub async fn idempotency_claim(
        &self,
        scope: &str,
        key: &str,
    ) -> Result<Option<Claim>, StoreError> {
        const SQL: &str = "SELECT fingerprint, resource_id, outcome, response_status, \
                           response_body, created_at FROM idempotency_keys \
                           WHERE scope = $1 AND key = $2";
        let row = fetch_optional!(self, Row, SQL, [scope.to_owned(), key.to_owned()]);
        Ok(row.map(|r| Claim {
            fingerprint: r.fingerprint,
            resource_id: r.resource_id,
            outcome: match (r.outcome, r.response_status, r.response_body) {
                (Some(o), _, _) => Stored::Outcome(o),
                (None, Some(status), Some(body)) => Stored::Legacy { status, body },
                _ => Stored::Nothing,
            },
            created_at: r.created_at,
        }))
    }
}
