//! Redemptions and direct payments, their reversals, and the free-text notes that belong with
//! ledger entries but must not be on them (references, reasons).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::codec::EntryIndex;
use super::pool::{Store, StoreError, fetch_all, fetch_optional, to_i64};
use crate::core::category::Category;
use crate::core::money::Cents;

/// What kind of spending a redemption row records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpendKind {
    /// A club scanned the voucher.
    Redeem,
    /// Leergeld paid the provider directly.
    DirectPayment,
}

impl SpendKind {
    /// The stored name (also the ledger's transfer kind name).
    pub fn as_str(self) -> &'static str {
        match self {
            SpendKind::Redeem => "redeem",
            SpendKind::DirectPayment => "direct_payment",
        }
    }
}

/// A stored spending kind that is not one of ours.
#[derive(Debug, thiserror::Error)]
#[error("unknown spending kind {0:?}")]
pub struct UnknownKind(String);

impl TryFrom<String> for SpendKind {
    type Error = UnknownKind;

    fn try_from(s: String) -> Result<Self, UnknownKind> {
        match s.as_str() {
            "redeem" => Ok(SpendKind::Redeem),
            "direct_payment" => Ok(SpendKind::DirectPayment),
            _ => Err(UnknownKind(s)),
        }
    }
}

/// A redemption or direct payment.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RedemptionRow {
    /// Id (also its ledger entry id).
    pub id: Uuid,
    /// Redemption or direct payment.
    #[sqlx(try_from = "String")]
    pub kind: SpendKind,
    /// Voucher.
    pub voucher_id: Uuid,
    /// Provider.
    pub provider_id: Uuid,
    /// Fund.
    pub fund_id: Uuid,
    /// Amount.
    #[sqlx(rename = "amount_cents")]
    pub amount: Cents,
    /// Category.
    pub category: Category,
    /// What it was for.
    pub description: Option<String>,
    /// Who booked it.
    pub user_id: Uuid,
    /// Ledger index.
    pub entry_index: EntryIndex,
    /// When.
    pub created_at: DateTime<Utc>,
    /// Ledger index of its reversal, if reversed.
    pub reversed_at_entry: Option<EntryIndex>,
}

macro_rules! redemptions {
    ($where:literal) => {
        concat!(
            "SELECT r.id, r.kind, r.voucher_id, r.provider_id, r.fund_id, r.amount_cents, \
             r.category, r.description, r.user_id, r.entry_index, r.created_at, \
             v.entry_index AS reversed_at_entry \
             FROM redemptions r LEFT JOIN reversals v ON v.redemption_id = r.id ",
            $where
        )
    };
}

#[derive(sqlx::FromRow)]
struct Note {
    entry_index: EntryIndex,
    note: Option<String>,
}

impl Store {
    /// A redemption or direct payment by id.
    pub async fn redemption(&self, id: Uuid) -> Result<Option<RedemptionRow>, StoreError> {
        Ok(fetch_optional!(
            self,
            RedemptionRow,
            redemptions!("WHERE r.id = $1"),
            [id]
        ))
    }

    /// The newest redemptions and direct payments of a provider, newest first.
    pub async fn provider_redemptions(
        &self,
        provider: Uuid,
        limit: i64,
    ) -> Result<Vec<RedemptionRow>, StoreError> {
        Ok(fetch_all!(
            self,
            RedemptionRow,
            redemptions!("WHERE r.provider_id = $1 ORDER BY r.entry_index DESC LIMIT $2"),
            [provider, limit]
        ))
    }

    /// Redemptions and direct payments of a voucher, oldest first.
    pub async fn voucher_redemptions(
        &self,
        voucher: Uuid,
    ) -> Result<Vec<RedemptionRow>, StoreError> {
        Ok(fetch_all!(
            self,
            RedemptionRow,
            redemptions!("WHERE r.voucher_id = $1 ORDER BY r.entry_index"),
            [voucher]
        ))
    }

    /// The off-ledger notes of some entries that have one (in one query).
    pub async fn entry_notes(&self, indexes: &[u64]) -> Result<HashMap<u64, String>, StoreError> {
        let mut out = HashMap::new();
        for chunk in indexes.chunks(500) {
            let ids = chunk
                .iter()
                .map(|i| to_i64(*i))
                .collect::<Result<Vec<_>, _>>()?;
            self.count_query();
            let rows: Vec<Note> = crate::with_db!(self.db(), |p| {
                let mut qb = sqlx::QueryBuilder::new(
                    "SELECT entry_index, note FROM entry_notes WHERE entry_index IN (",
                );
                let mut sep = qb.separated(", ");
                for i in &ids {
                    sep.push_bind(*i);
                }
                qb.push(")");
                qb.build_query_as().fetch_all(p).await?
            });
            out.extend(
                rows.into_iter()
                    .filter_map(|n| Some((n.entry_index.0, n.note?))),
            );
        }
        Ok(out)
    }
}
