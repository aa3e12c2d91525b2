//! Idempotency keys, stored per user and key. A successful redemption inserts its key in the
//! same transaction as its ledger entry (so the key and the booking exist together or not at
//! all); a refusal stores its answer. Keys of requests still in progress are held in memory by
//! the HTTP layer.

use chrono::{DateTime, Utc};
use sqlx::Row;
use uuid::Uuid;

use super::{Store, StoreError, Value, Write};
use crate::with_db;

/// A stored key.
#[derive(Debug, Clone)]
pub struct Claim {
    /// Fingerprint of the request that used the key.
    pub fingerprint: Vec<u8>,
    /// The id the request created (the redemption id).
    pub resource_id: Uuid,
    /// The stored answer, for refusals; successes are rebuilt from the ledger.
    pub response: Option<(u16, String)>,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
}

/// Storing a key with the booking it belongs to (in the booking's transaction). A second
/// booking with the same key hits the primary key and the whole command is refused.
pub fn insert_key(
    scope: &str,
    key: &str,
    fingerprint: &[u8],
    resource_id: Uuid,
    now: DateTime<Utc>,
) -> Write {
    Write::new(
        "INSERT INTO idempotency_keys (scope, key, fingerprint, resource_id, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
        vec![
            Value::Text(scope.to_owned()),
            Value::Text(key.to_owned()),
            Value::Bytes(fingerprint.to_vec()),
            Value::Uuid(resource_id),
            Value::Time(now),
        ],
    )
}

impl Store {
    /// The stored key, if any.
    pub async fn claim(&self, scope: &str, key: &str) -> Result<Option<Claim>, StoreError> {
        const SELECT: &str = "SELECT fingerprint, resource_id, response_status, response_body, created_at \
                              FROM idempotency_keys WHERE scope = $1 AND key = $2";
        let claim = with_db!(self.db(), |p| {
            match sqlx::query(SELECT)
                .bind(scope.to_owned())
                .bind(key.to_owned())
                .fetch_optional(p)
                .await?
            {
                None => None,
                Some(r) => {
                    let status: Option<i64> = r.try_get(2)?;
                    let body: Option<String> = r.try_get(3)?;
                    Some(Claim {
                        fingerprint: r.try_get(0)?,
                        resource_id: r.try_get(1)?,
                        response: match (status, body) {
                            (Some(s), Some(b)) => Some((u16::try_from(s).unwrap_or(500), b)),
                            _ => None,
                        },
                        created_at: r.try_get(4)?,
                    })
                }
            }
        });
        Ok(claim)
    }

    /// Stores the answer of a booked request with its key row (written with the booking).
    pub async fn complete_response(
        &self,
        scope: &str,
        key: &str,
        status: u16,
        body: &str,
    ) -> Result<(), StoreError> {
        const UPDATE: &str = "UPDATE idempotency_keys SET response_status = $3, response_body = $4 \
            WHERE scope = $1 AND key = $2 AND response_status IS NULL";
        with_db!(self.db(), |p| {
            sqlx::query(UPDATE)
                .bind(scope.to_owned())
                .bind(key.to_owned())
                .bind(i64::from(status))
                .bind(body.to_owned())
                .execute(p)
                .await?;
        });
        Ok(())
    }

    /// Stores the answer to a refused request under its key (first one wins); `claim.response`
    /// holds the status and body.
    pub async fn store_response(
        &self,
        scope: &str,
        key: &str,
        claim: &Claim,
    ) -> Result<(), StoreError> {
        let (status, body) = claim.response.clone().unwrap_or((500, String::new()));
        const INSERT: &str = "INSERT INTO idempotency_keys \
            (scope, key, fingerprint, resource_id, response_status, response_body, created_at) \
            VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (scope, key) DO NOTHING";
        with_db!(self.db(), |p| {
            sqlx::query(INSERT)
                .bind(scope.to_owned())
                .bind(key.to_owned())
                .bind(claim.fingerprint.clone())
                .bind(claim.resource_id)
                .bind(i64::from(status))
                .bind(body)
                .bind(claim.created_at)
                .execute(p)
                .await?;
        });
        Ok(())
    }
}
