//! Extractors: who is asking (from a bearer token or the session cookie), and the request as
//! it arrived. A body that does not parse is not refused here: it is handed to the use case as
//! an [`Input`] that says why, and the use case reports it only after it has checked who is
//! asking.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use serde::de::DeserializeOwned;

use super::error::ApiError;
use super::state::AppState;
use crate::service::error::{FieldIssue, Invalid, Missing};
use crate::service::{Actor, Error, Input, sessions};

/// Name of the session cookie used by the web pages.
pub const SESSION_COOKIE: &str = "kp_sessie";

/// The token sent with a request: `Authorization: Bearer …` or the session cookie.
pub fn request_token(headers: &HeaderMap) -> Option<String> {
    if let Some(v) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let t = v
            .strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))?;
        return Some(t.trim().to_owned());
    }
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.to_owned())
}

/// The token of a request, as [`request_token`], except that the session cookie counts for a
/// request that changes something (not GET or HEAD) only when the browser says it comes from
/// this site (`Sec-Fetch-Site: same-origin`, or an `Origin` naming the host it was sent to).
/// A form on another page of the same site, or of another site, cannot use a logged-in
/// browser's cookie to call the API; programs send `Authorization: Bearer`.
fn token_of(parts: &Parts) -> Option<String> {
    let h = &parts.headers;
    let from_cookie = h.get(AUTHORIZATION).is_none();
    let safe = matches!(parts.method, Method::GET | Method::HEAD);
    if from_cookie && !safe && !from_this_site(h) {
        return None;
    }
    request_token(h)
}

/// True when the browser says the request comes from a page of this origin.
fn from_this_site(h: &HeaderMap) -> bool {
    if h.get("sec-fetch-site").and_then(|v| v.to_str().ok()) == Some("same-origin") {
        return true;
    }
    let (Some(origin), Some(host)) = (
        h.get(axum::http::header::ORIGIN)
            .and_then(|v| v.to_str().ok()),
        h.get(axum::http::header::HOST)
            .and_then(|v| v.to_str().ok()),
    ) else {
        return false;
    };
    origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        == Some(host)
}

/// Who is asking: a user, a parent through a personal link, or nobody.
pub struct Caller(pub Actor);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = token_of(parts);
        Ok(Caller(
            sessions::authenticate(&state.services, token.as_deref()).await?,
        ))
    }
}

/// The token sent with the request, as sent (to log out).
pub struct BearerToken(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for BearerToken {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(BearerToken(token_of(parts)))
    }
}

/// The client's address, when the server knows it.
pub struct ClientAddr(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        Ok(ClientAddr(peer.and_then(|peer| {
            client_of(peer, &parts.headers, &state.config.trusted_proxies)
        })))
    }
}

/// The client behind `peer`: the peer itself, unless it is a trusted proxy; then the hops of
/// `X-Forwarded-For` are read from the right (the proxy appends the address it saw), skipping
/// trusted proxies, and the first other hop is the client. Hops further left were written by
/// the client and are never read. `None` when that hop cannot be read: an unknown client, never
/// mistaken for the proxy (which may be this machine). IPv4 addresses written as IPv6
/// (`::ffff:10.0.0.1`) count as IPv4.
pub fn client_of(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = peer.to_canonical();
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let mut hops: Vec<&str> = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let text = value.to_str().ok()?;
        hops.extend(text.split(','));
    }
    for hop in hops
        .iter()
        .rev()
        .map(|h| h.trim())
        .filter(|h| !h.is_empty())
    {
        let ip = hop.parse::<IpAddr>().ok()?.to_canonical();
        if !trusted.contains(&ip) {
            return Some(ip);
        }
    }
    // Only proxies: the request came from the proxy itself.
    Some(peer)
}

/// The `Idempotency-Key` header as sent (checked by the use case; a value that is not text
/// is passed on as an empty key, which the use case refuses).
pub struct IdempotencyKey(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(IdempotencyKey(parts.headers.get("idempotency-key").map(
            |v| v.to_str().map_or_else(|_| String::new(), str::to_owned),
        )))
    }
}

