//! Dutch local time (Europe/Amsterdam) without a time-zone database: CET (UTC+1) in winter,
//! CEST (UTC+2) from the last Sunday of March 01:00 UTC to the last Sunday of October 01:00 UTC,
//! the EU rule since 1996. Budgets start and end on Dutch calendar days.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};

fn last_sunday(year: i32, month: u32) -> Option<NaiveDate> {
    let first_next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)?
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)?
    };
    let last = first_next.pred_opt()?;
    let back = last.weekday().num_days_from_sunday();
    last.checked_sub_signed(Duration::days(i64::from(back)))
}

/// Hours east of UTC in the Netherlands at a moment.
pub fn offset_hours(t: DateTime<Utc>) -> i64 {
    let year = t.year();
    let switch = |d: Option<NaiveDate>| {
        d.and_then(|d| d.and_hms_opt(1, 0, 0))
            .map(|n| Utc.from_utc_datetime(&n))
    };
    match (switch(last_sunday(year, 3)), switch(last_sunday(year, 10))) {
        (Some(start), Some(end)) if t >= start && t < end => 2,
        _ => 1,
    }
}

const MONTHS: [&str; 12] = [
    "januari",
    "februari",
    "maart",
    "april",
    "mei",
    "juni",
    "juli",
    "augustus",
    "september",
    "oktober",
    "november",
    "december",
];

/// A date as Dutch people write it: `31 december 2026`.
pub fn dutch_long(day: NaiveDate) -> String {
    let month = MONTHS
        .get(day.month0() as usize)
        .copied()
        .unwrap_or_default();
    format!("{} {month} {}", day.day(), day.year())
}

/// The Dutch calendar date at a moment.
pub fn dutch_date(t: DateTime<Utc>) -> NaiveDate {
    (t + Duration::hours(offset_hours(t))).date_naive()
}

/// Unix seconds of 00:00 Dutch time at the start of `day`.
pub fn dutch_midnight(day: NaiveDate) -> Option<i64> {
    // Midnight is never inside a switch (they happen at 02:00 and 03:00 local), so the offset
    // is that of the day: summer time from the day after the last Sunday of March through the
    // last Sunday of October.
    let summer = match (last_sunday(day.year(), 3), last_sunday(day.year(), 10)) {
        (Some(s), Some(e)) => day > s && day <= e,
        _ => false,
    };
    let offset = if summer { 2 } else { 1 };
    Some(day.and_hms_opt(0, 0, 0)?.and_utc().timestamp() - offset * 3600)
}

/// True when `day` is a Sunday (used in tests of the switch rule).
pub fn is_sunday(day: NaiveDate) -> bool {
    day.weekday() == Weekday::Sun
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_written_the_dutch_way() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(dutch_long(d(2026, 12, 31)), "31 december 2026");
        assert_eq!(dutch_long(d(2027, 1, 1)), "1 januari 2027");
        assert_eq!(dutch_long(d(2026, 3, 9)), "9 maart 2026");
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn summer_time_follows_the_eu_rule() {
        assert_eq!(last_sunday(2026, 3), NaiveDate::from_ymd_opt(2026, 3, 29));
        assert_eq!(last_sunday(2026, 10), NaiveDate::from_ymd_opt(2026, 10, 25));
        assert!(is_sunday(last_sunday(2027, 3).unwrap()));
        assert_eq!(offset_hours(utc("2026-03-29T00:59:59Z")), 1);
        assert_eq!(offset_hours(utc("2026-03-29T01:00:00Z")), 2);
        assert_eq!(offset_hours(utc("2026-10-25T00:59:59Z")), 2);
        assert_eq!(offset_hours(utc("2026-10-25T01:00:00Z")), 1);
        assert_eq!(offset_hours(utc("2026-01-15T12:00:00Z")), 1);
        assert_eq!(offset_hours(utc("2026-07-15T12:00:00Z")), 2);
    }

    #[test]
    fn dates_and_midnights_are_dutch() {
        // 23:30 UTC on 31 December is already New Year in the Netherlands.
        assert_eq!(
            dutch_date(utc("2026-12-31T23:30:00Z")),
            NaiveDate::from_ymd_opt(2027, 1, 1).unwrap()
        );
        assert_eq!(
            dutch_date(utc("2026-12-31T22:59:00Z")),
            NaiveDate::from_ymd_opt(2026, 12, 31).unwrap()
        );
        let jan1 = NaiveDate::from_ymd_opt(2027, 1, 1).unwrap();
        assert_eq!(
            dutch_midnight(jan1),
            Some(utc("2026-12-31T23:00:00Z").timestamp())
        );
        let jul1 = NaiveDate::from_ymd_opt(2026, 7, 1).unwrap();
        assert_eq!(
            dutch_midnight(jul1),
            Some(utc("2026-06-30T22:00:00Z").timestamp())
        );
        // Midnight on the day of each switch still has the old offset.
        let spring = NaiveDate::from_ymd_opt(2026, 3, 29).unwrap();
        assert_eq!(
            dutch_midnight(spring),
            Some(utc("2026-03-28T23:00:00Z").timestamp())
        );
        let autumn = NaiveDate::from_ymd_opt(2026, 10, 25).unwrap();
        assert_eq!(
            dutch_midnight(autumn),
            Some(utc("2026-10-24T22:00:00Z").timestamp())
        );
        for d in [jan1, jul1, spring, autumn] {
            let t = DateTime::from_timestamp(dutch_midnight(d).unwrap(), 0).unwrap();
            assert_eq!(dutch_date(t), d);
            assert_eq!(dutch_date(t - Duration::seconds(1)), d.pred_opt().unwrap());
        }
    }
}
