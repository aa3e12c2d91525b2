//! The command line: `serve`, `user add`, `verify`, `export`, `keys rotate`.
//! Every flag has an environment fallback; defaults make a fresh checkout work.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::{Deserialize, Serialize};

use crate::core::audit::{self, EntryRow, LedgerData};
use crate::core::entry::KeyPurpose;
use crate::core::note::{Vkey, hex};
use crate::core::role::Role;
use crate::http::{self, AppState, HttpConfig};
use crate::ledger::{Ledger, LedgerOptions};
use crate::service::users::{self, NewUser};
use crate::service::{Actor, Services, Settings};
use crate::store::{Store, StoreError};

/// Kindpakket: child budgets for sport and culture on a signed, verifiable ledger.
#[derive(Debug, Parser)]
#[command(name = "kindpakket", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the JSON API (creates the database and keys when missing).
    Serve(ServeArgs),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Audit a ledger offline: hashes, signatures, tree, checkpoints and balances.
    Verify(VerifyArgs),
    /// Write an auditor bundle: all entries, checkpoints and public keys.
    Export(ExportArgs),
    /// Manage signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
}

/// Where the database and keys are.
#[derive(Debug, Args, Clone)]
pub struct DbArgs {
    /// Database URL: sqlite://FILE (default) or postgres://USER@HOST/DB.
    #[arg(
        long,
        env = "KINDPAKKET_DATABASE",
        default_value = "sqlite://kindpakket.db"
    )]
    pub database: String,
    /// Directory with the private key files.
    #[arg(long, env = "KINDPAKKET_KEYS", default_value = "keys")]
    pub keys: PathBuf,
}

/// `serve` options.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "KINDPAKKET_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
    #[command(flatten)]
    pub db: DbArgs,
    /// Seed demo data and print how to log in.
    #[arg(long, env = "KINDPAKKET_DEMO")]
    pub demo: bool,
    /// Origin (log name) for a new ledger, e.g. kindpakket.westerkwartier.nl/ledger.
    #[arg(long, env = "KINDPAKKET_ORIGIN")]
    pub origin: Option<String>,
    /// Mark session cookies Secure (when served over HTTPS; on by itself when --public-url
    /// starts with https://).
    #[arg(long, env = "KINDPAKKET_SECURE_COOKIES")]
    pub secure_cookies: bool,
    /// Public base URL, for absolute parent links (e.g. https://kindpakket.example). An
    /// https:// address also marks the cookies Secure.
    #[arg(long, env = "KINDPAKKET_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Whom people contact, at the foot of every page and on letters: the name.
    #[arg(
        long,
        env = "KINDPAKKET_CONTACT_NAME",
        default_value = "Stichting Leergeld"
    )]
    pub contact_name: String,
    /// The contact's phone number, as people should read it.
    #[arg(
        long,
        env = "KINDPAKKET_CONTACT_PHONE",
        default_value = "0594 - 00 00 00"
    )]
    pub contact_phone: String,
    /// The contact's e-mail address.
    #[arg(
        long,
        env = "KINDPAKKET_CONTACT_EMAIL",
        default_value = "info@leergeld.example"
    )]
    pub contact_email: String,
    /// Address of a reverse proxy whose X-Forwarded-For header names the client (repeat the
    /// flag, or separate with commas). Without it the client is always the TCP peer.
    #[arg(
        long = "trusted-proxy",
        env = "KINDPAKKET_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Most client connections open at once (further clients wait in the listen queue).
    #[arg(long, env = "KINDPAKKET_MAX_CONNECTIONS", default_value_t = 1024)]
    pub max_connections: usize,
    /// Most connections open at once from one client address (a trusted proxy is exempt).
    #[arg(
        long,
        env = "KINDPAKKET_MAX_CONNECTIONS_PER_ADDRESS",
        default_value_t = 64
    )]
    pub max_connections_per_address: usize,
    /// Addresses that may read /metrics (repeat or separate with commas; default: this
    /// machine, 127.0.0.1 and ::1).
    #[arg(
        long = "metrics-from",
        env = "KINDPAKKET_METRICS_FROM",
        value_delimiter = ','
    )]
    pub metrics_from: Vec<std::net::IpAddr>,
    /// A bearer token that may read /metrics from anywhere.
    #[arg(long, env = "KINDPAKKET_METRICS_TOKEN")]
    pub metrics_token: Option<String>,
    /// Admin, staff and finance must set up two-factor log-in (TOTP) before anything else.
    #[arg(long = "require-2fa", env = "KINDPAKKET_REQUIRE_2FA")]
    pub require_2fa: bool,
    /// Largest deposit in one booking, in cents (default € 10.000.000).
    #[arg(long, env = "KINDPAKKET_MAX_DEPOSIT_CENTS", default_value_t = 1_000_000_000,
          value_parser = clap::value_parser!(i64).range(1..))]
    pub max_deposit_cents: i64,
    /// Largest top-up of a voucher in one booking, in cents (default € 1.000).
    #[arg(long, env = "KINDPAKKET_MAX_TOP_UP_CENTS", default_value_t = 100_000,
          value_parser = clap::value_parser!(i64).range(1..))]
    pub max_top_up_cents: i64,
}