impl IdempotencyKey {
    /// The key as text, for the use case.
    pub fn as_deref(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

/// A JSON body, parsed or not, for the use case to read once it has checked who is asking.
pub struct Body<T>(pub Input<T>);

impl<S, T> FromRequest<S> for Body<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Infallible;

    async fn from_request(req: Request, state: &S) -> Result<Self, Infallible> {
        if !json_content_type(req.headers()) {
            return Ok(Body(Input::invalid(Invalid::UnsupportedMediaType.into())));
        }
        let bytes = match axum::body::Bytes::from_request(req, state).await {
            Ok(b) => b,
            Err(_) => return Ok(Body(Input::invalid(Invalid::BodyTooLarge.into()))),
        };
        // serde reads a JSON array into a struct field by field; the document says object.
        let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
        if first.is_some_and(|b| *b == b'[') {
            return Ok(Body(Input::invalid(Invalid::NotAnObject.into())));
        }
        Ok(Body(match axum::Json::<T>::from_bytes(&bytes) {
            Ok(axum::Json(v)) => Input::new(v),
            Err(r) => Input::invalid(json_rejection(r)),
        }))
    }
}

/// `Content-Type: application/json` or a `+json` type, as axum's own JSON extractor asks.
fn json_content_type(headers: &HeaderMap) -> bool {
    let Some(ct) = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn json_rejection(r: JsonRejection) -> Error {
    match r {
        JsonRejection::MissingJsonContentType(_) => Invalid::UnsupportedMediaType.into(),
        JsonRejection::JsonDataError(e) => {
            let detail = e.body_text();
            Invalid::Body {
                issue: field_issue(&detail),
                detail,
            }
            .into()
        }
        JsonRejection::BytesRejection(_) => Invalid::BodyTooLarge.into(),
        other => Invalid::MalformedJson {
            detail: other.body_text(),
        }
        .into(),
    }
}

/// Path extractor whose rejections are [`ApiError`]s: an id that is not an id is an address
/// that does not exist.
#[derive(axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

impl From<PathRejection> for ApiError {
    fn from(_: PathRejection) -> Self {
        ApiError(Error::NotFound(Missing::Path))
    }
}

/// Query extractor whose rejections are [`ApiError`]s.
#[derive(axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        let detail = r.body_text();
        ApiError(
            Invalid::Query {
                issue: field_issue(&detail),
                detail,
            }
            .into(),
        )
    }
}

/// Which field a serde error text is about, and what is wrong with it, from texts such as
/// "Failed to deserialize the JSON body into the target type: children[0].birth_date: input
/// contains invalid characters at line 1 column 80".
pub fn field_issue(text: &str) -> FieldIssue {
    let rest = text.split_once("type: ").map_or(text, |(_, r)| r);
    let rest = rest.split_once("string: ").map_or(rest, |(_, r)| r);
    let quoted = |marker: &str| {
        rest.split_once(marker)
            .and_then(|(_, r)| r.split('`').next())
            .map(str::to_owned)
    };
    if let Some(f) = quoted("missing field `") {
        return FieldIssue::Missing(f);
    }
    if let Some(f) = quoted("unknown field `") {
        return FieldIssue::Unknown(f);
    }
    // "path: message"; a path is made of names, indexes and dots only.
    let path = rest.split_once(": ").map(|(p, _)| p).filter(|p| {
        !p.is_empty()
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '[' | ']'))
    });
    match path {
        Some(p) if rest.contains("out of range") => FieldIssue::OutOfRange(p.to_owned()),
        Some(p) => FieldIssue::Wrong(p.to_owned()),
        None => FieldIssue::Unnamed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(text: &str) -> String {
        Error::Invalid(Invalid::Body {
            issue: field_issue(text),
            detail: String::new(),
        })
        .message()
        .into_owned()
    }

    #[test]
    fn serde_errors_become_dutch_sentences_naming_the_field() {
        assert_eq!(
            message(
                "Failed to deserialize the JSON body into the target type: amount_cents: invalid type: string \"100\", expected i64 at line 1 column 22"
            ),
            "Het veld 'amount_cents' heeft een verkeerde waarde of een verkeerd soort waarde."
        );
        assert_eq!(
            message(
                "Failed to deserialize the JSON body into the target type: missing field `token` at line 1 column 2"
            ),
            "Het veld 'token' ontbreekt."
        );
        assert_eq!(
            message(
                "Failed to deserialize the JSON body into the target type: unknown field `tokn`, expected one of `token` at line 1 column 8"
            ),
            "Het veld 'tokn' kennen we niet. Controleer de schrijfwijze."
        );
        assert_eq!(
            message(
                "Failed to deserialize the JSON body into the target type: children[0].birth_date: input contains invalid characters at line 1 column 80"
            ),
            "Het veld 'children[0].birth_date' heeft een verkeerde waarde of een verkeerd soort waarde."
        );
        let query = Error::Invalid(Invalid::Query {
            issue: field_issue(
                "Failed to deserialize query string: start: invalid digit found in string",
            ),
            detail: String::new(),
        });
        assert_eq!(
            query.message(),
            "De zoekparameter 'start' heeft een verkeerde waarde of een verkeerd soort waarde."
        );
        assert_eq!(
            message("something else entirely"),
            "Een veld ontbreekt of heeft een verkeerde waarde."
        );
    }
}

