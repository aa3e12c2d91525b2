//! The `kindpakket` binary as operators and auditors use it: user add before the first serve,
//! verify, export + verify --export, a trusted key, tampering caught by verify, key rotation.
//! Every test runs on SQLite and on PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failing test

mod common;

use std::process::{Command, Output, Stdio};

fn kp(db: &common::TestDb, args: &[&str], stdin: Option<&str>) -> Output {
    kp_env(db, args, &[], stdin)
}

/// Runs the binary with extra environment variables (flags' fallbacks).
fn kp_env(
    db: &common::TestDb,
    args: &[&str],
    envs: &[(&str, &str)],
    stdin: Option<&str>,
) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_kindpakket"))
        .args(args)
        .env("KINDPAKKET_DATABASE", &db.url)
        .env("KINDPAKKET_KEYS", db.keys())
        .env("RUST_LOG", "warn")
        .env_remove("KINDPAKKET_PASSWORD")
        .envs(envs.iter().copied())
        .current_dir(db.dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run kindpakket");
    if let Some(s) = stdin {
        // A command that refuses its arguments exits without reading stdin: a broken pipe
        // is then the expected end of the write, not a failure.
        match child.stdin.take().unwrap().write_all(s.as_bytes()) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            Err(e) => panic!("writing stdin: {e}"),
        }
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn out(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

async fn user_add_works_before_the_first_serve_and_creates_private_keys(db: &common::TestDb) {
    let o = kp(
        db,
        &["user", "add", "--username", "beheer", "--role", "admin"],
        Some("beheer-wachtwoord-1\n"),
    );
    assert!(o.status.success(), "{}", out(&o));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let files: Vec<_> = std::fs::read_dir(db.keys())
            .unwrap()
            .map(|e| e.unwrap())
            .collect();
        let pems = files
            .iter()
            .filter(|f| f.path().extension().is_some_and(|e| e == "pem"))
            .count();
        assert_eq!(pems, 2, "a ledger key and a voucher key");
        assert!(files.iter().any(|f| f.file_name() == "link-secret"));
        // The SQLite database holds personal data and password hashes: owner only, and so are
        // its -wal and -shm files, which SQLite creates with the database's mode.
        if let Some(path) = db.url.strip_prefix("sqlite://") {
            let dir = std::path::Path::new(path).parent().unwrap();
            let name = std::path::Path::new(path).file_name().unwrap().to_owned();
            let mut seen = 0;
            for f in std::fs::read_dir(dir).unwrap().map(|e| e.unwrap()) {
                if f.file_name()
                    .to_string_lossy()
                    .starts_with(&*name.to_string_lossy())
                {
                    seen += 1;
                    let mode = f.metadata().unwrap().permissions().mode() & 0o777;
                    assert_eq!(mode, 0o600, "{:?}", f.file_name());
                }
            }
            assert!(seen >= 1);
        }
        for f in files {
            assert_eq!(f.metadata().unwrap().permissions().mode() & 0o777, 0o600);
            let secret = std::fs::read_to_string(f.path()).unwrap();
            let line = secret.lines().find(|l| !l.starts_with("-----")).unwrap();
            assert!(!out(&o).contains(line), "key material is never printed");
        }
    }
    let again = kp(
        db,
        &["user", "add", "--username", "beheer", "--role", "admin"],
        Some("ander-wachtwoord-1\n"),
    );
    assert!(!again.status.success());
    assert!(out(&again).contains("already taken"), "{}", out(&again));
    let bad_role = kp(
        db,
        &["user", "add", "--username", "x", "--role", "koning"],
        Some("x-wachtwoord-12\n"),
    );
    assert!(!bad_role.status.success());
    let short = kp(
        db,
        &["user", "add", "--username", "y", "--role", "staff"],
        Some("kort\n"),
    );
    assert!(!short.status.success());
    let cashier_without_provider = kp(
        db,
        &["user", "add", "--username", "z", "--role", "cashier"],
        Some("z-wachtwoord-12\n"),
    );
    assert!(!cashier_without_provider.status.success());
    let store = db.store().await;
    assert!(store.credentials("beheer").await.unwrap().is_some());
    assert!(store.credentials("y").await.unwrap().is_none());
}

async fn export_and_verify_round_trip_and_a_trusted_key_is_checked(db: &common::TestDb) {
    let o = kp(db, &["keys", "rotate", "--purpose", "ledger"], None);
    assert!(o.status.success(), "{}", out(&o));
    let o = kp(db, &["keys", "rotate", "--purpose", "voucher"], None);
    assert!(o.status.success(), "{}", out(&o));
    let v = kp(db, &["verify", "--database", &db.url], None);
    assert!(v.status.success(), "{}", out(&v));
    assert!(out(&v).starts_with("ok, full audit"), "{}", out(&v));
    assert!(out(&v).contains(": 8 entries"), "{}", out(&v));
    let bundle = db.dir.path().join("bundle.json");
    let e = kp(db, &["export", "--out", bundle.to_str().unwrap()], None);
    assert!(e.status.success(), "{}", out(&e));
    let v = kp(db, &["verify", "--export", bundle.to_str().unwrap()], None);
    assert!(v.status.success(), "{}", out(&v));
    assert!(out(&v).starts_with("ok, full audit"), "{}", out(&v));
    // The public bundle holds no openings and gets the public audit; a full bundle whose
    // openings were changed fails, naming the entry.
    let public = db.dir.path().join("public.json");
    let e = kp(
        db,
        &["export", "--public", "--out", public.to_str().unwrap()],
        None,
    );
    assert!(e.status.success(), "{}", out(&e));
    let pj: serde_json::Value = serde_json::from_slice(&std::fs::read(&public).unwrap()).unwrap();
    assert_eq!(pj["audit"], "public");
    assert!(
        pj.get("openings").is_none(),
        "a public bundle has no openings"
    );
    let pv = kp(db, &["verify", "--export", public.to_str().unwrap()], None);
    assert!(out(&pv).starts_with("ok, public audit"), "{}", out(&pv));
    let mut fj: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&bundle).unwrap()).unwrap();
    assert_eq!(fj["audit"], "full");
    let n = fj["openings"].as_array().unwrap().len();
    assert_eq!(n, fj["entries"].as_array().unwrap().len());
    // No voucher yet in this ledger: an opening where there is no commitment is refused.
    fj["openings"][n - 1] =
        serde_json::Value::String(base64::engine::general_purpose::STANDARD.encode([7u8; 32]));
    let tampered = db.dir.path().join("tampered.json");
    std::fs::write(&tampered, serde_json::to_vec(&fj).unwrap()).unwrap();
    let tv = kp(
        db,
        &["verify", "--export", tampered.to_str().unwrap()],
        None,
    );
    assert!(!tv.status.success(), "{}", out(&tv));
    assert!(
        out(&tv).contains(&format!("entry {}: bad opening", n - 1)),
        "{}",
        out(&tv)
    );
    // Without --key the summary names the ledger's genesis key (the trust anchor) and its
    // fingerprint, and says that it was not checked against a trusted one.
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&bundle).unwrap()).unwrap();
    let first = json["ledger_keys"][0].as_str().unwrap().to_owned();
    assert!(
        out(&v).contains(&format!("genesis ledger key {first} fingerprint SHA256:")),
        "{}",
        out(&v)
    );
    assert!(
        out(&v).contains("NOT checked against a trusted key"),
        "{}",
        out(&v)
    );
    assert_eq!(
        out(&v).trim_end().lines().count(),
        1,
        "one line: {}",
        out(&v)
    );
    // The auditor pins the genesis key from the bundle; a stranger's key is refused.
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&bundle).unwrap()).unwrap();
    let genesis_key = json["ledger_keys"][0].as_str().unwrap().to_owned();
    let v = kp(
        db,
        &[
            "verify",
            "--export",
            bundle.to_str().unwrap(),
            "--key",
            &genesis_key,
        ],
        None,
    );
    assert!(v.status.success(), "{}", out(&v));
    assert!(
        out(&v).contains("checked against the trusted key given with --key"),
        "{}",
        out(&v)
    );
    let stranger = kindpakket::core::note::Vkey::new(
        json["origin"].as_str().unwrap(),
        ed25519_dalek::SigningKey::from_bytes(&[9; 32]).verifying_key(),
    )
    .unwrap()
    .to_string();
    let v = kp(
        db,
        &[
            "verify",
            "--export",
            bundle.to_str().unwrap(),
            "--key",
            &stranger,
        ],
        None,
    );
    assert_eq!(v.status.code(), Some(1), "{}", out(&v));
    // The newer (rotated-in) ledger key is no trust anchor: only the genesis key is.
    let newest = json["ledger_keys"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(newest, genesis_key);
    let v = kp(
        db,
        &[
            "verify",
            "--export",
            bundle.to_str().unwrap(),
            "--key",
            &newest,
        ],
        None,
    );
    assert_eq!(v.status.code(), Some(1), "{}", out(&v));
    assert!(out(&v).contains("not the genesis key"), "{}", out(&v));
    // One changed byte in the bundle names the entry.
    let mut tampered = json.clone();
    let e3 = tampered["entries"][3].as_str().unwrap().to_owned();
    use base64::Engine;
    let mut bytes = base64::engine::general_purpose::STANDARD
        .decode(&e3)
        .unwrap();
    bytes[40] ^= 0x01;
    tampered["entries"][3] = base64::engine::general_purpose::STANDARD
        .encode(&bytes)
        .into();
    let path = db.dir.path().join("tampered.json");
    std::fs::write(&path, serde_json::to_vec(&tampered).unwrap()).unwrap();
    let v = kp(db, &["verify", "--export", path.to_str().unwrap()], None);
    assert_eq!(v.status.code(), Some(1), "{}", out(&v));
    assert!(out(&v).contains("entry 3"), "{}", out(&v));
}

