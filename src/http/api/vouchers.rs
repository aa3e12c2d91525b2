//! `/api/v1/…vouchers…`: issue, view, QR codes, top-up, block, reissue, lookup.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{
    ApiPath, ApiQuery, Body, Caller, IdempotencyKey, integer, optional_integer,
};
use crate::http::state::AppState;
use crate::service::vouchers::{self, Block, Issued, Lookup, TopUp, ToppedUp, VoucherView};
use crate::service::{Error, Input, qr};

/// What to issue: `child_id` for funds per child, `household_id` for pooled funds.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueRequest {
    /// The child (funds with `pooling: child`).
    #[serde(default)]
    pub child_id: Option<Uuid>,
    /// The household (funds with `pooling: household`).
    #[serde(default)]
    pub household_id: Option<Uuid>,
    /// Another amount than the fund's standard, in cents.
    #[serde(default, deserialize_with = "optional_integer")]
    pub amount_cents: Option<i64>,
}

/// Issues a voucher with a signed KP1 token.
#[utoipa::path(post, path = "/api/v1/funds/{id}/vouchers", operation_id = "issue_voucher", tag = "vouchers", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Fund id"), ("Idempotency-Key" = Option<String>, Header, description = "Optional. Repeat it on a retry: the voucher is issued once and the repeat gets it as issued")),
    request_body = IssueRequest,
    responses(
        (status = 201, description = "Voucher issued", body = Issued),
        (status = 400, description = "`child_id_required`, `household_id_required`, `invalid_amount`", body = ErrorBody),
        (status = 401, description = "Not logged in (`not_logged_in`)", body = ErrorBody), (status = 403, description = "Logged in, but this role may not (`forbidden`)", body = ErrorBody),
        (status = 404, description = "`unknown_fund`, `unknown_child`, `unknown_household`", body = ErrorBody),
        (status = 409, description = "`already_issued`", body = ErrorBody),
        (status = 422, description = "`child_not_eligible`, `fund_expired`, `insufficient_fund_balance`, `personal_data_erased`", body = ErrorBody),
    ))]
pub async fn issue(
    State(state): State<AppState>,
    Caller(actor): Caller,
    key: IdempotencyKey,
    ApiPath(fund): ApiPath<Uuid>,
    Body(input): Body<IssueRequest>,
) -> Result<(StatusCode, Json<Issued>), ApiError> {
    let input = input.map(|req| vouchers::issue::IssueRequest {
        child_id: req.child_id,
        household_id: req.household_id,
        amount_cents: req.amount_cents,
    });
    let issued = vouchers::issue(&state.services, &actor, fund, key.as_deref(), input).await?;
    Ok((StatusCode::CREATED, Json(issued)))
}

/// A voucher with balance, status and history (staff, auditors, or the household's link).
#[utoipa::path(get, path = "/api/v1/vouchers/{id}", operation_id = "get_voucher", tag = "vouchers",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Voucher id")),
    responses(
        (status = 200, description = "The voucher with balance and history", body = VoucherView),
        (status = 401, description = "Not logged in (`not_logged_in`)", body = ErrorBody), (status = 403, description = "Logged in, but this role may not (`forbidden`)", body = ErrorBody),
        (status = 404, description = "`unknown_voucher`", body = ErrorBody),
    ))]
pub async fn get(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<VoucherView>, ApiError> {
    Ok(Json(vouchers::view(&state.services, &actor, id).await?))
}

fn private(content_type: &'static str, body: impl IntoResponse) -> Response {
    // The code is a bearer credential: never cache it in shared caches.
    (
        [
            (CONTENT_TYPE, content_type),
            (CACHE_CONTROL, "private, no-store"),
        ],
        body,
    )
        .into_response()
}

/// The voucher's current token as an SVG QR code.
#[utoipa::path(get, path = "/api/v1/vouchers/{id}/qr.svg", operation_id = "get_voucher_qr_svg", tag = "vouchers",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Voucher id")),
    responses(
        (status = 200, description = "QR code of the current token", content_type = "image/svg+xml", body = String),
        (status = 401, description = "Not logged in (`not_logged_in`)", body = ErrorBody), (status = 403, description = "Not allowed (`forbidden`): only staff and the parent link", body = ErrorBody), (status = 404, description = "`unknown_voucher` (also for another household's voucher when viewed through a parent link)", body = ErrorBody), (status = 409, description = "`reissue_needed`: the token's key was revoked or retired", body = ErrorBody),
    ))]
