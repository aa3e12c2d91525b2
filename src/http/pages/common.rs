//! What every page shares: the chrome around it (menu, contact), its headers, error pages,
//! forms and redirects.
//!
//! The web pages for people, in Dutch: server-rendered HTML (askama templates in
//! `templates/`), on the NL Design System, with JavaScript only where a page needs it. Pages
//! call the same use cases as the API; authorization lives there.

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

pub use super::session::Visitor;
use crate::core::role::Role;
use crate::http::state::{AppState, Contact};
use crate::service::{Actor, Error};

/// A link in the menu.
pub struct NavLink {
    /// Where.
    pub href: &'static str,
    /// Its text.
    pub label: &'static str,
}

/// The menu of a logged-in user, with the log-out form.
pub struct Nav {
    /// Links for the user's role.
    pub links: Vec<NavLink>,
    /// The CSRF token of the log-out form.
    pub csrf: String,
    /// Offer "log out everywhere" (not on a club's shared till phone: one tap would log out
    /// every phone of that cashier account; the club's manager removes a lost phone's access).
    pub everywhere: bool,
}

fn nav_for(role: Role) -> Vec<NavLink> {
    let l = |href, label| NavLink { href, label };
    match role {
        Role::Cashier => vec![l("/kassa", "Kassa")],
        Role::ProviderManager => vec![
            l("/kassa", "Kassa"),
            l("/aanbieder", "Betalingen"),
            l("/aanbieder/kassa-medewerkers", "Kassamedewerkers"),
        ],
        // Payouts, reports and import come with the next issue, next to these.
        _ => vec![
            l("/beheer", "Overzicht"),
            l("/beheer/gezinnen", "Gezinnen"),
            l("/beheer/aanbieders", "Aanbieders"),
            l("/tweestaps", "Inloggen in twee stappen"),
        ],
    }
}

/// What every page shows around its content: whom to contact, and whether search engines may
/// index it.
pub struct Chrome {
    /// Leergeld's name.
    pub contact_name: String,
    /// Its phone number as written.
    pub contact_phone: String,
    /// The phone number for a `tel:` link (digits and a leading +).
    pub contact_phone_href: String,
    /// Its e-mail address.
    pub contact_email: String,
    /// Keep the page out of search engines (a parent's page).
    pub noindex: bool,
    /// The menu, for a logged-in user.
    pub nav: Option<Nav>,
}

impl Chrome {
    pub fn new(contact: &Contact, noindex: bool) -> Self {
        Chrome {
            contact_name: contact.name.clone(),
            contact_phone: contact.phone.clone(),
            contact_phone_href: contact
                .phone
                .chars()
                .filter(|c| c.is_ascii_digit() || *c == '+')
                .collect(),
            contact_email: contact.email.clone(),
            noindex,
            nav: None,
        }
    }

    /// The chrome of a page for a visitor: with the menu when logged in.
    pub fn for_visitor(state: &AppState, visitor: &Visitor) -> Self {
        let mut c = Self::new(&state.config.contact, false);
        if let Actor::User(u) | Actor::Enrolling(u) = &visitor.actor {
            c.nav = Some(Nav {
                links: nav_for(u.role),
                csrf: visitor.csrf(),
                everywhere: u.role != Role::Cashier,
            });
        }
        c
    }
}

/// The Content-Security-Policy of every page: nothing inline, everything from this server; the
/// QR scanner's worker is created from a `blob:` URL.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
     script-src 'self'; worker-src blob:; connect-src 'self'; media-src 'self' blob:; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// A rendered page with its status and the pages' headers.
pub fn page(status: StatusCode, html: Result<String, askama::Error>, noindex: bool) -> Response {
    let body = match html {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "a page could not be rendered");
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html("<!DOCTYPE html><html lang=\"nl\"><title>Fout</title><p>Er ging iets mis. Probeer het later opnieuw.</p></html>"),
            )
                .into_response();
        }
    };
    let mut r = (status, Html(body)).into_response();
    let h = r.headers_mut();
    // Never in a shared cache. A parent's page (a child's name and QR code) is not stored at
    // all; the others may stay in the browser's history, so that the back button shows the
    // form as it was (a payment form sent again carries the same Idempotency-Key and books
    // nothing twice), but are asked for again otherwise.
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if noindex {
            "no-store"
        } else {
            "private, no-cache"
        }),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static("camera=(self), microphone=(), geolocation=()"),
    );
    h.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    if !noindex {
        // A page's own forms then carry their origin (under `no-referrer` a browser sends
        // `Origin: null`); a link to another site still tells it nothing.
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
    }
    if noindex {
        h.insert(
            HeaderName::from_static("x-robots-tag"),
            HeaderValue::from_static("noindex, nofollow"),
        );
    }
    r
}

