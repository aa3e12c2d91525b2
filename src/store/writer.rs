//! The sequencer's own connection. It holds the ledger's writer lock for as long as it lives:
//! an exclusive lock file next to a SQLite database, or a PostgreSQL session advisory lock.

use std::fs::File;

use sqlx::{Connection, PgConnection, SqliteConnection};
use uuid::Uuid;

use super::change::Change;
use super::pool::{Store, StoreError, Target, create_private, to_i64};
use super::precondition::Precondition;
use crate::core::merkle::Hash;

/// Advisory-lock key for "the kindpakket ledger writer" (ASCII "KPLEDGER").
const PG_WRITER_LOCK: i64 = 0x4b50_4c45_4447_4552;

enum Conn {
    Sqlite(SqliteConnection, #[allow(dead_code)] File),
    Postgres(PgConnection),
}

/// The single writer connection.
pub struct Writer {
    conn: Conn,
}

macro_rules! on_conn {
    ($w:expr, |$c:ident| $body:expr) => {
        match &mut $w.conn {
            Conn::Sqlite($c, _) => $body,
            Conn::Postgres($c) => $body,
        }
    };
}

impl Writer {
    pub(super) async fn open(target: &Target) -> Result<Self, StoreError> {
        match target {
            Target::Sqlite(opts, path) => {
                let mut lock_path = path.clone().into_os_string();
                lock_path.push(".writer-lock");
                create_private(std::path::Path::new(&lock_path))?;
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&lock_path)?;
                match file.try_lock() {
                    Ok(()) => {}
                    Err(std::fs::TryLockError::WouldBlock) => {
                        return Err(StoreError::Locked(format!(
                            "lock file {} is held",
                            std::path::Path::new(&lock_path).display()
                        )));
                    }
                    Err(std::fs::TryLockError::Error(e)) => return Err(e.into()),
                }
                let conn = SqliteConnection::connect_with(opts).await?;
                Ok(Writer {
                    conn: Conn::Sqlite(conn, file),
                })
            }
            Target::Postgres(opts) => {
                let opts = opts.clone().application_name("kindpakket-writer");
                let mut conn = PgConnection::connect_with(&opts).await?;
                let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                    .bind(PG_WRITER_LOCK)
                    .fetch_one(&mut conn)
                    .await?;
                if !got {
                    return Err(StoreError::Locked(
                        "PostgreSQL advisory lock is held".into(),
                    ));
                }
                // Durability of every commit is required before a checkpoint is signed.
                sqlx::raw_sql("SET synchronous_commit = on")
                    .execute(&mut conn)
                    .await?;
                Ok(Writer {
                    conn: Conn::Postgres(conn),
                })
            }
        }
    }

    /// Releases the writer lock and closes the connection.
    pub async fn close(self) {
        match self.conn {
            Conn::Sqlite(conn, file) => {
                let _ = conn.close().await;
                let _ = file.unlock();
            }
            Conn::Postgres(mut conn) => {
                let _ = sqlx::query("SELECT pg_advisory_unlock($1)")
                    .bind(PG_WRITER_LOCK)
                    .execute(&mut conn)
                    .await;
                let _ = conn.close().await;
            }
        }
    }

    async fn exec(&mut self, sql: &'static str) -> Result<(), StoreError> {
        on_conn!(self, |c| {
            sqlx::raw_sql(sql).execute(&mut *c).await?;
        });
        Ok(())
    }

    /// Starts the batch transaction (`BEGIN IMMEDIATE` on SQLite).
    pub async fn begin(&mut self) -> Result<(), StoreError> {
        match self.conn {
            Conn::Sqlite(..) => self.exec("BEGIN IMMEDIATE").await,
            Conn::Postgres(_) => self.exec("BEGIN").await,
        }
    }

    /// Commits the batch transaction.
    pub async fn commit(&mut self) -> Result<(), StoreError> {
        self.exec("COMMIT").await
    }

    /// Abandons the batch transaction.
    pub async fn rollback(&mut self) -> Result<(), StoreError> {
        self.exec("ROLLBACK").await
    }

