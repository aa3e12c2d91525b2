//! `POST /api/v1/login` and `/logout`: a bearer token for programs and an HttpOnly session
//! cookie for the web pages.

use axum::Json;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::extract::{BearerToken, Body, ClientAddr, SESSION_COOKIE};
use super::state::AppState;
use crate::service::sessions;

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
    Body(input): Body<LoginRequest>,
) -> Result<Response, ApiError> {
    let credentials = input.map(|req| sessions::Credentials {
        username: req.username,
        password: req.password,
    });
    let session = sessions::login(&state.services, addr, credentials).await?;
    let cookie = session_cookie(&state, &session.token, session.expires_at);
    let mut resp = Json(LoginResponse {
        token: session.token,
        role: session.role.as_str().to_owned(),
        expires_at: session.expires_at,
    })
    .into_response();
    if let Some(c) = cookie {
        resp.headers_mut().insert(SET_COOKIE, c);
    }
    Ok(resp)
}

/// The `Set-Cookie` value for a session.
fn session_cookie(state: &AppState, token: &str, expires_at: DateTime<Utc>) -> Option<HeaderValue> {
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
fn clear_cookie() -> HeaderValue {
    HeaderValue::from_static("kp_sessie=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")
}

/// Ends the session.
#[utoipa::path(post, path = "/api/v1/logout", operation_id = "logout", tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Logged out"),
        (status = 401, description = "Not logged in", body = ErrorBody),
    ))]
pub async fn logout(
    State(state): State<AppState>,
    BearerToken(token): BearerToken,
) -> Result<Response, ApiError> {
    sessions::logout(&state.services, token.as_deref()).await?;
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut().insert(SET_COOKIE, clear_cookie());
    Ok(resp)
}
