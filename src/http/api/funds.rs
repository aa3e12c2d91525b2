//! `/api/v1/funds…`: funds, deposits, provider approval, expiry, direct payments.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{
    ApiPath, Body, Caller, IdempotencyKey, integer, optional_integer, unsigned,
};
use crate::http::state::AppState;
use crate::service::funds::FundRow;
use crate::service::funds::{self, Deposit, Deposited, NewFund};
use crate::service::redemptions::{self, DirectPayment, Redeemed};

/// A new fund.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FundRequest {
    /// Name, e.g. "Kindpakket Westerkwartier 2026".
    pub name: String,
    /// Who pays, e.g. "Gemeente Westerkwartier".
    pub sponsor: String,
    /// First day budgets may be spent.
    pub valid_from: NaiveDate,
    /// Last day budgets may be spent.
    pub valid_until: NaiveDate,
    /// Categories: sport, cultuur, school, overig.
    pub categories: Vec<String>,
    /// Budget per child, in cents.
    #[serde(deserialize_with = "integer")]
    pub amount_per_child_cents: i64,
    /// Oldest eligible age on `valid_from` (default 17).
    #[serde(default, deserialize_with = "optional_integer")]
    pub max_age_years: Option<i64>,
    /// `child` (default): a voucher per child; `household`: one voucher per household worth
    /// the per-child amount times the eligible children.
    pub pooling: Option<String>,
}

/// A fund.
#[derive(Debug, Serialize, ToSchema)]
pub struct FundResponse {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Sponsor.
    pub sponsor: String,
    /// First day.
    pub valid_from: NaiveDate,
    /// Last day.
    pub valid_until: NaiveDate,
    /// Categories.
    pub categories: Vec<String>,
    /// Budget per child, in cents.
    pub amount_per_child_cents: i64,
    /// Oldest eligible age.
    pub max_age_years: i64,
    /// `child` or `household`.
    pub pooling: String,
    /// Money in the fund not yet given to vouchers.
    pub balance_cents: i64,
    /// True once the fund has been expired.
    pub expired: bool,
    /// Ledger index of the entry that opened the fund's account (on creation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry_index: Option<u64>,
}

fn fund_response(f: FundRow, balance: i64, entry_index: Option<u64>) -> FundResponse {
    FundResponse {
        id: f.id,
        categories: f.categories.names(),
        name: f.name,
        sponsor: f.sponsor,
        valid_from: f.valid_from,
        valid_until: f.valid_until,
        amount_per_child_cents: f.amount_per_child.0,
        max_age_years: f.max_age_years,
        pooling: f.pooling.as_str().to_owned(),
        balance_cents: balance,
        expired: f.expired_at.is_some(),
        entry_index,
    }
}

/// Creates a fund (regeling) and opens its ledger account.
#[utoipa::path(post, path = "/api/v1/funds", operation_id = "create_fund", tag = "funds", security(("bearer" = [])),
    request_body = FundRequest,
    responses(
        (status = 201, description = "Fund created", body = FundResponse),
        (status = 400, description = "`invalid_field`, `invalid_period`, `invalid_categories`, `invalid_amount`", body = ErrorBody),
        (status = 401, description = "Not logged in (`not_logged_in`)", body = ErrorBody), (status = 403, description = "Logged in, but this role may not (`forbidden`)", body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Body(input): Body<FundRequest>,
) -> Result<(StatusCode, Json<FundResponse>), ApiError> {
    let input = input.map(|req| NewFund {
        name: req.name,
        sponsor: req.sponsor,
        valid_from: req.valid_from,
        valid_until: req.valid_until,
        categories: req.categories,
        amount_per_child_cents: req.amount_per_child_cents,
        max_age_years: req.max_age_years,
        pooling: req.pooling,
    });
    let (fund, index) = funds::create(&state.services, &actor, input).await?;
    Ok((
        StatusCode::CREATED,
        Json(fund_response(fund, 0, Some(index))),
    ))
}

/// A fund with its balance.
#[utoipa::path(get, path = "/api/v1/funds/{id}", operation_id = "get_fund", tag = "funds", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Fund id")),
    responses(
        (status = 200, description = "The fund", body = FundResponse),
        (status = 401, description = "Not logged in (`not_logged_in`)", body = ErrorBody), (status = 403, description = "Logged in, but this role may not (`forbidden`)", body = ErrorBody),
        (status = 404, description = "`unknown_fund`", body = ErrorBody),
    ))]
