//! The parent's pages, through the household's personal link (no account): the tegoed of each
//! child and a printable letter.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::common::{Chrome, error_page, page};
use crate::core::money::Cents;
use crate::core::time::{dutch_date, dutch_long};
use crate::http::state::AppState;
use crate::service::error::Missing;
use crate::service::parent::{self, ParentVoucher};
use crate::service::{Error, vouchers::HistoryItem};

/// One child's tegoed on the page.
struct Card {
    name: String,
    balance: String,
    valid_until: String,
    categories: String,
    notice: Option<String>,
    qr_svg: Option<String>,
    code: Option<String>,
    lines: Vec<Line>,
}

/// One use of the tegoed.
struct Line {
    date: String,
    what: String,
    amount: String,
}

#[derive(Template)]
#[template(path = "tegoed.html")]
struct OverviewPage {
    chrome: Chrome,
    link: String,
    cards: Vec<Card>,
}

#[derive(Template)]
#[template(path = "brief.html")]
struct LetterPage {
    chrome: Chrome,
    link: String,
    letters: Vec<Letter>,
}

/// One child's page of the letter.
struct Letter {
    name: String,
    balance: String,
    valid_until: String,
    categories: String,
    qr_svg: String,
    code: String,
}

#[derive(Template)]
#[template(path = "link_onbekend.html")]
struct UnknownLinkPage {
    chrome: Chrome,
}

/// The household's vouchers through its link, or the page to show instead.
async fn load(state: &AppState, link: &str) -> Result<Vec<ParentVoucher>, Response> {
    let svc = &state.services;
    let loaded = async {
        let actor = parent::open(svc, link).await?;
        parent::overview(svc, &actor).await
    }
    .await;
    loaded.map_err(|e| match e {
        Error::NotFound(Missing::Page) => {
            let t = UnknownLinkPage {
                chrome: Chrome::new(&state.config.contact, true),
            };
            page(StatusCode::NOT_FOUND, t.render(), true)
        }
        other => error_page(state, &other),
    })
}

/// `GET /tegoed/{link}`: per child the first name, balance, last day, where it was spent, and
/// the QR code.
pub async fn overview(State(state): State<AppState>, Path(link): Path<String>) -> Response {
    let vouchers = match load(&state, &link).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let cards = vouchers.into_iter().map(card).collect();
    let t = OverviewPage {
        chrome: Chrome::new(&state.config.contact, true),
        link,
        cards,
    };
    page(StatusCode::OK, t.render(), true)
}

/// `GET /tegoed/{link}/brief`: a printable letter, one A4 page per child with a QR code.
pub async fn letter(State(state): State<AppState>, Path(link): Path<String>) -> Response {
    let vouchers = match load(&state, &link).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let letters = vouchers
        .into_iter()
        .filter_map(|v| {
            let name = name_of(&v);
            let qr_svg = v.qr_svg?;
            let code = v.code.unwrap_or_default();
            Some(Letter {
                name,
                balance: Cents(v.view.balance_cents).to_string(),
                valid_until: dutch_long(v.view.expires_at),
                categories: categories(&v.view.categories),
                qr_svg,
                code,
            })
        })
        .collect();
    let t = LetterPage {
        chrome: Chrome::new(&state.config.contact, true),
        link,
        letters,
    };
    page(StatusCode::OK, t.render(), true)
}

fn name_of(v: &ParentVoucher) -> String {
    v.view
        .child_first_name
        .clone()
        .unwrap_or_else(|| "uw gezin".to_owned())
}

/// The categories in words: `sport en cultuur`.
fn categories(cats: &[String]) -> String {
    let words: Vec<&str> = cats
        .iter()
        .map(|c| match c.as_str() {
            "sport" => "sport",
            "culture" | "cultuur" => "cultuur",
            "school" => "school",
            other => other,
        })
        .collect();
    match words.as_slice() {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} en {last}", init.join(", ")),
    }
}

fn card(v: ParentVoucher) -> Card {
    let notice = match v.view.status.as_str() {
        "blocked" => Some(
            "Dit tegoed staat op slot. Neem contact met ons op als u niet weet waarom.".to_owned(),
        ),
        "expired" | "closed" => {
            Some("Dit tegoed is verlopen en kan niet meer worden gebruikt.".to_owned())
        }
        "not_yet_valid" => Some(format!(
            "Dit tegoed kunt u gebruiken vanaf {}.",
            dutch_long(v.view.valid_from)
        )),
        _ if v.qr_svg.is_none() => Some(
            "U krijgt een nieuwe brief met een nieuwe QR-code. De oude QR-code werkt niet meer."
                .to_owned(),
        ),
        _ => None,
    };
    let lines = v.view.history.iter().filter_map(line).collect();
    Card {
        name: name_of(&v),
        balance: Cents(v.view.balance_cents).to_string(),
        valid_until: dutch_long(v.view.expires_at),
        categories: categories(&v.view.categories),
        notice,
        qr_svg: v.qr_svg,
        code: v.code,
        lines,
    }
}

/// A line of the history a parent cares about: where money was spent or given back.
fn line(h: &HistoryItem) -> Option<Line> {
    let what = match h.kind.as_str() {
        "redeem" | "direct_payment" => h.provider.clone().unwrap_or_else(|| "Een club".into()),
        "reverse" => format!(
            "Teruggeboekt door {}",
            h.provider.clone().unwrap_or_else(|| "de club".into())
        ),
        "issue" => "Tegoed ontvangen".to_owned(),
        "top_up" => "Extra tegoed ontvangen".to_owned(),
        _ => return None,
    };
    let date = chrono::DateTime::parse_from_rfc3339(&h.time)
        .map(|t| dutch_long(dutch_date(t.with_timezone(&chrono::Utc))))
        .unwrap_or_default();
    Some(Line {
        date,
        what,
        amount: Cents(h.amount_cents).to_string(),
    })
}
