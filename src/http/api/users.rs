//! `/api/v1/users…` and `/api/v1/me/password`: managing who can log in.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{ApiPath, BearerToken, Body, Caller};
use crate::http::state::AppState;
use crate::service::users::{self, PasswordChange, UserView};

/// A user.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserResponse {
    /// Id.
    pub id: Uuid,
    /// Login name.
    pub username: String,
    /// Role.
    pub role: String,
    /// The provider of a provider manager or cashier.
    pub provider_id: Option<Uuid>,
    /// True when the user cannot log in.
    pub disabled: bool,
    /// True when the user set up two-factor log-in.
    pub two_factor: bool,
}

fn response(u: UserView) -> UserResponse {
    UserResponse {
        id: u.id,
        role: u.role.as_str().to_owned(),
        username: u.username,
        provider_id: u.provider_id,
        disabled: u.disabled,
        two_factor: u.two_factor,
    }
}

/// A new password set by someone else.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordReset {
    /// The new password (at least 10 characters).
    pub password: String,
}

/// A change of the caller's own password.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnPasswordChange {
    /// The password now.
    pub current_password: String,
    /// The new password (at least 10 characters).
    pub new_password: String,
}

/// How many sessions ended.
#[derive(Debug, Serialize, ToSchema)]
pub struct Revoked {
    /// Sessions ended.
    pub revoked: u64,
}

/// The users the caller manages: all for an admin, the own club's for a provider manager.
#[utoipa::path(get, path = "/api/v1/users", operation_id = "list_users", tag = "users", security(("bearer" = [])),
    responses(
        (status = 200, description = "Users", body = Vec<UserResponse>),
        (status = 401, description = "Not logged in (`not_logged_in`)", body = ErrorBody), (status = 403, description = "Logged in, but this role may not (`forbidden`)", body = ErrorBody),
    ))]
pub async fn list(
    State(state): State<AppState>,
    Caller(actor): Caller,
) -> Result<Json<Vec<UserResponse>>, ApiError> {
    let users = users::list(&state.services, &actor).await?;
    Ok(Json(users.into_iter().map(response).collect()))
}

/// Disables a user: no more log-ins, and all of its sessions end at once (an admin; a provider
/// manager for the own club's cashiers).
#[utoipa::path(post, path = "/api/v1/users/{id}/disable", operation_id = "disable_user", tag = "users", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "User id")),
    responses(
        (status = 200, description = "Disabled", body = UserResponse),
        (status = 401, description = "Not logged in (`not_logged_in`)", body = ErrorBody), (status = 403, description = "Logged in, but this role may not (`forbidden`)", body = ErrorBody),
        (status = 404, description = "`unknown_user` (also a user that is not yours to manage)", body = ErrorBody),
        (status = 422, description = "`own_account`", body = ErrorBody),
    ))]
pub async fn disable(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<UserResponse>, ApiError> {
    let u = users::disable(&state.services, &actor, id).await?;
    Ok(Json(response(u)))
}

/// Turns off a user's two-factor log-in (an admin, for a user who lost the phone and the
/// recovery codes), with a new password for that user: every session of that user ends; the
/// user sets two-factor log-in up again at the next log-in.
#[utoipa::path(post, path = "/api/v1/users/{id}/totp/reset", operation_id = "reset_two_factor", tag = "users", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "User id")),
    request_body = PasswordReset,
    responses(
        (status = 200, description = "Two-factor log-in is off for this user and the new password set", body = UserResponse),
        (status = 400, description = "`invalid_password`, `invalid_field`, `malformed_json`", body = ErrorBody),
        (status = 401, description = "Not logged in (`not_logged_in`)", body = ErrorBody), (status = 403, description = "Logged in, but this role may not (`forbidden`)", body = ErrorBody),
        (status = 404, description = "`unknown_user`", body = ErrorBody),
        (status = 422, description = "`two_factor_off`: it is not on for this user; `password_unchanged`: the new password is the current one", body = ErrorBody),
        (status = 503, description = "`login_busy`", body = ErrorBody),
    ))]
pub async fn reset_two_factor(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<Uuid>,
    Body(input): Body<PasswordReset>,
) -> Result<Json<UserResponse>, ApiError> {
    let input = input.map(|r| r.password);
    let what = users::SecondFactorReset::Remove;
    let u = users::reset_second_factor(&state.services, &actor, id, what, input).await?;
    Ok(Json(response(u)))
}

