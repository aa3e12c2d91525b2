//! The ledger's own tables: entries (canonical bytes), Merkle hashes and signed checkpoints.
//! They are append-only: the database refuses UPDATE, DELETE and TRUNCATE on them, and only
//! the sequencer's [`super::Writer`] inserts.

use uuid::Uuid;

use super::codec::EntryIndex;
use super::pool::{Store, StoreError, fetch_all, fetch_optional, to_i64, to_u64};
use crate::core::audit::{EntryRow, LedgerData, Records, RedemptionRecord, VoucherRecord};
use crate::core::merkle::Hash;

/// An entry row as stored.
#[derive(sqlx::FromRow)]
struct Entry {
    idx: i64,
    entry_id: Uuid,
    kind: i64,
    entry: Vec<u8>,
}

impl From<Entry> for EntryRow {
    fn from(e: Entry) -> Self {
        EntryRow {
            index: e.idx,
            id: Some(e.entry_id),
            kind: Some(e.kind),
            bytes: e.entry,
            openings: None,
        }
    }
}

/// An entry row with its openings (private reads only).
#[derive(sqlx::FromRow)]
struct OpenedEntry {
    idx: i64,
    entry_id: Uuid,
    kind: i64,
    entry: Vec<u8>,
    openings: Option<Vec<u8>>,
}

impl From<OpenedEntry> for EntryRow {
    fn from(e: OpenedEntry) -> Self {
        EntryRow {
            index: e.idx,
            id: Some(e.entry_id),
            kind: Some(e.kind),
            bytes: e.entry,
            openings: Some(e.openings.unwrap_or_default()),
        }
    }
}

#[derive(sqlx::FromRow)]
struct StoredOpenings {
    idx: i64,
    openings: Vec<u8>,
}

#[derive(sqlx::FromRow)]
struct StoredHash {
    idx: i64,
    hash: Vec<u8>,
}

#[derive(sqlx::FromRow)]
struct StoredCheckpoint {
    size: EntryIndex,
    note: String,
}

#[derive(sqlx::FromRow)]
struct Count {
    n: i64,
}

#[derive(sqlx::FromRow)]
struct Idx {
    idx: EntryIndex,
}

const OPENED_COLUMNS: &str = "e.idx, e.entry_id, CAST(e.kind AS BIGINT) AS kind, e.entry, \
                              o.openings";

fn hash_of(idx: i64, bytes: &[u8]) -> Result<Hash, StoreError> {
    Hash::try_from(bytes)
        .map_err(|_| StoreError::Corrupt(format!("stored hash {idx} is not 32 bytes")))
}

impl Store {
    /// Number of stored entries.
    pub async fn entry_count(&self) -> Result<u64, StoreError> {
        let c = fetch_optional!(self, Count, "SELECT COUNT(*) AS n FROM ledger_entries", []);
        to_u64(c.map_or(0, |c| c.n))
    }

    /// Entry rows with `start <= index < end`, in order, with their openings: for the writer
    /// and the full audit, never for a public answer.
    pub async fn entries_opened(&self, start: u64, end: u64) -> Result<Vec<EntryRow>, StoreError> {
        let (s, e) = (to_i64(start)?, to_i64(end)?);
        let rows = fetch_all!(
            self,
            OpenedEntry,
            "SELECT e.idx, e.entry_id, CAST(e.kind AS BIGINT) AS kind, e.entry, o.openings \
             FROM ledger_entries e LEFT JOIN ledger_openings o ON o.idx = e.idx \
             WHERE e.idx >= $1 AND e.idx < $2 ORDER BY e.idx",
            [s, e]
        );
        Ok(rows.into_iter().map(EntryRow::from).collect())
    }

    /// Entry rows with `start <= index < end`, in order, without openings (public).
    pub async fn entries(&self, start: u64, end: u64) -> Result<Vec<EntryRow>, StoreError> {
        let (s, e) = (to_i64(start)?, to_i64(end)?);
        let rows = fetch_all!(
            self,
            Entry,
            "SELECT idx, entry_id, CAST(kind AS BIGINT) AS kind, entry FROM ledger_entries \
             WHERE idx >= $1 AND idx < $2 ORDER BY idx",
            [s, e]
        );
        Ok(rows.into_iter().map(EntryRow::from).collect())
    }

    /// The entry rows of one kind (its code in the ledger format), in order. A full scan: for
    /// the command line, not for requests.
    pub async fn entries_of_kind(&self, kind: i64) -> Result<Vec<EntryRow>, StoreError> {
        let rows = fetch_all!(
            self,
            Entry,
            "SELECT idx, entry_id, CAST(kind AS BIGINT) AS kind, entry FROM ledger_entries \
             WHERE kind = $1 ORDER BY idx",
            [kind]
        );
        Ok(rows.into_iter().map(EntryRow::from).collect())
    }

