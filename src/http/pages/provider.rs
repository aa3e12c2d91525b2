//! `/aanbieder`: a club's provider manager sees the club's payments (booked or reversed; paid
//! comes with payouts), reverses a mistake with a reason, and manages the club's cashiers.

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use uuid::Uuid;

use super::common::{Chrome, expired_form, fields, page, refused, see_other};
use super::session::Visitor;
use crate::core::money::Cents;
use crate::core::role::Role;
use crate::core::time::{dutch_date, dutch_long, offset_hours};
use crate::http::state::AppState;
use crate::service::users::{AddUserError, NewUser};
use crate::service::{Error, Input, providers, redemptions, users};

/// A payment in the club's list.
struct Row {
    id: Uuid,
    date: String,
    amount: String,
    category: String,
    number: u64,
    status: &'static str,
    reversible: bool,
}

#[derive(Template)]
#[template(path = "aanbieder.html")]
struct PaymentsPage {
    chrome: Chrome,
    club: String,
    rows: Vec<Row>,
    notice: Option<String>,
}

#[derive(Template)]
#[template(path = "aanbieder_terugboeken.html")]
struct ReversePage {
    chrome: Chrome,
    csrf: String,
    id: Uuid,
    amount: String,
    date: String,
    number: u64,
    reason: String,
    error: Option<String>,
}

/// Cashier in the list.
struct Cashier {
    id: Uuid,
    name: String,
    active: bool,
}

#[derive(Template)]
#[template(path = "aanbieder_kassa.html")]
struct CashiersPage {
    chrome: Chrome,
    csrf: String,
    club: String,
    cashiers: Vec<Cashier>,
    notice: Option<String>,
    error: Option<String>,
    new_name: String,
}

#[derive(Template)]
#[template(path = "aanbieder_verwijderen.html")]
struct RemovePage {
    chrome: Chrome,
    csrf: String,
    id: Uuid,
    name: String,
}

/// A notice after an action, named in the address (no personal data).
#[derive(Deserialize)]
pub struct Done {
    klaar: Option<String>,
}

fn when(t: chrono::DateTime<chrono::Utc>) -> String {
    let local = t + chrono::Duration::hours(offset_hours(t));
    format!("{} {}", dutch_long(dutch_date(t)), local.format("%H:%M"))
}

fn category_label(c: &str) -> String {
    let mut s = c.to_owned();
    if let Some(first) = s.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    s
}

/// `GET /aanbieder`: the club's payments, newest first.
pub async fn payments(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(done): Query<Done>,
) -> Response {
    let svc = &state.services;
    let list = match redemptions::of_my_club(svc, &visitor.actor).await {
        Ok(l) => l,
        Err(e) => return refused(&state, &visitor, &e, "/aanbieder"),
    };
    let club = match providers::mine(svc, &visitor.actor).await {
        Ok(p) => p.name,
        Err(e) => return refused(&state, &visitor, &e, "/aanbieder"),
    };
    let rows = list
        .into_iter()
        .map(|r| Row {
            id: r.id,
            date: when(r.booked_at),
            amount: Cents(r.amount_cents).to_string(),
            category: category_label(&r.category),
            number: r.entry_index,
            status: if r.reversed {
                "Teruggeboekt"
            } else {
                "Geboekt"
            },
            reversible: !r.reversed,
        })
        .collect();
    let notice = match done.klaar.as_deref() {
        Some("teruggeboekt") => Some(
            "De betaling is teruggeboekt. Het bedrag staat weer op het tegoed van het kind."
                .to_owned(),
        ),
        _ => None,
    };
    let t = PaymentsPage {
        chrome: Chrome::for_visitor(&state, &visitor),
        club,
        rows,
        notice,
    };
    page(StatusCode::OK, t.render(), false)
}

