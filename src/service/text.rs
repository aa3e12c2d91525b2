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

/// The format characters (Unicode general category Cf, as of Unicode 16): invisible marks such
/// as the bidi overrides (U+202A–U+202E, U+2066–U+2069) that make "Jansen" print as
/// "nesnaJ", zero-width spaces and joiners (U+200B–U+200D, U+2060, U+FEFF) that make two equal
/// looking names differ, and the tag characters (U+E0000 block) that hide text. Free text
/// reaches letters, CSV and SEPA files; none of these belongs there.
pub(crate) const FORMAT_CHARACTERS: &[(char, char)] = &[
    ('\u{AD}', '\u{AD}'),
    ('\u{600}', '\u{605}'),
    ('\u{61C}', '\u{61C}'),
    ('\u{6DD}', '\u{6DD}'),
    ('\u{70F}', '\u{70F}'),
    ('\u{890}', '\u{891}'),
    ('\u{8E2}', '\u{8E2}'),
    ('\u{180E}', '\u{180E}'),
    ('\u{200B}', '\u{200F}'),
    ('\u{202A}', '\u{202E}'),
    ('\u{2060}', '\u{2064}'),
    ('\u{2066}', '\u{206F}'),
    ('\u{FEFF}', '\u{FEFF}'),
    ('\u{FFF9}', '\u{FFFB}'),
    ('\u{110BD}', '\u{110BD}'),
    ('\u{110CD}', '\u{110CD}'),
    ('\u{13430}', '\u{1343F}'),
    ('\u{1BCA0}', '\u{1BCA3}'),
    ('\u{1D173}', '\u{1D17A}'),
    ('\u{E0001}', '\u{E0001}'),
    ('\u{E0020}', '\u{E007F}'),
];

/// True for a format character (category Cf).
pub(crate) fn is_format(c: char) -> bool {
    FORMAT_CHARACTERS.iter().any(|&(a, b)| (a..=b).contains(&c))
}

/// Checks free text from a request: trimmed, at most `max` characters, no control characters
/// and no format characters (Cf); normalised to NFC (so that "é" typed as e + accent and "é"
/// typed as one character are the same name); `None` when empty and not required.
pub(crate) fn clean_text(
    field: &'static str,
    s: &str,
    max: usize,
    required: bool,
) -> Result<Option<String>> {
    use unicode_normalization::UnicodeNormalization as _;
    let problem = |problem| Error::Invalid(Invalid::Text { field, problem });
    // The length counts after normalisation (a decomposed "é" is one character, and the few
    // characters that NFC expands cannot push a text past the limit). NFC joins at most four
    // characters into one, so far longer input is refused before any work is done on it.
    let raw = s.trim();
    if raw.chars().count() > max.saturating_mul(8) {
        return Err(problem(TextProblem::TooLong(max)));
    }
    let normal: String = raw.nfc().collect();
    let t = normal.trim();
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
    // Line and paragraph separators (U+2028, U+2029) break lines in letters and CSV files
    // like a newline does.
    if t.chars()
        .any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}'))
    {
        return Err(problem(TextProblem::ControlCharacters));
    }
    if t.chars().any(is_format) {
        return Err(problem(TextProblem::FormatCharacters));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invisible_format_characters_are_refused_and_text_is_normalised_to_nfc() {
        // A bidi override, zero-width characters, a soft hyphen, a tag character.
        for bad in [
            "Jan\u{202E}nesnaJ",
            "Jan\u{2066}sen",
            "Jan\u{200B}sen",
            "Jan\u{200D}sen",
            "Jan\u{FEFF}sen",
            "Jan\u{AD}sen",
            "Jan\u{E0041}sen",
        ] {
            assert!(
                matches!(
                    clean_text("naam", bad, 100, true),
                    Err(Error::Invalid(Invalid::Text {
                        problem: TextProblem::FormatCharacters,
                        ..
                    }))
                ),
                "{bad:?}"
            );
        }
        // "José" typed as e + combining accent is stored as the one character é.
        let decomposed = "Jose\u{301}";
        assert_eq!(decomposed.chars().count(), 5);
        assert_eq!(
            clean_text("naam", decomposed, 100, true)
                .unwrap()
                .as_deref(),
            Some("Jos\u{e9}")
        );
        assert_eq!(
            clean_text("naam", "  Noor  ", 100, true)
                .unwrap()
                .as_deref(),
            Some("Noor")
        );
        assert!(FORMAT_CHARACTERS.iter().all(|(a, b)| a <= b));
    }

    #[test]
    fn line_and_paragraph_separators_are_refused_inside_a_text() {
        for bad in ["Jan\u{2028}Jansen", "Jan\u{2029}Jansen"] {
            assert!(matches!(
                clean_text("naam", bad, 100, true),
                Err(Error::Invalid(Invalid::Text {
                    problem: TextProblem::ControlCharacters,
                    ..
                }))
            ));
        }
    }

    #[test]
    fn the_length_limit_counts_the_normalised_text() {
        // Four decomposed "é"s fit a limit of four once composed.
        let decomposed = "e\u{301}".repeat(4);
        assert_eq!(
            clean_text("naam", &decomposed, 4, true).unwrap().as_deref(),
            Some("\u{e9}\u{e9}\u{e9}\u{e9}")
        );
        // U+FB2C (one character) becomes three under NFC: two of them pass a limit of five
        // only if counted before normalisation.
        let expanding = "\u{FB2C}\u{FB2C}";
        assert_eq!(expanding.chars().count(), 2);
        assert!(matches!(
            clean_text("naam", expanding, 5, true),
            Err(Error::Invalid(Invalid::Text {
                problem: TextProblem::TooLong(5),
                ..
            }))
        ));
    }
}
