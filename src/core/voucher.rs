//! Pure voucher rules: how a fund pools its budget, who is eligible, when a token stops
//! working, what status a voucher has on a given day, and the identity hint a club sees.

use chrono::{Datelike, NaiveDate};

use super::entry::AccountStatus;

/// How a fund hands out its budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pooling {
    /// One voucher per eligible child.
    Child,
    /// One voucher per household, worth the per-child amount times its eligible children.
    Household,
}

/// A pooling name that is not one of ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown pooling {0:?}")]
pub struct UnknownPooling(pub String);

impl Pooling {
    /// The stable name (`child` or `household`).
    pub fn as_str(self) -> &'static str {
        match self {
            Pooling::Child => "child",
            Pooling::Household => "household",
        }
    }

    /// Parses a stable name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "child" => Some(Pooling::Child),
            "household" => Some(Pooling::Household),
            _ => None,
        }
    }
}

impl TryFrom<String> for Pooling {
    type Error = UnknownPooling;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Pooling::parse(&s).ok_or(UnknownPooling(s))
    }
}

impl std::fmt::Display for Pooling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whole years between two dates.
pub fn age_on(birth: NaiveDate, day: NaiveDate) -> i64 {
    let mut years = i64::from(day.year() - birth.year());
    if (day.month(), day.day()) < (birth.month(), birth.day()) {
        years -= 1;
    }
    years
}

/// The period and age limit of a fund, as far as eligibility is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// First day budgets may be spent.
    pub valid_from: NaiveDate,
    /// Last day budgets may be spent.
    pub valid_until: NaiveDate,
    /// Oldest eligible age on `valid_from`.
    pub max_age_years: i64,
}

impl Period {
    /// True for a child of this birth date: at most `max_age_years` old on the first day, or
    /// born during the period.
    pub fn eligible(&self, birth: NaiveDate) -> bool {
        (birth <= self.valid_from && age_on(birth, self.valid_from) <= self.max_age_years)
            || (birth > self.valid_from && birth <= self.valid_until)
    }

    /// Unix seconds at which a token for this period stops working: 00:00 Dutch time on the
    /// day after the last valid day. `None` when tokens cannot express it (32-bit seconds).
    pub fn token_expiry(&self) -> Option<u32> {
        let end = self
            .valid_until
            .succ_opt()
            .and_then(super::time::dutch_midnight)?;
        u32::try_from(end).ok()
    }
}

/// A voucher's status for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Can be spent.
    Active,
    /// Blocked (a lost letter).
    Blocked,
    /// Its fund ended.
    Expired,
    /// Its fund has not started yet.
    NotYetValid,
    /// Closed for another reason.
    Closed,
}

impl Status {
    /// The stable name used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Blocked => "blocked",
            Status::Expired => "expired",
            Status::NotYetValid => "not_yet_valid",
            Status::Closed => "closed",
        }
    }

    /// The status of a voucher account on `today`, given its fund's period and whether the fund
    /// has been expired.
    pub fn of(
        account: AccountStatus,
        fund_expired: bool,
        period: &Period,
        today: NaiveDate,
    ) -> Self {
        match account {
            AccountStatus::Closed if fund_expired => Status::Expired,
            AccountStatus::Closed => Status::Closed,
            AccountStatus::Blocked => Status::Blocked,
            AccountStatus::Active if today > period.valid_until => Status::Expired,
            AccountStatus::Active if today < period.valid_from => Status::NotYetValid,
            AccountStatus::Active => Status::Active,
        }
    }
}

/// Just enough for a club to check identity: first-name initial and birth year per child
/// (`"N. (2015), S. (2018)"`); `None` when nothing is known (erased).
pub fn child_hint<'a>(
    children: impl IntoIterator<Item = (Option<&'a str>, Option<NaiveDate>)>,
) -> Option<String> {
    let parts: Vec<String> = children
        .into_iter()
        .filter_map(|(name, birth)| {
            let initial: String = name?.chars().next()?.to_uppercase().collect();
            Some(format!("{initial}. ({})", birth?.year()))
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, dd: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, dd).unwrap()
    }

    #[test]
    fn ages_count_whole_years() {
        assert_eq!(age_on(d(2009, 1, 1), d(2026, 1, 1)), 17);
        assert_eq!(age_on(d(2008, 12, 31), d(2026, 1, 1)), 17);
        assert_eq!(age_on(d(2008, 1, 1), d(2026, 1, 1)), 18);
        assert_eq!(age_on(d(2008, 1, 2), d(2026, 1, 1)), 17);
        assert_eq!(age_on(d(2012, 2, 29), d(2026, 2, 28)), 13);
    }

    #[test]
    fn children_up_to_the_age_limit_and_those_born_during_the_period_are_eligible() {
        let p = Period {
            valid_from: d(2026, 1, 1),
            valid_until: d(2026, 12, 31),
            max_age_years: 17,
        };
        assert!(p.eligible(d(2008, 12, 31)));
        assert!(!p.eligible(d(2008, 1, 1)));
        assert!(p.eligible(d(2026, 6, 1)), "born during the period");
        assert!(!p.eligible(d(2027, 1, 1)));
    }

    #[test]
    fn tokens_expire_at_dutch_midnight_after_the_last_day() {
        let p = Period {
            valid_from: d(2026, 1, 1),
            valid_until: d(2026, 12, 31),
            max_age_years: 17,
        };
        // 2027-01-01 00:00 in Amsterdam is 2026-12-31 23:00 UTC.
        assert_eq!(p.token_expiry(), Some(1_798_758_000));
        let far = Period {
            valid_until: d(2200, 1, 1),
            ..p
        };
        assert_eq!(far.token_expiry(), None);
    }

    #[test]
    fn the_hint_shows_initials_and_birth_years_only() {
        let hint = child_hint([
            (Some("noor"), Some(d(2015, 4, 2))),
            (None, Some(d(2018, 9, 30))),
            (Some("Sem"), Some(d(2018, 9, 30))),
        ]);
        assert_eq!(hint.as_deref(), Some("N. (2015), S. (2018)"));
        assert_eq!(child_hint([(None, None)]), None);
    }

    #[test]
    fn statuses_follow_the_account_and_the_calendar() {
        let p = Period {
            valid_from: d(2026, 1, 1),
            valid_until: d(2026, 12, 31),
            max_age_years: 17,
        };
        let s = |a, expired, day| Status::of(a, expired, &p, day).as_str();
        assert_eq!(s(AccountStatus::Active, false, d(2026, 6, 1)), "active");
        assert_eq!(
            s(AccountStatus::Active, false, d(2025, 6, 1)),
            "not_yet_valid"
        );
        assert_eq!(s(AccountStatus::Active, false, d(2027, 1, 1)), "expired");
        assert_eq!(s(AccountStatus::Blocked, false, d(2026, 6, 1)), "blocked");
        assert_eq!(s(AccountStatus::Closed, true, d(2026, 6, 1)), "expired");
        assert_eq!(s(AccountStatus::Closed, false, d(2026, 6, 1)), "closed");
    }
}
