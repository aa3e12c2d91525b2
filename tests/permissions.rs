//! Every role against every endpoint: allowed calls are never refused for lack of rights, and
//! every other call is refused (401 without a login, 403 with the wrong role), on SQLite and
//! PostgreSQL. Ownership is tested as well: a club never sees another club's redemptions and a
//! parent link opens only its own household's vouchers.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failing test

mod common;

use common::{TestApp, TestClock, id_of};
use kindpakket::service::error::{FieldIssue, Invalid, Unauthenticated};
use kindpakket::service::{Actor, Error, Input};
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

/// Who may do what: the one matrix that both tests check, over HTTP and on the use cases.
static MATRIX: &[(&str, &[&str])] = &[
    ("create fund", &["admin"]),
    ("view fund", &["admin", "staff", "finance", "auditor"]),
    ("deposit", &["admin", "finance"]),
    ("correct deposit", &["admin", "finance"]),
    ("create household", &["admin", "staff"]),
    ("view household", &["admin", "staff", "auditor"]),
    ("renew parent link", &["admin", "staff"]),
    ("erase personal data", &["admin"]),
    ("issue voucher", &["admin", "staff"]),
    ("view voucher", &["admin", "staff", "auditor", "parent"]),
    ("voucher QR code", &["admin", "staff", "parent"]),
    ("top up", &["admin", "staff", "finance"]),
    ("create provider", &["admin"]),
    (
        "view provider",
        &[
            "admin",
            "staff",
            "finance",
            "auditor",
            "provider_manager",
            "cashier",
        ],
    ),
    ("approve provider", &["admin"]),
    ("look up a token", &["provider_manager", "cashier"]),
    ("redeem", &["provider_manager", "cashier"]),
    ("direct payment", &["admin", "finance"]),
    ("reverse", &["admin", "staff", "provider_manager"]),
    ("block", &["admin", "staff"]),
    ("reissue", &["admin", "staff"]),
    ("expire fund", &["admin"]),
];

