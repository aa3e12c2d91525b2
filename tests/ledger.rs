//! The ledger on real databases: the single writer, group commit, crash recovery, the
//! database-level append-only guarantee and the audit of stored rows. Every test runs on
//! SQLite and on PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failing test

mod common;

use std::sync::atomic::Ordering;

use kindpakket::core::audit::{AuditFailure, audit};
use kindpakket::core::entry::{
    AccountKind, AccountRef, Body, FLAG_NO_NEGATIVE, KeyPurpose, Leg, TransferKind,
};
use kindpakket::core::merkle;
use kindpakket::core::money::Cents;
use kindpakket::core::note::Checkpoint;
use kindpakket::ledger::{Command, Draft, Ledger, LedgerError, LedgerOptions};
use kindpakket::store::{Change, Db};
use kindpakket::with_db;
use uuid::Uuid;

/// A value to put into a damaged row.
#[derive(Debug)]
enum Value {
    I64(i64),
    Bytes(Vec<u8>),
    Text(String),
    Uuid(Uuid),
}

async fn account_of(ledger: &Ledger, kind: AccountKind) -> Uuid {
    let state = ledger.state().await;
    *state
        .accounts()
        .find(|(_, a)| a.kind == kind)
        .expect("account")
        .0
}

fn open(kind: AccountKind, fund: Uuid) -> (Uuid, Body) {
    let id = Uuid::new_v4();
    (
        id,
        Body::OpenAccount {
            account: AccountRef::Clear(id),
            kind,
            flags: FLAG_NO_NEGATIVE,
            fund,
            party: if kind == AccountKind::Provider {
                Uuid::new_v4()
            } else {
                Uuid::nil()
            },
        },
    )
}

/// A voucher is named by a commitment (sealed by the sequencer), every other account in the
/// clear; which side is the voucher follows from the kind.
fn refs(kind: TransferKind, debit: Uuid, credit: Uuid) -> (AccountRef, AccountRef) {
    use TransferKind as T;
    match kind {
        T::Issue | T::TopUp | T::Reverse => (AccountRef::Clear(debit), AccountRef::Voucher(credit)),
        T::Redeem | T::DirectPayment | T::Expire => {
            (AccountRef::Voucher(debit), AccountRef::Clear(credit))
        }
        T::Deposit | T::Payout | T::DepositCorrection => {
            (AccountRef::Clear(debit), AccountRef::Clear(credit))
        }
    }
}

fn transfer(kind: TransferKind, debit: Uuid, credit: Uuid, cents: i64) -> Body {
    let (debit, credit) = refs(kind, debit, credit);
    Body::Transfer {
        kind,
        category: matches!(kind, TransferKind::DirectPayment)
            .then_some(kindpakket::core::category::Category::Sport),
        reference: Uuid::nil(),
        legs: vec![Leg {
            debit,
            credit,
            amount: Cents(cents),
        }],
        attachment: Vec::new(),
    }
}

/// A fund with a deposit and an issued voucher; returns (fund, voucher, provider).
async fn world(ledger: &Ledger, deposit: i64, issue: i64) -> (Uuid, Uuid, Uuid) {
    let ext = account_of(ledger, AccountKind::External).await;
    let (fund, fund_body) = open(AccountKind::Fund, Uuid::nil());
    // The issue opens the voucher's account.
    let voucher = Uuid::new_v4();
    let (provider, open_provider) = open(AccountKind::Provider, fund);
    ledger
        .submit(Command {
            entries: vec![
                Draft::new(fund_body),
                Draft::new(open_provider),
                Draft::new(transfer(TransferKind::Deposit, ext, fund, deposit)),
                Draft::new(transfer(TransferKind::Issue, fund, voucher, issue)),
            ],
            changes: Vec::new(),
        })
        .await
        .expect("world");
    (fund, voucher, provider)
}

/// These tests write the ledger directly, without the service's records of vouchers and
/// payments: only the ledger is audited here (the service's tests reconcile both).
fn ledger_only(
    mut data: kindpakket::core::audit::LedgerData,
) -> kindpakket::core::audit::LedgerData {
    data.records = None;
    data
}

async fn audit_store(
    ledger_or_db: &kindpakket::store::Store,
) -> Result<kindpakket::core::audit::AuditReport, AuditFailure> {
    let data = ledger_only(ledger_or_db.ledger_data().await.expect("read ledger"));
    audit(&data, None)
}

