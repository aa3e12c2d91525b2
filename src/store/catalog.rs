//! Funds, households, children, providers, vouchers, redemptions: the rows around the ledger.
//! Reads are plain queries; writes that must commit with ledger entries are [`Write`]s.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::Row;
use uuid::Uuid;

use super::{Store, StoreError, Value, Write};
use crate::with_db;

/// A fund (regeling).
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// Category mask.
    pub categories: i64,
    /// Budget per child, in cents.
    pub amount_per_child_cents: i64,
    /// Oldest eligible age on `valid_from`.
    pub max_age_years: i64,
    /// `child` or `household`.
    pub pooling: String,
    /// When the fund was expired.
    pub expired_at: Option<DateTime<Utc>>,
}

/// A household (personal data; erasable).
#[derive(Debug, Clone, PartialEq, Eq)]
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
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// A provider (aanbieder).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderRow {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Chamber of Commerce number.
    pub kvk: String,
    /// Bank account.
    pub iban: String,
    /// Categories the provider offers.
    pub categories: i64,
}

/// A provider's approval for a fund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalRow {
    /// Fund.
    pub fund_id: Uuid,
    /// Provider.
    pub provider_id: Uuid,
    /// The provider's ledger account for this fund.
    pub account_id: Uuid,
    /// Approved categories.
    pub categories: i64,
}

/// A voucher.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    pub expires_at: i64,
}

/// A redemption or direct payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedemptionRow {
    /// Id (also its ledger entry id).
    pub id: Uuid,
    /// `redeem` or `direct_payment`.
    pub kind: String,
    /// Voucher.
    pub voucher_id: Uuid,
    /// Provider.
    pub provider_id: Uuid,
    /// Fund.
    pub fund_id: Uuid,
    /// Amount.
    pub amount_cents: i64,
    /// Category.
    pub category: String,
    /// What it was for.
    pub description: Option<String>,
    /// Who booked it.
    pub user_id: Uuid,
    /// Ledger index.
    pub entry_index: i64,
    /// When.
    pub created_at: DateTime<Utc>,
    /// Ledger index of its reversal, if reversed.
    pub reversed_at_entry: Option<i64>,
}

fn fund(r: &impl RowLike) -> Result<FundRow, sqlx::Error> {
    Ok(FundRow {
        id: r.uuid(0)?,
        name: r.string(1)?,
        sponsor: r.string(2)?,
        valid_from: r.date(3)?,
        valid_until: r.date(4)?,
        categories: r.int(5)?,
        amount_per_child_cents: r.int(6)?,
        max_age_years: r.int(7)?,
        pooling: r.string(8)?,
        expired_at: r.opt_time(9)?,
    })
}

/// Column access shared by both backends' rows.
trait RowLike {
    fn uuid(&self, i: usize) -> Result<Uuid, sqlx::Error>;
    fn opt_uuid(&self, i: usize) -> Result<Option<Uuid>, sqlx::Error>;
    fn string(&self, i: usize) -> Result<String, sqlx::Error>;
    fn opt_string(&self, i: usize) -> Result<Option<String>, sqlx::Error>;
    fn int(&self, i: usize) -> Result<i64, sqlx::Error>;
    fn opt_int(&self, i: usize) -> Result<Option<i64>, sqlx::Error>;
    fn date(&self, i: usize) -> Result<NaiveDate, sqlx::Error>;
    fn opt_date(&self, i: usize) -> Result<Option<NaiveDate>, sqlx::Error>;
    fn time(&self, i: usize) -> Result<DateTime<Utc>, sqlx::Error>;
    fn opt_time(&self, i: usize) -> Result<Option<DateTime<Utc>>, sqlx::Error>;
}

