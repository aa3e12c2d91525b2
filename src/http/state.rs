//! What every handler can reach: the use cases, and the HTTP layer's own settings.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::service::Services;

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Mark cookies `Secure` (behind HTTPS).
    pub secure_cookies: bool,
    /// Largest request body.
    pub body_limit: usize,
    /// Longest time a request may take.
    pub request_timeout: Duration,
    /// Reverse proxies whose `X-Forwarded-For` header names the client. From any other peer
    /// the header is ignored: the client is the TCP peer.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Longest time a client may take to send a request's headers, and longest time an idle
    /// kept-alive connection stays open (hyper starts the same timer when it waits for the next
    /// request).
    pub header_read_timeout: Duration,
    /// Most connections open at once; further clients wait in the listen queue.
    pub max_connections: usize,
    /// Most connections open at once from one client address (a trusted proxy is not
    /// limited); a further one is closed at once, so one client cannot take every slot.
    pub max_connections_per_address: usize,
    /// How long a shutdown waits for requests in progress before it stops anyway.
    pub shutdown_grace: Duration,
    /// Clients that may read `/metrics` (by address, after `X-Forwarded-For` from a trusted
    /// proxy is applied). Default: this machine only.
    pub metrics_from: Vec<std::net::IpAddr>,
    /// A bearer token that may read `/metrics` from anywhere.
    pub metrics_token: Option<String>,
    /// Whom people contact, shown at the foot of every page and on letters.
    pub contact: Contact,
}

/// Whom parents, clubs and staff contact (Leergeld's name, phone and e-mail).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    /// Name.
    pub name: String,
    /// Phone number as written.
    pub phone: String,
    /// E-mail address.
    pub email: String,
}

impl Default for Contact {
    fn default() -> Self {
        Self {
            name: "Stichting Leergeld".to_owned(),
            phone: "0594 - 00 00 00".to_owned(),
            email: "info@leergeld.example".to_owned(),
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            secure_cookies: false,
            body_limit: 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            trusted_proxies: Vec::new(),
            header_read_timeout: Duration::from_secs(10),
            max_connections: 1024,
            max_connections_per_address: 64,
            shutdown_grace: Duration::from_secs(30),
            metrics_from: vec![
                std::net::IpAddr::from([127, 0, 0, 1]),
                std::net::IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
            ],
            metrics_token: None,
            contact: Contact::default(),
        }
    }
}

/// Everything a handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The use cases.
    pub services: Services,
    /// Prometheus registry.
    pub metrics: PrometheusHandle,
    /// Settings.
    pub config: Arc<HttpConfig>,
}

impl AppState {
    /// State for the use cases with these settings.
    pub fn new(services: Services, config: HttpConfig) -> Self {
        Self {
            services,
            metrics: metrics_handle(),
            config: Arc::new(config),
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