/// `user` subcommands.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is read from stdin (or KINDPAKKET_PASSWORD).
    Add(UserAddArgs),
    /// Disable a user: no more log-ins, and all of its sessions end at once.
    Disable(UserNameArgs),
    /// Let a disabled user log in again.
    Enable(UserNameArgs),
    /// Set a new password (stdin or KINDPAKKET_PASSWORD); all sessions of the user end.
    Password(UserNameArgs),
    /// Turn off two-factor log-in for a user who lost the phone and the recovery codes, with a
    /// new password (stdin or KINDPAKKET_PASSWORD); all sessions of the user end, and the user
    /// sets it up again.
    ResetTwoFactor(UserNameArgs),
    /// Lift a two-factor lock (too many wrong codes: someone knew the password), with a new
    /// password (stdin or KINDPAKKET_PASSWORD); the app stays set up; all sessions end.
    UnlockTwoFactor(UserNameArgs),
    /// Sessions of a user.
    #[command(subcommand)]
    Sessions(SessionsCommand),
}

/// `user sessions` subcommands.
#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// End every session of the user.
    Revoke(UserNameArgs),
}

/// A user by name.
#[derive(Debug, Args)]
pub struct UserNameArgs {
    /// Login name.
    #[arg(long, env = "KINDPAKKET_USERNAME")]
    pub username: String,
    #[command(flatten)]
    pub db: DbArgs,
}

/// `user add` options.
#[derive(Debug, Args)]
pub struct UserAddArgs {
    /// Login name.
    #[arg(long, env = "KINDPAKKET_USERNAME")]
    pub username: String,
    /// admin, staff, finance, auditor, provider_manager or cashier.
    #[arg(long, env = "KINDPAKKET_ROLE")]
    pub role: String,
    /// Provider id, for provider_manager and cashier.
    #[arg(long, env = "KINDPAKKET_PROVIDER")]
    pub provider: Option<uuid::Uuid>,
    #[command(flatten)]
    pub db: DbArgs,
}

/// `verify` options.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("source").required(true).multiple(true).args(["database", "export", "public"])))]
pub struct VerifyArgs {
    /// Verify the ledger in this database.
    #[arg(long, env = "KINDPAKKET_DATABASE")]
    pub database: Option<String>,
    /// Verify an export bundle instead (this wins over a database named only in the
    /// environment).
    #[arg(long, env = "KINDPAKKET_EXPORT")]
    pub export: Option<PathBuf>,
    /// Run the public audit against a running service at this base URL (for example
    /// `http://127.0.0.1:8080`): what anyone can download (the latest checkpoint and every
    /// entry it covers), without the openings of the voucher commitments. Plain HTTP. This wins
    /// over an export or a database (also one named only in the environment).
    #[arg(long, env = "KINDPAKKET_VERIFY_PUBLIC")]
    pub public: Option<String>,
    /// The ledger verifier key you trust (vkey form); it must be one of the ledger's keys.
    #[arg(long, env = "KINDPAKKET_VERIFY_KEY")]
    pub key: Option<String>,
}

/// `export` options.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// File to write.
    #[arg(long, env = "KINDPAKKET_EXPORT_OUT")]
    pub out: PathBuf,
    /// Write a public bundle: entries, checkpoints and keys, without the openings of the
    /// voucher commitments (what anyone may download). Without it, the bundle is the full
    /// auditor bundle.
    #[arg(long, env = "KINDPAKKET_EXPORT_PUBLIC")]
    pub public: bool,
    #[command(flatten)]
    pub db: DbArgs,
}

/// `keys` subcommands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make a new key active; old public keys stay published.
    Rotate(RotateArgs),
    /// A compromised voucher key: its tokens are refused at once.
    Revoke(RevokeArgs),
}

/// Which key to rotate.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PurposeArg {
    /// The voucher-signing key (signs QR tokens).
    Voucher,
    /// The ledger key (signs entries and checkpoints).
    Ledger,
}

/// `keys rotate` options.
#[derive(Debug, Args)]
pub struct RotateArgs {
    /// voucher or ledger.
    #[arg(long, value_enum, env = "KINDPAKKET_PURPOSE")]
    pub purpose: PurposeArg,
    /// For a voucher key: the last day tokens of the old key are accepted (YYYY-MM-DD;
    /// default 90 days from today). Reissue the vouchers before then.
    #[arg(long, env = "KINDPAKKET_ACCEPT_UNTIL")]
    pub accept_until: Option<chrono::NaiveDate>,
    #[command(flatten)]
    pub db: DbArgs,
}

/// `keys revoke` options.
#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// Only voucher keys can be revoked.
    #[arg(long, value_enum, env = "KINDPAKKET_PURPOSE")]
    pub purpose: PurposeArg,
    /// The key id (8 hex digits, as `GET /api/v1/keys/voucher` lists it).
    #[arg(long, env = "KINDPAKKET_KEY_ID")]
    pub key_id: String,
    #[command(flatten)]
    pub db: DbArgs,
}

