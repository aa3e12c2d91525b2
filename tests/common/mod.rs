//! Test harness: every storage test runs against SQLite (a temporary file) and against a fresh
//! database on the PostgreSQL server named by `KINDPAKKET_TEST_POSTGRES`
//! (default `postgres://postgres@127.0.0.1:5432/postgres`; set it to `off` to skip PostgreSQL).
#![allow(dead_code)]
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failing test

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
    /// The app's own storage handle (shares its pool and query counter), for inspecting.
    pub store: Store,
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

/// A clock tests can move: milliseconds since the epoch.
#[derive(Clone)]
pub struct TestClock(pub std::sync::Arc<std::sync::atomic::AtomicU64>);

impl TestClock {
    /// Starts at the given date (UTC midnight).
    pub fn at(date: &str) -> Self {
        let d = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap();
        let ms = d
            .and_hms_opt(12, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp_millis() as u64;
        TestClock(std::sync::Arc::new(std::sync::atomic::AtomicU64::new(ms)))
    }
    pub fn set(&self, date: &str) {
        let d = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap();
        let ms = d
            .and_hms_opt(12, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp_millis() as u64;
        self.0.store(ms, std::sync::atomic::Ordering::SeqCst);
    }
}

impl TestApp {
    pub async fn new(db: &TestDb) -> Self {
        Self::build(db, LedgerOptions::default()).await
    }

    /// An app whose ledger (and so every rule about dates) runs on `clock`.
    pub async fn with_clock(db: &TestDb, clock: &TestClock) -> Self {
        let c = clock.0.clone();
        let options = LedgerOptions {
            clock: std::sync::Arc::new(move || c.load(std::sync::atomic::Ordering::SeqCst)),
            ..LedgerOptions::default()
        };
        Self::build(db, options).await
    }

    /// An app on `clock` whose sequencer obeys `faults` (delays, crashes).
    pub async fn with_faults(
        db: &TestDb,
        clock: &TestClock,
        faults: std::sync::Arc<kindpakket::ledger::Faults>,
    ) -> Self {
        let c = clock.0.clone();
        let options = LedgerOptions {
            clock: std::sync::Arc::new(move || c.load(std::sync::atomic::Ordering::SeqCst)),
            faults,
            ..LedgerOptions::default()
        };
        Self::build(db, options).await
    }

    async fn build(db: &TestDb, options: LedgerOptions) -> Self {
        Self::configured(
            db,
            options,
            kindpakket::service::Settings::default(),
            kindpakket::http::HttpConfig::default(),
        )
        .await
    }

    /// An app with these settings of the use cases and of the HTTP layer.
    pub async fn with_settings(
        db: &TestDb,
        settings: kindpakket::service::Settings,
        config: kindpakket::http::HttpConfig,
    ) -> Self {
        Self::configured(db, LedgerOptions::default(), settings, config).await
    }

    async fn configured(
        db: &TestDb,
        options: LedgerOptions,
        settings: kindpakket::service::Settings,
        config: kindpakket::http::HttpConfig,
    ) -> Self {
        let ledger = db.ledger_with(options).await;
        let links = kindpakket::service::links::LinkSecret::load_or_create(&db.keys()).unwrap();
        let services = kindpakket::service::Services::new(ledger.clone(), links, settings);
        let state = kindpakket::http::AppState::new(services, config);
        let router = kindpakket::http::router(state.clone()).expect("router");
        TestApp {
            store: ledger.store().clone(),
            ledger,
            router,
            state,
        }
    }

    /// Ends the test: both audits (the full one with every opening, and the public one over
    /// what anyone can download) must pass on what the test left behind.
    pub async fn close(self) {
        let full = self.audit().await;
        let public = self.audit_public().await;
        assert!(
            full.summary().starts_with("ok, full audit"),
            "{}",
            full.summary()
        );
        assert!(
            public.summary().starts_with("ok, public audit"),
            "{}",
            public.summary()
        );
        assert_eq!(full.root, public.root);
        // Every total agrees, and every account in the clear has the same balance in both;
        // each fund's pool holds what that fund's vouchers hold.
        assert_eq!(full.balances, public.balances);
        let mut pools: std::collections::HashMap<uuid::Uuid, i64> = Default::default();
        for (id, a) in full.state.accounts() {
            if a.kind == kindpakket::core::entry::AccountKind::Voucher {
                *pools
                    .entry(kindpakket::core::accounts::pool_id(&a.fund))
                    .or_default() += a.balance.0;
            } else {
                assert_eq!(
                    public.state.account(id).map(|p| p.balance),
                    Some(a.balance),
                    "account {id}"
                );
            }
        }
        for (pool, cents) in pools {
            assert_eq!(
                public.state.account(&pool).map(|p| p.balance.0),
                Some(cents)
            );
        }
        self.ledger.close().await;
    }

    /// Ends a test that damaged its ledger on purpose: no audit.
    pub async fn close_unaudited(self) {
        self.ledger.close().await;
    }

    /// Creates a user directly in the store.
    pub async fn user(&self, name: &str, role: &str, provider: Option<uuid::Uuid>) -> String {
        let password = format!("{name}-wachtwoord-1");
        let new = kindpakket::service::users::NewUser {
            username: name.to_owned(),
            role: kindpakket::core::role::Role::parse(role).expect("a role"),
            provider,
            password: password.clone(),
        };
        kindpakket::service::users::add(&self.store, &kindpakket::service::Actor::operator(), new)
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

/// A fund with money, a provider approved for sport, a household with two children and their
/// vouchers, and logged-in users. Built through the HTTP API.
pub struct World {
    pub admin: String,
    pub staff: String,
    pub finance: String,
    pub auditor: String,
    pub fund: String,
    pub provider: String,
    pub other_provider: String,
    pub manager: String,
    pub cashier: String,
    pub cashier2: String,
    pub other_cashier: String,
    pub household: String,
    pub children: Vec<String>,
    pub vouchers: Vec<serde_json::Value>,
    pub parent_link: String,
    /// The year of the world's fund: the app clock's Dutch year, so the suite
    /// keeps working after New Year.
    pub year: i32,
}

impl World {
    pub fn voucher_id(&self, i: usize) -> String {
        self.vouchers[i]["id"].as_str().unwrap().to_owned()
    }
    pub fn token(&self, i: usize) -> String {
        self.vouchers[i]["token"].as_str().unwrap().to_owned()
    }
    /// The link token at the end of the parent link.
    pub fn link_token(&self) -> String {
        self.parent_link.rsplit('/').next().unwrap().to_owned()
    }
}

pub fn id_of(r: &Resp) -> String {
    r.json()["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {}", r.text))
        .to_owned()
}

impl TestApp {
    /// Builds the standard world: fund 2026 (sport, cultuur, school; € 250 per child),
    /// € 100.000 deposited, two children, two vouchers, "VV Zuidhorn" approved for sport,
    /// "Muziekschool" approved for cultuur.
    pub async fn world(&self) -> World {
        self.world_with(|| {}).await
    }

    /// The standard world, calling `before_issue` before each voucher is issued (a test can
    /// move its clock, so that the two issues do not share a time).
    pub async fn world_with(&self, before_issue: impl Fn()) -> World {
        use serde_json::json;
        let admin = self.login_as("beheer", "admin", None).await;
        let staff = self.login_as("medewerker", "staff", None).await;
        let finance = self.login_as("financien", "finance", None).await;
        let auditor = self.login_as("accountant", "auditor", None).await;
        let year = {
            use chrono::Datelike;
            self.state.services.today().year()
        };
        let r = self
            .post(
                "/api/v1/funds",
                Some(&admin),
                json!({
            "name": format!("Kindpakket Westerkwartier {year}"), "sponsor": "Gemeente Westerkwartier",
            "valid_from": format!("{year}-01-01"), "valid_until": format!("{year}-12-31"),
            "categories": ["sport", "cultuur", "school"], "amount_per_child_cents": 25000}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        let fund = id_of(&r);
        let r = self
            .post(
                &format!("/api/v1/funds/{fund}/deposits"),
                Some(&finance),
                json!({"amount_cents": 10_000_000, "reference": "Beschikking 2026-01"}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        let r = self.post("/api/v1/households", Some(&staff), json!({
            "reference": "LG-0001", "parent_name": "Fatima de Vries", "email": "fatima@example.org",
            "phone": "06-12345678",
            "children": [{"first_name": "Noor", "birth_date": "2015-04-02"}, {"first_name": "Sem", "birth_date": "2018-09-30"}]})).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let household = id_of(&r);
        let parent_link = r.json()["parent_link"].as_str().unwrap().to_owned();
        let children: Vec<String> = r.json()["children"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_owned())
            .collect();
        let mut vouchers = Vec::new();
        for c in &children {
            before_issue();
            let r = self
                .post(
                    &format!("/api/v1/funds/{fund}/vouchers"),
                    Some(&staff),
                    json!({"child_id": c}),
                )
                .await;
            assert_eq!(r.status, 201, "{}", r.text);
            vouchers.push(r.json());
        }
        let r = self.post("/api/v1/providers", Some(&admin), json!({"name": "VV Zuidhorn", "kvk": "40000001", "iban": "NL91ABNA0417164300", "categories": ["sport"]})).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let provider = id_of(&r);
        let r = self
            .post(
                &format!("/api/v1/funds/{fund}/providers/{provider}"),
                Some(&admin),
                json!({"categories": ["sport"]}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = self.post("/api/v1/providers", Some(&admin), json!({"name": "Muziekschool Leek", "kvk": "40000002", "iban": "NL44RABO0123456789", "categories": ["cultuur"]})).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let other_provider = id_of(&r);
        let r = self
            .post(
                &format!("/api/v1/funds/{fund}/providers/{other_provider}"),
                Some(&admin),
                json!({"categories": ["cultuur"]}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let p = uuid::Uuid::parse_str(&provider).unwrap();
        let op = uuid::Uuid::parse_str(&other_provider).unwrap();
        let manager = self
            .login_as("voorzitter", "provider_manager", Some(p))
            .await;
        let cashier = self.login_as("kassa1", "cashier", Some(p)).await;
        let cashier2 = self.login_as("kassa2", "cashier", Some(p)).await;
        let other_cashier = self.login_as("kassa-muziek", "cashier", Some(op)).await;
        World {
            admin,
            staff,
            finance,
            auditor,
            fund,
            provider,
            other_provider,
            manager,
            cashier,
            cashier2,
            other_cashier,
            household,
            children,
            vouchers,
            parent_link,
            year,
        }
    }

    /// A redemption with a fresh idempotency key.
    pub async fn redeem(&self, token: &str, cashier: &str, cents: i64, category: &str) -> Resp {
        let key = uuid::Uuid::new_v4().to_string();
        self.redeem_with_key(token, cashier, cents, category, &key)
            .await
    }

    pub async fn redeem_with_key(
        &self,
        token: &str,
        cashier: &str,
        cents: i64,
        category: &str,
        key: &str,
    ) -> Resp {
        let body = serde_json::json!({"token": token, "amount_cents": cents, "category": category, "description": "Contributie"});
        self.post_raw(
            "/api/v1/redemptions",
            Some(cashier),
            "application/json",
            body.to_string(),
            &[("idempotency-key", key)],
        )
        .await
    }

    /// Runs the full offline audit over the app's database (every opening checked).
    pub async fn audit(&self) -> kindpakket::core::audit::AuditReport {
        let data = self.store.ledger_data().await.unwrap();
        kindpakket::core::audit::audit(&data, None).unwrap_or_else(|f| panic!("audit failed: {f}"))
    }

    /// Runs the public audit: the same entries and checkpoints without any opening.
    pub async fn audit_public(&self) -> kindpakket::core::audit::AuditReport {
        let mut data = self.store.ledger_data().await.unwrap();
        for e in &mut data.entries {
            e.openings = None;
        }
        data.orphan_openings.clear();
        kindpakket::core::audit::audit(&data, None)
            .unwrap_or_else(|f| panic!("public audit failed: {f}"))
    }
}