async fn a_new_ledger_starts_with_genesis_and_a_signed_checkpoint(db: &common::TestDb) {
    let ledger = db.ledger().await;
    let cp = ledger.checkpoint();
    assert_eq!(
        cp.size, 4,
        "genesis, voucher key, external and bank accounts"
    );
    let vkeys = ledger.vkeys().await;
    let (parsed, _) = Checkpoint::verify(&cp.note, &vkeys).unwrap();
    assert_eq!(parsed.origin, ledger.origin());
    let report = audit_store(ledger.store()).await.unwrap();
    assert_eq!(report.size, 4);
    ledger.close().await;
    // Reopening finds the same ledger and does not add entries.
    let again = db.ledger().await;
    assert_eq!(again.checkpoint().size, 4);
    assert_eq!(again.origin(), parsed.origin);
    again.close().await;
}

async fn concurrent_commands_are_batched_and_each_gets_its_own_answer(db: &common::TestDb) {
    let ledger = db.ledger().await;
    let (_, voucher, provider) = world(&ledger, 1_000_000, 10_000).await;
    let before = ledger.checkpoint().size;
    // 150 direct payments of 100 against a balance of 10,000: exactly 100 fit.
    let mut tasks = Vec::new();
    for _ in 0..150 {
        let l = ledger.clone();
        tasks.push(tokio::spawn(async move {
            l.submit(Command::one(transfer(
                TransferKind::DirectPayment,
                voucher,
                provider,
                100,
            )))
            .await
        }));
    }
    let mut ok = Vec::new();
    let mut refused = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(a) => ok.push(a),
            Err(LedgerError::Rejected(r)) => {
                assert_eq!(r.code(), "insufficient_balance");
                refused += 1;
            }
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(ok.len(), 100);
    assert_eq!(refused, 50);
    let mut indexes: Vec<u64> = ok.iter().flat_map(|a| a.indexes.clone()).collect();
    indexes.sort();
    assert_eq!(
        indexes,
        (before..before + 100).collect::<Vec<_>>(),
        "dense, unique indexes"
    );
    let checkpoints: std::collections::HashSet<u64> =
        ok.iter().map(|a| a.checkpoint.size).collect();
    assert!(
        checkpoints.len() < 100,
        "commands were committed in shared batches"
    );
    // Every answer's checkpoint covers its entry, and the inclusion proof verifies.
    for a in &ok {
        let cp = &a.checkpoint;
        assert!(a.indexes[0] < cp.size);
        let proof = ledger.inclusion_proof(a.indexes[0], cp.size).await.unwrap();
        merkle::verify_inclusion(a.indexes[0], cp.size, &a.leaf_hashes[0], &proof, &cp.root)
            .unwrap();
    }
    let state = ledger.state().await;
    assert_eq!(state.account(&voucher).unwrap().balance, Cents(0));
    assert_eq!(state.account(&provider).unwrap().balance, Cents(10_000));
    drop(state);
    audit_store(ledger.store()).await.unwrap();
    ledger.close().await;
}

