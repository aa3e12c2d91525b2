//! `/kassa`: a club volunteer scans (or types) a child's code, sees green or red with the
//! balance and the child hint, enters an amount and a category, confirms, and gets a receipt.
//! Every payment form carries one Idempotency-Key, made when the amount form is shown: a double
//! tap, a reload, the back button or a retry books nothing twice.

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use uuid::Uuid;

use super::common::{Chrome, expired_form, fields, page, refused};
use super::session::Visitor;
use crate::core::money::Cents;
use crate::core::time::{dutch_date, dutch_long};
use crate::http::state::AppState;
use crate::service::vouchers::Lookup;
use crate::service::{Error, Input, providers, redemptions, vouchers};

/// A category as the page names it.
fn category_label(name: &str) -> &str {
    match name {
        "sport" => "Sport",
        "cultuur" | "culture" => "Cultuur",
        "school" => "School",
        "overig" => "Overig",
        other => other,
    }
}

/// A scanned or typed code, tidied as people type it: no spaces, upper case.
fn tidy_token(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_uppercase()
}

#[derive(Template)]
#[template(path = "kassa.html")]
struct ScanPage {
    chrome: Chrome,
    club: String,
    csrf: String,
    token: String,
    error: Option<String>,
}

/// One category to choose.
struct Choice {
    value: String,
    label: String,
    selected: bool,
}

#[derive(Template)]
#[template(path = "kassa_resultaat.html")]
struct ResultPage {
    chrome: Chrome,
    club: String,
    csrf: String,
    token: String,
    ok: bool,
    reason: String,
    balance: Option<String>,
    child_hint: Option<String>,
    valid_until: Option<String>,
    choices: Vec<Choice>,
    amount: String,
    amount_error: Option<String>,
    key: String,
}

#[derive(Template)]
#[template(path = "kassa_bevestig.html")]
struct ConfirmPage {
    chrome: Chrome,
    club: String,
    csrf: String,
    token: String,
    amount: String,
    amount_cents: i64,
    category: String,
    category_label: String,
    key: String,
}

#[derive(Template)]
#[template(path = "kassa_bon.html")]
struct ReceiptPage {
    chrome: Chrome,
    club: String,
    amount: String,
    category: String,
    balance: String,
    time: String,
    number: u64,
    id: Uuid,
}

fn new_key() -> String {
    Uuid::new_v4().to_string()
}

/// `GET /kassa`: scan or type the code.
pub async fn show(State(state): State<AppState>, visitor: Visitor) -> Response {
    let club = match providers::mine(&state.services, &visitor.actor).await {
        Ok(p) => p.name,
        Err(e) => return refused(&state, &visitor, &e, "/kassa"),
    };
    let t = ScanPage {
        chrome: Chrome::for_visitor(&state, &visitor),
        club,
        csrf: visitor.csrf(),
        token: String::new(),
        error: None,
    };
    page(StatusCode::OK, t.render(), false)
}

/// The result of a scan, with the amount form when the code can be used.
async fn result(
    state: &AppState,
    visitor: &Visitor,
    token: String,
    amount: String,
    amount_error: Option<String>,
    category: Option<&str>,
    key: Option<&str>,
) -> Response {
    let svc = &state.services;
    let club = match providers::mine(svc, &visitor.actor).await {
        Ok(p) => p.name,
        Err(e) => return refused(state, visitor, &e, "/kassa"),
    };
    if token.is_empty() {
        let t = ScanPage {
            chrome: Chrome::for_visitor(state, visitor),
            club,
            csrf: visitor.csrf(),
            token,
            error: Some("Scan de QR-code of typ de code over.".to_owned()),
        };
        return page(StatusCode::UNPROCESSABLE_ENTITY, t.render(), false);
    }
    let found: Lookup = match vouchers::lookup(svc, &visitor.actor, Input::new(token.clone())).await
    {
        Ok(l) => l,
        Err(e @ Error::Invalid(_)) => {
            let t = ScanPage {
                chrome: Chrome::for_visitor(state, visitor),
                club,
                csrf: visitor.csrf(),
                token,
                error: Some(e.message().into_owned()),
            };
            return page(StatusCode::UNPROCESSABLE_ENTITY, t.render(), false);
        }
        Err(e) => return refused(state, visitor, &e, "/kassa"),
    };
    let choices: Vec<Choice> = found
        .categories
        .iter()
        .map(|c| Choice {
            value: c.clone(),
            label: category_label(c).to_owned(),
            selected: category == Some(c.as_str()) || found.categories.len() == 1,
        })
        .collect();
    let t = ResultPage {
        chrome: Chrome::for_visitor(state, visitor),
        club,
        csrf: visitor.csrf(),
        token,
        ok: found.valid,
        reason: found.reason.unwrap_or_default(),
        balance: found.balance_cents.map(|c| Cents(c).to_string()),
        child_hint: found.child_hint,
        valid_until: found.expires_at.map(dutch_long),
        choices,
        amount,
        amount_error: amount_error.clone(),
        key: key
            .filter(|k| Uuid::parse_str(k).is_ok())
            .map(str::to_owned)
            .unwrap_or_else(new_key),
    };
    let status = if amount_error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    page(status, t.render(), false)
}

