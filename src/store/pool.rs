//! The storage handle: one of two native pools (SQLite, PostgreSQL), the means to run one SQL
//! body against either, and the storage errors.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

use super::precondition::Precondition;

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
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    /// A uniqueness constraint refused a change.
    #[error("unique constraint violated")]
    Unique,
    /// A guarded change found no row: its precondition no longer holds.
    #[error("precondition failed: {0:?}")]
    Precondition(Precondition),
    /// Any other database error.
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// A file-system error (lock files).
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl StoreError {
    /// True when the database cannot be reached or is too busy right now (a retry may work),
    /// as opposed to a mistake or damage.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Locked(_) => true,
            StoreError::Db(
                sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::WorkerCrashed,
            ) => true,
            StoreError::Db(sqlx::Error::Database(d)) => d.code().is_some_and(|c| {
                // PostgreSQL: connection exceptions (08…), shutting down or starting up
                // (57P01–57P03), too many connections (53300); SQLite: busy or locked.
                c.starts_with("08")
                    || matches!(
                        c.as_ref(),
                        "57P01" | "57P02" | "57P03" | "53300" | "5" | "6"
                    )
            }),
            _ => false,
        }
    }

    /// Maps unique violations to [`StoreError::Unique`].
    pub(crate) fn classify(e: sqlx::Error) -> Self {
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

/// Runs a query returning rows of a `FromRow` type, counting it.
macro_rules! fetch_all {
    ($store:expr, $row:ty, $sql:expr, [$($arg:expr),*]) => {{
        $store.count_query();
        $crate::with_db!($store.db(), |p| {
            sqlx::query_as::<_, $row>($sql)$(.bind($arg))*.fetch_all(p).await?
        })
    }};
}

/// Runs a query returning at most one row of a `FromRow` type, counting it.
macro_rules! fetch_optional {
    ($store:expr, $row:ty, $sql:expr, [$($arg:expr),*]) => {{
        $store.count_query();
        $crate::with_db!($store.db(), |p| {
            sqlx::query_as::<_, $row>($sql)$(.bind($arg))*.fetch_optional(p).await?
        })
    }};
}

pub(crate) use {fetch_all, fetch_optional};

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
    /// Statements run through this handle's pool (reads and [`Store::apply`]), for the
    /// `kindpakket_db_queries_total` metric and for tests that pin how many a use case needs.
    queries: Arc<AtomicU64>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.db {
            Db::Sqlite(_) => "Store(sqlite)",
            Db::Postgres(_) => "Store(postgres)",
        })
    }
}

pub(crate) fn sqlite_options(url: &str) -> Result<(SqliteConnectOptions, PathBuf), StoreError> {
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
        .journal_mode(SqliteJournalMode::Wal)
        // A checkpoint is signed only after the commit is durable; NORMAL could lose it.
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        // Deleted and overwritten content is zeroed on its page, not left in free space:
        // erased personal data must not survive in the file.
        .pragma("secure_delete", "ON")
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
    /// After erasing personal data: copies the write-ahead log into the database file and
    /// empties it (SQLite), so the erased rows' old page images do not stay in the `-wal` file.
    /// PostgreSQL keeps old row versions until `VACUUM` (see docs/operations.md).
    pub async fn flush_erased(&self) -> Result<(), StoreError> {
        if let Db::Sqlite(p) = self.db() {
            self.count_query();
            let (busy, _, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
                .fetch_one(p)
                .await?;
            if busy != 0 {
                tracing::warn!(
                    "the WAL could not be emptied after an erasure: readers were busy; the next checkpoint will"
                );
            }
        }
        Ok(())
    }
}

impl Store {
    pub(crate) fn new(db: Db, target: Target) -> Self {
        Self {
            db,
            target,
            queries: Arc::default(),
        }
    }

    pub(crate) fn target(&self) -> &Target {
        &self.target
    }

    /// The pool (for tests that inspect or damage the database on purpose).
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// True for the SQLite backend.
    pub fn is_sqlite(&self) -> bool {
        matches!(self.db, Db::Sqlite(_))
    }

    /// How many statements this handle has run through its pool so far.
    pub fn queries(&self) -> u64 {
        self.queries.load(Ordering::Relaxed)
    }

    pub(crate) fn count_query(&self) {
        self.queries.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("kindpakket_db_queries_total").increment(1);
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
}

pub(crate) fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Converts an index to the signed integer the databases store.
pub(crate) fn to_i64(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Corrupt(format!("index {v} out of range")))
}

/// Converts a stored integer that must not be negative (an index, a size, a count).
pub(crate) fn to_u64(v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("negative index {v} in the database")))
}
