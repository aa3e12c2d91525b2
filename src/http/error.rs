//! The one JSON error shape: `{"error": {"code": "<stable_snake_case>", "message": "<Dutch>"}}`,
//! and extractors whose rejections use it.

use axum::Json;
use axum::extract::FromRequest;
use axum::extract::FromRequestParts;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::ledger::LedgerError;
use crate::store::StoreError;

/// An API error: status, stable code, and a plain Dutch message.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// Message for people, in Dutch (B1).
    pub message: String,
    /// Seconds for the `Retry-After` header of a 429 or 503 (default 5).
    pub retry_after: Option<u64>,
}

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
}

impl ApiError {
    /// Any error.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 400: the request itself is malformed.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 401: not logged in.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "not_logged_in",
            "U bent niet ingelogd. Log eerst in.",
        )
    }

    /// 403: logged in, but not allowed.
    pub fn forbidden() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "U mag dit niet doen met uw account.",
        )
    }

    /// 404: unknown thing.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    /// 409: conflicts with the current state.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// 422: well-formed, but against a rule.
    pub fn rule(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    /// 503: try again later.
    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Het systeem is even niet bereikbaar. Probeer het over een minuut opnieuw.",
        )
    }

    /// 500: our fault; details go to the log, never to the client.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Er ging iets mis aan onze kant. Probeer het later opnieuw.",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
            },
        };
        let mut r = (self.status, Json(body)).into_response();
        if self.status == StatusCode::TOO_MANY_REQUESTS
            || self.status == StatusCode::SERVICE_UNAVAILABLE
        {
            r.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(self.retry_after.unwrap_or(5)),
            );
        }
        r
    }
}

impl From<crate::service::Error> for ApiError {
    fn from(e: crate::service::Error) -> Self {
        use crate::service::Kind;
        let status = match e.kind {
            Kind::BadRequest => StatusCode::BAD_REQUEST,
            Kind::Forbidden => StatusCode::FORBIDDEN,
            Kind::NotFound => StatusCode::NOT_FOUND,
            Kind::Conflict => StatusCode::CONFLICT,
            Kind::Rule => StatusCode::UNPROCESSABLE_ENTITY,
            Kind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Kind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, e.code, e.message)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Locked(_) => ApiError::unavailable(),
            other => ApiError::internal(other),
        }
    }
}

impl From<LedgerError> for ApiError {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::Rejected(r) => ApiError::rule(r.code(), rejection_message(r.code())),
            LedgerError::Conflict => {
                ApiError::conflict("conflict", "Dit botst met gegevens die er al zijn.")
            }
            LedgerError::Guard(code) => ApiError::conflict(
                code,
                "Dit kan niet meer: de gegevens zijn intussen veranderd.",
            ),
            LedgerError::Unavailable(detail) => {
                tracing::warn!(%detail, "ledger unavailable");
                ApiError::unavailable()
            }
            other => ApiError::internal(other),
        }
    }
}

/// Dutch explanations for ledger rule codes.
pub fn rejection_message(code: &str) -> &'static str {
    match code {
        "insufficient_balance" => "Er staat niet genoeg tegoed op deze rekening.",
        "voucher_blocked" => "Deze voucher is geblokkeerd.",
        "voucher_expired" => "Deze voucher is verlopen.",
        "token_superseded" => "Deze QR-code is vervangen door een nieuwe. Gebruik de nieuwe code.",
        "category_not_allowed" => "Deze voucher mag niet aan deze soort activiteit worden besteed.",
        "already_issued" => "Voor dit kind is in deze regeling al een voucher uitgegeven.",
        "already_reversed" => "Deze betaling is al teruggedraaid.",
        "account_closed" => "Deze rekening is gesloten.",
        "unknown_account" => "Deze rekening bestaat niet.",
        "amount_overflow" => "Dit bedrag is te groot.",
        "invalid_token" => "Deze QR-code is niet geldig.",
        _ => "Dit mag niet volgens de regels van het grootboek.",
    }
}

/// JSON body extractor whose rejections are [`ApiError`]s.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::MissingJsonContentType(_) => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Stuur de gegevens als JSON (Content-Type: application/json).",
            ),
            JsonRejection::JsonDataError(e) => ApiError::bad_request(
                "invalid_field",
                format!(
                    "Een veld ontbreekt of heeft een verkeerde waarde: {}",
                    e.body_text()
                ),
            ),
            JsonRejection::BytesRejection(_) => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                "Het verzoek is te groot.",
            ),
            _ => ApiError::bad_request("malformed_json", "Het verzoek is geen geldige JSON."),
        }
    }
}

/// Path extractor whose rejections are [`ApiError`]s.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

impl From<PathRejection> for ApiError {
    fn from(_: PathRejection) -> Self {
        ApiError::not_found(
            "not_found",
            "Dit adres bestaat niet. Controleer het nummer.",
        )
    }
}

/// Query extractor whose rejections are [`ApiError`]s.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::bad_request(
            "invalid_query",
            format!("De zoekparameters kloppen niet: {}", r.body_text()),
        )
    }
}