async fn a_refused_command_leaves_its_batch_and_the_database_untouched(db: &common::TestDb) {
    let ledger = db.ledger().await;
    let (fund, voucher, provider) = world(&ledger, 50_000, 10_000).await;
    // Each command notes its first entry and writes an idempotency key; the keys of `good` and
    // `conflicting` are the same, so the database refuses the second.
    let changes = |note: &str, key: &str| {
        vec![
            Change::InsertNote {
                entry: 0,
                note: Some(note.to_owned()),
                user: None,
                at: chrono::Utc::now(),
            },
            Change::InsertIdempotencyKey {
                scope: "test".into(),
                key: key.to_owned(),
                fingerprint: vec![1],
                resource_id: Uuid::new_v4(),
                at: chrono::Utc::now(),
            },
        ]
    };
    let good = Command {
        entries: vec![Draft::new(transfer(
            TransferKind::DirectPayment,
            voucher,
            provider,
            1_000,
        ))],
        changes: changes("good", "k1"),
    };
    // Two entries, the second over the balance: the whole command must vanish, write included.
    let half_bad = Command {
        entries: vec![
            Draft::new(transfer(
                TransferKind::DirectPayment,
                voucher,
                provider,
                1_000,
            )),
            Draft::new(transfer(
                TransferKind::DirectPayment,
                voucher,
                provider,
                1_000_000,
            )),
        ],
        changes: changes("half bad", "k2"),
    };
    // A row conflict (the same key as `good`) also refuses only its own command.
    let conflicting = Command {
        entries: vec![Draft::new(transfer(
            TransferKind::TopUp,
            fund,
            voucher,
            500,
        ))],
        changes: changes("conflicting", "k1"),
    };
    let (a, b, c) = tokio::join!(
        ledger.submit(good),
        ledger.submit(half_bad),
        ledger.submit(conflicting)
    );
    let a = a.expect("good command");
    assert!(
        matches!(b, Err(LedgerError::Rejected(ref r)) if r.code() == "insufficient_balance"),
        "{b:?}"
    );
    assert!(matches!(c, Err(LedgerError::Conflict)), "{c:?}");
    let rows: Vec<(String, i64)> = with_db!(ledger.store().db(), |p| {
        sqlx::query_as(
            "SELECT note, entry_index FROM entry_notes WHERE note IN ('good', 'half bad', 'conflicting')",
        )
        .fetch_all(p)
        .await
        .unwrap()
    });
    assert_eq!(
        rows,
        vec![("good".to_owned(), a.indexes[0] as i64)],
        "the row change carries its entry's index"
    );
    let state = ledger.state().await;
    assert_eq!(state.account(&voucher).unwrap().balance, Cents(9_000));
    assert_eq!(state.size(), a.indexes[0] + 1);
    drop(state);
    assert_eq!(
        ledger.store().entry_count().await.unwrap(),
        a.indexes[0] + 1
    );
    audit_store(ledger.store()).await.unwrap();
    ledger.close().await;
}

async fn a_crash_between_commit_and_checkpoint_recovers_cleanly(db: &common::TestDb) {
    let options = LedgerOptions::default();
    let faults = options.faults.clone();
    let ledger = db.ledger_with(options).await;
    let (_, voucher, provider) = world(&ledger, 50_000, 10_000).await;
    let cp_before = ledger.checkpoint();
    faults.crash_after_commit.store(true, Ordering::SeqCst);
    let draft = Draft::new(transfer(
        TransferKind::DirectPayment,
        voucher,
        provider,
        2_500,
    ));
    let id = draft.id;
    let lost = ledger
        .submit(Command {
            entries: vec![draft],
            changes: Vec::new(),
        })
        .await;
    assert!(
        matches!(lost, Err(LedgerError::Unavailable(_))),
        "the caller got no answer: {lost:?}"
    );
    ledger.close().await;
    let store = db.store().await;
    // The entry is durable, but no checkpoint covers it yet.
    let index = store
        .entry_index_by_id(id)
        .await
        .unwrap()
        .expect("committed entry");
    assert_eq!(index, cp_before.size);
    assert_eq!(
        store.latest_checkpoint().await.unwrap().unwrap().0,
        cp_before.size
    );
    // Restart: a checkpoint for the committed entry is signed, consistent with the old one.
    let ledger = db.ledger().await;
    let cp = ledger.checkpoint();
    assert_eq!(cp.size, cp_before.size + 1);
    let proof = ledger
        .consistency_proof(cp_before.size, cp.size)
        .await
        .unwrap();
    merkle::verify_consistency(cp_before.size, cp.size, &cp_before.root, &cp.root, &proof).unwrap();
    assert_eq!(
        ledger.state().await.account(&voucher).unwrap().balance,
        Cents(7_500)
    );
    let report = audit_store(ledger.store()).await.unwrap();
    assert_eq!(report.size, cp.size);
    ledger.close().await;
}

async fn only_one_process_may_write_a_ledger(db: &common::TestDb) {
    let ledger = db.ledger().await;
    let second =
        kindpakket::ledger::Ledger::open(db.store().await, &db.keys(), LedgerOptions::default())
            .await;
    assert!(
        matches!(
            second,
            Err(LedgerError::Store(kindpakket::store::StoreError::Locked(_)))
        ),
        "second writer must be refused"
    );
    ledger.close().await;
    let third = db.ledger().await;
    third.close().await;
}