pub async fn qr_svg(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Response, ApiError> {
    let token = vouchers::current_token(&state.services, &actor, id).await?;
    let svg = qr::svg(&token, "QR-code van de voucher").map_err(Error::internal)?;
    Ok(private("image/svg+xml", svg))
}

/// The voucher's current token as a PNG QR code (8 pixels per module).
#[utoipa::path(get, path = "/api/v1/vouchers/{id}/qr.png", operation_id = "get_voucher_qr_png", tag = "vouchers",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Voucher id")),
    responses(
        (status = 200, description = "QR code of the current token", content_type = "image/png", body = Vec<u8>),
        (status = 401, description = "Not logged in (`not_logged_in`)", body = ErrorBody), (status = 403, description = "Not allowed (`forbidden`): only staff and the parent link", body = ErrorBody), (status = 404, description = "`unknown_voucher` (also for another household's voucher when viewed through a parent link)", body = ErrorBody), (status = 409, description = "`reissue_needed`: the token's key was revoked or retired", body = ErrorBody),
    ))]
pub async fn qr_png(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Response, ApiError> {
    let token = vouchers::current_token(&state.services, &actor, id).await?;
    let png = qr::png(&token, 8).map_err(Error::internal)?;
    Ok(private("image/png", png))
}

/// Extra budget.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TopUpRequest {
    /// Amount in cents.
    #[serde(deserialize_with = "integer")]
    pub amount_cents: i64,
    /// Why (kept off the ledger).
    #[serde(default)]
    pub reason: String,
}

/// Moves extra budget from the fund onto the voucher.
#[utoipa::path(post, path = "/api/v1/vouchers/{id}/top-ups", operation_id = "top_up_voucher", tag = "vouchers", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Voucher id"), ("Idempotency-Key" = Option<String>, Header, description = "Optional. Repeat it on a retry: the booking happens once and the repeat gets the same answer")),
    request_body = TopUpRequest,
    responses(
        (status = 201, description = "Topped up", body = ToppedUp),
        (status = 400, description = "`invalid_amount`", body = ErrorBody),
        (status = 401, description = "Not logged in (`not_logged_in`)", body = ErrorBody), (status = 403, description = "Logged in, but this role may not (`forbidden`)", body = ErrorBody),
        (status = 404, description = "`unknown_voucher`", body = ErrorBody),
        (status = 422, description = "`insufficient_fund_balance`, `fund_expired`, `voucher_expired`, `idempotency_conflict`", body = ErrorBody),
    ))]
pub async fn top_up(
    State(state): State<AppState>,
    Caller(actor): Caller,
    key: IdempotencyKey,
    ApiPath(id): ApiPath<Uuid>,
    Body(input): Body<TopUpRequest>,
) -> Result<(StatusCode, Json<ToppedUp>), ApiError> {
    let input = input.map(|req| TopUp {
        amount_cents: req.amount_cents,
        reason: req.reason,
    });
    let t = vouchers::top_up(&state.services, &actor, id, key.as_deref(), input).await?;
    Ok((StatusCode::CREATED, Json(t)))
}

/// Why a voucher is blocked.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BlockRequest {
    /// Reason (kept off the ledger).
    #[serde(default)]
    pub reason: String,
}

/// A voucher's new status.
#[derive(Debug, Serialize, ToSchema)]
pub struct BlockResponse {
    /// `blocked`.
    pub status: String,
    /// Ledger index.
    pub entry_index: u64,
}

/// Blocks a voucher: its printed token stops working at once; the balance stays.
#[utoipa::path(post, path = "/api/v1/vouchers/{id}/block", operation_id = "block_voucher", tag = "vouchers", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Voucher id")),
    request_body = BlockRequest,
    responses(
        (status = 200, description = "Voucher blocked", body = BlockResponse),
        (status = 401, description = "Not logged in (`not_logged_in`)", body = ErrorBody), (status = 403, description = "Logged in, but this role may not (`forbidden`)", body = ErrorBody),
        (status = 404, description = "`unknown_voucher`", body = ErrorBody),
        (status = 409, description = "`already_blocked`", body = ErrorBody),
        (status = 422, description = "`voucher_expired`", body = ErrorBody),
    ))]
