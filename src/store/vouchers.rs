//! Vouchers: one per child (or per household, for pooled funds) per fund.

use uuid::Uuid;

use super::households::ChildRow;
use super::pool::{Store, StoreError, fetch_all, fetch_optional};

/// A voucher.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct VoucherRow {
    /// Id (also its ledger account and the id in its token).
    pub id: Uuid,
    /// Fund.
    pub fund_id: Uuid,
    /// Household.
    pub household_id: Uuid,
    /// Child, unless the fund pools per household.
    pub child_id: Option<Uuid>,
    /// The current token text.
    pub token: String,
    /// Token expiry, Unix seconds.
    #[sqlx(try_from = "i64")]
    pub expires_at: u32,
}

macro_rules! vouchers {
    ($where:literal) => {
        concat!(
            "SELECT id, fund_id, household_id, child_id, token, expires_at FROM vouchers ",
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
}
