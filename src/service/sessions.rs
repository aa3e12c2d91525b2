//! Logging in and out, and finding out who holds a token: a session of a user, or a parent's
//! personal link.

use std::net::IpAddr;

use chrono::{DateTime, Utc};

use super::credentials::{self, DUMMY_HASH};
use super::error::{Unauthenticated, Unavailable};
use super::login_limit::Limit;
use super::password_pool::PoolError;
use super::{Actor, Error, Input, Result, Services};
use crate::core::role::Role;

/// A new session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The bearer token (shown once; only its hash is stored).
    pub token: String,
    /// The user's role.
    pub role: Role,
    /// When the session ends.
    pub expires_at: DateTime<Utc>,
    /// True when the user must set up two-factor log-in before doing anything else.
    pub two_factor_enrolment_required: bool,
}

/// True for a user who must set up two-factor log-in first: with `--require-2fa`, an admin,
/// staff member or finance officer who has not.
fn must_enrol(svc: &Services, user: &crate::store::users::UserRow) -> bool {
    svc.settings().require_two_factor
        && matches!(user.role, Role::Admin | Role::Staff | Role::Finance)
        && user.totp_enabled_at.is_none()
}

/// A log-in: name and password.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// Login name.
    pub username: String,
    /// Password.
    pub password: String,
    /// The code from the authenticator app (or a recovery code), for a user who set up
    /// two-factor log-in.
    pub totp: Option<String>,
}

/// Checks a name and password (with limits on failed attempts) and opens a session.
/// `client` is the caller's address, when known.
pub async fn login(
    svc: &Services,
    client: Option<IpAddr>,
    input: Input<Credentials>,
) -> Result<Session> {
    let Credentials {
        username,
        password,
        totp,
    } = input.read()?;
    let invalid = || Error::Unauthenticated(Unauthenticated::InvalidLogin);
    let username = username.trim().to_owned();
    // Control characters (NUL above all, which PostgreSQL text refuses) are never in a name.
    if username.is_empty()
        || username.len() > 100
        || password.chars().count() > credentials::MAX_PASSWORD_CHARS
        || username.chars().any(char::is_control)
    {
        return Err(invalid());
    }
    // Attempts are counted three ways within 15 minutes, before the password is checked: a
    // name from one address (5: a forgotten password, or someone guessing from there), an
    // address for any name (50: guessing many names) and a name from anywhere. The first two
    // refuse further attempts for a while; the last only slows them down, doubling the wait,
    // so guessing spread over many addresses gets slow while the right password from another
    // address still gets in. A name is never locked for everyone by one person's guessing.
    let name = username.to_lowercase();
    let ip = client.map_or_else(|| "onbekend".to_owned(), address_key);
    let own = format!("user-ip:{name}@{ip}");
    let mut keys = vec![
        (own.clone(), Limit::Refuse(5)),
        (format!("user:{name}"), Limit::SlowDown(10)),
    ];
    if client.is_some() {
        keys.push((format!("ip:{ip}"), Limit::Refuse(50)));
    }
    let attempt = svc
        .limiter()
        .begin(&keys)
        .map_err(|retry_after| Error::TooManyAttempts { retry_after })?;
    if !attempt.delay.is_zero() {
        tracing::warn!(user = %username, delay = ?attempt.delay, "log-in slowed down: many failed attempts for this name");
        tokio::time::sleep(attempt.delay).await;
    }
    let found = svc.store().credentials(&username).await?;
    let phc = found
        .as_ref()
        .map_or_else(|| DUMMY_HASH.to_owned(), |c| c.password_hash.clone());
    let ok = match check_password(svc, password, phc).await {
        Ok(ok) => ok,
        Err(e) => {
            // Not checked (too many log-ins at once, or a fault): not a failed attempt.
            attempt.cancel();
            return Err(e);
        }
    };
    let found = match (found, ok) {
        (Some(c), true) => c,
        _ => {
            tracing::info!(user = %username, client = %ip, "failed log-in");
            return Err(invalid());
        }
    };
    // The password was right: not a failed attempt for the password limits. Second factors
    // are counted per user, in the database, by `second_factor` (a user who mistypes codes
    // is told to use a recovery code, not to wait for the password limits).
    attempt.succeeded(&own);
    let second_factor_checked = found.user.totp_enabled_at.is_some();
    if second_factor_checked {
        let Some(code) = totp.filter(|t| !t.trim().is_empty()) else {
            return Err(Error::Unauthenticated(Unauthenticated::TotpRequired));
        };
        if !super::two_factor::second_factor(svc, &found, &code).await? {
            tracing::info!(user = %username, client = %ip, "failed log-in: wrong two-factor code");
            return Err(invalid());
        }
    }
    let user = found.user;
    let token =
        credentials::new_token().ok_or_else(|| Error::bug("no randomness for a session token"))?;
    let now = Utc::now();
    let expires_at = now
        + if user.role == Role::Cashier {
            svc.settings().cashier_session_ttl
        } else {
            svc.settings().session_ttl
        };
    let opened = svc
        .store()
        .create_session(
            &credentials::token_hash(&token),
            user.id,
            &found.password_hash,
            now,
            expires_at,
            second_factor_checked,
        )
        .await?;
    if !opened {
        // The password was reset, the user disabled or two-factor log-in turned on while this
        // log-in was being checked.
        tracing::info!(user = %username, "log-in refused: the password changed, the user was disabled or two-factor log-in turned on meanwhile");
        return Err(invalid());
    }
    // Expired sessions are never accepted; each login also clears them out of the table.
    if let Err(e) = svc.store().purge_sessions(now).await {
        tracing::warn!(error = %e, "could not purge expired sessions");
    }
    tracing::info!(user = %user.username, role = %user.role, "logged in");
    Ok(Session {
        token,
        role: user.role,
        expires_at,
        two_factor_enrolment_required: must_enrol(svc, &user),
    })
}