    /// The entry rows at the given indexes with their openings (one query per 500), in index
    /// order. Private: for the service's own views, never for a public answer.
    pub async fn entries_at(&self, indexes: &[u64]) -> Result<Vec<EntryRow>, StoreError> {
        let mut out = Vec::with_capacity(indexes.len());
        for chunk in indexes.chunks(500) {
            let ids = chunk
                .iter()
                .map(|i| to_i64(*i))
                .collect::<Result<Vec<_>, _>>()?;
            self.count_query();
            let rows: Vec<OpenedEntry> = crate::with_db!(self.db(), |p| {
                let mut qb = sqlx::QueryBuilder::new("SELECT ");
                qb.push(OPENED_COLUMNS);
                qb.push(
                    " FROM ledger_entries e LEFT JOIN ledger_openings o ON o.idx = e.idx \
                     WHERE e.idx IN (",
                );
                let mut sep = qb.separated(", ");
                for i in &ids {
                    sep.push_bind(*i);
                }
                qb.push(") ORDER BY e.idx");
                qb.build_query_as().fetch_all(p).await?
            });
            out.extend(rows.into_iter().map(EntryRow::from));
        }
        out.sort_by_key(|r| r.index);
        if out.len() != indexes.len() {
            return Err(StoreError::Corrupt(format!(
                "asked for {} ledger entries, found {}",
                indexes.len(),
                out.len()
            )));
        }
        Ok(out)
    }

    /// The index of the entry with this id, if any.
    pub async fn entry_index_by_id(&self, id: Uuid) -> Result<Option<u64>, StoreError> {
        let row = fetch_optional!(
            self,
            Idx,
            "SELECT idx FROM ledger_entries WHERE entry_id = $1",
            [id]
        );
        Ok(row.map(|r| r.idx.0))
    }

    /// Stored Merkle hashes at the given positions, in the order asked.
    pub async fn hashes(&self, positions: &[u64]) -> Result<Vec<Hash>, StoreError> {
        if positions.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = positions
            .iter()
            .map(|p| to_i64(*p))
            .collect::<Result<_, _>>()?;
        self.count_query();
        let found: Vec<StoredHash> = crate::with_db!(self.db(), |p| {
            let mut qb =
                sqlx::QueryBuilder::new("SELECT idx, hash FROM ledger_hashes WHERE idx IN (");
            let mut sep = qb.separated(", ");
            for id in &ids {
                sep.push_bind(*id);
            }
            qb.push(")");
            qb.build_query_as().fetch_all(p).await?
        });
        let map: std::collections::HashMap<i64, Vec<u8>> =
            found.into_iter().map(|h| (h.idx, h.hash)).collect();
        ids.iter()
            .map(|i| match map.get(i) {
                Some(h) => hash_of(*i, h),
                None => Err(StoreError::Corrupt(format!("stored hash {i} is missing"))),
            })
            .collect()
    }

    /// The checkpoint with the largest size: `(size, note)`.
    pub async fn latest_checkpoint(&self) -> Result<Option<(u64, String)>, StoreError> {
        let row = fetch_optional!(
            self,
            StoredCheckpoint,
            "SELECT size, note FROM ledger_checkpoints ORDER BY size DESC LIMIT 1",
            []
        );
        Ok(row.map(|c| (c.size.0, c.note)))
    }

    /// The first stored checkpoint that covers entry `index`: `(size, note)`.
    pub async fn first_checkpoint_covering(
        &self,
        index: u64,
    ) -> Result<Option<(u64, String)>, StoreError> {
        let idx = to_i64(index)?;
        let row = fetch_optional!(
            self,
            StoredCheckpoint,
            "SELECT size, note FROM ledger_checkpoints WHERE size > $1 ORDER BY size LIMIT 1",
            [idx]
        );
        Ok(row.map(|c| (c.size.0, c.note)))
    }

