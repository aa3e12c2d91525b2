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
    }
}
