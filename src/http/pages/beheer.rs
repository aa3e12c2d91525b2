//! `/beheer`: Leergeld's pages. Funds (create, deposit, totals, approvals, issuing for every
//! child, next year's fund in one step, letters in bulk), households and children (search, add,
//! erase with a confirm step, a new parent link, issuing for one child), a voucher (block,
//! reissue, top-up, direct payment) and providers. Every action is a use case; a role that may
//! not do something is told so by the use case, whatever the page shows.

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::NaiveDate;
use serde::Deserialize;
use uuid::Uuid;

use super::common::{Chrome, Fields, expired_form, fields, page, refused, see_other};
use super::session::Visitor;
use crate::core::money::Cents;
use crate::core::role::Role;
use crate::core::time::dutch_long;
use crate::http::state::AppState;
use crate::service::funds::{self, FundRow, NewFund, NextYear};
use crate::service::households::{self, NewChild, NewHousehold};
use crate::service::vouchers::{self, IssueSummary};
use crate::service::{Actor, Error, Input, letters, providers, redemptions};

type Sent = Result<axum::Form<Vec<(String, String)>>, FormRejection>;

/// What the visitor's role may do, to show only the forms that can work (the use cases decide).
#[derive(Clone, Copy)]
pub struct Can {
    admin: bool,
    staff: bool,
    finance: bool,
}

fn can(v: &Visitor) -> Can {
    match &v.actor {
        Actor::User(u) => Can {
            admin: u.role.acts_as(Role::Admin),
            staff: u.role.acts_as(Role::Staff),
            finance: u.role.acts_as(Role::Finance),
        },
        _ => Can {
            admin: false,
            staff: false,
            finance: false,
        },
    }
}

fn category_label(c: &str) -> String {
    match c {
        "sport" => "sport".into(),
        "cultuur" | "culture" => "cultuur".into(),
        other => other.into(),
    }
}

fn categories(cs: &[String]) -> String {
    cs.iter()
        .map(|c| category_label(c))
        .collect::<Vec<_>>()
        .join(", ")
}

fn euros(typed: &str) -> Result<i64, String> {
    match Cents::parse_euros(typed) {
        Ok(c) if c.is_positive() => Ok(c.0),
        _ if typed.trim().is_empty() => Err("Vul een bedrag in, bijvoorbeeld 250,00.".into()),
        _ => Err("Dit is geen bedrag. Schrijf het zo: 250,00.".into()),
    }
}

fn date(typed: Option<&str>) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(typed?.trim(), "%Y-%m-%d").ok()
}

fn uuid(typed: Option<&str>) -> Option<Uuid> {
    Uuid::parse_str(typed?.trim()).ok()
}

/// A notice after an action, named in the address (no personal data).
#[derive(Deserialize)]
pub struct Done {
    klaar: Option<String>,
}

fn notice(done: Option<&str>) -> Option<String> {
    Some(
        match done? {
            "regeling" => "De regeling is gemaakt.",
            "storting" => "De storting is geboekt.",
            "goedgekeurd" => "De aanbieder is goedgekeurd voor deze regeling.",
            "gezin" => "Het gezin is toegevoegd.",
            "gewijzigd" => "De gegevens zijn opgeslagen.",
            "gewist" => "De persoonsgegevens van het gezin zijn gewist.",
            "uitgegeven" => "Het tegoed is uitgegeven.",
            "link" => "Er is een nieuwe persoonlijke link. De oude link werkt niet meer.",
            "geblokkeerd" => "Het tegoed is geblokkeerd. De QR-code werkt niet meer.",
            "opnieuw" => {
                "Er is een nieuwe QR-code. De oude werkt niet meer. Druk een nieuwe brief af."
            }
            "opgehoogd" => "Het tegoed is opgehoogd.",
            "betaald" => "De betaling aan de aanbieder is geboekt.",
            "aanbieder" => "De aanbieder is toegevoegd.",
            _ => return None,
        }
        .to_owned(),
    )
}

fn error_status(e: &Option<FormError>) -> StatusCode {
    if e.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    }
}

/// A refusal shown on a form: the Dutch message, and the field it is about (`""` for the form
/// as a whole), so that the page can mark that field (`aria-invalid`).
#[derive(Debug, Clone)]
pub struct FormError {
    text: String,
    field: &'static str,
}

impl std::fmt::Display for FormError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl From<String> for FormError {
    fn from(text: String) -> Self {
        FormError { text, field: "" }
    }
}

impl FormError {
    /// A message about one field.
    fn on(field: &'static str, text: impl Into<String>) -> Self {
        FormError {
            text: text.into(),
            field,
        }
    }
}

/// The field of the forms a refusal is about.
fn field_of(e: &Error) -> &'static str {
    use crate::service::error::Invalid as I;
    match e {
        Error::Invalid(i) => match i {
            I::Text { field, .. } => match *field {
                "name" => "name",
                "sponsor" => "sponsor",
                "reference" => "reference",
                "parent_name" => "parent_name",
                "first_name" => "child",
                "reason" => "reason",
                _ => "",
            },
            I::Amount | I::AmountPerChild | I::AmountTooLarge => "amount",
            I::PeriodReversed | I::PeriodTooLong => "valid_until",
            I::Categories(_) | I::Category => "categories",
            I::MaxAge => "max_age_years",
            I::Kvk => "kvk",
            I::Iban => "iban",
            I::Email => "email",
            I::Phone => "phone",
            I::Children | I::BirthDate => "child",
            _ => "",
        },
        Error::Conflict(crate::service::error::Conflict::ReferenceTaken) => "reference",
        Error::Conflict(crate::service::error::Conflict::FundNameTaken) => "name",
        _ => "",
    }
}

/// The message of a refusal the person can act on; `None` for the rest (shown as a page).
fn message(e: &Error) -> Option<FormError> {
    matches!(e, Error::Invalid(_) | Error::Rule(_) | Error::Conflict(_))
        .then(|| FormError::on(field_of(e), e.message().into_owned()))
}

impl FormError {
    /// True when the error is about the field named `field` in the form (for the templates).
    pub fn is_about(&self, field: &str) -> bool {
        let key = match field {
            "child_name" | "child_birth_date" | "new_child_name" | "new_child_birth_date" => {
                "child"
            }
            other => other,
        };
        !self.field.is_empty() && self.field == key
    }
}