async fn reverse_page(
    state: &AppState,
    visitor: &Visitor,
    id: Uuid,
    reason: String,
    error: Option<String>,
) -> Response {
    let r = match redemptions::receipt(&state.services, &visitor.actor, id).await {
        Ok(r) => r,
        Err(e) => return refused(state, visitor, &e, &format!("/aanbieder/terugboeken/{id}")),
    };
    if r.reversed {
        return see_other("/aanbieder?klaar=teruggeboekt");
    }
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let t = ReversePage {
        chrome: Chrome::for_visitor(state, visitor),
        csrf: visitor.csrf(),
        id,
        amount: Cents(r.redeemed.amount_cents).to_string(),
        date: when(r.booked_at),
        number: r.redeemed.entry_index,
        reason,
        error,
    };
    page(status, t.render(), false)
}

/// `GET /aanbieder/terugboeken/{id}`: asks for the reason.
pub async fn reverse_form(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
) -> Response {
    let Ok(id) = Uuid::parse_str(&id) else {
        return super::common::not_found(&state, &visitor);
    };
    reverse_page(&state, &visitor, id, String::new(), None).await
}

/// `POST /aanbieder/terugboeken/{id}`: field `reason`.
pub async fn reverse(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    Path(id): Path<String>,
    sent: Result<axum::Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let f = fields(sent);
    if !visitor.form_is_ours(&headers, f.get("csrf_token")) {
        return expired_form(&state);
    }
    let Ok(id) = Uuid::parse_str(&id) else {
        return super::common::not_found(&state, &visitor);
    };
    let reason = f.get("reason").unwrap_or_default().trim().to_owned();
    if reason.is_empty() {
        return reverse_page(
            &state,
            &visitor,
            id,
            reason,
            Some("Schrijf kort op waarom u terugboekt.".to_owned()),
        )
        .await;
    }
    let input = redemptions::Reverse {
        reason: reason.clone(),
    };
    match redemptions::reverse(&state.services, &visitor.actor, id, Input::new(input)).await {
        Ok(_) => see_other("/aanbieder?klaar=teruggeboekt"),
        Err(e @ (Error::Invalid(_) | Error::Rule(_))) => {
            reverse_page(&state, &visitor, id, reason, Some(e.message().into_owned())).await
        }
        Err(e) => refused(&state, &visitor, &e, "/aanbieder"),
    }
}

async fn cashiers_page(
    state: &AppState,
    visitor: &Visitor,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
    new_name: String,
) -> Response {
    let svc = &state.services;
    let club = match providers::mine(svc, &visitor.actor).await {
        Ok(p) => p,
        Err(e) => return refused(state, visitor, &e, "/aanbieder/kassa-medewerkers"),
    };
    let list = match users::list(svc, &visitor.actor).await {
        Ok(l) => l,
        Err(e) => return refused(state, visitor, &e, "/aanbieder/kassa-medewerkers"),
    };
    let cashiers = list
        .into_iter()
        .filter(|u| u.role == Role::Cashier && u.provider_id == Some(club.id))
        .map(|u| Cashier {
            id: u.id,
            name: u.username,
            active: !u.disabled,
        })
        .collect();
    let t = CashiersPage {
        chrome: Chrome::for_visitor(state, visitor),
        csrf: visitor.csrf(),
        club: club.name,
        cashiers,
        notice,
        error,
        new_name,
    };
    page(status, t.render(), false)
}

/// `GET /aanbieder/kassa-medewerkers`.
pub async fn cashiers(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(done): Query<Done>,
) -> Response {
    let notice = match done.klaar.as_deref() {
        Some("toegevoegd") => Some(
            "De kassamedewerker is toegevoegd. Geef de naam en het wachtwoord persoonlijk door."
                .to_owned(),
        ),
        Some("wachtwoord") => Some(
            "Het nieuwe wachtwoord werkt meteen. De medewerker moet opnieuw inloggen.".to_owned(),
        ),
        Some("verwijderd") => Some("De kassamedewerker kan niet meer inloggen.".to_owned()),
        _ => None,
    };
    cashiers_page(
        &state,
        &visitor,
        StatusCode::OK,
        notice,
        None,
        String::new(),
    )
    .await
}