fn allowed(name: &str) -> &'static [&'static str] {
    MATRIX
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, a)| *a)
        .unwrap_or_else(|| panic!("{name} is not in the matrix"))
}

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
            allowed: allowed("create fund"),
        },
        Call {
            method: "GET",
            path: format!("/api/v1/funds/{fund}"),
            body: None,
            allowed: allowed("view fund"),
        },
        Call {
            method: "POST",
            path: format!("/api/v1/funds/{fund}/deposits"),
            body: Some(json!({"amount_cents": 100, "reference": "r"})),
            allowed: allowed("deposit"),
        },
        Call {
            method: "POST",
            path: format!("/api/v1/funds/{fund}/deposit-corrections"),
            body: Some(json!({"deposit_entry_index": 0, "amount_cents": 1, "reason": "r"})),
            allowed: allowed("correct deposit"),
        },
        Call {
            method: "POST",
            path: "/api/v1/households".into(),
            body: Some(
                json!({"reference": "LG-Z", "parent_name": "Z", "children": [{"first_name": "Q", "birth_date": "2016-01-01"}]}),
            ),
            allowed: allowed("create household"),
        },
        Call {
            method: "GET",
            path: format!("/api/v1/households/{h}"),
            body: None,
            allowed: allowed("view household"),
        },
        Call {
            method: "POST",
            path: format!("/api/v1/households/{h2}/parent-link"),
            body: Some(json!({})),
            allowed: allowed("renew parent link"),
        },
        Call {
            method: "DELETE",
            path: format!("/api/v1/households/{h2}/personal-data"),
            body: None,
            allowed: allowed("erase personal data"),
        },
        Call {
            method: "POST",
            path: format!("/api/v1/funds/{fund}/vouchers"),
            body: Some(json!({"child_id": child})),
            allowed: allowed("issue voucher"),
        },
        Call {
            method: "GET",
            path: format!("/api/v1/vouchers/{v}"),
            body: None,
            allowed: allowed("view voucher"),
        },
        Call {
            method: "GET",
            path: format!("/api/v1/vouchers/{v}/qr.svg"),
            body: None,
            allowed: allowed("voucher QR code"),
        },
        Call {
            method: "GET",
            path: format!("/api/v1/vouchers/{v}/qr.png"),
            body: None,
            allowed: allowed("voucher QR code"),
        },
        Call {
            method: "POST",
            path: format!("/api/v1/vouchers/{v}/top-ups"),
            body: Some(json!({"amount_cents": 100, "reason": "r"})),
            allowed: allowed("top up"),
        },
        Call {
            method: "POST",
            path: "/api/v1/providers".into(),
            body: Some(
                json!({"name": "P", "kvk": "12345678", "iban": "NL91ABNA0417164300", "categories": ["sport"]}),
            ),
            allowed: allowed("create provider"),
        },
        Call {
            method: "GET",
            path: format!("/api/v1/providers/{p}"),
            body: None,
            allowed: allowed("view provider"),
        },
        Call {
            method: "POST",
            path: format!("/api/v1/funds/{fund}/providers/{p}"),
            body: Some(json!({"categories": ["sport"]})),
            allowed: allowed("approve provider"),
        },
        Call {
            method: "POST",
            path: "/api/v1/vouchers/lookup".into(),
            body: Some(json!({"token": token})),
            allowed: allowed("look up a token"),
        },
        Call {
            method: "POST",
            path: "/api/v1/redemptions".into(),
            body: Some(
                json!({"token": token, "amount_cents": 1, "category": "sport", "description": "d"}),
            ),
            allowed: allowed("redeem"),
        },
        Call {
            method: "POST",
            path: format!("/api/v1/funds/{fund}/direct-payments"),
            body: Some(
                json!({"child_id": child, "provider_id": p, "amount_cents": 1, "category": "sport"}),
            ),
            allowed: allowed("direct payment"),
        },
        Call {
            method: "POST",
            path: format!("/api/v1/redemptions/{redemption}/reverse"),
            body: Some(json!({"reason": "r"})),
            allowed: allowed("reverse"),
        },
        Call {
            method: "POST",
            path: format!("/api/v1/vouchers/{v}/block"),
            body: Some(json!({"reason": "r"})),
            allowed: allowed("block"),
        },
        Call {
            method: "POST",
            path: format!("/api/v1/vouchers/{v}/reissue"),
            body: None,
            allowed: allowed("reissue"),
        },
        Call {
            method: "POST",
            path: format!("/api/v1/funds/{fund2}/expire"),
            body: None,
            allowed: allowed("expire fund"),
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
    let covered = MATRIX
        .iter()
        .filter(|(_, a)| calls.iter().any(|c| std::ptr::eq(c.allowed, *a)))
        .count();
    assert_eq!(
        covered,
        MATRIX.len(),
        "every line of the matrix has an endpoint"
    );
    let mut checked = 0;
    for call in &calls {
        // Refused roles first, so that state-changing allowed calls come after them.
        let mut order: Vec<&(&str, Option<String>)> = tokens
            .iter()
            .filter(|(r, _)| !call.allowed.contains(r))
            .collect();
        order.extend(tokens.iter().filter(|(r, _)| call.allowed.contains(r)));
        for (role, token) in order {
            // Invalid bodies first (a field the endpoint does not know, something that is not
            // JSON, no JSON content type): who may not use the endpoint learns nothing of its
            // shape, and gets 401 or 403 whatever it sends.
            let mut bodies: Vec<(&str, Option<String>)> = Vec::new();
            // (An endpoint that takes no body, sent `{}` here, has no shape to hide.)
            if call.body.as_ref().is_some_and(|b| b != &json!({})) {
                bodies.push(("application/json", Some(json!({"name": "x"}).to_string())));
                bodies.push(("application/json", Some("{not json".into())));
                bodies.push(("text/plain", Some("x".into())));
            }
            bodies.push(("application/json", call.body.as_ref().map(Value::to_string)));
            let valid = bodies.len() - 1;
            for (n, (content_type, body)) in bodies.into_iter().enumerate() {
                let mut b = axum::http::Request::builder()
                    .method(call.method)
                    .uri(&call.path);
                if let Some(t) = token {
                    b = b.header("authorization", format!("Bearer {t}"));
                }
                if call.path.ends_with("/redemptions") {
                    b = b.header("idempotency-key", uuid::Uuid::new_v4().to_string());
                }
                let req = match body {
                    Some(body) => b
                        .header("content-type", content_type)
                        .body(axum::body::Body::from(body)),
                    None => b.body(axum::body::Body::empty()),
                }
                .unwrap();
                let r = app.send(req).await;
                let status = r.status.as_u16();
                if n < valid {
                    if call.allowed.contains(role) {
                        assert!(
                            matches!(status, 400 | 415),
                            "{role} {} {} with an invalid body: {status} {}",
                            call.method,
                            call.path,
                            r.text
                        );
                    } else {
                        let want = if *role == "anonymous" || *role == "parent" {
                            401
                        } else {
                            403
                        };
                        assert_eq!(
                            status, want,
                            "{role} {} {} with an invalid body: {}",
                            call.method, call.path, r.text
                        );
                    }
                    continue;
                }
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

type Outcome = Result<(), Error>;
type Call2 = Box<
    dyn Fn(Actor, bool) -> std::pin::Pin<Box<dyn std::future::Future<Output = Outcome> + Send>>
        + Send
        + Sync,
>;

/// A use case called directly, with a valid or an invalid request.
macro_rules! use_case {
    (|$actor:ident, $valid:ident| $body:expr) => {{
        let call: Call2 = Box::new(move |$actor: Actor, $valid: bool| Box::pin($body));
        call
    }};
}

fn input<T>(valid: bool, value: T) -> Input<T> {
    if valid {
        Input::new(value)
    } else {
        Input::invalid(Error::Invalid(Invalid::Body {
            issue: FieldIssue::Missing("name".into()),
            detail: "missing field `name`".into(),
        }))
    }
}

/// The same matrix as the HTTP test, asked of the use cases themselves (no HTTP): every role
/// may call exactly what the endpoints allow it, with a valid and with an invalid request, and
/// an invalid request is refused for who asks before it is refused for what it says.
async fn every_use_case_allows_exactly_the_roles_the_http_matrix_allows(db: &common::TestDb) {
    use kindpakket::service::{funds, households, providers, redemptions, sessions, vouchers};
    let clock = TestClock::at("2026-06-01");
    let app = TestApp::with_clock(db, &clock).await;
    let w = app.world().await;
    let svc = app.state.services.clone();
    let red = app.redeem(&w.token(1), &w.cashier, 100, "sport").await;
    assert_eq!(red.status, 201, "{}", red.text);
    let uuid = |s: &str| uuid::Uuid::parse_str(s).unwrap();
    let redemption = uuid(&id_of(&red));
    let (fund, v, p, h) = (
        uuid(&w.fund),
        uuid(&w.voucher_id(0)),
        uuid(&w.provider),
        uuid(&w.household),
    );
    let child = uuid(&w.children[0]);
    let token = w.token(0);
    let r = app
        .post(
            "/api/v1/households",
            Some(&w.staff),
            json!({"reference": "LG-X2", "parent_name": "X",
        "children": [{"first_name": "Y", "birth_date": "2016-01-01"}]}),
        )
        .await;
    let h2 = uuid(&id_of(&r));
    let r = app
        .post(
            "/api/v1/funds",
            Some(&w.admin),
            json!({"name": "F2", "sponsor": "S", "valid_from": "2026-01-01",
        "valid_until": "2026-12-31", "categories": ["sport"], "amount_per_child_cents": 100}),
        )
        .await;
    let fund2 = uuid(&id_of(&r));
    let new_fund = || funds::NewFund {
        name: "F".into(),
        sponsor: "S".into(),
        valid_from: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        valid_until: chrono::NaiveDate::from_ymd_opt(2026, 12, 31).unwrap(),
        categories: vec!["sport".into()],
        amount_per_child_cents: 100,
        max_age_years: None,
        pooling: None,
    };
    let s = svc.clone();
    let mut calls: Vec<(&str, &[&str], Call2)> = Vec::new();
    calls.push(("create fund", allowed("create fund"), {
        let s = s.clone();
        use_case!(|a, ok| {
            let s = s.clone();
            async move { funds::create(&s, &a, input(ok, new_fund())).await.map(drop) }
        })
    }));
    calls.push(("view fund", allowed("view fund"), {
        let s = s.clone();
        use_case!(|a, _ok| {
            let s = s.clone();
            async move { funds::view(&s, &a, fund).await.map(drop) }
        })
    }));
    calls.push(("deposit", allowed("deposit"), {
        let s = s.clone();
        use_case!(|a, ok| {
            let s = s.clone();
            async move {
                let d = funds::Deposit {
                    amount_cents: 100,
                    reference: "r".into(),
                };
                funds::deposit(&s, &a, fund, None, input(ok, d))
                    .await
                    .map(drop)
            }
        })
    }));
    calls.push(("correct deposit", allowed("correct deposit"), {
        let s = s.clone();
        use_case!(|a, ok| {
            let s = s.clone();
            async move {
                let d = funds::DepositCorrection {
                    deposit_entry_index: 0,
                    amount_cents: 1,
                    reason: "r".into(),
                };
                funds::correct_deposit(&s, &a, fund, None, input(ok, d))
                    .await
                    .map(drop)
            }
        })
    }));
    calls.push(("create household", allowed("create household"), {
        let s = s.clone();
        use_case!(|a, ok| {
            let s = s.clone();
            async move {
                let hh = households::NewHousehold {
                    reference: format!("LG-{}", uuid::Uuid::new_v4()),
                    parent_name: "Z".into(),
                    email: None,
                    phone: None,
                    children: vec![households::NewChild {
                        first_name: "Q".into(),
                        birth_date: chrono::NaiveDate::from_ymd_opt(2016, 1, 1).unwrap(),
                    }],
                };
                households::create(&s, &a, input(ok, hh)).await.map(drop)
            }
        })
    }));
    calls.push(("view household", allowed("view household"), {
        let s = s.clone();
        use_case!(|a, _ok| {
            let s = s.clone();
            async move { households::view(&s, &a, h).await.map(drop) }
        })
    }));
    calls.push(("renew parent link", allowed("renew parent link"), {
        let s = s.clone();
        use_case!(|a, _ok| {
            let s = s.clone();
            async move { households::renew_link(&s, &a, h2).await.map(drop) }
        })
    }));
    calls.push(("erase personal data", allowed("erase personal data"), {
        let s = s.clone();
        use_case!(|a, _ok| {
            let s = s.clone();
            async move { households::erase_personal_data(&s, &a, h2).await }
        })
    }));
    calls.push(("issue voucher", allowed("issue voucher"), {
        let s = s.clone();
        use_case!(|a, ok| {
            let s = s.clone();
            async move {
                let req = vouchers::issue::IssueRequest {
                    child_id: Some(child),
                    household_id: None,
                    amount_cents: None,
                };
                vouchers::issue(&s, &a, fund, None, input(ok, req))
                    .await
                    .map(drop)
            }
        })
    }));
    calls.push(("view voucher", allowed("view voucher"), {
        let s = s.clone();
        use_case!(|a, _ok| {
            let s = s.clone();
            async move { vouchers::view(&s, &a, v).await.map(drop) }
        })
    }));
    calls.push(("voucher QR code", allowed("voucher QR code"), {
        let s = s.clone();
        use_case!(|a, _ok| {
            let s = s.clone();
            async move { vouchers::current_token(&s, &a, v).await.map(drop) }
        })
    }));
    calls.push(("top up", allowed("top up"), {
        let s = s.clone();
        use_case!(|a, ok| {
            let s = s.clone();
            async move {
                let t = vouchers::TopUp {
                    amount_cents: 100,
                    reason: "r".into(),
                };
                vouchers::top_up(&s, &a, v, None, input(ok, t))
                    .await
                    .map(drop)
            }
        })
    }));
    calls.push(("create provider", allowed("create provider"), {
        let s = s.clone();
        use_case!(|a, ok| {
            let s = s.clone();
            async move {
                let np = providers::NewProvider {
                    name: "P".into(),
                    kvk: "12345678".into(),
                    iban: "NL91ABNA0417164300".into(),
                    categories: vec!["sport".into()],
                };
                providers::create(&s, &a, input(ok, np)).await.map(drop)
            }
        })
    }));
    calls.push(("view provider", allowed("view provider"), {
        let s = s.clone();
        use_case!(|a, _ok| {
            let s = s.clone();
            async move { providers::get(&s, &a, p).await.map(drop) }
        })
    }));
    calls.push(("approve provider", allowed("approve provider"), {
        let s = s.clone();
        use_case!(|a, ok| {
            let s = s.clone();
            async move {
                funds::approve_provider(&s, &a, fund, p, input(ok, vec!["sport".to_owned()]))
                    .await
                    .map(drop)
            }
        })
    }));
    calls.push(("look up a token", allowed("look up a token"), {
        let (s, token) = (s.clone(), token.clone());
        use_case!(|a, ok| {
            let (s, token) = (s.clone(), token.clone());
            async move { vouchers::lookup(&s, &a, input(ok, token)).await.map(drop) }
        })
    }));
    calls.push(("redeem", allowed("redeem"), {
        let (s, token) = (s.clone(), token.clone());
        use_case!(|a, ok| {
            let (s, token) = (s.clone(), token.clone());
            async move {
                let r = redemptions::Redemption {
                    token,
                    amount_cents: 1,
                    category: "sport".into(),
                    description: Some("d".into()),
                };
                let key = uuid::Uuid::new_v4().to_string();
                redemptions::redeem(&s, &a, Some(&key), input(ok, r))
                    .await
                    .map(drop)
            }
        })
    }));
    calls.push(("direct payment", allowed("direct payment"), {
        let s = s.clone();
        use_case!(|a, ok| {
            let s = s.clone();
            async move {
                let d = redemptions::DirectPayment {
                    child_id: child,
                    provider_id: p,
                    amount_cents: 1,
                    category: "sport".into(),
                    description: None,
                };
                redemptions::direct_payment(&s, &a, fund, None, input(ok, d))
                    .await
                    .map(drop)
            }
        })
    }));
    calls.push(("reverse", allowed("reverse"), {
        let s = s.clone();
        use_case!(|a, ok| {
            let s = s.clone();
            async move {
                let r = redemptions::Reverse { reason: "r".into() };
                redemptions::reverse(&s, &a, redemption, input(ok, r))
                    .await
                    .map(drop)
            }
        })
    }));
    calls.push(("block", allowed("block"), {
        let s = s.clone();
        use_case!(|a, ok| {
            let s = s.clone();
            async move {
                let b = vouchers::Block { reason: "r".into() };
                vouchers::block(&s, &a, v, input(ok, b)).await.map(drop)
            }
        })
    }));
    calls.push(("reissue", allowed("reissue"), {
        let s = s.clone();
        use_case!(|a, _ok| {
            let s = s.clone();
            async move { vouchers::reissue(&s, &a, v).await.map(drop) }
        })
    }));
    calls.push(("expire fund", allowed("expire fund"), {
        let s = s.clone();
        use_case!(|a, _ok| {
            let s = s.clone();
            async move { funds::expire(&s, &a, fund2).await.map(drop) }
        })
    }));
    let mut actors: Vec<(&str, Actor)> = vec![("anonymous", Actor::Anonymous)];
    for (role, token) in [
        ("admin", &w.admin),
        ("staff", &w.staff),
        ("finance", &w.finance),
        ("auditor", &w.auditor),
        ("provider_manager", &w.manager),
        ("cashier", &w.cashier),
        ("parent", &w.link_token()),
    ] {
        let actor = sessions::authenticate(&svc, Some(token)).await.unwrap();
        assert!(!matches!(actor, Actor::Anonymous), "{role}");
        actors.push((role, actor));
    }
    assert_eq!(actors.len(), ROLES.len());
    let refused = |r: &Outcome| {
        matches!(
            r,
            Err(Error::Forbidden | Error::Unauthenticated(Unauthenticated::NotLoggedIn))
        )
    };
    // Every line of the matrix is asked, once.
    let mut asked: Vec<&str> = calls.iter().map(|(n, _, _)| *n).collect();
    asked.sort_unstable();
    let mut all: Vec<&str> = MATRIX.iter().map(|(n, _)| *n).collect();
    all.sort_unstable();
    assert_eq!(asked, all);
    // The use cases that read a request (the others have nothing to be invalid).
    let takes_input = [
        "create fund",
        "deposit",
        "correct deposit",
        "create household",
        "issue voucher",
        "top up",
        "create provider",
        "approve provider",
        "look up a token",
        "redeem",
        "direct payment",
        "reverse",
        "block",
    ];
    let mut checked = 0;
    for (name, allowed, call) in &calls {
        let mut order: Vec<&(&str, Actor)> = actors
            .iter()
            .filter(|(r, _)| !allowed.contains(r))
            .collect();
        order.extend(actors.iter().filter(|(r, _)| allowed.contains(r)));
        for (role, actor) in order {
            // An invalid request first: it must not change who is refused.
            let bad = call(*actor, false).await;
            let good = call(*actor, true).await;
            if allowed.contains(role) {
                // Allowed: the invalid request is refused for what it says, never for who
                // asks, and neither answer is a failure of ours.
                assert!(
                    !refused(&bad),
                    "{role} may {name}, invalid request: {bad:?}"
                );
                assert!(!refused(&good), "{role} may {name}: {good:?}");
                for r in [&bad, &good] {
                    assert!(
                        !matches!(r, Err(Error::Internal(_) | Error::Unavailable(_))),
                        "{role} {name}: {r:?}"
                    );
                }
                if takes_input.contains(name) {
                    assert!(
                        matches!(bad, Err(Error::Invalid(_))),
                        "{role} {name}, invalid request: {bad:?}"
                    );
                }
            } else {
                let want_401 = *role == "anonymous" || *role == "parent";
                for (what, r) in [("invalid", &bad), ("valid", &good)] {
                    match r {
                        Err(Error::Unauthenticated(Unauthenticated::NotLoggedIn)) if want_401 => {}
                        Err(Error::Forbidden) if !want_401 => {}
                        other => panic!("{role} may not {name} ({what} request): {other:?}"),
                    }
                }
            }
            checked += 1;
        }
    }
    assert_eq!(checked, calls.len() * ROLES.len());
    app.close().await;
}

on_both_backends!(
    every_role_gets_exactly_the_endpoints_it_may_use,
    clubs_and_parents_see_only_what_is_theirs,
    every_use_case_allows_exactly_the_roles_the_http_matrix_allows,
);