#[derive(Template)]
#[template(path = "fout.html")]
struct ErrorPage {
    chrome: Chrome,
    title: String,
    message: String,
    login: bool,
}

/// A page for a use case's refusal or fault: its Dutch message, with a status to match.
pub fn error_page(state: &AppState, e: &Error) -> Response {
    error_page_with(state, Chrome::new(&state.config.contact, true), e)
}

/// The same, with the visitor's menu.
pub fn error_page_for(state: &AppState, visitor: &Visitor, e: &Error) -> Response {
    let mut chrome = Chrome::for_visitor(state, visitor);
    chrome.noindex = true;
    error_page_with(state, chrome, e)
}

fn error_page_with(_state: &AppState, chrome: Chrome, e: &Error) -> Response {
    let status = crate::http::error::status_of(e);
    if status.is_server_error() {
        tracing::error!(error = %e, "a page failed");
    }
    let title = match e {
        Error::Forbidden | Error::TwoFactorEnrolmentRequired => "Dit mag u niet doen",
        Error::NotFound(_) => "Niet gevonden",
        _ if status.is_server_error() => "Er ging iets mis",
        _ => "Dit lukt niet",
    };
    let t = ErrorPage {
        chrome,
        title: title.to_owned(),
        message: e.message().into_owned(),
        login: false,
    };
    page(status, t.render(), true)
}

/// The fields of a sent form, in order (a field may repeat, e.g. checkboxes).
pub struct Fields(Vec<(String, String)>);

impl Fields {
    /// The first value of a field.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a field.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// A sent form; one that cannot be read counts as empty (its CSRF check then fails, and the
/// page says the form expired).
pub fn fields(sent: Result<axum::Form<Vec<(String, String)>>, FormRejection>) -> Fields {
    Fields(sent.map(|f| f.0).unwrap_or_default())
}

/// `303 See Other` to a path on this site (after a form: a reload does not send it again).
pub fn see_other(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// Where a role starts after log-in.
pub fn home_of(role: Role) -> &'static str {
    match role {
        Role::Cashier => "/kassa",
        Role::ProviderManager => "/aanbieder",
        _ => "/beheer",
    }
}

/// The page for a refusal by a use case: the log-in page for nobody (coming back here after
/// it), else the Dutch message with its status.
pub fn refused(state: &AppState, visitor: &Visitor, e: &Error, here: &str) -> Response {
    match e {
        Error::TwoFactorEnrolmentRequired => see_other("/tweestaps"),
        Error::Unauthenticated(_) if !matches!(visitor.actor, Actor::User(_)) => {
            let back: String = url_escape(here);
            see_other(&format!("/inloggen?terug={back}"))
        }
        _ => error_page_for(state, visitor, e),
    }
}

/// Escapes a path for a query value.
fn url_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The page for a form whose CSRF token does not match (sent from another site, or the session
/// ended meanwhile).
pub fn expired_form(state: &AppState) -> Response {
    let t = ErrorPage {
        chrome: Chrome::new(&state.config.contact, true),
        title: "Het formulier is verlopen".to_owned(),
        message: "Er is niets opgeslagen, want het formulier was verlopen (bijvoorbeeld omdat u intussen bent uitgelogd). Ga terug, laad de pagina opnieuw en probeer het nog eens."
            .to_owned(),
        login: true,
    };
    page(StatusCode::FORBIDDEN, t.render(), true)
}

#[derive(Template)]
#[template(path = "niet_gevonden.html")]
struct NotFoundPage {
    chrome: Chrome,
}

/// The page for a path that does not exist.
pub fn not_found(state: &AppState, visitor: &Visitor) -> Response {
    let t = NotFoundPage {
        chrome: Chrome::for_visitor(state, visitor),
    };
    page(StatusCode::NOT_FOUND, t.render(), true)
}
