//! Operations endpoints: health, readiness, Prometheus metrics, and the OpenAPI document.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::extract::{BearerToken, ClientAddr};
use super::state::AppState;

/// The process is up.
#[utoipa::path(get, path = "/healthz", operation_id = "healthz", tag = "operations",
    responses((status = 200, description = "Up", body = String)))]
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// The database answers and the ledger writer runs.
#[utoipa::path(get, path = "/readyz", operation_id = "readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready", body = String),
        (status = 503, description = "Not ready", body = String),
    ))]
pub async fn readyz(State(state): State<AppState>) -> Response {
    if state.services.ready().await {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n").into_response()
    }
}

/// Prometheus metrics: only for a configured address (default: this machine) or with the
/// configured bearer token.
#[utoipa::path(get, path = "/metrics", operation_id = "get_metrics", tag = "operations",
    responses(
        (status = 200, description = "Prometheus text format", body = String),
        (status = 403, description = "Not from a configured address and without the metrics token (`forbidden`)", body = crate::http::error::ErrorBody),
    ))]
pub async fn metrics_text(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    BearerToken(token): BearerToken,
) -> Response {
    let by_address = client.is_some_and(|c| state.config.metrics_from.contains(&c));
    let by_token = match (&state.config.metrics_token, token) {
        (Some(want), Some(got)) => {
            use sha2::{Digest, Sha256};
            Sha256::digest(want.as_bytes()) == Sha256::digest(got.as_bytes())
        }
        _ => false,
    };
    if !by_address && !by_token {
        return ApiError(crate::service::Error::Forbidden).into_response();
    }
    state.metrics.run_upkeep();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// This OpenAPI 3.1 document (built once at start-up).
#[utoipa::path(get, path = "/api/openapi.json", operation_id = "get_openapi_document", tag = "operations",
    responses((status = 200, description = "This OpenAPI 3.1 document", content_type = "application/json", body = Object)))]
pub async fn openapi_document(spec: Arc<String>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        (*spec).clone(),
    )
}
