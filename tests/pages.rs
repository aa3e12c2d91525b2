//! The web pages at the HTTP level, on SQLite and PostgreSQL: their headers and cookies, the
//! CSRF protection of every form, one club never seeing another's payments, a payment form
//! sent twice booking once, and Leergeld's bulk actions. (The same pages are driven in a real
//! browser by tests/browser/run.mjs.)
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failing test

mod common;

use axum::body::Body;
use axum::http::Request;
use common::{Resp, TestApp};

/// The first value of a hidden field in a page.
fn field(html: &str, name: &str) -> String {
    let re = regex::Regex::new(&format!(r#"name="{name}" value="([^"]*)""#)).unwrap();
    re.captures(html)
        .unwrap_or_else(|| panic!("no field {name} in {html}"))[1]
        .to_owned()
}

fn set_cookie(r: &Resp, name: &str) -> Option<String> {
    r.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

fn cookie_value(set: &str) -> String {
    set.split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_owned()
}

async fn page(app: &TestApp, path: &str, session: Option<&str>) -> Resp {
    let mut b = Request::get(path);
    if let Some(s) = session {
        b = b.header("cookie", format!("kp_sessie={s}"));
    }
    app.send(b.body(Body::empty()).unwrap()).await
}

fn encode(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| {
            let e: String = v
                .bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect();
            format!("{k}={e}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

async fn form(
    app: &TestApp,
    path: &str,
    cookie: Option<&str>,
    origin: Option<&str>,
    fields: &[(&str, &str)],
) -> Resp {
    let mut b = Request::post(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("host", "kindpakket.test");
    if let Some(c) = cookie {
        b = b.header("cookie", c);
    }
    if let Some(o) = origin {
        b = b.header("origin", o);
    }
    app.send(b.body(Body::from(encode(fields))).unwrap()).await
}

/// Logs in through the page; returns the session cookie's `Set-Cookie`.
async fn page_log_in(app: &TestApp, name: &str, password: &str) -> String {
    let r = page(app, "/inloggen", None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let form_cookie = cookie_value(&set_cookie(&r, "kp_formulier").expect("a form cookie"));
    let csrf = field(&r.text, "csrf_token");
    let r = form(
        app,
        "/inloggen",
        Some(&format!("kp_formulier={form_cookie}")),
        Some("http://kindpakket.test"),
        &[
            ("csrf_token", &csrf),
            ("username", name),
            ("password", password),
        ],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.text);
    set_cookie(&r, "kp_sessie").expect("a session cookie")
}

async fn pages_are_dutch_html_with_strict_headers(db: &common::TestDb) {
    let app = TestApp::new(db).await;
    for path in ["/", "/toegankelijkheid", "/inloggen"] {
        let r = page(&app, path, None).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        assert!(r.text.contains("<html lang=\"nl\""), "{path}");
        let csp = r.headers["content-security-policy"].to_str().unwrap();
        assert!(
            !csp.contains("unsafe-inline") && csp.contains("script-src 'self'"),
            "{csp}"
        );
        assert_eq!(r.headers["referrer-policy"], "same-origin", "{path}");
        assert!(
            r.text.contains("0594 - 00 00 00"),
            "{path}: contact in the footer"
        );
        // Nothing inline that the policy would block.
        assert!(
            !r.text.contains("<script>") && !r.text.contains("style=\""),
            "{path}"
        );
    }
    let r = page(&app, "/bestaat-niet", None).await;
    assert_eq!(r.status, 404);
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(r.text.contains("Deze pagina bestaat niet"), "{}", r.text);
    let r = app.get("/api/v1/bestaat-niet", None).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.code(), "not_found", "programs still get JSON");
    // A page that needs a log-in sends the visitor to it, and back after.
    let r = page(&app, "/kassa", None).await;
    assert_eq!(r.status, 303);
    assert_eq!(r.headers["location"], "/inloggen?terug=/kassa");
    app.close().await;
}

on_both_backends!(pages_are_dutch_html_with_strict_headers);

async fn log_in_needs_the_form_cookie_and_its_token(db: &common::TestDb) {
    let app = TestApp::new(db).await;
    let password = app
        .user("kassa-1", "cashier", Some(provider(&app).await))
        .await;
    let staff_password = app.user("medewerker", "staff", None).await;
    let r = page(&app, "/inloggen", None).await;
    let set = set_cookie(&r, "kp_formulier").unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    let form_cookie = format!("kp_formulier={}", cookie_value(&set));
    let csrf = field(&r.text, "csrf_token");
    let fields = [
        ("csrf_token", csrf.as_str()),
        ("username", "kassa-1"),
        ("password", password.as_str()),
    ];
    // Without the cookie, with another token, or from another site: refused, nothing opened.
    for (cookie, origin, token) in [
        (None, None, csrf.as_str()),
        (Some(form_cookie.as_str()), None, "een-ander-token"),
        (
            Some(form_cookie.as_str()),
            Some("https://evil.example"),
            csrf.as_str(),
        ),
        (Some(form_cookie.as_str()), Some("null"), csrf.as_str()),
    ] {
        let mut f = fields;
        f[0].1 = token;
        let r = form(&app, "/inloggen", cookie, origin, &f).await;
        assert_eq!(r.status, 403, "{cookie:?} {origin:?} {token}: {}", r.text);
        assert!(set_cookie(&r, "kp_sessie").is_none());
        assert!(r.text.contains("Het formulier was verlopen"), "{}", r.text);
    }
    // A wrong password is said plainly, on the page, with 401.
    let mut f = fields;
    f[2].1 = "fout-fout-fout";
    let r = form(&app, "/inloggen", Some(&form_cookie), None, &f).await;
    assert_eq!(r.status, 401);
    assert!(r.text.contains("klopt niet"), "{}", r.text);
    // The right one: a cashier stays logged in for the season, staff for a working day.
    let r = form(
        &app,
        "/inloggen",
        Some(&form_cookie),
        Some("http://kindpakket.test"),
        &fields,
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(r.headers["location"], "/kassa");
    let session = set_cookie(&r, "kp_sessie").unwrap();
    assert!(
        session.contains("HttpOnly") && session.contains("SameSite=Lax"),
        "{session}"
    );
    assert!(
        !session.contains("Secure"),
        "plain HTTP in this test: {session}"
    );
    let max_age: i64 = session
        .split("Max-Age=")
        .nth(1)
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        max_age > 170 * 86_400,
        "a cashier's session lasts the season: {max_age}"
    );
    let staff = page_log_in(&app, "medewerker", &staff_password).await;
    let max_age: i64 = staff
        .split("Max-Age=")
        .nth(1)
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(max_age <= 12 * 3600, "staff: {max_age}");
    // Log-out everywhere ends the cashier's session on every phone.
    let s = cookie_value(&session);
    let k = page(&app, "/kassa", Some(&s)).await;
    assert_eq!(k.status, 200, "{}", k.text);
    let csrf = field(&k.text, "csrf_token");
    let r = form(
        &app,
        "/uitloggen",
        Some(&format!("kp_sessie={s}")),
        None,
        &[("csrf_token", &csrf), ("overal", "1")],
    )
    .await;
    assert_eq!(r.status, 303);
    assert_eq!(
        page(&app, "/kassa", Some(&s)).await.status,
        303,
        "logged out"
    );
    app.close().await;
}

on_both_backends!(log_in_needs_the_form_cookie_and_its_token);

async fn provider(app: &TestApp) -> uuid::Uuid {
    let admin = app.login_as("beheer-p", "admin", None).await;
    let r = app
        .post(
            "/api/v1/providers",
            Some(&admin),
            serde_json::json!({"name": "Club", "kvk": "40000009", "iban": "NL91ABNA0417164300", "categories": ["sport"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    uuid::Uuid::parse_str(r.json()["id"].as_str().unwrap()).unwrap()
}

async fn secure_cookies_over_https(db: &common::TestDb) {
    let config = kindpakket::http::HttpConfig {
        secure_cookies: true,
        ..Default::default()
    };
    let app = TestApp::with_settings(db, Default::default(), config).await;
    let r = page(&app, "/inloggen", None).await;
    assert!(set_cookie(&r, "kp_formulier").unwrap().contains("; Secure"));
    let password = app.user("medewerker", "staff", None).await;
    let session = page_log_in(&app, "medewerker", &password).await;
    assert!(session.contains("; Secure"), "{session}");
    app.close().await;
}

on_both_backends!(secure_cookies_over_https);

/// Pays at the kassa through the pages: check, amount, confirm. Returns the confirm form's
/// fields and the receipt's address.
async fn pay(
    app: &TestApp,
    session: &str,
    token: &str,
    amount: &str,
) -> (Vec<(String, String)>, Resp) {
    let cookie = format!("kp_sessie={session}");
    let k = page(app, "/kassa", Some(session)).await;
    let csrf = field(&k.text, "csrf_token");
    let r = form(
        app,
        "/kassa",
        Some(&cookie),
        None,
        &[("csrf_token", &csrf), ("token", token)],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("kp-result--ok"), "{}", r.text);
    let key = field(&r.text, "idempotency_key");
    let r = form(
        app,
        "/kassa/bedrag",
        Some(&cookie),
        None,
        &[
            ("csrf_token", &csrf),
            ("token", token),
            ("amount", amount),
            ("category", "sport"),
            ("idempotency_key", &key),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let fields: Vec<(String, String)> = [
        "csrf_token",
        "token",
        "amount_cents",
        "category",
        "idempotency_key",
    ]
    .iter()
    .map(|n| ((*n).to_owned(), field(&r.text, n)))
    .collect();
    let f: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let paid = form(app, "/kassa/betaal", Some(&cookie), None, &f).await;
    (fields, paid)
}

async fn balance(app: &TestApp, staff: &str, voucher: &str) -> i64 {
    app.get(&format!("/api/v1/vouchers/{voucher}"), Some(staff))
        .await
        .json()["balance_cents"]
        .as_i64()
        .unwrap()
}

async fn the_kassa_books_a_payment_once_and_only_for_its_club(db: &common::TestDb) {
    let app = TestApp::new(db).await;
    let w = app.world().await;
    let before = balance(&app, &w.staff, &w.voucher_id(0)).await;
    // A typed code in lower case with spaces is tidied; 12.50 with a dot is € 12,50.
    let typed = w.token(0).to_lowercase().replace(':', ": ");
    let (fields, paid) = pay(&app, &w.cashier, &typed, "12.50").await;
    assert_eq!(paid.status, 303, "{}", paid.text);
    let receipt = paid.headers["location"].to_str().unwrap().to_owned();
    assert!(receipt.starts_with("/kassa/bon/"), "{receipt}");
    // The same confirm form again (a double tap, back and submit, a retry): the same receipt.
    let f: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let cookie = format!("kp_sessie={}", w.cashier);
    let again = form(&app, "/kassa/betaal", Some(&cookie), None, &f).await;
    assert_eq!(again.status, 303);
    assert_eq!(again.headers["location"].to_str().unwrap(), receipt);
    assert_eq!(
        balance(&app, &w.staff, &w.voucher_id(0)).await,
        before - 1250,
        "booked once"
    );
    let r = page(&app, &receipt, Some(&w.cashier)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.text.contains("€ 12,50")
            && r.text.contains(&format!(
                "{}",
                kindpakket::core::money::Cents(before - 1250)
            )),
        "{}",
        r.text
    );
    let proof = page(&app, &format!("{receipt}/bewijs"), Some(&w.cashier)).await;
    assert!(
        proof.text.starts_with("c2sp.org/tlog-proof@v1"),
        "{}",
        proof.text
    );
    // Another club's cashier or manager sees neither the receipt nor the payment.
    for other in [&w.other_cashier] {
        assert_eq!(page(&app, &receipt, Some(other)).await.status, 404);
        assert_eq!(
            page(&app, &format!("{receipt}/bewijs"), Some(other))
                .await
                .status,
            404
        );
    }
    let id = receipt.trim_start_matches("/kassa/bon/");
    let other_manager = app
        .login_as(
            "voorzitter-muziek",
            "provider_manager",
            Some(uuid::Uuid::parse_str(&w.other_provider).unwrap()),
        )
        .await;
    let list = page(&app, "/aanbieder", Some(&other_manager)).await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert!(
        !list.text.contains(id) && !list.text.contains("€ 12,50"),
        "{}",
        list.text
    );
    assert_eq!(
        page(
            &app,
            &format!("/aanbieder/terugboeken/{id}"),
            Some(&other_manager)
        )
        .await
        .status,
        404
    );
    // The own club's manager sees it and reverses it with a reason.
    let list = page(&app, "/aanbieder", Some(&w.manager)).await;
    assert!(
        list.text.contains(id) && list.text.contains("€ 12,50"),
        "{}",
        list.text
    );
    let r = page(
        &app,
        &format!("/aanbieder/terugboeken/{id}"),
        Some(&w.manager),
    )
    .await;
    let csrf = field(&r.text, "csrf_token");
    let mcookie = format!("kp_sessie={}", w.manager);
    let r = form(
        &app,
        &format!("/aanbieder/terugboeken/{id}"),
        Some(&mcookie),
        None,
        &[("csrf_token", &csrf), ("reason", "")],
    )
    .await;
    assert_eq!(r.status, 422, "a reason is needed");
    let r = form(
        &app,
        &format!("/aanbieder/terugboeken/{id}"),
        Some(&mcookie),
        None,
        &[("csrf_token", &csrf), ("reason", "Verkeerd bedrag")],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(balance(&app, &w.staff, &w.voucher_id(0)).await, before);
    assert!(
        page(&app, "/aanbieder", Some(&w.manager))
            .await
            .text
            .contains("Teruggeboekt")
    );
    // Every POST form checks its token: without it, or with another session's, nothing happens.
    let other_csrf = field(
        &page(&app, "/kassa", Some(&w.cashier2)).await.text,
        "csrf_token",
    );
    for token in ["", other_csrf.as_str()] {
        let r = form(
            &app,
            "/kassa/betaal",
            Some(&cookie),
            None,
            &[
                ("csrf_token", token),
                ("token", &w.token(0)),
                ("amount_cents", "100"),
                ("category", "sport"),
                ("idempotency_key", &uuid::Uuid::new_v4().to_string()),
            ],
        )
        .await;
        assert_eq!(r.status, 403, "{}", r.text);
    }
    assert_eq!(balance(&app, &w.staff, &w.voucher_id(0)).await, before);
    // A bad amount is said next to the field, and books nothing.
    let (_, _) = (0, 0);
    let k = page(&app, "/kassa", Some(&w.cashier)).await;
    let csrf = field(&k.text, "csrf_token");
    let r = form(
        &app,
        "/kassa/bedrag",
        Some(&cookie),
        None,
        &[
            ("csrf_token", &csrf),
            ("token", &w.token(0)),
            ("amount", "abc"),
            ("category", "sport"),
            ("idempotency_key", &uuid::Uuid::new_v4().to_string()),
        ],
    )
    .await;
    assert_eq!(r.status, 422);
    assert!(
        r.text.contains("aria-invalid=\"true\"") && r.text.contains("amount-fout"),
        "{}",
        r.text
    );
    // More than is left is said at the amount step, with what is left; nothing is booked.
    let r = form(
        &app,
        "/kassa/bedrag",
        Some(&cookie),
        None,
        &[
            ("csrf_token", &csrf),
            ("token", &w.token(0)),
            ("amount", "999,00"),
            ("category", "sport"),
            ("idempotency_key", &uuid::Uuid::new_v4().to_string()),
        ],
    )
    .await;
    assert_eq!(r.status, 422);
    assert!(
        r.text.contains("Er staat nog € 250,00 op dit tegoed"),
        "{}",
        r.text
    );
    // A mistyped code keeps what was typed, to correct it.
    let typo = format!("{}X", w.token(0));
    let r = form(
        &app,
        "/kassa",
        Some(&cookie),
        None,
        &[("csrf_token", &csrf), ("token", &typo)],
    )
    .await;
    assert!(
        r.text.contains("kp-result--fout") && r.text.contains(&typo),
        "{}",
        r.text
    );
    assert_eq!(balance(&app, &w.staff, &w.voucher_id(0)).await, before);
    app.close().await;
}

on_both_backends!(the_kassa_books_a_payment_once_and_only_for_its_club);

async fn a_club_manages_only_its_own_cashiers(db: &common::TestDb) {
    let app = TestApp::new(db).await;
    let w = app.world().await;
    let cookie = format!("kp_sessie={}", w.manager);
    let p = page(&app, "/aanbieder/kassa-medewerkers", Some(&w.manager)).await;
    assert_eq!(p.status, 200, "{}", p.text);
    assert!(
        p.text.contains("kassa1") && !p.text.contains("kassa-muziek"),
        "{}",
        p.text
    );
    let csrf = field(&p.text, "csrf_token");
    let r = form(
        &app,
        "/aanbieder/kassa-medewerkers",
        Some(&cookie),
        None,
        &[
            ("csrf_token", &csrf),
            ("username", "kassa-nieuw"),
            ("password", "een-goed-wachtwoord"),
        ],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let r = app
        .post(
            "/api/v1/login",
            None,
            serde_json::json!({"username": "kassa-nieuw", "password": "een-goed-wachtwoord"}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["role"], "cashier");
    // The use case, not the page, refuses a manager who adds anyone else.
    let op = uuid::Uuid::parse_str(&w.other_provider).unwrap();
    let me = kindpakket::service::sessions::authenticate(&app.state.services, Some(&w.manager))
        .await
        .unwrap();
    for (role, provider) in [
        (kindpakket::core::role::Role::Cashier, Some(op)),
        (
            kindpakket::core::role::Role::ProviderManager,
            me.user_id()
                .and(Some(uuid::Uuid::parse_str(&w.provider).unwrap())),
        ),
        (kindpakket::core::role::Role::Staff, None),
    ] {
        let new = kindpakket::service::users::NewUser {
            username: format!("x-{}", role.as_str()),
            role,
            provider,
            password: "een-goed-wachtwoord".into(),
        };
        assert!(
            kindpakket::service::users::add_user(&app.state.services, &me, new)
                .await
                .is_err(),
            "{role:?} {provider:?}"
        );
    }
    // Another club's cashier cannot be reset or removed from here (as if it did not exist).
    let users = app.get("/api/v1/users", Some(&w.admin)).await.json();
    let muziek = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "kassa-muziek")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = form(
        &app,
        &format!("/aanbieder/kassa-medewerkers/{muziek}"),
        Some(&cookie),
        None,
        &[("csrf_token", &csrf), ("actie", "verwijderen")],
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.text);
    let r = app.post("/api/v1/login", None, serde_json::json!({"username": "kassa-muziek", "password": "kassa-muziek-wachtwoord-1"})).await;
    assert_eq!(r.status, 200, "still works: {}", r.text);
    // Removing the own club's cashier asks first, then ends the cashier's log-in.
    let kassa1 = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "kassa1")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = form(
        &app,
        &format!("/aanbieder/kassa-medewerkers/{kassa1}"),
        Some(&cookie),
        None,
        &[("csrf_token", &csrf), ("actie", "verwijderen")],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("kassa1 verwijderen?"), "{}", r.text);
    assert_eq!(
        page(&app, "/kassa", Some(&w.cashier)).await.status,
        200,
        "not yet removed"
    );
    let r = form(
        &app,
        &format!("/aanbieder/kassa-medewerkers/{kassa1}"),
        Some(&cookie),
        None,
        &[("csrf_token", &csrf), ("actie", "verwijderen-bevestigd")],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(
        page(&app, "/kassa", Some(&w.cashier)).await.status,
        303,
        "logged out"
    );
    app.close().await;
}

on_both_backends!(a_club_manages_only_its_own_cashiers);

async fn parent_pages_are_private_and_friendly(db: &common::TestDb) {
    let app = TestApp::new(db).await;
    let w = app.world().await;
    let path = w.parent_link.clone();
    let r = page(&app, &path, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.headers["referrer-policy"], "no-referrer");
    assert!(
        r.headers["x-robots-tag"]
            .to_str()
            .unwrap()
            .contains("noindex")
    );
    assert_eq!(r.headers["cache-control"], "no-store");
    assert!(
        r.text.contains("Noor")
            && r.text.contains("€ 250,00")
            && r.text.contains(&format!("31 december {}", w.year)),
        "{}",
        r.text
    );
    assert!(r.text.contains("<svg"), "the QR code");
    // And the code under it, in groups of five, for a club that has to type it.
    let token = w.token(0);
    let first: String = token.chars().take(10).collect();
    let grouped = format!("{} {}", &first[..5], &first[5..]);
    assert!(r.text.contains(&grouped), "{grouped} in {}", r.text);
    let r = page(&app, &format!("{path}/brief"), None).await;
    assert_eq!(r.status, 200);
    assert!(r.text.contains("kp-letter__qr") && r.text.contains("Noor"));
    let r = page(&app, "/tegoed/dit-is-geen-link", None).await;
    assert_eq!(r.status, 404);
    assert!(
        r.text.contains("0594 - 00 00 00") && !r.text.contains("not_found"),
        "{}",
        r.text
    );
    app.close().await;
}

on_both_backends!(parent_pages_are_private_and_friendly);

async fn leergeld_issues_for_a_whole_fund_and_makes_next_year(db: &common::TestDb) {
    use serde_json::json;
    let app = TestApp::new(db).await;
    let w = app.world().await;
    // A second household: two children, one too old for the fund.
    let r = app.post("/api/v1/households", Some(&w.staff), json!({
        "reference": "LG-0002", "parent_name": "Piet Jansen",
        "children": [{"first_name": "Lotte", "birth_date": "2016-02-02"}, {"first_name": "Bram", "birth_date": "2004-01-01"}]})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let staff_cookie = format!("kp_sessie={}", w.staff);
    let fund_page = format!("/beheer/regelingen/{}", w.fund);
    let p = page(&app, &fund_page, Some(&w.staff)).await;
    assert_eq!(p.status, 200, "{}", p.text);
    let csrf = field(&p.text, "csrf_token");
    let r = form(
        &app,
        &format!("{fund_page}/uitgeven"),
        Some(&staff_cookie),
        None,
        &[("csrf_token", &csrf)],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.text.contains("1 nieuwe tegoeden uitgegeven"),
        "{}",
        r.text
    );
    assert!(
        r.text.contains("2 kinderen hadden al een tegoed"),
        "{}",
        r.text
    );
    assert!(r.text.contains("1 kinderen doen niet mee"), "{}", r.text);
    // Again: nothing new.
    let r = form(
        &app,
        &format!("{fund_page}/uitgeven"),
        Some(&staff_cookie),
        None,
        &[("csrf_token", &csrf)],
    )
    .await;
    assert!(
        r.text.contains("0 nieuwe tegoeden uitgegeven"),
        "{}",
        r.text
    );
    // An auditor reads the fund page but cannot issue: the use case says no.
    let a = page(&app, &fund_page, Some(&w.auditor)).await;
    assert_eq!(a.status, 200);
    let acsrf = field(&a.text, "csrf_token");
    let r = form(
        &app,
        &format!("{fund_page}/uitgeven"),
        Some(&format!("kp_sessie={}", w.auditor)),
        None,
        &[("csrf_token", &acsrf)],
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text);
    // Next year in one step (admin): the clubs kept, a deposit, vouchers for who still fits.
    let admin_cookie = format!("kp_sessie={}", w.admin);
    let next = w.year + 1;
    let next_name = format!("Kindpakket Westerkwartier {next}");
    let p = page(&app, &format!("{fund_page}/nieuw-jaar"), Some(&w.admin)).await;
    assert_eq!(p.status, 200, "{}", p.text);
    assert!(
        p.text.contains(&next_name) && p.text.contains(&format!("{next}-01-01")),
        "{}",
        p.text
    );
    let csrf = field(&p.text, "csrf_token");
    let r = form(
        &app,
        &format!("{fund_page}/nieuw-jaar"),
        Some(&admin_cookie),
        None,
        &[
            ("csrf_token", &csrf),
            ("name", &next_name),
            ("valid_from", &format!("{next}-01-01")),
            ("valid_until", &format!("{next}-12-31")),
            ("deposit", "100.000,00"),
            ("keep", &w.provider),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains(&next_name), "{}", r.text);
    assert!(
        r.text.contains("3 nieuwe tegoeden uitgegeven"),
        "{}",
        r.text
    );
    let new_fund = regex::Regex::new(r#"/beheer/regelingen/([0-9a-f-]{36})"#)
        .unwrap()
        .captures(&r.text)
        .unwrap()[1]
        .to_owned();
    assert_ne!(new_fund, w.fund);
    let f = page(
        &app,
        &format!("/beheer/regelingen/{new_fund}"),
        Some(&w.admin),
    )
    .await;
    assert!(
        f.text.contains("VV Zuidhorn: sport"),
        "the club that stays: {}",
        f.text
    );
    assert!(
        !f.text.contains("Muziekschool Leek:"),
        "the club left out: {}",
        f.text
    );
    assert!(
        f.text.contains("€ 250,00, tot en met 17 jaar"),
        "{}",
        f.text
    );
    app.close().await;
}

on_both_backends!(leergeld_issues_for_a_whole_fund_and_makes_next_year);

async fn leergeld_corrects_a_household(db: &common::TestDb) {
    let app = TestApp::new(db).await;
    let w = app.world().await;
    let path = format!("/beheer/gezinnen/{}/wijzigen", w.household);
    let p = page(&app, &path, Some(&w.staff)).await;
    assert_eq!(p.status, 200, "{}", p.text);
    assert!(
        p.text.contains("Fatima de Vries") && p.text.contains("2015-04-02"),
        "{}",
        p.text
    );
    let csrf = field(&p.text, "csrf_token");
    let cookie = format!("kp_sessie={}", w.staff);
    let (noor, sem) = (w.children[0].as_str(), w.children[1].as_str());
    let send = |birth: &'static str| {
        let (app, path, cookie, csrf) = (&app, path.clone(), cookie.clone(), csrf.clone());
        async move {
            form(
                app,
                &path,
                Some(&cookie),
                None,
                &[
                    ("csrf_token", &csrf),
                    ("parent_name", "Fatima van Dijk"),
                    ("email", ""),
                    ("phone", "06-87654321"),
                    ("child_id", noor),
                    ("child_name", "Noortje"),
                    ("child_birth_date", "2015-04-02"),
                    ("child_id", sem),
                    ("child_name", "Sem"),
                    ("child_birth_date", birth),
                    ("new_child_name", "Lina"),
                    ("new_child_birth_date", "2020-06-06"),
                    ("new_child_name", ""),
                    ("new_child_birth_date", ""),
                ],
            )
            .await
        }
    };
    // A birth date in the future is refused on the page, and nothing is saved.
    let r = send("2999-01-01").await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(
        r.text.contains("Noortje"),
        "what was typed stays: {}",
        r.text
    );
    let h = app
        .get(
            &format!("/api/v1/households/{}", w.household),
            Some(&w.staff),
        )
        .await
        .json();
    assert_eq!(h["parent_name"], "Fatima de Vries", "{h}");
    let r = send("2018-09-30").await;
    assert_eq!(r.status, 303, "{}", r.text);
    let h = app
        .get(
            &format!("/api/v1/households/{}", w.household),
            Some(&w.staff),
        )
        .await
        .json();
    assert_eq!(h["parent_name"], "Fatima van Dijk", "{h}");
    assert_eq!(h["phone"], "06-87654321", "{h}");
    assert!(h["email"].is_null(), "{h}");
    let names: Vec<&str> = h["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["first_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Noortje", "Sem", "Lina"], "{h}");
    // An auditor may read but not correct; after erasure nobody can.
    let a = page(&app, &path, Some(&w.auditor)).await;
    assert_eq!(a.status, 200);
    let acsrf = field(&a.text, "csrf_token");
    let r = form(
        &app,
        &path,
        Some(&format!("kp_sessie={}", w.auditor)),
        None,
        &[("csrf_token", &acsrf), ("parent_name", "X")],
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text);
    let r = app
        .send(
            Request::delete(format!("/api/v1/households/{}/personal-data", w.household))
                .header("authorization", format!("Bearer {}", w.admin))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    let r = send("2018-09-30").await;
    assert_eq!(r.status, 422, "{}", r.text);
    // A new household with a wrong e-mail address: the message is tied to that field.
    let g = page(&app, "/beheer/gezinnen", Some(&w.staff)).await;
    let csrf = field(&g.text, "csrf_token");
    let r = form(
        &app,
        "/beheer/gezinnen",
        Some(&format!("kp_sessie={}", w.staff)),
        None,
        &[
            ("csrf_token", &csrf),
            ("reference", "LG-0099"),
            ("parent_name", "Kees"),
            ("email", "geen-adres"),
            ("phone", ""),
            ("child_name", "Bo"),
            ("child_birth_date", "2016-01-01"),
        ],
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text);
    let invalid: Vec<&str> = regex::Regex::new(r#"name="([a-z_]+)"[^>]*aria-invalid="true""#)
        .unwrap()
        .captures_iter(&r.text)
        .map(|c| c.get(1).unwrap().as_str())
        .collect();
    assert_eq!(invalid, ["email"], "{}", r.text);
    app.close().await;
}

on_both_backends!(leergeld_corrects_a_household);

async fn staff_set_up_two_factor_log_in_on_the_pages(db: &common::TestDb) {
    let settings = kindpakket::service::Settings {
        require_two_factor: true,
        ..Default::default()
    };
    let app = TestApp::with_settings(db, settings, Default::default()).await;
    let password = app.user("medewerker", "staff", None).await;
    // Log-in leads to the set-up page; other pages send the user back there.
    let r = page(&app, "/inloggen", None).await;
    let form_cookie = format!(
        "kp_formulier={}",
        cookie_value(&set_cookie(&r, "kp_formulier").unwrap())
    );
    let csrf = field(&r.text, "csrf_token");
    let r = form(
        &app,
        "/inloggen",
        Some(&form_cookie),
        None,
        &[
            ("csrf_token", &csrf),
            ("username", "medewerker"),
            ("password", &password),
        ],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(r.headers["location"], "/tweestaps");
    let session = cookie_value(&set_cookie(&r, "kp_sessie").unwrap());
    let r = page(&app, "/beheer", Some(&session)).await;
    assert_eq!(r.status, 303);
    assert_eq!(r.headers["location"], "/tweestaps");
    let p = page(&app, "/tweestaps", Some(&session)).await;
    assert_eq!(p.status, 200, "{}", p.text);
    assert!(p.text.contains("verplicht"), "{}", p.text);
    let csrf = field(&p.text, "csrf_token");
    let cookie = format!("kp_sessie={session}");
    let r = form(
        &app,
        "/tweestaps",
        Some(&cookie),
        None,
        &[("csrf_token", &csrf), ("actie", "starten")],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("<svg"), "the QR code of the secret");
    let secret = regex::Regex::new(r#"<code class="kp-token">([A-Z2-7]+)</code>"#)
        .unwrap()
        .captures(&r.text)
        .unwrap()[1]
        .to_owned();
    // A wrong code is refused on the page; the right one turns it on and shows ten codes.
    let r = form(
        &app,
        "/tweestaps",
        Some(&cookie),
        None,
        &[
            ("csrf_token", &csrf),
            ("actie", "bevestigen"),
            ("code", "000000"),
        ],
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text);
    let r = form(
        &app,
        "/tweestaps",
        Some(&cookie),
        None,
        &[("csrf_token", &csrf), ("actie", "starten")],
    )
    .await;
    let secret2 = regex::Regex::new(r#"<code class="kp-token">([A-Z2-7]+)</code>"#)
        .unwrap()
        .captures(&r.text)
        .unwrap()[1]
        .to_owned();
    assert_ne!(secret, secret2, "a new secret after a failed confirmation");
    let key = data_encoding::BASE32_NOPAD
        .decode(secret2.as_bytes())
        .unwrap();
    let step = kindpakket::core::totp::step_at(chrono::Utc::now().timestamp() as u64);
    let code = format!("{:06}", kindpakket::core::totp::code(&key, step));
    let r = form(
        &app,
        "/tweestaps",
        Some(&cookie),
        None,
        &[
            ("csrf_token", &csrf),
            ("actie", "bevestigen"),
            ("code", &code),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.text.matches("utrecht-unordered-list__item").count(),
        10,
        "{}",
        r.text
    );
    // The session that confirmed goes on; /beheer opens now.
    let r = page(&app, "/beheer", Some(&session)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // The log-in page now asks for the code (a field named totp).
    let r = page(&app, "/inloggen", None).await;
    let form_cookie = format!(
        "kp_formulier={}",
        cookie_value(&set_cookie(&r, "kp_formulier").unwrap())
    );
    let csrf = field(&r.text, "csrf_token");
    let r = form(
        &app,
        "/inloggen",
        Some(&form_cookie),
        None,
        &[
            ("csrf_token", &csrf),
            ("username", "medewerker"),
            ("password", &password),
        ],
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert!(r.text.contains("name=\"totp\""), "{}", r.text);
    app.close().await;
}

on_both_backends!(staff_set_up_two_factor_log_in_on_the_pages);

/// Issuing for a whole fund stops at its time budget and says how many are left; the next run
/// goes on where it stopped (a large fund never runs into the request deadline).
async fn issuing_for_a_large_fund_goes_on_where_it_stopped(db: &common::TestDb) {
    let settings = kindpakket::service::Settings {
        bulk_reissue_budget: std::time::Duration::ZERO,
        ..Default::default()
    };
    let app = TestApp::with_settings(db, settings, Default::default()).await;
    let w = app.world().await;
    let r = app.post("/api/v1/households", Some(&w.staff), serde_json::json!({
        "reference": "LG-0003", "parent_name": "Ans Bakker",
        "children": [{"first_name": "Tim", "birth_date": "2014-03-03"}, {"first_name": "Eva", "birth_date": "2017-07-07"}]})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let staff = kindpakket::service::sessions::authenticate(&app.state.services, Some(&w.staff))
        .await
        .unwrap();
    let fund = uuid::Uuid::parse_str(&w.fund).unwrap();
    let first = kindpakket::service::vouchers::issue_all(&app.state.services, &staff, fund)
        .await
        .unwrap();
    assert_eq!(
        (first.issued, first.remaining, first.already),
        (1, 1, 2),
        "{first:?}"
    );
    let second = kindpakket::service::vouchers::issue_all(&app.state.services, &staff, fund)
        .await
        .unwrap();
    assert_eq!(
        (second.issued, second.remaining, second.already),
        (1, 0, 3),
        "{second:?}"
    );
    // The page says how many are left.
    let p = page(
        &app,
        &format!("/beheer/regelingen/{}", w.fund),
        Some(&w.staff),
    )
    .await;
    let csrf = field(&p.text, "csrf_token");
    let r = form(
        &app,
        &format!("/beheer/regelingen/{}/uitgeven", w.fund),
        Some(&format!("kp_sessie={}", w.staff)),
        None,
        &[("csrf_token", &csrf)],
    )
    .await;
    assert!(
        r.text.contains("0 nieuwe tegoeden uitgegeven"),
        "{}",
        r.text
    );
    app.close().await;
}

on_both_backends!(issuing_for_a_large_fund_goes_on_where_it_stopped);

async fn leergeld_erases_a_household_after_a_question(db: &common::TestDb) {
    let app = TestApp::new(db).await;
    let w = app.world().await;
    let path = format!("/beheer/gezinnen/{}/wissen", w.household);
    // Staff see no erase link and are refused by the use case; an admin is asked first.
    let h = page(
        &app,
        &format!("/beheer/gezinnen/{}", w.household),
        Some(&w.staff),
    )
    .await;
    assert!(!h.text.contains(&path), "{}", h.text);
    let csrf = field(&h.text, "csrf_token");
    let r = form(
        &app,
        &path,
        Some(&format!("kp_sessie={}", w.staff)),
        None,
        &[("csrf_token", &csrf), ("bevestig", "ja")],
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text);
    let q = page(&app, &path, Some(&w.admin)).await;
    assert_eq!(q.status, 200, "{}", q.text);
    assert!(q.text.contains("Ja, wis de gegevens"), "{}", q.text);
    let csrf = field(&q.text, "csrf_token");
    let cookie = format!("kp_sessie={}", w.admin);
    let r = form(&app, &path, Some(&cookie), None, &[("csrf_token", &csrf)]).await;
    assert_eq!(r.status, 303, "without the answer, back to the question");
    assert_eq!(r.headers["location"].to_str().unwrap(), path);
    let r = form(
        &app,
        &path,
        Some(&cookie),
        None,
        &[("csrf_token", &csrf), ("bevestig", "ja")],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let h = app
        .get(
            &format!("/api/v1/households/{}", w.household),
            Some(&w.staff),
        )
        .await
        .json();
    assert!(h["parent_name"].is_null(), "{h}");
    let r = form(
        &app,
        "/beheer/gezinnen/zoeken",
        Some(&cookie),
        None,
        &[("csrf_token", &csrf), ("q", "Fatima")],
    )
    .await;
    assert!(r.text.contains("Geen gezinnen gevonden"), "{}", r.text);
    assert_eq!(
        page(&app, &w.parent_link, None).await.status,
        404,
        "the link stops working"
    );
    app.close().await;
}

on_both_backends!(leergeld_erases_a_household_after_a_question);
