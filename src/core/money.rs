//! Money as integer euro-cents. Never floats.

use serde::{Deserialize, Serialize};

/// An amount of money in euro-cents. May be negative only for balances of the external account.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Cents(pub i64);

/// Why a text is not an amount of euros.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// Not a number of euros with at most two decimals.
    #[error("geen geldig bedrag")]
    Invalid,
    /// Too large to represent.
    #[error("bedrag is te groot")]
    Overflow,
}

impl Cents {
    /// Zero euros.
    pub const ZERO: Cents = Cents(0);

    /// Checked addition.
    pub fn checked_add(self, other: Cents) -> Option<Cents> {
        self.0.checked_add(other.0).map(Cents)
    }

    /// Checked subtraction.
    pub fn checked_sub(self, other: Cents) -> Option<Cents> {
        self.0.checked_sub(other.0).map(Cents)
    }

    /// True for amounts above zero.
    pub fn is_positive(self) -> bool {
        self.0 > 0
    }

    /// Parses a euro amount as people type it: `12`, `12,5`, `12,50`, `12.50`, `€ 1.250,00`.
    /// Thousands separators are accepted only in groups of three before a decimal part
    /// written with the other separator.
    pub fn parse_euros(input: &str) -> Result<Cents, MoneyError> {
        let s: String = input
            .trim()
            .trim_start_matches('€')
            .trim()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        if s.is_empty() || s.starts_with('-') || s.starts_with('+') {
            return Err(MoneyError::Invalid);
        }
        // The last ',' or '.' is the decimal separator and must be followed by one or two
        // digits; the other character may group thousands before it. "1.250" alone is
        // ambiguous and refused rather than guessed.
        let (int_digits, frac_part) = match s.rfind([',', '.']) {
            None => (s.clone(), ""),
            Some(p) => {
                let frac = &s[p + 1..];
                if !(1..=2).contains(&frac.len()) {
                    return Err(MoneyError::Invalid);
                }
                let dec = s.as_bytes()[p] as char;
                let thousands = if dec == ',' { '.' } else { ',' };
                (strip_thousands(&s[..p], thousands)?, frac)
            }
        };
        if int_digits.is_empty() || !frac_part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(MoneyError::Invalid);
        }
        let euros: i64 = int_digits.parse().map_err(|_| MoneyError::Overflow)?;
        let cents: i64 = match frac_part.len() {
            0 => 0,
            1 => frac_part.parse::<i64>().map_err(|_| MoneyError::Invalid)? * 10,
            _ => frac_part.parse().map_err(|_| MoneyError::Invalid)?,
        };
        euros
            .checked_mul(100)
            .and_then(|c| c.checked_add(cents))
            .map(Cents)
            .ok_or(MoneyError::Overflow)
    }
}

/// Removes thousands separators (`sep` every three digits); refuses anything else.
fn strip_thousands(s: &str, sep: char) -> Result<String, MoneyError> {
    let groups: Vec<&str> = s.split(sep).collect();
    let digits = groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_digit()));
    let shaped = groups.len() == 1
        || ((1..=3).contains(&groups[0].len()) && groups[1..].iter().all(|g| g.len() == 3));
    if !digits || !shaped {
        return Err(MoneyError::Invalid);
    }
    Ok(groups.concat())
}

impl std::fmt::Display for Cents {
    /// Dutch notation: `€ 1.250,00`, `-€ 3,05`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let neg = self.0 < 0;
        let abs = self.0.unsigned_abs();
        let euros = (abs / 100).to_string();
        let mut grouped = String::new();
        for (i, c) in euros.chars().enumerate() {
            if i > 0 && (euros.len() - i).is_multiple_of(3) {
                grouped.push('.');
            }
            grouped.push(c);
        }
        write!(
            f,
            "{}€ {},{:02}",
            if neg { "-" } else { "" },
            grouped,
            abs % 100
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_dutch_receipts() {
        assert_eq!(Cents(13000).to_string(), "€ 130,00");
        assert_eq!(Cents(5).to_string(), "€ 0,05");
        assert_eq!(Cents(125_000).to_string(), "€ 1.250,00");
        assert_eq!(Cents(-305).to_string(), "-€ 3,05");
        assert_eq!(Cents(i64::MIN).to_string(), "-€ 92.233.720.368.547.758,08");
    }

    #[test]
    fn parses_what_volunteers_type() {
        for (s, c) in [
            ("12,50", 1250),
            ("12.50", 1250),
            ("12", 1200),
            ("12,5", 1250),
            ("€ 120", 12000),
            ("1.250,00", 125_000),
            ("1,250.00", 125_000),
            ("0,01", 1),
            ("1.25", 125),
            (" 7 ", 700),
        ] {
            assert_eq!(Cents::parse_euros(s), Ok(Cents(c)), "{s}");
        }
    }

    #[test]
    fn refuses_what_is_not_an_amount() {
        for s in [
            "", "-5", "12,505", "abc", "1,2,3", "12.50.1", "1.250", "12,", "€", "1e5", "+3",
        ] {
            assert!(Cents::parse_euros(s).is_err(), "{s}");
        }
        assert_eq!(
            Cents::parse_euros("999999999999999999999"),
            Err(MoneyError::Overflow)
        );
    }
}