async fn the_database_refuses_to_change_or_delete_ledger_rows(db: &common::TestDb) {
    let ledger = db.ledger().await;
    // A voucher, so that there are openings to protect too.
    world(&ledger, 1_000, 100).await;
    let size = ledger.state().await.size();
    ledger.close().await;
    let store = db.store().await;
    let openings_before = store.ledger_data().await.unwrap();
    assert!(
        openings_before
            .entries
            .iter()
            .any(|e| e.openings.as_ref().is_some_and(|o| !o.is_empty())),
        "the voucher's commitments have openings"
    );
    let statements: [&'static str; 8] = [
        "UPDATE ledger_entries SET kind = kind WHERE idx = 0",
        "DELETE FROM ledger_entries WHERE idx = 3",
        "UPDATE ledger_hashes SET hash = hash WHERE idx = 0",
        "DELETE FROM ledger_hashes",
        "UPDATE ledger_checkpoints SET note = note",
        "DELETE FROM ledger_checkpoints",
        "UPDATE ledger_openings SET openings = openings",
        "DELETE FROM ledger_openings",
    ];
    for sql in statements {
        let r = with_db!(store.db(), |p| sqlx::query(sql)
            .execute(p)
            .await
            .map(|_| ()));
        let err = r.expect_err(sql).to_string();
        assert!(err.contains("append-only"), "{sql}: {err}");
    }
    if db.backend == common::Backend::Postgres {
        let r = with_db!(store.db(), |p| sqlx::query(
            "TRUNCATE ledger_entries CASCADE"
        )
        .execute(p)
        .await
        .map(|_| ()));
        assert!(r.expect_err("truncate").to_string().contains("append-only"));
        let r = with_db!(store.db(), |p| sqlx::query("TRUNCATE ledger_openings")
            .execute(p)
            .await
            .map(|_| ()));
        assert!(r.expect_err("truncate").to_string().contains("append-only"));
    }
    assert_eq!(store.entry_count().await.unwrap(), size);
    let after = store.ledger_data().await.unwrap();
    for (a, b) in openings_before.entries.iter().zip(&after.entries) {
        assert_eq!(a.openings, b.openings);
    }
    audit_store(&store).await.unwrap();
}