fn checked(
    state: &AppState,
    v: &Visitor,
    headers: &HeaderMap,
    sent: Sent,
) -> Result<Fields, Box<Response>> {
    let f = fields(sent);
    if v.form_is_ours(headers, f.get("csrf_token")) {
        Ok(f)
    } else {
        Err(Box::new(expired_form(state)))
    }
}

// ---------------------------------------------------------------- overview and funds

struct FundLine {
    id: Uuid,
    name: String,
    period: String,
    balance: String,
    ended: bool,
}

#[derive(Template)]
#[template(path = "beheer.html")]
struct OverviewPage {
    chrome: Chrome,
    csrf: String,
    can: Can,
    funds: Vec<FundLine>,
    notice: Option<String>,
    error: Option<FormError>,
    form: NewFundForm,
}

#[derive(Default)]
struct NewFundForm {
    name: String,
    sponsor: String,
    valid_from: String,
    valid_until: String,
    amount: String,
    max_age: String,
}

async fn overview_page(
    state: &AppState,
    v: &Visitor,
    notice: Option<String>,
    error: Option<FormError>,
    form: NewFundForm,
) -> Response {
    let list = match funds::list(&state.services, &v.actor).await {
        Ok(l) => l,
        Err(e) => return refused(state, v, &e, "/beheer"),
    };
    let today = state.services.today();
    let funds = list
        .into_iter()
        .map(|f| FundLine {
            id: f.fund.id,
            period: format!(
                "{} tot en met {}",
                dutch_long(f.fund.valid_from),
                dutch_long(f.fund.valid_until)
            ),
            ended: f.fund.expired_at.is_some() || today > f.fund.valid_until,
            name: f.fund.name,
            balance: f.balance.to_string(),
        })
        .collect();
    let t = OverviewPage {
        chrome: Chrome::for_visitor(state, v),
        csrf: v.csrf(),
        can: can(v),
        funds,
        notice,
        error: error.clone(),
        form,
    };
    page(error_status(&error), t.render(), false)
}

/// `GET /beheer`: every fund, and a form for a new one (admin).
pub async fn overview(
    State(state): State<AppState>,
    v: Visitor,
    Query(d): Query<Done>,
) -> Response {
    let form = NewFundForm {
        max_age: "17".into(),
        ..NewFundForm::default()
    };
    overview_page(&state, &v, notice(d.klaar.as_deref()), None, form).await
}

/// `POST /beheer/regelingen`: a new fund.
pub async fn create_fund(
    State(state): State<AppState>,
    v: Visitor,
    headers: HeaderMap,
    sent: Sent,
) -> Response {
    let f = match checked(&state, &v, &headers, sent) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let form = NewFundForm {
        name: f.get("name").unwrap_or_default().to_owned(),
        sponsor: f.get("sponsor").unwrap_or_default().to_owned(),
        valid_from: f.get("valid_from").unwrap_or_default().to_owned(),
        valid_until: f.get("valid_until").unwrap_or_default().to_owned(),
        amount: f.get("amount").unwrap_or_default().to_owned(),
        max_age: f.get("max_age_years").unwrap_or_default().to_owned(),
    };
    let (Some(from), Some(until)) = (date(f.get("valid_from")), date(f.get("valid_until"))) else {
        let e = Some(FormError::on(
            "valid_from",
            "Vul de eerste en de laatste dag in.",
        ));
        return overview_page(&state, &v, None, e, form).await;
    };
    let amount = match euros(&form.amount) {
        Ok(a) => a,
        Err(e) => {
            return overview_page(&state, &v, None, Some(FormError::on("amount", e)), form).await;
        }
    };
    let max_age = match form.max_age.trim() {
        "" => None,
        typed => match typed.parse::<i64>() {
            Ok(a) => Some(a),
            Err(_) => {
                let e = FormError::on(
                    "max_age_years",
                    "Vul de hoogste leeftijd in cijfers in, bijvoorbeeld 17.",
                );
                return overview_page(&state, &v, None, Some(e), form).await;
            }
        },
    };
    let input = NewFund {
        name: form.name.clone(),
        sponsor: form.sponsor.clone(),
        valid_from: from,
        valid_until: until,
        categories: f.all("categories"),
        amount_per_child_cents: amount,
        max_age_years: max_age,
        pooling: Some("child".into()),
    };
    match funds::create(&state.services, &v.actor, Input::new(input)).await {
        Ok((fund, _)) => see_other(&format!("/beheer/regelingen/{}?klaar=regeling", fund.id)),
        Err(e) => match message(&e) {
            Some(m) => overview_page(&state, &v, None, Some(m), form).await,
            None => refused(&state, &v, &e, "/beheer"),
        },
    }
}

struct ApprovalLine {
    name: String,
    categories: String,
}

struct Choice {
    value: String,
    label: String,
}

#[derive(Template)]
#[template(path = "beheer_regeling.html")]
struct FundPage {
    chrome: Chrome,
    csrf: String,
    can: Can,
    id: Uuid,
    name: String,
    sponsor: String,
    period: String,
    per_child: String,
    max_age: i64,
    categories: Vec<Choice>,
    in_fund: String,
    vouchers: usize,
    on_vouchers: String,
    approvals: Vec<ApprovalLine>,
    providers: Vec<Choice>,
    notice: Option<String>,
    error: Option<FormError>,
    ended: bool,
    key: String,
}

async fn fund_page(
    state: &AppState,
    v: &Visitor,
    id: Uuid,
    notice: Option<String>,
    error: Option<FormError>,
) -> Response {
    let svc = &state.services;
    let here = format!("/beheer/regelingen/{id}");
    let loaded = async {
        let view = funds::view(svc, &v.actor, id).await?;
        let totals = funds::totals(svc, &v.actor, id).await?;
        let approvals = funds::approvals(svc, &v.actor, id).await?;
        let all = providers::list(svc, &v.actor).await?;
        Ok::<_, Error>((view, totals, approvals, all))
    }
    .await;
    let (view, totals, approvals, all) = match loaded {
        Ok(x) => x,
        Err(e) => return refused(state, v, &e, &here),
    };
    let fund: FundRow = view.fund;
    let t = FundPage {
        chrome: Chrome::for_visitor(state, v),
        csrf: v.csrf(),
        can: can(v),
        id,
        period: format!(
            "{} tot en met {}",
            dutch_long(fund.valid_from),
            dutch_long(fund.valid_until)
        ),
        per_child: fund.amount_per_child.to_string(),
        max_age: fund.max_age_years,
        categories: fund
            .categories
            .names()
            .into_iter()
            .map(|c| Choice {
                label: category_label(&c),
                value: c,
            })
            .collect(),
        in_fund: totals.in_fund.to_string(),
        vouchers: totals.vouchers,
        on_vouchers: totals.on_vouchers.to_string(),
        approvals: approvals
            .iter()
            .map(|(p, a)| ApprovalLine {
                name: p.name.clone(),
                categories: categories(&a.categories.names()),
            })
            .collect(),
        providers: all
            .into_iter()
            .map(|p| Choice {
                value: p.id.to_string(),
                label: p.name,
            })
            .collect(),
        notice,
        error: error.clone(),
        ended: fund.expired_at.is_some() || svc.today() > fund.valid_until,
        key: Uuid::new_v4().to_string(),
        name: fund.name,
        sponsor: fund.sponsor,
    };
    page(error_status(&error), t.render(), false)
}

