//! How the core's types are stored: which SQL type each maps to, and back. Decoding checks
//! what it reads (a category mask with unknown bits, an unknown role, a negative index), so a
//! damaged row is an error instead of a wrong value.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::error::BoxDynError;
use uuid::Uuid;

use crate::core::category::{Category, CategorySet};
use crate::core::iban::{Iban, Kvk};
use crate::core::money::Cents;
use crate::core::role::Role;
use crate::core::voucher::Pooling;

/// A ledger index as stored (a non-negative `BIGINT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntryIndex(pub u64);

/// Implements `sqlx::Type` and `sqlx::Decode` for a type stored as `$base`, converting with
/// `$from: fn($base) -> Result<Self, impl Error>`.
macro_rules! stored_as {
    ($t:ty, $base:ty, $from:expr) => {
        impl<DB: sqlx::Database> sqlx::Type<DB> for $t
        where
            $base: sqlx::Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <$base as sqlx::Type<DB>>::type_info()
            }
            fn compatible(ty: &DB::TypeInfo) -> bool {
                <$base as sqlx::Type<DB>>::compatible(ty)
            }
        }
        impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for $t
        where
            $base: sqlx::Decode<'r, DB>,
        {
            fn decode(value: DB::ValueRef<'r>) -> Result<Self, BoxDynError> {
                let v = <$base as sqlx::Decode<'r, DB>>::decode(value)?;
                Ok($from(v)?)
            }
        }
    };
}

/// A stored value that does not fit its Rust type.
#[derive(Debug, thiserror::Error)]
#[error("stored value does not fit: {0}")]
struct Misfit(String);

stored_as!(Cents, i64, |v: i64| Ok::<_, Misfit>(Cents(v)));
stored_as!(CategorySet, i64, CategorySet::try_from);
stored_as!(Category, String, |s: String| Category::parse(&s)
    .ok_or(Misfit(format!("category {s:?}"))));
stored_as!(Role, String, Role::try_from);
stored_as!(Pooling, String, Pooling::try_from);
stored_as!(Iban, String, Iban::try_from);
stored_as!(Kvk, String, Kvk::try_from);
stored_as!(EntryIndex, i64, |v: i64| u64::try_from(v)
    .map(EntryIndex)
    .map_err(|_| Misfit(format!("negative ledger index {v}"))));

/// A value bound into a statement (the same for both backends).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    I64(i64),
    /// A count or position, stored as `BIGINT` (refused if it does not fit).
    Count(usize),
    /// A ledger index, stored as `BIGINT` (refused if it does not fit).
    Index(u64),
    Text(String),
    OptText(Option<String>),
    Bytes(Vec<u8>),
    Uuid(Uuid),
    OptUuid(Option<Uuid>),
    Time(DateTime<Utc>),
    Date(NaiveDate),
    OptDate(Option<NaiveDate>),
    /// The ledger index assigned to the n-th entry of the same command.
    IndexOfEntry(usize),
}

/// Binds [`Value`]s to a query for either backend; `$indexes` are the ledger indexes of the
/// command's entries.
macro_rules! bind {
    ($q:expr, $args:expr, $indexes:expr) => {{
        use $crate::store::codec::Value;
        let mut q = $q;
        for v in $args {
            q = match v {
                Value::I64(x) => q.bind(*x),
                Value::Count(n) => q.bind(i64::try_from(*n).map_err(|_| {
                    $crate::store::pool::StoreError::Corrupt(format!("count {n} out of range"))
                })?),
                Value::Index(i) => q.bind($crate::store::pool::to_i64(*i)?),
                Value::Text(x) => q.bind(x.clone()),
                Value::OptText(x) => q.bind(x.clone()),
                Value::Bytes(x) => q.bind(x.clone()),
                Value::Uuid(x) => q.bind(*x),
                Value::OptUuid(x) => q.bind(*x),
                Value::Time(x) => q.bind(*x),
                Value::Date(x) => q.bind(*x),
                Value::OptDate(x) => q.bind(*x),
                Value::IndexOfEntry(n) => {
                    let idx = $indexes.get(*n).copied().ok_or_else(|| {
                        $crate::store::pool::StoreError::Corrupt(format!(
                            "a change refers to entry {n} of its command"
                        ))
                    })?;
                    q.bind($crate::store::pool::to_i64(idx)?)
                }
            };
        }
        q
    }};
}

pub(crate) use bind;