/// Changes a stored value behind the triggers' back, as someone with raw database access could.
async fn tamper(db: &Db, sql: &'static str, value: Value, key: i64) {
    let disable: &'static str;
    let enable: &'static str;
    match db {
        Db::Sqlite(_) => {
            disable = "";
            enable = "";
        }
        Db::Postgres(_) => {
            disable = "SET session_replication_role = replica";
            enable = "SET session_replication_role = origin";
        }
    }
    with_db!(db, |p| {
        let mut c = p.acquire().await.unwrap();
        if let Db::Sqlite(_) = db {
            // SQLite cannot switch triggers off: drop them and restore them from the schema.
            let triggers: Vec<(String, String)> =
                sqlx::query_as("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
                    .fetch_all(&mut *c)
                    .await
                    .unwrap();
            for (name, _) in &triggers {
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP TRIGGER {name}")))
                    .execute(&mut *c)
                    .await
                    .unwrap();
            }
            let q = sqlx::query(sql);
            let q = match &value {
                Value::Bytes(b) => q.bind(b.clone()),
                Value::I64(i) => q.bind(*i),
                Value::Text(t) => q.bind(t.clone()),
                Value::Uuid(u) => q.bind(*u),
            };
            q.bind(key).execute(&mut *c).await.unwrap();
            for (_, ddl) in &triggers {
                sqlx::raw_sql(sqlx::AssertSqlSafe(ddl.clone()))
                    .execute(&mut *c)
                    .await
                    .unwrap();
            }
        } else {
            sqlx::raw_sql(disable).execute(&mut *c).await.unwrap();
            let q = sqlx::query(sql);
            let q = match &value {
                Value::Bytes(b) => q.bind(b.clone()),
                Value::I64(i) => q.bind(*i),
                Value::Text(t) => q.bind(t.clone()),
                Value::Uuid(u) => q.bind(*u),
            };
            q.bind(key).execute(&mut *c).await.unwrap();
            sqlx::raw_sql(enable).execute(&mut *c).await.unwrap();
        }
    });
}

fn flip(bytes: &[u8], at: usize) -> Vec<u8> {
    let mut b = bytes.to_vec();
    b[at] ^= 0x01;
    b
}

async fn flipping_a_byte_of_any_stored_ledger_row_fails_the_audit_and_names_the_entry(
    db: &common::TestDb,
) {
    let ledger = db.ledger().await;
    let (_, voucher, provider) = world(&ledger, 50_000, 10_000).await;
    ledger
        .submit(Command::one(transfer(
            TransferKind::DirectPayment,
            voucher,
            provider,
            700,
        )))
        .await
        .unwrap();
    ledger.close().await;
    let store = db.store().await;
    let data = ledger_only(store.ledger_data().await.unwrap());
    audit(&data, None).unwrap();
    let sqlite = store.is_sqlite();
    let expect_entry = |r: Result<_, AuditFailure>, want: u64, what: &str| match r {
        Err(AuditFailure::Entry { index, .. }) => assert_eq!(index, want, "{what}"),
        other => panic!("{what}: {other:?}"),
    };
    for row in &data.entries {
        let i = row.index;
        let n = row.bytes.len();
        for at in [0, 1, 9, 20, 35, 36, n / 2, n - 65, n - 1] {
            tamper(
                store.db(),
                "UPDATE ledger_entries SET entry = $1 WHERE idx = $2",
                Value::Bytes(flip(&row.bytes, at)),
                i,
            )
            .await;
            expect_entry(
                audit_store(&store).await,
                row.index as u64,
                &format!("entry {i} byte {at}"),
            );
            tamper(
                store.db(),
                "UPDATE ledger_entries SET entry = $1 WHERE idx = $2",
                Value::Bytes(row.bytes.clone()),
                i,
            )
            .await;
        }
        let id = row.id.unwrap();
        for at in [0, 15] {
            let other = Uuid::from_slice(&flip(id.as_bytes(), at)).unwrap();
            tamper(
                store.db(),
                "UPDATE ledger_entries SET entry_id = $1 WHERE idx = $2",
                Value::Uuid(other),
                i,
            )
            .await;
            expect_entry(
                audit_store(&store).await,
                row.index as u64,
                &format!("entry_id of {i}"),
            );
            tamper(
                store.db(),
                "UPDATE ledger_entries SET entry_id = $1 WHERE idx = $2",
                Value::Uuid(id),
                i,
            )
            .await;
        }
        let kind = row.kind.unwrap();
        for bit in [1i64, 1 << 8] {
            let sql: &'static str = if sqlite {
                "UPDATE ledger_entries SET kind = $1 WHERE idx = $2"
            } else {
                "UPDATE ledger_entries SET kind = CAST($1 AS SMALLINT) WHERE idx = $2"
            };
            tamper(store.db(), sql, Value::I64(kind ^ bit), i).await;
            expect_entry(
                audit_store(&store).await,
                row.index as u64,
                &format!("kind of {i}"),
            );
            tamper(store.db(), sql, Value::I64(kind), i).await;
        }
    }
    // The index column: moving the last entry elsewhere is caught at that entry.
    let last = data.entries.len() as i64 - 1;
    tamper(
        store.db(),
        "UPDATE ledger_entries SET idx = $1 WHERE idx = $2",
        Value::I64(last + 1000),
        last,
    )
    .await;
    expect_entry(audit_store(&store).await, last as u64, "index column");
    tamper(
        store.db(),
        "UPDATE ledger_entries SET idx = $1 WHERE idx = $2",
        Value::I64(last),
        last + 1000,
    )
    .await;
    // A negative index is reported as the number it is, never wrapped into a huge one.
    tamper(
        store.db(),
        "UPDATE ledger_entries SET idx = $1 WHERE idx = $2",
        Value::I64(-1),
        0,
    )
    .await;
    match audit_store(&store).await {
        Err(AuditFailure::Entry { index: 0, reason }) => {
            assert_eq!(reason, "stored at index -1", "negative index column")
        }
        other => panic!("negative index column: {other:?}"),
    }
    tamper(
        store.db(),
        "UPDATE ledger_entries SET idx = $1 WHERE idx = $2",
        Value::I64(0),
        -1,
    )
    .await;

    for (pos, hash) in data.stored_hashes.as_ref().unwrap() {
        let expected = merkle::record_of_stored_index(*pos as u64);
        for at in [0, 31] {
            tamper(
                store.db(),
                "UPDATE ledger_hashes SET hash = $1 WHERE idx = $2",
                Value::Bytes(flip(hash.as_slice(), at)),
                *pos,
            )
            .await;
            expect_entry(audit_store(&store).await, expected, &format!("hash {pos}"));
            tamper(
                store.db(),
                "UPDATE ledger_hashes SET hash = $1 WHERE idx = $2",
                Value::Bytes(hash.to_vec()),
                *pos,
            )
            .await;
        }
    }
    for (size, note) in &data.checkpoints {
        for at in [0, note.find('\n').unwrap() + 1, note.len() - 3] {
            let flipped = String::from_utf8(flip(note.as_bytes(), at)).unwrap();
            tamper(
                store.db(),
                "UPDATE ledger_checkpoints SET note = $1 WHERE size = $2",
                Value::Text(flipped),
                *size,
            )
            .await;
            match audit_store(&store).await {
                Err(AuditFailure::Checkpoint { size: s, .. }) => assert_eq!(s, *size),
                other => panic!("checkpoint {size} byte {at}: {other:?}"),
            }
            tamper(
                store.db(),
                "UPDATE ledger_checkpoints SET note = $1 WHERE size = $2",
                Value::Text(note.clone()),
                *size,
            )
            .await;
        }
    }
    audit_store(&store).await.unwrap();
}