/// `GET /beheer/regelingen/{id}`.
pub async fn fund(
    State(state): State<AppState>,
    v: Visitor,
    Path(id): Path<String>,
    Query(d): Query<Done>,
) -> Response {
    let Ok(id) = Uuid::parse_str(&id) else {
        return super::common::not_found(&state, &v);
    };
    fund_page(&state, &v, id, notice(d.klaar.as_deref()), None).await
}

/// `POST /beheer/regelingen/{id}/{action}`: `storting` (amount, reference), `goedkeuren`
/// (provider_id, categories), `uitgeven` (vouchers for every eligible child).
pub async fn fund_action(
    State(state): State<AppState>,
    v: Visitor,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    sent: Sent,
) -> Response {
    let f = match checked(&state, &v, &headers, sent) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let Ok(id) = Uuid::parse_str(&id) else {
        return super::common::not_found(&state, &v);
    };
    let svc = &state.services;
    let done: Result<&str, Error> = match action.as_str() {
        "storting" => match euros(f.get("amount").unwrap_or_default()) {
            Err(m) => return fund_page(&state, &v, id, None, Some(m.into())).await,
            Ok(amount_cents) => funds::deposit(
                svc,
                &v.actor,
                id,
                f.get("idempotency_key"),
                Input::new(funds::Deposit {
                    amount_cents,
                    reference: f.get("reference").unwrap_or_default().to_owned(),
                }),
            )
            .await
            .map(|_| "storting"),
        },
        "goedkeuren" => match uuid(f.get("provider_id")) {
            None => {
                let m = "Kies een aanbieder.".to_owned();
                return fund_page(&state, &v, id, None, Some(m.into())).await;
            }
            Some(p) => {
                funds::approve_provider(svc, &v.actor, id, p, Input::new(f.all("categories")))
                    .await
                    .map(|_| "goedgekeurd")
            }
        },
        "uitgeven" => {
            return match vouchers::issue_all(svc, &v.actor, id).await {
                Ok(s) => summary_page(&state, &v, id, s, None),
                Err(e) => match message(&e) {
                    Some(m) => fund_page(&state, &v, id, None, Some(m)).await,
                    None => refused(&state, &v, &e, &format!("/beheer/regelingen/{id}")),
                },
            };
        }
        _ => return super::common::not_found(&state, &v),
    };
    match done {
        Ok(what) => see_other(&format!("/beheer/regelingen/{id}?klaar={what}")),
        Err(e) => match message(&e) {
            Some(m) => fund_page(&state, &v, id, None, Some(m)).await,
            None => refused(&state, &v, &e, &format!("/beheer/regelingen/{id}")),
        },
    }
}

#[derive(Template)]
#[template(path = "beheer_uitgegeven.html")]
struct SummaryPage {
    chrome: Chrome,
    id: Uuid,
    new_fund: Option<String>,
    s: IssueSummary,
}

fn summary_page(
    state: &AppState,
    v: &Visitor,
    id: Uuid,
    s: IssueSummary,
    new_fund: Option<String>,
) -> Response {
    let t = SummaryPage {
        chrome: Chrome::for_visitor(state, v),
        id,
        new_fund,
        s,
    };
    page(StatusCode::OK, t.render(), false)
}

struct KeepLine {
    id: Uuid,
    name: String,
    categories: String,
}

#[derive(Template)]
#[template(path = "beheer_nieuw_jaar.html")]
struct NextYearPage {
    chrome: Chrome,
    csrf: String,
    id: Uuid,
    old_name: String,
    name: String,
    valid_from: String,
    valid_until: String,
    deposit: String,
    keep: Vec<KeepLine>,
    error: Option<FormError>,
}

async fn next_year_page(
    state: &AppState,
    v: &Visitor,
    id: Uuid,
    error: Option<FormError>,
    f: Option<&Fields>,
) -> Response {
    let svc = &state.services;
    let here = format!("/beheer/regelingen/{id}/nieuw-jaar");
    let loaded = async {
        let view = funds::view(svc, &v.actor, id).await?;
        let approvals = funds::approvals(svc, &v.actor, id).await?;
        Ok::<_, Error>((view, approvals))
    }
    .await;
    let (view, approvals) = match loaded {
        Ok(x) => x,
        Err(e) => return refused(state, v, &e, &here),
    };
    let fund = view.fund;
    let from = funds::one_year_later(fund.valid_from).unwrap_or(fund.valid_from);
    let until = funds::one_year_later(fund.valid_until).unwrap_or(fund.valid_until);
    let year = chrono::Datelike::year(&from);
    let get = |k: &str, d: String| f.and_then(|f| f.get(k)).map(str::to_owned).unwrap_or(d);
    let t = NextYearPage {
        chrome: Chrome::for_visitor(state, v),
        csrf: v.csrf(),
        id,
        name: get("name", funds::next_name(&fund.name, year)),
        valid_from: get("valid_from", from.to_string()),
        valid_until: get("valid_until", until.to_string()),
        deposit: get("deposit", String::new()),
        old_name: fund.name,
        keep: approvals
            .iter()
            .map(|(p, a)| KeepLine {
                id: p.id,
                name: p.name.clone(),
                categories: categories(&a.categories.names()),
            })
            .collect(),
        error: error.clone(),
    };
    page(error_status(&error), t.render(), false)
}

/// `GET /beheer/regelingen/{id}/nieuw-jaar`: next year's fund, prefilled, with the clubs to
/// carry over.
pub async fn next_year_form(
    State(state): State<AppState>,
    v: Visitor,
    Path(id): Path<String>,
) -> Response {
    let Ok(id) = Uuid::parse_str(&id) else {
        return super::common::not_found(&state, &v);
    };
    next_year_page(&state, &v, id, None, None).await
}

