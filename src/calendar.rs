//! Calendar dates from [`SystemTime`], for the lines the server writes: RFC 3339
//! timestamps in UTC for the access log, the time of day for the wire trace.
//!
//! The standard library counts time since the Unix epoch and stops there; the calendar
//! is this module's: days since 1970-01-01 become a proleptic Gregorian year, month and
//! day by Howard Hinnant's `civil_from_days` ("chrono-Compatible Low-Level Date
//! Algorithms"), which works in 400-year eras (146,097 days each, the Gregorian cycle)
//! shifted to start on 1 March, so that the leap day is the last day of its year and
//! needs no special case. No time zones: UTC only, which is what logs that are compared
//! across machines want anyway.

use std::fmt;
use std::time::{Duration, SystemTime};

const SECONDS_PER_DAY: u64 = 86_400;

/// A moment as a calendar date and time of day, in UTC, to the microsecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Civil {
    year: i64,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
    micros: u32,
}

impl Civil {
    fn of(at: SystemTime) -> Civil {
        // Moments before the epoch count backwards; `div_euclid` puts them on the right
        // day with a time of day counted forward from its midnight.
        let (secs, micros) = match at.duration_since(SystemTime::UNIX_EPOCH) {
            Ok(after) => (after.as_secs() as i128, after.subsec_micros()),
            Err(e) => {
                let before = e.duration();
                let ceil = before.as_secs() as i128 + i128::from(before.subsec_nanos() > 0);
                let rest = Duration::from_secs(ceil as u64) - before;
                (-ceil, rest.subsec_micros())
            }
        };
        let days = secs.div_euclid(SECONDS_PER_DAY as i128) as i64;
        let in_day = secs.rem_euclid(SECONDS_PER_DAY as i128) as u32;
        let (year, month, day) = civil_from_days(days);
        Civil {
            year,
            month,
            day,
            hour: (in_day / 3600) as u8,
            minute: (in_day / 60 % 60) as u8,
            second: (in_day % 60) as u8,
            micros,
        }
    }
}

/// The proleptic Gregorian date `days` after 1970-01-01 (negative: before it), as
/// (year, month 1–12, day 1–31).
fn civil_from_days(days: i64) -> (i64, u8, u8) {
    // Count from 0000-03-01, so that each year ends with February and its leap day.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097); // [0, 146096]
    // Years of 365 days, corrected for the leap days of every 4th, 100th and 400th year.
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    // Months from March: 153 days in every 5 months (31, 30, 31, 30, 31).
    let month_from_march = (5 * day_of_year + 2) / 153; // [0, 11]
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u8;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    } as u8;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `at` as an RFC 3339 timestamp in UTC to the millisecond: `2026-12-01T17:03:12.123Z`
/// (RFC 3339 §5.6, `time-secfrac` of three digits, `Z` for UTC).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rfc3339(pub(crate) SystemTime);

impl fmt::Display for Rfc3339 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = Civil::of(self.0);
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            c.year,
            c.month,
            c.day,
            c.hour,
            c.minute,
            c.second,
            c.micros / 1000
        )
    }
}