/// Runs a command; returns the process exit code.
pub async fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Serve(a) => serve(a).await.map(|()| 0),
        Command::User(UserCommand::Add(a)) => user_add(a).await.map(|()| 0),
        Command::User(UserCommand::Disable(a)) => user_manage(a, Manage::Disable).await.map(|()| 0),
        Command::User(UserCommand::Enable(a)) => user_manage(a, Manage::Enable).await.map(|()| 0),
        Command::User(UserCommand::Password(a)) => {
            user_manage(a, Manage::Password).await.map(|()| 0)
        }
        Command::User(UserCommand::ResetTwoFactor(a)) => {
            user_manage(a, Manage::ResetTwoFactor).await.map(|()| 0)
        }
        Command::User(UserCommand::UnlockTwoFactor(a)) => {
            user_manage(a, Manage::UnlockTwoFactor).await.map(|()| 0)
        }
        Command::User(UserCommand::Sessions(SessionsCommand::Revoke(a))) => {
            user_manage(a, Manage::RevokeSessions).await.map(|()| 0)
        }
        Command::Verify(a) => verify(a).await,
        Command::Export(a) => export(a).await.map(|()| 0),
        Command::Keys(KeysCommand::Rotate(a)) => rotate(a).await.map(|()| 0),
        Command::Keys(KeysCommand::Revoke(a)) => revoke(a).await.map(|()| 0),
    }
}

async fn open_ledger(db: &DbArgs, origin: Option<String>) -> anyhow::Result<Ledger> {
    let store = Store::open(&db.database)
        .await
        .with_context(|| format!("opening database {}", redact(&db.database)))?;
    let options = LedgerOptions {
        origin,
        ..LedgerOptions::default()
    };
    let ledger = Ledger::open(store, &db.keys, options)
        .await
        .context("opening the ledger")?;
    archive_retired_keys(&ledger, &db.keys).await?;
    Ok(ledger)
}

/// Where retired private keys go: beside the keys directory, `<keys>-archief` (0700; files
/// 0600). Move it offline, or delete it: nothing needs those keys any more.
fn archive_dir(keys: &Path) -> PathBuf {
    let name = keys
        .file_name()
        .map_or_else(|| "keys".into(), |n| n.to_string_lossy().into_owned());
    keys.with_file_name(format!("{name}-archief"))
}

/// Moves the private halves of revoked voucher keys, and of rotated-out ones past their last
/// day, out of the keys directory.
async fn archive_retired_keys(ledger: &Ledger, keys: &Path) -> anyhow::Result<()> {
    let today = crate::core::time::dutch_date(chrono::Utc::now());
    // Keys retired on the ledger before last days were recorded (an upgrade) get one now:
    // 90 days from today. Before this, they were accepted for ever.
    let known = ledger.store().voucher_key_statuses().await?;
    let unrecorded: Vec<[u8; 4]> = {
        let state = ledger.state().await;
        state
            .keys(KeyPurpose::Voucher)
            .iter()
            .filter(|(id, k)| {
                k.retired_at.is_some()
                    && !known.iter().any(|s| s.key_id.as_slice() == id.as_slice())
            })
            .map(|(id, _)| *id)
            .collect()
    };
    for id in unrecorded {
        let until = today + chrono::Duration::days(90);
        ledger.store().accept_voucher_key_until(&id, until).await?;
        tracing::warn!(key = %hex(&id), %until, "a retired voucher key had no last day; its tokens are accepted until then");
    }
    let statuses = ledger.store().voucher_key_statuses().await?;
    let publics: Vec<(String, [u8; 32])> = {
        let state = ledger.state().await;
        statuses
            .iter()
            .filter(|s| s.revoked_at.is_some() || s.accept_until.is_some_and(|d| today > d))
            .filter_map(|s| {
                let id: [u8; 4] = s.key_id.as_slice().try_into().ok()?;
                let k = state.keys(KeyPurpose::Voucher).get(&id)?;
                Some((hex(&id), k.public_key))
            })
            .collect()
    };
    for (id, public) in publics {
        if let Some(to) = ledger
            .archive_key(KeyPurpose::Voucher, &public, &archive_dir(keys))
            .context("archiving a retired voucher key")?
        {
            tracing::info!(key = %id, to = %to.display(), "retired voucher key moved out of the keys directory");
        }
    }
    Ok(())
}

/// Creates a ledger key and a voucher key in `dir` when it has none, and the link secret.
fn ensure_keys(dir: &Path) -> anyhow::Result<()> {
    let mut ring = crate::keys::KeyRing::load(dir)?;
    for purpose in [KeyPurpose::Ledger, KeyPurpose::Voucher] {
        if ring.newest(purpose).is_none() {
            ring.generate(purpose)?;
        }
    }
    crate::keys::link_secret(dir)
        .with_context(|| format!("creating the link secret in {}", dir.display()))?;
    Ok(())
}

/// Hides a password in a database URL.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

