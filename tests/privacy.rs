//! The public ledger carries no trail of any child (ledger format v2): no token, no hash of a
//! token, no voucher id from a token, and no value that ties one voucher's entries together.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failing test

mod common;

use std::collections::{BTreeMap, BTreeSet, HashSet};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use common::TestApp;
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

/// Fields that say what kind of event an entry is, not whose: the same for every voucher that
/// has such an event (a voucher that was blocked has an `account_state` entry, one that was not
/// has none).
const KINDS: [&str; 6] = [
    "kind",
    "transfer_kind",
    "status",
    "account_kind",
    "category",
    "flags",
];

/// The field values of an entry's JSON view that could tie entries together: every value in
/// the body (accounts, commitments, references, amounts, attachments) and the signer's key id.
/// Left out: what is unique to each entry by construction (index, id, bytes, leaf hash), the
/// kind fields above, and its time, which `docs/privacy.md` discusses with amounts.
fn values(view: &Value) -> BTreeSet<String> {
    fn walk(path: &str, v: &Value, out: &mut BTreeSet<String>) {
        match v {
            Value::Object(m) => m.iter().for_each(|(k, v)| walk(k, v, out)),
            Value::Array(a) => a.iter().for_each(|v| walk(path, v, out)),
            Value::Null => {}
            _ if KINDS.contains(&path) => {}
            other => {
                out.insert(format!("{path}={other}"));
            }
        }
    }
    let mut out = BTreeSet::new();
    walk("body", &view["body"], &mut out);
    out.insert(format!("key_id={}", view["key_id"]));
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

async fn two_vouchers_leave_no_trail(db: &common::TestDb) {
    let app = TestApp::new(db).await;
    let w = app.world().await;
    // Three payments with each voucher, the same amounts for both.
    for cents in [1_000, 2_500, 4_000] {
        for i in 0..2 {
            let r = app.redeem(&w.token(i), &w.cashier, cents, "sport").await;
            assert_eq!(r.status, 201, "{}", r.text);
        }
    }
    let old_token = w.token(0);
    // Voucher 0: a top-up, a block and a reissue.
    let v0 = w.voucher_id(0);
    let r = app
        .post(
            &format!("/api/v1/vouchers/{v0}/top-ups"),
            Some(&w.staff),
            json!({"amount_cents": 5_000, "reason": "extra"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = app
        .post(
            &format!("/api/v1/vouchers/{v0}/block"),
            Some(&w.staff),
            json!({"reason": "kwijt"}),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text);
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
    assert!(mine[0].len() >= 8 && mine[1].len() >= 5, "{mine:?}");
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
    for (me, other) in [(0, 1), (1, 0)] {
        let mut count: BTreeMap<&String, usize> = BTreeMap::new();
        for vals in &per_voucher[me] {
            for v in vals {
                *count.entry(v).or_default() += 1;
            }
        }
        let theirs: BTreeSet<&String> = per_voucher[other].iter().flatten().collect();
        for (v, n) in count {
            if n >= 2 {
                assert!(
                    theirs.contains(v),
                    "{v} ties {n} entries of voucher {me} together and voucher {other} has none"
                );
            }
        }
    }
    // Every commitment is fresh: no 32-byte commitment appears twice on the ledger.
    let mut seen = HashSet::new();
    let commitment = regex::Regex::new(r#""[a-z_]*commitment":"([0-9a-f]{64})""#).expect("regex");
    for (_, _, v) in &entries {
        let text = v["body"].to_string();
        for m in commitment.captures_iter(&text) {
            assert!(seen.insert(m[1].to_owned()), "commitment {} twice", &m[1]);
        }
    }
    assert!(seen.len() >= 13, "{} commitments", seen.len());
    // And both audits pass: the full one opens every commitment, the public one does not.
    let full = app.audit().await;
    let public = app.audit_public().await;
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
    assert_eq!(full.commitments, seen.len());
    for kind in ["fund", "provider", "bank", "external", "voucher"] {
        assert_eq!(full.balances[kind], public.balances[kind], "{kind}");
    }
    app.close().await;
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

on_both_backends!(two_vouchers_leave_no_trail);
