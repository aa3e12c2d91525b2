//! Storage: one interface over SQLite (embedded default) and PostgreSQL (production).
//!
//! SQL is written once with `$1` placeholders and run against whichever native pool is in use
//! ([`with_db!`]); only schema files differ per backend (`migrations/sqlite`, `migrations/postgres`,
//! same numbers). Ledger writes go through a [`Writer`], the single dedicated connection of the
//! sequencer, guarded by a lock so that one process at most writes a ledger.

pub mod catalog;
pub mod idempotency;
mod migrate;
pub mod users;
mod writer;

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, QueryBuilder, Row, SqlitePool};
use uuid::Uuid;

use crate::core::audit::EntryRow;
use crate::core::merkle::Hash;

pub use writer::{Value, Write, Writer};

/// Errors from the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL is not `sqlite://…` or `postgres://…`.
    #[error("unsupported database URL (use sqlite://FILE or postgres://…)")]
    UnsupportedUrl,
    /// Another process holds the ledger's writer lock.
    #[error("another kindpakket process is writing this ledger ({0})")]
    Locked(String),
    /// A migration failed or was changed after it was applied.
    #[error("database migration: {0}")]
    Migration(String),
    /// The stored data is inconsistent.
    #[error("stored ledger is inconsistent: {0}")]
    Corrupt(String),
    /// A uniqueness constraint refused a write.
    #[error("unique constraint violated")]
    Unique,
    /// Any other database error.
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// A file-system error (lock files).
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl StoreError {
    /// Maps unique violations to [`StoreError::Unique`].
    pub fn classify(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(d) if d.kind() == sqlx::error::ErrorKind::UniqueViolation => {
                StoreError::Unique
            }
            _ => StoreError::Db(e),
        }
    }
}

/// The two native pools.
#[derive(Clone, Debug)]
pub enum Db {
    /// Embedded SQLite (WAL, synchronous=FULL).
    Sqlite(SqlitePool),
    /// PostgreSQL.
    Postgres(PgPool),
}

/// Runs one body against whichever pool (or connection) is in use.
#[macro_export]
macro_rules! with_db {
    ($db:expr, |$c:ident| $body:expr) => {
        match $db {
            $crate::store::Db::Sqlite($c) => $body,
            $crate::store::Db::Postgres($c) => $body,
        }
    };
}

/// How to reach the database, parsed from the URL.
#[derive(Clone)]
pub(crate) enum Target {
    Sqlite(SqliteConnectOptions, PathBuf),
    Postgres(PgConnectOptions),
}

/// The storage handle: a pool for reads and short writes, and the means to open the writer.
#[derive(Clone)]
pub struct Store {
    db: Db,
    target: Target,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.db {
            Db::Sqlite(_) => "Store(sqlite)",
            Db::Postgres(_) => "Store(postgres)",
        })
    }
}

fn sqlite_options(url: &str) -> Result<(SqliteConnectOptions, PathBuf), StoreError> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or(StoreError::UnsupportedUrl)?;
    let path = path.split('?').next().unwrap_or(path);
    if path.is_empty() || path.contains(":memory:") {
        return Err(StoreError::UnsupportedUrl);
    }
    let opts = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // A checkpoint is signed only after the commit is durable; NORMAL could lose it.
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10));
    Ok((opts, PathBuf::from(path)))
}

/// Creates a missing file readable and writable by its owner only (0600 on Unix). The SQLite
/// database holds personal data and password hashes; SQLite gives its `-wal` and `-shm` files
/// the database file's mode. An existing file keeps the mode its operator gave it.
pub(crate) fn create_private(path: &std::path::Path) -> std::io::Result<()> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    match o.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