async fn key_rotation_keeps_old_keys_verifiable(db: &common::TestDb) {
    let ledger = db.ledger().await;
    let old_vkeys = ledger.vkeys().await;
    let old_cp = ledger.checkpoint();
    ledger.rotate(KeyPurpose::Voucher).await.unwrap();
    ledger.rotate(KeyPurpose::Ledger).await.unwrap();
    let vkeys = ledger.vkeys().await;
    assert_eq!(vkeys.len(), 2);
    assert_eq!(vkeys[0], old_vkeys[0], "the old ledger key stays published");
    let cp = ledger.checkpoint();
    // The new checkpoint is signed by the new key only; the old one by the old key.
    let (_, signed) = Checkpoint::verify(&cp.note, &vkeys).unwrap();
    assert_eq!(signed.signed_by, vec![vkeys[1].clone()]);
    Checkpoint::verify(&old_cp.note, &old_vkeys).unwrap();
    let state = ledger.state().await;
    let voucher_keys = state.keys(KeyPurpose::Voucher);
    assert_eq!(voucher_keys.len(), 2);
    assert_eq!(
        voucher_keys
            .values()
            .filter(|k| k.retired_at.is_none())
            .count(),
        1
    );
    drop(state);
    ledger.close().await;
    // Restart with the rotated keys, append, audit everything.
    let ledger = db.ledger().await;
    world(&ledger, 1_000, 500).await;
    let report = audit_store(ledger.store()).await.unwrap();
    assert!(report.checkpoints >= 4);
    ledger.close().await;
}

/// PostgreSQL drops the writer's connection (a server restart, an idle timeout): the next
/// command fails cleanly, the writer reconnects and takes its lock again, and then it works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_writer_reconnects_after_postgres_drops_its_connection() {
    let Some(db) = common::TestDb::new(common::Backend::Postgres).await else {
        eprintln!("PostgreSQL tests switched off");
        return;
    };
    let ledger = db.ledger().await;
    let (_, voucher, provider) = world(&ledger, 50_000, 10_000).await;
    let dbname = db.url.rsplit('/').next().unwrap().to_owned();
    with_db!(ledger.store().db(), |p| {
        let killed: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE application_name = 'kindpakket-writer' AND datname = $1",
        )
        .bind(dbname)
        .fetch_all(p)
        .await
        .unwrap();
        assert_eq!(killed, vec![true]);
    });
    let first = ledger
        .submit(Command::one(transfer(
            TransferKind::DirectPayment,
            voucher,
            provider,
            100,
        )))
        .await;
    assert!(
        matches!(first, Err(LedgerError::Unavailable(_))),
        "{first:?}"
    );
    assert!(
        kindpakket::ledger::wait_until(std::time::Duration::from_secs(10), || ledger.is_running())
            .await
    );
    let second = ledger
        .submit(Command::one(transfer(
            TransferKind::DirectPayment,
            voucher,
            provider,
            100,
        )))
        .await;
    assert!(second.is_ok(), "{second:?}");
    assert_eq!(
        ledger.state().await.account(&voucher).unwrap().balance,
        Cents(9_900)
    );
    audit_store(ledger.store()).await.unwrap();
    ledger.close().await;
    db.cleanup().await;
}

