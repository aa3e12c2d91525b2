//! Every role against every endpoint: allowed calls are never refused for lack of rights, and
//! every other call is refused (401 without a login, 403 with the wrong role), on SQLite and
//! PostgreSQL. Ownership is tested as well: a club never sees another club's redemptions and a
//! parent link opens only its own household's vouchers.

mod common;

use common::{TestApp, TestClock, id_of};
use serde_json::{Value, json};

const ROLES: [&str; 8] = [
    "anonymous",
    "admin",
    "staff",
    "finance",
    "auditor",
    "provider_manager",
    "cashier",
    "parent",
];

struct Call {
    method: &'static str,
    path: String,
    body: Option<Value>,
    allowed: &'static [&'static str],
}

async fn every_role_gets_exactly_the_endpoints_it_may_use(db: &common::TestDb) {
    let clock = TestClock::at("2026-06-01");
    let app = TestApp::with_clock(db, &clock).await;
    let w = app.world().await;
    // Separate objects for calls that end things (erasure, link renewal, expiry).
    let r = app
        .post(
            "/api/v1/households",
            Some(&w.staff),
            json!({"reference": "LG-X", "parent_name": "X",
        "children": [{"first_name": "Y", "birth_date": "2016-01-01"}]}),
        )
        .await;
    let h2 = id_of(&r);
    let r = app
        .post(
            "/api/v1/funds",
            Some(&w.admin),
            json!({"name": "F2", "sponsor": "S", "valid_from": "2026-01-01",
        "valid_until": "2026-12-31", "categories": ["sport"], "amount_per_child_cents": 100}),
        )
        .await;
    let fund2 = id_of(&r);
    let red = app.redeem(&w.token(1), &w.cashier, 100, "sport").await;
    assert_eq!(red.status, 201, "{}", red.text);
    let redemption = id_of(&red);
    let (fund, v, p, h) = (
        w.fund.clone(),
        w.voucher_id(0),
        w.provider.clone(),
        w.household.clone(),
    );
    let token = w.token(0);
    let child = w.children[0].clone();
    let calls = vec![
        Call {
            method: "POST",
            path: "/api/v1/funds".into(),
            body: Some(
                json!({"name": "F", "sponsor": "S", "valid_from": "2026-01-01", "valid_until": "2026-12-31", "categories": ["sport"], "amount_per_child_cents": 100}),
            ),
            allowed: &["admin"],
        },
        Call {
            method: "GET",
            path: format!("/api/v1/funds/{fund}"),
            body: None,
            allowed: &["admin", "staff", "finance", "auditor"],
        },
        Call {
            method: "POST",
            path: format!("/api/v1/funds/{fund}/deposits"),
            body: Some(json!({"amount_cents": 100, "reference": "r"})),
            allowed: &["admin", "finance"],
        },
        Call {
            method: "POST",
            path: "/api/v1/households".into(),
            body: Some(
                json!({"reference": "LG-Z", "parent_name": "Z", "children": [{"first_name": "Q", "birth_date": "2016-01-01"}]}),
            ),
            allowed: &["admin", "staff"],
        },
        Call {
            method: "GET",
            path: format!("/api/v1/households/{h}"),
            body: None,
            allowed: &["admin", "staff", "auditor"],
        },
        Call {
            method: "POST",
            path: format!("/api/v1/households/{h2}/parent-link"),
            body: Some(json!({})),
            allowed: &["admin", "staff"],
        },
        Call {
            method: "DELETE",
            path: format!("/api/v1/households/{h2}/personal-data"),
            body: None,
            allowed: &["admin"],
        },
        Call {
            method: "POST",
            path: format!("/api/v1/funds/{fund}/vouchers"),
            body: Some(json!({"child_id": child})),
            allowed: &["admin", "staff"],
        },
        Call {
            method: "GET",
            path: format!("/api/v1/vouchers/{v}"),
            body: None,
            allowed: &["admin", "staff", "auditor", "parent"],
        },
        Call {
            method: "GET",
            path: format!("/api/v1/vouchers/{v}/qr.svg"),
            body: None,
            allowed: &["admin", "staff", "auditor", "parent"],
        },
        Call {
            method: "GET",
            path: format!("/api/v1/vouchers/{v}/qr.png"),
            body: None,
            allowed: &["admin", "staff", "auditor", "parent"],
        },
        Call {
            method: "POST",
            path: format!("/api/v1/vouchers/{v}/top-ups"),
            body: Some(json!({"amount_cents": 100, "reason": "r"})),
            allowed: &["admin", "staff", "finance"],
        },
        Call {
            method: "POST",
            path: "/api/v1/providers".into(),
            body: Some(
                json!({"name": "P", "kvk": "12345678", "iban": "NL91ABNA0417164300", "categories": ["sport"]}),
            ),
            allowed: &["admin"],
        },
        Call {
            method: "GET",
            path: format!("/api/v1/providers/{p}"),
            body: None,
            allowed: &[
                "admin",
                "staff",
                "finance",
                "auditor",
                "provider_manager",
                "cashier",
            ],
        },
        Call {
            method: "POST",
            path: format!("/api/v1/funds/{fund}/providers/{p}"),
            body: Some(json!({"categories": ["sport"]})),
            allowed: &["admin"],
        },
        Call {
            method: "POST",
            path: "/api/v1/vouchers/lookup".into(),
            body: Some(json!({"token": token})),
            allowed: &["provider_manager", "cashier"],
        },
        Call {
            method: "POST",
            path: "/api/v1/redemptions".into(),
            body: Some(
                json!({"token": token, "amount_cents": 1, "category": "sport", "description": "d"}),
            ),
            allowed: &["provider_manager", "cashier"],
        },
        Call {
            method: "POST",
            path: format!("/api/v1/funds/{fund}/direct-payments"),
            body: Some(
                json!({"child_id": child, "provider_id": p, "amount_cents": 1, "category": "sport"}),
            ),
            allowed: &["admin", "finance"],
        },
        Call {
            method: "POST",
            path: format!("/api/v1/redemptions/{redemption}/reverse"),
            body: Some(json!({"reason": "r"})),
            allowed: &["admin", "staff", "provider_manager"],
        },
        Call {
            method: "POST",
            path: format!("/api/v1/vouchers/{v}/block"),
            body: Some(json!({"reason": "r"})),
            allowed: &["admin", "staff"],
        },
        Call {
            method: "POST",
            path: format!("/api/v1/vouchers/{v}/reissue"),
            body: None,
            allowed: &["admin", "staff"],
        },
        Call {
            method: "POST",
            path: format!("/api/v1/funds/{fund2}/expire"),
            body: None,
            allowed: &["admin"],
        },
    ];
    let tokens: Vec<(&str, Option<String>)> = vec![
        ("anonymous", None),
        ("admin", Some(w.admin.clone())),
        ("staff", Some(w.staff.clone())),
        ("finance", Some(w.finance.clone())),
        ("auditor", Some(w.auditor.clone())),
        ("provider_manager", Some(w.manager.clone())),
        ("cashier", Some(w.cashier.clone())),
        ("parent", Some(w.link_token())),
    ];
    assert_eq!(tokens.len(), ROLES.len());
    let mut checked = 0;
    for call in &calls {
        // Refused roles first, so that state-changing allowed calls come after them.
        let mut order: Vec<&(&str, Option<String>)> = tokens
            .iter()
            .filter(|(r, _)| !call.allowed.contains(r))
            .collect();
        order.extend(tokens.iter().filter(|(r, _)| call.allowed.contains(r)));
        for (role, token) in order {
            let mut b = axum::http::Request::builder()
                .method(call.method)
                .uri(&call.path);
            if let Some(t) = token {
                b = b.header("authorization", format!("Bearer {t}"));
            }
            if call.path.ends_with("/redemptions") {
                b = b.header("idempotency-key", uuid::Uuid::new_v4().to_string());
            }
            let req = match &call.body {
                Some(body) => b
                    .header("content-type", "application/json")
                    .body(axum::body::Body::from(body.to_string())),
                None => b.body(axum::body::Body::empty()),
            }
            .unwrap();
            let r = app.send(req).await;
            let status = r.status.as_u16();
            assert!(
                status < 500,
                "{role} {} {}: {status} {}",
                call.method,
                call.path,
                r.text
            );
            if call.allowed.contains(role) {
                assert!(
                    status != 401 && status != 403,
                    "{role} may {} {} but got {status}: {}",
                    call.method,
                    call.path,
                    r.text
                );
            } else if *role == "anonymous" || *role == "parent" {
                assert_eq!(
                    status, 401,
                    "{role} {} {}: {}",
                    call.method, call.path, r.text
                );
            } else {
                assert_eq!(
                    status, 403,
                    "{role} {} {}: {}",
                    call.method, call.path, r.text
                );
                assert_eq!(r.code(), "forbidden");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, calls.len() * ROLES.len());
    app.close().await;
}

async fn clubs_and_parents_see_only_what_is_theirs(db: &common::TestDb) {
    let clock = TestClock::at("2026-06-01");
    let app = TestApp::with_clock(db, &clock).await;
    let w = app.world().await;
    // A redemption by the music school…
    let red = app
        .redeem(&w.token(0), &w.other_cashier, 100, "cultuur")
        .await;
    assert_eq!(red.status, 201, "{}", red.text);
    let rid = id_of(&red);
    // …cannot be reversed by the football club's manager: it does not exist for them.
    let r = app
        .post(
            &format!("/api/v1/redemptions/{rid}/reverse"),
            Some(&w.manager),
            json!({"reason": "x"}),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (404, "unknown_redemption")
    );
    // Provider users see their own provider only.
    let r = app
        .get(
            &format!("/api/v1/providers/{}", w.other_provider),
            Some(&w.cashier),
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(
        app.get(
            &format!("/api/v1/providers/{}", w.provider),
            Some(&w.cashier)
        )
        .await
        .status,
        200
    );
    // Cashiers cannot read vouchers directly, only scan them.
    assert_eq!(
        app.get(
            &format!("/api/v1/vouchers/{}", w.voucher_id(0)),
            Some(&w.cashier)
        )
        .await
        .status,
        403
    );
    app.close().await;
}

on_both_backends!(
    every_role_gets_exactly_the_endpoints_it_may_use,
    clubs_and_parents_see_only_what_is_theirs,
);
