//! `Timestamp`: an instant in epoch milliseconds, printed as RFC 3339 UTC.
//!
//! AWS sends epoch seconds (with a fraction); keeping milliseconds makes attempt ids
//! exact and comparisons cheap. Formatting is done here rather than with a date crate
//! because UTC civil-date conversion is twenty lines and this is all we need of dates.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const fn from_millis(millis: i64) -> Self {
        Timestamp(millis)
    }

    pub fn from_epoch_seconds(seconds: f64) -> Self {
        Timestamp((seconds * 1000.0).round() as i64)
    }

    pub fn now() -> Self {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp(since_epoch.as_millis() as i64)
    }

    pub const fn as_millis(self) -> i64 {
        self.0
    }

    pub fn as_epoch_seconds(self) -> f64 {
        self.0 as f64 / 1000.0
    }

    pub fn plus_millis(self, millis: i64) -> Self {
        Timestamp(self.0.saturating_add(millis))
    }

    /// `2026-11-26T10:15:00Z` (whole seconds, UTC).
    pub fn to_rfc3339(self) -> String {
        let seconds = self.0.div_euclid(1000);
        let days = seconds.div_euclid(86_400);
        let second_of_day = seconds.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        format!(
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
            second_of_day / 3600,
            second_of_day % 3600 / 60,
            second_of_day % 60
        )
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A duration in words a person reads at a glance: `45s`, `3m 18s`, `2h 5m`.
pub fn human_duration(seconds: i64) -> String {
    match seconds {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m {}s", s / 60, s % 60),
        s => format!("{}h {}m", s / 3600, s % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(
            Timestamp::from_millis(0).to_rfc3339(),
            "1970-01-01T00:00:00Z"
        );
        // 2026-11-26T10:15:00Z
        assert_eq!(
            Timestamp::from_epoch_seconds(1_795_688_100.0).to_rfc3339(),
            "2026-11-26T10:15:00Z"
        );
        // A leap day and a pre-epoch instant.
        assert_eq!(
            Timestamp::from_epoch_seconds(951_782_400.0).to_rfc3339(),
            "2000-02-29T00:00:00Z"
        );
        assert_eq!(
            Timestamp::from_epoch_seconds(-1.0).to_rfc3339(),
            "1969-12-31T23:59:59Z"
        );
    }

    #[test]
    fn keeps_millisecond_precision_of_aws_fractions() {
        assert_eq!(
            Timestamp::from_epoch_seconds(1_700_000_000.123).as_millis(),
            1_700_000_000_123
        );
    }

    #[test]
    fn durations_read_like_words() {
        assert_eq!(human_duration(45), "45s");
        assert_eq!(human_duration(198), "3m 18s");
        assert_eq!(human_duration(7500), "2h 5m");
    }
}
