//! Login, logout, and the `AuthUser` extractor (bearer token or session cookie).

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::header::{AUTHORIZATION, COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::AppState;
use super::error::{ApiError, ApiJson, ErrorBody};
use crate::auth::{self, Role};
use crate::service::Actor;

/// Name of the session cookie used by the web pages.
pub const SESSION_COOKIE: &str = "kp_sessie";

/// The logged-in user of a request.
#[derive(Debug, Clone)]
pub struct AuthUser {
    /// User id.
    pub id: Uuid,
    /// Login name.
    pub username: String,
    /// Role.
    pub role: Role,
    /// Provider of a provider manager or cashier.
    pub provider_id: Option<Uuid>,
    /// Hash of the session token (to log out).
    pub token_hash: Vec<u8>,
}

impl AuthUser {
    /// Allows the request when the user acts as one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.iter().any(|r| self.role.acts_as(*r)) {
            Ok(())
        } else {
            Err(ApiError::forbidden())
        }
    }
}

/// The session token sent with a request: `Authorization: Bearer …` or the session cookie.
pub fn request_token(headers: &HeaderMap) -> Option<String> {
    if let Some(v) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let t = v
            .strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))?;
        return Some(t.trim().to_owned());
    }
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.to_owned())
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = request_token(&parts.headers).ok_or_else(ApiError::unauthorized)?;
        if token.is_empty() || token.len() > 200 {
            return Err(ApiError::unauthorized());
        }
        let hash = auth::token_hash(&token);
        let (user, _) = state
            .store
            .session_user(&hash, Utc::now())
            .await?
            .ok_or_else(ApiError::unauthorized)?;
        let role = Role::parse(&user.role)
            .ok_or_else(|| ApiError::internal("unknown role in users table"))?;
        Ok(AuthUser {
            id: user.id,
            username: user.username,
            role,
            provider_id: user.provider_id,
            token_hash: hash,
        })
    }
}

impl AuthUser {
    /// The service-layer view of this user.
    pub fn actor(&self) -> Actor {
        Actor::User {
            id: self.id,
            role: self.role,
            provider_id: self.provider_id,
        }
    }
}

/// Who reads: a logged-in user, or a parent through the household's personal link (sent as
/// `Authorization: Bearer <link token>`).
#[derive(Debug, Clone)]
pub enum Viewer {
    /// A logged-in user.
    User(AuthUser),
    /// A parent.
    Parent(Uuid),
}

impl Viewer {
    /// The service-layer view.
    pub fn actor(&self) -> Actor {
        match self {
            Viewer::User(u) => u.actor(),
            Viewer::Parent(h) => Actor::Parent { household_id: *h },
        }
    }
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match AuthUser::from_request_parts(parts, state).await {
            Ok(u) => Ok(Viewer::User(u)),
            Err(e) => {
                let token = request_token(&parts.headers).ok_or(e)?;
                match crate::service::households::by_link(&state.services, &token).await? {
                    Some(h) => Ok(Viewer::Parent(h.id)),
                    None => Err(ApiError::unauthorized()),
                }
            }
        }
    }
}

/// The client's address, when the server knows it.
pub struct ClientAddr(pub Option<SocketAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0),
        ))
    }
}

/// Login request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Login name.
    pub username: String,
    /// Password.
    pub password: String,
}

/// A new session.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    /// Bearer token for `Authorization: Bearer …`.
    pub token: String,
    /// The user's role.
    pub role: String,
    /// When the session ends (RFC 3339).
    pub expires_at: DateTime<Utc>,
}

/// Logs in; also sets an HttpOnly session cookie for the web pages.
#[utoipa::path(post, path = "/api/v1/login", operation_id = "login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = LoginResponse),
        (status = 401, description = "Wrong name or password (`invalid_login`)", body = ErrorBody),
        (status = 429, description = "Too many failed attempts (`too_many_attempts`)", body = ErrorBody),
    ))]
