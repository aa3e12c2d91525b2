//! The one JSON error shape, `{"error": {"code": "<stable_snake_case>", "message": "<Dutch>"}}`,
//! and the one place where a use case's error becomes an HTTP status. Internal and unavailable
//! errors carry their cause to the logging middleware, which logs each once.

use axum::Json;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::service::Error;
use crate::service::error::{Invalid, RefusalClass, Unavailable};

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// Code and message.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable snake_case code for programs.
    #[schema(example = "insufficient_balance")]
    pub code: String,
    /// Explanation for people, in Dutch.
    #[schema(example = "Er staat niet genoeg tegoed op deze voucher.")]
    pub message: String,
    /// Technical detail for developers (English), when there is any: which field of a
    /// malformed request did not parse, and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The cause of a 500 or 503, handed to the logging middleware in the response's extensions.
#[derive(Debug, Clone)]
pub struct LoggedCause {
    /// True for a 500 (logged as an error), false for a 503 (a warning).
    pub internal: bool,
    /// The cause with its chain.
    pub cause: String,
}

/// A use case's error as an HTTP answer.
#[derive(Debug, Clone)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

/// The HTTP status of every error: by class, and for malformed requests by what the transport
/// refused.
pub fn status_of(e: &Error) -> StatusCode {
    match e {
        Error::Invalid(Invalid::UnsupportedMediaType) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        Error::Invalid(Invalid::BodyTooLarge) => StatusCode::PAYLOAD_TOO_LARGE,
        Error::Invalid(Invalid::MethodNotAllowed) => StatusCode::METHOD_NOT_ALLOWED,
        Error::Invalid(_) => StatusCode::BAD_REQUEST,
        Error::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
        Error::Forbidden | Error::TwoFactorEnrolmentRequired => StatusCode::FORBIDDEN,
        Error::NotFound(_) => StatusCode::NOT_FOUND,
        Error::Conflict(_) => StatusCode::CONFLICT,
        Error::Rule(_) => StatusCode::UNPROCESSABLE_ENTITY,
        Error::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
        Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        Error::Replayed(r) => match r.class {
            RefusalClass::Invalid => StatusCode::BAD_REQUEST,
            RefusalClass::Unauthenticated => StatusCode::UNAUTHORIZED,
            RefusalClass::Forbidden => StatusCode::FORBIDDEN,
            RefusalClass::NotFound => StatusCode::NOT_FOUND,
            RefusalClass::Conflict => StatusCode::CONFLICT,
            RefusalClass::Rule => StatusCode::UNPROCESSABLE_ENTITY,
        },
    }
}