pub async fn get(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<FundResponse>, ApiError> {
    let v = funds::view(&state.services, &actor, id).await?;
    Ok(Json(fund_response(v.fund, v.balance.0, None)))
}

/// A deposit from the sponsor.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DepositRequest {
    /// Amount in cents.
    #[serde(deserialize_with = "integer")]
    pub amount_cents: i64,
    /// Reference, e.g. the grant decision (kept off the ledger).
    pub reference: String,
}

/// Books money from the sponsor into the fund.
#[utoipa::path(post, path = "/api/v1/funds/{id}/deposits", operation_id = "deposit_into_fund", tag = "funds", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Fund id"), ("Idempotency-Key" = Option<String>, Header, description = "Optional. Repeat it on a retry: the booking happens once and the repeat gets the same answer")),
    request_body = DepositRequest,
    responses(
        (status = 201, description = "Deposited", body = Deposited),
        (status = 400, description = "`invalid_amount`, `invalid_field`", body = ErrorBody),
        (status = 401, description = "Not logged in (`not_logged_in`)", body = ErrorBody), (status = 403, description = "Logged in, but this role may not (`forbidden`)", body = ErrorBody),
        (status = 404, description = "`unknown_fund`", body = ErrorBody),
        (status = 422, description = "`fund_expired`, `amount_overflow`, `idempotency_conflict`", body = ErrorBody),
    ))]
pub async fn deposit(
    State(state): State<AppState>,
    Caller(actor): Caller,
    key: IdempotencyKey,
    ApiPath(id): ApiPath<Uuid>,
    Body(input): Body<DepositRequest>,
) -> Result<(StatusCode, Json<Deposited>), ApiError> {
    let input = input.map(|req| Deposit {
        amount_cents: req.amount_cents,
        reference: req.reference,
    });
    let d = funds::deposit(&state.services, &actor, id, key.as_deref(), input).await?;
    Ok((StatusCode::CREATED, Json(d)))
}

/// A correction of a deposit booked in error.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DepositCorrectionRequest {
    /// Ledger index of the deposit that was wrong.
    #[serde(deserialize_with = "unsigned")]
    pub deposit_entry_index: u64,
    /// How much goes back to the sponsor, in cents.
    #[serde(deserialize_with = "integer")]
    pub amount_cents: i64,
    /// Why (kept off the ledger).
    pub reason: String,
}

/// Returns (part of) a deposit to the sponsor: never more than that deposit brought into this
/// fund, nor more than the fund still holds.
#[utoipa::path(post, path = "/api/v1/funds/{id}/deposit-corrections", operation_id = "correct_deposit", tag = "funds", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Fund id"), ("Idempotency-Key" = Option<String>, Header, description = "Optional. Repeat it on a retry: the correction happens once and the repeat gets the same answer")),
    request_body = DepositCorrectionRequest,
    responses(
        (status = 201, description = "Corrected", body = Deposited),
        (status = 400, description = "`invalid_amount`, `invalid_field`", body = ErrorBody),
        (status = 401, description = "Not logged in (`not_logged_in`)", body = ErrorBody), (status = 403, description = "Logged in, but this role may not (`forbidden`)", body = ErrorBody),
        (status = 404, description = "`unknown_fund`, `unknown_deposit`", body = ErrorBody),
        (status = 409, description = "`idempotency_in_flight`, `idempotency_in_doubt`: the same key is being booked; retry", body = ErrorBody),
        (status = 422, description = "`fund_expired`, `insufficient_fund_balance`, `correction_too_large`, `idempotency_conflict`", body = ErrorBody),
    ))]
pub async fn correct_deposit(
    State(state): State<AppState>,
    Caller(actor): Caller,
    key: IdempotencyKey,
    ApiPath(id): ApiPath<Uuid>,
    Body(input): Body<DepositCorrectionRequest>,
) -> Result<(StatusCode, Json<Deposited>), ApiError> {
    let input = input.map(|req| funds::DepositCorrection {
        deposit_entry_index: req.deposit_entry_index,
        amount_cents: req.amount_cents,
        reason: req.reason,
    });
    let d = funds::correct_deposit(&state.services, &actor, id, key.as_deref(), input).await?;
    Ok((StatusCode::CREATED, Json(d)))
}

/// Categories to approve.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalRequest {
    /// Categories the provider may charge in this fund.
    pub categories: Vec<String>,
}

/// A provider's approval for a fund.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApprovalResponse {
    /// Fund.
    pub fund_id: Uuid,
    /// Provider.
    pub provider_id: Uuid,
    /// Approved categories.
    pub categories: Vec<String>,
    /// The provider's ledger account for this fund.
    pub account_id: Uuid,
}

