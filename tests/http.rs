//! The HTTP skeleton, in process: login and sessions, the error shape, the public ledger
//! endpoints, operations endpoints. Every test runs on SQLite and on PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failing test

mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use kindpakket::core::merkle::{self, Hash};
use kindpakket::core::note::{Checkpoint, Vkey};
use serde_json::json;

fn hashes(v: &serde_json::Value) -> Vec<Hash> {
    v["hashes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| Hash::from_base64(h.as_str().unwrap()).unwrap())
        .collect()
}

async fn login_gives_a_bearer_token_and_a_cookie_and_logout_ends_it(db: &common::TestDb) {
    let app = common::TestApp::new(db).await;
    let pw = app.user("medewerker", "staff", None).await;
    let r = app
        .post(
            "/api/v1/login",
            None,
            json!({"username": "medewerker", "password": pw}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let body = r.json();
    assert_eq!(body["role"], "staff");
    assert!(body["expires_at"].as_str().unwrap().contains('T'));
    let token = body["token"].as_str().unwrap().to_owned();
    let cookie = r
        .headers
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cookie.starts_with("kp_sessie=")
            && cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    // The cookie works as well as the bearer token, for a request that changes something only
    // when the browser says it comes from this site (a form elsewhere cannot use it).
    let cookie_pair = cookie.split(';').next().unwrap().to_owned();
    for (name, value) in [
        ("sec-fetch-site", "cross-site"),
        ("origin", "https://evil.example"),
    ] {
        let req = axum::http::Request::post("/api/v1/logout")
            .header("cookie", &cookie_pair)
            .header("host", "kindpakket.test")
            .header(name, value)
            .body(axum::body::Body::empty())
            .unwrap();
        let r = app.send(req).await;
        assert_eq!(r.status, 401, "{name}: {}", r.text);
    }
    let r = app
        .send(
            axum::http::Request::get("/api/v1/vouchers/00000000-0000-0000-0000-000000000000")
                .header("cookie", &cookie_pair)
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_ne!(r.status, 401, "a read with the cookie: {}", r.text);
    let req = axum::http::Request::post("/api/v1/logout")
        .header("cookie", cookie_pair)
        .header("sec-fetch-site", "same-origin")
        .body(axum::body::Body::empty())
        .unwrap();
    let r = app.send(req).await;
    assert_eq!(r.status, 204, "{}", r.text);
    // The session is gone for the bearer token too.
    let r = app.post("/api/v1/logout", Some(&token), json!({})).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.code(), "not_logged_in");
    app.close().await;
}

async fn expired_sessions_are_cleared_out_at_the_next_login(db: &common::TestDb) {
    let app = common::TestApp::new(db).await;
    let pw = app.user("oud", "staff", None).await;
    let found = app.store.credentials("oud").await.unwrap().unwrap();
    let user = found.user;
    let now = chrono::Utc::now();
    let old = [7u8; 32];
    app.store
        .create_session(
            &old,
            user.id,
            &found.password_hash,
            now - chrono::Duration::hours(20),
            now - chrono::Duration::hours(8),
            false,
        )
        .await
        .unwrap();
    let r = app
        .post(
            "/api/v1/login",
            None,
            json!({"username": "oud", "password": pw}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        app.store.purge_sessions(chrono::Utc::now()).await.unwrap(),
        0,
        "the login already cleared the expired session"
    );
    app.close().await;
}

async fn wrong_passwords_are_refused_the_same_way_and_then_rate_limited(db: &common::TestDb) {
    let app = common::TestApp::new(db).await;
    let pw = app.user("kassa", "admin", None).await;
    let unknown = app
        .post(
            "/api/v1/login",
            None,
            json!({"username": "niemand", "password": "x-wachtwoord-1"}),
        )
        .await;
    assert_eq!(unknown.status, 401);
    assert_eq!(unknown.code(), "invalid_login");
    for _ in 0..5 {
        let r = app
            .post(
                "/api/v1/login",
                None,
                json!({"username": "kassa", "password": "fout-wachtwoord"}),
            )
            .await;
        assert_eq!(r.status, 401);
        assert_eq!(r.code(), "invalid_login");
    }
    // Even the right password is refused for a while now.
    let r = app
        .post(
            "/api/v1/login",
            None,
            json!({"username": "kassa", "password": pw}),
        )
        .await;
    assert_eq!(r.status, 429, "{}", r.text);
    assert_eq!(r.code(), "too_many_attempts");
    // Retry-After tells the same wait as the message: minutes, not seconds.
    let wait: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(wait > 14 * 60 && wait <= 15 * 60, "retry-after {wait}");
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("15 minuten")
    );
    // One name's lock is not everyone's: a colleague on the same network still gets in.
    let other = app.user("medewerker", "staff", None).await;
    let r = app
        .post(
            "/api/v1/login",
            None,
            json!({"username": "medewerker", "password": other}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    // From one address (a club's network, a proxy): a volunteer mistyping five names does not
    // lock out the others there; fifty failures from that address do.
    let from = |name: &str, password: &str| {
        let mut req = axum::http::Request::post("/api/v1/login")
            .header("content-type", "application/json")
            .body(axum::body::Body::from(
                json!({"username": name, "password": password}).to_string(),
            ))
            .unwrap();
        req.extensions_mut()
            .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
                [10, 0, 0, 7],
                40_000,
            ))));
        req
    };
    for i in 0..5 {
        let r = app.send(from(&format!("vrijwilliger{i}"), "fout")).await;
        assert_eq!(r.status, 401);
    }
    let r = app.send(from("medewerker", &other)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    for i in 0..45 {
        let r = app.send(from(&format!("gok{i}"), "fout")).await;
        assert_eq!(r.status, 401);
    }
    let r = app.send(from("medewerker", &other)).await;
    assert_eq!(r.status, 429, "{}", r.text);
    app.close().await;
}

async fn malformed_requests_get_the_json_error_shape_never_a_500(db: &common::TestDb) {
    let app = common::TestApp::new(db).await;
    let cases: Vec<(&str, &str, String, u16, &str)> = vec![
        (
            "/api/v1/login",
            "application/json",
            "{not json".into(),
            400,
            "malformed_json",
        ),
        (
            "/api/v1/login",
            "application/json",
            r#"{"username": 5, "password": "x"}"#.into(),
            400,
            "invalid_field",
        ),
        (
            "/api/v1/login",
            "application/json",
            r#"{"username": "a"}"#.into(),
            400,
            "invalid_field",
        ),
        (
            "/api/v1/login",
            "text/plain",
            r#"{"username": "a", "password": "b"}"#.into(),
            415,
            "unsupported_media_type",
        ),
        (
            "/api/v1/login",
            "application/json",
            format!(
                r#"{{"username": "{}", "password": "b"}}"#,
                "a".repeat(2_000_000)
            ),
            413,
            "body_too_large",
        ),
        (
            "/api/v1/login",
            "application/json",
            r#"{"username": "'; DROP TABLE users; --", "password": "<script>"}"#.into(),
            401,
            "invalid_login",
        ),
    ];
    for (path, ct, body, status, code) in cases {
        let r = app.post_raw(path, None, ct, body, &[]).await;
        assert_eq!(r.status.as_u16(), status, "{code}: {}", r.text);
        let j = r.json();
        assert_eq!(j["error"]["code"], code, "{}", r.text);
        let message = j["error"]["message"].as_str().unwrap();
        assert!(!message.is_empty());
        // People read Dutch; serde's English stays in `detail`, for developers.
        for english in [
            "deserialize",
            "expected",
            "invalid type",
            "missing field",
            "line 1",
        ] {
            assert!(!message.contains(english), "{message}");
        }
    }
    let r = app
        .post_raw(
            "/api/v1/login",
            None,
            "application/json",
            r#"{"username": 5, "password": "x"}"#.into(),
            &[],
        )
        .await;
    let j = r.json();
    assert_eq!(
        j["error"]["message"],
        "Het veld 'username' heeft een verkeerde waarde of een verkeerd soort waarde."
    );
    assert!(j["error"]["detail"].as_str().unwrap().contains("username"));
    let r = app.get("/api/v1/bestaat-niet", None).await;
    assert_eq!((r.status.as_u16(), r.code().as_str()), (404, "not_found"));
    let r = app.get("/api/v1/login", None).await;
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (405, "method_not_allowed")
    );
    let r = app.get("/api/v1/ledger/entries?start=abc", None).await;
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (400, "invalid_query")
    );
    assert_eq!(
        r.json()["error"]["message"],
        "De zoekparameter 'start' heeft een verkeerde waarde of een verkeerd soort waarde."
    );
    let r = app.get("/api/v1/ledger/entries?start=5&end=2", None).await;
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (400, "invalid_range")
    );
    let r = app
        .get("/api/v1/ledger/proof/inclusion?index=99", None)
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (400, "invalid_proof_request")
    );
    let r = app
        .get("/api/v1/ledger/proof/consistency?from=3&to=99", None)
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (400, "invalid_proof_request")
    );
    let r = app
        .get(
            "/api/v1/ledger/proof/inclusion?index=18446744073709551615&size=18446744073709551615",
            None,
        )
        .await;
    assert_eq!(r.status.as_u16(), 400);
    assert_eq!(app.get("/healthz", None).await.status, 200);
    app.close().await;
}

