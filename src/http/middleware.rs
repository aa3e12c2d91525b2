//! Middleware: a deadline per request, security headers, request metrics, and logging each
//! failed request's cause once, inside the request's span.

use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::{ApiError, LoggedCause};
use crate::service::Error;
use crate::service::error::Unavailable;

/// Answers 503 `timeout` when a request takes longer than `limit`.
pub async fn deadline(limit: Duration, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => ApiError(Error::Unavailable(Unavailable::Timeout)).into_response(),
    }
}

/// Logs the cause of a 500 (as an error) or 503 (as a warning), once. Causes never reach the
/// client.
pub async fn log_failures(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    if let Some(c) = resp.extensions().get::<LoggedCause>() {
        if c.internal {
            tracing::error!(cause = %c.cause, status = resp.status().as_u16(), "request failed");
        } else {
            tracing::warn!(cause = %c.cause, status = resp.status().as_u16(), "request could not be served");
        }
    }
    resp
}

/// Counts requests and their durations per route, method and status.
pub async fn track_metrics(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let method = req.method().to_string();
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("kindpakket_http_requests_total", &labels).increment(1);
    metrics::histogram!("kindpakket_http_request_duration_seconds", &labels)
        .record(start.elapsed().as_secs_f64());
    resp
}