impl Store {
    /// Connects (creating the database if needed) and applies migrations.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let store = if url.starts_with("sqlite:") {
            let (opts, path) = sqlite_options(url)?;
            create_private(&path)?;
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .connect_with(opts.clone())
                .await?;
            Store {
                db: Db::Sqlite(pool),
                target: Target::Sqlite(opts, path),
            }
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            use sqlx::migrate::MigrateDatabase;
            if !sqlx::Postgres::database_exists(url).await? {
                // Two processes may race to create it; the loser sees it exist afterwards.
                if let Err(e) = sqlx::Postgres::create_database(url).await
                    && !sqlx::Postgres::database_exists(url).await?
                {
                    return Err(e.into());
                }
            }
            let opts = PgConnectOptions::from_str(url)?;
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(opts.clone())
                .await?;
            Store {
                db: Db::Postgres(pool),
                target: Target::Postgres(opts),
            }
        } else {
            return Err(StoreError::UnsupportedUrl);
        };
        migrate::run(&store.db).await?;
        Ok(store)
    }

    /// The pool, for the service layer's own tables.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// True for the SQLite backend.
    pub fn is_sqlite(&self) -> bool {
        matches!(self.db, Db::Sqlite(_))
    }

    /// Runs row changes in one transaction on a pooled connection (for tables off the ledger).
    /// Returns the rows affected by each.
    pub async fn execute_all(&self, writes: &[Write]) -> Result<Vec<u64>, StoreError> {
        let none: [u64; 0] = [];
        let counts = with_db!(&self.db, |p| {
            use sqlx::Connection;
            let mut conn = p.acquire().await?;
            let begin = if self.is_sqlite() {
                "BEGIN IMMEDIATE"
            } else {
                "BEGIN"
            };
            let mut tx = conn.begin_with(begin).await?;
            let mut counts = Vec::with_capacity(writes.len());
            for w in writes {
                let q = writer::bind_values!(sqlx::query(w.sql), &w.args, none);
                counts.push(
                    q.execute(&mut *tx)
                        .await
                        .map_err(StoreError::classify)?
                        .rows_affected(),
                );
            }
            tx.commit().await?;
            counts
        });
        Ok(counts)
    }

    /// Opens the single writer connection, taking the ledger's writer lock.
    pub async fn writer(&self) -> Result<Writer, StoreError> {
        Writer::open(&self.target).await
    }

    /// Closes the pool.
    pub async fn close(&self) {
        with_db!(&self.db, |p| p.close().await)
    }

    /// True when the database answers.
    pub async fn ping(&self) -> bool {
        with_db!(&self.db, |p| sqlx::query("SELECT 1")
            .execute(p)
            .await
            .is_ok())
    }

    /// Number of stored entries.
    pub async fn entry_count(&self) -> Result<u64, StoreError> {
        let n: i64 = with_db!(&self.db, |p| {
            sqlx::query_scalar("SELECT COUNT(*) FROM ledger_entries")
                .fetch_one(p)
                .await?
        });
        Ok(n as u64)
    }

    /// Entry rows with `start <= index < end`, in order.
    pub async fn entries(&self, start: u64, end: u64) -> Result<Vec<EntryRow>, StoreError> {
        let (s, e) = (to_i64(start)?, to_i64(end)?);
        const SQL: &str = "SELECT idx, entry_id, CAST(kind AS BIGINT), entry FROM ledger_entries \
                           WHERE idx >= $1 AND idx < $2 ORDER BY idx";
        let rows = with_db!(&self.db, |p| {
            let rows = sqlx::query(SQL).bind(s).bind(e).fetch_all(p).await?;
            rows.iter()
                .map(|r| -> Result<EntryRow, sqlx::Error> {
                    Ok(EntryRow {
                        index: r.try_get::<i64, _>(0)? as u64,
                        id: Some(r.try_get::<Uuid, _>(1)?),
                        kind: Some(r.try_get::<i64, _>(2)?),
                        bytes: r.try_get::<Vec<u8>, _>(3)?,
                    })
                })
                .collect::<Result<Vec<_>, _>>()?
        });
        Ok(rows)
    }

    /// The index of the entry with this id, if any.
    pub async fn entry_index_by_id(&self, id: Uuid) -> Result<Option<u64>, StoreError> {
        const SQL: &str = "SELECT idx FROM ledger_entries WHERE entry_id = $1";
        let idx: Option<i64> = with_db!(&self.db, |p| {
            sqlx::query_scalar(SQL).bind(id).fetch_optional(p).await?
        });
        Ok(idx.map(|i| i as u64))
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
        let found: Vec<(i64, Vec<u8>)> = with_db!(&self.db, |p| {
            let mut qb = QueryBuilder::new("SELECT idx, hash FROM ledger_hashes WHERE idx IN (");
            let mut sep = qb.separated(", ");
            for id in &ids {
                sep.push_bind(*id);
            }
            qb.push(")");
            qb.build_query_as().fetch_all(p).await?
        });
        let map: std::collections::HashMap<i64, Vec<u8>> = found.into_iter().collect();
        ids.iter()
            .map(|i| {
                map.get(i)
                    .and_then(|h| Hash::try_from(h.as_slice()).ok())
                    .ok_or_else(|| StoreError::Corrupt(format!("stored hash {i} is missing")))
            })
            .collect()
    }

    /// All stored hashes `(position, hash)` in order (for the audit).
    pub async fn all_hashes(&self) -> Result<Vec<(u64, Hash)>, StoreError> {
        let rows: Vec<(i64, Vec<u8>)> = with_db!(&self.db, |p| {
            sqlx::query_as("SELECT idx, hash FROM ledger_hashes ORDER BY idx")
                .fetch_all(p)
                .await?
        });
        rows.into_iter()
            .map(|(i, h)| {
                let h = Hash::try_from(h.as_slice())
                    .map_err(|_| StoreError::Corrupt(format!("stored hash {i} is not 32 bytes")))?;
                Ok((i as u64, h))
            })
            .collect()
    }

    /// All stored checkpoints `(size, note)` in order of size.
    pub async fn checkpoints(&self) -> Result<Vec<(u64, String)>, StoreError> {
        let rows: Vec<(i64, String)> = with_db!(&self.db, |p| {
            sqlx::query_as("SELECT size, note FROM ledger_checkpoints ORDER BY size")
                .fetch_all(p)
                .await?
        });
        Ok(rows.into_iter().map(|(s, n)| (s as u64, n)).collect())
    }

    /// The checkpoint with the largest size.
    pub async fn latest_checkpoint(&self) -> Result<Option<(u64, String)>, StoreError> {
        let row: Option<(i64, String)> = with_db!(&self.db, |p| {
            sqlx::query_as("SELECT size, note FROM ledger_checkpoints ORDER BY size DESC LIMIT 1")
                .fetch_optional(p)
                .await?
        });
        Ok(row.map(|(s, n)| (s as u64, n)))
    }

    /// Reads everything the audit needs. Rows are read in index order whatever their index
    /// values, so a damaged index column is reported by the audit as the entry it belongs to.
    pub async fn ledger_data(&self) -> Result<crate::core::audit::LedgerData, StoreError> {
        const PAGE: i64 = 10_000;
        const ENTRIES: &str = "SELECT idx, entry_id, CAST(kind AS BIGINT), entry FROM ledger_entries \
                               WHERE idx > $1 ORDER BY idx LIMIT $2";
        const HASHES: &str = "SELECT idx, hash FROM ledger_hashes ORDER BY idx";
        const CHECKPOINTS: &str = "SELECT size, note FROM ledger_checkpoints ORDER BY size";
        // One read transaction, so that a running service appending meanwhile cannot make
        // entries, hashes and checkpoints disagree (a snapshot in SQLite's WAL mode; repeatable
        // read in PostgreSQL).
        let begin = if self.is_sqlite() {
            "BEGIN"
        } else {
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
        };
        let (entries, hashes, checkpoints) = with_db!(&self.db, |p| {
            use sqlx::Connection;
            let mut conn = p.acquire().await?;
            let mut tx = conn.begin_with(begin).await?;
            let mut entries: Vec<EntryRow> = Vec::new();
            let mut after = i64::MIN;
            loop {
                let rows = sqlx::query(ENTRIES)
                    .bind(after)
                    .bind(PAGE)
                    .fetch_all(&mut *tx)
                    .await?;
                let done = (rows.len() as i64) < PAGE;
                for r in &rows {
                    let idx: i64 = r.try_get(0)?;
                    after = idx;
                    entries.push(EntryRow {
                        index: idx as u64,
                        id: Some(r.try_get::<Uuid, _>(1)?),
                        kind: Some(r.try_get::<i64, _>(2)?),
                        bytes: r.try_get::<Vec<u8>, _>(3)?,
                    });
                }
                if done {
                    break;
                }
            }
            let hashes: Vec<(i64, Vec<u8>)> = sqlx::query_as(HASHES).fetch_all(&mut *tx).await?;
            let checkpoints: Vec<(i64, String)> =
                sqlx::query_as(CHECKPOINTS).fetch_all(&mut *tx).await?;
            tx.commit().await?;
            (entries, hashes, checkpoints)
        });
        let stored_hashes = hashes
            .into_iter()
            .map(|(i, h)| {
                let h = Hash::try_from(h.as_slice())
                    .map_err(|_| StoreError::Corrupt(format!("stored hash {i} is not 32 bytes")))?;
                Ok((i as u64, h))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(crate::core::audit::LedgerData {
            entries,
            stored_hashes: Some(stored_hashes),
            checkpoints: checkpoints
                .into_iter()
                .map(|(s, n)| (s as u64, n))
                .collect(),
        })
    }
}

/// Converts an index to the signed integer the databases store.
pub fn to_i64(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Corrupt("index out of range".into()))
}