macro_rules! row_like {
    ($t:ty) => {
        impl RowLike for $t {
            fn uuid(&self, i: usize) -> Result<Uuid, sqlx::Error> {
                self.try_get(i)
            }
            fn opt_uuid(&self, i: usize) -> Result<Option<Uuid>, sqlx::Error> {
                self.try_get(i)
            }
            fn string(&self, i: usize) -> Result<String, sqlx::Error> {
                self.try_get(i)
            }
            fn opt_string(&self, i: usize) -> Result<Option<String>, sqlx::Error> {
                self.try_get(i)
            }
            fn int(&self, i: usize) -> Result<i64, sqlx::Error> {
                self.try_get(i)
            }
            fn opt_int(&self, i: usize) -> Result<Option<i64>, sqlx::Error> {
                self.try_get(i)
            }
            fn date(&self, i: usize) -> Result<NaiveDate, sqlx::Error> {
                self.try_get(i)
            }
            fn opt_date(&self, i: usize) -> Result<Option<NaiveDate>, sqlx::Error> {
                self.try_get(i)
            }
            fn time(&self, i: usize) -> Result<DateTime<Utc>, sqlx::Error> {
                self.try_get(i)
            }
            fn opt_time(&self, i: usize) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
                self.try_get(i)
            }
        }
    };
}
row_like!(sqlx::sqlite::SqliteRow);
row_like!(sqlx::postgres::PgRow);

/// Runs a query returning rows, mapping each with `$f`.
macro_rules! fetch_all {
    ($store:expr, $sql:expr, [$($arg:expr),*], $f:expr) => {
        with_db!($store.db(), |p| {
            let rows = sqlx::query($sql)$(.bind($arg))*.fetch_all(p).await?;
            rows.iter().map($f).collect::<Result<Vec<_>, sqlx::Error>>()?
        })
    };
}

macro_rules! fetch_one {
    ($store:expr, $sql:expr, [$($arg:expr),*], $f:expr) => {
        with_db!($store.db(), |p| {
            match sqlx::query($sql)$(.bind($arg))*.fetch_optional(p).await? {
                Some(r) => Some($f(&r)?),
                None => None,
            }
        })
    };
}

/// Inserting a fund, committed with its account-opening entry.
pub fn insert_fund(f: &FundRow, now: DateTime<Utc>) -> Write {
    Write::new(
        "INSERT INTO funds (id, name, sponsor, valid_from, valid_until, categories, \
         amount_per_child_cents, max_age_years, pooling, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        vec![
            Value::Uuid(f.id),
            Value::Text(f.name.clone()),
            Value::Text(f.sponsor.clone()),
            Value::Date(f.valid_from),
            Value::Date(f.valid_until),
            Value::I64(f.categories),
            Value::I64(f.amount_per_child_cents),
            Value::I64(f.max_age_years),
            Value::Text(f.pooling.clone()),
            Value::Time(now),
        ],
    )
}

/// Marking a fund expired, committed with the expiry entries. Affects no row when the fund
/// was already expired.
///
/// `vouchers` is how many vouchers the fund had when its balances were read: a voucher issued
/// since (queued just before the expiry) makes the command refuse as a whole (`fund_changed`),
/// and the expiry is read again, so that no voucher stays open with money in an ended fund.
pub fn expire_fund(id: Uuid, now: DateTime<Utc>, vouchers: usize) -> Write {
    Write::guard(
        "UPDATE funds SET expired_at = $1 WHERE id = $2 AND expired_at IS NULL \
         AND (SELECT COUNT(*) FROM vouchers WHERE fund_id = $2) = $3",
        vec![
            Value::Time(now),
            Value::Uuid(id),
            Value::I64(i64::try_from(vouchers).unwrap_or(i64::MAX)),
        ],
        "fund_changed",
    )
}

/// A note (reference, reason) kept off the ledger for the n-th entry of a command.
pub fn insert_note(
    entry: usize,
    note: Option<String>,
    user: Option<Uuid>,
    now: DateTime<Utc>,
) -> Write {
    Write::new(
        "INSERT INTO entry_notes (entry_index, note, user_id, created_at) VALUES ($1, $2, $3, $4)",
        vec![
            Value::EntryIndex(entry),
            Value::OptText(note),
            Value::OptUuid(user),
            Value::Time(now),
        ],
    )
}

/// Inserting a household.
pub fn insert_household(h: &HouseholdRow, link_hash: Vec<u8>, now: DateTime<Utc>) -> Write {
    Write::new(
        "INSERT INTO households (id, reference, parent_name, email, phone, link_generation, \
         link_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        vec![
            Value::Uuid(h.id),
            Value::OptText(h.reference.clone()),
            Value::OptText(h.parent_name.clone()),
            Value::OptText(h.email.clone()),
            Value::OptText(h.phone.clone()),
            Value::I64(h.link_generation),
            Value::Bytes(link_hash),
            Value::Time(now),
        ],
    )
}

