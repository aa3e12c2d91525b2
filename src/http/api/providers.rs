//! `/api/v1/providers…`: providers (aanbieders).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{ApiPath, Body, Caller};
use crate::http::state::AppState;
use crate::service::providers::ProviderRow;
use crate::service::providers::{self, NewProvider};

/// A new provider.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderRequest {
    /// Name.
    pub name: String,
    /// Chamber of Commerce number (8 digits).
    pub kvk: String,
    /// IBAN (checked with its check digits).
    pub iban: String,
    /// Categories it offers.
    pub categories: Vec<String>,
}

/// A provider.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderResponse {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// KvK number.
    pub kvk: String,
    /// IBAN, normalised.
    pub iban: String,
    /// Categories it offers.
    pub categories: Vec<String>,
}

fn response(p: ProviderRow) -> ProviderResponse {
    ProviderResponse {
        id: p.id,
        categories: p.categories.names(),
        name: p.name,
        kvk: p.kvk.as_str().to_owned(),
        iban: p.iban.as_str().to_owned(),
    }
}

/// Registers a provider.
#[utoipa::path(post, path = "/api/v1/providers", operation_id = "create_provider", tag = "providers", security(("bearer" = [])),
    request_body = ProviderRequest,
    responses(
        (status = 201, description = "Provider created", body = ProviderResponse),
        (status = 400, description = "`invalid_field`, `invalid_kvk`, `invalid_iban`, `invalid_categories`", body = ErrorBody),
        (status = 401, description = "Not logged in (`not_logged_in`)", body = ErrorBody), (status = 403, description = "Logged in, but this role may not (`forbidden`)", body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Body(input): Body<ProviderRequest>,
) -> Result<(StatusCode, Json<ProviderResponse>), ApiError> {
    let input = input.map(|req| NewProvider {
        name: req.name,
        kvk: req.kvk,
        iban: req.iban,
        categories: req.categories,
    });
    let p = providers::create(&state.services, &actor, input).await?;
    Ok((StatusCode::CREATED, Json(response(p))))
}

/// A provider (Leergeld staff, auditors, and the provider's own users).
#[utoipa::path(get, path = "/api/v1/providers/{id}", operation_id = "get_provider", tag = "providers", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Provider id")),
    responses(
        (status = 200, description = "The provider", body = ProviderResponse),
        (status = 401, description = "Not logged in (`not_logged_in`)", body = ErrorBody), (status = 403, description = "Logged in, but this role may not (`forbidden`)", body = ErrorBody),
        (status = 404, description = "`unknown_provider`", body = ErrorBody),
    ))]
pub async fn get(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<ProviderResponse>, ApiError> {
    Ok(Json(response(
        providers::get(&state.services, &actor, id).await?,
    )))
}