/// On a database no service has started, every command works with its flags given only in
/// the environment (`KINDPAKKET_DATABASE` and `KINDPAKKET_KEYS` come from `kp_env`).
async fn every_command_works_from_nothing_with_flags_from_the_environment(db: &common::TestDb) {
    let bundle = db.dir.path().join("bundle.json");
    let bundle = bundle.to_str().unwrap();
    let e = kp_env(db, &["export"], &[("KINDPAKKET_EXPORT_OUT", bundle)], None);
    assert!(e.status.success(), "{}", out(&e));
    let v = kp_env(db, &["verify"], &[], None);
    assert!(v.status.success(), "{}", out(&v));
    assert!(out(&v).starts_with("ok, full audit"), "{}", out(&v));
    // An export named in the environment wins over the database there.
    let v = kp_env(db, &["verify"], &[("KINDPAKKET_EXPORT", bundle)], None);
    assert!(v.status.success(), "{}", out(&v));
    std::fs::write(db.dir.path().join("broken.json"), "{}").unwrap();
    let broken = db.dir.path().join("broken.json");
    let v = kp_env(
        db,
        &["verify"],
        &[("KINDPAKKET_EXPORT", broken.to_str().unwrap())],
        None,
    );
    assert!(!v.status.success(), "{}", out(&v));
    let u = kp_env(
        db,
        &["user", "add"],
        &[
            ("KINDPAKKET_USERNAME", "uit-omgeving"),
            ("KINDPAKKET_ROLE", "auditor"),
            ("KINDPAKKET_PASSWORD", "omgeving-wachtwoord-1"),
        ],
        None,
    );
    assert!(u.status.success(), "{}", out(&u));
    let r = kp_env(
        db,
        &["keys", "rotate"],
        &[("KINDPAKKET_PURPOSE", "voucher")],
        None,
    );
    assert!(r.status.success(), "{}", out(&r));
    let store = db.store().await;
    assert!(store.credentials("uit-omgeving").await.unwrap().is_some());
    let data = store.ledger_data().await.unwrap();
    let report = kindpakket::core::audit::audit(&data, None).unwrap();
    assert_eq!(
        report
            .state
            .keys(kindpakket::core::entry::KeyPurpose::Voucher)
            .len(),
        2
    );
}

