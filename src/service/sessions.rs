//! Logging in and out, and finding out who holds a token: a session of a user, or a parent's
//! personal link.

use std::net::IpAddr;

use chrono::{DateTime, Utc};

use super::credentials::{self, DUMMY_HASH};
use super::error::Unauthenticated;
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
}

/// A log-in: name and password.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// Login name.
    pub username: String,
    /// Password.
    pub password: String,
}

/// Checks a name and password (with limits on failed attempts) and opens a session.
/// `client` is the caller's address, when known.
pub async fn login(
    svc: &Services,
    client: Option<IpAddr>,
    input: Input<Credentials>,
) -> Result<Session> {
    let Credentials { username, password } = input.read()?;
    let invalid = || Error::Unauthenticated(Unauthenticated::InvalidLogin);
    let username = username.trim().to_owned();
    // Control characters (NUL above all, which PostgreSQL text refuses) are never in a name.
    if username.is_empty()
        || username.len() > 100
        || password.len() > 1000
        || username.chars().any(char::is_control)
    {
        return Err(invalid());
    }
    // Failed logins are counted three ways within 15 minutes: a name from one address (5: a
    // forgotten password), a name from anywhere (20: guessing spread over many addresses) and
    // an address for any name (50: guessing many names). A name is never locked for everyone
    // by one person's typing, nor a whole club network by one volunteer's mistakes.
    let name = username.to_lowercase();
    let ip = client.map_or_else(|| "onbekend".to_owned(), |a| a.to_string());
    let own = format!("user-ip:{name}@{ip}");
    let mut keys = vec![(own.clone(), 5), (format!("user:{name}"), 20)];
    if client.is_some() {
        keys.push((format!("ip:{ip}"), 50));
    }
    if let Some(retry_after) = svc.limiter().retry_after(&keys) {
        return Err(Error::TooManyAttempts { retry_after });
    }
    let found = svc.store().credentials(&username).await?;
    let phc = found
        .as_ref()
        .map_or_else(|| DUMMY_HASH.to_owned(), |c| c.password_hash.clone());
    let ok = tokio::task::spawn_blocking(move || credentials::verify_password(&password, &phc))
        .await
        .map_err(Error::internal)?;
    let user = match (found, ok) {
        (Some(c), true) => c.user,
        _ => {
            svc.limiter().failed(&keys);
            return Err(invalid());
        }
    };
    svc.limiter().succeeded(&own);
    let token =
        credentials::new_token().ok_or_else(|| Error::bug("no randomness for a session token"))?;
    let now = Utc::now();
    let expires_at = now + svc.settings().session_ttl;
    svc.store()
        .create_session(&credentials::token_hash(&token), user.id, now, expires_at)
        .await?;
    // Expired sessions are never accepted; each login also clears them out of the table.
    if let Err(e) = svc.store().purge_sessions(now).await {
        tracing::warn!(error = %e, "could not purge expired sessions");
    }
    tracing::info!(user = %user.username, role = %user.role, "logged in");
    Ok(Session {
        token,
        role: user.role,
        expires_at,
    })
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