async fn serve(a: ServeArgs) -> anyhow::Result<()> {
    // Installed first: a SIGTERM during start-up (or demo seeding) stops the server as soon
    // as it serves, instead of killing it halfway.
    let shutdown = http::shutdown_signal().context("installing signal handlers")?;
    let ledger = open_ledger(&a.db, a.origin.clone()).await?;
    let config = HttpConfig {
        secure_cookies: a.secure_cookies
            || a.public_url
                .as_deref()
                .is_some_and(|u| u.to_ascii_lowercase().starts_with("https://")),
        contact: crate::http::Contact {
            name: a.contact_name.clone(),
            phone: a.contact_phone.clone(),
            email: a.contact_email.clone(),
        },
        trusted_proxies: a.trusted_proxies.clone(),
        max_connections: a.max_connections,
        max_connections_per_address: a.max_connections_per_address,
        metrics_from: if a.metrics_from.is_empty() {
            HttpConfig::default().metrics_from
        } else {
            a.metrics_from.clone()
        },
        metrics_token: a.metrics_token.clone().filter(|t| !t.is_empty()),
        ..HttpConfig::default()
    };
    let settings = Settings {
        public_url: a.public_url.clone(),
        max_deposit: crate::core::money::Cents(a.max_deposit_cents),
        max_top_up: crate::core::money::Cents(a.max_top_up_cents),
        require_two_factor: a.require_2fa,
        ..Settings::default()
    };
    let links = crate::service::links::LinkSecret::load_or_create(&a.db.keys)
        .with_context(|| format!("reading the link secret in {}", a.db.keys.display()))?;
    let state = AppState::new(Services::new(ledger.clone(), links, settings), config);
    if a.demo {
        crate::service::demo::seed(&state.services)
            .await
            .context("seeding demo data")?;
    }
    let listener = tokio::net::TcpListener::bind(&a.listen)
        .await
        .with_context(|| format!("listening on {}", a.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, database = %redact(&a.db.database), origin = %ledger.origin(), "serving");
    println!("Kindpakket luistert op http://{addr}/");
    http::serve(listener, state, shutdown).await?;
    Ok(())
}

async fn user_add(a: UserAddArgs) -> anyhow::Result<()> {
    let role = Role::parse(&a.role).with_context(|| {
        format!(
            "unknown role {:?}; use one of: admin, staff, finance, auditor, provider_manager, cashier",
            a.role
        )
    })?;
    let password = read_password()?;
    // Like every command, this creates and migrates the database and creates the keys when
    // they are missing. It does not take the ledger's writer lock, so it works while the
    // service runs.
    let store = Store::open(&a.db.database)
        .await
        .with_context(|| format!("opening database {}", redact(&a.db.database)))?;
    ensure_keys(&a.db.keys)?;
    let new = NewUser {
        username: a.username.clone(),
        role,
        provider: a.provider,
        password,
    };
    let result = users::add(&store, &Actor::operator(), new).await;
    store.close().await;
    result?;
    println!("user {} ({}) created", a.username, role);
    Ok(())
}

/// The password for `user add` and `user password`: `KINDPAKKET_PASSWORD`, or the first line
/// of stdin.
fn read_password() -> anyhow::Result<String> {
    Ok(match std::env::var("KINDPAKKET_PASSWORD") {
        Ok(p) if !p.is_empty() => p,
        _ => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("reading the password from stdin")?;
            s.lines().next().unwrap_or("").to_owned()
        }
    })
}

/// What `user_manage` does.
#[derive(Debug, Clone, Copy)]
enum Manage {
    Disable,
    Enable,
    Password,
    RevokeSessions,
    ResetTwoFactor,
    UnlockTwoFactor,
}

/// What `user_manage` does, with its input.
enum Action {
    Disable,
    Enable,
    Password(String),
    RevokeSessions,
    SecondFactor(users::SecondFactorReset, String),
}

/// `user disable`, `user password`, `user sessions revoke`: the operator's use cases on the
/// store (they work while the service runs; a disabled user's sessions stop at once).
async fn user_manage(a: UserNameArgs, what: Manage) -> anyhow::Result<()> {
    let action = match what {
        Manage::Disable => Action::Disable,
        Manage::Enable => Action::Enable,
        Manage::Password => Action::Password(read_password()?),
        Manage::RevokeSessions => Action::RevokeSessions,
        Manage::ResetTwoFactor => {
            Action::SecondFactor(users::SecondFactorReset::Remove, read_password()?)
        }
        Manage::UnlockTwoFactor => {
            Action::SecondFactor(users::SecondFactorReset::Unlock, read_password()?)
        }
    };
    let store = Store::open(&a.db.database)
        .await
        .with_context(|| format!("opening database {}", redact(&a.db.database)))?;
    ensure_keys(&a.db.keys)?;
    let operator = Actor::operator();
    let result = async {
        let user = users::named(&store, &operator, &a.username).await?;
        match action {
            Action::Disable => {
                users::disable_in(&store, &operator, user.id).await?;
                Ok(format!(
                    "user {} disabled; all of its sessions ended",
                    a.username
                ))
            }
            Action::Enable => {
                users::enable_in(&store, &operator, user.id).await?;
                Ok(format!("user {} may log in again", a.username))
            }
            Action::Password(p) => {
                users::set_password_by_operator(&store, &operator, user.id, p).await?;
                Ok(format!(
                    "new password set for {}; all of its sessions ended",
                    a.username
                ))
            }
            Action::RevokeSessions => {
                let n = users::revoke_sessions_in(&store, &operator, user.id).await?;
                Ok(format!("{n} session(s) of {} ended", a.username))
            }
            Action::SecondFactor(what, p) => {
                users::reset_second_factor_by_operator(&store, &operator, user.id, what, p).await?;
                Ok(match what {
                    users::SecondFactorReset::Remove => format!(
                        "two-factor log-in of {} is off and a new password set; all of its \
                         sessions ended; it is set up again at the next log-in",
                        a.username
                    ),
                    users::SecondFactorReset::Unlock => format!(
                        "two-factor log-in of {} unlocked (the app stays) and a new password \
                         set; all of its sessions ended",
                        a.username
                    ),
                })
            }
        }
    }
    .await;
    store.close().await;
    let done: String =
        result.map_err(|e: crate::service::Error| anyhow::anyhow!("{}", e.message()))?;
    println!("{done}");
    Ok(())
}

