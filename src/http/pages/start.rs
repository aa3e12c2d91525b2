//! The start page, the accessibility statement, and the page for a path nobody serves.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::common::{Chrome, Visitor, not_found, page};
use crate::http::state::AppState;
use crate::service::Error;

#[derive(Template)]
#[template(path = "start.html")]
struct StartPage {
    chrome: Chrome,
}

/// `GET /`: what this is, per role.
pub async fn start(State(state): State<AppState>) -> Response {
    let t = StartPage {
        chrome: Chrome::new(&state.config.contact, false),
    };
    page(StatusCode::OK, t.render(), false)
}

#[derive(Template)]
#[template(path = "toegankelijkheid.html")]
struct AccessibilityPage {
    chrome: Chrome,
}

pub async fn accessibility(State(state): State<AppState>) -> Response {
    let t = AccessibilityPage {
        chrome: Chrome::new(&state.config.contact, false),
    };
    page(StatusCode::OK, t.render(), false)
}

/// `404` for a path nobody serves: JSON under `/api/` (programs), a page elsewhere (people).
pub async fn fallback(
    State(state): State<AppState>,
    uri: axum::http::Uri,
    visitor: Visitor,
) -> Response {
    let p = uri.path();
    if p == "/api" || p.starts_with("/api/") {
        return crate::http::error::ApiError(Error::NotFound(crate::service::error::Missing::Page))
            .into_response();
    }
    not_found(&state, &visitor)
}

/// `405` for a method a path does not take: JSON under `/api/`, a page elsewhere.
pub async fn method_not_allowed(
    State(state): State<AppState>,
    uri: axum::http::Uri,
    visitor: Visitor,
) -> Response {
    let p = uri.path();
    if p == "/api" || p.starts_with("/api/") {
        return crate::http::error::ApiError(Error::Invalid(
            crate::service::error::Invalid::MethodNotAllowed,
        ))
        .into_response();
    }
    let mut r = not_found(&state, &visitor);
    *r.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    r
}
