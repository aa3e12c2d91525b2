//! Providers (aanbieders): sport clubs, music schools, shops. Created with their Chamber of
//! Commerce (KvK) number and IBAN; approved per fund and category elsewhere (`funds`).

use uuid::Uuid;

use super::{Error, Result, Services, clean_text};
use crate::core::category::{Category, CategorySet};
use crate::store::StoreError;
use crate::store::catalog::{self, ProviderRow};

/// Normalises and checks an IBAN: ISO 13616 shape and the mod-97 check digits.
pub fn normalize_iban(input: &str) -> Option<String> {
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
    (rem == 1).then_some(iban)
}

/// Checks a KvK number: exactly 8 digits.
pub fn valid_kvk(kvk: &str) -> bool {
    kvk.len() == 8 && kvk.bytes().all(|b| b.is_ascii_digit())
}

/// Parses API category names; at least one, all known.
pub fn parse_categories(names: &[String]) -> Result<CategorySet> {
    if names.is_empty() {
        return Err(Error::bad(
            "invalid_categories",
            "Kies minstens één categorie: sport, cultuur, school of overig.",
        ));
    }
    names
        .iter()
        .map(|n| {
            Category::parse(n.trim()).ok_or_else(|| {
                Error::bad(
                    "invalid_categories",
                    format!(
                        "Onbekende categorie '{n}'. Kies uit sport, cultuur, school of overig."
                    ),
                )
            })
        })
        .collect()
}

/// Category names of a set, in their fixed order.
pub fn category_names(set: CategorySet) -> Vec<String> {
    set.iter().map(|c| c.as_str().to_owned()).collect()
}

/// Set from a stored mask (unknown bits dropped).
pub fn set_of(mask: i64) -> CategorySet {
    CategorySet::from_mask((mask & 0x0f) as u8).unwrap_or_default()
}

/// A new provider.
pub struct NewProvider {
    /// Name.
    pub name: String,
    /// KvK number.
    pub kvk: String,
    /// IBAN.
    pub iban: String,
    /// Categories offered.
    pub categories: Vec<String>,
}

/// Creates a provider.
pub async fn create(svc: &Services, req: NewProvider) -> Result<ProviderRow> {
    let name = clean_text("name", &req.name, 200, true)?.unwrap_or_default();
    let kvk = req.kvk.trim().to_owned();
    if !valid_kvk(&kvk) {
        return Err(Error::bad(
            "invalid_kvk",
            "Het KvK-nummer moet uit 8 cijfers bestaan.",
        ));
    }
    let iban = normalize_iban(&req.iban).ok_or_else(|| {
        Error::bad(
            "invalid_iban",
            "Dit IBAN klopt niet. Controleer de letters en cijfers.",
        )
    })?;
    let categories = parse_categories(&req.categories)?;
    let row = ProviderRow {
        id: Uuid::new_v4(),
        name,
        kvk,
        iban,
        categories: i64::from(categories.mask()),
    };
    match svc
        .store
        .execute_all(&[catalog::insert_provider(&row, svc.now())])
        .await
    {
        Ok(_) => Ok(row),
        Err(StoreError::Unique) => Err(Error::conflict("conflict", "Deze aanbieder bestaat al.")),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ibans_are_checked_with_mod_97() {
        assert_eq!(
            normalize_iban("NL91 ABNA 0417 1643 00").as_deref(),
            Some("NL91ABNA0417164300")
        );
        assert_eq!(
            normalize_iban("nl91abna0417164300").as_deref(),
            Some("NL91ABNA0417164300")
        );
        assert!(normalize_iban("NL91ABNA0417164301").is_none());
        assert!(normalize_iban("NL92ABNA0417164300").is_none());
        assert!(normalize_iban("DE89370400440532013000").is_some());
        assert!(
            normalize_iban("NL91ABNA041716430").is_none(),
            "Dutch IBANs have 18 characters"
        );
        assert!(normalize_iban("").is_none());
        assert!(normalize_iban("NL91-ABNA-0417-1643-00").is_none());
    }

    #[test]
    fn kvk_numbers_have_eight_digits() {
        assert!(valid_kvk("40000001"));
        assert!(!valid_kvk("4000000"));
        assert!(!valid_kvk("4000000a"));
    }
}