/// Reads a JSON integer. JSON Schema (and so the OpenAPI document) counts `12.0` and `1e3` as
/// integers, so whole numbers written as floats are accepted; fractions, and numbers beyond
/// what `i64` or a float's exact range can hold, are refused.
pub fn integer<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    d.deserialize_any(Integer)
}

/// Like [`integer`] for a count or index: a negative number is refused as out of range.
pub fn unsigned<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let v = integer(d)?;
    u64::try_from(v).map_err(|_| serde::de::Error::custom("integer out of range (negative)"))
}

/// Like [`integer`] for an optional field (`null` or absent is `None`).
pub fn optional_integer<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    d.deserialize_option(OptionalInteger)
}

struct Integer;

impl serde::de::Visitor<'_> for Integer {
    type Value = i64;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an integer")
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<i64, E> {
        Ok(v)
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<i64, E> {
        i64::try_from(v).map_err(|_| E::custom("integer out of range"))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<i64, E> {
        // 2^53: beyond it a float no longer holds every integer exactly.
        const EXACT: f64 = 9_007_199_254_740_992.0;
        if v.fract() != 0.0 || !v.is_finite() {
            return Err(E::invalid_type(serde::de::Unexpected::Float(v), &self));
        }
        if v.abs() > EXACT {
            return Err(E::custom("integer out of range"));
        }
        Ok(v as i64)
    }
}

struct OptionalInteger;

impl<'de> serde::de::Visitor<'de> for OptionalInteger {
    type Value = Option<i64>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an integer or null")
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Option<i64>, E> {
        Ok(None)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Option<i64>, E> {
        Ok(None)
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Option<i64>, D::Error> {
        integer(d).map(Some)
    }
}

#[cfg(test)]
mod integer_tests {
    #[derive(serde::Deserialize)]
    struct T {
        #[serde(deserialize_with = "super::integer")]
        a: i64,
        #[serde(default, deserialize_with = "super::optional_integer")]
        b: Option<i64>,
    }

    fn parse(s: &str) -> Result<(i64, Option<i64>), String> {
        serde_json::from_str::<T>(s)
            .map(|t| (t.a, t.b))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn whole_numbers_are_integers_however_they_are_written() {
        assert_eq!(parse(r#"{"a": 164}"#), Ok((164, None)));
        assert_eq!(parse(r#"{"a": 164.0, "b": 2.0}"#), Ok((164, Some(2))));
        assert_eq!(parse(r#"{"a": 1e3, "b": null}"#), Ok((1000, None)));
        assert_eq!(parse(r#"{"a": -5}"#), Ok((-5, None)));
        assert!(parse(r#"{"a": 1.5}"#).is_err());
        assert!(parse(r#"{"a": "100"}"#).is_err());
        let big = parse(r#"{"a": 9223372036854775808}"#).unwrap_err();
        assert!(big.contains("out of range"), "{big}");
        assert!(
            parse(r#"{"a": 1e300}"#)
                .unwrap_err()
                .contains("out of range")
        );
    }
}

#[cfg(test)]
mod client_tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    #[test]
    fn forwarded_for_counts_only_from_a_trusted_proxy_and_only_its_last_untrusted_hop() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let client: IpAddr = "203.0.113.9".parse().unwrap();
        let trusted = [proxy];
        // Not from the proxy: the header is the client's own invention.
        let h = headers(&["198.51.100.1"]);
        assert_eq!(client_of(client, &h, &trusted), Some(client));
        // From the proxy: the last hop it added. Earlier hops are the client's word.
        let h = headers(&["1.2.3.4, 203.0.113.9"]);
        assert_eq!(client_of(proxy, &h, &trusted), Some(client));
        let h = headers(&["1.2.3.4", "203.0.113.9, 10.0.0.1"]);
        assert_eq!(client_of(proxy, &h, &trusted), Some(client));
        // Garbage the client wrote in front is never read.
        let h = headers(&["nonsense, 203.0.113.9"]);
        assert_eq!(client_of(proxy, &h, &trusted), Some(client));
        // A hop that cannot be read: an unknown client, never the proxy.
        assert_eq!(client_of(proxy, &headers(&["nonsense"]), &trusted), None);
        assert_eq!(
            client_of(proxy, &headers(&["203.0.113.9:443"]), &trusted),
            None
        );
        // No header: the proxy itself asked.
        assert_eq!(client_of(proxy, &HeaderMap::new(), &trusted), Some(proxy));
        // Nobody trusted: always the peer; IPv4 written as IPv6 is IPv4.
        assert_eq!(client_of(proxy, &headers(&["1.2.3.4"]), &[]), Some(proxy));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(
            client_of(mapped, &headers(&["203.0.113.9"]), &trusted),
            Some(client)
        );
    }
}