/// Lifts a lock of a user's two-factor log-in after too many wrong codes (an admin), with a
/// new password for that user (someone who knew the old one was guessing codes): the count of
/// wrong codes starts again, the app stays set up, every session of that user ends.
#[utoipa::path(post, path = "/api/v1/users/{id}/totp/unlock", operation_id = "unlock_two_factor", tag = "users", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "User id")),
    request_body = PasswordReset,
    responses(
        (status = 200, description = "Unlocked and the new password set", body = UserResponse),
        (status = 400, description = "`invalid_password`, `invalid_field`, `malformed_json`", body = ErrorBody),
        (status = 401, description = "Not logged in (`not_logged_in`)", body = ErrorBody), (status = 403, description = "Logged in, but this role may not (`forbidden`)", body = ErrorBody),
        (status = 404, description = "`unknown_user`", body = ErrorBody),
        (status = 422, description = "`two_factor_off`: it is not on for this user; `password_unchanged`: the new password is the current one", body = ErrorBody),
        (status = 503, description = "`login_busy`", body = ErrorBody),
    ))]
pub async fn unlock_two_factor(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<Uuid>,
    Body(input): Body<PasswordReset>,
) -> Result<Json<UserResponse>, ApiError> {
    let input = input.map(|r| r.password);
    let what = users::SecondFactorReset::Unlock;
    let u = users::reset_second_factor(&state.services, &actor, id, what, input).await?;
    Ok(Json(response(u)))
}

/// Lets a disabled user log in again.
#[utoipa::path(post, path = "/api/v1/users/{id}/enable", operation_id = "enable_user", tag = "users", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "User id")),
    responses(
        (status = 200, description = "Enabled", body = UserResponse),
        (status = 401, description = "Not logged in (`not_logged_in`)", body = ErrorBody), (status = 403, description = "Logged in, but this role may not (`forbidden`)", body = ErrorBody),
        (status = 404, description = "`unknown_user`", body = ErrorBody),
    ))]
pub async fn enable(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<UserResponse>, ApiError> {
    let u = users::enable(&state.services, &actor, id).await?;
    Ok(Json(response(u)))
}

/// Resets a user's password; all of that user's sessions end.
#[utoipa::path(post, path = "/api/v1/users/{id}/password", operation_id = "reset_password", tag = "users", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "User id")),
    request_body = PasswordReset,
    responses(
        (status = 204, description = "Password set"),
        (status = 400, description = "`invalid_password`, `invalid_field`, `malformed_json`", body = ErrorBody),
        (status = 401, description = "Not logged in (`not_logged_in`)", body = ErrorBody), (status = 403, description = "Logged in, but this role may not (`forbidden`)", body = ErrorBody),
        (status = 404, description = "`unknown_user`", body = ErrorBody),
        (status = 503, description = "`login_busy`", body = ErrorBody),
    ))]
pub async fn reset_password(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<Uuid>,
    Body(input): Body<PasswordReset>,
) -> Result<StatusCode, ApiError> {
    let input = input.map(|r| r.password);
    users::reset_password(&state.services, &actor, id, input).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ends every session of a user (an admin; a provider manager for the own club's cashiers; a
/// user for themself).
#[utoipa::path(post, path = "/api/v1/users/{id}/sessions/revoke", operation_id = "revoke_sessions", tag = "users", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "User id")),
    responses(
        (status = 200, description = "Sessions ended", body = Revoked),
        (status = 401, description = "Not logged in (`not_logged_in`)", body = ErrorBody), (status = 403, description = "Logged in, but this role may not (`forbidden`)", body = ErrorBody),
        (status = 404, description = "`unknown_user`", body = ErrorBody),
    ))]
pub async fn revoke_sessions(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Revoked>, ApiError> {
    let revoked = users::revoke_sessions(&state.services, &actor, id).await?;
    Ok(Json(Revoked { revoked }))
}

/// Changes the caller's own password; the caller's other sessions end.
#[utoipa::path(post, path = "/api/v1/me/password", operation_id = "change_own_password", tag = "users", security(("bearer" = [])),
    request_body = OwnPasswordChange,
    responses(
        (status = 204, description = "Password changed"),
        (status = 400, description = "`invalid_password`, `invalid_field`, `malformed_json`", body = ErrorBody),
        (status = 401, description = "Not logged in (`not_logged_in`)", body = ErrorBody), (status = 403, description = "Logged in, but this role may not (`forbidden`)", body = ErrorBody),
        (status = 422, description = "`wrong_password`", body = ErrorBody),
        (status = 429, description = "Too many wrong current passwords (`too_many_attempts`)", body = ErrorBody),
        (status = 503, description = "`login_busy`", body = ErrorBody),
    ))]
pub async fn change_own_password(
    State(state): State<AppState>,
    Caller(actor): Caller,
    BearerToken(token): BearerToken,
    Body(input): Body<OwnPasswordChange>,
) -> Result<StatusCode, ApiError> {
    let input = input.map(|r| PasswordChange {
        current_password: r.current_password,
        new_password: r.new_password,
    });
    users::change_own_password(&state.services, &actor, token.as_deref(), input).await?;
    Ok(StatusCode::NO_CONTENT)
}
