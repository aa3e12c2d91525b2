//! Checks for amounts and free text in requests.

use super::error::{Error, Invalid, Result, TextProblem};
use crate::core::money::Cents;

/// Checks an amount from a request: above zero.
pub(in crate::service) fn positive_amount(cents: i64) -> Result<Cents> {
    if cents <= 0 {
        return Err(Invalid::Amount.into());
    }
    Ok(Cents(cents))
}

/// Checks free text from a request: trimmed, at most `max` characters, no control characters;
/// `None` when empty and not required.
pub(crate) fn clean_text(
    field: &'static str,
    s: &str,
    max: usize,
    required: bool,
) -> Result<Option<String>> {
    let problem = |problem| Error::Invalid(Invalid::Text { field, problem });
    let t = s.trim();
    if t.is_empty() {
        return if required {
            Err(problem(TextProblem::Empty))
        } else {
            Ok(None)
        };
    }
    if t.chars().count() > max {
        return Err(problem(TextProblem::TooLong(max)));
    }
    if t.chars().any(char::is_control) {
        return Err(problem(TextProblem::ControlCharacters));
    }
    Ok(Some(t.to_owned()))
}

/// Like [`clean_text`] for a required field.
pub(in crate::service) fn required_text(
    field: &'static str,
    s: &str,
    max: usize,
) -> Result<String> {
    clean_text(field, s, max, true)?.ok_or(Error::Invalid(Invalid::Text {
        field,
        problem: TextProblem::Empty,
    }))
}

/// Like [`clean_text`] for an optional field that may be absent.
pub(in crate::service) fn optional_text(
    field: &'static str,
    s: Option<&str>,
    max: usize,
) -> Result<Option<String>> {
    match s {
        Some(s) => clean_text(field, s, max, false),
        None => Ok(None),
    }
}