async fn the_public_ledger_endpoints_verify_end_to_end(db: &common::TestDb) {
    let app = common::TestApp::new(db).await;
    app.ledger
        .rotate(kindpakket::core::entry::KeyPurpose::Voucher)
        .await
        .unwrap();
    let key_text = app.get("/api/v1/ledger/key", None).await;
    assert_eq!(key_text.status, 200);
    assert!(
        key_text.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let vkeys: Vec<Vkey> = key_text
        .text
        .lines()
        .map(|l| Vkey::parse(l).unwrap())
        .collect();
    let note = app.get("/api/v1/ledger/checkpoint", None).await.text;
    let (cp, _) = Checkpoint::verify(&note, &vkeys).unwrap();
    assert_eq!(cp.size, 6);
    let entries = app
        .get("/api/v1/ledger/entries?start=0&end=100", None)
        .await
        .json();
    let entries = entries.as_array().unwrap();
    assert_eq!(entries.len(), 6, "end is clamped to the tree size");
    assert_eq!(entries[0]["kind"], "genesis");
    let leaves: Vec<Hash> = entries
        .iter()
        .map(|e| {
            let bytes = B64.decode(e["entry_b64"].as_str().unwrap()).unwrap();
            let leaf = merkle::leaf_hash(&bytes);
            assert_eq!(e["leaf_hash_hex"], leaf.to_hex());
            leaf
        })
        .collect();
    assert_eq!(merkle::root_of_leaves(&leaves), cp.root);
    for i in 0..6u64 {
        let p = app
            .get(
                &format!("/api/v1/ledger/proof/inclusion?index={i}&size=6"),
                None,
            )
            .await
            .json();
        merkle::verify_inclusion(i, 6, &leaves[i as usize], &hashes(&p), &cp.root).unwrap();
    }
    let old_root = merkle::root_of_leaves(&leaves[..4]);
    let p = app
        .get("/api/v1/ledger/proof/consistency?from=4&to=6", None)
        .await
        .json();
    merkle::verify_consistency(4, 6, &old_root, &cp.root, &hashes(&p)).unwrap();
    let page = app.get("/api/v1/ledger/entries?start=5", None).await.json();
    assert_eq!(page.as_array().unwrap().len(), 1);
    assert!(
        app.get("/api/v1/ledger/entries?start=50", None)
            .await
            .json()
            .as_array()
            .unwrap()
            .is_empty()
    );
    let vk = app.get("/api/v1/keys/voucher", None).await.json();
    let vk = vk.as_array().unwrap();
    assert_eq!(vk.len(), 2);
    assert_eq!(vk[0]["status"], "retired");
    assert_eq!(vk[1]["status"], "active");
    app.close().await;
}

/// The rules of OpenAPI 3.1 that code generation most easily breaks: operation ids are unique,
/// every response has a description, and a parameter is `in: path` exactly when its name is a
/// `{placeholder}` of the path template (and every placeholder is such a parameter).
fn assert_openapi_document_is_well_formed(spec: &serde_json::Value) {
    const METHODS: [&str; 8] = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];
    let mut operation_ids = std::collections::HashMap::new();
    let paths = spec["paths"].as_object().expect("paths");
    assert!(!paths.is_empty());
    for (path, item) in paths {
        let placeholders: std::collections::BTreeSet<&str> = path
            .split('{')
            .skip(1)
            .map(|rest| rest.split_once('}').expect("closed placeholder").0)
            .collect();
        let path_level = item["parameters"].as_array().cloned().unwrap_or_default();
        for (method, op) in item.as_object().unwrap() {
            if !METHODS.contains(&method.as_str()) {
                continue;
            }
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has an operationId"));
            assert!(!id.is_empty(), "{method} {path} has an operationId");
            if let Some(other) = operation_ids.insert(id.to_owned(), format!("{method} {path}")) {
                panic!("operationId {id} is used by both {other} and {method} {path}");
            }
            let responses = op["responses"].as_object().unwrap();
            for (status, response) in responses {
                let description = response["description"].as_str().unwrap_or_default();
                assert!(
                    !description.trim().is_empty(),
                    "{method} {path} {status} has a description"
                );
            }
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            let mut in_path = std::collections::BTreeSet::new();
            for param in path_level.iter().chain(&params) {
                let name = param["name"].as_str().expect("parameter name");
                let location = param["in"].as_str().expect("parameter location");
                if placeholders.contains(name) {
                    assert_eq!(
                        location, "path",
                        "{method} {path}: {name} is a path parameter"
                    );
                    assert_eq!(
                        param["required"], true,
                        "{method} {path}: {name} is required"
                    );
                    in_path.insert(name);
                } else {
                    assert_ne!(
                        location, "path",
                        "{method} {path}: {name} is not in the path"
                    );
                }
            }
            assert_eq!(
                in_path, placeholders,
                "{method} {path} documents every path parameter"
            );
        }
    }
    for (path, name, required) in [
        ("/api/v1/ledger/entries", "start", false),
        ("/api/v1/ledger/entries", "end", false),
        ("/api/v1/ledger/proof/inclusion", "index", true),
        ("/api/v1/ledger/proof/inclusion", "size", false),
        ("/api/v1/ledger/proof/consistency", "from", true),
        ("/api/v1/ledger/proof/consistency", "to", false),
    ] {
        let param = spec["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{path} documents {name}"));
        assert_eq!(param["in"], "query", "{path}: {name} is a query parameter");
        assert_eq!(
            param["required"].as_bool().unwrap_or(false),
            required,
            "{path}: {name} required"
        );
    }
}

