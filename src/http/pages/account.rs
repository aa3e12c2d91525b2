//! `/tweestaps`: setting up two-factor log-in (an authenticator app) from the pages: the
//! secret shown once as a QR code and as text, a code to confirm it, and the recovery codes,
//! shown once. With `--require-2fa`, admin, staff and finance come here after log-in.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::common::{Chrome, Visitor, expired_form, fields, home_of, page, refused};
use crate::http::state::AppState;
use crate::service::{Actor, Error, Input, two_factor};

type Sent = Result<axum::Form<Vec<(String, String)>>, axum::extract::rejection::FormRejection>;

#[derive(Template)]
#[template(path = "tweestaps.html")]
struct TwoFactorPage {
    chrome: Chrome,
    csrf: String,
    required: bool,
    /// The enrolment in progress: QR code (SVG) and the secret as text.
    enrolment: Option<(String, String)>,
    recovery: Vec<String>,
    home: &'static str,
    error: Option<String>,
}

fn render(p: TwoFactorPage, status: StatusCode) -> Response {
    page(status, p.render(), true)
}

fn blank(state: &AppState, v: &Visitor) -> TwoFactorPage {
    let (required, home) = match &v.actor {
        Actor::Enrolling(u) => (true, home_of(u.role)),
        Actor::User(u) => (false, home_of(u.role)),
        _ => (false, "/"),
    };
    let mut chrome = Chrome::for_visitor(state, v);
    chrome.noindex = true;
    TwoFactorPage {
        chrome,
        csrf: v.csrf(),
        required,
        enrolment: None,
        recovery: Vec::new(),
        home,
        error: None,
    }
}

/// `GET /tweestaps`.
pub async fn show(State(state): State<AppState>, v: Visitor) -> Response {
    if matches!(v.actor, Actor::Anonymous | Actor::Parent { .. }) {
        return refused(
            &state,
            &v,
            &Error::Unauthenticated(crate::service::error::Unauthenticated::NotLoggedIn),
            "/tweestaps",
        );
    }
    let p = blank(&state, &v);
    render(p, StatusCode::OK)
}

/// `POST /tweestaps`: `actie=starten` (a new secret) or `actie=bevestigen` with `code`.
pub async fn act(
    State(state): State<AppState>,
    v: Visitor,
    headers: HeaderMap,
    sent: Sent,
) -> Response {
    let f = fields(sent);
    if !v.form_is_ours(&headers, f.get("csrf_token")) {
        return expired_form(&state);
    }
    let svc = &state.services;
    let mut p = blank(&state, &v);
    match f.get("actie") {
        Some("starten") => match two_factor::enrol(svc, &v.actor).await {
            Ok(e) => {
                p.enrolment = Some((e.qr_svg, e.secret));
                render(p, StatusCode::OK)
            }
            Err(e @ Error::Conflict(_)) => {
                p.error = Some(e.message().into_owned());
                render(p, StatusCode::CONFLICT)
            }
            Err(e) => refused(&state, &v, &e, "/tweestaps"),
        },
        Some("bevestigen") => {
            let code = f.get("code").unwrap_or_default().trim().to_owned();
            match two_factor::confirm(svc, &v.actor, v.session.as_deref(), Input::new(code)).await {
                Ok(codes) => {
                    p.recovery = codes;
                    render(p, StatusCode::OK)
                }
                Err(e @ (Error::Rule(_) | Error::Invalid(_) | Error::Conflict(_))) => {
                    p.error = Some(format!(
                        "{} Begin opnieuw: er komt een nieuwe QR-code.",
                        e.message()
                    ));
                    render(p, StatusCode::UNPROCESSABLE_ENTITY)
                }
                Err(e) => refused(&state, &v, &e, "/tweestaps"),
            }
        }
        _ => super::common::not_found(&state, &v),
    }
}
