//! Every way the service changes rows, as a closed set of typed changes. Each knows its own
//! SQL; callers never write SQL. A change runs inside a ledger command's transaction (the
//! sequencer's [`super::Writer`]) or on its own ([`super::Store::apply`]).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::codec::{Value, bind};
use super::funds::FundRow;
use super::households::{ChildRow, HouseholdRow};
use super::pool::{Store, StoreError};
use super::precondition::Precondition;
use super::providers::{ApprovalRow, ProviderRow};
use super::redemptions::RedemptionRow;
use super::vouchers::VoucherRow;
use crate::core::category::CategorySet;

/// One change of rows.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A new fund (with its account-opening entry).
    InsertFund {
        /// The fund.
        fund: FundRow,
        /// When.
        at: DateTime<Utc>,
    },
    /// Marks a fund expired. Refuses ([`Precondition::FundUnchanged`]) when it was expired
    /// already or a voucher was issued since its `vouchers` were counted.
    ExpireFund {
        /// The fund.
        id: Uuid,
        /// How many vouchers the fund had when its balances were read.
        vouchers: usize,
        /// When.
        at: DateTime<Utc>,
    },
    /// Changes nothing, but refuses ([`Precondition::FundOpen`]) once the fund was expired:
    /// a voucher can never be issued into a fund expired a moment before.
    FundStillOpen {
        /// The fund.
        id: Uuid,
    },
    /// A note (reference, reason) kept off the ledger for the n-th entry of the command.
    InsertNote {
        /// Which entry of the command (0 = the first).
        entry: usize,
        /// The text, if any.
        note: Option<String>,
        /// Who typed it.
        user: Option<Uuid>,
        /// When.
        at: DateTime<Utc>,
    },
    /// Erases the note of one entry.
    EraseNote {
        /// Ledger index of the entry.
        entry_index: u64,
    },
    /// A new household with the hash of its personal link.
    InsertHousehold {
        /// The household.
        household: HouseholdRow,
        /// SHA-256 of its link token.
        link_hash: Vec<u8>,
        /// When.
        at: DateTime<Utc>,
    },
    /// A new child.
    InsertChild {
        /// The child.
        child: ChildRow,
        /// Its place among its household's children.
        position: usize,
        /// When.
        at: DateTime<Utc>,
    },
    /// Erases a household's personal data (names, contact data, birth dates, descriptions and
    /// reasons typed with its vouchers' payments) and revokes its link.
    EraseHousehold {
        /// The household.
        id: Uuid,
        /// When.
        at: DateTime<Utc>,
    },
    /// New contact data of a household; refuses ([`Precondition::HouseholdNotErased`]) after
    /// erasure.
    UpdateHousehold {
        /// The household.
        id: Uuid,
        /// Parent's name.
        parent_name: String,
        /// E-mail.
        email: Option<String>,
        /// Phone.
        phone: Option<String>,
    },
    /// A corrected first name and birth date of a child; refuses
    /// ([`Precondition::HouseholdNotErased`]) after erasure.
    UpdateChild {
        /// The child.
        id: Uuid,
        /// Its household.
        household: Uuid,
        /// First name.
        first_name: String,
        /// Birth date.
        birth_date: chrono::NaiveDate,
    },
    /// A new personal link; refuses ([`Precondition::HouseholdNotErased`]) after erasure.
    RenewLink {
        /// The household.
        household: Uuid,
        /// The new link generation.
        generation: i64,
        /// SHA-256 of the new link token.
        link_hash: Vec<u8>,
    },
    /// A new provider.
    InsertProvider {
        /// The provider.
        provider: ProviderRow,
        /// When.
        at: DateTime<Utc>,
    },
    /// A provider's first approval for a fund (with the opening of its ledger account).
    InsertApproval {
        /// The approval.
        approval: ApprovalRow,
        /// When.
        at: DateTime<Utc>,
    },
    /// New approved categories.
    UpdateApproval {
        /// The fund.
        fund: Uuid,
        /// The provider.
        provider: Uuid,
        /// The categories.
        categories: CategorySet,
        /// When.
        at: DateTime<Utc>,
    },
    /// A new voucher (with its opening and issue entries).
    InsertVoucher {
        /// The voucher.
        voucher: VoucherRow,
        /// When.
        at: DateTime<Utc>,
    },
    /// The key that signs a voucher's token from now on (reissue), and the record of the
    /// reissue: which key signed the token that stopped working. Refused
    /// ([`Precondition::TokenKeyUnchanged`]) when that is no longer the voucher's key: another
    /// reissue came first.
    UpdateTokenKey {
        /// The voucher.
        voucher: Uuid,
        /// The voucher key id from now on.
        key_id: Vec<u8>,
        /// The key id of the token that stopped working.
        from_key_id: Vec<u8>,
        /// The new token generation.
        generation: u8,
        /// Who reissued it.
        user: Option<Uuid>,
        /// When.
        at: DateTime<Utc>,
    },
    /// A redemption or direct payment; its entry index is the first entry of the command.
    InsertRedemption(RedemptionRow),
    /// How the redemption of this command (inserted just before) was authorised, kept off the
    /// public ledger: the token's voucher key id, generation and SHA-256 (never the token).
    /// Refused ([`Precondition::TokenCurrent`]) when the voucher's token generation is no
    /// longer this one (a reissue came first).
    RecordTokenUse {
        /// The voucher.
        voucher: Uuid,
        /// The token's key id.
        key_id: Vec<u8>,
        /// The token's generation, which must still be the voucher's.
        generation: u8,
        /// SHA-256 of the 91 token bytes.
        digest: Vec<u8>,
    },
    /// Changes nothing, but refuses ([`Precondition::AccountUnchanged`]) when the voucher's
    /// token generation is no longer the one read (a reissue came first).
    VoucherGenerationIs {
        /// The voucher.
        voucher: Uuid,
        /// The generation read.
        generation: u8,
    },
    /// A reversal; its entry index is the first entry of the command.
    InsertReversal {
        /// The redemption reversed.
        redemption: Uuid,
        /// Why.
        reason: Option<String>,
        /// Who.
        user: Uuid,
        /// When.
        at: DateTime<Utc>,
    },
    /// An idempotency key written with the booking it belongs to: a second booking with the
    /// same key hits the primary key and the whole command is refused.
    InsertIdempotencyKey {
        /// Operation and user.
        scope: String,
        /// The key.
        key: String,
        /// Fingerprint of the request.
        fingerprint: Vec<u8>,
        /// The id the booking creates.
        resource_id: Uuid,
        /// When.
        at: DateTime<Utc>,
    },
    /// The outcome of a booked request, stored under its key (once).
    CompleteIdempotencyKey {
        /// Operation and user.
        scope: String,
        /// The key.
        key: String,
        /// The outcome.
        outcome: String,
    },
    /// A key and its outcome at once (a refusal); the first one stored wins.
    InsertIdempotencyOutcome {
        /// Operation and user.
        scope: String,
        /// The key.
        key: String,
        /// Fingerprint of the request.
        fingerprint: Vec<u8>,
        /// The id the request would have created.
        resource_id: Uuid,
        /// The outcome.
        outcome: String,
        /// When.
        at: DateTime<Utc>,
    },
}

