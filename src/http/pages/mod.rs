//! The web pages for people, in Dutch: server-rendered HTML (askama templates in
//! `templates/`), on the NL Design System, with JavaScript only where a page needs it. Pages
//! call the same use cases as the API; authorization lives there.

mod account;
mod assets;
mod beheer;
mod common;
mod kassa;
mod login;
mod parent;
mod provider;
mod session;
mod start;

use axum::Router;
use axum::routing::{get, post};

use crate::http::state::AppState;
pub use start::{fallback, method_not_allowed};

/// The page routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(start::start))
        .route("/toegankelijkheid", get(start::accessibility))
        .route("/tegoed/{link}", get(parent::overview))
        .route("/tegoed/{link}/brief", get(parent::letter))
        .route("/static/{*path}", get(assets::file))
        .route("/inloggen", get(login::show).post(login::submit))
        .route("/uitloggen", post(login::logout))
        .route("/tweestaps", get(account::show).post(account::act))
        .route("/kassa", get(kassa::show).post(kassa::check))
        .route("/kassa/bedrag", post(kassa::amount))
        .route("/kassa/betaal", post(kassa::pay))
        .route("/kassa/bon/{id}", get(kassa::receipt))
        .route("/kassa/bon/{id}/bewijs", get(kassa::proof))
        .route("/aanbieder", get(provider::payments))
        .route(
            "/aanbieder/terugboeken/{id}",
            get(provider::reverse_form).post(provider::reverse),
        )
        .route(
            "/aanbieder/kassa-medewerkers",
            get(provider::cashiers).post(provider::add_cashier),
        )
        .route(
            "/aanbieder/kassa-medewerkers/{id}",
            post(provider::change_cashier),
        )
        .route("/beheer", get(beheer::overview))
        .route("/beheer/regelingen", post(beheer::create_fund))
        .route("/beheer/regelingen/{id}", get(beheer::fund))
        .route(
            "/beheer/regelingen/{id}/nieuw-jaar",
            get(beheer::next_year_form).post(beheer::next_year),
        )
        .route("/beheer/regelingen/{id}/brieven", get(beheer::fund_letters))
        .route(
            "/beheer/regelingen/{id}/{action}",
            post(beheer::fund_action),
        )
        .route(
            "/beheer/gezinnen",
            get(beheer::households_list).post(beheer::create_household),
        )
        .route("/beheer/gezinnen/zoeken", post(beheer::search_households))
        .route("/beheer/gezinnen/{id}", get(beheer::household))
        .route(
            "/beheer/gezinnen/{id}/wissen",
            get(beheer::erase_form).post(beheer::erase),
        )
        .route(
            "/beheer/gezinnen/{id}/wijzigen",
            get(beheer::edit_form).post(beheer::edit),
        )
        .route(
            "/beheer/gezinnen/{id}/brief/{fund}",
            get(beheer::household_letters),
        )
        .route(
            "/beheer/gezinnen/{id}/{action}",
            post(beheer::household_action),
        )
        .route("/beheer/tegoeden/{id}", get(beheer::voucher))
        .route(
            "/beheer/tegoeden/{id}/{action}",
            post(beheer::voucher_action),
        )
        .route(
            "/beheer/aanbieders",
            get(beheer::providers_list).post(beheer::create_provider),
        )
}
