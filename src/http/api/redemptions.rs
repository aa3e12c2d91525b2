//! `/api/v1/redemptions…`: redeeming with an `Idempotency-Key`, and reversal. What a key
//! means (claimed before any work, written with the booking, repeats answered from the
//! ledger) is the use case's business: `service::idempotency`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{ApiPath, Body, Caller, IdempotencyKey, integer};
use crate::http::state::AppState;
use crate::service::redemptions::{self, Redeemed, Redemption, Reverse, Reversed};

/// A redemption.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedemptionRequest {
    /// The scanned KP1 token.
    pub token: String,
    /// Amount in cents.
    #[serde(deserialize_with = "integer")]
    pub amount_cents: i64,
    /// Category: sport, cultuur, school or overig.
    pub category: String,
    /// What it is for, e.g. "Contributie seizoen 2026-2027".
    #[serde(default)]
    pub description: Option<String>,
}
/// Redeems a voucher at the caller's club. Needs an `Idempotency-Key` header.
#[utoipa::path(post, path = "/api/v1/redemptions", operation_id = "create_redemption", tag = "redemptions", security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header, description = "Unique per intended redemption; repeat it on retries")),
    request_body = RedemptionRequest,
    responses(
        (status = 201, description = "Redeemed; `receipt` is a C2SP tlog-proof", body = Redeemed),
        (status = 400, description = "`idempotency_key_missing`, `invalid_idempotency_key`, `invalid_amount`, `invalid_category`", body = ErrorBody),
        (status = 401, description = "Not logged in (`not_logged_in`)", body = ErrorBody), (status = 403, description = "Logged in, but this role may not (`forbidden`)", body = ErrorBody),
        (status = 409, description = "`idempotency_in_flight`: the first request with this key is still running", body = ErrorBody),
        (status = 422, description = "`invalid_token_prefix`, `invalid_token_length`, `invalid_token_alphabet`, `invalid_token_padding`, `invalid_token_format`, `invalid_token`, `unknown_key`, `unknown_voucher`, `voucher_blocked`, `token_superseded`, `voucher_expired`, `voucher_not_yet_valid`, `provider_not_approved`, `category_not_allowed`, `insufficient_balance`, `idempotency_conflict`", body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<AppState>,
    Caller(actor): Caller,
    key: IdempotencyKey,
    Body(input): Body<RedemptionRequest>,
) -> Result<(StatusCode, Json<Redeemed>), ApiError> {
    let input = input.map(|req| Redemption {
        token: req.token,
        amount_cents: req.amount_cents,
        category: req.category,
        description: req.description,
    });
    let r = redemptions::redeem(&state.services, &actor, key.as_deref(), input).await?;
    Ok((StatusCode::CREATED, Json(r)))
}

/// Why a redemption is reversed.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReverseRequest {
    /// Reason (kept off the ledger).
    #[serde(default)]
    pub reason: String,
}

/// Reverses a redemption or direct payment, once, before it is paid out.
#[utoipa::path(post, path = "/api/v1/redemptions/{id}/reverse", operation_id = "reverse_redemption", tag = "redemptions", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Redemption id")),
    request_body = ReverseRequest,
    responses(
        (status = 201, description = "Reversed; `receipt` is a C2SP tlog-proof", body = Reversed),
        (status = 401, description = "Not logged in (`not_logged_in`)", body = ErrorBody), (status = 403, description = "Logged in, but this role may not (`forbidden`)", body = ErrorBody),
        (status = 404, description = "`unknown_redemption` (also for another provider's)", body = ErrorBody),
        (status = 409, description = "`already_reversed`, `already_paid_out`", body = ErrorBody),
    ))]
pub async fn reverse(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<Uuid>,
    Body(input): Body<ReverseRequest>,
) -> Result<(StatusCode, Json<Reversed>), ApiError> {
    let input = input.map(|req| Reverse { reason: req.reason });
    let r = redemptions::reverse(&state.services, &actor, id, input).await?;
    Ok((StatusCode::CREATED, Json(r)))
}
