//! Instants, kept as milliseconds since the Unix epoch.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

use crate::ValidationError;

/// An instant with millisecond precision. It serializes as RFC 3339 in UTC with milliseconds and
/// `Z` (`2026-11-29T01:05:03.123Z`) and parses any RFC 3339 offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, format = DateTime, example = "2026-11-29T01:05:03.123Z"))]
pub struct Timestamp(i64);

impl Timestamp {
    /// The current instant, from the system clock.
    pub fn now() -> Self {
        Self(Utc::now().timestamp_millis())
    }

    /// The instant `ms` milliseconds after the Unix epoch.
    pub const fn from_millis(ms: i64) -> Self {
        Self(ms)
    }

    /// Milliseconds since the Unix epoch; the score under which stores index this instant.
    pub const fn millis(self) -> i64 {
        self.0
    }

    /// This instant moved by `ms` milliseconds (negative moves it back), saturating.
    #[must_use]
    pub const fn plus_millis(self, ms: i64) -> Self {
        Self(self.0.saturating_add(ms))
    }

    /// Parses an RFC 3339 timestamp with any offset.
    ///
    /// # Errors
    /// The text is not RFC 3339, or lies outside the years chrono represents.
    pub fn parse(text: &str) -> Result<Self, String> {
        DateTime::parse_from_rfc3339(text)
            .map(|t| Self(t.timestamp_millis()))
            .map_err(|e| format!("`{text}` is not an RFC 3339 timestamp ({e})"))
    }
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`.
const RFC3339_MILLIS_LEN: usize = 24;

impl Timestamp {
    /// This instant as `YYYY-MM-DDTHH:MM:SS.mmmZ`, for the years 0 to 9999. Written by hand: every
    /// record carries two timestamps and is serialized several times per request, and this is
    /// about five times faster than going through chrono's formatter.
    fn rfc3339_millis(self) -> Option<[u8; RFC3339_MILLIS_LEN]> {
        let secs = self.0.div_euclid(1000);
        let millis = self.0.rem_euclid(1000);
        let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
        if !(0..=9999).contains(&year) {
            return None;
        }
        let of_day = secs.rem_euclid(86_400);
        let mut out = *b"0000-00-00T00:00:00.000Z";
        let mut put = |at: usize, width: usize, mut value: i64| {
            for i in (at..at + width).rev() {
                // value % 10 is a single digit: it fits in a u8.
                out[i] = b'0' + u8::try_from(value % 10).unwrap_or(0);
                value /= 10;
            }
        };
        put(0, 4, year);
        put(5, 2, month);
        put(8, 2, day);
        put(11, 2, of_day / 3600);
        put(14, 2, of_day / 60 % 60);
        put(17, 2, of_day % 60);
        put(20, 3, millis);
        Some(out)
    }
}

impl Timestamp {
    /// Appends this instant's text, as [`fmt::Display`] writes it, without the formatting
    /// machinery for the usual years.
    pub(crate) fn push_text(self, out: &mut Vec<u8>) {
        match self.rfc3339_millis() {
            Some(text) => out.extend_from_slice(&text),
            None => {
                use std::io::Write as _;
                // Writing into a Vec cannot fail.
                let _ = write!(out, "{self}");
            }
        }
    }
}

/// The proleptic Gregorian (year, month, day) of a day counted from 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
const fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
    (year, month, day)
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(text) = self.rfc3339_millis() {
            // Only ASCII digits and separators were written.
            return f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?);
        }
        match DateTime::<Utc>::from_timestamp_millis(self.0) {
            Some(t) => f.write_str(&t.to_rfc3339_opts(SecondsFormat::Millis, true)),
            None => write!(f, "@{}ms", self.0),
        }
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.rfc3339_millis() {
            Some(text) => s.serialize_str(std::str::from_utf8(&text).unwrap_or_default()),
            None => s.collect_str(self),
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&text).map_err(de::Error::custom)
    }
}

/// An inclusive range of instants; either end may be open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimeRange {
    start: Option<Timestamp>,
    end: Option<Timestamp>,
}

impl TimeRange {
    /// Every instant.
    pub const ALL: Self = Self {
        start: None,
        end: None,
    };

    /// From `start` to `end`, both included.
    ///
    /// # Errors
    /// `end` comes before `start` (the error names `end_time`).
    pub fn new(start: Option<Timestamp>, end: Option<Timestamp>) -> Result<Self, ValidationError> {
        if let (Some(start), Some(end)) = (start, end) {
            if end < start {
                return Err(ValidationError::new(
                    "end_time",
                    "must not be before start_time",
                ));
            }
        }
        Ok(Self { start, end })
    }

    /// Whether `at` is in the range.
    pub fn contains(self, at: Timestamp) -> bool {
        self.start.is_none_or(|start| at >= start) && self.end.is_none_or(|end| at <= end)
    }

    /// The first instant included, if bounded.
    pub const fn start(self) -> Option<Timestamp> {
        self.start
    }

    /// The last instant included, if bounded.
    pub const fn end(self) -> Option<Timestamp> {
        self.end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_utc_with_milliseconds_and_z() {
        let t = Timestamp::parse("2026-11-29T02:05:03.123456+01:00").unwrap();
        assert_eq!(t.to_string(), "2026-11-29T01:05:03.123Z");
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            "\"2026-11-29T01:05:03.123Z\""
        );
    }

    #[test]
    fn the_written_form_is_chronos_for_every_kind_of_date() {
        let samples = [
            0,
            -1,
            951_782_400_000,     // 2000-02-29
            1_709_164_799_999,   // 2024-02-28T23:59:59.999
            4_107_542_400_123,   // 2100-03-01
            -62_167_219_200_000, // 0000-01-01
            253_402_300_799_999, // 9999-12-31T23:59:59.999
        ];
        let mut ms: i64 = -62_167_219_200_000;
        let step = 7_919_876_543; // about 92 days, and odd, so every month and time of day comes up
        let all = samples.into_iter().chain(std::iter::from_fn(|| {
            ms += step;
            (ms < 253_402_300_799_999).then_some(ms)
        }));
        for ms in all {
            let expected = DateTime::<Utc>::from_timestamp_millis(ms)
                .unwrap()
                .to_rfc3339_opts(SecondsFormat::Millis, true);
            assert_eq!(Timestamp::from_millis(ms).to_string(), expected, "{ms}");
        }
        assert_eq!(
            Timestamp::from_millis(253_402_300_800_000).to_string(),
            "+10000-01-01T00:00:00.000Z"
        );
    }

    #[test]
    fn rejects_text_that_is_not_rfc3339() {
        assert!(Timestamp::parse("yesterday").is_err());

        assert!(serde_json::from_str::<Timestamp>("\"2026-11-29 01:05\"").is_err());
    }

    #[test]
    fn a_range_that_ends_before_it_starts_names_end_time() {
        let (a, b) = (Timestamp::from_millis(1), Timestamp::from_millis(2));
        assert_eq!(
            TimeRange::new(Some(b), Some(a)).unwrap_err().field,
            "end_time"
        );
        let same = TimeRange::new(Some(a), Some(a)).unwrap();
        assert_eq!((same.start(), same.end()), (Some(a), Some(a)));
    }
}