pub async fn block(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<Uuid>,
    Body(input): Body<BlockRequest>,
) -> Result<Json<BlockResponse>, ApiError> {
    let input = input.map(|req| Block { reason: req.reason });
    let entry_index = vouchers::block(&state.services, &actor, id, input).await?;
    Ok(Json(BlockResponse {
        status: "blocked".into(),
        entry_index,
    }))
}

/// A reissued voucher.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReissueResponse {
    /// Voucher id.
    pub id: Uuid,
    /// The new token (the old one no longer works).
    pub token: String,
    /// The new generation.
    pub generation: u8,
    /// Ledger index.
    pub entry_index: u64,
}

/// Gives a voucher a new token generation with the same balance (and unblocks it).
#[utoipa::path(post, path = "/api/v1/vouchers/{id}/reissue", operation_id = "reissue_voucher", tag = "vouchers", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Voucher id")),
    responses(
        (status = 201, description = "Reissued: a new generation with the same balance; the old token answers `token_superseded`", body = ReissueResponse),
        (status = 401, description = "Not logged in (`not_logged_in`)", body = ErrorBody), (status = 403, description = "Logged in, but this role may not (`forbidden`)", body = ErrorBody),
        (status = 404, description = "`unknown_voucher`", body = ErrorBody),
        (status = 409, description = "`voucher_changed`: another reissue of this voucher came first", body = ErrorBody),
        (status = 422, description = "`voucher_expired`, `too_many_reissues`", body = ErrorBody),
    ))]
pub async fn reissue(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<(StatusCode, Json<ReissueResponse>), ApiError> {
    let r = vouchers::reissue(&state.services, &actor, id).await?;
    Ok((
        StatusCode::CREATED,
        Json(ReissueResponse {
            id,
            token: r.token,
            generation: r.generation,
            entry_index: r.entry_index,
        }),
    ))
}

/// A scanned or typed code.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LookupRequest {
    /// The KP1 token.
    pub token: String,
}

/// Checks a code for the caller's club: valid or not, with a plain reason, the balance and a
/// minimal hint to check identity (first-name initial and birth year).
#[utoipa::path(post, path = "/api/v1/vouchers/lookup", operation_id = "lookup_voucher", tag = "redemptions", security(("bearer" = [])),
    request_body = LookupRequest,
    responses(
        (status = 200, description = "`valid: false` comes with `reason_code`: `invalid_token_prefix`, `invalid_token_length`, `invalid_token_alphabet`, `invalid_token_padding`, `invalid_token_format`, `invalid_token`, `unknown_key`, `key_retired`, `key_revoked`, `unknown_voucher`, `voucher_blocked`, `token_superseded`, `voucher_expired`, `voucher_not_yet_valid`, `provider_not_approved`, `insufficient_balance`", body = Lookup),
        (status = 401, description = "Not logged in (`not_logged_in`)", body = ErrorBody), (status = 403, description = "Logged in, but this role may not (`forbidden`)", body = ErrorBody),
    ))]
pub async fn lookup(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Body(input): Body<LookupRequest>,
) -> Result<Json<Lookup>, ApiError> {
    let token = input.map(|req| req.token);
    Ok(Json(
        vouchers::lookup(&state.services, &actor, token).await?,
    ))
}

/// Which key's vouchers to reissue.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkReissueRequest {
    /// The voucher key id (8 hex digits, as `GET /api/v1/keys/voucher` lists it).
    pub key_id: String,
}

/// A reissued voucher, which needs a new letter.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkReissuedVoucher {
    /// Voucher id.
    pub id: Uuid,
    /// Its household (for the letter).
    pub household_id: Uuid,
}

/// A voucher a bulk reissue could not reissue.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkReissueFailure {
    /// Voucher id.
    pub id: Uuid,
    /// Why (an error code, such as `too_many_reissues`).
    pub code: String,
}

