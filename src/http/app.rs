//! The application: every route behind its middleware, serving, and shutting down.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::header::{self, HeaderName, HeaderValue};
use axum::middleware::{Next, from_fn};
use axum::response::IntoResponse;
use axum::routing::get;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use super::error::ApiError;
use super::state::AppState;
use super::{middleware, openapi, ops, routes};
use crate::service::Error;
use crate::service::error::{Invalid, Missing};

/// The OpenAPI document as JSON: the routes' descriptions with every constraint and status.
pub fn openapi_json() -> Result<String, serde_json::Error> {
    let mut doc = serde_json::to_value(routes::api().1)?;
    openapi::constrain(&mut doc);
    serde_json::to_string_pretty(&doc)
}

/// The whole application. Fails only if the OpenAPI document cannot be serialised.
pub fn router(state: AppState) -> Result<Router, serde_json::Error> {
    let (api_routes, _) = routes::api();
    let spec = Arc::new(openapi_json()?);
    let api_routes = api_routes.route(
        "/api/openapi.json",
        get(move || ops::openapi_document(spec.clone())),
    );
    let timeout = state.config.request_timeout;
    let body_limit = state.config.body_limit;
    Ok(api_routes
        .fallback(|| async { ApiError(Error::NotFound(Missing::Page)) })
        .method_not_allowed_fallback(|| async {
            ApiError(Error::Invalid(Invalid::MethodNotAllowed))
        })
        .route_layer(from_fn(middleware::track_metrics))
        .with_state(state)
        .layer(axum::extract::DefaultBodyLimit::max(body_limit))
        .layer(from_fn(move |req: Request, next: Next| {
            middleware::deadline(timeout, req, next)
        }))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        // Answers hold personal data and credentials: no cache keeps them, unless a handler
        // says otherwise (the public ledger's are `no-cache`).
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError(Error::bug("a request handler panicked")).into_response()
        }))
        .layer(from_fn(middleware::log_failures))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    // Only the route pattern is logged, never the raw path (it may hold a
                    // personal link).
                    let route = req
                        .extensions()
                        .get::<MatchedPath>()
                        .map_or("unmatched", |m| m.as_str());
                    tracing::info_span!("request", method = %req.method(), route = %route)
                })
                // Failures are logged once, with their cause, by `middleware::log_failures`.
                .on_failure(()),
        )
        .layer(SetSensitiveRequestHeadersLayer::new([
            header::AUTHORIZATION,
            header::COOKIE,
            HeaderName::from_static("idempotency-key"),
        ])))
}

/// Serves until `shutdown` completes, then finishes in-flight requests and stops the ledger.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let services = state.services.clone();
    let app = router(state).map_err(std::io::Error::other)?;
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await?;
    services.close().await;
    Ok(())
}

/// A future that completes on SIGTERM or Ctrl-C. The handlers are installed when this is
/// called (not when first polled), so a signal that arrives right after start-up is not lost.
pub fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()> + Send + 'static>
{
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => {},
                _ = int.recv() => {},
            }
            tracing::info!("shutting down");
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("shutting down");
        })
    }
}
