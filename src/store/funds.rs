//! Funds (regelingen).

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::pool::{Store, StoreError, fetch_all, fetch_optional};
use crate::core::category::CategorySet;
use crate::core::money::Cents;
use crate::core::voucher::{Period, Pooling};

/// A fund.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct FundRow {
    /// Id (also the fund's ledger account).
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Who pays (e.g. the municipality).
    pub sponsor: String,
    /// First day budgets may be spent.
    pub valid_from: NaiveDate,
    /// Last day budgets may be spent.
    pub valid_until: NaiveDate,
    /// Categories budgets may be spent on.
    pub categories: CategorySet,
    /// Budget per child.
    #[sqlx(rename = "amount_per_child_cents")]
    pub amount_per_child: Cents,
    /// Oldest eligible age on `valid_from`.
    pub max_age_years: i64,
    /// One voucher per child or per household.
    pub pooling: Pooling,
    /// When the fund was expired.
    pub expired_at: Option<DateTime<Utc>>,
}

impl FundRow {
    /// The fund's period and age limit.
    pub fn period(&self) -> Period {
        Period {
            valid_from: self.valid_from,
            valid_until: self.valid_until,
            max_age_years: self.max_age_years,
        }
    }
}

#[derive(sqlx::FromRow)]
struct Id {
    id: Uuid,
}

impl Store {
    /// A fund by id.
    pub async fn fund(&self, id: Uuid) -> Result<Option<FundRow>, StoreError> {
        const SQL: &str = "SELECT id, name, sponsor, valid_from, valid_until, categories, \
            amount_per_child_cents, max_age_years, pooling, expired_at FROM funds WHERE id = $1";
        Ok(fetch_optional!(self, FundRow, SQL, [id]))
    }

    /// All voucher ids of a fund.
    pub async fn fund_voucher_ids(&self, fund: Uuid) -> Result<Vec<Uuid>, StoreError> {
        const SQL: &str = "SELECT id FROM vouchers WHERE fund_id = $1 ORDER BY id";
        let rows = fetch_all!(self, Id, SQL, [fund]);
        Ok(rows.into_iter().map(|r| r.id).collect())
    }

    /// The ledger accounts of every voucher of a fund.
    pub async fn fund_voucher_accounts(&self, fund: Uuid) -> Result<Vec<Uuid>, StoreError> {
        const SQL: &str =
            "SELECT account_id AS id FROM vouchers WHERE fund_id = $1 ORDER BY account_id";
        let rows = fetch_all!(self, Id, SQL, [fund]);
        Ok(rows.into_iter().map(|r| r.id).collect())
    }

    /// Every fund, the newest period first.
    pub async fn funds(&self) -> Result<Vec<FundRow>, StoreError> {
        const SQL: &str = "SELECT id, name, sponsor, valid_from, valid_until, categories, \
            amount_per_child_cents, max_age_years, pooling, expired_at FROM funds \
            ORDER BY valid_from DESC, name";
        Ok(fetch_all!(self, FundRow, SQL, []))
    }
}