/// `POST /kassa`: check the code (field `token`).
pub async fn check(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    sent: Result<axum::Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let f = fields(sent);
    if !visitor.form_is_ours(&headers, f.get("csrf_token")) {
        return expired_form(&state);
    }
    let token = tidy_token(f.get("token").unwrap_or_default());
    result(&state, &visitor, token, String::new(), None, None, None).await
}

/// `POST /kassa/bedrag`: fields `token`, `amount` (`12,50` or `12.50`), `category`,
/// `idempotency_key`: shows the confirm step, or the result again with what is wrong.
pub async fn amount(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    sent: Result<axum::Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let f = fields(sent);
    if !visitor.form_is_ours(&headers, f.get("csrf_token")) {
        return expired_form(&state);
    }
    let token = tidy_token(f.get("token").unwrap_or_default());
    let typed = f.get("amount").unwrap_or_default().trim().to_owned();
    let category = f.get("category").unwrap_or_default().to_owned();
    let key = f.get("idempotency_key");
    let cents = match Cents::parse_euros(&typed) {
        Ok(c) if c.is_positive() => c,
        parsed => {
            let msg = if typed.is_empty() {
                "Vul het bedrag in, bijvoorbeeld 12,50."
            } else if parsed.is_ok() || typed.trim_start().starts_with('-') {
                "Het bedrag moet meer dan € 0,00 zijn."
            } else {
                "Dit is geen bedrag. Schrijf het zo: 12,50."
            };
            return result(
                &state,
                &visitor,
                token,
                typed,
                Some(msg.to_owned()),
                Some(&category),
                key,
            )
            .await;
        }
    };
    // More than is left is said at this step, next to the amount, with what is left.
    match vouchers::lookup(&state.services, &visitor.actor, Input::new(token.clone())).await {
        Ok(l) if l.valid && l.balance_cents.is_some_and(|b| cents.0 > b) => {
            let msg = format!(
                "Er staat nog {} op dit tegoed. Kies een lager bedrag.",
                Cents(l.balance_cents.unwrap_or_default())
            );
            return result(
                &state,
                &visitor,
                token,
                typed,
                Some(msg),
                Some(&category),
                key,
            )
            .await;
        }
        Ok(l) if !l.valid => {
            return result(&state, &visitor, token, String::new(), None, None, None).await;
        }
        Ok(_) => {}
        Err(Error::Invalid(_)) => {
            return result(&state, &visitor, token, String::new(), None, None, None).await;
        }
        Err(e) => return refused(&state, &visitor, &e, "/kassa"),
    }
    let club = match providers::mine(&state.services, &visitor.actor).await {
        Ok(p) => p.name,
        Err(e) => return refused(&state, &visitor, &e, "/kassa"),
    };
    let t = ConfirmPage {
        chrome: Chrome::for_visitor(&state, &visitor),
        club,
        csrf: visitor.csrf(),
        token,
        amount: cents.to_string(),
        amount_cents: cents.0,
        category_label: category_label(&category).to_owned(),
        category,
        key: key
            .filter(|k| Uuid::parse_str(k).is_ok())
            .map(str::to_owned)
            .unwrap_or_else(new_key),
    };
    page(StatusCode::OK, t.render(), false)
}

