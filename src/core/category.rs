//! Spending categories and sets of them.

use serde::{Deserialize, Serialize};

/// What a budget may be spent on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// Sport clubs, swimming lessons, sports clothing.
    Sport,
    /// Music, dance, theatre and other culture.
    Cultuur,
    /// School costs.
    School,
    /// Anything else the fund allows.
    Overig,
}

impl Category {
    /// All categories in their fixed order.
    pub const ALL: [Category; 4] = [
        Category::Sport,
        Category::Cultuur,
        Category::School,
        Category::Overig,
    ];

    /// The wire code on the ledger (1..=4).
    pub fn code(self) -> u8 {
        match self {
            Category::Sport => 1,
            Category::Cultuur => 2,
            Category::School => 3,
            Category::Overig => 4,
        }
    }

    /// Inverse of [`Category::code`].
    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.get(usize::from(code).checked_sub(1)?).copied()
    }

    /// The bit of this category in a [`CategorySet`].
    pub fn bit(self) -> u8 {
        1 << (self.code() - 1)
    }

    /// The API name (`sport`, `cultuur`, `school`, `overig`).
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Sport => "sport",
            Category::Cultuur => "cultuur",
            Category::School => "school",
            Category::Overig => "overig",
        }
    }

    /// Parses an API name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl std::fmt::Display for Category {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of categories, as the one-byte mask used in tokens and on the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CategorySet(u8);

impl CategorySet {
    /// Builds a set from a mask; bits above the four categories are refused.
    pub fn from_mask(mask: u8) -> Option<Self> {
        (mask & !0x0f == 0).then_some(Self(mask))
    }

    /// The one-byte mask.
    pub fn mask(self) -> u8 {
        self.0
    }

    /// True when the category is in the set.
    pub fn contains(self, c: Category) -> bool {
        self.0 & c.bit() != 0
    }

    /// True when no category is in the set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The categories in their fixed order.
    pub fn iter(self) -> impl Iterator<Item = Category> {
        Category::ALL.into_iter().filter(move |c| self.contains(*c))
    }
}

/// Why a list of category names was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CategoryNameError {
    /// No category at all.
    #[error("no category")]
    Empty,
    /// A name that is not a category.
    #[error("unknown category {0:?}")]
    Unknown(String),
}

/// A stored category mask with bits beyond the four categories.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("category mask {0} has unknown bits")]
pub struct BadMask(pub i64);

impl CategorySet {
    /// Parses API names (surrounding spaces ignored): at least one, all known.
    pub fn parse_names<S: AsRef<str>>(names: &[S]) -> Result<Self, CategoryNameError> {
        if names.is_empty() {
            return Err(CategoryNameError::Empty);
        }
        names
            .iter()
            .map(|n| {
                let n = n.as_ref();
                Category::parse(n.trim()).ok_or_else(|| CategoryNameError::Unknown(n.to_owned()))
            })
            .collect()
    }

    /// The API names, in their fixed order.
    pub fn names(self) -> Vec<String> {
        self.iter().map(|c| c.as_str().to_owned()).collect()
    }

    /// The categories in both sets.
    pub fn intersection(self, other: CategorySet) -> CategorySet {
        Self(self.0 & other.0)
    }
}

impl TryFrom<i64> for CategorySet {
    type Error = BadMask;

    fn try_from(mask: i64) -> Result<Self, BadMask> {
        u8::try_from(mask)
            .ok()
            .and_then(Self::from_mask)
            .ok_or(BadMask(mask))
    }
}

impl From<CategorySet> for i64 {
    fn from(set: CategorySet) -> i64 {
        i64::from(set.0)
    }
}

impl FromIterator<Category> for CategorySet {
    fn from_iter<I: IntoIterator<Item = Category>>(iter: I) -> Self {
        Self(iter.into_iter().fold(0, |m, c| m | c.bit()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_masks_round_trip() {
        for c in Category::ALL {
            assert_eq!(Category::from_code(c.code()), Some(c));
            assert_eq!(Category::parse(c.as_str()), Some(c));
        }
        assert_eq!(Category::from_code(0), None);
        assert_eq!(Category::from_code(5), None);
        let set: CategorySet = [Category::Sport, Category::School].into_iter().collect();
        assert_eq!(set.mask(), 0b0101);
        assert_eq!(
            set.iter().collect::<Vec<_>>(),
            vec![Category::Sport, Category::School]
        );
        assert!(CategorySet::from_mask(0x10).is_none());
        assert_eq!(CategorySet::try_from(0b0101_i64), Ok(set));
        assert!(CategorySet::try_from(0x10_i64).is_err());
        assert!(CategorySet::try_from(-1_i64).is_err());
        assert_eq!(i64::from(set), 5);
    }

    #[test]
    fn names_parse_strictly_and_print_in_order() {
        let set = CategorySet::parse_names(&["school", " sport"]).unwrap();
        assert_eq!(set.names(), vec!["sport", "school"]);
        assert_eq!(
            CategorySet::parse_names::<&str>(&[]),
            Err(CategoryNameError::Empty)
        );
        assert_eq!(
            CategorySet::parse_names(&["voetbal"]),
            Err(CategoryNameError::Unknown("voetbal".into()))
        );
        let other = CategorySet::parse_names(&["sport", "cultuur"]).unwrap();
        assert_eq!(set.intersection(other).names(), vec!["sport"]);
    }
}
