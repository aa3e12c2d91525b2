//! Vouchers: one per child (or per household, for pooled funds) per fund.

use uuid::Uuid;

use super::households::ChildRow;
use super::pool::{Store, StoreError, fetch_all, fetch_optional};

/// A voucher.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct VoucherRow {
    /// Id (the id in its token; never on the ledger).
    pub id: Uuid,
    /// Its ledger account: random, unrelated to `id`, and on the ledger only as commitments.
    pub account_id: Uuid,
    /// Fund.
    pub fund_id: Uuid,
    /// Household.
    pub household_id: Uuid,
    /// Child, unless the fund pools per household.
    pub child_id: Option<Uuid>,
    /// The id of the voucher key that signs its token (the token itself is not stored; it is
    /// signed again when needed).
    pub token_key_id: Vec<u8>,
    /// Token expiry, Unix seconds.
    #[sqlx(try_from = "i64")]
    pub expires_at: u32,
    /// The generation of its current token (bumped by a reissue); kept off the ledger.
    #[sqlx(try_from = "i64")]
    pub generation: u8,
}

/// A reissue of a voucher: the token of one key stopped working and a new generation replaced it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ReissueRow {
    /// The voucher.
    pub voucher_id: Uuid,
    /// Its household (who needs the new letter).
    pub household_id: Uuid,
    /// The new token generation.
    #[sqlx(try_from = "i64")]
    pub generation: u8,
    /// When.
    pub at: chrono::DateTime<chrono::Utc>,
}

macro_rules! vouchers {
    ($where:literal) => {
        concat!(
            "SELECT id, account_id, fund_id, household_id, child_id, token_key_id, expires_at, \
             CAST(generation AS BIGINT) AS generation FROM vouchers ",
            $where
        )
    };
}

impl Store {
    /// A voucher by id.
    pub async fn voucher(&self, id: Uuid) -> Result<Option<VoucherRow>, StoreError> {
        Ok(fetch_optional!(
            self,
            VoucherRow,
            vouchers!("WHERE id = $1"),
            [id]
        ))
    }

    /// The voucher of a child (or, for pooled funds, of the child's household) in a fund.
    pub async fn voucher_for_child(
        &self,
        fund: Uuid,
        child: &ChildRow,
    ) -> Result<Option<VoucherRow>, StoreError> {
        Ok(fetch_optional!(
            self,
            VoucherRow,
            vouchers!(
                "WHERE fund_id = $1 AND (child_id = $2 OR (child_id IS NULL AND household_id = $3))"
            ),
            [fund, child.id, child.household_id]
        ))
    }

    /// All vouchers of a household.
    pub async fn household_vouchers(&self, household: Uuid) -> Result<Vec<VoucherRow>, StoreError> {
        Ok(fetch_all!(
            self,
            VoucherRow,
            vouchers!("WHERE household_id = $1 ORDER BY created_at, id"),
            [household]
        ))
    }

    /// Empties the `token` column of vouchers from before tokens stopped being stored, keeping
    /// only the id of the key that signed each. Runs at every start; a no-op once done.
    pub async fn scrub_stored_tokens(&self) -> Result<u64, StoreError> {
        #[derive(sqlx::FromRow)]
        struct Old {
            id: Uuid,
            token: String,
        }
        let old: Vec<Old> = fetch_all!(
            self,
            Old,
            "SELECT id, token FROM vouchers WHERE token <> ''",
            []
        );
        let mut n = 0;
        for o in old {
            let key_id = crate::core::token::VoucherToken::parse(&o.token)
                .map(|t| t.key_id.to_vec())
                .map_err(|e| {
                    StoreError::Corrupt(format!("voucher {} has a bad stored token: {e}", o.id))
                })?;
            self.count_query();
            crate::with_db!(self.db(), |p| {
                sqlx::query("UPDATE vouchers SET token = '', token_key_id = $1 WHERE id = $2")
                    .bind(key_id)
                    .bind(o.id)
                    .execute(p)
                    .await?;
            });
            n += 1;
        }
        // Answers to idempotent requests stored by older versions could hold a token (an
        // issue's answer): forget them. A replay of an issue rebuilds its answer from the
        // voucher; any other such replay is answered as in doubt.
        self.count_query();
        let answers = crate::with_db!(self.db(), |p| {
            sqlx::query(
                "UPDATE idempotency_keys SET response_status = NULL, response_body = NULL, \
                 outcome = NULL WHERE response_body LIKE '%KP1:%' OR outcome LIKE '%KP1:%'",
            )
            .execute(p)
            .await?
            .rows_affected()
        });
        Ok(n + answers)
    }

    /// Every voucher reissued away from a voucher key (its token of that key stopped
    /// working), once each (its last such reissue), oldest first.
    pub async fn reissued_from_key(&self, key_id: &[u8]) -> Result<Vec<ReissueRow>, StoreError> {
        Ok(fetch_all!(
            self,
            ReissueRow,
            "SELECT r.voucher_id, v.household_id, r.generation, r.at FROM voucher_reissues r \
             JOIN vouchers v ON v.id = r.voucher_id WHERE r.from_key_id = $1 \
             AND NOT EXISTS (SELECT 1 FROM voucher_reissues l WHERE l.voucher_id = r.voucher_id \
             AND l.from_key_id = r.from_key_id AND l.generation > r.generation) \
             ORDER BY r.at, r.voucher_id",
            [key_id.to_vec()]
        ))
    }

    /// The vouchers whose tokens a voucher key signs.
    pub async fn vouchers_signed_by(&self, key_id: &[u8]) -> Result<Vec<VoucherRow>, StoreError> {
        Ok(fetch_all!(
            self,
            VoucherRow,
            vouchers!("WHERE token_key_id = $1 ORDER BY created_at, id"),
            [key_id.to_vec()]
        ))
    }
}