/// The auditor bundle.
#[derive(Debug, Serialize, Deserialize)]
pub struct ExportBundle {
    /// Always `kindpakket-export/v2`.
    pub format: String,
    /// `full` (with the openings of every voucher commitment: for the auditor only) or
    /// `public` (what anyone may download).
    pub audit: String,
    /// Log origin.
    pub origin: String,
    /// Number of entries.
    pub size: u64,
    /// Ledger verifier keys (vkey form), oldest first.
    pub ledger_keys: Vec<String>,
    /// Voucher-signing keys: key id (hex) and public key (base64).
    pub voucher_keys: Vec<ExportKey>,
    /// Canonical entry bytes, base64, in index order.
    pub entries: Vec<String>,
    /// Stored checkpoints.
    pub checkpoints: Vec<ExportCheckpoint>,
    /// Full bundles only: per entry, the openings of its voucher commitments (base64 of 32
    /// bytes per commitment, salt then account, in slot order; empty for none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub openings: Option<Vec<String>>,
}

/// A voucher key in the bundle.
#[derive(Debug, Serialize, Deserialize)]
pub struct ExportKey {
    /// Key id (hex).
    pub key_id: String,
    /// Public key (base64).
    pub public_key: String,
}

/// A checkpoint in the bundle.
#[derive(Debug, Serialize, Deserialize)]
pub struct ExportCheckpoint {
    /// Tree size.
    pub size: u64,
    /// The signed note.
    pub note: String,
}

const EXPORT_FORMAT: &str = "kindpakket-export/v2";

async fn export(a: ExportArgs) -> anyhow::Result<()> {
    let store = Store::open(&a.db.database)
        .await
        .with_context(|| format!("opening database {}", redact(&a.db.database)))?;
    if store.entry_count().await? == 0 {
        // A database no service has started yet: start its ledger (keys, genesis entries, first
        // checkpoint) as `serve` would, so that the bundle holds a verifiable ledger.
        open_ledger(&a.db, None).await?.close().await;
    }
    let data = store.ledger_data().await?;
    // Export only what verifies: an auditor should not receive a silently broken bundle.
    let report = audit::audit(&data, None)
        .map_err(|f| anyhow::anyhow!("the ledger does not verify: {f}"))?;
    let origin = report.origin.clone();
    let ledger_keys = report
        .state
        .ledger_vkeys()
        .iter()
        .map(ToString::to_string)
        .collect();
    let voucher_keys = report
        .state
        .keys(KeyPurpose::Voucher)
        .iter()
        .map(|(id, k)| ExportKey {
            key_id: hex(id),
            public_key: B64.encode(k.public_key),
        })
        .collect();
    let openings = (!a.public).then(|| {
        data.entries
            .iter()
            .map(|e| B64.encode(e.openings.as_deref().unwrap_or_default()))
            .collect()
    });
    let bundle = ExportBundle {
        format: EXPORT_FORMAT.into(),
        audit: if a.public { "public" } else { "full" }.into(),
        openings,
        origin,
        size: report.size,
        ledger_keys,
        voucher_keys,
        entries: data.entries.iter().map(|e| B64.encode(&e.bytes)).collect(),
        checkpoints: data
            .checkpoints
            .into_iter()
            .map(|(size, note)| {
                Ok(ExportCheckpoint {
                    size: u64::try_from(size)?,
                    note,
                })
            })
            .collect::<anyhow::Result<_>>()?,
    };
    let json = serde_json::to_vec_pretty(&bundle)?;
    write_file(&a.out, &json)?;
    println!(
        "exported {} entries and {} checkpoints to {} ({} bundle{})",
        bundle.size,
        bundle.checkpoints.len(),
        a.out.display(),
        bundle.audit,
        if a.public {
            ""
        } else {
            ", with the openings of every voucher commitment: for the auditor only"
        }
    );
    store.close().await;
    Ok(())
}