/// `POST /beheer/regelingen/{id}/nieuw-jaar`: makes the fund (admin), carries the chosen
/// approvals over, books the deposit if one is given, and issues vouchers for every child still
/// eligible; shows the summary.
pub async fn next_year(
    State(state): State<AppState>,
    v: Visitor,
    headers: HeaderMap,
    Path(id): Path<String>,
    sent: Sent,
) -> Response {
    let f = match checked(&state, &v, &headers, sent) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let Ok(id) = Uuid::parse_str(&id) else {
        return super::common::not_found(&state, &v);
    };
    let (Some(from), Some(until)) = (date(f.get("valid_from")), date(f.get("valid_until"))) else {
        let m = "Vul de eerste en de laatste dag in.".to_owned();
        return next_year_page(&state, &v, id, Some(m.into()), Some(&f)).await;
    };
    let deposit = match f.get("deposit").map(str::trim).filter(|d| !d.is_empty()) {
        None => None,
        Some(d) => match euros(d) {
            Ok(c) => Some(c),
            Err(m) => return next_year_page(&state, &v, id, Some(m.into()), Some(&f)).await,
        },
    };
    let svc = &state.services;
    let input = NextYear {
        name: f.get("name").unwrap_or_default().to_owned(),
        valid_from: from,
        valid_until: until,
        providers: f.all("keep").iter().filter_map(|k| uuid(Some(k))).collect(),
    };
    let new = match funds::next_year(svc, &v.actor, id, Input::new(input)).await {
        Ok(n) => n,
        Err(e) => {
            return match message(&e) {
                Some(m) => next_year_page(&state, &v, id, Some(m), Some(&f)).await,
                None => refused(
                    &state,
                    &v,
                    &e,
                    &format!("/beheer/regelingen/{id}/nieuw-jaar"),
                ),
            };
        }
    };
    if let Some(amount_cents) = deposit {
        let booked = funds::deposit(
            svc,
            &v.actor,
            new.id,
            None,
            Input::new(funds::Deposit {
                amount_cents,
                reference: format!("Startbedrag {}", new.name),
            }),
        )
        .await;
        if let Err(e) = booked {
            let m = format!(
                "De regeling {} is gemaakt, maar de storting niet: {}",
                new.name,
                e.message()
            );
            return fund_page(&state, &v, new.id, None, Some(m.into())).await;
        }
    }
    if deposit.is_none() {
        // Nothing to issue yet without money; the fund page has the button for later.
        return see_other(&format!("/beheer/regelingen/{}?klaar=regeling", new.id));
    }
    match vouchers::issue_all(svc, &v.actor, new.id).await {
        Ok(s) => summary_page(&state, &v, new.id, s, Some(new.name)),
        Err(e) => {
            let m = format!(
                "De regeling is gemaakt, maar de tegoeden zijn niet uitgegeven: {}",
                e.message()
            );
            fund_page(&state, &v, new.id, None, Some(m.into())).await
        }
    }
}

// ---------------------------------------------------------------- letters

struct LetterView {
    name: String,
    reference: String,
    balance: String,
    valid_until: String,
    categories: String,
    qr_svg: String,
    code: String,
}

#[derive(Template)]
#[template(path = "brieven.html")]
struct LettersPage {
    chrome: Chrome,
    back: String,
    letters: Vec<LetterView>,
    left_out: usize,
}

async fn letters_page(
    state: &AppState,
    v: &Visitor,
    fund: Uuid,
    household: Option<Uuid>,
    back: String,
) -> Response {
    let (list, left_out) = match letters::of_fund(&state.services, &v.actor, fund, household).await
    {
        Ok(x) => x,
        Err(e) => return refused(state, v, &e, &back),
    };
    let mut chrome = Chrome::for_visitor(state, v);
    chrome.noindex = true;
    let t = LettersPage {
        chrome,
        back,
        letters: list
            .into_iter()
            .map(|l| LetterView {
                name: l
                    .view
                    .child_first_name
                    .clone()
                    .unwrap_or_else(|| "uw gezin".into()),
                reference: l.reference.unwrap_or_default(),
                balance: Cents(l.view.balance_cents).to_string(),
                valid_until: dutch_long(l.view.expires_at),
                categories: categories(&l.view.categories),
                qr_svg: l.qr_svg,
                code: l.code,
            })
            .collect(),
        left_out,
    };
    page(StatusCode::OK, t.render(), true)
}

/// `GET /beheer/regelingen/{id}/brieven`: every open voucher's letter, one A4 page each.
pub async fn fund_letters(
    State(state): State<AppState>,
    v: Visitor,
    Path(id): Path<String>,
) -> Response {
    let Ok(id) = Uuid::parse_str(&id) else {
        return super::common::not_found(&state, &v);
    };
    letters_page(&state, &v, id, None, format!("/beheer/regelingen/{id}")).await
}

// ---------------------------------------------------------------- households

struct HouseholdLine {
    id: Uuid,
    reference: String,
    parent: String,
}

#[derive(Template)]
#[template(path = "beheer_gezinnen.html")]
struct HouseholdsPage {
    chrome: Chrome,
    csrf: String,
    can: Can,
    q: String,
    searched: bool,
    found: Vec<HouseholdLine>,
    notice: Option<String>,
    error: Option<FormError>,
    form: HouseholdForm,
}

#[derive(Default)]
struct HouseholdForm {
    reference: String,
    parent_name: String,
    email: String,
    phone: String,
    children: Vec<(String, String)>,
}

const CHILD_ROWS: usize = 6;

async fn households_page(
    state: &AppState,
    v: &Visitor,
    q: String,
    error: Option<FormError>,
    form: HouseholdForm,
    notice: Option<String>,
) -> Response {
    let found = if q.trim().is_empty() {
        Vec::new()
    } else {
        match households::search(&state.services, &v.actor, &q).await {
            Ok(l) => l,
            Err(e) => return refused(state, v, &e, "/beheer/gezinnen"),
        }
    };
    if q.trim().is_empty()
        && let Err(e) = households::search(&state.services, &v.actor, "").await
    {
        return refused(state, v, &e, "/beheer/gezinnen");
    }
    let mut form = form;
    while form.children.len() < CHILD_ROWS {
        form.children.push((String::new(), String::new()));
    }
    let t = HouseholdsPage {
        chrome: Chrome::for_visitor(state, v),
        csrf: v.csrf(),
        can: can(v),
        searched: !q.trim().is_empty(),
        q,
        found: found
            .into_iter()
            .map(|h| HouseholdLine {
                id: h.id,
                reference: h.reference.unwrap_or_default(),
                parent: h.parent_name.unwrap_or_default(),
            })
            .collect(),
        notice,
        error: error.clone(),
        form,
    };
    page(error_status(&error), t.render(), false)
}