/// Inserting a child.
pub fn insert_child(c: &ChildRow, position: i64, now: DateTime<Utc>) -> Write {
    Write::new(
        "INSERT INTO children (id, household_id, position, first_name, birth_date, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
        vec![
            Value::Uuid(c.id),
            Value::Uuid(c.household_id),
            Value::I64(position),
            Value::OptText(c.first_name.clone()),
            match c.birth_date {
                Some(d) => Value::Date(d),
                None => Value::OptText(None),
            },
            Value::Time(now),
        ],
    )
}

/// Erasing a household's personal data (names, contact, birth dates) and revoking its link.
pub fn erase_household(id: Uuid, now: DateTime<Utc>) -> Vec<Write> {
    vec![
        Write::new(
            "UPDATE households SET reference = NULL, parent_name = NULL, email = NULL, \
             phone = NULL, link_hash = NULL, link_generation = link_generation + 1, \
             erased_at = $1 WHERE id = $2",
            vec![Value::Time(now), Value::Uuid(id)],
        ),
        Write::new(
            "UPDATE children SET first_name = NULL, birth_date = NULL WHERE household_id = $1",
            vec![Value::Uuid(id)],
        ),
        Write::new(
            "UPDATE redemptions SET description = NULL WHERE voucher_id IN \
             (SELECT id FROM vouchers WHERE household_id = $1)",
            vec![Value::Uuid(id)],
        ),
        Write::new(
            "UPDATE reversals SET reason = NULL WHERE redemption_id IN \
             (SELECT r.id FROM redemptions r JOIN vouchers v ON v.id = r.voucher_id \
              WHERE v.household_id = $1)",
            vec![Value::Uuid(id)],
        ),
    ]
}

/// Erasing the free-text note of one entry (references and reasons typed by staff).
pub fn erase_note(entry_index: u64) -> Write {
    Write::new(
        "UPDATE entry_notes SET note = NULL WHERE entry_index = $1",
        vec![Value::I64(entry_index as i64)],
    )
}

/// Giving a household a new personal link (the old one stops working).
pub fn renew_link(id: Uuid, generation: i64, link_hash: Vec<u8>) -> Write {
    Write::new(
        "UPDATE households SET link_generation = $1, link_hash = $2 WHERE id = $3 AND erased_at IS NULL",
        vec![
            Value::I64(generation),
            Value::Bytes(link_hash),
            Value::Uuid(id),
        ],
    )
}

/// Inserting a provider.
pub fn insert_provider(p: &ProviderRow, now: DateTime<Utc>) -> Write {
    Write::new(
        "INSERT INTO providers (id, name, kvk, iban, categories, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        vec![
            Value::Uuid(p.id),
            Value::Text(p.name.clone()),
            Value::Text(p.kvk.clone()),
            Value::Text(p.iban.clone()),
            Value::I64(p.categories),
            Value::Time(now),
        ],
    )
}

/// Approving a provider for a fund (first time: with the account-opening entry).
pub fn insert_approval(a: &ApprovalRow, now: DateTime<Utc>) -> Write {
    Write::new(
        "INSERT INTO fund_providers (fund_id, provider_id, account_id, categories, approved_at) \
         VALUES ($1, $2, $3, $4, $5)",
        vec![
            Value::Uuid(a.fund_id),
            Value::Uuid(a.provider_id),
            Value::Uuid(a.account_id),
            Value::I64(a.categories),
            Value::Time(now),
        ],
    )
}

/// Changing the approved categories.
pub fn update_approval(fund: Uuid, provider: Uuid, categories: i64, now: DateTime<Utc>) -> Write {
    Write::new(
        "UPDATE fund_providers SET categories = $1, approved_at = $2 WHERE fund_id = $3 AND provider_id = $4",
        vec![
            Value::I64(categories),
            Value::Time(now),
            Value::Uuid(fund),
            Value::Uuid(provider),
        ],
    )
}