async fn an_audit_while_the_ledger_grows_sees_a_consistent_snapshot(db: &common::TestDb) {
    let ledger = db.ledger().await;
    let (_, voucher, provider) = world(&ledger, 10_000_000, 1_000_000).await;
    let writer = {
        let ledger = ledger.clone();
        tokio::spawn(async move {
            for _ in 0..1200 {
                ledger
                    .submit(Command::one(transfer(
                        TransferKind::DirectPayment,
                        voucher,
                        provider,
                        1,
                    )))
                    .await
                    .unwrap();
            }
        })
    };
    let store = db.store().await;
    let mut audits = 0;
    while !writer.is_finished() {
        let data = ledger_only(store.ledger_data().await.unwrap());
        audit(&data, None).unwrap_or_else(|f| panic!("audit during appends: {f}"));
        audits += 1;
    }
    writer.await.unwrap();
    assert!(
        audits >= 2,
        "audited while the ledger grew ({audits} times)"
    );
    ledger.close().await;
}

/// Each kind of failure is named for what it is, whoever calls: a proof the tree cannot give
/// is the caller's mistake (not "unavailable"), an entry that cannot be encoded refuses only
/// its own command (not the batch, not "unavailable"), and a bad origin for a new ledger is a
/// configuration mistake (not damage).
async fn the_ledger_names_each_kind_of_failure_for_what_it_is(db: &common::TestDb) {
    let ledger = db.ledger().await;
    let (fund, voucher, provider) = world(&ledger, 50_000, 10_000).await;
    let size = ledger.checkpoint().size;
    for r in [
        ledger.inclusion_proof(size, size).await,
        ledger.inclusion_proof(0, size + 5).await,
        ledger.consistency_proof(size, size - 1).await,
        ledger.consistency_proof(1, size + 1).await,
    ] {
        assert!(matches!(r, Err(LedgerError::InvalidRequest(_))), "{r:?}");
    }
    // 256 legs pass the rules but not the format (at most 255 legs per transfer).
    let too_many_legs = Command::one(Body::Transfer {
        kind: TransferKind::Expire,
        category: None,
        reference: Uuid::nil(),
        legs: vec![
            Leg {
                debit: AccountRef::Voucher(voucher),
                credit: AccountRef::Clear(fund),
                amount: Cents(1),
            };
            256
        ],
        attachment: Vec::new(),
    });
    let fine = Command::one(transfer(
        TransferKind::DirectPayment,
        voucher,
        provider,
        100,
    ));
    let (a, b) = tokio::join!(ledger.submit(too_many_legs), ledger.submit(fine));
    assert!(matches!(a, Err(LedgerError::Encode(_))), "{a:?}");
    b.expect("the other command of the batch is booked");
    assert!(ledger.is_running(), "the ledger carries on");
    let state = ledger.state().await;
    assert_eq!(state.account(&voucher).unwrap().balance, Cents(9_900));
    drop(state);
    audit_store(ledger.store()).await.unwrap();
    ledger.close().await;
    let fresh = common::TestDb::new(db.backend)
        .await
        .expect("a second database");
    let options = LedgerOptions {
        origin: Some("two words".into()),
        ..LedgerOptions::default()
    };
    let r = Ledger::open(fresh.store().await, &fresh.keys(), options).await;
    assert!(
        matches!(r, Err(LedgerError::InvalidOrigin(_))),
        "{:?}",
        r.err()
    );
    fresh.cleanup().await;
}

on_both_backends!(
    the_ledger_names_each_kind_of_failure_for_what_it_is,
    an_audit_while_the_ledger_grows_sees_a_consistent_snapshot,
    a_new_ledger_starts_with_genesis_and_a_signed_checkpoint,
    concurrent_commands_are_batched_and_each_gets_its_own_answer,
    a_refused_command_leaves_its_batch_and_the_database_untouched,
    a_crash_between_commit_and_checkpoint_recovers_cleanly,
    only_one_process_may_write_a_ledger,
    the_database_refuses_to_change_or_delete_ledger_rows,
    flipping_a_byte_of_any_stored_ledger_row_fails_the_audit_and_names_the_entry,
    key_rotation_keeps_old_keys_verifiable,
);
