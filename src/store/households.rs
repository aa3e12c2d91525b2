//! Households and children: personal data, never on the ledger, erasable.

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::pool::{Store, StoreError, fetch_all, fetch_optional};

/// A household.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct HouseholdRow {
    /// Id.
    pub id: Uuid,
    /// Leergeld's case reference.
    pub reference: Option<String>,
    /// Parent's name.
    pub parent_name: Option<String>,
    /// E-mail.
    pub email: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Generation of the personal link.
    pub link_generation: i64,
    /// When personal data was erased.
    pub erased_at: Option<DateTime<Utc>>,
}

/// A child.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ChildRow {
    /// Id.
    pub id: Uuid,
    /// Household.
    pub household_id: Uuid,
    /// First name (erasable).
    pub first_name: Option<String>,
    /// Birth date (erasable).
    pub birth_date: Option<NaiveDate>,
}

macro_rules! households {
    ($where:literal) => {
        concat!(
            "SELECT id, reference, parent_name, email, phone, link_generation, erased_at \
             FROM households ",
            $where
        )
    };
}

macro_rules! children {
    ($where:literal) => {
        concat!(
            "SELECT id, household_id, first_name, birth_date FROM children ",
            $where
        )
    };
}

impl Store {
    /// A household by id.
    pub async fn household(&self, id: Uuid) -> Result<Option<HouseholdRow>, StoreError> {
        Ok(fetch_optional!(
            self,
            HouseholdRow,
            households!("WHERE id = $1"),
            [id]
        ))
    }

    /// A household by its case reference.
    pub async fn household_by_reference(
        &self,
        reference: &str,
    ) -> Result<Option<HouseholdRow>, StoreError> {
        Ok(fetch_optional!(
            self,
            HouseholdRow,
            households!("WHERE reference = $1"),
            [reference.to_owned()]
        ))
    }

    /// The household whose current personal link has this hash.
    pub async fn household_by_link(
        &self,
        link_hash: &[u8],
    ) -> Result<Option<HouseholdRow>, StoreError> {
        Ok(fetch_optional!(
            self,
            HouseholdRow,
            households!("WHERE link_hash = $1"),
            [link_hash.to_vec()]
        ))
    }

    /// Children of a household, in the order they were registered.
    pub async fn children(&self, household: Uuid) -> Result<Vec<ChildRow>, StoreError> {
        Ok(fetch_all!(
            self,
            ChildRow,
            children!("WHERE household_id = $1 ORDER BY position"),
            [household]
        ))
    }

    /// A child by id.
    pub async fn child(&self, id: Uuid) -> Result<Option<ChildRow>, StoreError> {
        Ok(fetch_optional!(
            self,
            ChildRow,
            children!("WHERE id = $1"),
            [id]
        ))
    }

    /// Households whose reference, parent's name or a child's first name contains `text`
    /// (case-insensitive), erased ones left out, by reference; at most `limit`.
    pub async fn search_households(
        &self,
        text: &str,
        limit: i64,
    ) -> Result<Vec<HouseholdRow>, StoreError> {
        let mut pattern = String::from("%");
        for c in text.to_lowercase().chars() {
            if matches!(c, '%' | '_' | '\\') {
                pattern.push('\\');
            }
            pattern.push(c);
        }
        pattern.push('%');
        Ok(fetch_all!(
            self,
            HouseholdRow,
            households!(
                "WHERE erased_at IS NULL AND (LOWER(reference) LIKE $1 ESCAPE '\\' \
                 OR LOWER(parent_name) LIKE $1 ESCAPE '\\' \
                 OR id IN (SELECT household_id FROM children WHERE LOWER(first_name) LIKE $1 ESCAPE '\\')) \
                 ORDER BY reference LIMIT $2"
            ),
            [pattern, limit]
        ))
    }

    /// Every household whose personal data is kept, by reference.
    pub async fn current_households(&self) -> Result<Vec<HouseholdRow>, StoreError> {
        Ok(fetch_all!(
            self,
            HouseholdRow,
            households!("WHERE erased_at IS NULL ORDER BY reference"),
            []
        ))
    }
}