/// One SQL statement with its values.
pub(crate) struct Statement {
    pub sql: &'static str,
    pub args: Vec<Value>,
    pub guard: Option<Precondition>,
}

fn stmt(sql: &'static str, args: Vec<Value>) -> Statement {
    Statement {
        sql,
        args,
        guard: None,
    }
}

fn guarded(sql: &'static str, args: Vec<Value>, p: Precondition) -> Statement {
    Statement {
        sql,
        args,
        guard: Some(p),
    }
}

impl Change {
    /// The statements that make this change, in order.
    pub(crate) fn statements(&self) -> Vec<Statement> {
        use Value as V;
        match self {
            Change::InsertFund { fund: f, at } => vec![stmt(
                "INSERT INTO funds (id, name, sponsor, valid_from, valid_until, categories, \
                 amount_per_child_cents, max_age_years, pooling, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                vec![
                    V::Uuid(f.id),
                    V::Text(f.name.clone()),
                    V::Text(f.sponsor.clone()),
                    V::Date(f.valid_from),
                    V::Date(f.valid_until),
                    V::I64(f.categories.into()),
                    V::I64(f.amount_per_child.0),
                    V::I64(f.max_age_years),
                    V::Text(f.pooling.as_str().to_owned()),
                    V::Time(*at),
                ],
            )],
            Change::ExpireFund { id, vouchers, at } => vec![guarded(
                "UPDATE funds SET expired_at = $1 WHERE id = $2 AND expired_at IS NULL \
                 AND (SELECT COUNT(*) FROM vouchers WHERE fund_id = $2) = $3",
                vec![V::Time(*at), V::Uuid(*id), V::Count(*vouchers)],
                Precondition::FundUnchanged,
            )],
            Change::FundStillOpen { id } => vec![guarded(
                "UPDATE funds SET expired_at = NULL WHERE id = $1 AND expired_at IS NULL",
                vec![V::Uuid(*id)],
                Precondition::FundOpen,
            )],
            Change::InsertNote {
                entry,
                note,
                user,
                at,
            } => vec![stmt(
                "INSERT INTO entry_notes (entry_index, note, user_id, created_at) \
                 VALUES ($1, $2, $3, $4)",
                vec![
                    V::IndexOfEntry(*entry),
                    V::OptText(note.clone()),
                    V::OptUuid(*user),
                    V::Time(*at),
                ],
            )],
            Change::EraseNote { entry_index } => vec![stmt(
                "UPDATE entry_notes SET note = NULL WHERE entry_index = $1",
                vec![V::Index(*entry_index)],
            )],
            Change::InsertHousehold {
                household: h,
                link_hash,
                at,
            } => vec![stmt(
                "INSERT INTO households (id, reference, parent_name, email, phone, \
                 link_generation, link_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                vec![
                    V::Uuid(h.id),
                    V::OptText(h.reference.clone()),
                    V::OptText(h.parent_name.clone()),
                    V::OptText(h.email.clone()),
                    V::OptText(h.phone.clone()),
                    V::I64(h.link_generation),
                    V::Bytes(link_hash.clone()),
                    V::Time(*at),
                ],
            )],
            Change::InsertChild {
                child: c,
                position,
                at,
            } => vec![stmt(
                "INSERT INTO children (id, household_id, position, first_name, birth_date, \
                 created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                vec![
                    V::Uuid(c.id),
                    V::Uuid(c.household_id),
                    V::Count(*position),
                    V::OptText(c.first_name.clone()),
                    V::OptDate(c.birth_date),
                    V::Time(*at),
                ],
            )],
            Change::EraseHousehold { id, at } => vec![
                stmt(
                    "UPDATE households SET reference = NULL, parent_name = NULL, email = NULL, \
                     phone = NULL, link_hash = NULL, link_generation = link_generation + 1, \
                     erased_at = $1 WHERE id = $2",
                    vec![V::Time(*at), V::Uuid(*id)],
                ),
                stmt(
                    "UPDATE children SET first_name = NULL, birth_date = NULL \
                     WHERE household_id = $1",
                    vec![V::Uuid(*id)],
                ),
                stmt(
                    "UPDATE redemptions SET description = NULL WHERE voucher_id IN \
                     (SELECT id FROM vouchers WHERE household_id = $1)",
                    vec![V::Uuid(*id)],
                ),
                stmt(
                    "UPDATE reversals SET reason = NULL WHERE redemption_id IN \
                     (SELECT r.id FROM redemptions r JOIN vouchers v ON v.id = r.voucher_id \
                      WHERE v.household_id = $1)",
                    vec![V::Uuid(*id)],
                ),
            ],
            Change::UpdateHousehold {
                id,
                parent_name,
                email,
                phone,
            } => vec![guarded(
                "UPDATE households SET parent_name = $1, email = $2, phone = $3 \
                 WHERE id = $4 AND erased_at IS NULL",
                vec![
                    V::Text(parent_name.clone()),
                    V::OptText(email.clone()),
                    V::OptText(phone.clone()),
                    V::Uuid(*id),
                ],
                Precondition::HouseholdNotErased,
            )],
            Change::UpdateChild {
                id,
                household,
                first_name,
                birth_date,
            } => vec![guarded(
                "UPDATE children SET first_name = $1, birth_date = $2 WHERE id = $3 \
                 AND household_id = $4 AND household_id IN \
                 (SELECT id FROM households WHERE erased_at IS NULL)",
                vec![
                    V::Text(first_name.clone()),
                    V::OptDate(Some(*birth_date)),
                    V::Uuid(*id),
                    V::Uuid(*household),
                ],
                Precondition::HouseholdNotErased,
            )],
            Change::RenewLink {
                household,
                generation,
                link_hash,
            } => vec![guarded(
                "UPDATE households SET link_generation = $1, link_hash = $2 \
                 WHERE id = $3 AND erased_at IS NULL",
                vec![
                    V::I64(*generation),
                    V::Bytes(link_hash.clone()),
                    V::Uuid(*household),
                ],
                Precondition::HouseholdNotErased,
            )],
            Change::InsertProvider { provider: p, at } => vec![stmt(
                "INSERT INTO providers (id, name, kvk, iban, categories, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
                vec![
                    V::Uuid(p.id),
                    V::Text(p.name.clone()),
                    V::Text(p.kvk.as_str().to_owned()),
                    V::Text(p.iban.as_str().to_owned()),
                    V::I64(p.categories.into()),
                    V::Time(*at),
                ],
            )],
            Change::InsertApproval { approval: a, at } => vec![stmt(
                "INSERT INTO fund_providers (fund_id, provider_id, account_id, categories, \
                 approved_at) VALUES ($1, $2, $3, $4, $5)",
                vec![
                    V::Uuid(a.fund_id),
                    V::Uuid(a.provider_id),
                    V::Uuid(a.account_id),
                    V::I64(a.categories.into()),
                    V::Time(*at),
                ],
            )],
            Change::UpdateApproval {
                fund,
                provider,
                categories,
                at,
            } => vec![stmt(
                "UPDATE fund_providers SET categories = $1, approved_at = $2 \
                 WHERE fund_id = $3 AND provider_id = $4",
                vec![
                    V::I64((*categories).into()),
                    V::Time(*at),
                    V::Uuid(*fund),
                    V::Uuid(*provider),
                ],
            )],
            Change::InsertVoucher { voucher: v, at } => vec![stmt(
                "INSERT INTO vouchers (id, fund_id, household_id, child_id, token, token_key_id, \
                 expires_at, created_at, account_id, generation) \
                 VALUES ($1, $2, $3, $4, '', $5, $6, $7, $8, $9)",
                vec![
                    V::Uuid(v.id),
                    V::Uuid(v.fund_id),
                    V::Uuid(v.household_id),
                    V::OptUuid(v.child_id),
                    V::Bytes(v.token_key_id.clone()),
                    V::I64(i64::from(v.expires_at)),
                    V::Time(*at),
                    V::Uuid(v.account_id),
                    V::I64(i64::from(v.generation)),
                ],
            )],
            Change::UpdateTokenKey {
                voucher,
                key_id,
                from_key_id,
                generation,
                user,
                at,
            } => {
                let mut statements = vec![guarded(
                    "UPDATE vouchers SET token_key_id = $1, generation = $4 \
                     WHERE id = $2 AND token_key_id = $3 AND generation = $4 - 1",
                    vec![
                        V::Bytes(key_id.clone()),
                        V::Uuid(*voucher),
                        V::Bytes(from_key_id.clone()),
                        V::I64(i64::from(*generation)),
                    ],
                    Precondition::TokenKeyUnchanged,
                )];
                // Recorded only when the token moves away from a key (a voucher leaves a key
                // once: only the active key signs, and a retired key never comes back), so
                // the list of a key's reissues names each household once.
                if key_id != from_key_id {
                    statements.push(stmt(
                        "INSERT INTO voucher_reissues (voucher_id, generation, from_key_id, \
                         user_id, at) VALUES ($1, $2, $3, $4, $5)",
                        vec![
                            V::Uuid(*voucher),
                            V::I64(i64::from(*generation)),
                            V::Bytes(from_key_id.clone()),
                            V::OptUuid(*user),
                            V::Time(*at),
                        ],
                    ));
                }
                statements
            }
            Change::RecordTokenUse {
                voucher,
                key_id,
                generation,
                digest,
            } => vec![
                guarded(
                    "UPDATE vouchers SET generation = generation WHERE id = $1 AND generation = $2",
                    vec![V::Uuid(*voucher), V::I64(i64::from(*generation))],
                    Precondition::TokenCurrent,
                ),
                stmt(
                    "UPDATE redemptions SET token_key_id = $1, token_generation = $2, \
                     token_digest = $3 WHERE entry_index = $4",
                    vec![
                        V::Bytes(key_id.clone()),
                        V::I64(i64::from(*generation)),
                        V::Bytes(digest.clone()),
                        V::IndexOfEntry(0),
                    ],
                ),
            ],
            Change::VoucherGenerationIs {
                voucher,
                generation,
            } => vec![guarded(
                "UPDATE vouchers SET generation = generation WHERE id = $1 AND generation = $2",
                vec![V::Uuid(*voucher), V::I64(i64::from(*generation))],
                Precondition::AccountUnchanged,
            )],
            Change::InsertRedemption(r) => vec![stmt(
                "INSERT INTO redemptions (id, kind, voucher_id, provider_id, fund_id, \
                 amount_cents, category, description, user_id, entry_index, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                vec![
                    V::Uuid(r.id),
                    V::Text(r.kind.as_str().to_owned()),
                    V::Uuid(r.voucher_id),
                    V::Uuid(r.provider_id),
                    V::Uuid(r.fund_id),
                    V::I64(r.amount.0),
                    V::Text(r.category.as_str().to_owned()),
                    V::OptText(r.description.clone()),
                    V::Uuid(r.user_id),
                    V::IndexOfEntry(0),
                    V::Time(r.created_at),
                ],
            )],
            Change::InsertReversal {
                redemption,
                reason,
                user,
                at,
            } => vec![stmt(
                "INSERT INTO reversals (redemption_id, entry_index, reason, user_id, created_at) \
                 VALUES ($1, $2, $3, $4, $5)",
                vec![
                    V::Uuid(*redemption),
                    V::IndexOfEntry(0),
                    V::OptText(reason.clone()),
                    V::Uuid(*user),
                    V::Time(*at),
                ],
            )],
            Change::InsertIdempotencyKey {
                scope,
                key,
                fingerprint,
                resource_id,
                at,
            } => vec![stmt(
                "INSERT INTO idempotency_keys (scope, key, fingerprint, resource_id, created_at) \
                 VALUES ($1, $2, $3, $4, $5)",
                vec![
                    V::Text(scope.clone()),
                    V::Text(key.clone()),
                    V::Bytes(fingerprint.clone()),
                    V::Uuid(*resource_id),
                    V::Time(*at),
                ],
            )],
            Change::CompleteIdempotencyKey {
                scope,
                key,
                outcome,
            } => vec![stmt(
                "UPDATE idempotency_keys SET outcome = $3 \
                 WHERE scope = $1 AND key = $2 AND outcome IS NULL AND response_status IS NULL",
                vec![
                    V::Text(scope.clone()),
                    V::Text(key.clone()),
                    V::Text(outcome.clone()),
                ],
            )],
            Change::InsertIdempotencyOutcome {
                scope,
                key,
                fingerprint,
                resource_id,
                outcome,
                at,
            } => vec![stmt(
                "INSERT INTO idempotency_keys \
                 (scope, key, fingerprint, resource_id, outcome, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (scope, key) DO NOTHING",
                vec![
                    V::Text(scope.clone()),
                    V::Text(key.clone()),
                    V::Bytes(fingerprint.clone()),
                    V::Uuid(*resource_id),
                    V::Text(outcome.clone()),
                    V::Time(*at),
                ],
            )],
        }
    }
}

impl Store {
    /// Applies changes to tables off the ledger in one transaction. A uniqueness conflict is
    /// [`StoreError::Unique`]; a guarded change that finds no row is
    /// [`StoreError::Precondition`]; either way nothing is kept.
    pub async fn apply(&self, changes: &[Change]) -> Result<(), StoreError> {
        crate::with_db!(self.db(), |p| {
            use sqlx::Connection;
            let mut conn = p.acquire().await?;
            let begin = if self.is_sqlite() {
                "BEGIN IMMEDIATE"
            } else {
                "BEGIN"
            };
            let mut tx = conn.begin_with(begin).await?;
            let no_entries: &[u64] = &[];
            for s in changes.iter().flat_map(Change::statements) {
                self.count_query();
                let n = bind!(sqlx::query(s.sql), &s.args, no_entries)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::classify)?
                    .rows_affected();
                if n == 0
                    && let Some(p) = s.guard
                {
                    return Err(StoreError::Precondition(p));
                }
            }
            tx.commit().await?;
        });
        Ok(())
    }
}
