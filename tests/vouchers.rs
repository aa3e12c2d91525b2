//! Vouchers end to end through the HTTP API, on SQLite and on PostgreSQL: issuing, scanning,
//! redeeming (concurrently and idempotently), every token error, corrections and lifecycle,
//! privacy of the ledger, parent links and QR codes.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failing test

mod common;

use std::collections::HashSet;
use std::sync::atomic::Ordering;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use common::{TestApp, TestClock, id_of};
use kindpakket::core::merkle;
use kindpakket::core::note::Vkey;
use kindpakket::core::proof::TlogProof;
use serde_json::json;

async fn app(db: &common::TestDb) -> (TestApp, TestClock) {
    let clock = TestClock::at("2026-06-01");
    (TestApp::with_clock(db, &clock).await, clock)
}

fn vkeys(app_text: &str) -> Vec<Vkey> {
    app_text.lines().map(|l| Vkey::parse(l).unwrap()).collect()
}

async fn a_parent_spends_at_a_club_and_the_receipt_verifies_offline(db: &common::TestDb) {
    let (app, _) = app(db).await;
    let w = app.world().await;
    let v = &w.vouchers[0];
    assert_eq!(v["balance_cents"], 25000);
    assert_eq!(v["expires_at"], "2026-12-31");
    assert_eq!(v["categories"], json!(["sport", "cultuur", "school"]));
    let token = w.token(0);
    assert_eq!(token.len(), 150);
    assert!(token.starts_with("KP1:"));
    assert_eq!(
        v["parent_link"], w.vouchers[1]["parent_link"],
        "one link per household"
    );

    let r = app
        .post(
            "/api/v1/vouchers/lookup",
            Some(&w.cashier),
            json!({"token": token}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let l = r.json();
    assert_eq!(l["valid"], true);
    assert_eq!(l["balance_cents"], 25000);
    assert_eq!(
        l["categories"],
        json!(["sport"]),
        "only what this club may charge"
    );
    assert_eq!(
        l["child_hint"], "N. (2015)",
        "initial and birth year, nothing more"
    );
    assert!(!r.text.contains("Noor") && !r.text.contains("Fatima") && !r.text.contains("04-02"));

    let r = app.redeem(&token, &w.cashier, 12000, "sport").await;
    assert_eq!(r.status, 201, "{}", r.text);
    let red = r.json();
    assert_eq!(red["balance_cents"], 13000);
    let index = red["entry_index"].as_u64().unwrap();
    // The receipt is a C2SP tlog-proof that verifies with only the published key.
    let keys = vkeys(&app.get("/api/v1/ledger/key", None).await.text);
    let proof = TlogProof::parse(red["receipt"].as_str().unwrap()).unwrap();
    assert_eq!(proof.index, index);
    let entry = app
        .get(
            &format!("/api/v1/ledger/entries?start={index}&end={}", index + 1),
            None,
        )
        .await
        .json();
    let bytes = B64.decode(entry[0]["entry_b64"].as_str().unwrap()).unwrap();
    proof
        .verify(app.ledger.origin(), &keys, &merkle::leaf_hash(&bytes))
        .unwrap();
    assert_eq!(entry[0]["body"]["transfer_kind"], "redeem");
    // The public ledger records the token without its signature: nobody can spend from it.
    let token_bytes = data_encoding::BASE32_NOPAD
        .decode(&token.as_bytes()[4..])
        .unwrap();
    let all = app
        .get("/api/v1/ledger/entries?start=0&end=1000", None)
        .await
        .json();
    for e in all.as_array().unwrap() {
        let b = B64.decode(e["entry_b64"].as_str().unwrap()).unwrap();
        assert!(
            !b.windows(32).any(|w| w == &token_bytes[27..59]),
            "signature bytes on the ledger"
        );
    }

    let view = app
        .get(
            &format!("/api/v1/vouchers/{}", w.voucher_id(0)),
            Some(&w.staff),
        )
        .await
        .json();
    assert_eq!(view["balance_cents"], 13000);
    assert_eq!(view["status"], "active");
    let history = view["history"].as_array().unwrap();
    let kinds: Vec<&str> = history
        .iter()
        .map(|h| h["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["issue", "redeem"]);
    assert_eq!(history[1]["amount_cents"], -12000);
    assert_eq!(history[1]["provider"], "VV Zuidhorn");
    assert_eq!(history[1]["description"], "Contributie");
    let report = app.audit().await;
    assert_eq!(report.redemptions, 1);
    app.close().await;
}

async fn two_hundred_simultaneous_redemptions_from_two_cashiers_spend_exactly_the_balance(
    db: &common::TestDb,
) {
    let (app, _) = app(db).await;
    let w = app.world().await;
    let token = w.token(0);
    let app = std::sync::Arc::new(app);
    let mut tasks = Vec::new();
    for i in 0..200 {
        let app = app.clone();
        let token = token.clone();
        let cashier = if i % 2 == 0 {
            w.cashier.clone()
        } else {
            w.cashier2.clone()
        };
        tasks.push(tokio::spawn(async move {
            app.redeem(&token, &cashier, 250, "sport").await
        }));
    }
    let mut ok = 0;
    let mut refused = 0;
    for t in tasks {
        let r = t.await.unwrap();
        match r.status.as_u16() {
            201 => ok += 1,
            422 => {
                assert_eq!(r.code(), "insufficient_balance", "{}", r.text);
                refused += 1;
            }
            other => panic!("unexpected {other}: {}", r.text),
        }
    }
    assert_eq!(
        (ok, refused),
        (100, 100),
        "25000 / 250 = 100 redemptions fit"
    );
    let view = app
        .get(
            &format!("/api/v1/vouchers/{}", w.voucher_id(0)),
            Some(&w.staff),
        )
        .await
        .json();
    assert_eq!(view["balance_cents"], 0);
    let report = app.audit().await;
    assert_eq!(report.redemptions, 100);
    std::sync::Arc::try_unwrap(app).ok().unwrap().close().await;
}

async fn twenty_simultaneous_requests_with_one_idempotency_key_debit_once(db: &common::TestDb) {
    let (app, _) = app(db).await;
    let w = app.world().await;
    let token = w.token(0);
    let key = uuid::Uuid::new_v4().to_string();
    let app = std::sync::Arc::new(app);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (app, token, key, cashier) =
            (app.clone(), token.clone(), key.clone(), w.cashier.clone());
        tasks.push(tokio::spawn(async move {
            app.redeem_with_key(&token, &cashier, 1000, "sport", &key)
                .await
        }));
    }
    let mut bodies = HashSet::new();
    for t in tasks {
        let r = t.await.unwrap();
        match r.status.as_u16() {
            201 => {
                bodies.insert(r.text.clone());
            }
            409 => assert_eq!(r.code(), "idempotency_in_flight"),
            other => panic!("unexpected {other}: {}", r.text),
        }
    }
    assert_eq!(
        bodies.len(),
        1,
        "every success carries the same stored body"
    );
    let view = app
        .get(
            &format!("/api/v1/vouchers/{}", w.voucher_id(0)),
            Some(&w.staff),
        )
        .await
        .json();
    assert_eq!(view["balance_cents"], 24000, "debited once");
    // Afterwards the same key returns the stored answer, byte for byte.
    let again = app
        .redeem_with_key(&token, &w.cashier, 1000, "sport", &key)
        .await;
    assert_eq!(again.status, 201);
    assert!(bodies.contains(&again.text));
    std::sync::Arc::try_unwrap(app).ok().unwrap().close().await;
}

/// A cashier whose phone gives up while the booking is still queued (a slow database in the
/// September rush) retries with the same key: the retry must never see the first booking's own
/// debit as "not enough balance". It waits (409) and then gets the booking's answer (201).
async fn a_retry_after_the_client_gave_up_gets_the_booking_not_a_refusal(db: &common::TestDb) {
    let clock = TestClock::at("2026-06-01");
    let faults = std::sync::Arc::new(kindpakket::ledger::Faults::default());
    let app = TestApp::with_faults(db, &clock, faults.clone()).await;
    let w = app.world().await;
    let token = w.token(0);
    let key = uuid::Uuid::new_v4().to_string();
    // The whole balance, so that a second debit would be refused.
    let balance = app
        .get(
            &format!("/api/v1/vouchers/{}", w.voucher_id(0)),
            Some(&w.staff),
        )
        .await
        .json()["balance_cents"]
        .as_i64()
        .unwrap();
    faults.batch_delay_ms.store(1_500, Ordering::SeqCst);
    let first = tokio::time::timeout(
        std::time::Duration::from_millis(300),
        app.redeem_with_key(&token, &w.cashier, balance, "sport", &key),
    )
    .await;
    assert!(first.is_err(), "the first request should still be waiting");
    // Straight away: the booking is still running.
    let r = app
        .redeem_with_key(&token, &w.cashier, balance, "sport", &key)
        .await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(r.code(), "idempotency_in_flight");
    faults.batch_delay_ms.store(0, Ordering::SeqCst);
    // Once it is done: the booking, every time.
    let mut answer = None;
    for _ in 0..100 {
        let r = app
            .redeem_with_key(&token, &w.cashier, balance, "sport", &key)
            .await;
        if r.status == 409 {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        }
        assert_eq!(r.status, 201, "{}", r.text);
        answer = Some(r.json());
        break;
    }
    let answer = answer.expect("the booking finished");
    assert_eq!(answer["balance_cents"], 0);
    let view = app
        .get(
            &format!("/api/v1/vouchers/{}", w.voucher_id(0)),
            Some(&w.staff),
        )
        .await
        .json();
    assert_eq!(view["balance_cents"], 0, "debited once");
    app.close().await;
}

/// Leergeld issues one more voucher while the admin ends the fund: whichever the single writer
/// takes first, no voucher may stay open with money in an ended fund.
async fn a_voucher_issued_while_the_fund_expires_is_never_left_open(db: &common::TestDb) {
    let clock = TestClock::at("2026-06-01");
    let faults = std::sync::Arc::new(kindpakket::ledger::Faults::default());
    let app = std::sync::Arc::new(TestApp::with_faults(db, &clock, faults.clone()).await);
    let w = app.world().await;
    let r = app
        .post(
            "/api/v1/households",
            Some(&w.staff),
            json!({"reference": "LG-0099", "parent_name": "Laat", "children": [
                {"first_name": "Tim", "birth_date": "2016-01-01"}]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let child = r.json()["children"][0]["id"].as_str().unwrap().to_owned();
    // A slow database: the issue is queued, and the expiry reads the fund before it commits.
    faults.batch_delay_ms.store(600, Ordering::SeqCst);
    let issue = {
        let (app, fund, staff) = (app.clone(), w.fund.clone(), w.staff.clone());
        tokio::spawn(async move {
            app.post(
                &format!("/api/v1/funds/{fund}/vouchers"),
                Some(&staff),
                json!({"child_id": child}),
            )
            .await
        })
    };
    // Wait until the sequencer holds the issue (no sleeping: the fault hook counts it).
    assert!(
        kindpakket::ledger::wait_until(std::time::Duration::from_secs(10), || {
            faults.delayed_batches.load(Ordering::SeqCst) >= 1
        })
        .await,
        "the issue reached the sequencer"
    );
    let expire = app
        .post(
            &format!("/api/v1/funds/{}/expire", w.fund),
            Some(&w.admin),
            json!({}),
        )
        .await;
    faults.batch_delay_ms.store(0, Ordering::SeqCst);
    let issue = issue.await.unwrap();
    assert_eq!(expire.status, 200, "{}", expire.text);
    if issue.status == 201 {
        // Issued first: the expiry took it along.
        let v = issue.json()["id"].as_str().unwrap().to_owned();
        let view = app
            .get(&format!("/api/v1/vouchers/{v}"), Some(&w.staff))
            .await
            .json();
        assert_eq!(
            (view["status"].clone(), view["balance_cents"].clone()),
            (json!("expired"), json!(0)),
            "{view}"
        );
        assert_eq!(expire.json()["expired_vouchers"], 3, "{}", expire.text);
    } else {
        assert_eq!(issue.code(), "fund_expired", "{}", issue.text);
        assert_eq!(expire.json()["expired_vouchers"], 2, "{}", expire.text);
    }
    // Every voucher of the fund is closed and the ledger verifies.
    let state = app.ledger.state().await;
    let open = state
        .accounts()
        .filter(|(_, a)| {
            a.kind == kindpakket::core::entry::AccountKind::Voucher
                && a.status != kindpakket::core::entry::AccountStatus::Closed
        })
        .count();
    assert_eq!(open, 0);
    drop(state);
    app.audit().await;
    std::sync::Arc::try_unwrap(app).ok().unwrap().close().await;
}

/// Leergeld's own money requests (deposit, top-up, direct payment) take an optional
/// Idempotency-Key: a retry books once and gets the first answer, a refusal is answered the
/// same way again, and another body with the same key is refused.
async fn leergeld_money_requests_with_an_idempotency_key_book_once(db: &common::TestDb) {
    let (app, _) = app(db).await;
    let w = app.world().await;
    let with_key = |path: String, token: String, body: serde_json::Value, key: &'static str| {
        let app = &app;
        async move {
            app.post_raw(
                &path,
                Some(&token),
                "application/json",
                body.to_string(),
                &[("idempotency-key", key)],
            )
            .await
        }
    };
    let fund_balance = || async {
        app.get(&format!("/api/v1/funds/{}", w.fund), Some(&w.finance))
            .await
            .json()["balance_cents"]
            .as_i64()
            .unwrap()
    };
    let deposits = format!("/api/v1/funds/{}/deposits", w.fund);
    let body = json!({"amount_cents": 5000, "reference": "Aanvulling"});
    let before = fund_balance().await;
    let first = with_key(
        deposits.clone(),
        w.finance.clone(),
        body.clone(),
        "storting-1",
    )
    .await;
    assert_eq!(first.status, 201, "{}", first.text);
    let again = with_key(
        deposits.clone(),
        w.finance.clone(),
        body.clone(),
        "storting-1",
    )
    .await;
    assert_eq!(
        (again.status, again.text.clone()),
        (first.status, first.text.clone())
    );
    assert_eq!(fund_balance().await, before + 5000, "deposited once");
    let other = json!({"amount_cents": 6000, "reference": "Aanvulling"});
    let r = with_key(deposits.clone(), w.finance.clone(), other, "storting-1").await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (422, "idempotency_conflict".into())
    );
    // Keys are per user: the admin's "storting-1" is another key.
    let r = with_key(deposits, w.admin.clone(), body, "storting-1").await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(fund_balance().await, before + 10000);

    // A top-up above the maximum per booking: refused, and the repeat gets the same refusal.
    let top_ups = format!("/api/v1/vouchers/{}/top-ups", w.voucher_id(0));
    let too_much = json!({"amount_cents": 1_000_000_000, "reason": "te veel"});
    let r1 = with_key(
        top_ups.clone(),
        w.staff.clone(),
        too_much.clone(),
        "ophoging-1",
    )
    .await;
    assert_eq!(r1.code(), "amount_above_limit", "{}", r1.text);
    let r2 = with_key(top_ups.clone(), w.staff.clone(), too_much, "ophoging-1").await;
    assert_eq!((r2.status, r2.text.clone()), (r1.status, r1.text.clone()));
    let ok = json!({"amount_cents": 1000, "reason": "extra"});
    let t1 = with_key(top_ups.clone(), w.staff.clone(), ok.clone(), "ophoging-2").await;
    assert_eq!(t1.status, 201, "{}", t1.text);
    let t2 = with_key(top_ups, w.staff.clone(), ok, "ophoging-2").await;
    assert_eq!(t2.text, t1.text);

    // Ten simultaneous direct payments with one key: one booking.
    let voucher_before = app
        .get(
            &format!("/api/v1/vouchers/{}", w.voucher_id(0)),
            Some(&w.staff),
        )
        .await
        .json()["balance_cents"]
        .as_i64()
        .unwrap();
    let payment = json!({"child_id": w.children[0], "provider_id": w.provider,
        "amount_cents": 700, "category": "sport", "description": "Zwemles"});
    let path = format!("/api/v1/funds/{}/direct-payments", w.fund);
    let answers = futures_join(
        (0..10)
            .map(|_| {
                with_key(
                    path.clone(),
                    w.finance.clone(),
                    payment.clone(),
                    "betaling-1",
                )
            })
            .collect(),
    )
    .await;
    let mut bodies = HashSet::new();
    for r in &answers {
        match r.status.as_u16() {
            201 => {
                bodies.insert(r.text.clone());
            }
            409 => assert_eq!(r.code(), "idempotency_in_flight"),
            other => panic!("unexpected {other}: {}", r.text),
        }
    }
    assert!(bodies.len() <= 1);
    let r = with_key(path, w.finance.clone(), payment, "betaling-1").await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(bodies.is_empty() || bodies.contains(&r.text));
    let voucher_after = app
        .get(
            &format!("/api/v1/vouchers/{}", w.voucher_id(0)),
            Some(&w.staff),
        )
        .await
        .json()["balance_cents"]
        .as_i64()
        .unwrap();
    assert_eq!(voucher_after, voucher_before - 700, "paid once");
    app.audit().await;
    app.close().await;
}

/// Runs futures concurrently on this task and collects their outputs in order.
async fn futures_join<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = (0..pinned.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in pinned.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().map(|o| o.expect("ready")).collect()
}

/// A mistaken redemption found after the fund ended (but before payout) can still be reversed;
/// the voucher is closed, so the money goes back to the fund, as expiry would have sent it.
async fn a_redemption_can_be_reversed_after_its_fund_expired(db: &common::TestDb) {
    let (app, _) = app(db).await;
    let w = app.world().await;
    let r = app.redeem(&w.token(0), &w.cashier, 1200, "sport").await;
    assert_eq!(r.status, 201, "{}", r.text);
    let redemption = id_of(&r);
    let r = app
        .post(
            &format!("/api/v1/funds/{}/expire", w.fund),
            Some(&w.admin),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let fund_balance = || async {
        app.get(&format!("/api/v1/funds/{}", w.fund), Some(&w.finance))
            .await
            .json()["balance_cents"]
            .as_i64()
            .unwrap()
    };
    let before = fund_balance().await;
    let path = format!("/api/v1/redemptions/{redemption}/reverse");
    let r = app
        .post(&path, Some(&w.manager), json!({"reason": "dubbel gescand"}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(fund_balance().await, before + 1200);
    let view = app
        .get(
            &format!("/api/v1/vouchers/{}", w.voucher_id(0)),
            Some(&w.staff),
        )
        .await
        .json();
    assert_eq!(
        (view["status"].clone(), view["balance_cents"].clone()),
        (json!("expired"), json!(0))
    );
    let r = app
        .post(&path, Some(&w.manager), json!({"reason": "nog eens"}))
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (409, "already_reversed".into())
    );
    app.audit().await;
    app.close().await;
}

async fn idempotency_keys_are_required_and_bound_to_their_body(db: &common::TestDb) {
    let (app, _) = app(db).await;
    let w = app.world().await;
    let token = w.token(0);
    let body =
        json!({"token": token, "amount_cents": 500, "category": "sport", "description": "x"});
    let r = app
        .post("/api/v1/redemptions", Some(&w.cashier), body.clone())
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (400, "idempotency_key_missing")
    );
    let key = "retry-after-timeout-1";
    let first = app
        .redeem_with_key(&token, &w.cashier, 500, "sport", key)
        .await;
    assert_eq!(first.status, 201, "{}", first.text);
    let other_body = app
        .redeem_with_key(&token, &w.cashier, 600, "sport", key)
        .await;
    assert_eq!(
        (other_body.status.as_u16(), other_body.code().as_str()),
        (422, "idempotency_conflict")
    );
    // A refusal is stored too: the same request gets the same refusal.
    let too_much = app
        .redeem_with_key(&token, &w.cashier, 999_999, "sport", "big-1")
        .await;
    assert_eq!(
        (too_much.status.as_u16(), too_much.code().as_str()),
        (422, "insufficient_balance")
    );
    let again = app
        .redeem_with_key(&token, &w.cashier, 999_999, "sport", "big-1")
        .await;
    assert_eq!(
        (again.status, again.text.clone()),
        (too_much.status, too_much.text.clone())
    );
    // Keys are per user: another cashier may use the same key for their own request.
    let other = app
        .redeem_with_key(&token, &w.cashier2, 500, "sport", key)
        .await;
    assert_eq!(other.status, 201);
    let view = app
        .get(
            &format!("/api/v1/vouchers/{}", w.voucher_id(0)),
            Some(&w.staff),
        )
        .await
        .json();
    assert_eq!(view["balance_cents"], 24000);
    app.close().await;
}

async fn every_token_error_has_its_own_code(db: &common::TestDb) {
    let (app, clock) = app(db).await;
    let w = app.world().await;
    let good = w.token(0);
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let last = good.as_bytes()[149] as char;
    let pos = alphabet.find(last).unwrap();
    let twin = alphabet.as_bytes()[pos ^ 1] as char;
    let mut padded = good[..149].to_owned();
    padded.push(twin);
    let mut one = good.clone();
    one.replace_range(20..21, "1");
    let mut bytes = data_encoding::BASE32_NOPAD
        .decode(&good.as_bytes()[4..])
        .unwrap();
    let mut forged = bytes.clone();
    forged[80] ^= 1;
    let forged = format!("KP1:{}", data_encoding::BASE32_NOPAD.encode(&forged));
    let mut other_key = bytes.clone();
    other_key[1] ^= 0xff;
    let other_key = format!("KP1:{}", data_encoding::BASE32_NOPAD.encode(&other_key));
    bytes[0] = 2;
    let format2 = format!("KP1:{}", data_encoding::BASE32_NOPAD.encode(&bytes));
    let cases: Vec<(String, &str)> = vec![
        (good.replacen("KP1:", "KP2:", 1), "invalid_token_prefix"),
        (good[..120].to_owned(), "invalid_token_length"),
        (one, "invalid_token_alphabet"),
        (padded, "invalid_token_padding"),
        (format2, "invalid_token_format"),
        (other_key, "unknown_key"),
        (forged, "invalid_token"),
    ];
    for (token, code) in &cases {
        let r = app.redeem(token, &w.cashier, 100, "sport").await;
        assert_eq!(
            (r.status.as_u16(), r.code().as_str()),
            (422, *code),
            "redeem {code}: {}",
            r.text
        );
        let l = app
            .post(
                "/api/v1/vouchers/lookup",
                Some(&w.cashier),
                json!({"token": token}),
            )
            .await
            .json();
        assert_eq!(
            (l["valid"].clone(), l["reason_code"].clone()),
            (json!(false), json!(code)),
            "lookup {code}"
        );
        assert!(l["reason"].as_str().unwrap().len() > 10);
    }
    // One valid text form: lower case and surrounding spaces are refused, each with its code.
    for (text, code) in [
        (
            format!("KP1:{}", good[4..].to_lowercase()),
            "invalid_token_alphabet",
        ),
        (good.to_lowercase(), "invalid_token_prefix"),
        (format!(" {good}"), "invalid_token_prefix"),
        (format!("{good}\n"), "invalid_token_length"),
    ] {
        let l = app
            .post(
                "/api/v1/vouchers/lookup",
                Some(&w.cashier),
                json!({"token": text}),
            )
            .await
            .json();
        assert_eq!(
            (l["valid"].clone(), l["reason_code"].clone()),
            (json!(false), json!(code)),
            "{text:?}"
        );
    }
    // Blocked, then reissued: the old token is superseded, the new one works.
    let vid = w.voucher_id(0);
    let r = app
        .post(
            &format!("/api/v1/vouchers/{vid}/block"),
            Some(&w.staff),
            json!({"reason": "brief kwijt"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["status"], "blocked");
    let r = app.redeem(&good, &w.cashier, 100, "sport").await;
    assert_eq!(r.code(), "voucher_blocked");
    let r = app
        .post(
            &format!("/api/v1/vouchers/{vid}/reissue"),
            Some(&w.staff),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let new_token = r.json()["token"].as_str().unwrap().to_owned();
    assert_ne!(new_token, good);
    let r = app.redeem(&good, &w.cashier, 100, "sport").await;
    assert_eq!(r.code(), "token_superseded");
    assert_eq!(
        app.redeem(&new_token, &w.cashier, 100, "sport")
            .await
            .status,
        201
    );
    // Category and provider rules.
    let r = app.redeem(&new_token, &w.cashier, 100, "cultuur").await;
    assert_eq!(r.code(), "category_not_allowed");
    let r = app.redeem(&new_token, &w.cashier, 100, "overig").await;
    assert_eq!(r.code(), "category_not_allowed");
    let r = app.redeem(&new_token, &w.other_cashier, 100, "sport").await;
    assert_eq!(
        r.code(),
        "category_not_allowed",
        "the music school is approved for cultuur only"
    );
    assert_eq!(
        app.redeem(&new_token, &w.other_cashier, 100, "cultuur")
            .await
            .status,
        201
    );
    // Expiry: after the last valid day the token no longer works.
    clock.set("2027-01-01");
    let r = app.redeem(&new_token, &w.cashier, 100, "sport").await;
    assert_eq!(r.code(), "voucher_expired");
    let l = app
        .post(
            "/api/v1/vouchers/lookup",
            Some(&w.cashier),
            json!({"token": new_token}),
        )
        .await
        .json();
    assert_eq!(l["reason_code"], "voucher_expired");
    app.audit().await;
    app.close().await;
}

async fn a_provider_not_approved_for_the_fund_cannot_redeem(db: &common::TestDb) {
    let (app, _) = app(db).await;
    let w = app.world().await;
    let r = app.post("/api/v1/providers", Some(&w.admin), json!({"name": "Zwembad", "kvk": "40000003", "iban": "NL91ABNA0417164300", "categories": ["sport"]})).await;
    let p = uuid::Uuid::parse_str(&id_of(&r)).unwrap();
    let cashier = app.login_as("kassa-zwembad", "cashier", Some(p)).await;
    let r = app.redeem(&w.token(0), &cashier, 100, "sport").await;
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (422, "provider_not_approved")
    );
    let l = app
        .post(
            "/api/v1/vouchers/lookup",
            Some(&cashier),
            json!({"token": w.token(0)}),
        )
        .await
        .json();
    assert_eq!(l["reason_code"], "provider_not_approved");
    // A club outside the fund learns nothing about the voucher.
    assert_eq!(
        (
            l["voucher_id"].clone(),
            l["balance_cents"].clone(),
            l["child_hint"].clone()
        ),
        (json!(null), json!(null), json!(null))
    );
    app.close().await;
}

async fn corrections_and_lifecycle_keep_the_ledger_verifiable(db: &common::TestDb) {
    let (app, _) = app(db).await;
    let w = app.world().await;
    let (v0, v1) = (w.voucher_id(0), w.voucher_id(1));
    // Top-up.
    let r = app
        .post(
            &format!("/api/v1/vouchers/{v0}/top-ups"),
            Some(&w.finance),
            json!({"amount_cents": 5000, "reason": "zwemles"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["balance_cents"], 30000);
    // Redeem and reverse (by the club's manager), once only.
    let red = app
        .redeem(&w.token(0), &w.cashier, 7000, "sport")
        .await
        .json();
    let rid = red["id"].as_str().unwrap();
    let r = app
        .post(
            &format!("/api/v1/redemptions/{rid}/reverse"),
            Some(&w.other_cashier),
            json!({"reason": "x"}),
        )
        .await;
    assert_eq!(r.status, 403, "cashiers cannot reverse");
    let r = app
        .post(
            &format!("/api/v1/redemptions/{rid}/reverse"),
            Some(&w.manager),
            json!({"reason": "verkeerd bedrag"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["balance_cents"], 30000);
    let r = app
        .post(
            &format!("/api/v1/redemptions/{rid}/reverse"),
            Some(&w.staff),
            json!({"reason": "nog eens"}),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (409, "already_reversed")
    );
    // Direct payment by finance, charged to the second child's voucher.
    let child1 = &w.children[1];
    let r = app.post(&format!("/api/v1/funds/{}/direct-payments", w.fund), Some(&w.finance), json!({
        "child_id": child1, "provider_id": w.provider, "amount_cents": 4500, "category": "sport", "description": "Zwemles"})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["balance_cents"], 20500);
    assert_eq!(r.json()["voucher_id"], v1.as_str());
    let r = app
        .post(
            &format!("/api/v1/funds/{}/direct-payments", w.fund),
            Some(&w.finance),
            json!({
        "child_id": child1, "provider_id": w.provider, "amount_cents": 100, "category": "cultuur"}),
        )
        .await;
    assert_eq!(r.code(), "category_not_allowed");
    let did = app.audit().await;
    assert!(did.size > 0);
    // A direct payment can be reversed by staff as well.
    let view = app
        .get(&format!("/api/v1/vouchers/{v1}"), Some(&w.staff))
        .await
        .json();
    assert_eq!(
        view["history"].as_array().unwrap().last().unwrap()["kind"],
        "direct_payment"
    );
    // Block, and a direct payment is refused while blocked.
    app.post(
        &format!("/api/v1/vouchers/{v1}/block"),
        Some(&w.staff),
        json!({"reason": "kwijt"}),
    )
    .await;
    let r = app
        .post(
            &format!("/api/v1/funds/{}/direct-payments", w.fund),
            Some(&w.finance),
            json!({
        "child_id": child1, "provider_id": w.provider, "amount_cents": 100, "category": "sport"}),
        )
        .await;
    assert_eq!(r.code(), "voucher_blocked");
    // Expiry returns every remaining cent to the fund.
    let fund_before = app
        .get(&format!("/api/v1/funds/{}", w.fund), Some(&w.finance))
        .await
        .json()["balance_cents"]
        .as_i64()
        .unwrap();
    let r = app
        .post(
            &format!("/api/v1/funds/{}/expire", w.fund),
            Some(&w.admin),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let e = r.json();
    assert_eq!(e["expired_vouchers"], 2);
    assert_eq!(e["returned_cents"], 30000 + 20500);
    let fund_after = app
        .get(&format!("/api/v1/funds/{}", w.fund), Some(&w.finance))
        .await
        .json()["balance_cents"]
        .as_i64()
        .unwrap();
    assert_eq!(fund_after, fund_before + 50500);
    let r = app
        .post(
            &format!("/api/v1/funds/{}/expire", w.fund),
            Some(&w.admin),
            json!({}),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (409, "already_expired")
    );
    let r = app.redeem(&w.token(0), &w.cashier, 100, "sport").await;
    assert_eq!(r.code(), "voucher_expired");
    let view = app
        .get(&format!("/api/v1/vouchers/{v0}"), Some(&w.staff))
        .await
        .json();
    assert_eq!(
        (view["status"].clone(), view["balance_cents"].clone()),
        (json!("expired"), json!(0))
    );
    let report = app.audit().await;
    assert_eq!(report.balances["voucher"].0, 0);
    // The kindpakket binary's own check agrees.
    app.close().await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kindpakket"))
        .args(["verify", "--database", &db.url])
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

async fn issuing_checks_age_duplicates_pooling_and_the_fund_balance(db: &common::TestDb) {
    let (app, _) = app(db).await;
    let w = app.world().await;
    let r = app
        .post(
            &format!("/api/v1/funds/{}/vouchers", w.fund),
            Some(&w.staff),
            json!({"child_id": w.children[0]}),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (409, "already_issued")
    );
    let r = app.post("/api/v1/households", Some(&w.staff), json!({"reference": "LG-0002", "parent_name": "Jan Bakker",
        "children": [{"first_name": "Tess", "birth_date": "2008-12-31"}, {"first_name": "Bram", "birth_date": "2009-01-01"}, {"first_name": "Lotte", "birth_date": "2020-05-05"}]})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let kids: Vec<String> = r.json()["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    let household = id_of(&r);
    // Tess is 17 on 2026-01-01 (eligible); a child of 18 is not.
    let r = app
        .post(
            &format!("/api/v1/funds/{}/vouchers", w.fund),
            Some(&w.staff),
            json!({"child_id": kids[0]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = app
        .post(
            "/api/v1/households",
            Some(&w.staff),
            json!({"reference": "LG-0003", "parent_name": "Old",
        "children": [{"first_name": "Max", "birth_date": "2007-12-31"}]}),
        )
        .await;
    let old = r.json()["children"][0]["id"].as_str().unwrap().to_owned();
    let r = app
        .post(
            &format!("/api/v1/funds/{}/vouchers", w.fund),
            Some(&w.staff),
            json!({"child_id": old}),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (422, "child_not_eligible")
    );
    // A pooled fund: one voucher per household, the per-child amount times eligible children.
    let r = app.post("/api/v1/funds", Some(&w.admin), json!({"name": "Pot", "sponsor": "Gemeente", "valid_from": "2026-01-01",
        "valid_until": "2026-12-31", "categories": ["sport"], "amount_per_child_cents": 10000, "pooling": "household", "max_age_years": 17})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let pooled = id_of(&r);
    let r = app
        .post(
            &format!("/api/v1/funds/{pooled}/vouchers"),
            Some(&w.staff),
            json!({"household_id": household}),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (422, "insufficient_fund_balance")
    );
    app.post(
        &format!("/api/v1/funds/{pooled}/deposits"),
        Some(&w.finance),
        json!({"amount_cents": 100000, "reference": "x"}),
    )
    .await;
    let r = app
        .post(
            &format!("/api/v1/funds/{pooled}/vouchers"),
            Some(&w.staff),
            json!({"child_id": kids[1]}),
        )
        .await;
    assert_eq!(r.code(), "household_id_required");
    let r = app
        .post(
            &format!("/api/v1/funds/{pooled}/vouchers"),
            Some(&w.staff),
            json!({"household_id": household}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["balance_cents"], 30000, "three eligible children");
    assert!(r.json()["child_id"].is_null());
    // On the public ledger: one leg per eligible child, each of the per-child amount and each
    // to its own commitment, none naming the voucher.
    let idx = r.json()["entry_index"].as_u64().unwrap();
    let e = app
        .get(
            &format!("/api/v1/ledger/entries?start={idx}&end={}", idx + 1),
            None,
        )
        .await;
    let legs = e.json()[0]["body"]["legs"].as_array().unwrap().clone();
    assert_eq!(legs.len(), 3, "{}", e.text);
    let commitments: std::collections::HashSet<String> = legs
        .iter()
        .map(|l| {
            assert_eq!(l["amount_cents"], 10000);
            assert!(l["credit"].is_null(), "{l}");
            l["credit_commitment"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(commitments.len(), 3);
    let r = app
        .post(
            &format!("/api/v1/funds/{pooled}/vouchers"),
            Some(&w.staff),
            json!({"household_id": household}),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (409, "already_issued")
    );
    app.audit().await;
    app.close().await;
}

async fn no_personal_data_ever_reaches_the_ledger_and_erasure_keeps_it_verifiable(
    db: &common::TestDb,
) {
    let (app, _) = app(db).await;
    let w = app.world().await;
    app.redeem(&w.token(0), &w.cashier, 1000, "sport").await;
    app.post(
        &format!("/api/v1/vouchers/{}/block", w.voucher_id(1)),
        Some(&w.staff),
        json!({"reason": "Noor's brief kwijt"}),
    )
    .await;
    let entries = app
        .get("/api/v1/ledger/entries?start=0&end=1000", None)
        .await
        .json();
    let all: Vec<u8> = entries
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| B64.decode(e["entry_b64"].as_str().unwrap()).unwrap())
        .collect();
    let text = String::from_utf8_lossy(&all).to_lowercase();
    for needle in [
        "noor",
        "sem",
        "fatima",
        "de vries",
        "example.org",
        "06-12345678",
        "2015-04-02",
        "20150402",
        "lg-0001",
        "brief",
        "contributie",
        "beschikking",
    ] {
        assert!(!text.contains(needle), "{needle:?} found on the ledger");
    }
    // Birth dates as binary day counts or timestamps are not there either.
    let d = chrono::NaiveDate::from_ymd_opt(2015, 4, 2).unwrap();
    let secs = d.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp();
    for pattern in [
        (secs as u64).to_be_bytes().to_vec(),
        (secs as u32).to_be_bytes().to_vec(),
    ] {
        assert!(
            !all.windows(pattern.len())
                .any(|win| win == pattern.as_slice())
        );
    }
    // Erasure.
    let ledger_before = app.store.ledger_data().await.unwrap();
    let r = app
        .send(
            axum::http::Request::delete(format!(
                "/api/v1/households/{}/personal-data",
                w.household
            ))
            .header("authorization", format!("Bearer {}", w.staff))
            .body(axum::body::Body::empty())
            .unwrap(),
        )
        .await;
    assert_eq!(r.status, 403, "only admins erase");
    let r = app
        .send(
            axum::http::Request::delete(format!(
                "/api/v1/households/{}/personal-data",
                w.household
            ))
            .header("authorization", format!("Bearer {}", w.admin))
            .body(axum::body::Body::empty())
            .unwrap(),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    // The ledger and the openings are untouched, byte for byte.
    let ledger_after = app.store.ledger_data().await.unwrap();
    assert_eq!(ledger_before.entries.len(), ledger_after.entries.len());
    for (a, b) in ledger_before.entries.iter().zip(&ledger_after.entries) {
        assert_eq!(
            (&a.bytes, &a.openings),
            (&b.bytes, &b.openings),
            "entry {}",
            a.index
        );
    }
    let h = app
        .get(
            &format!("/api/v1/households/{}", w.household),
            Some(&w.staff),
        )
        .await;
    assert_eq!(h.status, 200);
    for gone in [
        "Fatima",
        "Noor",
        "fatima@example.org",
        "2015-04-02",
        "LG-0001",
    ] {
        assert!(!h.text.contains(gone), "{gone} still shown: {}", h.text);
    }
    assert!(h.json()["parent_link"].is_null());
    let view = app
        .get(
            &format!("/api/v1/vouchers/{}", w.voucher_id(1)),
            Some(&w.staff),
        )
        .await;
    assert!(
        !view.text.contains("brief kwijt"),
        "staff notes with the household's vouchers are erased too: {}",
        view.text
    );
    let view = app
        .get(
            &format!("/api/v1/vouchers/{}", w.voucher_id(0)),
            Some(&w.staff),
        )
        .await;
    assert!(
        !view.text.contains("Contributie"),
        "descriptions are erased: {}",
        view.text
    );
    let r = app
        .get(
            &format!("/api/v1/vouchers/{}", w.voucher_id(0)),
            Some(&w.link_token()),
        )
        .await;
    assert_eq!(r.status, 401, "the personal link is revoked");
    let l = app
        .post(
            "/api/v1/vouchers/lookup",
            Some(&w.cashier),
            json!({"token": w.token(0)}),
        )
        .await
        .json();
    assert_eq!(l["valid"], true, "the budget itself is untouched");
    assert!(l["child_hint"].is_null());
    app.audit().await;
    app.close().await;
}

async fn a_parent_link_opens_only_its_own_vouchers_and_qr_codes_decode(db: &common::TestDb) {
    let (app, _) = app(db).await;
    let w = app.world().await;
    let link = w.link_token();
    let r = app
        .get(
            &format!("/api/v1/vouchers/{}", w.voucher_id(0)),
            Some(&link),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["child_first_name"], "Noor");
    assert!(
        r.json()["history"][0].get("note").is_none(),
        "staff notes are not shown to parents"
    );
    // Another household's voucher is not found through this link.
    let r = app
        .post(
            "/api/v1/households",
            Some(&w.staff),
            json!({"reference": "LG-0009", "parent_name": "Ander",
        "children": [{"first_name": "Kim", "birth_date": "2016-01-01"}]}),
        )
        .await;
    let kid = r.json()["children"][0]["id"].as_str().unwrap().to_owned();
    let other = app
        .post(
            &format!("/api/v1/funds/{}/vouchers", w.fund),
            Some(&w.staff),
            json!({"child_id": kid}),
        )
        .await
        .json();
    let other_id = other["id"].as_str().unwrap();
    let r = app
        .get(&format!("/api/v1/vouchers/{other_id}"), Some(&link))
        .await;
    assert_eq!(r.status, 404);
    let r = app
        .get(&format!("/api/v1/vouchers/{other_id}/qr.png"), Some(&link))
        .await;
    assert_eq!(r.status, 404);
    let r = app
        .get(
            &format!("/api/v1/vouchers/{}", w.voucher_id(0)),
            Some("AAAAAAAAAAAAAAAAAAAAAA"),
        )
        .await;
    assert_eq!(r.status, 401);
    // QR codes decode (with a real decoder) to the current token.
    let png = app
        .send(
            axum::http::Request::get(format!("/api/v1/vouchers/{}/qr.png", w.voucher_id(0)))
                .header("authorization", format!("Bearer {link}"))
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(png.status, 200);
    assert_eq!(png.headers["content-type"], "image/png");
    assert!(
        png.headers["cache-control"]
            .to_str()
            .unwrap()
            .contains("no-store")
    );
    let svg = app
        .get(
            &format!("/api/v1/vouchers/{}/qr.svg", w.voucher_id(0)),
            Some(&w.staff),
        )
        .await;
    assert_eq!(svg.headers["content-type"], "image/svg+xml");
    assert!(svg.text.starts_with("<svg"));
    // Renew the link: the old one stops working, the new one works.
    let r = app
        .post(
            &format!("/api/v1/households/{}/parent-link", w.household),
            Some(&w.staff),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let new_link = r.json()["parent_link"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(
        app.get(
            &format!("/api/v1/vouchers/{}", w.voucher_id(0)),
            Some(&link)
        )
        .await
        .status,
        401
    );
    assert_eq!(
        app.get(
            &format!("/api/v1/vouchers/{}", w.voucher_id(0)),
            Some(&new_link)
        )
        .await
        .status,
        200
    );
    app.close().await;
}

#[tokio::test]
async fn qr_png_served_by_the_api_decodes_with_rqrr() {
    let db = common::TestDb::new(common::Backend::Sqlite).await.unwrap();
    let (app, _) = app(&db).await;
    let w = app.world().await;
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let req = axum::http::Request::get(format!("/api/v1/vouchers/{}/qr.png", w.voucher_id(0)))
        .header("authorization", format!("Bearer {}", w.staff))
        .body(axum::body::Body::empty())
        .unwrap();
    let resp = app.router.clone().oneshot(req).await.unwrap();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let img = image::load_from_memory(&bytes).unwrap().to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(img);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1);
    let (meta, content) = grids[0].decode().unwrap();
    assert!(meta.version.0 <= 8);
    assert_eq!(meta.ecc_level, 3, "error correction Q");
    assert_eq!(content, w.token(0));
    app.close().await;
}

/// Viewing a voucher, and answering a repeated redemption from the ledger, take a fixed number
/// of database queries however long the voucher's history is (no query per history entry).
async fn a_voucher_s_history_is_read_in_a_fixed_number_of_queries(db: &common::TestDb) {
    let (app, _clock) = app(db).await;
    let w = app.world().await;
    let view = format!("/api/v1/vouchers/{}", w.voucher_id(0));
    let measure_view = || async {
        let before = app.store.queries();
        let r = app.get(&view, Some(&w.staff)).await;
        assert_eq!(r.status, 200, "{}", r.text);
        app.store.queries() - before
    };
    let key = uuid::Uuid::new_v4().to_string();
    let r = app
        .redeem_with_key(&w.token(0), &w.cashier, 100, "sport", &key)
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let first = r.json();
    let measure_repeat = || async {
        let before = app.store.queries();
        let r = app
            .redeem_with_key(&w.token(0), &w.cashier, 100, "sport", &key)
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(r.json(), first, "the same answer");
        app.store.queries() - before
    };
    let (view_short, repeat_short) = (measure_view().await, measure_repeat().await);
    for _ in 0..25 {
        let r = app.redeem(&w.token(0), &w.cashier, 1, "sport").await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let (view_long, repeat_long) = (measure_view().await, measure_repeat().await);
    assert_eq!(
        view_short, view_long,
        "viewing: {view_short} queries with 3 entries, {view_long} with 28"
    );
    assert_eq!(
        repeat_short, repeat_long,
        "a repeated redemption: {repeat_short} queries, then {repeat_long}"
    );
    assert!(view_long <= 10, "{view_long} queries to view a voucher");
    app.close().await;
}

/// A fund whose ledger account is missing is an inconsistency to report, never a balance of 0.
async fn a_fund_without_its_ledger_account_is_an_error_not_a_zero_balance(db: &common::TestDb) {
    let (app, _clock) = app(db).await;
    let w = app.world().await;
    let id = uuid::Uuid::new_v4();
    kindpakket::with_db!(app.store.db(), |p| {
        sqlx::query(
            "INSERT INTO funds (id, name, sponsor, valid_from, valid_until, categories, \
             amount_per_child_cents, max_age_years, pooling, created_at) \
             VALUES ($1, 'Los', 'S', $2, $3, 1, 100, 17, 'child', $4)",
        )
        .bind(id)
        .bind(chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap())
        .bind(chrono::NaiveDate::from_ymd_opt(2026, 12, 31).unwrap())
        .bind(chrono::Utc::now())
        .execute(p)
        .await
        .unwrap();
    });
    let r = app
        .get(&format!("/api/v1/funds/{id}"), Some(&w.admin))
        .await;
    assert_eq!(r.status, 500, "{}", r.text);
    assert_eq!(r.code(), "internal_error");
    assert!(
        !r.text.contains("ledger account"),
        "the cause stays in the log"
    );
    app.close().await;
}

/// A deposit booked with one zero too many is taken back by a correction: never more than that
/// deposit brought into the fund (all corrections together), never more than the fund holds,
/// only a deposit into this fund, once per Idempotency-Key; both audits still pass.
async fn a_wrong_deposit_is_corrected_but_never_by_more_than_it_brought(db: &common::TestDb) {
    let (app, _) = app(db).await;
    let w = app.world().await;
    let fund = w.fund.clone();
    let deposit = |cents: i64| {
        let (app, w, fund) = (&app, &w, fund.clone());
        async move {
            let r = app
                .post(
                    &format!("/api/v1/funds/{fund}/deposits"),
                    Some(&w.finance),
                    json!({"amount_cents": cents, "reference": "Beschikking"}),
                )
                .await;
            assert_eq!(r.status, 201, "{}", r.text);
            r.json()
        }
    };
    let before = deposit(1_000_000).await;
    let index = before["entry_index"].as_i64().unwrap();
    let balance = before["fund_balance_cents"].as_i64().unwrap();
    let correct = |fund: String, index: i64, cents: i64, who: String| {
        let app = &app;
        async move {
            app.post(
                &format!("/api/v1/funds/{fund}/deposit-corrections"),
                Some(&who),
                json!({"deposit_entry_index": index, "amount_cents": cents, "reason": "een nul te veel"}),
            )
            .await
        }
    };
    // More than the deposit brought: refused, and nothing changes.
    let r = correct(fund.clone(), index, 1_000_001, w.finance.clone()).await;
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (422, "correction_too_large"),
        "{}",
        r.text
    );
    let r = correct(fund.clone(), index, 0, w.finance.clone()).await;
    assert_eq!(r.status, 400, "{}", r.text);
    // Staff may not; finance and admin may.
    let r = correct(fund.clone(), index, 900_000, w.staff.clone()).await;
    assert_eq!(r.status, 403, "{}", r.text);
    let r = correct(fund.clone(), index, 900_000, w.finance.clone()).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["fund_balance_cents"], balance - 900_000);
    // All corrections of one deposit together: at most what it brought.
    let r = correct(fund.clone(), index, 100_001, w.admin.clone()).await;
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (422, "correction_too_large"),
        "{}",
        r.text
    );
    let r = correct(fund.clone(), index, 100_000, w.admin.clone()).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["fund_balance_cents"], balance - 1_000_000);
    // Not a deposit, or not one into this fund, or no entry at all: unknown_deposit.
    let issue_index = w.vouchers[0]["entry_index"].as_i64().unwrap();
    // A negative index is no index at all: a malformed field.
    let r = correct(fund.clone(), -1, 1, w.finance.clone()).await;
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (400, "invalid_field"),
        "{}",
        r.text
    );
    for i in [issue_index, 0, 1_000_000_000] {
        let r = correct(fund.clone(), i, 1, w.finance.clone()).await;
        assert_eq!(
            (r.status.as_u16(), r.code().as_str()),
            (404, "unknown_deposit"),
            "{i}: {}",
            r.text
        );
    }
    let r = app
        .post(
            "/api/v1/funds",
            Some(&w.admin),
            json!({"name": "Klein", "sponsor": "S", "valid_from": "2026-01-01",
        "valid_until": "2026-12-31", "categories": ["sport"], "amount_per_child_cents": 800}),
        )
        .await;
    let small = common::id_of(&r);
    let r = correct(small.clone(), index, 1, w.finance.clone()).await;
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (404, "unknown_deposit"),
        "{}",
        r.text
    );
    // Never more than the fund still holds: money given to vouchers stays there.
    let r = app
        .post(
            &format!("/api/v1/funds/{small}/deposits"),
            Some(&w.finance),
            json!({"amount_cents": 1_000, "reference": "r"}),
        )
        .await;
    let small_index = r.json()["entry_index"].as_i64().unwrap();
    let r = app
        .post(
            &format!("/api/v1/funds/{small}/vouchers"),
            Some(&w.staff),
            json!({"child_id": w.children[0]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = correct(small.clone(), small_index, 300, w.finance.clone()).await;
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (422, "insufficient_fund_balance"),
        "{}",
        r.text
    );
    // Once per Idempotency-Key: a retry gets the same answer and books nothing more.
    let body = json!({"deposit_entry_index": small_index, "amount_cents": 200, "reason": "r"});
    let path = format!("/api/v1/funds/{small}/deposit-corrections");
    let send = || {
        app.post_raw(
            &path,
            Some(&w.finance),
            "application/json",
            body.to_string(),
            &[("idempotency-key", "correctie-1")],
        )
    };
    let (a, b) = (send().await, send().await);
    assert_eq!(
        (a.status.as_u16(), b.status.as_u16()),
        (201, 201),
        "{} {}",
        a.text,
        b.text
    );
    assert_eq!(a.json(), b.json());
    assert_eq!(a.json()["fund_balance_cents"], 0);
    // The entries are public: a deposit_correction referring to its deposit, fund → sponsor.
    let e = app
        .get(
            &format!(
                "/api/v1/ledger/entries?start={0}&end={1}",
                a.json()["entry_index"],
                a.json()["entry_index"].as_u64().unwrap() + 1
            ),
            None,
        )
        .await;
    let body = &e.json()[0]["body"];
    assert_eq!(body["transfer_kind"], "deposit_correction", "{}", e.text);
    assert_eq!(body["legs"][0]["debit"], small.as_str());
    app.close().await;
}

on_both_backends!(
    a_wrong_deposit_is_corrected_but_never_by_more_than_it_brought,
    a_voucher_s_history_is_read_in_a_fixed_number_of_queries,
    a_fund_without_its_ledger_account_is_an_error_not_a_zero_balance,
    a_parent_spends_at_a_club_and_the_receipt_verifies_offline,
    two_hundred_simultaneous_redemptions_from_two_cashiers_spend_exactly_the_balance,
    twenty_simultaneous_requests_with_one_idempotency_key_debit_once,
    idempotency_keys_are_required_and_bound_to_their_body,
    a_retry_after_the_client_gave_up_gets_the_booking_not_a_refusal,
    a_voucher_issued_while_the_fund_expires_is_never_left_open,
    leergeld_money_requests_with_an_idempotency_key_book_once,
    a_redemption_can_be_reversed_after_its_fund_expired,
    every_token_error_has_its_own_code,
    a_provider_not_approved_for_the_fund_cannot_redeem,
    corrections_and_lifecycle_keep_the_ledger_verifiable,
    issuing_checks_age_duplicates_pooling_and_the_fund_balance,
    no_personal_data_ever_reaches_the_ledger_and_erasure_keeps_it_verifiable,
    a_parent_link_opens_only_its_own_vouchers_and_qr_codes_decode,
);

/// A full audit of a database reconciles the service's records with the ledger: a token
/// relinked to another voucher's account, a redemption's amount, token key or generation
/// changed, or a redemption row removed, is found and named.
async fn the_full_audit_reconciles_the_services_records_with_the_ledger(db: &common::TestDb) {
    let app = TestApp::new(db).await;
    let w = app.world().await;
    let mut index = Vec::new();
    for i in 0..2 {
        let r = app.redeem(&w.token(i), &w.cashier, 1_000, "sport").await;
        assert_eq!(r.status, 201, "{}", r.text);
        index.push(r.json()["entry_index"].as_u64().unwrap());
    }
    let full = app.audit().await;
    assert_eq!(full.reconciled, Some((2, 2)), "{}", full.summary());
    assert!(
        full.summary().contains("records reconciled"),
        "{}",
        full.summary()
    );
    let exec = |sql: &'static str| {
        let store = app.store.clone();
        async move {
            kindpakket::with_db!(store.db(), |p| {
                sqlx::raw_sql(sql).execute(p).await.unwrap();
            });
        }
    };
    let audit = || async {
        let data = app.store.ledger_data().await.unwrap();
        kindpakket::core::audit::audit(&data, None)
            .map(|r| r.summary())
            .unwrap_err()
            .to_string()
    };
    // Someone with write access swaps two vouchers' ledger accounts: each token now spends
    // the other child's money. Their earlier payments no longer fit.
    let mut accounts = Vec::new();
    for i in 0..2 {
        let v = app
            .store
            .voucher(w.voucher_id(i).parse().unwrap())
            .await
            .unwrap()
            .unwrap();
        accounts.push((
            sql_uuid(&app, &v.id.to_string()),
            sql_uuid(&app, &v.account_id.to_string()),
        ));
    }
    let set = |voucher: &str, account: &str| -> &'static str {
        Box::leak(
            format!("UPDATE vouchers SET account_id = {account} WHERE id = {voucher}")
                .into_boxed_str(),
        )
    };
    let spare = sql_uuid(&app, &uuid::Uuid::new_v4().to_string());
    let ((id0, acc0), (id1, acc1)) = (accounts[0].clone(), accounts[1].clone());
    exec(set(&id0, &spare)).await;
    exec(set(&id1, &acc0)).await;
    exec(set(&id0, &acc1)).await;
    let f = audit().await;
    assert!(
        f.starts_with(&format!("entry {}:", index[0])) && f.contains("as recorded"),
        "{f}"
    );
    exec(set(&id0, &spare)).await;
    exec(set(&id1, &acc1)).await;
    exec(set(&id0, &acc0)).await;
    assert_eq!(app.audit().await.reconciled, Some((2, 2)));
    // An amount, a token generation, a token key changed; a row removed.
    for (tamper, undo, says) in [
        (
            "UPDATE redemptions SET amount_cents = amount_cents + 1",
            "UPDATE redemptions SET amount_cents = amount_cents - 1",
            "as recorded",
        ),
        (
            "UPDATE redemptions SET token_generation = 3",
            "UPDATE redemptions SET token_generation = 0",
            "generation 3",
        ),
        (
            "UPDATE redemptions SET token_key_id = token_digest",
            "UPDATE redemptions SET token_key_id = (SELECT token_key_id FROM vouchers v WHERE v.id = redemptions.voucher_id)",
            "key",
        ),
    ] {
        exec(tamper).await;
        let f = audit().await;
        assert!(
            f.starts_with(&format!("entry {}:", index[0])) && f.contains(says),
            "{tamper}: {f}"
        );
        exec(undo).await;
        assert_eq!(app.audit().await.reconciled, Some((2, 2)), "{undo}");
    }
    exec("DELETE FROM redemptions").await;
    let f = audit().await;
    assert!(f.contains("not recorded by the service"), "{f}");
}

/// A uuid as a literal in this backend's SQL.
fn sql_uuid(app: &TestApp, id: &str) -> String {
    if app.store.is_sqlite() {
        format!("X'{}'", id.replace('-', ""))
    } else {
        format!("'{id}'")
    }
}

on_both_backends!(the_full_audit_reconciles_the_services_records_with_the_ledger);