/// What one bulk-reissue run did.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkReissueResponse {
    /// How many vouchers got a new token in this run.
    pub reissued: usize,
    /// Vouchers of that key left alone: closed or past their expiry (no letter needed), or
    /// reissued meanwhile by another run or by hand.
    pub skipped: usize,
    /// Vouchers that could not be reissued, with the reason's code; the run went on.
    pub failed: Vec<BulkReissueFailure>,
    /// Open vouchers of that key this run did not reach (its time was up): post again until
    /// this is 0. `GET /api/v1/vouchers/reissued?key_id=` lists the vouchers of every run.
    pub remaining: usize,
    /// The vouchers that got a new token in this run; each needs a new letter.
    pub vouchers: Vec<BulkReissuedVoucher>,
}

/// Reissues every open voucher whose token a voucher key signs (after a rotation, or at once
/// after a revocation): new tokens from the active key; the old printouts stop working. One
/// call works for at most about ten seconds and says how many are `remaining`; call again
/// until none are.
#[utoipa::path(post, path = "/api/v1/vouchers/reissue", operation_id = "reissue_vouchers_of_key", tag = "vouchers", security(("bearer" = [])),
    request_body = BulkReissueRequest,
    responses(
        (status = 200, description = "Reissued (all, or as many as fitted in this run: see `remaining`)", body = BulkReissueResponse),
        (status = 400, description = "`invalid_key_id`, `invalid_field`, `malformed_json`", body = ErrorBody),
        (status = 401, description = "Not logged in (`not_logged_in`)", body = ErrorBody), (status = 403, description = "Logged in, but this role may not (`forbidden`)", body = ErrorBody),
        (status = 404, description = "`unknown_voucher_key`: no voucher key has this id", body = ErrorBody),
        (status = 422, description = "`key_still_active`: the key is the active one and not revoked", body = ErrorBody),
    ))]
pub async fn reissue_all(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Body(input): Body<BulkReissueRequest>,
) -> Result<Json<BulkReissueResponse>, ApiError> {
    let r = vouchers::reissue_all(&state.services, &actor, input.map(|b| b.key_id)).await?;
    Ok(Json(BulkReissueResponse {
        reissued: r.reissued.len(),
        skipped: r.skipped,
        failed: r
            .failed
            .into_iter()
            .map(|(id, code)| BulkReissueFailure { id, code })
            .collect(),
        remaining: r.remaining,
        vouchers: r
            .reissued
            .into_iter()
            .map(|(id, household_id)| BulkReissuedVoucher { id, household_id })
            .collect(),
    }))
}

/// Which key's reissued vouchers to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReissuedQuery {
    /// The voucher key id (8 hex digits).
    pub key_id: String,
}

/// A voucher whose token of that key was replaced.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReissuedVoucherView {
    /// Voucher id.
    pub id: Uuid,
    /// Its household (who needs the new letter).
    pub household_id: Uuid,
    /// The generation of its new token.
    pub generation: u8,
    /// When it was reissued.
    pub reissued_at: chrono::DateTime<chrono::Utc>,
}

/// Every voucher reissued away from a voucher key, over all bulk runs and single reissues,
/// once each, oldest first: the households that need a new letter.
#[utoipa::path(get, path = "/api/v1/vouchers/reissued", operation_id = "list_vouchers_reissued_from_key", tag = "vouchers", security(("bearer" = [])),
    params(ReissuedQuery),
    responses(
        (status = 200, description = "The reissued vouchers", body = Vec<ReissuedVoucherView>),
        (status = 400, description = "`invalid_key_id`, `invalid_query`", body = ErrorBody),
        (status = 401, description = "Not logged in (`not_logged_in`)", body = ErrorBody), (status = 403, description = "Logged in, but this role may not (`forbidden`)", body = ErrorBody),
        (status = 404, description = "`unknown_voucher_key`: no voucher key has this id", body = ErrorBody),
    ))]
pub async fn reissued(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiQuery(q): ApiQuery<ReissuedQuery>,
) -> Result<Json<Vec<ReissuedVoucherView>>, ApiError> {
    let list = vouchers::reissued_from_key(&state.services, &actor, Input::new(q.key_id)).await?;
    Ok(Json(
        list.into_iter()
            .map(|r| ReissuedVoucherView {
                id: r.id,
                household_id: r.household_id,
                generation: r.generation,
                reissued_at: r.at,
            })
            .collect(),
    ))
}
