//! What the OpenAPI document says about each field, beyond its type: lengths, ranges, formats,
//! enumerations, and every status an operation can answer. The rules themselves live in the
//! use cases; this module states them in the document, and its tests check the two agree on
//! many generated values.

use serde_json::{Value, json};

/// Unicode white space as Rust's `char::is_whitespace` sees it.
const WS: &str = r"[\t-\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]";
/// A character that is neither white space nor a control or format character.
const VISIBLE: &str = r"[^\x00-\x20\x7F-\xA0\xAD\u0600-\u0605\u061C\u06DD\u070F\u0890\u0891\u08E2\u1680\u180E\u2000-\u200F\u2028-\u202F\u205F-\u2064\u2066-\u206F\u3000\uFEFF\uFFF9-\uFFFB]";
/// A character that is not a control or format character. (The format characters outside
/// the Basic Multilingual Plane, which `clean_text` refuses too, cannot be written in an
/// ECMAScript pattern without the `u` flag; see `FORMAT_CHARACTERS`.)
const NOT_CONTROL: &str = r"[^\x00-\x1F\x7F-\x9F\xAD\u0600-\u0605\u061C\u06DD\u070F\u0890\u0891\u08E2\u180E\u200B-\u200F\u202A-\u202E\u2028\u2029\u2060-\u2064\u2066-\u206F\uFEFF\uFFF9-\uFFFB]";

/// Text that `clean_text` accepts as a required field of at most `max` characters: not empty
/// once trimmed, no control characters, at most `max` characters once trimmed.
pub fn required_text(max: usize) -> String {
    format!("^{WS}*{}{WS}*$", trimmed(max))
}

/// One to `max` characters, the first and last visible, none a control character.
fn trimmed(max: usize) -> String {
    match max {
        0 => r"[^\s\S]".to_owned(),
        1 => VISIBLE.to_owned(),
        _ => format!("{VISIBLE}(?:{NOT_CONTROL}{{0,{}}}{VISIBLE})?", max - 2),
    }
}

/// Like [`required_text`] for an optional field: blank means absent.
pub fn optional_text(max: usize) -> String {
    format!("^{WS}*(?:{}{WS}*)?$", trimmed(max))
}

/// An e-mail address as `households` checks it (blank means absent).
fn email() -> String {
    // No white space, no control and no format character (such as a soft hyphen): what
    // `clean_text` refuses in every field.
    let not = r"\x00-\x20\x7F-\xA0\xAD\u0600-\u0605\u061C\u06DD\u070F\u0890\u0891\u08E2\u1680\u180E\u2000-\u200F\u2028-\u202F\u205F-\u2064\u2066-\u206F\u3000\uFEFF\uFFF9-\uFFFB";
    let e = format!("[^@{not}]");
    let e_nodot = format!("[^@.{not}]");
    format!("^{WS}*(?:{e}+@{e_nodot}{e}*\\.{e}*{e_nodot}{WS}*)?$")
}

/// A phone number as `households` checks it: 8 to 15 digits among ` +-()` (blank means
/// absent); the document adds `maxLength: 30`.
fn phone() -> String {
    format!("^{WS}*(?:[ +()\\-]*(?:[0-9][ +()\\-]*){{8,15}}{WS}*)?$")
}

/// A KvK number: eight digits (surrounding white space is ignored).
fn kvk() -> String {
    format!("^{WS}*[0-9]{{8}}{WS}*$")
}

/// The shape of an IBAN (the check digits are checked by the service: `400 invalid_iban`).
const IBAN: &str = r"^(?:[Nn][Ll][0-9]{2}[A-Za-z0-9]{14}|(?:[A-MO-Za-mo-z][A-Za-z]|[Nn][A-KM-Za-km-z])[0-9]{2}[A-Za-z0-9]{11,30})$";

/// Last days a token can express (its expiry is 32-bit Unix seconds: up to 2106-02-07).
const VALID_UNTIL: &str =
    r"^(?:19[7-9][0-9]|20[0-9]{2}|210[0-5])-[0-9]{2}-[0-9]{2}$|^2106-01-[0-9]{2}$|^2106-02-0[1-6]$";