/// `POST /kassa/betaal`: books the payment with the form's Idempotency-Key and sends the
/// browser to the receipt (a repeat of the same form lands on the same receipt).
pub async fn pay(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    sent: Result<axum::Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let f = fields(sent);
    if !visitor.form_is_ours(&headers, f.get("csrf_token")) {
        return expired_form(&state);
    }
    let token = tidy_token(f.get("token").unwrap_or_default());
    let Some(cents) = f.get("amount_cents").and_then(|a| a.parse::<i64>().ok()) else {
        return result(&state, &visitor, token, String::new(), None, None, None).await;
    };
    let category = f.get("category").unwrap_or_default().to_owned();
    let key = f.get("idempotency_key").map(str::to_owned);
    let input = redemptions::Redemption {
        token: token.clone(),
        amount_cents: cents,
        category: category.clone(),
        description: None,
    };
    match redemptions::redeem(
        &state.services,
        &visitor.actor,
        key.as_deref(),
        Input::new(input),
    )
    .await
    {
        Ok(r) => super::common::see_other(&format!("/kassa/bon/{}", r.id)),
        Err(e @ (Error::Rule(_) | Error::Invalid(_) | Error::Conflict(_) | Error::Replayed(_))) => {
            let club = match providers::mine(&state.services, &visitor.actor).await {
                Ok(p) => p.name,
                Err(e) => return refused(&state, &visitor, &e, "/kassa"),
            };
            let t = ResultPage {
                chrome: Chrome::for_visitor(&state, &visitor),
                club,
                csrf: visitor.csrf(),
                token,
                ok: false,
                reason: format!("Niet betaald. {}", e.message()),
                balance: None,
                child_hint: None,
                valid_until: None,
                choices: Vec::new(),
                amount: String::new(),
                amount_error: None,
                key: new_key(),
            };
            page(StatusCode::UNPROCESSABLE_ENTITY, t.render(), false)
        }
        Err(e) => refused(&state, &visitor, &e, "/kassa"),
    }
}

/// `GET /kassa/bon/{id}`: the receipt (only for the club that booked it).
pub async fn receipt(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
) -> Response {
    let Ok(id) = Uuid::parse_str(&id) else {
        return super::common::not_found(&state, &visitor);
    };
    let r = match redemptions::receipt(&state.services, &visitor.actor, id).await {
        Ok(r) => r,
        Err(e) => return refused(&state, &visitor, &e, &format!("/kassa/bon/{id}")),
    };
    let local = r.booked_at + chrono::Duration::hours(crate::core::time::offset_hours(r.booked_at));
    let t = ReceiptPage {
        chrome: Chrome::for_visitor(&state, &visitor),
        club: r.provider_name,
        amount: Cents(r.redeemed.amount_cents).to_string(),
        category: category_label(&r.redeemed.category).to_owned(),
        balance: Cents(r.redeemed.balance_cents).to_string(),
        time: format!(
            "{} om {}",
            dutch_long(dutch_date(r.booked_at)),
            local.format("%H:%M")
        ),
        number: r.redeemed.entry_index,
        id,
    };
    page(StatusCode::OK, t.render(), false)
}

/// `GET /kassa/bon/{id}/bewijs`: the receipt's proof (a C2SP tlog-proof), to check offline
/// against the public ledger key.
pub async fn proof(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
) -> Response {
    let Ok(id) = Uuid::parse_str(&id) else {
        return super::common::not_found(&state, &visitor);
    };
    match redemptions::receipt(&state.services, &visitor.actor, id).await {
        Ok(r) => {
            let mut resp = r.redeemed.receipt.into_response();
            let h = resp.headers_mut();
            h.insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            if let Ok(v) = HeaderValue::from_str(&format!(
                "attachment; filename=\"bon-{}.tlog-proof\"",
                r.redeemed.entry_index
            )) {
                h.insert(CONTENT_DISPOSITION, v);
            }
            resp
        }
        Err(e) => refused(&state, &visitor, &e, &format!("/kassa/bon/{id}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_codes_are_tidied() {
        assert_eq!(tidy_token(" kp1:abc d\n"), "KP1:ABCD");
    }
}