/// Approves a provider for a fund and categories (again: replaces the categories).
#[utoipa::path(post, path = "/api/v1/funds/{id}/providers/{provider_id}", operation_id = "approve_provider_for_fund", tag = "funds", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Fund id"), ("provider_id" = Uuid, Path, description = "Provider id")),
    request_body = ApprovalRequest,
    responses(
        (status = 200, description = "Provider approved for the fund", body = ApprovalResponse),
        (status = 400, description = "`invalid_categories`", body = ErrorBody),
        (status = 401, description = "Not logged in (`not_logged_in`)", body = ErrorBody), (status = 403, description = "Logged in, but this role may not (`forbidden`)", body = ErrorBody),
        (status = 404, description = "`unknown_fund`, `unknown_provider`", body = ErrorBody),
        (status = 422, description = "`category_not_in_fund`, `category_not_offered`", body = ErrorBody),
    ))]
pub async fn approve(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiPath((id, provider_id)): ApiPath<(Uuid, Uuid)>,
    Body(input): Body<ApprovalRequest>,
) -> Result<Json<ApprovalResponse>, ApiError> {
    let categories = input.map(|req| req.categories);
    let a = funds::approve_provider(&state.services, &actor, id, provider_id, categories).await?;
    Ok(Json(ApprovalResponse {
        fund_id: a.fund_id,
        provider_id: a.provider_id,
        categories: a.categories.names(),
        account_id: a.account_id,
    }))
}

/// Result of expiring a fund.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExpireResponse {
    /// Vouchers closed.
    pub expired_vouchers: usize,
    /// Cents returned from vouchers to the fund.
    pub returned_cents: i64,
}

/// Ends a fund: all remaining voucher balances return to the fund and the vouchers close.
#[utoipa::path(post, path = "/api/v1/funds/{id}/expire", operation_id = "expire_fund", tag = "funds", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Fund id")),
    responses(
        (status = 200, description = "Fund expired", body = ExpireResponse),
        (status = 401, description = "Not logged in (`not_logged_in`)", body = ErrorBody), (status = 403, description = "Logged in, but this role may not (`forbidden`)", body = ErrorBody),
        (status = 404, description = "`unknown_fund`", body = ErrorBody),
        (status = 409, description = "`already_expired`", body = ErrorBody),
    ))]
pub async fn expire(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<ExpireResponse>, ApiError> {
    let e = funds::expire(&state.services, &actor, id).await?;
    Ok(Json(ExpireResponse {
        expired_vouchers: e.vouchers,
        returned_cents: e.returned.0,
    }))
}

/// A direct payment by Leergeld.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DirectPaymentRequest {
    /// The child whose voucher in this fund pays.
    pub child_id: Uuid,
    /// The provider that is paid.
    pub provider_id: Uuid,
    /// Amount in cents.
    #[serde(deserialize_with = "integer")]
    pub amount_cents: i64,
    /// Category.
    pub category: String,
    /// What it is for.
    #[serde(default)]
    pub description: Option<String>,
}

/// Books a payment to a provider from a child's voucher, without a token.
#[utoipa::path(post, path = "/api/v1/funds/{id}/direct-payments", operation_id = "create_direct_payment", tag = "funds", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Fund id"), ("Idempotency-Key" = Option<String>, Header, description = "Optional. Repeat it on a retry: the booking happens once and the repeat gets the same answer")),
    request_body = DirectPaymentRequest,
    responses(
        (status = 201, description = "Paid directly; `receipt` is a C2SP tlog-proof", body = Redeemed),
        (status = 400, description = "`invalid_amount`, `invalid_category`", body = ErrorBody),
        (status = 401, description = "Not logged in (`not_logged_in`)", body = ErrorBody), (status = 403, description = "Logged in, but this role may not (`forbidden`)", body = ErrorBody),
        (status = 404, description = "`unknown_fund`, `unknown_child`, `unknown_provider`", body = ErrorBody),
        (status = 422, description = "`no_voucher`, `provider_not_approved`, `category_not_allowed`, `insufficient_balance`, `voucher_blocked`, `voucher_expired`, `idempotency_conflict`", body = ErrorBody),
    ))]
pub async fn direct_payment(
    State(state): State<AppState>,
    Caller(actor): Caller,
    key: IdempotencyKey,
    ApiPath(id): ApiPath<Uuid>,
    Body(input): Body<DirectPaymentRequest>,
) -> Result<(StatusCode, Json<Redeemed>), ApiError> {
    let input = input.map(|req| DirectPayment {
        child_id: req.child_id,
        provider_id: req.provider_id,
        amount_cents: req.amount_cents,
        category: req.category,
        description: req.description,
    });
    let r = redemptions::direct_payment(&state.services, &actor, id, key.as_deref(), input).await?;
    Ok((StatusCode::CREATED, Json(r)))
}
