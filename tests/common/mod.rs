//! Test harness: every storage test runs against SQLite (a temporary file) and against a fresh
//! database on the PostgreSQL server named by `KINDPAKKET_TEST_POSTGRES`
//! (default `postgres://postgres@127.0.0.1:5432/postgres`; set it to `off` to skip PostgreSQL).
#![allow(dead_code)]

use std::path::PathBuf;

use kindpakket::ledger::{Ledger, LedgerOptions};
use kindpakket::store::Store;

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh, empty database and keys directory for one test.
pub struct TestDb {
    pub backend: Backend,
    pub url: String,
    pub dir: tempfile::TempDir,
    pg_admin: Option<(String, String)>,
}

pub fn pg_server() -> Option<String> {
    match std::env::var("KINDPAKKET_TEST_POSTGRES") {
        Ok(v) if v == "off" => None,
        Ok(v) if !v.is_empty() => Some(v),
        _ => Some("postgres://postgres@127.0.0.1:5432/postgres".into()),
    }
}

impl TestDb {
    /// None when PostgreSQL tests are switched off.
    pub async fn new(backend: Backend) -> Option<Self> {
        let dir = tempfile::tempdir().expect("temp dir");
        match backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}/kindpakket.db", dir.path().display());
                Some(TestDb {
                    backend,
                    url,
                    dir,
                    pg_admin: None,
                })
            }
            Backend::Postgres => {
                let admin = pg_server()?;
                let name = format!("kp_test_{}", uuid::Uuid::new_v4().simple());
                let base = admin
                    .rsplit_once('/')
                    .map(|(b, _)| b.to_owned())
                    .expect("postgres URL with a database");
                let url = format!("{base}/{name}");
                Some(TestDb {
                    backend,
                    url,
                    dir,
                    pg_admin: Some((admin, name)),
                })
            }
        }
    }

    pub fn keys(&self) -> PathBuf {
        self.dir.path().join("keys")
    }

    pub async fn store(&self) -> Store {
        Store::open(&self.url).await.expect("open store")
    }

    pub async fn ledger(&self) -> Ledger {
        self.ledger_with(LedgerOptions::default()).await
    }

    pub async fn ledger_with(&self, options: LedgerOptions) -> Ledger {
        Ledger::open(self.store().await, &self.keys(), options)
            .await
            .expect("open ledger")
    }

    /// Drops the PostgreSQL test database.
    pub async fn cleanup(self) {
        if let Some((admin, name)) = &self.pg_admin {
            use sqlx::Connection;
            if let Ok(mut c) = sqlx::PgConnection::connect(admin).await {
                let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                    .execute(&mut c)
                    .await;
            }
        }
    }
}

/// Defines `name::sqlite` and `name::postgres` tests that each call `async fn name(TestDb)`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                use super::*;
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let db = common::TestDb::new(common::Backend::Sqlite).await.expect("sqlite");
                    super::$name(&db).await;
                    db.cleanup().await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let Some(db) = common::TestDb::new(common::Backend::Postgres).await else {
                        eprintln!("PostgreSQL tests switched off (KINDPAKKET_TEST_POSTGRES=off)");
                        return;
                    };
                    super::$name(&db).await;
                    db.cleanup().await;
                }
            }
        )+
    };
}
