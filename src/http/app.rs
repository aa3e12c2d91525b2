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
        .merge(super::pages::routes())
        .fallback(super::pages::fallback)
        .method_not_allowed_fallback(super::pages::method_not_allowed)
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
///
/// Connections are served by hyper-util's builder with a timer, so a client that sends its
/// headers slowly (or only half a request) is cut off after `header_read_timeout`, as is a
/// kept-alive connection that stays idle that long; at most `max_connections` are open at once
/// (the next clients wait in the listen queue), and at most `max_connections_per_address` from
/// one address other than a trusted proxy (a further one is closed at once). A shutdown waits
/// at most `shutdown_grace` for requests in progress. Only HTTP/1.1 is spoken: the service sits behind
/// a reverse proxy or is reached directly by phones and scripts, all of which speak it.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use hyper_util::server::conn::auto::Builder;
    use hyper_util::server::graceful::GracefulShutdown;

    let services = state.services.clone();
    let config = state.config.clone();
    let app = router(state).map_err(std::io::Error::other)?;
    let mut builder = Builder::new(TokioExecutor::new()).http1_only();
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout);
    let slots = Arc::new(tokio::sync::Semaphore::new(config.max_connections.max(1)));
    let per_address = PerAddress::new(
        config.max_connections_per_address.max(1),
        config.trusted_proxies.clone(),
    );
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.map_err(std::io::Error::other)?,
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before it was accepted:
                    // wait a moment instead of spinning, and go on.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(held) = per_address.take(peer.ip()) else {
            tracing::warn!(client = %peer.ip(), "too many connections from one address: closed");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = hyper::service::service_fn(
            move |mut req: axum::http::Request<hyper::body::Incoming>| {
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo::<SocketAddr>(peer));
                tower::ServiceExt::oneshot(app.clone(), req)
            },
        );
        let connection = builder
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(held);
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(config.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(grace = ?config.shutdown_grace, "requests still in progress at shutdown: stopping anyway");
    }
    services.close().await;
    Ok(())
}

/// Open connections per client address, with a maximum (trusted proxies are not counted).
#[derive(Clone)]
struct PerAddress {
    max: usize,
    exempt: Arc<Vec<std::net::IpAddr>>,
    open: Arc<std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>>,
}

/// One counted connection; dropping it gives the slot back.
struct Held {
    counts: PerAddress,
    ip: Option<std::net::IpAddr>,
}

impl PerAddress {
    fn new(max: usize, exempt: Vec<std::net::IpAddr>) -> Self {
        Self {
            max,
            exempt: Arc::new(exempt),
            open: Arc::default(),
        }
    }

    /// Counts a connection from `ip`, unless that address already has the maximum. An IPv4
    /// address mapped into IPv6 (a dual-stack listener) counts as the IPv4 address, and an
    /// IPv6 address counts with its /64 network (one subscriber holds a whole /64).
    fn take(&self, ip: std::net::IpAddr) -> Option<Held> {
        let ip = ip.to_canonical();
        if self.exempt.iter().any(|e| e.to_canonical() == ip) {
            return Some(Held {
                counts: self.clone(),
                ip: None,
            });
        }
        let ip = match ip {
            std::net::IpAddr::V6(v6) => {
                let s = v6.segments();
                std::net::IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
            v4 => v4,
        };
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(ip).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(Held {
            counts: self.clone(),
            ip: Some(ip),
        })
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let Some(ip) = self.ip else { return };
        let mut open = self.counts.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&ip);
            }
        }
    }
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

#[cfg(test)]
mod tests {
    use super::PerAddress;

    #[test]
    fn connections_count_per_ipv4_address_and_per_ipv6_64_and_a_mapped_proxy_is_exempt() {
        let p = PerAddress::new(2, vec!["10.0.0.1".parse().unwrap()]);
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        // The proxy, also when it arrives as an IPv4-mapped IPv6 address, is not limited.
        let proxy: Vec<_> = (0..5).map(|_| p.take(ip("::ffff:10.0.0.1"))).collect();
        assert!(proxy.iter().all(Option::is_some));
        // One IPv4 address, plain or mapped: two, then none.
        let a = p.take(ip("192.0.2.1"));
        let b = p.take(ip("::ffff:192.0.2.1"));
        assert!(a.is_some() && b.is_some());
        assert!(p.take(ip("192.0.2.1")).is_none());
        drop(a);
        assert!(p.take(ip("192.0.2.1")).is_some());
        // Two addresses of one /64 share the limit; another /64 has its own.
        let c = p.take(ip("2001:db8:0:1::1"));
        let d = p.take(ip("2001:db8:0:1:ffff::2"));
        assert!(c.is_some() && d.is_some());
        assert!(p.take(ip("2001:db8:0:1::3")).is_none());
        assert!(p.take(ip("2001:db8:0:2::1")).is_some());
    }
}
