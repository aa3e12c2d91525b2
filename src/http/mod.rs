//! The HTTP shell: it finds out who is asking, calls a use case and renders its answer. It
//! never reaches the store or the ledger itself, and checks no role: that is the use cases'
//! work (`crate::service`).
//!
//! - [`state`]: what handlers can reach; [`routes`]: every route with its OpenAPI description;
//! - [`middleware`]: deadlines, security headers, metrics, logging failures once;
//! - [`ops`]: health, readiness, metrics and the OpenAPI document;
//! - [`extract`] and [`error`]: requests in, errors out;
//! - [`auth`], [`ledger`] and [`api`]: the handlers.

mod api;
mod app;
mod auth;
mod error;
mod extract;
mod ledger;
mod middleware;
mod openapi;
mod ops;
mod pages;
mod routes;
mod state;

pub use app::{openapi_json, router, serve, shutdown_signal};
pub use routes::api;
pub use state::{AppState, Contact, HttpConfig};
