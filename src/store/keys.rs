//! What Leergeld decided about voucher-signing keys: accepted until a date, or revoked.

use chrono::{DateTime, NaiveDate, Utc};

use super::pool::{Store, StoreError, fetch_all, fetch_optional};

/// The status of a voucher key that is no longer the active one.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct VoucherKeyStatus {
    /// The key id (4 bytes).
    pub key_id: Vec<u8>,
    /// The last day its tokens are accepted (after a rotation).
    pub accept_until: Option<NaiveDate>,
    /// When it was revoked (its tokens are refused).
    pub revoked_at: Option<DateTime<Utc>>,
}

impl Store {
    /// The status of a voucher key; none for a key nobody rotated out or revoked.
    pub async fn voucher_key_status(
        &self,
        key_id: &[u8],
    ) -> Result<Option<VoucherKeyStatus>, StoreError> {
        Ok(fetch_optional!(
            self,
            VoucherKeyStatus,
            "SELECT key_id, accept_until, revoked_at FROM voucher_key_status WHERE key_id = $1",
            [key_id.to_vec()]
        ))
    }

    /// Every voucher key with a status.
    pub async fn voucher_key_statuses(&self) -> Result<Vec<VoucherKeyStatus>, StoreError> {
        Ok(fetch_all!(
            self,
            VoucherKeyStatus,
            "SELECT key_id, accept_until, revoked_at FROM voucher_key_status ORDER BY key_id",
            []
        ))
    }

    /// Tokens of a rotated-out key are accepted until `until` (inclusive).
    pub async fn accept_voucher_key_until(
        &self,
        key_id: &[u8],
        until: NaiveDate,
    ) -> Result<(), StoreError> {
        self.count_query();
        crate::with_db!(self.db(), |p| {
            sqlx::query(
                "INSERT INTO voucher_key_status (key_id, accept_until) VALUES ($1, $2) \
                 ON CONFLICT (key_id) DO UPDATE SET accept_until = excluded.accept_until",
            )
            .bind(key_id.to_vec())
            .bind(until)
            .execute(p)
            .await?;
        });
        Ok(())
    }

    /// Revokes a voucher key: its tokens are refused from now on. Revoking again keeps the
    /// first time.
    pub async fn revoke_voucher_key(
        &self,
        key_id: &[u8],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.count_query();
        crate::with_db!(self.db(), |p| {
            sqlx::query(
                "INSERT INTO voucher_key_status (key_id, revoked_at) VALUES ($1, $2) \
                 ON CONFLICT (key_id) DO UPDATE \
                 SET revoked_at = COALESCE(voucher_key_status.revoked_at, excluded.revoked_at)",
            )
            .bind(key_id.to_vec())
            .bind(at)
            .execute(p)
            .await?;
        });
        Ok(())
    }
}
