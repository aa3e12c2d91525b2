//! The public ledger carries no trail of any child (ledger format v2): no token, no hash of a
//! token, no voucher id from a token, and no value that ties one voucher's entries together.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failing test

mod common;

use std::collections::{BTreeMap, BTreeSet, HashSet};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use common::{TestApp, TestClock};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Every public entry: its canonical bytes and its JSON view, as anyone can download them.
async fn public_entries(app: &TestApp) -> Vec<(u64, Vec<u8>, Value)> {
    let size = app.ledger.checkpoint().size;
    let mut out = Vec::new();
    let mut start = 0;
    while start < size {
        let r = app
            .get(
                &format!("/api/v1/ledger/entries?start={start}&end={size}"),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let page = r.json();
        let page = page.as_array().expect("an array");
        assert!(!page.is_empty());
        for e in page {
            let index = e["index"].as_u64().expect("index");
            let bytes = B64
                .decode(e["entry_b64"].as_str().expect("entry_b64"))
                .expect("base64");
            out.push((index, bytes, e.clone()));
        }
        start += page.len() as u64;
    }
    out
}

/// Fields that say what kind of event an entry is, not whose: enumerations that are the same
/// for every voucher that has such an event (a voucher that was blocked has an `account_state`
/// entry, one that was not has none).
const KINDS: [&str; 6] = [
    "kind",
    "transfer_kind",
    "status",
    "account_kind",
    "category",
    "flags",
];

/// The field values of an entry's JSON view that could tie entries together: every value in
/// the body (accounts, commitments, amounts), its time, the signer's key id, and its entry id
/// together with any reference to an entry id (named `entry=` both, so that a reference ties
/// the referring entry to the one it names). Left out: what is unique to each entry by
/// construction (index, bytes, leaf hash) and the kind fields above.
fn values(view: &Value) -> BTreeSet<String> {
    fn walk(path: &str, v: &Value, out: &mut BTreeSet<String>) {
        match v {
            Value::Object(m) => m.iter().for_each(|(k, v)| walk(k, v, out)),
            Value::Array(a) => a.iter().for_each(|v| walk(path, v, out)),
            Value::Null => {}
            _ if KINDS.contains(&path) => {}
            other if path == "reference" => {
                out.insert(format!("entry={other}"));
            }
            other => {
                out.insert(format!("{path}={other}"));
            }
        }
    }
    let mut out = BTreeSet::new();
    walk("body", &view["body"], &mut out);
    assert!(view["id"].is_string(), "an entry has an id");
    out.insert(format!("entry={}", view["id"]));
    out.insert(format!("time={}", view["time"]));
    out.insert(format!("key_id={}", view["key_id"]));
    assert!(!view["time"].is_null(), "an entry has a time");
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

async fn two_vouchers_leave_no_trail(db: &common::TestDb) {
    // Every step a second later, as in real use: times are compared too.
    let clock = TestClock::at("2026-06-01");
    let tick = || {
        clock
            .0
            .fetch_add(1_000, std::sync::atomic::Ordering::SeqCst);
    };
    let app = TestApp::with_clock(db, &clock).await;
    let w = app.world_with(tick).await;
    // Three payments with each voucher, the same amounts for both.
    let mut redemptions: [Vec<String>; 2] = [Vec::new(), Vec::new()];
    for cents in [1_000, 2_500, 4_000] {
        for (i, ids) in redemptions.iter_mut().enumerate() {
            tick();
            let r = app.redeem(&w.token(i), &w.cashier, cents, "sport").await;
            assert_eq!(r.status, 201, "{}", r.text);
            ids.push(r.json()["id"].as_str().unwrap().to_owned());
        }
    }
    // Voucher 1's first payment is reversed: the one link the ledger makes on purpose (a
    // reversal names the payment it mirrors).
    tick();
    let reversed = redemptions[1][0].clone();
    let r = app
        .post(
            &format!("/api/v1/redemptions/{reversed}/reverse"),
            Some(&w.manager),
            json!({"reason": "dubbel geboekt"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let old_token = w.token(0);
    // Voucher 0: a top-up, a block and a reissue.
    let v0 = w.voucher_id(0);
    tick();
    let r = app
        .post(
            &format!("/api/v1/vouchers/{v0}/top-ups"),
            Some(&w.staff),
            json!({"amount_cents": 5_000, "reason": "extra"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    tick();
    let r = app
        .post(
            &format!("/api/v1/vouchers/{v0}/block"),
            Some(&w.staff),
            json!({"reason": "kwijt"}),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    tick();
    let r = app
        .post(
            &format!("/api/v1/vouchers/{v0}/reissue"),
            Some(&w.staff),
            json!({}),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    let new_token = r.json()["token"].as_str().expect("a new token").to_owned();
    assert_ne!(new_token, old_token);

    let entries = public_entries(&app).await;
    let all_bytes: Vec<&[u8]> = entries.iter().map(|(_, b, _)| b.as_slice()).collect();
    let all_json: Vec<String> = entries.iter().map(|(_, _, v)| v.to_string()).collect();

    // Nothing of any token is public: not its voucher id, not its signature, no hash of it.
    for text in [old_token.as_str(), new_token.as_str(), w.token(1).as_str()] {
        let token = kindpakket::core::token::VoucherToken::parse(text).expect("a token");
        let bytes = token.to_bytes();
        let id = &bytes[5..21];
        let signature = &bytes[27..91];
        let uuid = uuid::Uuid::from_slice(id).expect("uuid");
        let forbidden_bytes: Vec<Vec<u8>> = vec![
            id.to_vec(),
            signature.to_vec(),
            Sha256::digest(bytes).to_vec(),
            Sha256::digest(text.as_bytes()).to_vec(),
            bytes[..27].to_vec(),
        ];
        for (n, b) in all_bytes.iter().enumerate() {
            for f in &forbidden_bytes {
                assert!(!contains(b, f), "entry {n} carries part of token {text}");
            }
        }
        let forbidden_text: Vec<String> = forbidden_bytes
            .iter()
            .flat_map(|b| [hex(b), B64.encode(b)])
            .chain([uuid.to_string(), uuid.simple().to_string()])
            .collect();
        for (n, j) in all_json.iter().enumerate() {
            for f in &forbidden_text {
                assert!(!j.contains(f.as_str()), "entry {n}'s JSON carries {f}");
            }
        }
    }
    // Nor the vouchers' ledger accounts, which only the openings name.
    let mut accounts = Vec::new();
    for i in 0..2 {
        let v = app
            .store
            .voucher(w.voucher_id(i).parse().expect("uuid"))
            .await
            .expect("store")
            .expect("voucher");
        assert_ne!(
            v.account_id, v.id,
            "the account id is not the token's voucher id"
        );
        for (n, b) in all_bytes.iter().enumerate() {
            assert!(
                !contains(b, v.account_id.as_bytes()),
                "entry {n} names an account"
            );
        }
        for (n, j) in all_json.iter().enumerate() {
            assert!(
                !j.contains(&v.account_id.to_string()),
                "entry {n} names an account"
            );
        }
        accounts.push(v.account_id);
    }

    // Which public entries belong to which voucher: only the writer's private state knows.
    let mine: Vec<HashSet<u64>> = {
        let state = app.ledger.state().await;
        accounts
            .iter()
            .map(|a| state.history(a).iter().copied().collect())
            .collect()
    };
    // Voucher 0: its issue, three payments, a top-up, a block and a reissue; voucher 1: its
    // issue, three payments and a reversal. The issue opens the account: no other entry.
    assert_eq!((mine[0].len(), mine[1].len()), (7, 5), "{mine:?}");
    let per_voucher: Vec<Vec<BTreeSet<String>>> = mine
        .iter()
        .map(|set| {
            entries
                .iter()
                .filter(|(i, _, _)| set.contains(i))
                .map(|(_, _, v)| values(v))
                .collect()
        })
        .collect();
    // A value carried by two or more of one voucher's entries must also be carried by the
    // other voucher's entries: then it says nothing about which child it is.
    let mut link_seen = false;
    for (me, other) in [(0, 1), (1, 0)] {
        let mut count: BTreeMap<&String, usize> = BTreeMap::new();
        for vals in &per_voucher[me] {
            for v in vals {
                *count.entry(v).or_default() += 1;
            }
        }
        let theirs: BTreeSet<&String> = per_voucher[other].iter().flatten().collect();
        for (v, n) in count {
            // The one link allowed: the reversal and the payment it reverses.
            if *v == format!("entry={}", json!(reversed)) {
                assert_eq!((me, n), (1, 2), "only the reversal refers to the payment");
                link_seen = true;
                continue;
            }
            if n >= 2 {
                assert!(
                    theirs.contains(v),
                    "{v} ties {n} entries of voucher {me} together and voucher {other} has none"
                );
            }
        }
    }
    assert!(link_seen, "the reversal names the payment it reverses");
    // Every commitment is fresh: no 32-byte commitment appears twice on the ledger.
    let mut seen = HashSet::new();
    let commitment = regex::Regex::new(r#""[a-z_]*commitment":"([0-9a-f]{64})""#).expect("regex");
    for (_, _, v) in &entries {
        let text = v["body"].to_string();
        for m in commitment.captures_iter(&text) {
            assert!(seen.insert(m[1].to_owned()), "commitment {} twice", &m[1]);
        }
    }
    assert!(seen.len() >= 11, "{} commitments", seen.len());
    // The full audit opens every one of them; `close` runs both audits and compares them.
    let full = app.audit().await;
    assert_eq!(full.commitments, seen.len());
    app.close().await;
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

on_both_backends!(two_vouchers_leave_no_trail);

/// Issuing for a whole fund pooled per household books the households together: one `issue`
/// entry holds many households' legs, shuffled, so neither a leg count nor the order of the
/// entries tells the public a family's size or who are siblings.
async fn a_whole_fund_is_issued_in_shared_shuffled_entries(db: &common::TestDb) {
    use kindpakket::core::entry::{Body, TransferKind};
    let app = TestApp::new(db).await;
    let w = app.world().await;
    let year = w.year;
    let r = app
        .post(
            "/api/v1/funds",
            Some(&w.admin),
            json!({"name": "Gezinsbudget", "sponsor": "Gemeente",
                "valid_from": format!("{year}-01-01"), "valid_until": format!("{year}-12-31"),
                "categories": ["sport"], "amount_per_child_cents": 10_000,
                "pooling": "household", "max_age_years": 17}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let fund = r.json()["id"].as_str().unwrap().to_owned();
    let r = app
        .post(
            &format!("/api/v1/funds/{fund}/deposits"),
            Some(&w.finance),
            json!({"amount_cents": 5_000_000, "reference": "Beschikking"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    // 130 households of one, two or three children, and the world's household of two: 261
    // children, more than the 255 legs one entry can hold.
    let mut children_of = std::collections::HashMap::new();
    for n in 0..130 {
        let kids = 1 + n % 3;
        let children: Vec<Value> = (0..kids)
            .map(|k| json!({"first_name": format!("Kind{k}"), "birth_date": format!("201{k}-05-0{}", 1 + k)}))
            .collect();
        let r = app
            .post(
                "/api/v1/households",
                Some(&w.staff),
                json!({"reference": format!("LG-{:04}", 100 + n), "parent_name": "Ouder", "children": children}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        children_of.insert(r.json()["id"].as_str().unwrap().to_owned(), kids);
    }
    children_of.insert(w.household.clone(), 2);
    let before = app.ledger.checkpoint().size;
    let staff = kindpakket::service::sessions::authenticate(&app.state.services, Some(&w.staff))
        .await
        .unwrap();
    let fund_id: uuid::Uuid = fund.parse().unwrap();
    let out = kindpakket::service::vouchers::issue_all(&app.state.services, &staff, fund_id)
        .await
        .unwrap();
    assert_eq!(
        (out.issued, out.already, out.no_money),
        (131, 0, 0),
        "{out:?}"
    );

    // Publicly: two issue entries (255 legs do not hold 261), each leg one child's amount to
    // its own commitment.
    let entries: Vec<(u64, Vec<u8>, Value)> = public_entries(&app)
        .await
        .into_iter()
        .filter(|(i, _, _)| *i >= before)
        .collect();
    assert_eq!(entries.len(), 2, "one entry per 255 legs at most");
    let mut legs_seen = 0;
    let mut sizes = Vec::new();
    let mut seen = HashSet::new();
    for (_, _, v) in &entries {
        assert_eq!(v["body"]["transfer_kind"], "issue", "{v}");
        let legs = v["body"]["legs"].as_array().unwrap();
        assert!(legs.len() <= 255 && legs.len() > 1, "{}", legs.len());
        for l in legs {
            assert_eq!(l["amount_cents"], 10_000, "{l}");
            assert_eq!(l["debit"], fund.as_str());
            assert!(l["credit"].is_null());
            assert!(seen.insert(l["credit_commitment"].as_str().unwrap().to_owned()));
        }
        legs_seen += legs.len();
        sizes.push(legs.len());
    }
    assert_eq!(legs_seen, 261);
    // Spread evenly: no entry is left with a household or two on its own.
    let (min, max) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
    assert!(max - min <= 3, "{sizes:?}");

    // Privately (through the openings): every voucher is opened by one of these entries and
    // holds its household's children's amounts; households' legs are mixed within an entry.
    let indexes: Vec<u64> = entries.iter().map(|(i, _, _)| *i).collect();
    let rows = app.store.entries_at(&indexes).await.unwrap();
    let mut legs_of: BTreeMap<uuid::Uuid, Vec<usize>> = BTreeMap::new();
    let mut first = true;
    for row in rows {
        let e = row.decode().unwrap();
        let Body::Transfer {
            kind: TransferKind::Issue,
            legs,
            ..
        } = &e.entry.body
        else {
            panic!("not an issue")
        };
        let mut positions: BTreeMap<uuid::Uuid, Vec<usize>> = BTreeMap::new();
        for (slot, l) in legs.iter().enumerate() {
            let account = l.credit.account().expect("an opened leg");
            positions.entry(account).or_default().push(slot);
            legs_of.entry(account).or_default().push(slot);
        }
        // In a shuffled entry some household's legs are not side by side (that every one of
        // ~85 households with several children lands in one run is vanishingly unlikely).
        if first {
            let apart = positions
                .values()
                .filter(|p| p.len() > 1)
                .any(|p| p.windows(2).any(|w| w[1] != w[0] + 1));
            assert!(apart, "{positions:?}");
            first = false;
        }
    }
    assert_eq!(legs_of.len(), 131, "every voucher opened by these entries");
    let state = app.ledger.state().await;
    for (h, kids) in &children_of {
        let vs = app
            .store
            .household_vouchers(h.parse().unwrap())
            .await
            .unwrap();
        let v = vs.iter().find(|v| v.fund_id == fund_id).expect("a voucher");
        assert_eq!(legs_of[&v.account_id].len(), *kids as usize);
        let acc = state.account(&v.account_id).expect("its account");
        assert_eq!(acc.balance.0, 10_000 * *kids as i64);
        assert!(indexes.contains(&state.history(&v.account_id)[0]));
    }
    drop(state);
    app.close().await;
}

on_both_backends!(a_whole_fund_is_issued_in_shared_shuffled_entries);
