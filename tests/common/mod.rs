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

/// An in-process app on a test database, driven through `Router::oneshot`.
pub struct TestApp {
    pub ledger: Ledger,
    pub router: axum::Router,
    pub state: kindpakket::http::AppState,
}

/// A response: status, headers and body as text.
pub struct Resp {
    pub status: axum::http::StatusCode,
    pub headers: axum::http::HeaderMap,
    pub text: String,
}

impl Resp {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    /// The stable error code of an error response.
    pub fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

impl TestApp {
    pub async fn new(db: &TestDb) -> Self {
        let ledger = db.ledger().await;
        let links = kindpakket::service::links::LinkSecret::load_or_create(&db.keys()).unwrap();
        let state = kindpakket::http::AppState::new(
            ledger.clone(),
            links,
            kindpakket::http::HttpConfig::default(),
        );
        let router = kindpakket::http::router(state.clone());
        TestApp {
            ledger,
            router,
            state,
        }
    }

    pub async fn close(self) {
        self.ledger.close().await;
    }

    /// Creates a user directly in the store.
    pub async fn user(&self, name: &str, role: &str, provider: Option<uuid::Uuid>) -> String {
        let password = format!("{name}-wachtwoord-1");
        let hash = kindpakket::auth::hash_password(&password).unwrap();
        self.state
            .store
            .create_user(name, role, provider, &hash, chrono::Utc::now())
            .await
            .unwrap();
        password
    }

    /// Creates a user and logs in; returns the bearer token.
    pub async fn login_as(&self, name: &str, role: &str, provider: Option<uuid::Uuid>) -> String {
        let password = self.user(name, role, provider).await;
        let r = self
            .post(
                "/api/v1/login",
                None,
                serde_json::json!({"username": name, "password": password}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.json()["token"].as_str().unwrap().to_owned()
    }

    pub async fn send(&self, req: axum::http::Request<axum::body::Body>) -> Resp {
        use http_body_util::BodyExt;
        use tower::ServiceExt;
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        Resp {
            status,
            headers,
            text: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Resp {
        let mut b = axum::http::Request::get(path);
        if let Some(t) = token {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        self.send(b.body(axum::body::Body::empty()).unwrap()).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: serde_json::Value) -> Resp {
        self.post_raw(path, token, "application/json", body.to_string(), &[])
            .await
    }

    pub async fn post_raw(
        &self,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: String,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut b = axum::http::Request::post(path).header("content-type", content_type);
        if let Some(t) = token {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        self.send(b.body(axum::body::Body::from(body)).unwrap())
            .await
    }
}