/// `POST /aanbieder/kassa-medewerkers`: fields `username`, `password`.
pub async fn add_cashier(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    sent: Result<axum::Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let f = fields(sent);
    if !visitor.form_is_ours(&headers, f.get("csrf_token")) {
        return expired_form(&state);
    }
    let name = f.get("username").unwrap_or_default().trim().to_owned();
    let club = match providers::mine(&state.services, &visitor.actor).await {
        Ok(p) => p.id,
        Err(e) => return refused(&state, &visitor, &e, "/aanbieder/kassa-medewerkers"),
    };
    let new = NewUser {
        username: name.clone(),
        role: Role::Cashier,
        provider: Some(club),
        password: f.get("password").unwrap_or_default().to_owned(),
    };
    let problem = match users::add_user(&state.services, &visitor.actor, new).await {
        Ok(_) => return see_other("/aanbieder/kassa-medewerkers?klaar=toegevoegd"),
        Err(AddUserError::Username) => {
            "Een gebruikersnaam heeft 1 tot 100 tekens en geen spaties.".to_owned()
        }
        Err(AddUserError::Taken(_)) => {
            "Deze gebruikersnaam bestaat al. Kies een andere, bijvoorbeeld met de naam van de club erin.".to_owned()
        }
        Err(AddUserError::Password(e)) => {
            let m = e.to_string();
            let mut c = m.chars();
            match c.next() {
                Some(first) => format!("{}{}.", first.to_uppercase(), c.as_str()),
                None => m,
            }
        }
        Err(AddUserError::Service(e)) => {
            return refused(&state, &visitor, &e, "/aanbieder/kassa-medewerkers");
        }
        Err(e @ (AddUserError::ProviderForRole | AddUserError::UnknownProvider(_))) => {
            return refused(
                &state,
                &visitor,
                &Error::bug(format!("a cashier for the own club: {e}")),
                "/aanbieder/kassa-medewerkers",
            );
        }
    };
    cashiers_page(
        &state,
        &visitor,
        StatusCode::UNPROCESSABLE_ENTITY,
        None,
        Some(problem),
        name,
    )
    .await
}

/// `POST /aanbieder/kassa-medewerkers/{id}`: field `actie` = `wachtwoord` (with `password`)
/// or `verwijderen`.
pub async fn change_cashier(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    Path(id): Path<String>,
    sent: Result<axum::Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let f = fields(sent);
    if !visitor.form_is_ours(&headers, f.get("csrf_token")) {
        return expired_form(&state);
    }
    let Ok(id) = Uuid::parse_str(&id) else {
        return super::common::not_found(&state, &visitor);
    };
    let svc = &state.services;
    let done = match f.get("actie") {
        Some("wachtwoord") => users::reset_password(
            svc,
            &visitor.actor,
            id,
            Input::new(f.get("password").unwrap_or_default().to_owned()),
        )
        .await
        .map(|()| "wachtwoord"),
        Some("verwijderen") => {
            // First a question: removing logs the phone out at once.
            let name = match users::list(svc, &visitor.actor).await {
                Ok(list) => list.into_iter().find(|u| u.id == id).map(|u| u.username),
                Err(e) => return refused(&state, &visitor, &e, "/aanbieder/kassa-medewerkers"),
            };
            let Some(name) = name else {
                return refused(
                    &state,
                    &visitor,
                    &Error::NotFound(crate::service::error::Missing::User),
                    "/aanbieder/kassa-medewerkers",
                );
            };
            let t = RemovePage {
                chrome: Chrome::for_visitor(&state, &visitor),
                csrf: visitor.csrf(),
                id,
                name,
            };
            return page(StatusCode::OK, t.render(), false);
        }
        Some("verwijderen-bevestigd") => users::disable(svc, &visitor.actor, id)
            .await
            .map(|_| "verwijderd"),
        _ => Err(Error::Forbidden),
    };
    match done {
        Ok(what) => see_other(&format!("/aanbieder/kassa-medewerkers?klaar={what}")),
        Err(e @ Error::Invalid(_)) => {
            cashiers_page(
                &state,
                &visitor,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                Some(e.message().into_owned()),
                String::new(),
            )
            .await
        }
        Err(e) => refused(&state, &visitor, &e, "/aanbieder/kassa-medewerkers"),
    }
}
