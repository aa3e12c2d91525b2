//! `/api/v1/households…`: registering households, erasure, personal links.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{ApiPath, Body, Caller};
use crate::http::state::AppState;
use crate::service::households::ChildRow;
use crate::service::households::{self, HouseholdView, NewChild, NewHousehold};

/// A child to register.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChildRequest {
    /// First name.
    pub first_name: String,
    /// Birth date.
    pub birth_date: NaiveDate,
}

/// A household to register.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HouseholdRequest {
    /// Leergeld's case reference (unique).
    pub reference: String,
    /// Parent's name.
    pub parent_name: String,
    /// E-mail.
    #[serde(default)]
    pub email: Option<String>,
    /// Phone.
    #[serde(default)]
    pub phone: Option<String>,
    /// Children (1 to 20).
    pub children: Vec<ChildRequest>,
}

/// A registered child.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChildResponse {
    /// Id.
    pub id: Uuid,
    /// First name (absent after erasure).
    pub first_name: Option<String>,
    /// Birth date (absent after erasure).
    pub birth_date: Option<NaiveDate>,
}

impl From<ChildRow> for ChildResponse {
    fn from(c: ChildRow) -> Self {
        Self {
            id: c.id,
            first_name: c.first_name,
            birth_date: c.birth_date,
        }
    }
}

/// A registered household.
#[derive(Debug, Serialize, ToSchema)]
pub struct HouseholdResponse {
    /// Id.
    pub id: Uuid,
    /// Reference.
    pub reference: Option<String>,
    /// Parent's name.
    pub parent_name: Option<String>,
    /// E-mail.
    pub email: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Children.
    pub children: Vec<ChildResponse>,
    /// The parent's personal link (absent after erasure).
    pub parent_link: Option<String>,
    /// Vouchers of this household.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vouchers: Option<Vec<Uuid>>,
}

impl From<HouseholdView> for HouseholdResponse {
    fn from(v: HouseholdView) -> Self {
        let h = v.household;
        Self {
            id: h.id,
            reference: h.reference,
            parent_name: h.parent_name,
            email: h.email,
            phone: h.phone,
            children: v.children.into_iter().map(ChildResponse::from).collect(),
            parent_link: v.parent_link,
            vouchers: v.vouchers.map(|vs| vs.into_iter().map(|v| v.id).collect()),
        }
    }
}

/// Registers a household and its children (personal data stays off the ledger).
#[utoipa::path(post, path = "/api/v1/households", operation_id = "create_household", tag = "households", security(("bearer" = [])),
    request_body = HouseholdRequest,
    responses(
        (status = 201, description = "Household created", body = HouseholdResponse),
        (status = 400, description = "`invalid_field`, `invalid_email`, `invalid_phone`, `invalid_children`, `invalid_birth_date`", body = ErrorBody),
        (status = 401, description = "Not logged in (`not_logged_in`)", body = ErrorBody), (status = 403, description = "Logged in, but this role may not (`forbidden`)", body = ErrorBody),
        (status = 409, description = "`reference_taken`", body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Body(input): Body<HouseholdRequest>,
) -> Result<(StatusCode, Json<HouseholdResponse>), ApiError> {
    let input = input.map(|req| NewHousehold {
        reference: req.reference,
        parent_name: req.parent_name,
        email: req.email,
        phone: req.phone,
        children: req
            .children
            .into_iter()
            .map(|c| NewChild {
                first_name: c.first_name,
                birth_date: c.birth_date,
            })
            .collect(),
    });
    let created = households::create(&state.services, &actor, input).await?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

/// A household with its children and vouchers.
#[utoipa::path(get, path = "/api/v1/households/{id}", operation_id = "get_household", tag = "households", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Household id")),
    responses(
        (status = 200, description = "The household", body = HouseholdResponse),
        (status = 401, description = "Not logged in (`not_logged_in`)", body = ErrorBody), (status = 403, description = "Logged in, but this role may not (`forbidden`)", body = ErrorBody),
        (status = 404, description = "`unknown_household`", body = ErrorBody),
    ))]
pub async fn get(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<HouseholdResponse>, ApiError> {
    Ok(Json(
        households::view(&state.services, &actor, id).await?.into(),
    ))
}

/// Erases names, contact data and birth dates (right to erasure); the ledger stays verifiable.
#[utoipa::path(delete, path = "/api/v1/households/{id}/personal-data", operation_id = "erase_household_personal_data", tag = "households", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Household id")),
    responses(
        (status = 204, description = "Erased"),
        (status = 401, description = "Not logged in (`not_logged_in`)", body = ErrorBody), (status = 403, description = "Logged in, but this role may not (`forbidden`)", body = ErrorBody),
        (status = 404, description = "`unknown_household`", body = ErrorBody),
    ))]
pub async fn erase(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    households::erase_personal_data(&state.services, &actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new personal link.
#[derive(Debug, Serialize, ToSchema)]
pub struct LinkResponse {
    /// The new link; the old one no longer works.
    pub parent_link: String,
}

/// Replaces the household's personal link (for example when a letter was lost).
#[utoipa::path(post, path = "/api/v1/households/{id}/parent-link", operation_id = "renew_household_parent_link", tag = "households", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Household id")),
    responses(
        (status = 201, description = "New parent link; the old one stops working", body = LinkResponse),
        (status = 401, description = "Not logged in (`not_logged_in`)", body = ErrorBody), (status = 403, description = "Logged in, but this role may not (`forbidden`)", body = ErrorBody),
        (status = 404, description = "`unknown_household`", body = ErrorBody),
        (status = 422, description = "`personal_data_erased`", body = ErrorBody),
    ))]
pub async fn renew_link(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<(StatusCode, Json<LinkResponse>), ApiError> {
    let parent_link = households::renew_link(&state.services, &actor, id).await?;
    Ok((StatusCode::CREATED, Json(LinkResponse { parent_link })))
}