async fn operations_endpoints_answer(db: &common::TestDb) {
    let app = common::TestApp::new(db).await;
    assert_eq!(app.get("/healthz", None).await.status, 200);
    assert_eq!(app.get("/readyz", None).await.status, 200);
    // Metrics: from this machine (or with the metrics token, see tests/hardening.rs) only.
    assert_eq!(app.get("/metrics", None).await.status, 403);
    let mut req = axum::http::Request::get("/metrics")
        .body(axum::body::Body::empty())
        .unwrap();
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
            [127, 0, 0, 1],
            40_000,
        ))));
    let m = app.send(req).await;
    assert_eq!(m.status, 200);
    assert!(
        m.text.contains("kindpakket_http_requests_total"),
        "{}",
        m.text
    );
    let spec = app.get("/api/openapi.json", None).await.json();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3.1"));
    assert_openapi_document_is_well_formed(&spec);
    for schema in [
        "ErrorBody",
        "Issued",
        "Lookup",
        "Redeemed",
        "VoucherView",
        "FundRequest",
        "RedemptionRequest",
    ] {
        assert!(
            spec["components"]["schemas"][schema].is_object(),
            "schema {schema}"
        );
    }
    for path in [
        "/api/v1/login",
        "/api/v1/logout",
        "/api/v1/ledger/checkpoint",
        "/api/v1/ledger/key",
        "/api/v1/ledger/entries",
        "/api/v1/ledger/proof/inclusion",
        "/api/v1/ledger/proof/consistency",
        "/api/v1/keys/voucher",
        "/healthz",
        "/readyz",
        "/metrics",
        "/api/v1/funds",
        "/api/v1/funds/{id}",
        "/api/v1/funds/{id}/deposits",
        "/api/v1/funds/{id}/providers/{provider_id}",
        "/api/v1/funds/{id}/expire",
        "/api/v1/funds/{id}/direct-payments",
        "/api/v1/funds/{id}/vouchers",
        "/api/v1/households",
        "/api/v1/households/{id}",
        "/api/v1/households/{id}/personal-data",
        "/api/v1/households/{id}/parent-link",
        "/api/v1/providers",
        "/api/v1/providers/{id}",
        "/api/v1/vouchers/{id}",
        "/api/v1/vouchers/{id}/qr.svg",
        "/api/v1/vouchers/{id}/qr.png",
        "/api/v1/vouchers/{id}/top-ups",
        "/api/v1/vouchers/{id}/block",
        "/api/v1/vouchers/{id}/reissue",
        "/api/v1/vouchers/lookup",
        "/api/v1/redemptions",
        "/api/v1/redemptions/{id}/reverse",
        "/api/openapi.json",
    ] {
        assert!(spec["paths"][path].is_object(), "OpenAPI documents {path}");
        for (method, op) in spec["paths"][path].as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            assert!(
                !responses.is_empty(),
                "{method} {path} documents its responses"
            );
            if op.get("security").is_some() {
                assert!(
                    responses.contains_key("401"),
                    "{method} {path} documents 401"
                );
            }
        }
    }
    app.ledger.close().await;
    assert_eq!(
        app.get("/readyz", None).await.status,
        503,
        "not ready once the writer stopped"
    );
}

on_both_backends!(
    expired_sessions_are_cleared_out_at_the_next_login,
    login_gives_a_bearer_token_and_a_cookie_and_logout_ends_it,
    wrong_passwords_are_refused_the_same_way_and_then_rate_limited,
    malformed_requests_get_the_json_error_shape_never_a_500,
    the_public_ledger_endpoints_verify_end_to_end,
    operations_endpoints_answer,
);
