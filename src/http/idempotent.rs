//! An optional `Idempotency-Key` for Leergeld's own money requests (deposits, top-ups, direct
//! payments). Without the header a request runs as before. With it:
//!
//! - the key is claimed in memory before any work; a repeat while the first runs gets 409
//!   `idempotency_in_flight`;
//! - the key row is written in the same transaction as the booking, so a second booking with
//!   the same key is impossible, even after a crash;
//! - the answer is stored with the key afterwards; a repeat with the same body gets it back
//!   (same status and body), a different body gets 422 `idempotency_conflict`;
//! - a key that was booked but whose answer was never stored (a crash in between) gets 409
//!   `idempotency_in_doubt`: look at the fund or voucher before doing it again;
//! - the work runs in its own task, so a client that gives up never leaves it unclaimed.
//!
//! Redemptions have their own, stricter variant in `api::redemptions` (key required; success
//! rebuilt from the ledger).

use std::future::Future;

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::http::AppState;
use crate::http::auth::AuthUser;
use crate::http::error::ApiError;
use crate::store::Write;
use crate::store::idempotency::{self, Claim};

/// The key of a request that must have one.
pub fn required_key(headers: &HeaderMap) -> Result<String, ApiError> {
    optional_key(headers)?.ok_or_else(|| {
        ApiError::bad_request(
            "idempotency_key_missing",
            "Stuur een Idempotency-Key mee, zodat een herhaald verzoek niet twee keer afschrijft.",
        )
    })
}

/// The key of a request, if it has one (1 to 255 visible ASCII characters).
pub fn optional_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    v.to_str()
        .ok()
        .map(|s| s.trim().trim_matches('"').to_owned())
        .filter(|s| !s.is_empty() && s.len() <= 255 && s.bytes().all(|b| b.is_ascii_graphic()))
        .map(Some)
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_idempotency_key",
                "De Idempotency-Key moet 1 tot 255 zichtbare tekens zijn.",
            )
        })
}

/// A response with a JSON body that is already text (as stored with a key).
pub fn json_response(status: StatusCode, body: String) -> Response {
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// The same key with another request.
pub fn conflict() -> ApiError {
    ApiError::rule(
        "idempotency_conflict",
        "Deze Idempotency-Key is al gebruikt voor een ander verzoek.",
    )
}

fn in_flight() -> ApiError {
    ApiError::conflict(
        "idempotency_in_flight",
        "Dit verzoek wordt al verwerkt. Wacht even en probeer het dan opnieuw.",
    )
}

fn in_doubt() -> ApiError {
    ApiError::conflict(
        "idempotency_in_doubt",
        "Dit verzoek is geboekt, maar het antwoord is niet bewaard. Kijk het saldo na voordat \
         u iets opnieuw doet.",
    )
}

/// The answer on record for a key.
fn answer(claim: Claim, fingerprint: &[u8]) -> Result<Response, ApiError> {
    if claim.fingerprint != fingerprint {
        return Err(conflict());
    }
    match claim.response {
        Some((status, body)) => Ok(json_response(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            body,
        )),
        None => Err(in_doubt()),
    }
}

/// Runs `work` (which books, with the extra key write when there is a key, and answers with a
/// status and a JSON value) under the request's `Idempotency-Key`, if it has one. `request`
/// identifies the request (path ids and body) for the key's fingerprint.
pub async fn run<T, F, Fut>(
    state: &AppState,
    user: &AuthUser,
    headers: &HeaderMap,
    what: &'static str,
    request: &impl Serialize,
    work: F,
) -> Result<Response, ApiError>
where
    T: Serialize + Send + 'static,
    F: FnOnce(Option<Write>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(StatusCode, T), ApiError>> + Send + 'static,
{
    let key = optional_key(headers)?;
    let Some(key) = key else {
        // No key: still run to the end even if the client gives up.
        let task = tokio::spawn(work(None));
        let (status, value) = task.await.map_err(ApiError::internal)??;
        let body = serde_json::to_string(&value).map_err(ApiError::internal)?;
        return Ok(json_response(status, body));
    };
    let scope = format!("{what}:{}", user.id);
    let fingerprint =
        Sha256::digest(serde_json::to_vec(request).map_err(ApiError::internal)?).to_vec();
    if let Some(claim) = state.store.claim(&scope, &key).await? {
        if claim.response.is_some() || claim.fingerprint != fingerprint {
            return answer(claim, &fingerprint);
        }
        // Booked, answer not stored yet: normally the first request is about to store it.
        if state.in_flight.fingerprint(&scope, &key).is_some() {
            return Err(in_flight());
        }
        // It may have stored it and let go of the key since our read: read once more. Only a
        // key that is still without answer and held by nobody is in doubt (a crash).
        return match state.store.claim(&scope, &key).await? {
            Some(claim) => answer(claim, &fingerprint),
            None => Err(ApiError::internal("idempotency key vanished")),
        };
    }
    let Some(held) = state.in_flight.claim(&scope, &key, &fingerprint) else {
        return Err(match state.in_flight.fingerprint(&scope, &key) {
            Some(fp) if fp != fingerprint => conflict(),
            _ => in_flight(),
        });
    };
    let state = state.clone();
    let task = tokio::spawn(async move {
        let _held = held;
        let now = state.services.now();
        let row = idempotency::insert_key(&scope, &key, &fingerprint, Uuid::now_v7(), now);
        match work(Some(row)).await {
            Ok((status, value)) => {
                let body = serde_json::to_string(&value).map_err(ApiError::internal)?;
                state
                    .store
                    .complete_response(&scope, &key, status.as_u16(), &body)
                    .await?;
                Ok(json_response(status, body))
            }
            // The key was booked by a request the in-memory claim did not see (another
            // process before a restart): answer as on record.
            Err(e) if e.code == "conflict" => match state.store.claim(&scope, &key).await? {
                Some(claim) => answer(claim, &fingerprint),
                None => Err(e),
            },
            // Possibly booked (the failure may have come after the commit): nothing stored, so
            // a repeat finds the key row (in doubt) or books afresh.
            Err(e) if e.status.is_server_error() => Err(e),
            Err(e) => {
                let body = e.body_json()?;
                let refused = Claim {
                    fingerprint: fingerprint.clone(),
                    resource_id: Uuid::nil(),
                    response: Some((e.status.as_u16(), body)),
                    created_at: now,
                };
                state.store.store_response(&scope, &key, &refused).await?;
                match state.store.claim(&scope, &key).await? {
                    Some(claim) => answer(claim, &fingerprint),
                    None => Err(ApiError::internal("idempotency key not on record")),
                }
            }
        }
    });
    task.await.map_err(ApiError::internal)?
}
