//! The HTTP shell: routes, OpenAPI, middleware, graceful shutdown.

pub mod api;
pub mod auth;
pub mod error;
pub mod idempotent;
pub mod in_flight;
pub mod ledger;

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::http::header::{self, HeaderName, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::LoginLimiter;
use crate::ledger::Ledger;
use crate::store::Store;
use error::ApiError;

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// How long a login lasts.
    pub session_ttl: chrono::Duration,
    /// Mark cookies `Secure` (behind HTTPS).
    pub secure_cookies: bool,
    /// Largest request body.
    pub body_limit: usize,
    /// Longest time a request may take.
    pub request_timeout: Duration,
    /// Public base URL for absolute parent links (e.g. `https://kindpakket.example`).
    pub public_url: Option<String>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            session_ttl: chrono::Duration::hours(12),
            secure_cookies: false,
            body_limit: 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            public_url: None,
        }
    }
}

/// Everything a handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The ledger (writes go through its sequencer).
    pub ledger: Ledger,
    /// Storage for reads and non-ledger tables.
    pub store: Store,
    /// Prometheus registry.
    pub metrics: PrometheusHandle,
    /// Failed-login counter.
    pub limiter: Arc<LoginLimiter>,
    /// Settings.
    pub config: Arc<HttpConfig>,
    /// The use cases.
    pub services: crate::service::Services,
    /// Idempotency keys of requests in progress.
    pub in_flight: in_flight::InFlight,
}

impl AppState {
    /// State for a ledger, the secret behind parent links, and settings.
    pub fn new(
        ledger: Ledger,
        links: crate::service::links::LinkSecret,
        config: HttpConfig,
    ) -> Self {
        let services = crate::service::Services {
            ledger: ledger.clone(),
            store: ledger.store().clone(),
            links: Arc::new(links),
            public_url: config.public_url.clone(),
        };
        Self {
            store: ledger.store().clone(),
            ledger,
            metrics: metrics_handle(),
            limiter: Arc::new(LoginLimiter::new(Duration::from_secs(15 * 60))),
            config: Arc::new(config),
            services,
            in_flight: in_flight::InFlight::default(),
        }
    }
}

/// The process-wide Prometheus recorder (installed once).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder is installed; then ours stays unused but valid.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Kindpakket API",
        description = "Child budgets for sport and culture on an append-only, signed, verifiable ledger. \
            Amounts are integer euro-cents in fields ending in `_cents`. Errors always look like \
            `{\"error\": {\"code\": \"…\", \"message\": \"…\"}}` with a stable code and a Dutch message.",
        version = env!("CARGO_PKG_VERSION"),
    ),
    modifiers(&BearerAuth),
    paths(openapi_document),
    components(schemas(error::ErrorBody, error::ErrorDetail)),
    tags(
        (name = "auth", description = "Log in and out"),
        (name = "funds", description = "Funds (regelingen), deposits, provider approval, expiry, direct payments"),
        (name = "households", description = "Households and children (personal data, off the ledger)"),
        (name = "providers", description = "Providers (aanbieders)"),
        (name = "vouchers", description = "Vouchers: issue, view, QR codes, top-up, block, reissue"),
        (name = "redemptions", description = "Scanning and redeeming at a club, reversal"),
        (name = "ledger", description = "The public, verifiable ledger (no login)"),
        (name = "operations", description = "Health, metrics and this OpenAPI document"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The routes and the OpenAPI document describing them.
pub fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(auth::login))
        .routes(routes!(auth::logout))
        .routes(routes!(api::funds::create))
        .routes(routes!(api::funds::get))
        .routes(routes!(api::funds::deposit))
        .routes(routes!(api::funds::approve))
        .routes(routes!(api::funds::expire))
        .routes(routes!(api::funds::direct_payment))
        .routes(routes!(api::households::create))
        .routes(routes!(api::households::get))
        .routes(routes!(api::households::erase))
        .routes(routes!(api::households::renew_link))
        .routes(routes!(api::providers::create))
        .routes(routes!(api::providers::get))
        .routes(routes!(api::vouchers::issue))
        .routes(routes!(api::vouchers::get))
        .routes(routes!(api::vouchers::qr_svg))
        .routes(routes!(api::vouchers::qr_png))
        .routes(routes!(api::vouchers::top_up))
        .routes(routes!(api::vouchers::block))
        .routes(routes!(api::vouchers::reissue))
        .routes(routes!(api::vouchers::lookup))
        .routes(routes!(api::redemptions::create))
        .routes(routes!(api::redemptions::reverse))
        .routes(routes!(ledger::checkpoint))
        .routes(routes!(ledger::key))
        .routes(routes!(ledger::entries))
        .routes(routes!(ledger::inclusion))
        .routes(routes!(ledger::consistency))
        .routes(routes!(ledger::voucher_keys))
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics_text))
        .split_for_parts()
}

/// The OpenAPI document as JSON.
pub fn openapi_json() -> String {
    api().1.to_pretty_json().unwrap_or_default()
}

/// This OpenAPI 3.1 document (built once at start-up).
#[utoipa::path(get, path = "/api/openapi.json", operation_id = "get_openapi_document", tag = "operations",
    responses((status = 200, description = "This OpenAPI 3.1 document", content_type = "application/json", body = Object)))]
async fn openapi_document(spec: Arc<String>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        (*spec).clone(),
    )
}

/// The whole application.
pub fn router(state: AppState) -> Router {
    let (api_routes, openapi) = api();
    let spec = Arc::new(openapi.to_pretty_json().unwrap_or_default());
    let api_routes = api_routes.route(
        "/api/openapi.json",
        get(move || openapi_document(spec.clone())),
    );
    let timeout = state.config.request_timeout;
    let body_limit = state.config.body_limit;
    api_routes
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .route_layer(middleware::from_fn(track_metrics))
        .with_state(state)
        .layer(axum::extract::DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn(
            move |req: Request, next: Next| async move {
                match tokio::time::timeout(timeout, next.run(req)).await {
                    Ok(resp) => resp,
                    Err(_) => ApiError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "timeout",
                        "Dit duurde te lang. Het verzoek kan toch zijn uitgevoerd: kijk dat na \
                     voordat u het opnieuw probeert. Een betaling aan de kassa die u herhaalt met \
                     dezelfde Idempotency-Key wordt nooit dubbel geboekt.",
                    )
                    .into_response(),
                }
            },
        ))
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
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::internal("a request handler panicked").into_response()
        }))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            // Only the route pattern is logged, never the raw path (it may hold a personal link).
            let route = req
                .extensions()
                .get::<MatchedPath>()
                .map_or("unmatched", |m| m.as_str());
            tracing::info_span!("request", method = %req.method(), route = %route)
        }))
        .layer(SetSensitiveRequestHeadersLayer::new([
            header::AUTHORIZATION,
            header::COOKIE,
            HeaderName::from_static("idempotency-key"),
        ]))
}

async fn not_found() -> ApiError {
    ApiError::not_found("not_found", "Deze pagina of dit adres bestaat niet.")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "Deze handeling kan niet op dit adres.",
    )
}

async fn track_metrics(req: Request, next: Next) -> Response {
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
    if state.store.ping().await && state.ledger.is_running() {
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

/// Serves until `shutdown` completes, then finishes in-flight requests and stops the ledger.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let ledger = state.ledger.clone();
    let store = state.store.clone();
    let app = router(state);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await?;
    ledger.close().await;
    store.close().await;
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