/// `GET /beheer/gezinnen?q=`: search, and a form for a new household.
pub async fn households_list(
    State(state): State<AppState>,
    v: Visitor,
    Query(d): Query<Done>,
) -> Response {
    households_page(
        &state,
        &v,
        String::new(),
        None,
        HouseholdForm::default(),
        notice(d.klaar.as_deref()),
    )
    .await
}

/// `POST /beheer/gezinnen/zoeken`: field `q` (sent in the body, so that names never appear in
/// an address or a log).
pub async fn search_households(
    State(state): State<AppState>,
    v: Visitor,
    headers: HeaderMap,
    sent: Sent,
) -> Response {
    let f = match checked(&state, &v, &headers, sent) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let q = f.get("q").unwrap_or_default().to_owned();
    households_page(&state, &v, q, None, HouseholdForm::default(), None).await
}

/// `POST /beheer/gezinnen`: a new household with its children.
pub async fn create_household(
    State(state): State<AppState>,
    v: Visitor,
    headers: HeaderMap,
    sent: Sent,
) -> Response {
    let f = match checked(&state, &v, &headers, sent) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let names = f.all("child_name");
    let births = f.all("child_birth_date");
    let form = HouseholdForm {
        reference: f.get("reference").unwrap_or_default().to_owned(),
        parent_name: f.get("parent_name").unwrap_or_default().to_owned(),
        email: f.get("email").unwrap_or_default().to_owned(),
        phone: f.get("phone").unwrap_or_default().to_owned(),
        children: names.iter().cloned().zip(births.iter().cloned()).collect(),
    };
    let mut children = Vec::new();
    for (n, b) in names.iter().zip(births.iter()) {
        if n.trim().is_empty() && b.trim().is_empty() {
            continue;
        }
        let Some(birth_date) = date(Some(b)) else {
            let m = format!(
                "Vul de geboortedatum van {} in.",
                if n.trim().is_empty() {
                    "elk kind"
                } else {
                    n.trim()
                }
            );
            return households_page(&state, &v, String::new(), Some(m.into()), form, None).await;
        };
        children.push(NewChild {
            first_name: n.clone(),
            birth_date,
        });
    }
    let opt = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let input = NewHousehold {
        reference: form.reference.clone(),
        parent_name: form.parent_name.clone(),
        email: opt(&form.email),
        phone: opt(&form.phone),
        children,
    };
    match households::create(&state.services, &v.actor, Input::new(input)).await {
        Ok(h) => see_other(&format!("/beheer/gezinnen/{}?klaar=gezin", h.household.id)),
        Err(e) => match message(&e) {
            Some(m) => households_page(&state, &v, String::new(), Some(m), form, None).await,
            None => refused(&state, &v, &e, "/beheer/gezinnen"),
        },
    }
}

struct ChildLine {
    id: Uuid,
    name: String,
    born: String,
}

struct VoucherLine {
    id: Uuid,
    fund: String,
    who: String,
    balance: String,
    status: &'static str,
}

fn status_label(s: &str) -> &'static str {
    match s {
        "active" => "Actief",
        "blocked" => "Geblokkeerd",
        "closed" | "expired" => "Verlopen",
        "not_yet_valid" => "Nog niet geldig",
        _ => "Onbekend",
    }
}

#[derive(Template)]
#[template(path = "beheer_gezin.html")]
struct HouseholdPage {
    chrome: Chrome,
    csrf: String,
    can: Can,
    id: Uuid,
    reference: String,
    parent: String,
    email: String,
    phone: String,
    erased: bool,
    link: Option<String>,
    children: Vec<ChildLine>,
    vouchers: Vec<VoucherLine>,
    funds: Vec<(Uuid, String)>,
    notice: Option<String>,
    error: Option<FormError>,
}

async fn household_page(
    state: &AppState,
    v: &Visitor,
    id: Uuid,
    notice: Option<String>,
    error: Option<FormError>,
) -> Response {
    let svc = &state.services;
    let here = format!("/beheer/gezinnen/{id}");
    let loaded = async {
        let h = households::view(svc, &v.actor, id).await?;
        let funds = funds::list(svc, &v.actor).await?;
        Ok::<_, Error>((h, funds))
    }
    .await;
    let (h, all_funds) = match loaded {
        Ok(x) => x,
        Err(e) => return refused(state, v, &e, &here),
    };
    let today = svc.today();
    let fund_name = |fid: Uuid| {
        all_funds
            .iter()
            .find(|f| f.fund.id == fid)
            .map(|f| f.fund.name.clone())
            .unwrap_or_default()
    };
    let mut vouchers_out = Vec::new();
    for vr in h.vouchers.clone().unwrap_or_default() {
        let view = match vouchers::view(svc, &v.actor, vr.id).await {
            Ok(x) => x,
            Err(e) => return refused(state, v, &e, &here),
        };
        vouchers_out.push(VoucherLine {
            id: vr.id,
            fund: fund_name(vr.fund_id),
            who: view
                .child_first_name
                .clone()
                .unwrap_or_else(|| "Het gezin".into()),
            balance: Cents(view.balance_cents).to_string(),
            status: status_label(&view.status),
        });
    }
    let t = HouseholdPage {
        chrome: Chrome::for_visitor(state, v),
        csrf: v.csrf(),
        can: can(v),
        id,
        reference: h.household.reference.clone().unwrap_or_default(),
        parent: h.household.parent_name.clone().unwrap_or_default(),
        email: h.household.email.clone().unwrap_or_default(),
        phone: h.household.phone.clone().unwrap_or_default(),
        erased: h.household.erased_at.is_some(),
        link: h.parent_link.clone(),
        children: h
            .children
            .iter()
            .map(|c| ChildLine {
                id: c.id,
                name: c.first_name.clone().unwrap_or_else(|| "(gewist)".into()),
                born: c.birth_date.map(dutch_long).unwrap_or_default(),
            })
            .collect(),
        vouchers: vouchers_out,
        funds: all_funds
            .iter()
            .filter(|f| f.fund.expired_at.is_none() && today <= f.fund.valid_until)
            .map(|f| (f.fund.id, f.fund.name.clone()))
            .collect(),
        notice,
        error: error.clone(),
    };
    page(error_status(&error), t.render(), false)
}