fn write_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    let tmp = path.with_file_name(name);
    // A leftover from an interrupted run is replaced; the new file is private from its
    // creation on (the full bundle links each voucher's entries: readable by its owner only).
    match std::fs::remove_file(&tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(e).with_context(|| format!("removing {}", tmp.display()));
        }
        _ => {}
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Reads an export bundle into audit input.
pub fn read_export(path: &Path) -> anyhow::Result<LedgerData> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let bundle: ExportBundle =
        serde_json::from_slice(&bytes).context("the export file is not a kindpakket export")?;
    if bundle.format != EXPORT_FORMAT {
        bail!(
            "unknown export format {:?} (this version reads {EXPORT_FORMAT}; ledger format v1 is \
             not read any more)",
            bundle.format
        );
    }
    match (bundle.audit.as_str(), &bundle.openings) {
        ("full", Some(o)) if o.len() == bundle.entries.len() => {}
        ("full", _) => bail!("a full bundle must hold openings for every entry"),
        ("public", None) => {}
        ("public", Some(_)) => bail!("a public bundle must not hold openings"),
        (other, _) => bail!("unknown bundle kind {other:?}"),
    }
    let entries = bundle
        .entries
        .iter()
        .enumerate()
        .map(|(i, b)| {
            Ok(EntryRow {
                index: i64::try_from(i)?,
                id: None,
                kind: None,
                bytes: B64
                    .decode(b)
                    .with_context(|| format!("entry {i} is not base64"))?,
                openings: match &bundle.openings {
                    Some(o) => Some(
                        B64.decode(&o[i])
                            .with_context(|| format!("openings of entry {i} are not base64"))?,
                    ),
                    None => None,
                },
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(LedgerData {
        entries,
        orphan_openings: Vec::new(),
        stored_hashes: None,
        checkpoints: bundle
            .checkpoints
            .into_iter()
            .map(|c| {
                let size = i64::try_from(c.size)
                    .with_context(|| format!("checkpoint size {} is out of range", c.size))?;
                Ok((size, c.note))
            })
            .collect::<anyhow::Result<_>>()?,
        records: None,
    })
}

async fn verify(a: VerifyArgs) -> anyhow::Result<i32> {
    let trusted = match &a.key {
        Some(k) => Some(Vkey::parse(k).map_err(|e| anyhow::anyhow!("--key: {e}"))?),
        None => None,
    };
    // Which source is audited (the first of --public, --export, --database given), and the
    // others given too, which are not read: said in the summary, never silently skipped.
    let given: Vec<&str> = [
        a.public.as_ref().map(|_| "--public"),
        a.export.as_ref().map(|_| "--export"),
        a.database.as_ref().map(|_| "--database"),
    ]
    .into_iter()
    .flatten()
    .collect();
    let source = match (&a.public, &a.export, &a.database) {
        (Some(url), _, _) => format!("the service at {url}"),
        (None, Some(path), _) => format!("the bundle {}", path.display()),
        (None, None, Some(url)) => format!("the database {}", redact(url)),
        (None, None, None) => String::new(),
    };
    let skipped = if given.len() > 1 {
        format!(
            "; audited {source} only ({} given too and NOT read)",
            given[1..].join(", ")
        )
    } else {
        format!("; audited {source}")
    };
    let data = match (&a.public, &a.export, &a.database) {
        (Some(url), _, _) => public_data(url).await?,
        (None, Some(path), _) => read_export(path)?,
        (None, None, Some(url)) => {
            // Read-only: an audit never creates, migrates or changes what it checks.
            let store = Store::open_read_only(url)
                .await
                .with_context(|| format!("opening database {} to read", redact(url)))?;
            let d = store.ledger_data().await?;
            store.close().await;
            d
        }
        (None, None, None) => bail!("give --database, --export or --public"),
    };
    match audit::audit(&data, trusted.as_ref()) {
        Ok(report) => {
            println!(
                "{}{skipped}; {}",
                report.summary(),
                key_line(&report, trusted.is_some())
            );
            Ok(0)
        }
        Err(failure) => {
            println!("FAILED: {failure}");
            Ok(1)
        }
    }
}

/// One GET over plain HTTP/1.1: the body of a 200 answer.
async fn http_get(base: &str, path: &str) -> anyhow::Result<Vec<u8>> {
    use http_body_util::{BodyExt, Empty};
    let uri: hyper::Uri = format!("{}{path}", base.trim_end_matches('/'))
        .parse()
        .with_context(|| format!("{base} is not a URL"))?;
    if uri.scheme_str() != Some("http") {
        bail!("--public takes a plain http:// URL (run it next to the service or its proxy)");
    }
    let host = uri
        .host()
        .context("the URL has no host")?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = uri.port_u16().unwrap_or(80);
    let stream = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        tokio::net::TcpStream::connect((host.as_str(), port)),
    )
    .await
    .with_context(|| format!("connecting to {host}:{port}: no answer within 30 s"))?
    .with_context(|| format!("connecting to {host}:{port}"))?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let authority = uri
        .authority()
        .map_or_else(|| host.clone(), |a| a.to_string());
    let req = hyper::Request::get(uri.path_and_query().map_or("/", |p| p.as_str()))
        .header(hyper::header::HOST, authority)
        .body(Empty::<hyper::body::Bytes>::new())?;
    let deadline = std::time::Duration::from_secs(60);
    let res = tokio::time::timeout(deadline, sender.send_request(req))
        .await
        .with_context(|| format!("GET {path}: no answer within 60 s"))??;
    let status = res.status();
    let body = tokio::time::timeout(deadline, res.into_body().collect())
        .await
        .with_context(|| format!("GET {path}: the answer did not end within 60 s"))??
        .to_bytes()
        .to_vec();
    if !status.is_success() {
        bail!(
            "GET {path} answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    Ok(body)
}

/// What anyone can download from a running service: the latest checkpoint and every entry it
/// covers, fetched 1,000 at a time. No openings: the public audit.
async fn public_data(base: &str) -> anyhow::Result<LedgerData> {
    #[derive(Deserialize)]
    struct Row {
        index: u64,
        entry_b64: String,
    }
    let note = String::from_utf8(http_get(base, "/api/v1/ledger/checkpoint").await?)
        .context("the checkpoint is not text")?;
    let size: u64 = note
        .lines()
        .nth(1)
        .and_then(|l| l.parse().ok())
        .context("the checkpoint has no tree size")?;
    let mut entries = Vec::new();
    while (entries.len() as u64) < size {
        let start = entries.len() as u64;
        let end = size.min(start + 1000);
        let page: Vec<Row> = serde_json::from_slice(
            &http_get(
                base,
                &format!("/api/v1/ledger/entries?start={start}&end={end}"),
            )
            .await?,
        )
        .context("the entries are not the expected JSON")?;
        if page.is_empty() {
            bail!("the service returned no entries from {start} on, below its checkpoint's {size}");
        }
        for r in page {
            entries.push(EntryRow {
                index: i64::try_from(r.index)?,
                id: None,
                kind: None,
                bytes: B64
                    .decode(&r.entry_b64)
                    .with_context(|| format!("entry {} is not base64", r.index))?,
                openings: None,
            });
        }
    }
    Ok(LedgerData {
        entries,
        orphan_openings: Vec::new(),
        stored_hashes: None,
        checkpoints: vec![(i64::try_from(size)?, note)],
        records: None,
    })
}

/// The ledger's genesis key, its fingerprint, and whether it was checked against a trusted
/// key: without `--key` the audit trusts whatever self-signed genesis it was given, so the
/// auditor must compare the fingerprint with one obtained another way.
fn key_line(report: &audit::AuditReport, trusted: bool) -> String {
    use sha2::{Digest, Sha256};
    let Some(key) = audit::genesis_vkey(&report.state, &report.origin) else {
        return "no ledger key".into();
    };
    let fingerprint = B64.encode(Sha256::digest(key.key.as_bytes()));
    let check = if trusted {
        "checked against the trusted key given with --key"
    } else {
        "NOT checked against a trusted key: compare this fingerprint with the one Leergeld \
         published, or pass --key"
    };
    format!("genesis ledger key {key} fingerprint SHA256:{fingerprint} ({check})")
}

async fn rotate(a: RotateArgs) -> anyhow::Result<()> {
    let purpose = match a.purpose {
        PurposeArg::Voucher => KeyPurpose::Voucher,
        PurposeArg::Ledger => KeyPurpose::Ledger,
    };
    if a.accept_until.is_some() && purpose == KeyPurpose::Ledger {
        bail!(
            "--accept-until is for voucher keys: a ledger key's old entries and checkpoints stay \
             verifiable for ever"
        );
    }
    let ledger = open_ledger(&a.db, None).await?;
    let old = ledger.state().await.active_key(purpose).map(|(id, _)| id);
    let result = ledger.rotate(purpose).await;
    let active = ledger
        .state()
        .await
        .active_key(purpose)
        .map(|(id, _)| hex(&id));
    let until = a.accept_until.unwrap_or_else(|| {
        crate::core::time::dutch_date(chrono::Utc::now()) + chrono::Duration::days(90)
    });
    let recorded = match (result.is_ok(), purpose, old) {
        (true, KeyPurpose::Voucher, Some(old)) => ledger
            .store()
            .accept_voucher_key_until(&old, until)
            .await
            .map(|()| Some((hex(&old), until))),
        _ => Ok(None),
    };
    ledger.close().await;
    result.context("rotating the key")?;
    let recorded = recorded.context("recording until when the old key's tokens count")?;
    println!(
        "new {purpose} key {} is active; older public keys stay on the ledger",
        active.unwrap_or_default()
    );
    if let Some((old, until)) = recorded {
        if until < crate::core::time::dutch_date(chrono::Utc::now()) {
            println!(
                "--accept-until {until} lies in the past: tokens of voucher key {old} are refused \
                 from now on (key_retired); reissue those vouchers now (POST \
                 /api/v1/vouchers/reissue with {{\"key_id\": \"{old}\"}})"
            );
        } else {
            println!(
                "tokens of voucher key {old} are accepted until {until} (inclusive); reissue \
                 those vouchers before then (POST /api/v1/vouchers/reissue with \
                 {{\"key_id\": \"{old}\"}})"
            );
        }
    }
    Ok(())
}

/// Whether the ledger published a voucher key with this id, and if so whether the ledger
/// retired it since (read from the store alone, so that it works while the service runs).
async fn voucher_key_published(store: &Store, id: [u8; 4]) -> anyhow::Result<Option<bool>> {
    use crate::core::entry::{Body, EntryKind, KeyAction, SignedEntry};
    let mut found = None;
    for row in store
        .entries_of_kind(i64::from(EntryKind::KeyEvent.code()))
        .await?
    {
        let e = SignedEntry::decode(&row.bytes)
            .map_err(|e| anyhow::anyhow!("ledger entry {} cannot be read: {e}", row.index))?;
        if let Body::KeyEvent {
            action,
            purpose: KeyPurpose::Voucher,
            key_id,
            ..
        } = e.entry.body
            && key_id == id
        {
            found = Some(action == KeyAction::Retired || found == Some(true));
        }
    }
    Ok(found)
}

/// `keys revoke`: a compromised voucher key. Its tokens are refused from now on (a running
/// service reads the revocation with every scan), its private half leaves the keys directory,
/// and when it is the active key a new one takes over first (this needs the ledger's writer:
/// stop the service for that case).
async fn revoke(a: RevokeArgs) -> anyhow::Result<()> {
    if !matches!(a.purpose, PurposeArg::Voucher) {
        bail!("only voucher keys can be revoked; rotate the ledger key instead");
    }
    let id = crate::core::token::parse_key_id(&a.key_id)
        .with_context(|| format!("--key-id {:?} is not 8 hex digits", a.key_id))?;
    let store = Store::open(&a.db.database)
        .await
        .with_context(|| format!("opening database {}", redact(&a.db.database)))?;
    // Only a voucher key the ledger published can be revoked (a typo must not leave a
    // revocation of nothing behind).
    let published = voucher_key_published(&store, id).await;
    let Some(retired_on_ledger) = published? else {
        store.close().await;
        bail!("there is no voucher key {}", a.key_id);
    };
    if !retired_on_ledger {
        // The active key: a new one must take over first, which needs the ledger's writer.
        // Nothing is written unless that is possible (a revoked active key would leave the
        // running service unable to issue anything).
        store.close().await;
        let ledger = match open_ledger(&a.db, None).await {
            Ok(l) => l,
            Err(e) if writer_locked(&e) => bail!(
                "voucher key {} is the active one: revoking it makes a new key active, which \
                 needs the service stopped (the ledger's writer is in use). Nothing was changed; \
                 stop the service and run this again",
                a.key_id
            ),
            Err(e) => {
                return Err(e.context(
                    "opening the ledger to make a new voucher key active; nothing was changed",
                ));
            }
        };
        let result = async {
            // The new key first: if that fails nothing is revoked and the service can still
            // issue; if the revocation then fails, the old key is merely retired and running
            // this again revokes it.
            ledger
                .rotate(KeyPurpose::Voucher)
                .await
                .context("making a new voucher key active; nothing was revoked")?;
            ledger
                .store()
                .revoke_voucher_key(&id, chrono::Utc::now())
                .await
                .context(
                    "a new voucher key is active, but the old one could not be marked revoked: \
                     run this command again",
                )?;
            archive_retired_keys(&ledger, &a.db.keys).await.context(
                "the key is revoked and a new key is active, but its private key could not be \
                 moved out of the keys directory now; that happens at the next start",
            )?;
            let open = ledger.store().vouchers_signed_by(&id).await?.len();
            anyhow::Ok(open)
        }
        .await;
        ledger.close().await;
        let open = result?;
        println!(
            "voucher key {} was active; a new key is active now",
            a.key_id
        );
        println!(
            "voucher key {} is revoked: its tokens are refused (key_revoked); its private key \
             left the keys directory. {open} voucher(s) need a new token: POST \
             /api/v1/vouchers/reissue with {{\"key_id\": \"{}\"}} issues them.",
            a.key_id, a.key_id
        );
        return Ok(());
    }
    // An old key: refused at once, also by a running service (it reads the revocation with
    // every scan).
    store.revoke_voucher_key(&id, chrono::Utc::now()).await?;
    let open = store.vouchers_signed_by(&id).await.map(|v| v.len());
    store.close().await;
    println!(
        "voucher key {} is revoked: its tokens are refused (key_revoked). {} voucher(s) need a \
         new token: POST /api/v1/vouchers/reissue with {{\"key_id\": \"{}\"}} issues them.",
        a.key_id,
        open.unwrap_or(0),
        a.key_id
    );
    // Its private half leaves the keys directory now if the ledger can be opened here, or
    // at the next start of the service.
    match open_ledger(&a.db, None).await {
        Ok(ledger) => {
            ledger.close().await;
            println!("its private key left the keys directory");
        }
        Err(e) if writer_locked(&e) => println!(
            "its private key leaves the keys directory at the next start of the service (it \
             is running now)"
        ),
        Err(e) => {
            return Err(e.context(
                "the key is revoked, but its private key could not be moved out of the keys \
                 directory now; it is moved at the next start of the service",
            ));
        }
    }
    Ok(())
}

/// True when an error says the ledger's writer is held (the service runs).
fn writer_locked(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        matches!(
            c.downcast_ref::<crate::ledger::LedgerError>(),
            Some(crate::ledger::LedgerError::Store(StoreError::Locked(_)))
        ) || matches!(c.downcast_ref::<StoreError>(), Some(StoreError::Locked(_)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn database_passwords_are_redacted() {
        assert_eq!(
            redact("postgres://kp:geheim@db/kp"),
            "postgres://kp:***@db/kp"
        );
        assert_eq!(redact("postgres://kp@db/kp"), "postgres://kp@db/kp");
        assert_eq!(redact("sqlite://kindpakket.db"), "sqlite://kindpakket.db");
    }
}
