//! Idempotency keys: a key is claimed (inserted) before any work; a repeat finds the claim and
//! either the stored answer or "still working".

use chrono::{DateTime, Utc};
use sqlx::Row;
use uuid::Uuid;

use super::{Store, StoreError};
use crate::with_db;

/// A claim found for a key.
#[derive(Debug, Clone)]
pub struct Claim {
    /// Fingerprint of the request that claimed it.
    pub fingerprint: Vec<u8>,
    /// The id the first request will create (e.g. the redemption id).
    pub resource_id: Uuid,
    /// The stored answer, once the first request finished.
    pub response: Option<(u16, String)>,
    /// When it was claimed.
    pub created_at: DateTime<Utc>,
}

impl Store {
    /// Claims a key. Returns `None` when this call claimed it, or the existing claim. A claim
    /// released between our insert and our read is claimed again, never taken as ours.
    pub async fn claim_key(
        &self,
        scope: &str,
        key: &str,
        fingerprint: &[u8],
        resource_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<Claim>, StoreError> {
        for _ in 0..10 {
            if self
                .try_insert_claim(scope, key, fingerprint, resource_id, now)
                .await?
            {
                return Ok(None);
            }
            if let Some(existing) = self.claim(scope, key).await? {
                return Ok(Some(existing));
            }
        }
        Err(StoreError::Corrupt(
            "an idempotency key keeps vanishing".into(),
        ))
    }

    async fn try_insert_claim(
        &self,
        scope: &str,
        key: &str,
        fingerprint: &[u8],
        resource_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        const INSERT: &str = "INSERT INTO idempotency_keys (scope, key, fingerprint, resource_id, created_at) \
                              VALUES ($1, $2, $3, $4, $5) ON CONFLICT (scope, key) DO NOTHING";
        let inserted = with_db!(self.db(), |p| {
            sqlx::query(INSERT)
                .bind(scope.to_owned())
                .bind(key.to_owned())
                .bind(fingerprint.to_vec())
                .bind(resource_id)
                .bind(now)
                .execute(p)
                .await?
                .rows_affected()
        });
        Ok(inserted == 1)
    }

    /// The claim for a key, if any.
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

    /// Stores the answer of the request that claimed the key.
    pub async fn complete_key(
        &self,
        scope: &str,
        key: &str,
        status: u16,
        body: &str,
    ) -> Result<(), StoreError> {
        const UPDATE: &str = "UPDATE idempotency_keys SET response_status = $1, response_body = $2 \
                              WHERE scope = $3 AND key = $4";
        with_db!(self.db(), |p| {
            sqlx::query(UPDATE)
                .bind(i64::from(status))
                .bind(body.to_owned())
                .bind(scope.to_owned())
                .bind(key.to_owned())
                .execute(p)
                .await?;
        });
        Ok(())
    }

    /// Gives up a claim whose work did not happen (a temporary failure), so a retry can try again.
    pub async fn release_key(
        &self,
        scope: &str,
        key: &str,
        resource_id: Uuid,
    ) -> Result<(), StoreError> {
        const DELETE: &str = "DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 \
                              AND resource_id = $3 AND response_status IS NULL";
        with_db!(self.db(), |p| {
            sqlx::query(DELETE)
                .bind(scope.to_owned())
                .bind(key.to_owned())
                .bind(resource_id)
                .execute(p)
                .await?;
        });
        Ok(())
    }
}
