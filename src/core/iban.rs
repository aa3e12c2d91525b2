//! Bank account numbers (IBAN, ISO 13616) and Chamber of Commerce numbers (KvK).

/// A checked, normalised IBAN: upper case, no spaces, valid mod-97 check digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Iban(String);

/// A stored text that is not a valid IBAN or KvK number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid {0}")]
pub struct Invalid(&'static str);

impl Iban {
    /// Normalises and checks an IBAN as people type it (`NL91 ABNA 0417 1643 00`).
    pub fn parse(input: &str) -> Option<Self> {
        let iban: String = input
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_uppercase();
        if !(15..=34).contains(&iban.len()) || !iban.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return None;
        }
        let b = iban.as_bytes();
        if !b[0].is_ascii_uppercase()
            || !b[1].is_ascii_uppercase()
            || !b[2].is_ascii_digit()
            || !b[3].is_ascii_digit()
        {
            return None;
        }
        if &iban[..2] == "NL" && iban.len() != 18 {
            return None;
        }
        let rearranged = format!("{}{}", &iban[4..], &iban[..4]);
        let mut rem: u32 = 0;
        for c in rearranged.chars() {
            let v = c.to_digit(36)?;
            rem = if v >= 10 {
                (rem * 100 + v) % 97
            } else {
                (rem * 10 + v) % 97
            };
        }
        (rem == 1).then_some(Self(iban))
    }

    /// The normalised text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Iban {
    type Error = Invalid;

    fn try_from(s: String) -> Result<Self, Invalid> {
        Self::parse(&s).ok_or(Invalid("IBAN"))
    }
}

impl std::fmt::Display for Iban {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A Chamber of Commerce (KvK) number: exactly eight digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Kvk(String);

impl Kvk {
    /// Checks a KvK number (surrounding spaces are ignored).
    pub fn parse(input: &str) -> Option<Self> {
        let k = input.trim();
        (k.len() == 8 && k.bytes().all(|b| b.is_ascii_digit())).then(|| Self(k.to_owned()))
    }

    /// The eight digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Kvk {
    type Error = Invalid;

    fn try_from(s: String) -> Result<Self, Invalid> {
        Self::parse(&s).ok_or(Invalid("KvK number"))
    }
}

impl std::fmt::Display for Kvk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iban(s: &str) -> Option<String> {
        Iban::parse(s).map(|i| i.as_str().to_owned())
    }

    #[test]
    fn ibans_are_checked_with_mod_97() {
        assert_eq!(
            iban("NL91 ABNA 0417 1643 00").as_deref(),
            Some("NL91ABNA0417164300")
        );
        assert_eq!(
            iban("nl91abna0417164300").as_deref(),
            Some("NL91ABNA0417164300")
        );
        assert!(iban("NL91ABNA0417164301").is_none());
        assert!(iban("NL92ABNA0417164300").is_none());
        assert!(iban("DE89370400440532013000").is_some());
        assert!(
            iban("NL91ABNA041716430").is_none(),
            "Dutch IBANs have 18 characters"
        );
        assert!(iban("").is_none());
        assert!(iban("NL91-ABNA-0417-1643-00").is_none());
    }

    #[test]
    fn kvk_numbers_have_eight_digits() {
        assert!(Kvk::parse("40000001").is_some());
        assert_eq!(Kvk::parse(" 40000001 ").unwrap().as_str(), "40000001");
        assert!(Kvk::parse("4000000").is_none());
        assert!(Kvk::parse("4000000a").is_none());
    }
}
