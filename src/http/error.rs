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
    /// Technical detail for developers (English), shown as `detail`.
    pub detail: Option<String>,
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
    /// Technical detail for developers (English), when there is any: which field of a
    /// malformed request did not parse, and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl ApiError {
    /// Any error.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
            detail: None,
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

impl ApiError {
    /// The response body of this error.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message.clone(),
                detail: self.detail.clone(),
            },
        }
    }

    /// The response body as JSON text (to store with an idempotency key).
    pub fn body_json(&self) -> Result<String, ApiError> {
        serde_json::to_string(&self.body()).map_err(ApiError::internal)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.status, Json(self.body())).into_response();
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
            JsonRejection::JsonDataError(e) => {
                let detail = e.body_text();
                let mut err =
                    ApiError::bad_request("invalid_field", field_message(&detail, "veld"));
                err.detail = Some(detail);
                err
            }
            JsonRejection::BytesRejection(_) => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                "Het verzoek is te groot.",
            ),
            other => {
                let mut err =
                    ApiError::bad_request("malformed_json", "Het verzoek is geen geldige JSON.");
                err.detail = Some(other.body_text());
                err
            }
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
        let detail = r.body_text();
        let mut err =
            ApiError::bad_request("invalid_query", field_message(&detail, "zoekparameter"));
        err.detail = Some(detail);
        err
    }
}

/// A Dutch sentence for a serde error text such as "Failed to deserialize the JSON body into
/// the target type: children[0].birth_date: input contains invalid characters at line 1
/// column 80": which field, and whether it is missing, unknown or wrong. `what` is "veld" or
/// "zoekparameter".
fn field_message(text: &str, what: &str) -> String {
    let the = if what == "veld" { "Het" } else { "De" };
    let rest = text.split_once("type: ").map_or(text, |(_, r)| r);
    let rest = rest.split_once("string: ").map_or(rest, |(_, r)| r);
    let quoted = |marker: &str| {
        rest.split_once(marker)
            .and_then(|(_, r)| r.split('`').next())
            .map(str::to_owned)
    };
    if let Some(f) = quoted("missing field `") {
        return format!("{the} {what} '{f}' ontbreekt.");
    }
    if let Some(f) = quoted("unknown field `") {
        return format!("{the} {what} '{f}' kennen we niet. Controleer de schrijfwijze.");
    }
    // "path: message"; a path is made of names, indexes and dots only.
    let path = rest.split_once(": ").map(|(p, _)| p).filter(|p| {
        !p.is_empty()
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '[' | ']'))
    });
    match path {
        Some(p) if rest.contains("out of range") => {
            format!("{the} {what} '{p}' heeft een getal dat te groot of te klein is.")
        }
        Some(p) => {
            format!("{the} {what} '{p}' heeft een verkeerde waarde of een verkeerd soort waarde.")
        }
        None => format!("Een {what} ontbreekt of heeft een verkeerde waarde."),
    }
}

#[cfg(test)]
mod field_message_tests {
    use super::field_message;

    #[test]
    fn serde_errors_become_dutch_sentences_naming_the_field() {
        let t = |s: &str| field_message(s, "veld");
        assert_eq!(
            t(
                "Failed to deserialize the JSON body into the target type: amount_cents: invalid type: string \"100\", expected i64 at line 1 column 22"
            ),
            "Het veld 'amount_cents' heeft een verkeerde waarde of een verkeerd soort waarde."
        );
        assert_eq!(
            t(
                "Failed to deserialize the JSON body into the target type: missing field `token` at line 1 column 2"
            ),
            "Het veld 'token' ontbreekt."
        );
        assert_eq!(
            t(
                "Failed to deserialize the JSON body into the target type: unknown field `tokn`, expected one of `token` at line 1 column 8"
            ),
            "Het veld 'tokn' kennen we niet. Controleer de schrijfwijze."
        );
        assert_eq!(
            t(
                "Failed to deserialize the JSON body into the target type: children[0].birth_date: input contains invalid characters at line 1 column 80"
            ),
            "Het veld 'children[0].birth_date' heeft een verkeerde waarde of een verkeerd soort waarde."
        );
        assert_eq!(
            field_message(
                "Failed to deserialize query string: start: invalid digit found in string",
                "zoekparameter"
            ),
            "De zoekparameter 'start' heeft een verkeerde waarde of een verkeerd soort waarde."
        );
        assert_eq!(
            t("something else entirely"),
            "Een veld ontbreekt of heeft een verkeerde waarde."
        );
    }
}
