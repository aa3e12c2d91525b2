//! Providers (aanbieders) and their approval per fund.

use std::collections::HashMap;

use uuid::Uuid;

use super::pool::{Store, StoreError, fetch_all, fetch_optional};
use crate::core::category::CategorySet;
use crate::core::iban::{Iban, Kvk};

/// A provider.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ProviderRow {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Chamber of Commerce number.
    pub kvk: Kvk,
    /// Bank account.
    pub iban: Iban,
    /// Categories the provider offers.
    pub categories: CategorySet,
}

/// A provider's approval for a fund.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ApprovalRow {
    /// Fund.
    pub fund_id: Uuid,
    /// Provider.
    pub provider_id: Uuid,
    /// The provider's ledger account for this fund.
    pub account_id: Uuid,
    /// Approved categories.
    pub categories: CategorySet,
}

#[derive(sqlx::FromRow)]
struct Name {
    id: Uuid,
    name: String,
}

impl Store {
    /// A provider by id.
    pub async fn provider(&self, id: Uuid) -> Result<Option<ProviderRow>, StoreError> {
        const SQL: &str = "SELECT id, name, kvk, iban, categories FROM providers WHERE id = $1";
        Ok(fetch_optional!(self, ProviderRow, SQL, [id]))
    }

    /// A provider's approval for a fund.
    pub async fn approval(
        &self,
        fund: Uuid,
        provider: Uuid,
    ) -> Result<Option<ApprovalRow>, StoreError> {
        const SQL: &str = "SELECT fund_id, provider_id, account_id, categories FROM fund_providers \
                           WHERE fund_id = $1 AND provider_id = $2";
        Ok(fetch_optional!(self, ApprovalRow, SQL, [fund, provider]))
    }

    /// The names of the providers behind ledger provider accounts, by account id.
    pub async fn provider_names_by_account(
        &self,
        accounts: &[Uuid],
    ) -> Result<HashMap<Uuid, String>, StoreError> {
        if accounts.is_empty() {
            return Ok(HashMap::new());
        }
        self.count_query();
        let rows: Vec<Name> = crate::with_db!(self.db(), |p| {
            let mut qb = sqlx::QueryBuilder::new(
                "SELECT a.account_id AS id, p.name AS name FROM fund_providers a \
                 JOIN providers p ON p.id = a.provider_id WHERE a.account_id IN (",
            );
            let mut sep = qb.separated(", ");
            for a in accounts {
                sep.push_bind(*a);
            }
            qb.push(")");
            qb.build_query_as().fetch_all(p).await?
        });
        Ok(rows.into_iter().map(|r| (r.id, r.name)).collect())
    }

    /// Every provider, by name.
    pub async fn providers(&self) -> Result<Vec<ProviderRow>, StoreError> {
        const SQL: &str = "SELECT id, name, kvk, iban, categories FROM providers ORDER BY name";
        Ok(fetch_all!(self, ProviderRow, SQL, []))
    }

    /// The approvals of a fund.
    pub async fn approvals_of(&self, fund: Uuid) -> Result<Vec<ApprovalRow>, StoreError> {
        const SQL: &str = "SELECT fund_id, provider_id, account_id, categories FROM fund_providers \
                           WHERE fund_id = $1";
        Ok(fetch_all!(self, ApprovalRow, SQL, [fund]))
    }
}