/// Refuses the command unless the fund is still open (checked inside the ledger's transaction,
/// so a voucher can never be issued into a fund that was expired a moment before).
pub fn fund_still_open(id: Uuid) -> Write {
    Write::guard(
        "UPDATE funds SET expired_at = NULL WHERE id = $1 AND expired_at IS NULL",
        vec![Value::Uuid(id)],
        "fund_expired",
    )
}

/// Inserting a voucher, committed with its opening and issue entries.
pub fn insert_voucher(v: &VoucherRow, now: DateTime<Utc>) -> Write {
    Write::new(
        "INSERT INTO vouchers (id, fund_id, household_id, child_id, token, expires_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        vec![
            Value::Uuid(v.id),
            Value::Uuid(v.fund_id),
            Value::Uuid(v.household_id),
            Value::OptUuid(v.child_id),
            Value::Text(v.token.clone()),
            Value::I64(v.expires_at),
            Value::Time(now),
        ],
    )
}

/// Replacing a voucher's token (reissue), committed with the generation change.
pub fn update_token(id: Uuid, token: &str) -> Write {
    Write::new(
        "UPDATE vouchers SET token = $1 WHERE id = $2",
        vec![Value::Text(token.to_owned()), Value::Uuid(id)],
    )
}

/// Inserting a redemption or direct payment, committed with its entry (the first of the command).
pub fn insert_redemption(r: &RedemptionRow) -> Write {
    Write::new(
        "INSERT INTO redemptions (id, kind, voucher_id, provider_id, fund_id, amount_cents, \
         category, description, user_id, entry_index, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        vec![
            Value::Uuid(r.id),
            Value::Text(r.kind.clone()),
            Value::Uuid(r.voucher_id),
            Value::Uuid(r.provider_id),
            Value::Uuid(r.fund_id),
            Value::I64(r.amount_cents),
            Value::Text(r.category.clone()),
            Value::OptText(r.description.clone()),
            Value::Uuid(r.user_id),
            Value::EntryIndex(0),
            Value::Time(r.created_at),
        ],
    )
}

/// Recording a reversal, committed with its entry.
pub fn insert_reversal(
    redemption: Uuid,
    reason: Option<String>,
    user: Uuid,
    now: DateTime<Utc>,
) -> Write {
    Write::new(
        "INSERT INTO reversals (redemption_id, entry_index, reason, user_id, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
        vec![
            Value::Uuid(redemption),
            Value::EntryIndex(0),
            Value::OptText(reason),
            Value::Uuid(user),
            Value::Time(now),
        ],
    )
}

fn size_and_note(r: &impl RowLike) -> Result<(i64, String), sqlx::Error> {
    Ok((r.int(0)?, r.string(1)?))
}

fn first_opt_string(r: &impl RowLike) -> Result<Option<String>, sqlx::Error> {
    r.opt_string(0)
}

fn first_uuid(r: &impl RowLike) -> Result<Uuid, sqlx::Error> {
    r.uuid(0)
}

fn id_and_name(r: &impl RowLike) -> Result<(Uuid, String), sqlx::Error> {
    Ok((r.uuid(0)?, r.string(1)?))
}

fn household(r: &impl RowLike) -> Result<HouseholdRow, sqlx::Error> {
    Ok(HouseholdRow {
        id: r.uuid(0)?,
        reference: r.opt_string(1)?,
        parent_name: r.opt_string(2)?,
        email: r.opt_string(3)?,
        phone: r.opt_string(4)?,
        link_generation: r.int(5)?,
        erased_at: r.opt_time(6)?,
    })
}

fn child(r: &impl RowLike) -> Result<ChildRow, sqlx::Error> {
    Ok(ChildRow {
        id: r.uuid(0)?,
        household_id: r.uuid(1)?,
        first_name: r.opt_string(2)?,
        birth_date: r.opt_date(3)?,
    })
}

fn provider(r: &impl RowLike) -> Result<ProviderRow, sqlx::Error> {
    Ok(ProviderRow {
        id: r.uuid(0)?,
        name: r.string(1)?,
        kvk: r.string(2)?,
        iban: r.string(3)?,
        categories: r.int(4)?,
    })
}