    /// Marks the start of one command inside the batch.
    pub async fn savepoint(&mut self) -> Result<(), StoreError> {
        self.exec("SAVEPOINT command").await
    }

    /// Keeps the command's changes.
    pub async fn release(&mut self) -> Result<(), StoreError> {
        self.exec("RELEASE SAVEPOINT command").await
    }

    /// Drops the command's changes, keeping the rest of the batch.
    pub async fn rollback_to_savepoint(&mut self) -> Result<(), StoreError> {
        self.exec("ROLLBACK TO SAVEPOINT command").await?;
        self.exec("RELEASE SAVEPOINT command").await
    }

    /// Stores one entry.
    pub async fn insert_entry(
        &mut self,
        index: u64,
        id: Uuid,
        kind: u8,
        bytes: &[u8],
    ) -> Result<(), StoreError> {
        const SQL: &str =
            "INSERT INTO ledger_entries (idx, entry_id, kind, entry) VALUES ($1, $2, $3, $4)";
        let idx = to_i64(index)?;
        on_conn!(self, |c| {
            sqlx::query(SQL)
                .bind(idx)
                .bind(id)
                .bind(i16::from(kind))
                .bind(bytes.to_vec())
                .execute(&mut *c)
                .await
                .map_err(StoreError::classify)?;
        });
        Ok(())
    }

    /// Stores the openings of one entry's commitments (nothing when it has none).
    pub async fn insert_openings(&mut self, index: u64, openings: &[u8]) -> Result<(), StoreError> {
        if openings.is_empty() {
            return Ok(());
        }
        const SQL: &str = "INSERT INTO ledger_openings (idx, openings) VALUES ($1, $2)";
        let idx = to_i64(index)?;
        on_conn!(self, |c| {
            sqlx::query(SQL)
                .bind(idx)
                .bind(openings.to_vec())
                .execute(&mut *c)
                .await
                .map_err(StoreError::classify)?;
        });
        Ok(())
    }

    /// Stores Merkle hashes at consecutive positions from `first`.
    pub async fn insert_hashes(&mut self, first: u64, hashes: &[Hash]) -> Result<(), StoreError> {
        const SQL: &str = "INSERT INTO ledger_hashes (idx, hash) VALUES ($1, $2)";
        for (i, h) in hashes.iter().enumerate() {
            let idx = to_i64(first + i as u64)?;
            on_conn!(self, |c| {
                sqlx::query(SQL)
                    .bind(idx)
                    .bind(h.to_vec())
                    .execute(&mut *c)
                    .await
                    .map_err(StoreError::classify)?;
            });
        }
        Ok(())
    }

    /// Stores a signed checkpoint in its own transaction.
    pub async fn insert_checkpoint(&mut self, size: u64, note: &str) -> Result<(), StoreError> {
        const SQL: &str = "INSERT INTO ledger_checkpoints (size, note) VALUES ($1, $2)";
        let size = to_i64(size)?;
        on_conn!(self, |c| {
            sqlx::query(SQL)
                .bind(size)
                .bind(note.to_owned())
                .execute(&mut *c)
                .await
                .map_err(StoreError::classify)?;
        });
        Ok(())
    }

    /// Runs a command's change; `indexes` are the ledger indexes of its entries. Returns the
    /// precondition that failed, if a guarded statement found no row.
    pub async fn apply(
        &mut self,
        change: &Change,
        indexes: &[u64],
    ) -> Result<Option<Precondition>, StoreError> {
        for s in change.statements() {
            let n = on_conn!(self, |c| {
                super::codec::bind!(sqlx::query(s.sql), &s.args, indexes)
                    .execute(&mut *c)
                    .await
                    .map_err(StoreError::classify)?
                    .rows_affected()
            });
            if n == 0 && s.guard.is_some() {
                return Ok(s.guard);
            }
        }
        Ok(None)
    }
}

impl Store {
    /// Opens the single writer connection, taking the ledger's writer lock.
    pub async fn writer(&self) -> Result<Writer, StoreError> {
        Writer::open(self.target()).await
    }
}
