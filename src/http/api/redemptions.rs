//! `/api/v1/redemptions…`: redeeming with an `Idempotency-Key`, and reversal.
//!
//! The key is claimed before any work (in memory: only the ledger's one writer process books
//! redemptions) and written to the database in the same transaction as the booking. A repeat
//! with the same body gets the same status and body (a refusal is stored; a success is rebuilt
//! from the ledger, identically); a repeat while the first is still running gets 409; a
//! different body with the same key gets 422 `idempotency_conflict`; no key gets 400.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Role;
use crate::http::AppState;
use crate::http::auth::AuthUser;
use crate::http::error::{ApiError, ApiJson, ApiPath, ErrorBody};
use crate::http::idempotent;
use crate::http::in_flight::Held;
use crate::service::Kind;
use crate::service::redemptions::{self, Recovered, Redeemed, Reversed, Spend};
use crate::store::idempotency::{self, Claim};

/// A redemption.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedemptionRequest {
    /// The scanned KP1 token.
    pub token: String,
    /// Amount in cents.
    pub amount_cents: i64,
    /// Category: sport, cultuur, school or overig.
    pub category: String,
    /// What it is for, e.g. "Contributie seizoen 2026-2027".
    #[serde(default)]
    pub description: Option<String>,
}

fn in_flight() -> ApiError {
    ApiError::conflict(
        "idempotency_in_flight",
        "Deze betaling wordt al verwerkt. Wacht even en probeer het dan opnieuw.",
    )
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
    user: AuthUser,
    headers: HeaderMap,
    ApiJson(req): ApiJson<RedemptionRequest>,
) -> Result<Response, ApiError> {
    user.require(&[Role::Cashier, Role::ProviderManager])?;
    let key = idempotent::required_key(&headers)?;
    let scope = format!("redemption:{}", user.id);
    let fingerprint =
        Sha256::digest(serde_json::to_vec(&req).map_err(ApiError::internal)?).to_vec();
    // 1. A key used before: answer as then.
    if let Some(claim) = state.store.claim(&scope, &key).await? {
        return repeat(&state, claim, &fingerprint).await;
    }
    // 2. Claim the key before any work; a repeat while we work gets 409.
    let Some(held) = state.in_flight.claim(&scope, &key, &fingerprint) else {
        return Err(match state.in_flight.fingerprint(&scope, &key) {
            Some(fp) if fp != fingerprint => idempotent::conflict(),
            _ => in_flight(),
        });
    };
    // 3. The work runs in its own task that holds the claim until the outcome is on record, so
    // a client that gives up (a timeout, a lost connection) cannot leave a booking running
    // unclaimed: its retry gets 409 until then, and the recorded outcome afterwards.
    let work = tokio::spawn(book(
        state.clone(),
        user,
        key,
        scope,
        fingerprint,
        req,
        held,
    ));
    work.await.map_err(ApiError::internal)?
}

async fn book(
    state: AppState,
    user: AuthUser,
    key: String,
    scope: String,
    fingerprint: Vec<u8>,
    req: RedemptionRequest,
    _held: Held,
) -> Result<Response, ApiError> {
    let svc = &state.services;
    // The key is also written with the booking, in the same transaction: a repeat that slipped
    // between the check above and our claim is refused by the database and answered below.
    let id = Uuid::now_v7();
    let key_row = idempotency::insert_key(&scope, &key, &fingerprint, id, svc.now());
    let spend = Spend {
        amount_cents: req.amount_cents,
        category: req.category,
        description: req.description,
    };
    match redemptions::redeem(svc, &user.actor(), id, &req.token, spend, key_row).await {
        Ok(r) => Ok(created(&r)?),
        Err(e) if e.code == "conflict" => match state.store.claim(&scope, &key).await? {
            Some(claim) => repeat(&state, claim, &fingerprint).await,
            None => Err(ApiError::from(e)),
        },
        Err(e) if matches!(e.kind, Kind::Unavailable | Kind::Internal) => {
            // The failure may have come after the commit (storing the checkpoint, building the
            // receipt): a booked redemption is answered as booked.
            match redemptions::recover(svc, id).await {
                Ok(Recovered::Booked(done)) => Ok(created(&done)?),
                _ => Err(e.into()),
            }
        }
        Err(e) => {
            let api: ApiError = e.into();
            let body = api.body_json()?;
            let stored = Claim {
                fingerprint: fingerprint.clone(),
                resource_id: id,
                response: Some((api.status.as_u16(), body)),
                created_at: svc.now(),
            };
            // Stored only if the key is still free. An earlier request with this key may have
            // booked in the meantime (its balance change can be why this one was refused):
            // the answer is whatever is on record for the key.
            state.store.store_response(&scope, &key, &stored).await?;
            match state.store.claim(&scope, &key).await? {
                Some(claim) => repeat(&state, claim, &fingerprint).await,
                None => Err(ApiError::internal(
                    "idempotency key not on record after storing",
                )),
            }
        }
    }
}

fn created(r: &Redeemed) -> Result<Response, ApiError> {
    let body = serde_json::to_string(r).map_err(ApiError::internal)?;
    Ok(idempotent::json_response(StatusCode::CREATED, body))
}

/// Answers a repeated key: the stored refusal, or the booked redemption rebuilt from the ledger
/// (the same balance and the same first checkpoint, so the same body).
async fn repeat(state: &AppState, claim: Claim, fingerprint: &[u8]) -> Result<Response, ApiError> {
    if claim.fingerprint != fingerprint {
        return Err(idempotent::conflict());
    }
    if let Some((status, body)) = claim.response {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return Ok(idempotent::json_response(status, body));
    }
    match redemptions::recover(&state.services, claim.resource_id).await? {
        Recovered::Booked(done) => created(&done),
        Recovered::BookedWithoutReceipt | Recovered::NotBooked => Err(in_flight()),
    }
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
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<ReverseRequest>,
) -> Result<(StatusCode, Json<Reversed>), ApiError> {
    user.require(&[Role::ProviderManager, Role::Staff])?;
    let r = redemptions::reverse(&state.services, &user.actor(), id, &req.reason).await?;
    Ok((StatusCode::CREATED, Json(r)))
}