pub async fn login(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Response, ApiError> {
    let (user, expires_at, token) = login_user(&state, addr, &req.username, &req.password).await?;
    let cookie = session_cookie(&state, &token, expires_at);
    let body = LoginResponse {
        token,
        role: user.role,
        expires_at,
    };
    let mut resp = Json(body).into_response();
    if let Some(c) = cookie {
        resp.headers_mut().insert(SET_COOKIE, c);
    }
    Ok(resp)
}

/// Checks a name and password (rate-limited) and creates a session.
pub async fn login_user(
    state: &AppState,
    addr: Option<SocketAddr>,
    username: &str,
    password: &str,
) -> Result<(crate::store::users::UserRow, DateTime<Utc>, String), ApiError> {
    let username = username.trim().to_owned();
    // Control characters (NUL above all, which PostgreSQL text refuses) are never in a name.
    if username.is_empty()
        || username.len() > 100
        || password.len() > 1000
        || username.chars().any(char::is_control)
    {
        return Err(invalid_login());
    }
    // Failed logins are counted three ways within 15 minutes: a name from one address (5: a
    // forgotten password), a name from anywhere (20: guessing spread over many addresses) and
    // an address for any name (50: guessing many names). A name is never locked for everyone
    // by one person's typing, nor a whole club network by one volunteer's mistakes.
    let name = username.to_lowercase();
    let ip = addr.map_or_else(|| "onbekend".to_owned(), |a| a.ip().to_string());
    let own = format!("user-ip:{name}@{ip}");
    let mut keys = vec![(own.clone(), 5), (format!("user:{name}"), 20)];
    if addr.is_some() {
        keys.push((format!("ip:{ip}"), 50));
    }
    if let Some(secs) = state.limiter.retry_after(&keys) {
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_attempts",
            format!(
                "Te vaak een verkeerd wachtwoord. Probeer het over {} minuten opnieuw.",
                secs.div_ceil(60)
            ),
        );
        e.retry_after = Some(secs);
        return Err(e);
    }
    let found = state.store.user_by_name(&username).await?;
    let password = password.to_owned();
    let phc = found
        .as_ref()
        .map_or_else(|| auth::dummy_hash().to_owned(), |(_, h)| h.clone());
    let ok = tokio::task::spawn_blocking(move || auth::verify_password(&password, &phc))
        .await
        .map_err(ApiError::internal)?;
    let user = match (found, ok) {
        (Some((user, _)), true) => user,
        _ => {
            state.limiter.failed(&keys);
            return Err(invalid_login());
        }
    };
    state.limiter.succeeded(&own);
    let token =
        auth::new_token().ok_or_else(|| ApiError::internal("no randomness for a session token"))?;
    let now = Utc::now();
    let expires_at = now + state.config.session_ttl;
    state
        .store
        .create_session(&auth::token_hash(&token), user.id, now, expires_at)
        .await?;
    // Expired sessions are never accepted; each login also clears them out of the table.
    if let Err(e) = state.store.purge_sessions(now).await {
        tracing::warn!(error = %e, "could not purge expired sessions");
    }
    tracing::info!(user = %user.username, role = %user.role, "logged in");
    Ok((user, expires_at, token))
}

fn invalid_login() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_login",
        "De gebruikersnaam of het wachtwoord klopt niet.",
    )
}

/// The `Set-Cookie` value for a session.
pub fn session_cookie(
    state: &AppState,
    token: &str,
    expires_at: DateTime<Utc>,
) -> Option<HeaderValue> {
    let max_age = (expires_at - Utc::now()).num_seconds().max(0);
    let secure = if state.config.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    ))
    .ok()
}

/// A `Set-Cookie` value that removes the session cookie.
pub fn clear_cookie() -> HeaderValue {
    HeaderValue::from_static("kp_sessie=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")
}

/// Ends the session.
#[utoipa::path(post, path = "/api/v1/logout", operation_id = "logout", tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Logged out"),
        (status = 401, description = "Not logged in", body = ErrorBody),
    ))]
pub async fn logout(State(state): State<AppState>, user: AuthUser) -> Result<Response, ApiError> {
    state.store.delete_session(&user.token_hash).await?;
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut().insert(SET_COOKIE, clear_cookie());
    Ok(resp)
}