async fn verify_names_an_entry_changed_in_the_database(db: &common::TestDb) {
    let o = kp(db, &["keys", "rotate", "--purpose", "voucher"], None);
    assert!(o.status.success(), "{}", out(&o));
    let store = db.store().await;
    let row = store.entries(4, 5).await.unwrap().remove(0);
    let mut bytes = row.bytes.clone();
    bytes[30] ^= 0x10;
    // Someone with raw database access goes around the append-only triggers.
    kindpakket::with_db!(store.db(), |p| {
        let mut c = p.acquire().await.unwrap();
        if store.is_sqlite() {
            sqlx::raw_sql("DROP TRIGGER ledger_entries_no_update")
                .execute(&mut *c)
                .await
                .unwrap();
        } else {
            sqlx::raw_sql("SET session_replication_role = replica")
                .execute(&mut *c)
                .await
                .unwrap();
        }
        sqlx::query("UPDATE ledger_entries SET entry = $1 WHERE idx = 4")
            .bind(bytes)
            .execute(&mut *c)
            .await
            .unwrap();
        if !store.is_sqlite() {
            sqlx::raw_sql("SET session_replication_role = origin")
                .execute(&mut *c)
                .await
                .unwrap();
        }
    });
    store.close().await;
    let v = kp(db, &["verify", "--database", &db.url], None);
    assert_eq!(v.status.code(), Some(1), "{}", out(&v));
    assert!(out(&v).contains("FAILED: entry 4:"), "{}", out(&v));
    // The service refuses to start on a damaged ledger rather than sign over it.
    let s = kp(db, &["keys", "rotate", "--purpose", "voucher"], None);
    assert!(!s.status.success());
    assert!(
        out(&s).contains("damaged") || out(&s).contains("entry 4"),
        "{}",
        out(&s)
    );
}