impl ApiError {
    /// The response body of this error.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.0.code().to_owned(),
                message: self.0.message().into_owned(),
                detail: self.0.detail().map(str::to_owned),
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = status_of(&self.0);
        let mut r = (status, Json(self.body())).into_response();
        let retry_after = match &self.0 {
            Error::TooManyAttempts { retry_after } => Some(*retry_after),
            Error::Unavailable(_) => Some(5),
            _ => None,
        };
        if let Some(secs) = retry_after {
            r.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, HeaderValue::from(secs));
        }
        let cause = match &self.0 {
            Error::Internal(c) => Some(LoggedCause {
                internal: true,
                cause: c.chain(),
            }),
            Error::Unavailable(Unavailable::Busy { cause }) => Some(LoggedCause {
                internal: false,
                cause: cause.clone(),
            }),
            Error::Unavailable(Unavailable::LoginBusy) => Some(LoggedCause {
                internal: false,
                cause: "too many log-ins at once: no turn to check a password came free".into(),
            }),
            Error::Unavailable(Unavailable::Timeout) => Some(LoggedCause {
                internal: false,
                cause: "the request took longer than its deadline".into(),
            }),
            _ => None,
        };
        if let Some(c) = cause {
            r.extensions_mut().insert(c);
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::accounts::Rejection;
    use crate::core::category::{Category, CategoryNameError};
    use crate::core::money::Cents;
    use crate::core::token::TokenError;
    use crate::service::error::{
        Conflict, FieldIssue, Missing, ProofProblem, Refusal, Rule, TextProblem, Unauthenticated,
        Unavailable,
    };
    use uuid::Uuid;

    /// Every error a use case can give, with its code and status. Adding a variant without a
    /// line here fails to compile (the `match`es below have no wildcard).
    fn table() -> Vec<(Error, &'static str, u16)> {
        use Error as E;
        let date = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default();
        let issue = || FieldIssue::Missing("token".into());
        vec![
            (
                E::Invalid(Invalid::Body {
                    issue: issue(),
                    detail: "d".into(),
                }),
                "invalid_field",
                400,
            ),
            (
                E::Invalid(Invalid::Query {
                    issue: issue(),
                    detail: "d".into(),
                }),
                "invalid_query",
                400,
            ),
            (
                E::Invalid(Invalid::MalformedJson { detail: "d".into() }),
                "malformed_json",
                400,
            ),
            (E::Invalid(Invalid::NotAnObject), "invalid_body", 400),
            (
                E::Invalid(Invalid::UnsupportedMediaType),
                "unsupported_media_type",
                415,
            ),
            (E::Invalid(Invalid::BodyTooLarge), "body_too_large", 413),
            (
                E::Invalid(Invalid::MethodNotAllowed),
                "method_not_allowed",
                405,
            ),
            (
                E::Invalid(Invalid::Text {
                    field: "name",
                    problem: TextProblem::Empty,
                }),
                "invalid_field",
                400,
            ),
            (E::Invalid(Invalid::Amount), "invalid_amount", 400),
            (E::Invalid(Invalid::AmountPerChild), "invalid_amount", 400),
            (E::Invalid(Invalid::AmountTooLarge), "invalid_amount", 400),
            (E::Invalid(Invalid::PeriodReversed), "invalid_period", 400),
            (E::Invalid(Invalid::PeriodTooLong), "invalid_period", 400),
            (
                E::Invalid(Invalid::Categories(CategoryNameError::Empty)),
                "invalid_categories",
                400,
            ),
            (E::Invalid(Invalid::Category), "invalid_category", 400),
            (E::Invalid(Invalid::MaxAge), "invalid_field", 400),
            (E::Invalid(Invalid::Pooling), "invalid_field", 400),
            (E::Invalid(Invalid::Kvk), "invalid_kvk", 400),
            (E::Invalid(Invalid::Iban), "invalid_iban", 400),
            (E::Invalid(Invalid::Email), "invalid_email", 400),
            (E::Invalid(Invalid::Phone), "invalid_phone", 400),
            (E::Invalid(Invalid::Children), "invalid_children", 400),
            (E::Invalid(Invalid::BirthDate), "invalid_birth_date", 400),
            (E::Invalid(Invalid::ChildOrHousehold), "invalid_field", 400),
            (
                E::Invalid(Invalid::ChildIdRequired),
                "child_id_required",
                400,
            ),
            (
                E::Invalid(Invalid::HouseholdIdRequired),
                "household_id_required",
                400,
            ),
            (E::Invalid(Invalid::TokenTooLong), "invalid_field", 400),
            (
                E::Invalid(Invalid::IdempotencyKeyMissing),
                "idempotency_key_missing",
                400,
            ),
            (
                E::Invalid(Invalid::IdempotencyKey),
                "invalid_idempotency_key",
                400,
            ),
            (E::Invalid(Invalid::Range), "invalid_range", 400),
            (
                E::Invalid(Invalid::ProofRequest(ProofProblem::BeyondTree)),
                "invalid_proof_request",
                400,
            ),
            (
                E::Unauthenticated(Unauthenticated::NotLoggedIn),
                "not_logged_in",
                401,
            ),
            (
                E::Unauthenticated(Unauthenticated::InvalidLogin),
                "invalid_login",
                401,
            ),
            (E::Forbidden, "forbidden", 403),
            (
                E::TwoFactorEnrolmentRequired,
                "two_factor_enrolment_required",
                403,
            ),
            (
                E::Unauthenticated(Unauthenticated::TotpRequired),
                "totp_required",
                401,
            ),
            (
                E::Unauthenticated(Unauthenticated::RecoveryCodeRequired),
                "recovery_code_required",
                401,
            ),
            (
                E::Unauthenticated(Unauthenticated::TwoFactorLocked),
                "two_factor_locked",
                401,
            ),
            (E::NotFound(Missing::Fund), "unknown_fund", 404),
            (E::NotFound(Missing::Household), "unknown_household", 404),
            (E::NotFound(Missing::Child), "unknown_child", 404),
            (E::NotFound(Missing::Provider), "unknown_provider", 404),
            (E::NotFound(Missing::Voucher), "unknown_voucher", 404),
            (E::NotFound(Missing::Redemption), "unknown_redemption", 404),
            (E::NotFound(Missing::User), "unknown_user", 404),
            (E::NotFound(Missing::VoucherKey), "unknown_voucher_key", 404),
            (E::NotFound(Missing::Deposit), "unknown_deposit", 404),
            (E::Invalid(Invalid::Password), "invalid_password", 400),
            (E::Invalid(Invalid::KeyId), "invalid_key_id", 400),
            (E::Invalid(Invalid::Username), "invalid_username", 400),
            (E::Rule(Rule::OwnAccount), "own_account", 422),
            (E::Rule(Rule::KeyRevoked), "key_revoked", 422),
            (E::Rule(Rule::WrongTotp), "wrong_totp", 422),
            (E::Rule(Rule::KeyRetired), "key_retired", 422),
            (E::Conflict(Conflict::ReissueNeeded), "reissue_needed", 409),
            (E::Rule(Rule::WrongPassword), "wrong_password", 422),
            (E::NotFound(Missing::Path), "not_found", 404),
            (E::NotFound(Missing::Page), "not_found", 404),
            (
                E::Conflict(Conflict::AlreadyIssued { pooled: true }),
                "already_issued",
                409,
            ),
            (
                E::Conflict(Conflict::AlreadyReversed),
                "already_reversed",
                409,
            ),
            (
                E::Conflict(Conflict::AlreadyPaidOut),
                "already_paid_out",
                409,
            ),
            (
                E::Conflict(Conflict::AlreadyBlocked),
                "already_blocked",
                409,
            ),
            (
                E::Conflict(Conflict::AlreadyExpired),
                "already_expired",
                409,
            ),
            (
                E::Conflict(Conflict::ReferenceTaken),
                "reference_taken",
                409,
            ),
            (E::Conflict(Conflict::FundNameTaken), "fund_name_taken", 409),
            (E::Conflict(Conflict::Exists), "conflict", 409),
            (E::Conflict(Conflict::Changed), "fund_changed", 409),
            (
                E::Conflict(Conflict::TwoFactorOn),
                "two_factor_already_on",
                409,
            ),
            (
                E::Conflict(Conflict::VoucherChanged),
                "voucher_changed",
                409,
            ),
            (
                E::Conflict(Conflict::InFlight),
                "idempotency_in_flight",
                409,
            ),
            (E::Conflict(Conflict::InDoubt), "idempotency_in_doubt", 409),
            (
                E::Rule(Rule::InsufficientBalance),
                "insufficient_balance",
                422,
            ),
            (E::Rule(Rule::NothingLeft), "insufficient_balance", 422),
            (
                E::Rule(Rule::AmountAboveLimit { limit: Cents(100) }),
                "amount_above_limit",
                422,
            ),
            (
                E::Rule(Rule::InsufficientFundBalance),
                "insufficient_fund_balance",
                422,
            ),
            (E::Rule(Rule::VoucherBlocked), "voucher_blocked", 422),
            (E::Rule(Rule::VoucherExpired), "voucher_expired", 422),
            (
                E::Rule(Rule::VoucherNotYetValid { from: date }),
                "voucher_not_yet_valid",
                422,
            ),
            (E::Rule(Rule::TokenSuperseded), "token_superseded", 422),
            (
                E::Rule(Rule::Token(TokenError::Prefix)),
                "invalid_token_prefix",
                422,
            ),
            (
                E::Rule(Rule::Token(TokenError::Length)),
                "invalid_token_length",
                422,
            ),
            (
                E::Rule(Rule::Token(TokenError::Alphabet)),
                "invalid_token_alphabet",
                422,
            ),
            (
                E::Rule(Rule::Token(TokenError::Padding)),
                "invalid_token_padding",
                422,
            ),
            (
                E::Rule(Rule::Token(TokenError::Format)),
                "invalid_token_format",
                422,
            ),
            (
                E::Rule(Rule::Token(TokenError::Categories)),
                "invalid_token_format",
                422,
            ),
            (
                E::Rule(Rule::Token(TokenError::Signature)),
                "invalid_token",
                422,
            ),
            (E::Rule(Rule::UnknownKey), "unknown_key", 422),
            (E::Rule(Rule::UnknownVoucherToken), "unknown_voucher", 422),
            (
                E::Rule(Rule::ProviderNotApproved),
                "provider_not_approved",
                422,
            ),
            (E::Rule(Rule::ClubNotApproved), "provider_not_approved", 422),
            (
                E::Rule(Rule::CategoryNotAllowed(Category::Sport)),
                "category_not_allowed",
                422,
            ),
            (
                E::Rule(Rule::CategoryNotAllowedHere(Category::Sport)),
                "category_not_allowed",
                422,
            ),
            (
                E::Rule(Rule::CategoryNotInFund(Category::Sport)),
                "category_not_in_fund",
                422,
            ),
            (
                E::Rule(Rule::CategoryNotOffered(Category::Sport)),
                "category_not_offered",
                422,
            ),
            (
                E::Rule(Rule::ChildNotEligible { max_age: 17 }),
                "child_not_eligible",
                422,
            ),
            (
                E::Rule(Rule::NoChildEligible { max_age: 17 }),
                "child_not_eligible",
                422,
            ),
            (E::Rule(Rule::HouseholdErased), "personal_data_erased", 422),
            (E::Rule(Rule::ChildErased), "personal_data_erased", 422),
            (E::Rule(Rule::FundExpired), "fund_expired", 422),
            (E::Rule(Rule::NoVoucher), "no_voucher", 422),
            (E::Rule(Rule::TooManyReissues), "too_many_reissues", 422),
            (E::Rule(Rule::KeyStillActive), "key_still_active", 422),
            (E::Rule(Rule::TwoFactorOff), "two_factor_off", 422),
            (E::Rule(Rule::PasswordUnchanged), "password_unchanged", 422),
            (
                E::Rule(Rule::IdempotencyConflict),
                "idempotency_conflict",
                422,
            ),
            (
                E::Rule(Rule::Ledger(Rejection::Overflow)),
                "amount_overflow",
                422,
            ),
            (
                E::Rule(Rule::Ledger(Rejection::Closed(Uuid::nil()))),
                "account_closed",
                422,
            ),
            (
                E::Rule(Rule::Ledger(Rejection::UnknownAccount(Uuid::nil()))),
                "unknown_account",
                422,
            ),
            (
                E::Rule(Rule::Ledger(Rejection::UnknownTransfer(Uuid::nil()))),
                "unknown_redemption",
                422,
            ),
            (
                E::Rule(Rule::Ledger(Rejection::InvalidTransfer("x"))),
                "invalid_transfer",
                422,
            ),
            (
                E::Rule(Rule::Ledger(Rejection::InvalidAccount("x"))),
                "invalid_account",
                422,
            ),
            (
                E::Rule(Rule::Ledger(Rejection::CorrectionTooLarge(Uuid::nil()))),
                "correction_too_large",
                422,
            ),
            (
                E::Rule(Rule::Ledger(Rejection::UnknownDeposit(Uuid::nil()))),
                "unknown_deposit",
                422,
            ),
            (
                E::Rule(Rule::Ledger(Rejection::InsufficientBalance {
                    account: Uuid::nil(),
                    balance: Cents(0),
                })),
                "insufficient_balance",
                422,
            ),
            (
                E::TooManyAttempts { retry_after: 60 },
                "too_many_attempts",
                429,
            ),
            (
                E::Unavailable(Unavailable::Busy { cause: "x".into() }),
                "unavailable",
                503,
            ),
            (E::Unavailable(Unavailable::Timeout), "timeout", 503),
            (E::Unavailable(Unavailable::LoginBusy), "login_busy", 503),
            (
                E::Replayed(Refusal {
                    class: RefusalClass::Rule,
                    code: "insufficient_balance".into(),
                    message: "Er staat niet genoeg tegoed op deze voucher.".into(),
                    detail: None,
                }),
                "insufficient_balance",
                422,
            ),
            (E::bug("x"), "internal_error", 500),
        ]
    }

    /// Fails to compile when a variant is added without thought for its code and status.
    #[allow(dead_code)]
    fn every_variant_is_in_the_table(e: &Error) {
        match e {
            Error::Invalid(i) => match i {
                Invalid::Body { .. } | Invalid::Query { .. } | Invalid::MalformedJson { .. } => {}
                Invalid::NotAnObject => {}
                Invalid::UnsupportedMediaType
                | Invalid::BodyTooLarge
                | Invalid::MethodNotAllowed => {}
                Invalid::Text { .. } | Invalid::Amount | Invalid::AmountPerChild => {}
                Invalid::AmountTooLarge | Invalid::PeriodReversed | Invalid::PeriodTooLong => {}
                Invalid::Categories(_) | Invalid::Category | Invalid::MaxAge | Invalid::Pooling => {
                }
                Invalid::Kvk | Invalid::Iban | Invalid::Email | Invalid::Phone => {}
                Invalid::Children | Invalid::BirthDate | Invalid::ChildOrHousehold => {}
                Invalid::ChildIdRequired | Invalid::HouseholdIdRequired | Invalid::TokenTooLong => {
                }
                Invalid::IdempotencyKeyMissing | Invalid::IdempotencyKey | Invalid::Range => {}
                Invalid::Password | Invalid::Username | Invalid::KeyId => {}
                Invalid::ProofRequest(_) => {}
            },
            Error::Unauthenticated(
                Unauthenticated::NotLoggedIn
                | Unauthenticated::InvalidLogin
                | Unauthenticated::TotpRequired
                | Unauthenticated::RecoveryCodeRequired
                | Unauthenticated::TwoFactorLocked,
            ) => {}
            Error::Forbidden
            | Error::TwoFactorEnrolmentRequired
            | Error::TooManyAttempts { .. }
            | Error::Replayed(_)
            | Error::Internal(_) => {}
            Error::NotFound(m) => match m {
                Missing::Fund | Missing::Household | Missing::Child | Missing::Provider => {}
                Missing::Voucher | Missing::Redemption | Missing::Path | Missing::Page => {}
                Missing::User | Missing::VoucherKey | Missing::Deposit => {}
            },
            Error::Conflict(c) => match c {
                Conflict::AlreadyIssued { .. }
                | Conflict::AlreadyReversed
                | Conflict::AlreadyPaidOut => {}
                Conflict::AlreadyBlocked
                | Conflict::AlreadyExpired
                | Conflict::ReferenceTaken
                | Conflict::FundNameTaken => {}
                Conflict::Exists | Conflict::Changed | Conflict::InFlight | Conflict::InDoubt => {}
                Conflict::VoucherChanged | Conflict::TwoFactorOn => {}
                Conflict::ReissueNeeded => {}
            },
            Error::Rule(r) => match r {
                Rule::InsufficientBalance | Rule::NothingLeft | Rule::InsufficientFundBalance => {}
                Rule::AmountAboveLimit { .. } | Rule::OwnAccount | Rule::WrongPassword => {}
                Rule::KeyRevoked | Rule::KeyRetired | Rule::WrongTotp => {}
                Rule::VoucherBlocked | Rule::VoucherExpired | Rule::VoucherNotYetValid { .. } => {}
                Rule::TokenSuperseded
                | Rule::Token(_)
                | Rule::UnknownKey
                | Rule::UnknownVoucherToken => {}
                Rule::ProviderNotApproved | Rule::ClubNotApproved => {}
                Rule::CategoryNotAllowed(_) | Rule::CategoryNotAllowedHere(_) => {}
                Rule::CategoryNotInFund(_) | Rule::CategoryNotOffered(_) => {}
                Rule::ChildNotEligible { .. } | Rule::NoChildEligible { .. } => {}
                Rule::HouseholdErased | Rule::ChildErased | Rule::FundExpired | Rule::NoVoucher => {
                }
                Rule::TooManyReissues
                | Rule::KeyStillActive
                | Rule::TwoFactorOff
                | Rule::PasswordUnchanged
                | Rule::IdempotencyConflict
                | Rule::Ledger(_) => {}
            },
            Error::Unavailable(
                Unavailable::Busy { .. } | Unavailable::Timeout | Unavailable::LoginBusy,
            ) => {}
        }
    }

    #[test]
    fn every_code_has_its_status_and_a_dutch_sentence() {
        for (e, code, status) in table() {
            assert_eq!(e.code(), code, "{e:?}");
            assert_eq!(status_of(&e).as_u16(), status, "{e:?}");
            let body = ApiError(e.clone()).body();
            assert_eq!(body.error.code, code);
            assert!(
                body.error.message.len() > 10 && body.error.message.ends_with(['.', '!', '?']),
                "{e:?}: {}",
                body.error.message
            );
        }
    }

    #[test]
    fn internal_errors_keep_their_cause_for_the_log_only() {
        let e = Error::internal(anyhow::anyhow!("disk full").context("storing the checkpoint"));
        let r = ApiError(e).into_response();
        let cause = r.extensions().get::<LoggedCause>().cloned().unwrap();
        assert!(cause.internal);
        assert_eq!(cause.cause, "storing the checkpoint: disk full");
    }
}