/// `GET /beheer/gezinnen/{id}`.
pub async fn household(
    State(state): State<AppState>,
    v: Visitor,
    Path(id): Path<String>,
    Query(d): Query<Done>,
) -> Response {
    let Ok(id) = Uuid::parse_str(&id) else {
        return super::common::not_found(&state, &v);
    };
    household_page(&state, &v, id, notice(d.klaar.as_deref()), None).await
}

#[derive(Template)]
#[template(path = "beheer_wissen.html")]
struct ErasePage {
    chrome: Chrome,
    csrf: String,
    id: Uuid,
    reference: String,
}

/// `GET /beheer/gezinnen/{id}/wissen`: asks to confirm the erasure.
pub async fn erase_form(
    State(state): State<AppState>,
    v: Visitor,
    Path(id): Path<String>,
) -> Response {
    let Ok(id) = Uuid::parse_str(&id) else {
        return super::common::not_found(&state, &v);
    };
    let h = match households::view(&state.services, &v.actor, id).await {
        Ok(h) => h,
        Err(e) => return refused(&state, &v, &e, &format!("/beheer/gezinnen/{id}")),
    };
    let t = ErasePage {
        chrome: Chrome::for_visitor(&state, &v),
        csrf: v.csrf(),
        id,
        reference: h.household.reference.unwrap_or_default(),
    };
    page(StatusCode::OK, t.render(), false)
}

/// `POST /beheer/gezinnen/{id}/wissen`: erases the personal data (after the confirm step).
pub async fn erase(
    state: State<AppState>,
    v: Visitor,
    headers: HeaderMap,
    Path(id): Path<String>,
    sent: Sent,
) -> Response {
    household_action(state, v, headers, Path((id, "wissen".to_owned())), sent).await
}

/// `POST /beheer/gezinnen/{id}/{action}`: `wissen` (erase personal data, after the confirm
/// step), `link` (a new parent link), `uitgeven` (a voucher for one child: fund_id, child_id).
pub async fn household_action(
    State(state): State<AppState>,
    v: Visitor,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    sent: Sent,
) -> Response {
    let f = match checked(&state, &v, &headers, sent) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let Ok(id) = Uuid::parse_str(&id) else {
        return super::common::not_found(&state, &v);
    };
    let svc = &state.services;
    let done: Result<&str, Error> = match action.as_str() {
        "wissen" => {
            if f.get("bevestig") != Some("ja") {
                return see_other(&format!("/beheer/gezinnen/{id}/wissen"));
            }
            return match households::erase_personal_data(svc, &v.actor, id).await {
                Ok(()) => see_other("/beheer/gezinnen?klaar=gewist"),
                Err(e) => refused(&state, &v, &e, &format!("/beheer/gezinnen/{id}")),
            };
        }
        "link" => households::renew_link(svc, &v.actor, id)
            .await
            .map(|_| "link"),
        "uitgeven" => {
            let (Some(fund), Some(child)) = (uuid(f.get("fund_id")), uuid(f.get("child_id")))
            else {
                let m = "Kies een regeling en een kind.".to_owned();
                return household_page(&state, &v, id, None, Some(m.into())).await;
            };
            vouchers::issue(
                svc,
                &v.actor,
                fund,
                f.get("idempotency_key"),
                Input::new(vouchers::issue::IssueRequest {
                    child_id: Some(child),
                    household_id: None,
                    amount_cents: None,
                }),
            )
            .await
            .map(|_| "uitgegeven")
        }
        _ => return super::common::not_found(&state, &v),
    };
    match done {
        Ok(what) => see_other(&format!("/beheer/gezinnen/{id}?klaar={what}")),
        Err(e) => match message(&e) {
            Some(m) => household_page(&state, &v, id, None, Some(m)).await,
            None => refused(&state, &v, &e, &format!("/beheer/gezinnen/{id}")),
        },
    }
}

// ---------------------------------------------------------------- a voucher

struct HistoryLine {
    date: String,
    what: String,
    amount: String,
}

#[derive(Template)]
#[template(path = "beheer_tegoed.html")]
struct VoucherPage {
    chrome: Chrome,
    csrf: String,
    can: Can,
    id: Uuid,
    household: Uuid,
    fund: Uuid,
    fund_name: String,
    who: String,
    balance: String,
    status: &'static str,
    blocked: bool,
    valid_until: String,
    history: Vec<HistoryLine>,
    providers: Vec<Choice>,
    categories: Vec<Choice>,
    child_id: String,
    key: String,
    notice: Option<String>,
    error: Option<FormError>,
}

async fn voucher_page(
    state: &AppState,
    v: &Visitor,
    id: Uuid,
    notice: Option<String>,
    error: Option<FormError>,
) -> Response {
    let svc = &state.services;
    let here = format!("/beheer/tegoeden/{id}");
    let loaded = async {
        let view = vouchers::view(svc, &v.actor, id).await?;
        let approvals = funds::approvals(svc, &v.actor, view.fund_id).await?;
        Ok::<_, Error>((view, approvals))
    }
    .await;
    let (view, approvals) = match loaded {
        Ok(x) => x,
        Err(e) => return refused(state, v, &e, &here),
    };
    let history = view
        .history
        .iter()
        .map(|h| HistoryLine {
            date: chrono::DateTime::parse_from_rfc3339(&h.time)
                .map(|t| dutch_long(crate::core::time::dutch_date(t.with_timezone(&chrono::Utc))))
                .unwrap_or_default(),
            what: match h.kind.as_str() {
                "issue" => "Uitgegeven".to_owned(),
                "top_up" => "Opgehoogd".to_owned(),
                "redeem" => format!("Betaald bij {}", h.provider.clone().unwrap_or_default()),
                "direct_payment" => format!(
                    "Rechtstreeks betaald aan {}",
                    h.provider.clone().unwrap_or_default()
                ),
                "reverse" => "Teruggeboekt".to_owned(),
                "expire" => "Verlopen: terug naar de regeling".to_owned(),
                "blocked" => "Geblokkeerd".to_owned(),
                "reissued" => "Nieuwe QR-code".to_owned(),
                "closed" => "Afgesloten".to_owned(),
                other => other.to_owned(),
            },
            amount: Cents(h.amount_cents).to_string(),
        })
        .collect();
    let t = VoucherPage {
        chrome: Chrome::for_visitor(state, v),
        csrf: v.csrf(),
        can: can(v),
        id,
        household: view.household_id,
        fund: view.fund_id,
        fund_name: view.fund_name.clone(),
        who: view
            .child_first_name
            .clone()
            .unwrap_or_else(|| "Het gezin".into()),
        balance: Cents(view.balance_cents).to_string(),
        status: status_label(&view.status),
        blocked: view.status == "blocked",
        valid_until: dutch_long(view.expires_at),
        history,
        providers: approvals
            .iter()
            .map(|(p, _)| Choice {
                value: p.id.to_string(),
                label: p.name.clone(),
            })
            .collect(),
        categories: view
            .categories
            .iter()
            .map(|c| Choice {
                value: c.clone(),
                label: category_label(c),
            })
            .collect(),
        child_id: view.child_id.map(|c| c.to_string()).unwrap_or_default(),
        key: Uuid::new_v4().to_string(),
        notice,
        error: error.clone(),
    };
    page(error_status(&error), t.render(), false)
}