/// The address an attempt is counted under: an IPv4 address, or the /64 network of an IPv6
/// address (one subscriber usually holds a whole /64, so counting single IPv6 addresses would
/// give one guesser 2^64 fresh budgets).
fn address_key(a: IpAddr) -> String {
    match a {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// Checks a password against a PHC string, when a turn is free: at most
/// [`super::Settings::password_checks_at_once`] checks run at once, so a flood of log-ins
/// cannot take the memory of one argon2id computation each.
pub(in crate::service) async fn check_password(
    svc: &Services,
    password: String,
    phc: String,
) -> Result<bool> {
    let ok = svc
        .password_pool()
        .run(svc.settings().password_check_wait, move || {
            credentials::verify_password(&password, &phc)
        })
        .await
        .map_err(|e| match e {
            PoolError::Busy => Error::Unavailable(Unavailable::LoginBusy),
            PoolError::Gone => Error::bug("the password threads are gone"),
        })?;
    metrics::counter!("kindpakket_password_checks_total").increment(1);
    Ok(ok)
}

/// Who holds a token: the user of a current session, a parent through a current personal
/// link, or nobody ([`Actor::Anonymous`]) for no token or one that is not (or no longer) valid.
pub async fn authenticate(svc: &Services, token: Option<&str>) -> Result<Actor> {
    let Some(token) = token.filter(|t| !t.is_empty() && t.len() <= 200) else {
        return Ok(Actor::Anonymous);
    };
    if let Some(user) = svc
        .store()
        .session_user(&credentials::token_hash(token), Utc::now())
        .await?
    {
        if must_enrol(svc, &user) {
            return Ok(Actor::Enrolling(super::User {
                id: user.id,
                role: user.role,
                provider: user.provider_id,
            }));
        }
        return Ok(Actor::user(user.id, user.role, user.provider_id));
    }
    Ok(match super::households::by_link(svc, token).await? {
        Some(h) => Actor::Parent { household: h.id },
        None => Actor::Anonymous,
    })
}

/// Ends the session of a token.
pub async fn logout(svc: &Services, token: Option<&str>) -> Result<()> {
    let not_logged_in = Error::Unauthenticated(Unauthenticated::NotLoggedIn);
    let Some(token) = token.filter(|t| !t.is_empty() && t.len() <= 200) else {
        return Err(not_logged_in);
    };
    let hash = credentials::token_hash(token);
    if svc.store().session_user(&hash, Utc::now()).await?.is_none() {
        return Err(not_logged_in);
    }
    svc.store().delete_session(&hash).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_attempts_count_per_64_network_and_ipv4_per_address() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff:1:2:3".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(a), "2001:db8:1:2::/64");
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(other));
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(address_key(v4), "192.0.2.7");
        assert_eq!(address_key(mapped), "192.0.2.7");
    }
}
