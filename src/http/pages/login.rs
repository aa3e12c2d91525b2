//! `/inloggen` and `/uitloggen`: log-in for everyone with an account (with the two-factor code
//! for those who set it up), log-out here and everywhere.

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::common::{Chrome, Fields, error_page, fields, home_of, page, see_other};
use super::session::{FORM_COOKIE, Visitor, cookie, csrf_matches, csrf_token, same_origin};
use crate::http::extract::ClientAddr;
use crate::http::state::AppState;
use crate::service::error::Unauthenticated;
use crate::service::{Actor, Error, Input, sessions, users};

#[derive(Template)]
#[template(path = "inloggen.html")]
struct LoginPage {
    chrome: Chrome,
    csrf: String,
    back: String,
    username: String,
    ask_totp: bool,
    /// A message about the whole form (wrong name or password, too many attempts).
    error: Option<String>,
    /// A message about the code field.
    totp_error: Option<String>,
    /// A message after log-out.
    notice: Option<String>,
}

/// Where to go after log-in.
#[derive(Deserialize)]
pub struct Back {
    terug: Option<String>,
    uitgelogd: Option<String>,
}

/// A path on this site to go back to after log-in (never another site).
fn safe_back(back: Option<&str>) -> String {
    match back {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.contains('\\')
                && p.len() <= 200
                && p.chars().all(|c| c.is_ascii_graphic()) =>
        {
            p.to_owned()
        }
        _ => String::new(),
    }
}

fn new_form_secret() -> Option<String> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).ok()?;
    Some(base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        b,
    ))
}

fn form_cookie(state: &AppState, value: &str) -> Option<HeaderValue> {
    let secure = if state.config.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{FORM_COOKIE}={value}; Path=/inloggen; HttpOnly; SameSite=Strict; Max-Age=7200{secure}"
    ))
    .ok()
}

/// Renders the form with a form cookie (the one sent, or a new one).
fn form(state: &AppState, headers: &HeaderMap, status: StatusCode, mut p: LoginPage) -> Response {
    let secret = cookie(headers, FORM_COOKIE).or_else(new_form_secret);
    let Some(secret) = secret else {
        return error_page(state, &Error::bug("no randomness for a form cookie"));
    };
    p.csrf = csrf_token(&secret);
    let mut r = page(status, p.render(), false);
    if let Some(c) = form_cookie(state, &secret) {
        r.headers_mut().insert(SET_COOKIE, c);
    }
    r
}

fn blank(state: &AppState, back: String) -> LoginPage {
    LoginPage {
        chrome: Chrome::new(&state.config.contact, false),
        csrf: String::new(),
        back,
        username: String::new(),
        ask_totp: false,
        error: None,
        totp_error: None,
        notice: None,
    }
}

/// `GET /inloggen`.
pub async fn show(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    Query(q): Query<Back>,
) -> Response {
    let back = safe_back(q.terug.as_deref());
    if let Actor::User(u) = &visitor.actor {
        return see_other(if back.is_empty() {
            home_of(u.role)
        } else {
            &back
        });
    }
    let mut p = blank(&state, back);
    if q.uitgelogd.is_some() {
        p.notice = Some("U bent uitgelogd.".to_owned());
    }
    form(&state, &headers, StatusCode::OK, p)
}

/// `POST /inloggen`: fields `username`, `password`, `totp` (when asked), `csrf_token`, `terug`.
pub async fn submit(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    sent: Result<axum::Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let f = fields(sent);
    let back = safe_back(f.get("terug"));
    let mut p = blank(&state, back.clone());
    p.username = f.get("username").unwrap_or_default().to_owned();
    let secret = cookie(&headers, FORM_COOKIE);
    if !same_origin(&headers) || !csrf_matches(secret.as_deref(), f.get("csrf_token")) {
        p.error =
            Some("Het formulier was verlopen. Vul uw naam en wachtwoord opnieuw in.".to_owned());
        return form(&state, &headers, StatusCode::FORBIDDEN, p);
    }
    let totp = f.get("totp").map(str::trim).filter(|t| !t.is_empty());
    let credentials = sessions::Credentials {
        username: p.username.clone(),
        password: f.get("password").unwrap_or_default().to_owned(),
        totp: totp.map(str::to_owned),
    };
    match sessions::login(&state.services, addr, Input::new(credentials)).await {
        Ok(session) => {
            let to = if session.two_factor_enrolment_required {
                "/tweestaps".to_owned()
            } else if back.is_empty() {
                home_of(session.role).to_owned()
            } else {
                back
            };
            let mut r = see_other(&to);
            if let Some(c) =
                crate::http::auth::session_cookie(&state, &session.token, session.expires_at)
            {
                r.headers_mut().append(SET_COOKIE, c);
            }
            r.headers_mut().append(
                SET_COOKIE,
                HeaderValue::from_static(
                    "kp_formulier=; Path=/inloggen; HttpOnly; SameSite=Strict; Max-Age=0",
                ),
            );
            r
        }
        Err(e) => {
            let status = crate::http::error::status_of(&e);
            match &e {
                Error::Unauthenticated(Unauthenticated::TotpRequired) => {
                    p.ask_totp = true;
                    if totp.is_some() {
                        p.totp_error = Some(e.message().into_owned());
                    }
                }
                Error::Unauthenticated(Unauthenticated::InvalidLogin) if totp.is_some() => {
                    p.ask_totp = true;
                    p.error = Some(
                        "De naam, het wachtwoord of de code klopt niet. Let op: de code verandert elke 30 seconden."
                            .to_owned(),
                    );
                }
                Error::Unauthenticated(_)
                | Error::TooManyAttempts { .. }
                | Error::Unavailable(_) => {
                    p.ask_totp = totp.is_some();
                    p.error = Some(e.message().into_owned());
                }
                _ if status.is_client_error() => {
                    p.error = Some(e.message().into_owned());
                }
                _ => return error_page(&state, &e),
            }
            let mut r = form(&state, &headers, status, p);
            if let Error::TooManyAttempts { retry_after } = &e
                && let Ok(v) = HeaderValue::from_str(&retry_after.max(&1).to_string())
            {
                r.headers_mut().insert("retry-after", v);
            }
            r
        }
    }
}

fn clear_session() -> HeaderValue {
    HeaderValue::from_static("kp_sessie=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")
}

/// `POST /uitloggen`: ends this session; with `overal=1`, every session of the user (other
/// phones and computers too).
pub async fn logout(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    sent: Result<axum::Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let f: Fields = fields(sent);
    if visitor.session.is_none() {
        return see_other("/inloggen?uitgelogd=1");
    }
    if !visitor.form_is_ours(&headers, f.get("csrf_token")) {
        return super::common::expired_form(&state);
    }
    let everywhere = f.get("overal") == Some("1");
    let done = if everywhere {
        match visitor.actor.user_id() {
            Some(me) => users::revoke_sessions(&state.services, &visitor.actor, me)
                .await
                .map(|_| ()),
            None => Ok(()),
        }
    } else {
        sessions::logout(&state.services, visitor.session.as_deref()).await
    };
    if let Err(e) = done {
        return error_page(&state, &e);
    }
    let mut r = see_other("/inloggen?uitgelogd=1");
    r.headers_mut().insert(SET_COOKIE, clear_session());
    r.into_response()
}
