//! Two-factor log-in for staff (TOTP, RFC 6238): setting it up, confirming it, recovery codes,
//! and checking the second factor at log-in.

use chrono::Utc;
use sha2::{Digest, Sha256};

use super::error::{Conflict, Missing, Rule};
use super::{Actor, Error, Input, Result, Services};
use crate::core::totp;
use crate::store::users::Credentials;

/// How many recovery codes a user gets.
pub const RECOVERY_CODES: usize = 10;

/// A started enrolment: the secret, shown once.
#[derive(Debug, Clone)]
pub struct Enrolment {
    /// The secret in base32, to type into an app by hand.
    pub secret: String,
    /// The `otpauth://` URI (also in the QR code).
    pub otpauth_uri: String,
    /// The URI as an SVG QR code.
    pub qr_svg: String,
}

/// Starts (or restarts, until confirmed) setting up two-factor log-in for the actor: a new
/// secret, shown once. It counts only after [`confirm`].
pub async fn enrol(svc: &Services, actor: &Actor) -> Result<Enrolment> {
    let me = actor.require_self()?;
    let store = svc.store();
    let c = not_yet_enrolled(store, me.id).await?;
    let mut secret = [0u8; totp::SECRET_BYTES];
    getrandom::fill(&mut secret).map_err(|_| Error::bug("no randomness for a TOTP secret"))?;
    if !store.set_pending_totp(me.id, &secret).await? {
        return Err(Conflict::TwoFactorOn.into());
    }
    let uri = totp::otpauth_uri("Kindpakket", &c.user.username, &secret);
    let qr_svg =
        super::qr::svg(&uri, "QR-code voor uw authenticator-app").map_err(Error::internal)?;
    tracing::info!(user = %c.user.username, "two-factor enrolment started");
    Ok(Enrolment {
        secret: data_encoding::BASE32_NOPAD.encode(&secret),
        otpauth_uri: uri,
        qr_svg,
    })
}

/// Confirms the enrolment with a code from the app: two-factor log-in counts from now, and the
/// user's other sessions (opened with the password alone) end; `session_token` is the one
/// making the change, which stays. Returns the recovery codes, shown once (each works once,
/// instead of a code, when the phone is lost).
pub async fn confirm(
    svc: &Services,
    actor: &Actor,
    session_token: Option<&str>,
    code: Input<String>,
) -> Result<Vec<String>> {
    let me = actor.require_self()?;
    let code = code.read()?;
    let store = svc.store();
    let c = not_yet_enrolled(store, me.id).await?;
    let Some(secret) = c.totp_secret.as_deref() else {
        return Err(Rule::WrongTotp.into());
    };
    if !accept_code(svc, &c, secret, &code).await? {
        return Err(Rule::WrongTotp.into());
    }
    let mut codes = Vec::with_capacity(RECOVERY_CODES);
    for _ in 0..RECOVERY_CODES {
        let mut b = [0u8; 5];
        getrandom::fill(&mut b).map_err(|_| Error::bug("no randomness for recovery codes"))?;
        let text = data_encoding::BASE32_NOPAD.encode(&b).to_lowercase();
        codes.push(format!("{}-{}", &text[..4], &text[4..]));
    }
    let hashes: Vec<Vec<u8>> = codes.iter().map(|c| recovery_hash(c)).collect();
    let keep = session_token.map(super::credentials::token_hash);
    if !store
        .enable_totp(me.id, secret, Utc::now(), &hashes, keep.as_deref())
        .await?
    {
        // Another confirmation (or a new enrolment) came first.
        return Err(Conflict::Exists.into());
    }
    tracing::info!(user = %c.user.username, "two-factor log-in set up");
    Ok(codes)
}

/// The user's credentials, while two-factor log-in is not set up yet (`409` once it is).
async fn not_yet_enrolled(store: &crate::store::Store, user: uuid::Uuid) -> Result<Credentials> {
    let c = store
        .credentials_of(user)
        .await?
        .ok_or(Error::NotFound(Missing::User))?;
    if c.user.totp_enabled_at.is_some() {
        return Err(Conflict::TwoFactorOn.into());
    }
    Ok(c)
}

/// The stored form of a recovery code: SHA-256 of its letters and digits, lower case.
fn recovery_hash(code: &str) -> Vec<u8> {
    let norm: String = code
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    Sha256::digest(norm.as_bytes()).to_vec()
}

/// Accepts a code for a secret: right for now (one step of drift either way) and later than the
/// last code accepted, which it becomes (atomically, so two log-ins cannot share one code).
async fn accept_code(svc: &Services, c: &Credentials, secret: &[u8], code: &str) -> Result<bool> {
    let now = u64::try_from(Utc::now().timestamp()).unwrap_or(0);
    let last = c.totp_last_step.and_then(|s| u64::try_from(s).ok());
    let Some(step) = totp::check(secret, code, now, last) else {
        return Ok(false);
    };
    let step = i64::try_from(step).map_err(Error::internal)?;
    Ok(svc.store().use_totp_step(c.user.id, step).await?)
}

/// Wrong second factors in a row after which codes from the app are refused: only a recovery
/// code works (someone who has the password is guessing codes).
pub const CODES_REFUSED_AFTER: i64 = 10;
/// Wrong second factors in a row after which nothing works until an admin unlocks it (with a
/// new password).
pub const ALL_REFUSED_AFTER: i64 = 20;

/// The second factor at log-in: a current code from the app, used once, or an unused
/// recovery code (which is then used up). Every attempt is counted before it is checked (so
/// parallel guesses cannot all pass), per user and across restarts: past
/// [`CODES_REFUSED_AFTER`] wrong ones in a row only a recovery code works, past
/// [`ALL_REFUSED_AFTER`] nothing does (`two_factor_locked`) until an admin unlocks it with a
/// new password. A right one starts the count again.
pub(in crate::service) async fn second_factor(
    svc: &Services,
    c: &Credentials,
    code: &str,
) -> Result<bool> {
    let Some(secret) = c.totp_secret.as_deref() else {
        return Ok(false);
    };
    use super::error::Unauthenticated;
    let is_app_code = code.chars().filter(char::is_ascii_digit).count() == totp::DIGITS as usize
        && code
            .chars()
            .all(|ch| ch.is_ascii_digit() || ch.is_whitespace());
    let store = svc.store();
    let attempts = store.count_second_factor_attempt(c.user.id).await?;
    if attempts > ALL_REFUSED_AFTER {
        tracing::warn!(user = %c.user.username, attempts, "two-factor log-in locked: too many wrong codes");
        return Err(Error::Unauthenticated(Unauthenticated::TwoFactorLocked));
    }
    if is_app_code && attempts > CODES_REFUSED_AFTER {
        tracing::warn!(user = %c.user.username, attempts, "two-factor log-in refused: too many wrong codes, a recovery code is needed");
        return Err(Error::Unauthenticated(
            Unauthenticated::RecoveryCodeRequired,
        ));
    }
    let right = if is_app_code {
        accept_code(svc, c, secret, code).await?
    } else if code.len() > 40 {
        false
    } else {
        let used = store
            .use_recovery_code(c.user.id, &recovery_hash(code), Utc::now())
            .await?;
        if used {
            tracing::warn!(user = %c.user.username, "logged in with a recovery code");
        }
        used
    };
    if right {
        store.second_factor_succeeded(c.user.id).await?;
    }
    Ok(right)
}