fn approval(r: &impl RowLike) -> Result<ApprovalRow, sqlx::Error> {
    Ok(ApprovalRow {
        fund_id: r.uuid(0)?,
        provider_id: r.uuid(1)?,
        account_id: r.uuid(2)?,
        categories: r.int(3)?,
    })
}

fn voucher(r: &impl RowLike) -> Result<VoucherRow, sqlx::Error> {
    Ok(VoucherRow {
        id: r.uuid(0)?,
        fund_id: r.uuid(1)?,
        household_id: r.uuid(2)?,
        child_id: r.opt_uuid(3)?,
        token: r.string(4)?,
        expires_at: r.int(5)?,
    })
}

fn redemption(r: &impl RowLike) -> Result<RedemptionRow, sqlx::Error> {
    Ok(RedemptionRow {
        id: r.uuid(0)?,
        kind: r.string(1)?,
        voucher_id: r.uuid(2)?,
        provider_id: r.uuid(3)?,
        fund_id: r.uuid(4)?,
        amount_cents: r.int(5)?,
        category: r.string(6)?,
        description: r.opt_string(7)?,
        user_id: r.uuid(8)?,
        entry_index: r.int(9)?,
        created_at: r.time(10)?,
        reversed_at_entry: r.opt_int(11)?,
    })
}

impl Store {
    /// A fund by id.
    pub async fn fund(&self, id: Uuid) -> Result<Option<FundRow>, StoreError> {
        const SQL: &str = "SELECT id, name, sponsor, valid_from, valid_until, categories, \
            amount_per_child_cents, max_age_years, pooling, expired_at FROM funds WHERE id = $1";
        Ok(fetch_one!(self, SQL, [id], fund))
    }

    /// A household by id.
    pub async fn household(&self, id: Uuid) -> Result<Option<HouseholdRow>, StoreError> {
        const SQL: &str = "SELECT id, reference, parent_name, email, phone, link_generation, \
            erased_at FROM households WHERE id = $1";
        Ok(fetch_one!(self, SQL, [id], household))
    }

    /// A household by its case reference.
    pub async fn household_by_reference(
        &self,
        reference: &str,
    ) -> Result<Option<HouseholdRow>, StoreError> {
        const SQL: &str = "SELECT id, reference, parent_name, email, phone, link_generation, \
            erased_at FROM households WHERE reference = $1";
        Ok(fetch_one!(self, SQL, [reference.to_owned()], household))
    }

    /// The household whose current personal link has this hash.
    pub async fn household_by_link(
        &self,
        link_hash: &[u8],
    ) -> Result<Option<HouseholdRow>, StoreError> {
        const SQL: &str = "SELECT id, reference, parent_name, email, phone, link_generation, \
            erased_at FROM households WHERE link_hash = $1";
        Ok(fetch_one!(self, SQL, [link_hash.to_vec()], household))
    }

    /// Children of a household, in the order they were registered.
    pub async fn children(&self, household: Uuid) -> Result<Vec<ChildRow>, StoreError> {
        const SQL: &str = "SELECT id, household_id, first_name, birth_date FROM children \
                           WHERE household_id = $1 ORDER BY position";
        Ok(fetch_all!(self, SQL, [household], child))
    }

    /// A child by id.
    pub async fn child(&self, id: Uuid) -> Result<Option<ChildRow>, StoreError> {
        const SQL: &str =
            "SELECT id, household_id, first_name, birth_date FROM children WHERE id = $1";
        Ok(fetch_one!(self, SQL, [id], child))
    }

    /// A provider by id.
    pub async fn provider(&self, id: Uuid) -> Result<Option<ProviderRow>, StoreError> {
        const SQL: &str = "SELECT id, name, kvk, iban, categories FROM providers WHERE id = $1";
        Ok(fetch_one!(self, SQL, [id], provider))
    }

    /// A provider's approval for a fund.
    pub async fn approval(
        &self,
        fund: Uuid,
        provider: Uuid,
    ) -> Result<Option<ApprovalRow>, StoreError> {
        const SQL: &str = "SELECT fund_id, provider_id, account_id, categories FROM fund_providers \
                           WHERE fund_id = $1 AND provider_id = $2";
        Ok(fetch_one!(self, SQL, [fund, provider], approval))
    }