/// The time of day of `at` in UTC, to the microsecond: `17:03:12.123456` (the trace's
/// stamp: short, and fine enough to tell the turns of the loop apart).
#[derive(Debug, Clone, Copy)]
pub(crate) struct TimeOfDay(pub(crate) SystemTime);

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = Civil::of(self.0);
        write!(
            f,
            "{:02}:{:02}:{:02}.{:06}",
            c.hour, c.minute, c.second, c.micros
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64, micros: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_micros(micros)
    }

    fn rfc3339(t: SystemTime) -> String {
        Rfc3339(t).to_string()
    }

    #[test]
    fn the_epoch_is_1970_01_01_at_midnight() {
        assert_eq!(rfc3339(SystemTime::UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        assert_eq!(civil_from_days(0), (1970, 1, 1));
    }

    #[test]
    fn known_dates_and_times_are_rendered_exactly() {
        // `date -u -d @SECS`, checked by hand.
        assert_eq!(rfc3339(at(951_782_400, 0)), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339(at(951_868_800, 0)), "2000-03-01T00:00:00.000Z");
        assert_eq!(rfc3339(at(1_234_567_890, 0)), "2009-02-13T23:31:30.000Z");
        assert_eq!(
            rfc3339(at(1_796_144_592, 123_456)),
            "2026-12-01T17:03:12.123Z"
        );
        // The last second a signed 32-bit time_t holds, and the one after it.
        assert_eq!(
            rfc3339(at(2_147_483_647, 999_999)),
            "2038-01-19T03:14:07.999Z"
        );
        assert_eq!(rfc3339(at(2_147_483_648, 0)), "2038-01-19T03:14:08.000Z");
        assert_eq!(rfc3339(at(4_102_444_800, 0)), "2100-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(at(253_402_300_799, 0)), "9999-12-31T23:59:59.000Z");
    }

    #[test]
    fn leap_years_follow_the_gregorian_rules() {
        // Divisible by 4: leap; by 100: not; by 400: leap again.
        let day_after_feb_28 = |year: i64| {
            let days = days_from_civil(year, 2, 28) + 1;
            civil_from_days(days)
        };
        assert_eq!(day_after_feb_28(2024), (2024, 2, 29));
        assert_eq!(day_after_feb_28(2023), (2023, 3, 1));
        assert_eq!(day_after_feb_28(2000), (2000, 2, 29));
        assert_eq!(day_after_feb_28(2100), (2100, 3, 1));
        assert_eq!(day_after_feb_28(1900), (1900, 3, 1));
        assert_eq!(day_after_feb_28(2400), (2400, 2, 29));
    }

    #[test]
    fn every_day_of_four_centuries_follows_the_one_before() {
        // 1900-01-01 to 2300-01-01: each date is the day after the previous one, with
        // the months' lengths and leap days as the calendar has them.
        let mut previous = civil_from_days(days_from_civil(1900, 1, 1) - 1);
        assert_eq!(previous, (1899, 12, 31));
        for days in days_from_civil(1900, 1, 1)..days_from_civil(2300, 1, 1) {
            let (y, m, d) = civil_from_days(days);
            let (py, pm, pd) = previous;
            let next = if pd < month_length(py, pm) {
                (py, pm, pd + 1)
            } else if pm < 12 {
                (py, pm + 1, 1)
            } else {
                (py + 1, 1, 1)
            };
            assert_eq!((y, m, d), next, "day {days}");
            previous = (y, m, d);
        }
    }

    #[test]
    fn moments_before_the_epoch_count_back_from_it() {
        let before = |d: Duration| rfc3339(SystemTime::UNIX_EPOCH - d);
        assert_eq!(before(Duration::from_millis(1)), "1969-12-31T23:59:59.999Z");
        assert_eq!(
            before(Duration::from_secs(86_400)),
            "1969-12-31T00:00:00.000Z"
        );
        assert_eq!(
            before(Duration::from_secs(2_208_988_800)),
            "1900-01-01T00:00:00.000Z"
        );
    }

    #[test]
    fn the_time_of_day_has_microseconds() {
        assert_eq!(
            TimeOfDay(at(1_796_144_592, 123_456)).to_string(),
            "17:03:12.123456"
        );
        assert_eq!(TimeOfDay(at(0, 7)).to_string(), "00:00:00.000007");
    }

    /// The inverse of `civil_from_days` (Hinnant's `days_from_civil`), for the tests.
    fn days_from_civil(year: i64, month: u8, day: u8) -> i64 {
        let y = if month <= 2 { year - 1 } else { year };
        let era = y.div_euclid(400);
        let year_of_era = y.rem_euclid(400);
        let m = i64::from(month);
        let day_of_year = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        era * 146_097 + day_of_era - 719_468
    }

    fn month_length(year: i64, month: u8) -> u8 {
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        match month {
            2 if leap => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        }
    }
}