/// `GET /beheer/tegoeden/{id}`.
pub async fn voucher(
    State(state): State<AppState>,
    v: Visitor,
    Path(id): Path<String>,
    Query(d): Query<Done>,
) -> Response {
    let Ok(id) = Uuid::parse_str(&id) else {
        return super::common::not_found(&state, &v);
    };
    voucher_page(&state, &v, id, notice(d.klaar.as_deref()), None).await
}

/// `POST /beheer/tegoeden/{id}/{action}`: `blokkeren` (reason), `opnieuw` (reissue),
/// `ophogen` (amount, reason), `betalen` (a direct payment: provider_id, amount, category).
pub async fn voucher_action(
    State(state): State<AppState>,
    v: Visitor,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    sent: Sent,
) -> Response {
    let f = match checked(&state, &v, &headers, sent) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let Ok(id) = Uuid::parse_str(&id) else {
        return super::common::not_found(&state, &v);
    };
    let svc = &state.services;
    let reason = f.get("reason").unwrap_or_default().trim().to_owned();
    let done: Result<&str, Error> = match action.as_str() {
        "blokkeren" if reason.is_empty() => {
            let m = "Schrijf kort op waarom u het tegoed blokkeert.".to_owned();
            return voucher_page(&state, &v, id, None, Some(m.into())).await;
        }
        "blokkeren" => vouchers::block(svc, &v.actor, id, Input::new(vouchers::Block { reason }))
            .await
            .map(|_| "geblokkeerd"),
        "opnieuw" => vouchers::reissue(svc, &v.actor, id)
            .await
            .map(|_| "opnieuw"),
        "ophogen" => match euros(f.get("amount").unwrap_or_default()) {
            Err(m) => return voucher_page(&state, &v, id, None, Some(m.into())).await,
            Ok(amount_cents) => vouchers::top_up(
                svc,
                &v.actor,
                id,
                f.get("idempotency_key"),
                Input::new(vouchers::TopUp {
                    amount_cents,
                    reason,
                }),
            )
            .await
            .map(|_| "opgehoogd"),
        },
        "betalen" => {
            let amount = match euros(f.get("amount").unwrap_or_default()) {
                Ok(a) => a,
                Err(m) => return voucher_page(&state, &v, id, None, Some(m.into())).await,
            };
            let view = match vouchers::view(svc, &v.actor, id).await {
                Ok(x) => x,
                Err(e) => return refused(&state, &v, &e, &format!("/beheer/tegoeden/{id}")),
            };
            let (Some(child), Some(provider)) = (view.child_id, uuid(f.get("provider_id"))) else {
                let m = "Kies een aanbieder. Een betaling van een gezinstegoed kan via de API."
                    .to_owned();
                return voucher_page(&state, &v, id, None, Some(m.into())).await;
            };
            redemptions::direct_payment(
                svc,
                &v.actor,
                view.fund_id,
                f.get("idempotency_key"),
                Input::new(redemptions::DirectPayment {
                    child_id: child,
                    provider_id: provider,
                    amount_cents: amount,
                    category: f.get("category").unwrap_or_default().to_owned(),
                    description: Some(reason).filter(|r| !r.is_empty()),
                }),
            )
            .await
            .map(|_| "betaald")
        }
        _ => return super::common::not_found(&state, &v),
    };
    match done {
        Ok(what) => see_other(&format!("/beheer/tegoeden/{id}?klaar={what}")),
        Err(e) => match message(&e) {
            Some(m) => voucher_page(&state, &v, id, None, Some(m)).await,
            None => refused(&state, &v, &e, &format!("/beheer/tegoeden/{id}")),
        },
    }
}

/// `GET /beheer/gezinnen/{id}/brief/{fund}`: the letters of one household in a fund.
pub async fn household_letters(
    State(state): State<AppState>,
    v: Visitor,
    Path((id, fund)): Path<(String, String)>,
) -> Response {
    let (Ok(id), Ok(fund)) = (Uuid::parse_str(&id), Uuid::parse_str(&fund)) else {
        return super::common::not_found(&state, &v);
    };
    letters_page(&state, &v, fund, Some(id), format!("/beheer/gezinnen/{id}")).await
}

// ---------------------------------------------------------------- providers

struct ProviderLine {
    name: String,
    kvk: String,
    categories: String,
}

#[derive(Template)]
#[template(path = "beheer_aanbieders.html")]
struct ProvidersPage {
    chrome: Chrome,
    csrf: String,
    can: Can,
    providers: Vec<ProviderLine>,
    notice: Option<String>,
    error: Option<FormError>,
    name: String,
    kvk: String,
    iban: String,
}

async fn providers_page(
    state: &AppState,
    v: &Visitor,
    notice: Option<String>,
    error: Option<FormError>,
    f: Option<&Fields>,
) -> Response {
    let list = match providers::list(&state.services, &v.actor).await {
        Ok(l) => l,
        Err(e) => return refused(state, v, &e, "/beheer/aanbieders"),
    };
    let get = |k: &str| f.and_then(|f| f.get(k)).unwrap_or_default().to_owned();
    let t = ProvidersPage {
        chrome: Chrome::for_visitor(state, v),
        csrf: v.csrf(),
        can: can(v),
        providers: list
            .into_iter()
            .map(|p| ProviderLine {
                name: p.name,
                kvk: p.kvk.to_string(),
                categories: categories(&p.categories.names()),
            })
            .collect(),
        notice,
        error: error.clone(),
        name: get("name"),
        kvk: get("kvk"),
        iban: get("iban"),
    };
    page(error_status(&error), t.render(), false)
}