/// Birth dates from 1900 on (a date in the future is refused by the service: `400`).
const BIRTH_DATE: &str = r"^(?:19|[2-9][0-9])[0-9]{2}-";

/// Visible ASCII, not only quotes (which are stripped: see `service::idempotency`).
const IDEMPOTENCY_KEY: &str = r#"^[!-~]*[!#-~][!-~]*$"#;

const CATEGORIES: [&str; 4] = ["sport", "cultuur", "school", "overig"];

fn field<'a>(
    doc: &'a mut Value,
    schema: &str,
    name: &str,
) -> Option<&'a mut serde_json::Map<String, Value>> {
    doc.pointer_mut(&format!("/components/schemas/{schema}/properties/{name}"))?
        .as_object_mut()
}

fn set(doc: &mut Value, schema: &str, name: &str, extra: Value) {
    if let (Some(f), Value::Object(extra)) = (field(doc, schema, name), extra) {
        f.extend(extra);
    }
}

fn categories(doc: &mut Value, schema: &str, name: &str) {
    set(
        doc,
        schema,
        name,
        json!({"minItems": 1, "items": {"type": "string", "enum": CATEGORIES}}),
    );
}

fn error(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    })
}

/// Declares a status, or adds to the description of one already declared.
fn add(responses: &mut serde_json::Map<String, Value>, status: &str, text: &str) {
    match responses
        .get_mut(status)
        .and_then(|r| r.get_mut("description"))
    {
        Some(Value::String(d)) if !d.contains(text) => {
            d.push_str("; ");
            d.push_str(text);
        }
        Some(_) => {}
        None => {
            responses.insert(status.into(), error(text));
        }
    }
}

