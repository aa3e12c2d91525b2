//! Opening a database: creating and migrating it for the service, or read-only for an audit.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::SqlitePoolOptions;

use super::migrate;
use super::pool::{Db, Store, StoreError, Target, create_private, is_postgres, sqlite_options};

impl Store {
    /// Connects (creating the database if needed) and applies migrations.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let store = if url.starts_with("sqlite:") {
            let (opts, path) = sqlite_options(url)?;
            let opts = opts.create_if_missing(true);
            create_private(&path)?;
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .connect_with(opts.clone())
                .await?;
            Store::new(Db::Sqlite(pool), Target::Sqlite(opts, path))
        } else if is_postgres(url) {
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
            Store::new(Db::Postgres(pool), Target::Postgres(opts))
        } else {
            return Err(StoreError::UnsupportedUrl);
        };
        migrate::run(store.db()).await?;
        let scrubbed = store.scrub_stored_tokens().await?;
        if scrubbed > 0 {
            tracing::info!(
                vouchers = scrubbed,
                "stored voucher tokens removed from the database"
            );
        }
        Ok(store)
    }

    /// Connects to an existing database for reading only: nothing is created or migrated, and
    /// the connection refuses writes (an auditor's `verify --database` must not change what it
    /// checks).
    pub async fn open_read_only(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            let (opts, path) = sqlite_options(url)?;
            if !path.exists() {
                return Err(StoreError::Io(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("no database at {}", path.display()),
                )));
            }
            let opts = opts.read_only(true).create_if_missing(false);
            let pool = SqlitePoolOptions::new()
                .max_connections(2)
                .connect_with(opts.clone())
                .await?;
            Ok(Store::new(Db::Sqlite(pool), Target::Sqlite(opts, path)))
        } else if is_postgres(url) {
            let opts =
                PgConnectOptions::from_str(url)?.options([("default_transaction_read_only", "on")]);
            let pool = PgPoolOptions::new()
                .max_connections(2)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(opts.clone())
                .await?;
            Ok(Store::new(Db::Postgres(pool), Target::Postgres(opts)))
        } else {
            Err(StoreError::UnsupportedUrl)
        }
    }
}