/// `GET /beheer/aanbieders`.
pub async fn providers_list(
    State(state): State<AppState>,
    v: Visitor,
    Query(d): Query<Done>,
) -> Response {
    providers_page(&state, &v, notice(d.klaar.as_deref()), None, None).await
}

/// `POST /beheer/aanbieders`: a new provider (admin).
pub async fn create_provider(
    State(state): State<AppState>,
    v: Visitor,
    headers: HeaderMap,
    sent: Sent,
) -> Response {
    let f = match checked(&state, &v, &headers, sent) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let input = providers::NewProvider {
        name: f.get("name").unwrap_or_default().to_owned(),
        kvk: f.get("kvk").unwrap_or_default().to_owned(),
        iban: f.get("iban").unwrap_or_default().to_owned(),
        categories: f.all("categories"),
    };
    match providers::create(&state.services, &v.actor, Input::new(input)).await {
        Ok(_) => see_other("/beheer/aanbieders?klaar=aanbieder"),
        Err(e) => match message(&e) {
            Some(m) => providers_page(&state, &v, None, Some(m), Some(&f)).await,
            None => refused(&state, &v, &e, "/beheer/aanbieders"),
        },
    }
}

// ---------------------------------------------------------------- editing a household

struct EditChild {
    id: String,
    name: String,
    birth: String,
}

#[derive(Template)]
#[template(path = "beheer_wijzigen.html")]
struct EditPage {
    chrome: Chrome,
    csrf: String,
    id: Uuid,
    reference: String,
    parent_name: String,
    email: String,
    phone: String,
    children: Vec<EditChild>,
    added: Vec<(String, String)>,
    error: Option<FormError>,
}

async fn edit_page(
    state: &AppState,
    v: &Visitor,
    id: Uuid,
    error: Option<FormError>,
    f: Option<&Fields>,
) -> Response {
    let h = match households::view(&state.services, &v.actor, id).await {
        Ok(h) => h,
        Err(e) => return refused(state, v, &e, &format!("/beheer/gezinnen/{id}/wijzigen")),
    };
    if h.household.erased_at.is_some() {
        return refused(
            state,
            v,
            &Error::Rule(crate::service::error::Rule::HouseholdErased),
            "/beheer/gezinnen",
        );
    }
    let (children, added, parent_name, email, phone) = match f {
        Some(f) => (
            f.all("child_id")
                .into_iter()
                .zip(f.all("child_name"))
                .zip(f.all("child_birth_date"))
                .map(|((id, name), birth)| EditChild { id, name, birth })
                .collect(),
            f.all("new_child_name")
                .into_iter()
                .zip(f.all("new_child_birth_date"))
                .collect(),
            f.get("parent_name").unwrap_or_default().to_owned(),
            f.get("email").unwrap_or_default().to_owned(),
            f.get("phone").unwrap_or_default().to_owned(),
        ),
        None => (
            h.children
                .iter()
                .map(|c| EditChild {
                    id: c.id.to_string(),
                    name: c.first_name.clone().unwrap_or_default(),
                    birth: c.birth_date.map(|d| d.to_string()).unwrap_or_default(),
                })
                .collect(),
            vec![(String::new(), String::new()); 2],
            h.household.parent_name.clone().unwrap_or_default(),
            h.household.email.clone().unwrap_or_default(),
            h.household.phone.clone().unwrap_or_default(),
        ),
    };
    let t = EditPage {
        chrome: Chrome::for_visitor(state, v),
        csrf: v.csrf(),
        id,
        reference: h.household.reference.unwrap_or_default(),
        parent_name,
        email,
        phone,
        children,
        added,
        error: error.clone(),
    };
    page(error_status(&error), t.render(), false)
}

/// `GET /beheer/gezinnen/{id}/wijzigen`: correct the contact data and the children, or add one.
pub async fn edit_form(
    State(state): State<AppState>,
    v: Visitor,
    Path(id): Path<String>,
) -> Response {
    let Ok(id) = Uuid::parse_str(&id) else {
        return super::common::not_found(&state, &v);
    };
    edit_page(&state, &v, id, None, None).await
}

/// `POST /beheer/gezinnen/{id}/wijzigen`.
pub async fn edit(
    State(state): State<AppState>,
    v: Visitor,
    headers: HeaderMap,
    Path(id): Path<String>,
    sent: Sent,
) -> Response {
    let f = match checked(&state, &v, &headers, sent) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let Ok(id) = Uuid::parse_str(&id) else {
        return super::common::not_found(&state, &v);
    };
    let mut children = Vec::new();
    for ((child, name), birth) in f
        .all("child_id")
        .into_iter()
        .zip(f.all("child_name"))
        .zip(f.all("child_birth_date"))
    {
        let (Some(child), Some(birth)) = (uuid(Some(&child)), date(Some(&birth))) else {
            let m = format!("Vul de geboortedatum van {} in.", name.trim());
            return edit_page(&state, &v, id, Some(m.into()), Some(&f)).await;
        };
        children.push((child, name, birth));
    }
    let mut added = Vec::new();
    for (name, birth) in f
        .all("new_child_name")
        .into_iter()
        .zip(f.all("new_child_birth_date"))
    {
        if name.trim().is_empty() && birth.trim().is_empty() {
            continue;
        }
        let Some(birth_date) = date(Some(&birth)) else {
            let m = format!("Vul de geboortedatum van {} in.", name.trim());
            return edit_page(&state, &v, id, Some(m.into()), Some(&f)).await;
        };
        added.push(NewChild {
            first_name: name,
            birth_date,
        });
    }
    let opt = |s: Option<&str>| {
        s.map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let input = households::HouseholdEdit {
        parent_name: f.get("parent_name").unwrap_or_default().to_owned(),
        email: opt(f.get("email")),
        phone: opt(f.get("phone")),
        children,
        added,
    };
    match households::update(&state.services, &v.actor, id, Input::new(input)).await {
        Ok(()) => see_other(&format!("/beheer/gezinnen/{id}?klaar=gewijzigd")),
        Err(e) => match message(&e) {
            Some(m) => edit_page(&state, &v, id, Some(m), Some(&f)).await,
            None => refused(&state, &v, &e, &format!("/beheer/gezinnen/{id}")),
        },
    }
}