/// Adds the constraints and statuses to a generated document.
pub fn constrain(doc: &mut Value) {
    set(
        doc,
        "FundRequest",
        "name",
        json!({"pattern": required_text(200)}),
    );
    set(
        doc,
        "FundRequest",
        "sponsor",
        json!({"pattern": required_text(200)}),
    );
    categories(doc, "FundRequest", "categories");
    set(
        doc,
        "FundRequest",
        "amount_per_child_cents",
        json!({"minimum": 1, "maximum": crate::service::funds::MAX_PER_CHILD_CENTS}),
    );
    set(
        doc,
        "FundRequest",
        "max_age_years",
        json!({"minimum": 0, "maximum": crate::service::funds::MAX_AGE_LIMIT}),
    );
    set(
        doc,
        "FundRequest",
        "pooling",
        json!({"enum": ["child", "household", null]}),
    );
    set(
        doc,
        "FundRequest",
        "valid_until",
        json!({"pattern": VALID_UNTIL}),
    );
    set(doc, "DepositRequest", "amount_cents", json!({"minimum": 1}));
    set(
        doc,
        "BulkReissueRequest",
        "key_id",
        json!({"pattern": "^[\\t-\\r ]*[0-9A-Fa-f]{8}[\\t-\\r ]*$"}),
    );
    let password = json!({"minLength": crate::service::users::MIN_PASSWORD_CHARS, "maxLength": crate::service::users::MAX_PASSWORD_CHARS});
    set(doc, "PasswordReset", "password", password.clone());
    set(doc, "OwnPasswordChange", "new_password", password);
    set(
        doc,
        "DepositRequest",
        "reference",
        json!({"pattern": required_text(200)}),
    );
    categories(doc, "ApprovalRequest", "categories");
    set(
        doc,
        "DirectPaymentRequest",
        "amount_cents",
        json!({"minimum": 1}),
    );
    set(
        doc,
        "DirectPaymentRequest",
        "category",
        json!({"enum": CATEGORIES}),
    );
    set(
        doc,
        "DirectPaymentRequest",
        "description",
        json!({"pattern": optional_text(200)}),
    );
    set(
        doc,
        "HouseholdRequest",
        "reference",
        json!({"pattern": required_text(100)}),
    );
    set(
        doc,
        "HouseholdRequest",
        "parent_name",
        json!({"pattern": required_text(200)}),
    );
    set(
        doc,
        "HouseholdRequest",
        "email",
        json!({"pattern": email(), "maxLength": 254}),
    );
    set(
        doc,
        "HouseholdRequest",
        "phone",
        json!({"pattern": phone(), "maxLength": 30}),
    );
    set(
        doc,
        "HouseholdRequest",
        "children",
        json!({"minItems": 1, "maxItems": crate::service::households::MAX_CHILDREN}),
    );
    set(
        doc,
        "ChildRequest",
        "first_name",
        json!({"pattern": required_text(100)}),
    );
    set(
        doc,
        "ChildRequest",
        "birth_date",
        json!({"pattern": BIRTH_DATE}),
    );
    set(doc, "IssueRequest", "amount_cents", json!({"minimum": 1}));
    set(
        doc,
        "ProviderRequest",
        "name",
        json!({"pattern": required_text(200)}),
    );
    set(doc, "ProviderRequest", "kvk", json!({"pattern": kvk()}));
    set(
        doc,
        "ProviderRequest",
        "iban",
        json!({"pattern": IBAN, "format": "iban"}),
    );
    categories(doc, "ProviderRequest", "categories");
    set(
        doc,
        "LookupRequest",
        "token",
        json!({"maxLength": crate::service::vouchers::scan::MAX_TOKEN_TEXT}),
    );
    set(
        doc,
        "RedemptionRequest",
        "amount_cents",
        json!({"minimum": 1}),
    );
    set(
        doc,
        "RedemptionRequest",
        "category",
        json!({"enum": CATEGORIES}),
    );
    set(
        doc,
        "RedemptionRequest",
        "description",
        json!({"pattern": optional_text(200)}),
    );
    set(
        doc,
        "ReverseRequest",
        "reason",
        json!({"pattern": optional_text(500)}),
    );
    set(
        doc,
        "BlockRequest",
        "reason",
        json!({"pattern": optional_text(500)}),
    );
    set(doc, "TopUpRequest", "amount_cents", json!({"minimum": 1}));
    set(
        doc,
        "DepositCorrectionRequest",
        "amount_cents",
        json!({"minimum": 1}),
    );
    set(
        doc,
        "DepositCorrectionRequest",
        "deposit_entry_index",
        json!({"minimum": 0}),
    );
    set(
        doc,
        "DepositCorrectionRequest",
        "reason",
        json!({"pattern": required_text(500)}),
    );
    set(
        doc,
        "TopUpRequest",
        "reason",
        json!({"pattern": optional_text(500)}),
    );

    if let Some(png) = doc.pointer_mut(
        "/paths/~1api~1v1~1vouchers~1{id}~1qr.png/get/responses/200/content/image~1png",
    ) {
        png["schema"] = json!({"type": "string", "contentMediaType": "image/png"});
    }
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for ops in paths.values_mut().filter_map(Value::as_object_mut) {
        for op in ops.values_mut().filter_map(Value::as_object_mut) {
            if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
                for p in params.iter_mut().filter_map(Value::as_object_mut) {
                    if p.get("name").and_then(Value::as_str) == Some("Idempotency-Key") {
                        p.insert(
                            "schema".into(),
                            json!({"type": "string", "minLength": 1, "maxLength": 255, "pattern": IDEMPOTENCY_KEY}),
                        );
                    }
                    if p.get("in").and_then(Value::as_str) == Some("query")
                        && let Some(s) = p.get_mut("schema").and_then(Value::as_object_mut)
                    {
                        s.insert("minimum".into(), json!(0));
                        s.insert("maximum".into(), json!(i64::MAX));
                    }
                }
            }
            let has_body = op.contains_key("requestBody");
            let idempotent = op
                .get("parameters")
                .and_then(Value::as_array)
                .is_some_and(|ps| {
                    ps.iter()
                        .any(|p| p.get("name").and_then(Value::as_str) == Some("Idempotency-Key"))
                });
            let id = op
                .get("operationId")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let needs_login = op
                .get("security")
                .is_some_and(|s| s.to_string().contains("bearer"));
            let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
                continue;
            };
            if has_body {
                responses.entry("400").or_insert_with(|| {
                    error("The request does not parse (`malformed_json`, `invalid_field`)")
                });
                responses.insert(
                    "413".into(),
                    error("The request is too large (`body_too_large`)"),
                );
                responses.insert(
                    "415".into(),
                    error("The request is not sent as JSON (`unsupported_media_type`)"),
                );
            }
            if idempotent {
                let text = "`idempotency_in_flight` (the first request with this key is still \
                            running), `idempotency_in_doubt` (booked, but its answer was lost)";
                add(responses, "409", text);
                add(
                    responses,
                    "422",
                    "`idempotency_conflict` (the key was used for another request)",
                );
            }
            if needs_login && !matches!(id.as_str(), "logout" | "enrol_totp" | "confirm_totp") {
                add(
                    responses,
                    "403",
                    "`two_factor_enrolment_required`: with `--require-2fa`, an admin, staff member \
                     or finance officer must first set up two-factor log-in",
                );
            }
            if id == "expire_fund" {
                add(
                    responses,
                    "422",
                    "a rule of the ledger, when the fund kept changing while it was expired",
                );
            }
            responses.insert(
                "503".into(),
                error("Busy or too slow: try again (`unavailable`, `timeout`; with `Retry-After`)"),
            );
            responses.insert(
                "500".into(),
                error("Our fault (`internal_error`); the cause is logged, never shown"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::clean_text;

    /// Strings made of the characters the rules care about, of every length around a limit.
    fn samples(max: usize) -> Vec<String> {
        let alphabet: Vec<char> = "aZ0 \t\n\r\u{0}\u{1f}\u{7f}\u{85}\u{9f}\u{a0}\u{2003}\u{3000}é😀@.+(-\"\u{feff}\u{200b}\u{1c}\u{202e}\u{ad}\u{2066}\u{2060}\u{2028}\u{2029}"
            .chars()
            .collect();
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        (0..20_000)
            .map(|_| {
                let len = match next() % 5 {
                    0 => 0,
                    1 => 1,
                    2 => 2,
                    _ => (next() % (max as u64 + 4)) as usize,
                };
                (0..len)
                    .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                    .collect()
            })
            .collect()
    }

    #[test]
    fn the_text_patterns_accept_exactly_what_the_use_cases_accept() {
        for max in [0, 1, 2, 3, 10, 100] {
            let required = regex::Regex::new(&required_text(max)).unwrap();
            let optional = regex::Regex::new(&optional_text(max)).unwrap();
            for s in samples(max) {
                let req = clean_text("f", &s, max, true).is_ok();
                let opt = clean_text("f", &s, max, false).is_ok();
                assert_eq!(required.is_match(&s), req, "required {max}: {s:?}");
                assert_eq!(optional.is_match(&s), opt, "optional {max}: {s:?}");
            }
        }
    }

    #[test]
    fn contact_and_registration_patterns_match_the_service() {
        let email = regex::Regex::new(&email()).unwrap();
        for (s, ok) in [
            ("fatima@example.org", true),
            ("", true),
            ("  ", true),
            ("fatima@example", false),
            ("fatima example@x.nl", false),
            ("@x.nl", false),
            ("a@b.", false),
            ("fa\u{ad}tima@example.org", false),
            ("fatima@exam\u{200b}ple.org", false),
        ] {
            assert_eq!(email.is_match(s), ok, "{s:?}");
        }
        let phone = regex::Regex::new(&phone()).unwrap();
        for (s, ok) in [
            ("06-12345678", true),
            ("+31 6 1234 5678", true),
            ("", true),
            ("12345", false),
            ("06-1234567a", false),
            ("0612345678   ", true),
        ] {
            assert_eq!(phone.is_match(s), ok, "{s:?}");
        }
        let kvk = regex::Regex::new(&kvk()).unwrap();
        assert!(kvk.is_match("40000001") && kvk.is_match(" 40000001 "));
        assert!(!kvk.is_match("4000000") && !kvk.is_match("4000000a"));
        let iban = regex::Regex::new(IBAN).unwrap();
        for s in [
            "NL91ABNA0417164300",
            "DE89370400440532013000",
            "nl91abna0417164300",
        ] {
            assert!(iban.is_match(s), "{s}");
        }
        assert!(
            !iban.is_match("NL91ABNA041716430"),
            "Dutch IBANs have 18 characters"
        );
    }
}