    /// A voucher by id.
    pub async fn voucher(&self, id: Uuid) -> Result<Option<VoucherRow>, StoreError> {
        const SQL: &str = "SELECT id, fund_id, household_id, child_id, token, expires_at \
            FROM vouchers WHERE id = $1";
        Ok(fetch_one!(self, SQL, [id], voucher))
    }

    /// The voucher of a child (or, for pooled funds, of the child's household) in a fund.
    pub async fn voucher_for_child(
        &self,
        fund: Uuid,
        child: &ChildRow,
    ) -> Result<Option<VoucherRow>, StoreError> {
        const SQL: &str = "SELECT id, fund_id, household_id, child_id, token, expires_at FROM vouchers \
                           WHERE fund_id = $1 AND (child_id = $2 OR (child_id IS NULL AND household_id = $3))";
        Ok(fetch_one!(
            self,
            SQL,
            [fund, child.id, child.household_id],
            voucher
        ))
    }

    /// All vouchers of a household.
    pub async fn household_vouchers(&self, household: Uuid) -> Result<Vec<VoucherRow>, StoreError> {
        const SQL: &str = "SELECT id, fund_id, household_id, child_id, token, expires_at FROM vouchers \
                           WHERE household_id = $1 ORDER BY created_at, id";
        Ok(fetch_all!(self, SQL, [household], voucher))
    }

    /// All voucher ids of a fund.
    pub async fn fund_voucher_ids(&self, fund: Uuid) -> Result<Vec<Uuid>, StoreError> {
        const SQL: &str = "SELECT id FROM vouchers WHERE fund_id = $1 ORDER BY id";
        Ok(fetch_all!(self, SQL, [fund], first_uuid))
    }

    /// A redemption or direct payment by id.
    pub async fn redemption(&self, id: Uuid) -> Result<Option<RedemptionRow>, StoreError> {
        const SQL: &str = "SELECT r.id, r.kind, r.voucher_id, r.provider_id, r.fund_id, \
            r.amount_cents, r.category, r.description, r.user_id, r.entry_index, r.created_at, \
            v.entry_index FROM redemptions r LEFT JOIN reversals v ON v.redemption_id = r.id \
            WHERE r.id = $1";
        Ok(fetch_one!(self, SQL, [id], redemption))
    }

    /// Redemptions and direct payments of a voucher, oldest first.
    pub async fn voucher_redemptions(
        &self,
        voucher: Uuid,
    ) -> Result<Vec<RedemptionRow>, StoreError> {
        const SQL: &str = "SELECT r.id, r.kind, r.voucher_id, r.provider_id, r.fund_id, \
            r.amount_cents, r.category, r.description, r.user_id, r.entry_index, r.created_at, \
            v.entry_index FROM redemptions r LEFT JOIN reversals v ON v.redemption_id = r.id \
            WHERE r.voucher_id = $1 ORDER BY r.entry_index";
        Ok(fetch_all!(self, SQL, [voucher], redemption))
    }

    /// Provider names by id, for showing where a budget was spent.
    pub async fn provider_names(
        &self,
    ) -> Result<std::collections::HashMap<Uuid, String>, StoreError> {
        const SQL: &str = "SELECT id, name FROM providers";
        let rows: Vec<(Uuid, String)> = fetch_all!(self, SQL, [], id_and_name);
        Ok(rows.into_iter().collect())
    }

    /// The first stored checkpoint that covers entry `index`: `(size, note)`.
    pub async fn first_checkpoint_covering(
        &self,
        index: u64,
    ) -> Result<Option<(u64, String)>, StoreError> {
        const SQL: &str =
            "SELECT size, note FROM ledger_checkpoints WHERE size > $1 ORDER BY size LIMIT 1";
        let idx = super::to_i64(index)?;
        let row: Option<(i64, String)> = fetch_one!(self, SQL, [idx], size_and_note);
        Ok(row.map(|(s, n)| (s as u64, n)))
    }

    /// The off-ledger note of an entry.
    pub async fn entry_note(&self, entry_index: i64) -> Result<Option<String>, StoreError> {
        const SQL: &str = "SELECT note FROM entry_notes WHERE entry_index = $1";
        let note: Option<Option<String>> = fetch_one!(self, SQL, [entry_index], first_opt_string);
        Ok(note.flatten())
    }
}
