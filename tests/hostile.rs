//! Bad and hostile input never gets a 5xx: malformed JSON, wrong types, negative, zero and
//! overflowing amounts, unknown ids and hostile strings all get a 4xx with an error code, and
//! the server stays healthy and the ledger verifiable. On SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failing test

mod common;

use common::{TestApp, TestClock};
use serde_json::{Value, json};

fn hostile_strings() -> Vec<Value> {
    vec![
        json!(""),
        json!("   "),
        json!("'; DROP TABLE vouchers; --"),
        json!("<script>alert(1)</script>"),
        json!("\u{0000}nul"),
        json!("\u{202e}gnitset"),
        json!("a".repeat(5000)),
        json!("🙂🙂🙂"),
        json!(null),
        json!(12),
        json!(["array"]),
        json!({"object": true}),
    ]
}

fn hostile_amounts() -> Vec<Value> {
    vec![
        json!(0),
        json!(-1),
        json!(-9_223_372_036_854_775_807i64),
        json!(9_223_372_036_854_775_807i64),
        json!(1.5),
        json!("100"),
        json!(null),
        json!(1e30),
        json!(true),
    ]
}

async fn hostile_input_gets_a_4xx_with_a_code_and_the_server_stays_healthy(db: &common::TestDb) {
    let clock = TestClock::at("2026-06-01");
    let app = TestApp::with_clock(db, &clock).await;
    let w = app.world().await;
    let unknown = uuid::Uuid::new_v4().to_string();
    let (fund, v, p, child) = (
        w.fund.clone(),
        w.voucher_id(0),
        w.provider.clone(),
        w.children[0].clone(),
    );
    let token = w.token(0);
    // (path, token, valid body) for every JSON endpoint.
    let endpoints: Vec<(String, String, Value)> = vec![
        (
            "/api/v1/funds".into(),
            w.admin.clone(),
            json!({"name": "F", "sponsor": "S", "valid_from": "2026-01-01", "valid_until": "2026-12-31", "categories": ["sport"], "amount_per_child_cents": 100}),
        ),
        (
            format!("/api/v1/funds/{fund}/deposits"),
            w.finance.clone(),
            json!({"amount_cents": 100, "reference": "r"}),
        ),
        (
            "/api/v1/households".into(),
            w.staff.clone(),
            json!({"reference": "LG-H", "parent_name": "P", "children": [{"first_name": "C", "birth_date": "2016-01-01"}]}),
        ),
        (
            format!("/api/v1/funds/{fund}/vouchers"),
            w.staff.clone(),
            json!({"child_id": child}),
        ),
        (
            format!("/api/v1/vouchers/{v}/top-ups"),
            w.finance.clone(),
            json!({"amount_cents": 100, "reason": "r"}),
        ),
        (
            "/api/v1/providers".into(),
            w.admin.clone(),
            json!({"name": "P", "kvk": "12345678", "iban": "NL91ABNA0417164300", "categories": ["sport"]}),
        ),
        (
            format!("/api/v1/funds/{fund}/providers/{p}"),
            w.admin.clone(),
            json!({"categories": ["sport"]}),
        ),
        (
            "/api/v1/vouchers/lookup".into(),
            w.cashier.clone(),
            json!({"token": token}),
        ),
        (
            "/api/v1/redemptions".into(),
            w.cashier.clone(),
            json!({"token": token, "amount_cents": 1, "category": "sport", "description": "d"}),
        ),
        (
            format!("/api/v1/funds/{fund}/direct-payments"),
            w.finance.clone(),
            json!({"child_id": child, "provider_id": p, "amount_cents": 1, "category": "sport"}),
        ),
        (
            "/api/v1/login".into(),
            String::new(),
            json!({"username": "beheer", "password": "x"}),
        ),
    ];
    let mut sent = 0;
    let check = |status: u16, text: &str, what: &str| {
        assert!((400..500).contains(&status), "{what}: {status} {text}");
        let j: Value =
            serde_json::from_str(text).unwrap_or_else(|_| panic!("{what}: not JSON: {text}"));
        let code = j["error"]["code"].as_str().unwrap_or_default();
        assert!(
            !code.is_empty() && code.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
            "{what}: {text}"
        );
        assert!(
            !text.contains("panicked") && !text.contains("sqlx") && !text.contains("src/"),
            "{what}: {text}"
        );
    };
    for (path, tok, valid) in &endpoints {
        let tok = (!tok.is_empty()).then_some(tok.as_str());
        let key = [("idempotency-key", "k")];
        let headers: &[(&str, &str)] = if path.ends_with("/redemptions") {
            &key
        } else {
            &[]
        };
        // Malformed JSON.
        for raw in [
            "",
            "{",
            "[]",
            "null",
            "{\"a\":1}",
            "\"text\"",
            "{\"amount_cents\": 1}}",
        ] {
            let r = app
                .post_raw(path, tok, "application/json", raw.into(), headers)
                .await;
            check(r.status.as_u16(), &r.text, &format!("{path} raw {raw:?}"));
            sent += 1;
        }
        // Each field replaced by hostile values; amounts by hostile amounts.
        let Value::Object(fields) = valid else {
            unreachable!()
        };
        for (field, _) in fields {
            let values = if field.ends_with("_cents") {
                hostile_amounts()
            } else {
                hostile_strings()
            };
            for bad in values {
                let mut body = valid.clone();
                body[field] = bad.clone();
                let key = uuid::Uuid::new_v4().to_string();
                let hdr = [("idempotency-key", key.as_str())];
                let headers: &[(&str, &str)] = if path.ends_with("/redemptions") {
                    &hdr
                } else {
                    &[]
                };
                let r = app
                    .post_raw(path, tok, "application/json", body.to_string(), headers)
                    .await;
                let status = r.status.as_u16();
                // Some hostile strings are legitimate text (a name with an emoji): then success is fine.
                if status < 300 {
                    continue;
                }
                check(status, &r.text, &format!("{path} {field}={bad}"));
                sent += 1;
            }
        }
        // An unknown extra field.
        let mut body = valid.clone();
        body["unexpected"] = json!(1);
        let r = app
            .post_raw(path, tok, "application/json", body.to_string(), headers)
            .await;
        check(r.status.as_u16(), &r.text, &format!("{path} extra field"));
    }
    // Unknown and malformed ids in paths.
    for path in [
        format!("/api/v1/funds/{unknown}"),
        format!("/api/v1/vouchers/{unknown}"),
        format!("/api/v1/vouchers/{unknown}/qr.png"),
        format!("/api/v1/households/{unknown}"),
        format!("/api/v1/providers/{unknown}"),
        "/api/v1/vouchers/not-a-uuid".into(),
        "/api/v1/vouchers/%00".into(),
        "/api/v1/funds/..%2F..%2Fetc%2Fpasswd".into(),
    ] {
        let r = app.get(&path, Some(&w.admin)).await;
        check(r.status.as_u16(), &r.text, &path);
        assert_eq!(r.status, 404, "{path}");
    }
    for (path, body) in [
        (
            format!("/api/v1/funds/{unknown}/deposits"),
            json!({"amount_cents": 100, "reference": "r"}),
        ),
        (
            format!("/api/v1/funds/{unknown}/vouchers"),
            json!({"child_id": unknown}),
        ),
        (
            format!("/api/v1/funds/{fund}/vouchers"),
            json!({"child_id": unknown}),
        ),
        (
            format!("/api/v1/vouchers/{unknown}/top-ups"),
            json!({"amount_cents": 100}),
        ),
        (format!("/api/v1/vouchers/{unknown}/block"), json!({})),
        (
            format!("/api/v1/funds/{fund}/providers/{unknown}"),
            json!({"categories": ["sport"]}),
        ),
        (format!("/api/v1/redemptions/{unknown}/reverse"), json!({})),
        (format!("/api/v1/funds/{unknown}/expire"), json!({})),
    ] {
        let r = app.post(&path, Some(&w.admin), body).await;
        check(r.status.as_u16(), &r.text, &path);
        assert_eq!(r.status, 404, "{path}: {}", r.text);
    }
    // Deposits near the limit of the integers are above the maximum per deposit.
    let big = json!({"amount_cents": 9_223_372_036_854_775_000i64, "reference": "r"});
    let r1 = app
        .post(
            &format!("/api/v1/funds/{fund}/deposits"),
            Some(&w.finance),
            big.clone(),
        )
        .await;
    let r2 = app
        .post(
            &format!("/api/v1/funds/{fund}/deposits"),
            Some(&w.finance),
            big,
        )
        .await;
    assert!(
        r1.status.as_u16() < 500 && r2.status.as_u16() < 500,
        "{} {}",
        r1.text,
        r2.text
    );
    assert_eq!(r1.status, 422, "{}", r1.text);
    assert_eq!(r1.code(), "amount_above_limit");
    assert_eq!(r2.status, 422, "{}", r2.text);
    assert!(sent > 200);
    assert_eq!(app.get("/healthz", None).await.status, 200);
    assert_eq!(app.get("/readyz", None).await.status, 200);
    app.audit().await;
    app.close().await;
}

on_both_backends!(hostile_input_gets_a_4xx_with_a_code_and_the_server_stays_healthy);
