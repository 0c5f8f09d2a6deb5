//! `Timestamp`: an instant in epoch milliseconds, printed as RFC 3339 UTC.
//!
//! AWS sends epoch seconds (with a fraction); keeping milliseconds makes attempt ids
//! exact and comparisons cheap. The calendar is chrono's (already linked for the Lambda
//! event types); this module is the only place that converts to and from dates.

use chrono::{DateTime, SecondsFormat, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp(i64);

impl Timestamp {
    /// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z: the instants RFC 3339 can write.
    /// Formatting clamps to them, so a text is always RFC 3339 whatever the number.
    pub const EARLIEST: Timestamp = Timestamp(-62_135_596_800_000);
    pub const LATEST: Timestamp = Timestamp(253_402_300_799_999);

    pub const fn from_millis(millis: i64) -> Self {
        Timestamp(millis)
    }

    pub fn from_epoch_seconds(seconds: f64) -> Self {
        Timestamp((seconds * 1000.0).round() as i64)
    }

    pub fn now() -> Self {
        Timestamp(Utc::now().timestamp_millis())
    }

    /// Reads an RFC 3339 / ISO 8601 date-time with an offset
    /// (`2026-11-26T10:01:00Z`, `2026-11-26T10:01:00.123+00:00`), as the AWS CLI prints
    /// timestamps.
    pub fn parse_rfc3339(text: &str) -> Option<Self> {
        DateTime::parse_from_rfc3339(text.trim())
            .ok()
            .map(|at| Timestamp(at.timestamp_millis()))
    }

    pub const fn as_millis(self) -> i64 {
        self.0
    }

    /// Whole seconds since the epoch (rounded down).
    pub const fn as_epoch_seconds(self) -> i64 {
        self.0.div_euclid(1000)
    }

    pub fn plus_millis(self, millis: i64) -> Self {
        Timestamp(self.0.saturating_add(millis))
    }

    /// Whether this instant can be written as RFC 3339 (years 1 to 9999).
    pub fn is_writable(self) -> bool {
        (Self::EARLIEST..=Self::LATEST).contains(&self)
    }

    fn date_time(self) -> DateTime<Utc> {
        let millis = self.0.clamp(Self::EARLIEST.0, Self::LATEST.0);
        DateTime::from_timestamp_millis(millis).unwrap_or_default()
    }

    /// `2026-11-26T10:15:00Z` (whole seconds, UTC).
    pub fn to_rfc3339(self) -> String {
        self.date_time().to_rfc3339_opts(SecondsFormat::Secs, true)
    }

    /// `2026-11-26T10:15:00.250Z` (milliseconds, UTC): AWS's XML timestamps.
    pub fn to_rfc3339_millis(self) -> String {
        self.date_time()
            .to_rfc3339_opts(SecondsFormat::Millis, true)
    }

    /// `2026-11-26 10:15:00 UTC`, for people.
    pub fn to_readable(self) -> String {
        self.date_time().format("%Y-%m-%d %H:%M:%S UTC").to_string()
    }

    /// `10:03:47`, the UTC time of day.
    pub fn time_of_day(self) -> String {
        self.date_time().format("%H:%M:%S").to_string()
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
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
        assert_eq!(
            Timestamp::from_epoch_seconds(1_795_688_100.25).to_rfc3339_millis(),
            "2026-11-26T10:15:00.250Z"
        );
        assert_eq!(
            Timestamp::from_epoch_seconds(1_795_688_100.0).to_readable(),
            "2026-11-26 10:15:00 UTC"
        );
        assert_eq!(
            Timestamp::from_epoch_seconds(1_795_687_427.0).time_of_day(),
            "10:03:47"
        );
    }

    #[test]
    fn out_of_range_instants_still_format_as_rfc3339() {
        let far = Timestamp::from_epoch_seconds(1e20);
        assert!(!far.is_writable());
        assert_eq!(far.to_rfc3339(), "9999-12-31T23:59:59Z");
        assert_eq!(
            Timestamp::from_millis(i64::MIN).to_rfc3339(),
            "0001-01-01T00:00:00Z"
        );
        assert!(Timestamp::from_millis(0).is_writable());
    }

    #[test]
    fn reads_what_the_aws_cli_prints() {
        for (text, seconds) in [
            ("2026-11-26T10:01:00+00:00", 1_795_687_260),
            ("2026-11-26T10:01:00Z", 1_795_687_260),
            ("2026-11-26T11:01:00+01:00", 1_795_687_260),
        ] {
            assert_eq!(
                Timestamp::parse_rfc3339(text),
                Some(Timestamp::from_millis(seconds * 1000)),
                "{text}"
            );
        }
        assert_eq!(
            Timestamp::parse_rfc3339("2026-11-26T10:01:00.250000+00:00"),
            Some(Timestamp::from_millis(1_795_687_260_250))
        );
        assert_eq!(Timestamp::parse_rfc3339("yesterday"), None);
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
