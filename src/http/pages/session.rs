//! Who is on a page, and the protection of its forms: the session cookie (`kp_sessie`, set at
//! log-in), the CSRF token that every POST form carries as `csrf_token`, and the form cookie
//! (`kp_formulier`) that protects the log-in form before there is a session.
//!
//! The CSRF token is derived from the secret the browser holds in an HttpOnly cookie (the
//! session token, or the form cookie before log-in): a page of another site can neither read
//! that cookie nor compute the token, so it cannot send a form that is accepted. Nothing is
//! stored for it, and it changes with every session. Every POST also has its `Origin` (when the
//! browser sends one) compared with the host it was sent to.

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::{COOKIE, HOST, ORIGIN};
use axum::http::request::Parts;
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use super::super::extract::SESSION_COOKIE;
use super::super::state::AppState;
use crate::service::{Actor, sessions};

/// The cookie that protects the log-in form.
pub const FORM_COOKIE: &str = "kp_formulier";

/// The value of a cookie, if sent once with a sane value.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
        .filter(|v| !v.is_empty() && v.len() <= 200)
}

/// The CSRF token for forms sent by the holder of `secret`.
pub fn csrf_token(secret: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"kindpakket/csrf/v1\0");
    h.update(secret.as_bytes());
    URL_SAFE_NO_PAD.encode(h.finalize())
}

/// True when `sent` is the CSRF token of `secret` (compared in constant time).
pub fn csrf_matches(secret: Option<&str>, sent: Option<&str>) -> bool {
    let (Some(secret), Some(sent)) = (secret, sent) else {
        return false;
    };
    let want = csrf_token(secret);
    let (a, b) = (want.as_bytes(), sent.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// True unless the browser says the form came from another site: its `Origin`, when sent,
/// must name the host the request was sent to.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    if origin == "null" {
        // Sent for a form on a page with `Referrer-Policy: no-referrer` (and from sandboxed
        // frames): then the browser's own `Sec-Fetch-Site` must say it came from this site.
        return headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) == Some("same-origin");
    }
    let Some(host) = headers.get(HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    rest == Some(host)
}

/// Who is on a page: from the session cookie only (never an `Authorization` header, so that a
/// page is never a way around the API's rules), and the cookie's value for the forms' token.
pub struct Visitor {
    /// The user of the session, or nobody.
    pub actor: Actor,
    /// The session cookie, when it names a current session of a user.
    pub session: Option<String>,
}

impl Visitor {
    /// The CSRF token the visitor's forms carry (empty without a session: such a form is
    /// refused, and the page asks to log in again).
    pub fn csrf(&self) -> String {
        self.session.as_deref().map(csrf_token).unwrap_or_default()
    }

    /// True when the form's `csrf_token` belongs to this visitor's session.
    pub fn form_is_ours(&self, headers: &HeaderMap, sent: Option<&str>) -> bool {
        same_origin(headers) && csrf_matches(self.session.as_deref(), sent)
    }
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let token = cookie(&parts.headers, SESSION_COOKIE);
        let actor = match sessions::authenticate(&state.services, token.as_deref()).await {
            Ok(a) => a,
            Err(e) => {
                tracing::error!(error = %e, "who is on a page could not be read");
                return Err(unavailable());
            }
        };
        let session = match actor {
            Actor::User(_) | Actor::Enrolling(_) => token,
            _ => None,
        };
        let actor = if session.is_some() {
            actor
        } else {
            // A parent's link is used through its own pages, never as a cookie.
            Actor::Anonymous
        };
        Ok(Visitor { actor, session })
    }
}

/// A page for when the database cannot be reached (no menu or contact details: those need it
/// too).
fn unavailable() -> Response {
    use axum::response::{Html, IntoResponse};
    (
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        [(axum::http::header::RETRY_AFTER, "5")],
        Html(
            "<!DOCTYPE html><html lang=\"nl\"><head><meta charset=\"utf-8\"><title>Even niet bereikbaar</title></head>\
             <body><main><h1>Even niet bereikbaar</h1><p>Probeer het over een paar minuten opnieuw.</p></main></body></html>",
        ),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_belongs_to_one_secret() {
        let t = csrf_token("geheim-1");
        assert!(csrf_matches(Some("geheim-1"), Some(&t)));
        assert!(!csrf_matches(Some("geheim-2"), Some(&t)));
        assert!(!csrf_matches(None, Some(&t)));
        assert!(!csrf_matches(Some("geheim-1"), None));
        assert!(!csrf_matches(Some("geheim-1"), Some("")));
    }

    #[test]
    fn another_sites_origin_is_refused() {
        let mut h = HeaderMap::new();
        h.insert(HOST, "kindpakket.example".parse().unwrap());
        assert!(
            same_origin(&h),
            "no Origin: older browsers, same-site forms"
        );
        h.insert(ORIGIN, "https://kindpakket.example".parse().unwrap());
        assert!(same_origin(&h));
        h.insert(ORIGIN, "https://evil.example".parse().unwrap());
        assert!(!same_origin(&h));
        h.insert(ORIGIN, "null".parse().unwrap());
        assert!(!same_origin(&h));
        h.insert("sec-fetch-site", "cross-site".parse().unwrap());
        assert!(!same_origin(&h));
        h.insert("sec-fetch-site", "same-origin".parse().unwrap());
        assert!(same_origin(&h), "a no-referrer page's own form");
    }
}