    /// Reads everything the audit needs. Rows are read in index order whatever their index
    /// values, so a damaged index column is reported by the audit as the entry it belongs to.
    pub async fn ledger_data(&self) -> Result<LedgerData, StoreError> {
        const PAGE: i64 = 10_000;
        const ENTRIES: &str = "SELECT idx, entry_id, CAST(kind AS BIGINT) AS kind, entry \
                               FROM ledger_entries WHERE idx > $1 ORDER BY idx LIMIT $2";
        const HASHES: &str = "SELECT idx, hash FROM ledger_hashes ORDER BY idx";
        const OPENINGS: &str = "SELECT idx, openings FROM ledger_openings ORDER BY idx";
        const CHECKPOINTS: &str = "SELECT size, note FROM ledger_checkpoints ORDER BY size";
        const VOUCHERS: &str = "SELECT id, account_id, fund_id, CAST(generation AS BIGINT) AS generation \
                                FROM vouchers ORDER BY id";
        const REDEMPTIONS: &str = "SELECT r.id, CAST(r.entry_index AS BIGINT) AS entry_index, r.kind, \
             r.voucher_id, fp.account_id AS provider_account, r.amount_cents, r.category, \
             r.token_key_id, CAST(r.token_generation AS BIGINT) AS token_generation \
             FROM redemptions r LEFT JOIN fund_providers fp \
             ON fp.fund_id = r.fund_id AND fp.provider_id = r.provider_id ORDER BY r.entry_index";
        #[derive(sqlx::FromRow)]
        struct VoucherRec {
            id: Uuid,
            account_id: Uuid,
            fund_id: Uuid,
            generation: i64,
        }
        #[derive(sqlx::FromRow)]
        struct RedemptionRec {
            id: Uuid,
            entry_index: i64,
            kind: String,
            voucher_id: Uuid,
            provider_account: Option<Uuid>,
            amount_cents: i64,
            category: String,
            token_key_id: Option<Vec<u8>>,
            token_generation: Option<i64>,
        }
        // One read transaction, so that a running service appending meanwhile cannot make
        // entries, hashes and checkpoints disagree (a snapshot in SQLite's WAL mode; repeatable
        // read in PostgreSQL).
        let begin = if self.is_sqlite() {
            "BEGIN"
        } else {
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
        };
        #[derive(sqlx::FromRow)]
        struct RawCheckpoint {
            size: i64,
            note: String,
        }
        let (mut entries, hashes, checkpoints, openings, records) =
            crate::with_db!(self.db(), |p| {
                use sqlx::Connection;
                let mut conn = p.acquire().await?;
                let mut tx = conn.begin_with(begin).await?;
                let mut entries: Vec<EntryRow> = Vec::new();
                let mut after = i64::MIN;
                loop {
                    self.count_query();
                    let rows: Vec<Entry> = sqlx::query_as(ENTRIES)
                        .bind(after)
                        .bind(PAGE)
                        .fetch_all(&mut *tx)
                        .await?;
                    let done = (rows.len() as i64) < PAGE;
                    for r in rows {
                        after = r.idx;
                        entries.push(r.into());
                    }
                    if done {
                        break;
                    }
                }
                self.count_query();
                let hashes: Vec<StoredHash> = sqlx::query_as(HASHES).fetch_all(&mut *tx).await?;
                self.count_query();
                let checkpoints: Vec<RawCheckpoint> =
                    sqlx::query_as(CHECKPOINTS).fetch_all(&mut *tx).await?;
                self.count_query();
                let openings: Vec<StoredOpenings> =
                    sqlx::query_as(OPENINGS).fetch_all(&mut *tx).await?;
                // The service's own records, from the same snapshot, for the full audit to
                // reconcile with the ledger.
                self.count_query();
                let vouchers: Vec<VoucherRec> =
                    sqlx::query_as(VOUCHERS).fetch_all(&mut *tx).await?;
                self.count_query();
                let redemptions: Vec<RedemptionRec> =
                    sqlx::query_as(REDEMPTIONS).fetch_all(&mut *tx).await?;
                tx.commit().await?;
                (
                    entries,
                    hashes,
                    checkpoints,
                    openings,
                    (vouchers, redemptions),
                )
            });
        let records = Records {
            vouchers: records
                .0
                .into_iter()
                .map(|v| VoucherRecord {
                    id: v.id,
                    account: v.account_id,
                    fund: v.fund_id,
                    generation: v.generation,
                })
                .collect(),
            redemptions: records
                .1
                .into_iter()
                .map(|r| RedemptionRecord {
                    id: r.id,
                    entry_index: r.entry_index,
                    direct: r.kind == "direct_payment",
                    voucher: r.voucher_id,
                    provider_account: r.provider_account,
                    amount_cents: r.amount_cents,
                    category: r.category,
                    token_key_id: r.token_key_id,
                    token_generation: r.token_generation,
                })
                .collect(),
        };
        // Every entry has openings (none for an entry without commitments); a row for an index
        // that has no entry is reported by the audit.
        let mut by_index: std::collections::BTreeMap<i64, Vec<u8>> =
            openings.into_iter().map(|o| (o.idx, o.openings)).collect();
        for e in &mut entries {
            e.openings = Some(by_index.remove(&e.index).unwrap_or_default());
        }
        let stored_hashes = hashes
            .into_iter()
            .map(|h| Ok((h.idx, hash_of(h.idx, &h.hash)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(LedgerData {
            entries,
            orphan_openings: by_index.into_keys().collect(),
            stored_hashes: Some(stored_hashes),
            checkpoints: checkpoints.into_iter().map(|c| (c.size, c.note)).collect(),
            records: Some(records),
        })
    }
}
