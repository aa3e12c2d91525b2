//! Every route of the API, declared once with its OpenAPI description (utoipa-axum).

use axum::Router;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::api as endpoints;
use super::state::AppState;
use super::{auth, error, ledger, ops};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Kindpakket API",
        description = "Child budgets for sport and culture on an append-only, signed, verifiable ledger. \
            Amounts are integer euro-cents in fields ending in `_cents`. Errors always look like \
            `{\"error\": {\"code\": \"…\", \"message\": \"…\"}}` with a stable code and a Dutch message.",
        version = env!("CARGO_PKG_VERSION"),
    ),
    modifiers(&BearerAuth),
    paths(ops::openapi_document),
    components(schemas(error::ErrorBody, error::ErrorDetail)),
    tags(
        (name = "auth", description = "Log in and out"),
        (name = "funds", description = "Funds (regelingen), deposits, provider approval, expiry, direct payments"),
        (name = "households", description = "Households and children (personal data, off the ledger)"),
        (name = "providers", description = "Providers (aanbieders)"),
        (name = "vouchers", description = "Vouchers: issue, view, QR codes, top-up, block, reissue"),
        (name = "redemptions", description = "Scanning and redeeming at a club, reversal"),
        (name = "users", description = "Managing who can log in: disable, reset a password, end sessions"),
        (name = "ledger", description = "The public, verifiable ledger (no login)"),
        (name = "operations", description = "Health, metrics and this OpenAPI document"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The routes and the OpenAPI document describing them.
pub fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(auth::login))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::enrol_totp))
        .routes(routes!(auth::confirm_totp))
        .routes(routes!(endpoints::funds::create))
        .routes(routes!(endpoints::funds::get))
        .routes(routes!(endpoints::funds::deposit))
        .routes(routes!(endpoints::funds::correct_deposit))
        .routes(routes!(endpoints::funds::approve))
        .routes(routes!(endpoints::funds::expire))
        .routes(routes!(endpoints::funds::direct_payment))
        .routes(routes!(endpoints::households::create))
        .routes(routes!(endpoints::households::get))
        .routes(routes!(endpoints::households::erase))
        .routes(routes!(endpoints::households::renew_link))
        .routes(routes!(endpoints::providers::create))
        .routes(routes!(endpoints::providers::get))
        .routes(routes!(endpoints::vouchers::issue))
        .routes(routes!(endpoints::vouchers::get))
        .routes(routes!(endpoints::vouchers::qr_svg))
        .routes(routes!(endpoints::vouchers::qr_png))
        .routes(routes!(endpoints::vouchers::top_up))
        .routes(routes!(endpoints::vouchers::block))
        .routes(routes!(endpoints::vouchers::reissue))
        .routes(routes!(endpoints::vouchers::reissue_all))
        .routes(routes!(endpoints::vouchers::reissued))
        .routes(routes!(endpoints::vouchers::lookup))
        .routes(routes!(endpoints::redemptions::create))
        .routes(routes!(endpoints::redemptions::reverse))
        .routes(routes!(endpoints::users::list))
        .routes(routes!(endpoints::users::disable))
        .routes(routes!(endpoints::users::enable))
        .routes(routes!(endpoints::users::reset_password))
        .routes(routes!(endpoints::users::reset_two_factor))
        .routes(routes!(endpoints::users::unlock_two_factor))
        .routes(routes!(endpoints::users::revoke_sessions))
        .routes(routes!(endpoints::users::change_own_password))
        .routes(routes!(ledger::checkpoint))
        .routes(routes!(ledger::key))
        .routes(routes!(ledger::entries))
        .routes(routes!(ledger::inclusion))
        .routes(routes!(ledger::consistency))
        .routes(routes!(ledger::voucher_keys))
        .routes(routes!(ops::healthz))
        .routes(routes!(ops::readyz))
        .routes(routes!(ops::metrics_text))
        .split_for_parts()
}
