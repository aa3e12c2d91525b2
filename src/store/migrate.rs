//! A small migration runner: numbered SQL files per backend, embedded in the binary, applied
//! once each in a transaction, with a checksum so that an edited migration is noticed.

use sqlx::{AssertSqlSafe, Connection};

use super::pool::{Db, StoreError};

struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

macro_rules! migration {
    ($v:literal, $name:literal) => {
        Migration {
            version: $v,
            name: $name,
            sqlite: include_str!(concat!("../../migrations/sqlite/", $name, ".sql")),
            postgres: include_str!(concat!("../../migrations/postgres/", $name, ".sql")),
        }
    };
}

const MIGRATIONS: &[Migration] = &[
    migration!(1, "0001_ledger"),
    migration!(2, "0002_users"),
    migration!(3, "0003_vouchers"),
    migration!(4, "0004_idempotency_outcome"),
    migration!(5, "0005_user_management"),
    migration!(6, "0006_tokens_not_stored"),
    migration!(7, "0007_voucher_key_status"),
    migration!(8, "0008_two_factor"),
    migration!(9, "0009_voucher_reissues"),
    migration!(10, "0010_totp_failures"),
    migration!(11, "0011_ledger_v2"),
];

const CREATE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (\
    version BIGINT PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL)";

/// Applies every migration that has not run yet.
pub(super) async fn run(db: &Db) -> Result<(), StoreError> {
    crate::with_db!(db, |pool| {
        let mut conn = pool.acquire().await?;
        sqlx::raw_sql(CREATE).execute(&mut *conn).await?;
        for m in MIGRATIONS {
            let sql = if matches!(db, Db::Sqlite(_)) {
                m.sqlite
            } else {
                m.postgres
            };
            let checksum = crate::core::hash::Hash::of(sql.as_bytes()).to_hex();
            let begin = if matches!(db, Db::Sqlite(_)) {
                "BEGIN IMMEDIATE"
            } else {
                "BEGIN"
            };
            let mut tx = conn.begin_with(begin).await?;
            // Serialise concurrent starts on PostgreSQL; SQLite's writer lock already does.
            if matches!(db, Db::Postgres(_)) {
                sqlx::raw_sql("LOCK TABLE schema_migrations IN EXCLUSIVE MODE")
                    .execute(&mut *tx)
                    .await?;
            }
            let applied: Option<String> =
                sqlx::query_scalar("SELECT checksum FROM schema_migrations WHERE version = $1")
                    .bind(m.version)
                    .fetch_optional(&mut *tx)
                    .await?;
            match applied {
                Some(c) if c == checksum => {
                    tx.rollback().await?;
                }
                Some(_) => {
                    return Err(StoreError::Migration(format!(
                        "migration {} was changed after it was applied",
                        m.name
                    )));
                }
                None => {
                    sqlx::raw_sql(AssertSqlSafe(sql))
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| StoreError::Migration(format!("{}: {e}", m.name)))?;
                    sqlx::query(
                        "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    )
                    .bind(m.version)
                    .bind(m.name)
                    .bind(checksum)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                }
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn both_backends_have_the_same_migrations() {
        let names = |dir: &str| {
            let mut v: Vec<String> = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        };
        let sqlite = names(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"));
        let postgres = names(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres"));
        assert_eq!(sqlite, postgres);
        let embedded: Vec<String> = super::MIGRATIONS
            .iter()
            .map(|m| format!("{}.sql", m.name))
            .collect();
        assert_eq!(
            sqlite, embedded,
            "every migration file must be listed in MIGRATIONS"
        );
    }
}
