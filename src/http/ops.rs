//! Operations endpoints: health, readiness, Prometheus metrics, and the OpenAPI document.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header;
use axum::response::{IntoResponse, Response};

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

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", operation_id = "get_metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format", body = String)))]
pub async fn metrics_text(State(state): State<AppState>) -> Response {
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
