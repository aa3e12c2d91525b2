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
use super::extract::{BearerToken, Body, Caller, ClientAddr, SESSION_COOKIE};
use super::state::AppState;
use crate::service::{sessions, two_factor};

/// Login request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Login name.
    pub username: String,
    /// Password.
    pub password: String,
    /// The six-digit code from the authenticator app (or a recovery code), for a user who set
    /// up two-factor log-in.
    #[serde(default)]
    pub totp: Option<String>,
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
    /// True when the user must set up two-factor log-in (`POST /api/v1/me/totp`) before
    /// anything else.
    pub two_factor_enrolment_required: bool,
}

/// Logs in; also sets an HttpOnly session cookie for the web pages.
#[utoipa::path(post, path = "/api/v1/login", operation_id = "login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = LoginResponse),
        (status = 401, description = "Wrong name, password or two-factor code (`invalid_login`), or the two-factor code is missing (`totp_required`), or 10 wrong codes in a row (`recovery_code_required`: only a recovery code works), or 20 (`two_factor_locked`: an admin must unlock it with a new password)", body = ErrorBody),
        (status = 429, description = "Too many failed attempts (`too_many_attempts`)", body = ErrorBody),
        (status = 503, description = "Too many log-ins at once (`login_busy`)", body = ErrorBody),
    ))]
pub async fn login(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    Body(input): Body<LoginRequest>,
) -> Result<Response, ApiError> {
    let credentials = input.map(|req| sessions::Credentials {
        username: req.username,
        password: req.password,
        totp: req.totp,
    });
    let session = sessions::login(&state.services, addr, credentials).await?;
    let cookie = session_cookie(&state, &session.token, session.expires_at);
    let mut resp = Json(LoginResponse {
        token: session.token,
        role: session.role.as_str().to_owned(),
        expires_at: session.expires_at,
        two_factor_enrolment_required: session.two_factor_enrolment_required,
    })
    .into_response();
    if let Some(c) = cookie {
        resp.headers_mut().insert(SET_COOKIE, c);
    }
    Ok(resp)
}

/// The `Set-Cookie` value for a session.
pub(crate) fn session_cookie(
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

/// A started two-factor enrolment: the secret, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct TotpEnrolment {
    /// The secret in base32, to type into an authenticator app by hand.
    pub secret: String,
    /// The `otpauth://` URI (also in the QR code).
    pub otpauth_uri: String,
    /// The URI as an SVG QR code.
    pub qr_svg: String,
}

/// A code from the authenticator app.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TotpCode {
    /// Six digits.
    pub code: String,
}

/// Recovery codes, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecoveryCodes {
    /// Ten single-use codes, for when the phone is lost.
    pub recovery_codes: Vec<String>,
}

/// Starts setting up two-factor log-in for the caller: a new secret, shown once (as text, as an
/// `otpauth://` URI and as a QR code). It counts after `POST /api/v1/me/totp/confirm`.
#[utoipa::path(post, path = "/api/v1/me/totp", operation_id = "enrol_totp", tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Enrolment started", body = TotpEnrolment),
        (status = 401, description = "Not logged in (`not_logged_in`)", body = ErrorBody),
        (status = 409, description = "Two-factor log-in is already set up (`two_factor_already_on`)", body = ErrorBody),
    ))]
pub async fn enrol_totp(
    State(state): State<AppState>,
    Caller(actor): Caller,
) -> Result<(StatusCode, Json<TotpEnrolment>), ApiError> {
    let e = two_factor::enrol(&state.services, &actor).await?;
    Ok((
        StatusCode::CREATED,
        Json(TotpEnrolment {
            secret: e.secret,
            otpauth_uri: e.otpauth_uri,
            qr_svg: e.qr_svg,
        }),
    ))
}

/// Confirms two-factor log-in with a code from the app; answers the recovery codes, once.
#[utoipa::path(post, path = "/api/v1/me/totp/confirm", operation_id = "confirm_totp", tag = "auth",
    security(("bearer" = [])),
    request_body = TotpCode,
    responses(
        (status = 200, description = "Two-factor log-in counts from now; the caller's other sessions ended", body = RecoveryCodes),
        (status = 400, description = "`invalid_field`, `malformed_json`", body = ErrorBody),
        (status = 401, description = "Not logged in (`not_logged_in`)", body = ErrorBody),
        (status = 409, description = "Already set up (`two_factor_already_on`), or another confirmation or enrolment came first (`conflict`)", body = ErrorBody),
        (status = 422, description = "`wrong_totp`", body = ErrorBody),
    ))]
pub async fn confirm_totp(
    State(state): State<AppState>,
    Caller(actor): Caller,
    BearerToken(token): BearerToken,
    Body(input): Body<TotpCode>,
) -> Result<Json<RecoveryCodes>, ApiError> {
    let recovery_codes = two_factor::confirm(
        &state.services,
        &actor,
        token.as_deref(),
        input.map(|c| c.code),
    )
    .await?;
    Ok(Json(RecoveryCodes { recovery_codes }))
}