async fn serve_demo_seeds_everything_once_and_prints_a_working_token(db: &common::TestDb) {
    use std::io::{BufRead, BufReader};
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let start = || {
        Command::new(env!("CARGO_BIN_EXE_kindpakket"))
            .args(["serve", "--demo", "--listen", &format!("127.0.0.1:{port}")])
            .env("KINDPAKKET_DATABASE", &db.url)
            .env("KINDPAKKET_KEYS", db.keys())
            .env("RUST_LOG", "warn")
            .current_dir(db.dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut child = start();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let done = line.starts_with("Kindpakket luistert");
        printed.push(line);
        if done {
            break;
        }
    }
    let text = printed.join("\n");
    assert!(
        text.contains("kassa-vv") && text.contains("beheerder") && text.contains("accountant"),
        "{text}"
    );
    let token = printed
        .iter()
        .find_map(|l| l.split("Voorbeeldcode (voucher van Noor): ").nth(1))
        .unwrap()
        .to_owned();
    // The printed cashier can log in and the sample token is valid at the club.
    let login = ureq_post(
        port,
        "/api/v1/login",
        None,
        &serde_json::json!({"username": "kassa-vv", "password": "demo-wachtwoord"}),
    );
    let bearer = login["token"].as_str().unwrap().to_owned();
    let lookup = ureq_post(
        port,
        "/api/v1/vouchers/lookup",
        Some(&bearer),
        &serde_json::json!({"token": token}),
    );
    assert_eq!(lookup["valid"], true, "{lookup}");
    assert_eq!(lookup["balance_cents"], 25000);
    unsafe_free_sigterm(&child);
    assert!(child.wait().unwrap().success(), "clean exit after SIGTERM");
    // A second start does not seed again.
    let mut child = start();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines.by_ref() {
        if line.unwrap().starts_with("Kindpakket luistert") {
            break;
        }
    }
    unsafe_free_sigterm(&child);
    assert!(child.wait().unwrap().success());
    let store = db.store().await;
    let funds: i64 = kindpakket::with_db!(store.db(), |p| sqlx::query_scalar(
        "SELECT COUNT(*) FROM funds"
    )
    .fetch_one(p)
    .await
    .unwrap());
    assert_eq!(funds, 1);
    let v = kp(db, &["verify", "--database", &db.url], None);
    assert!(v.status.success(), "{}", out(&v));
}

/// Sends SIGTERM through the `kill` command (no unsafe code in the tests either).
fn unsafe_free_sigterm(child: &std::process::Child) {
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

/// A minimal HTTP POST over a raw socket, so the test needs no HTTP client crate.
fn ureq_post(
    port: u16,
    path: &str,
    bearer: Option<&str>,
    body: &serde_json::Value,
) -> serde_json::Value {
    use std::io::{Read, Write};
    let body = body.to_string();
    let auth = bearer
        .map(|b| format!("Authorization: Bearer {b}\r\n"))
        .unwrap_or_default();
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(s, "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let (_, payload) = resp.split_once("\r\n\r\n").unwrap();
    serde_json::from_str(payload).unwrap_or_else(|_| panic!("{resp}"))
}

/// `verify --database` only reads: it never creates, migrates or writes the database it audits.
async fn verify_opens_the_database_read_only_and_never_creates_or_migrates_it(db: &common::TestDb) {
    // A database that does not exist is not created.
    let missing_url = match db.backend {
        common::Backend::Sqlite => format!("sqlite://{}/niet-er.db", db.dir.path().display()),
        common::Backend::Postgres => {
            let (base, _) = db.url.rsplit_once('/').unwrap();
            format!("{base}/kp_missing_{}", uuid::Uuid::new_v4().simple())
        }
    };
    let o = kp(db, &["verify", "--database", &missing_url], None);
    assert!(!o.status.success(), "{}", out(&o));
    match db.backend {
        common::Backend::Sqlite => {
            assert!(!db.dir.path().join("niet-er.db").exists(), "not created")
        }
        common::Backend::Postgres => {
            use sqlx::migrate::MigrateDatabase;
            assert!(
                !sqlx::Postgres::database_exists(&missing_url).await.unwrap(),
                "not created"
            );
        }
    }
    // A database of an older version is audited as it is: no migration runs.
    let o = kp(db, &["export", "--out", "bundel.json"], None);
    assert!(o.status.success(), "{}", out(&o));
    let store = db.store().await;
    let migrations = |store: &kindpakket::store::Store| {
        let db = store.db().clone();
        async move {
            kindpakket::with_db!(&db, |p| {
                sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM schema_migrations")
                    .fetch_one(p)
                    .await
                    .unwrap()
            })
        }
    };
    let all = migrations(&store).await;
    kindpakket::with_db!(store.db(), |p| {
        sqlx::query("DELETE FROM schema_migrations WHERE version = (SELECT MAX(version) FROM schema_migrations)")
            .execute(p)
            .await
            .unwrap();
    });
    let o = kp(db, &["verify", "--database", &db.url], None);
    assert!(o.status.success(), "{}", out(&o));
    assert!(out(&o).starts_with("ok, full audit"), "{}", out(&o));
    assert_eq!(migrations(&store).await, all - 1, "verify did not migrate");
    store.close().await;
}

/// `user disable`, `user password`, `user unlock-two-factor`, `user reset-two-factor` and
/// `user sessions revoke` act at once on a running service's users: the session of a disabled
/// user stops working, a new password replaces the old one and ends its sessions, a revoke ends
/// every session, an unlock or a reset of two-factor log-in comes with a new password.
async fn users_are_managed_from_the_command_line(db: &common::TestDb) {
    let app = common::TestApp::new(db).await;
    let password = app.user("medewerker", "staff", None).await;
    let login = |pw: String| {
        let app = &app;
        async move {
            app.post(
                "/api/v1/login",
                None,
                serde_json::json!({"username": "medewerker", "password": pw}),
            )
            .await
        }
    };
    let token = |r: common::Resp| r.json()["token"].as_str().unwrap().to_owned();
    let works = |t: String| {
        let app = &app;
        async move {
            app.get(
                "/api/v1/households/00000000-0000-4000-8000-000000000000",
                Some(&t),
            )
            .await
            .status
                != 401
        }
    };
    let t1 = token(login(password.clone()).await);
    assert!(works(t1.clone()).await);
    let o = kp(
        db,
        &["user", "sessions", "revoke", "--username", "medewerker"],
        None,
    );
    assert!(o.status.success(), "{}", out(&o));
    assert!(out(&o).contains("1 session"), "{}", out(&o));
    assert!(!works(t1).await);

    let t2 = token(login(password.clone()).await);
    let o = kp(
        db,
        &["user", "password", "--username", "medewerker"],
        Some("kort\n"),
    );
    assert!(!o.status.success(), "{}", out(&o));
    assert!(
        works(t2.clone()).await,
        "a refused password changes nothing"
    );
    let o = kp(
        db,
        &["user", "password", "--username", "medewerker"],
        Some("een-nieuw-wachtwoord\n"),
    );
    assert!(o.status.success(), "{}", out(&o));
    assert!(!works(t2).await);
    assert_eq!(login(password.clone()).await.status, 401);
    let t3 = token(login("een-nieuw-wachtwoord".into()).await);

    // `user reset-two-factor`: a staff member who lost the phone and the recovery codes logs in
    // with the password alone again (and sets it up anew); the sessions end.
    let r = app
        .post("/api/v1/me/totp", Some(&t3), serde_json::json!({}))
        .await;
    let secret = data_encoding::BASE32_NOPAD
        .decode(r.json()["secret"].as_str().unwrap().as_bytes())
        .unwrap();
    let step = kindpakket::core::totp::step_at(chrono::Utc::now().timestamp() as u64);
    let code = format!("{:06}", kindpakket::core::totp::code(&secret, step));
    let r = app
        .post(
            "/api/v1/me/totp/confirm",
            Some(&t3),
            serde_json::json!({"code": code}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = login("een-nieuw-wachtwoord".into()).await;
    assert_eq!(r.code(), "totp_required", "{}", r.text);
    // Locked after too many wrong codes (counted straight in the store here): even the right
    // code is refused.
    let me = app
        .store
        .credentials("medewerker")
        .await
        .unwrap()
        .unwrap()
        .user
        .id;
    for _ in 0..21 {
        app.store.count_second_factor_attempt(me).await.unwrap();
    }
    let with_code = |pw: &str, step: u64| {
        let app = &app;
        let body = serde_json::json!({
            "username": "medewerker",
            "password": pw,
            "totp": format!("{:06}", kindpakket::core::totp::code(&secret, step)),
        });
        async move { app.post("/api/v1/login", None, body).await }
    };
    let r = with_code("een-nieuw-wachtwoord", step + 1).await;
    assert_eq!(r.code(), "two_factor_locked", "{}", r.text);
    // `user unlock-two-factor` needs a new password (someone knew the old one); the app stays.
    let o = kp(
        db,
        &["user", "unlock-two-factor", "--username", "medewerker"],
        Some("kort\n"),
    );
    assert!(!o.status.success(), "{}", out(&o));
    assert_eq!(
        with_code("een-nieuw-wachtwoord", step + 1).await.code(),
        "two_factor_locked",
        "a refused password unlocks nothing"
    );
    let o = kp(
        db,
        &["user", "unlock-two-factor", "--username", "medewerker"],
        Some("een-nieuw-wachtwoord\n"),
    );
    assert!(
        !o.status.success(),
        "the known password is refused: {}",
        out(&o)
    );
    assert!(out(&o).contains("Kies een ander wachtwoord"), "{}", out(&o));
    assert_eq!(
        with_code("een-nieuw-wachtwoord", step + 2).await.code(),
        "two_factor_locked",
        "a refused unlock leaves the lock on"
    );
    let o = kp(
        db,
        &["user", "unlock-two-factor", "--username", "medewerker"],
        Some("tweede-nieuw-wachtwoord\n"),
    );
    assert!(o.status.success(), "{}", out(&o));
    assert!(out(&o).contains("unlocked"), "{}", out(&o));
    assert!(!works(t3).await, "the sessions ended");
    let r = with_code("een-nieuw-wachtwoord", step + 1).await;
    assert_eq!(
        r.code(),
        "invalid_login",
        "the old password is gone: {}",
        r.text
    );
    let r = login("tweede-nieuw-wachtwoord".into()).await;
    assert_eq!(r.code(), "totp_required", "the app stays: {}", r.text);
    let r = with_code("tweede-nieuw-wachtwoord", step + 1).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let t3 = token(r);

    // `user reset-two-factor` (a lost phone) also sets a new password: the old one and the
    // app are gone, the new password alone logs in (to set it up anew); the sessions end.
    let o = kp(
        db,
        &["user", "reset-two-factor", "--username", "medewerker"],
        Some("derde-nieuw-wachtwoord\n"),
    );
    assert!(o.status.success(), "{}", out(&o));
    assert!(
        out(&o).contains("two-factor log-in of medewerker is off and a new password set"),
        "{}",
        out(&o)
    );
    assert!(!works(t3).await);
    assert_eq!(login("tweede-nieuw-wachtwoord".into()).await.status, 401);
    let r = login("derde-nieuw-wachtwoord".into()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let t3 = token(r);

    let o = kp(db, &["user", "disable", "--username", "medewerker"], None);
    assert!(o.status.success(), "{}", out(&o));
    assert!(!works(t3).await);
    assert_eq!(login("derde-nieuw-wachtwoord".into()).await.status, 401);
    let o = kp(db, &["user", "enable", "--username", "medewerker"], None);
    assert!(o.status.success(), "{}", out(&o));
    assert_eq!(login("derde-nieuw-wachtwoord".into()).await.status, 200);
    let o = kp(db, &["user", "disable", "--username", "niemand"], None);
    assert!(!o.status.success());
    assert!(out(&o).contains("bestaat niet"), "{}", out(&o));
    app.close().await;
}

/// `serve --demo` refuses a database that holds real data: it would book a demo deposit on the
/// permanent ledger and create an admin with a known password. (Before, it did both.)
async fn demo_refuses_a_database_with_real_data(db: &common::TestDb) {
    let o = kp(
        db,
        &[
            "user",
            "add",
            "--username",
            "echte-beheerder",
            "--role",
            "admin",
        ],
        Some("een-echt-wachtwoord\n"),
    );
    assert!(o.status.success(), "{}", out(&o));
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let o = kp(
        db,
        &["serve", "--demo", "--listen", &format!("127.0.0.1:{port}")],
        None,
    );
    assert!(!o.status.success(), "{}", out(&o));
    assert!(out(&o).contains("--demo geweigerd"), "{}", out(&o));
    let store = db.store().await;
    let (funds, demo_admin): (i64, i64) = kindpakket::with_db!(store.db(), |p| {
        let f = sqlx::query_scalar("SELECT COUNT(*) FROM funds")
            .fetch_one(p)
            .await
            .unwrap();
        let u = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE username = 'beheerder'")
            .fetch_one(p)
            .await
            .unwrap();
        (f, u)
    });
    assert_eq!(
        (funds, demo_admin),
        (0, 0),
        "nothing of the demo was written"
    );
    store.close().await;
}

/// The voucher key files in a directory, by key id (hex).
fn voucher_key_files(dir: &std::path::Path) -> Vec<(String, std::path::PathBuf)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| {
            let name = p.file_name()?.to_string_lossy().into_owned();
            let id = name
                .strip_prefix("voucher-")?
                .strip_suffix(".pem")?
                .rsplit('-')
                .next()?
                .to_owned();
            Some((id, p))
        })
        .collect();
    v.sort();
    v
}

fn mode(p: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// `keys rotate` gives the old voucher key a last day and, once it has passed, its private key
/// leaves the keys directory (archived 0600 beside it); `keys revoke` of the active key makes a
/// new one active and archives the revoked one at once; an existing keys directory that others
/// could read is tightened to 0700. (Before, retired private keys stayed, and there was no
/// revoke.)
async fn voucher_keys_are_rotated_revoked_and_archived(db: &common::TestDb) {
    use std::os::unix::fs::PermissionsExt;
    let o = kp(
        db,
        &["user", "add", "--username", "beheer", "--role", "admin"],
        Some("een-echt-wachtwoord\n"),
    );
    assert!(o.status.success(), "{}", out(&o));
    let keys = db.keys();
    let archive = keys.with_file_name(format!(
        "{}-archief",
        keys.file_name().unwrap().to_string_lossy()
    ));
    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o755)).unwrap();
    let first = voucher_key_files(&keys);
    assert_eq!(first.len(), 1);
    let o = kp(
        db,
        &[
            "keys",
            "rotate",
            "--purpose",
            "voucher",
            "--accept-until",
            "2020-01-01",
        ],
        None,
    );
    assert!(o.status.success(), "{}", out(&o));
    assert!(
        out(&o).contains("--accept-until 2020-01-01 lies in the past"),
        "{}",
        out(&o)
    );
    assert_eq!(mode(&keys), 0o700, "the keys directory is private again");
    // The next start of the ledger (here: rotating the ledger key) finds the old voucher key
    // past its last day: its private key leaves.
    let o = kp(db, &["keys", "rotate", "--purpose", "ledger"], None);
    assert!(o.status.success(), "{}", out(&o));
    let now = voucher_key_files(&keys);
    assert_eq!(now.len(), 1, "{now:?}");
    assert_ne!(now[0].0, first[0].0);
    let archived = voucher_key_files(&archive);
    assert_eq!(archived.len(), 1);
    assert_eq!(archived[0].0, first[0].0);
    assert_eq!(mode(&archived[0].1), 0o600);
    assert_eq!(mode(&archive), 0o700);
    // Revoking the active key: a new one takes over, the revoked one leaves at once.
    let active = now[0].0.clone();
    let o = kp(
        db,
        &[
            "keys",
            "revoke",
            "--purpose",
            "voucher",
            "--key-id",
            &active,
        ],
        None,
    );
    assert!(o.status.success(), "{}", out(&o));
    assert!(out(&o).contains("a new key is active"), "{}", out(&o));
    let after = voucher_key_files(&keys);
    assert_eq!(after.len(), 1);
    assert_ne!(after[0].0, active);
    assert!(
        voucher_key_files(&archive)
            .iter()
            .any(|(id, _)| *id == active)
    );
    let o = kp(
        db,
        &[
            "keys",
            "revoke",
            "--purpose",
            "voucher",
            "--key-id",
            "nonsense",
        ],
        None,
    );
    assert!(!o.status.success());
    // A well-formed id of a key the ledger never published is refused, and no revocation of
    // it is written.
    let o = kp(
        db,
        &[
            "keys",
            "revoke",
            "--purpose",
            "voucher",
            "--key-id",
            "0badc0de",
        ],
        None,
    );
    assert!(!o.status.success());
    assert!(
        out(&o).contains("there is no voucher key 0badc0de"),
        "{}",
        out(&o)
    );
    let store = kindpakket::store::Store::open(&db.url).await.unwrap();
    let statuses = store.voucher_key_statuses().await.unwrap();
    store.close().await;
    assert!(
        statuses
            .iter()
            .all(|s| s.key_id != [0x0b, 0xad, 0xc0, 0xde]),
        "{statuses:?}"
    );
    let v = kp(db, &["verify", "--database", &db.url], None);
    assert!(v.status.success(), "{}", out(&v));
}

/// `keys revoke` while the service runs: an old key is revoked at once (its private half
/// leaves at the next start), the active key is refused and nothing is written (a revoked
/// active key would leave the running service unable to issue). (Before, the active key's
/// revocation was written and the command then failed, leaving the service answering 503.)
async fn keys_revoke_while_the_service_runs(db: &common::TestDb) {
    use kindpakket::core::entry::KeyPurpose;
    let app = common::TestApp::new(db).await;
    let w = app.world().await;
    let hex = |id: [u8; 4]| id.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let old = app
        .ledger
        .state()
        .await
        .active_key(KeyPurpose::Voucher)
        .unwrap()
        .0;
    app.ledger.rotate(KeyPurpose::Voucher).await.unwrap();
    let active = app
        .ledger
        .state()
        .await
        .active_key(KeyPurpose::Voucher)
        .unwrap()
        .0;
    let revoke = |id: String| {
        kp(
            db,
            &["keys", "revoke", "--purpose", "voucher", "--key-id", &id],
            None,
        )
    };
    let o = revoke(hex(active));
    assert!(!o.status.success(), "{}", out(&o));
    assert!(out(&o).contains("Nothing was changed"), "{}", out(&o));
    assert!(
        app.store
            .voucher_key_status(&active)
            .await
            .unwrap()
            .is_none()
    );
    let o = revoke(hex(old));
    assert!(o.status.success(), "{}", out(&o));
    assert!(out(&o).contains("next start"), "{}", out(&o));
    let r = app
        .post(
            "/api/v1/vouchers/lookup",
            Some(&w.cashier),
            serde_json::json!({"token": w.token(0)}),
        )
        .await;
    assert_eq!(r.json()["reason_code"], "key_revoked", "{}", r.text);
    // Its private half is still in the keys directory while the service runs ...
    let keys = db.keys();
    let archive = keys.with_file_name(format!(
        "{}-archief",
        keys.file_name().unwrap().to_string_lossy()
    ));
    assert!(
        voucher_key_files(&keys)
            .iter()
            .any(|(id, _)| *id == hex(old))
    );
    app.close().await;
    // ... and leaves at the next start of the ledger (here: a ledger-key rotation, which
    // opens it as `serve` does), into the archive, private.
    let o = kp(db, &["keys", "rotate", "--purpose", "ledger"], None);
    assert!(o.status.success(), "{}", out(&o));
    let left = voucher_key_files(&keys);
    assert!(left.iter().all(|(id, _)| *id != hex(old)), "{left:?}");
    assert!(left.iter().any(|(id, _)| *id == hex(active)), "{left:?}");
    let archived = voucher_key_files(&archive);
    let (_, file) = archived
        .iter()
        .find(|(id, _)| *id == hex(old))
        .expect("the revoked key is archived");
    assert_eq!(mode(file), 0o600);
    assert_eq!(mode(&archive), 0o700);
}

on_both_backends!(
    voucher_keys_are_rotated_revoked_and_archived,
    keys_revoke_while_the_service_runs,
    demo_refuses_a_database_with_real_data,
    users_are_managed_from_the_command_line,
    verify_opens_the_database_read_only_and_never_creates_or_migrates_it,
    every_command_works_from_nothing_with_flags_from_the_environment,
    serve_demo_seeds_everything_once_and_prints_a_working_token,
    user_add_works_before_the_first_serve_and_creates_private_keys,
    export_and_verify_round_trip_and_a_trusted_key_is_checked,
    verify_names_an_entry_changed_in_the_database,
);
