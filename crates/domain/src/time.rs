//! Instants, kept as milliseconds since the Unix epoch.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

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

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match DateTime::<Utc>::from_timestamp_millis(self.0) {
            Some(t) => f.write_str(&t.to_rfc3339_opts(SecondsFormat::Millis, true)),
            None => write!(f, "@{}ms", self.0),
        }
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&text).map_err(de::Error::custom)
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
    fn rejects_text_that_is_not_rfc3339() {
        assert!(Timestamp::parse("yesterday").is_err());
        assert!(serde_json::from_str::<Timestamp>("\"2026-11-29 01:05\"").is_err());
    }
}
