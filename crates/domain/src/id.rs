//! Identifiers of messages and alerts.

use std::fmt;

use serde::{de, Deserialize, Deserializer, Serialize};

use crate::ValidationError;

/// Longest id a client may choose.
pub const MAX_ID_LEN: usize = 128;

/// An id: 1 to 128 characters from `A-Z a-z 0-9 . _ : -`. The server makes UUIDv7 ids.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, pattern = r"^(?!\.{1,2}$)[A-Za-z0-9._:-]{1,128}$"))]
pub struct Id(String);

impl Id {
    /// A new time-ordered UUIDv7 id.
    pub fn generate() -> Self {
        Self(uuid::Uuid::now_v7().to_string())
    }

    /// Checks a client's id.
    ///
    /// # Errors
    /// Empty, longer than 128 characters, a character outside `A-Z a-z 0-9 . _ : -`, or `.` and
    /// `..`, which no HTTP client can put in a path to fetch them back.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        if text.is_empty() || text.len() > MAX_ID_LEN {
            return Err(ValidationError::new("id", "must have 1 to 128 characters"));
        }
        if text == "." || text == ".." {
            return Err(ValidationError::new(
                "id",
                "`.` and `..` are path segments, not ids",
            ));
        }
        if let Some(bad) = text.chars().find(|c| !Self::allowed(*c)) {
            return Err(ValidationError::new(
                "id",
                format!("character {bad:?} is not allowed; use A-Z a-z 0-9 . _ : -"),
            ));
        }
        Ok(Self(text.to_owned()))
    }

    fn allowed(c: char) -> bool {
        c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-')
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Id {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&text).map_err(|e| de::Error::custom(e.reason))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_allowed_alphabet_up_to_128_characters() {
        assert!(Id::parse("Az09._:-").is_ok());
        assert!(Id::parse(&"a".repeat(128)).is_ok());
    }

    #[test]
    fn refuses_empty_long_and_foreign_characters() {
        assert!(Id::parse("").is_err());
        assert!(Id::parse(&"a".repeat(129)).is_err());
        assert!(Id::parse("a/b").is_err());
        assert!(Id::parse("ação").is_err());
        assert!(Id::parse(".").is_err() && Id::parse("..").is_err());
        assert!(Id::parse("...").is_ok() && Id::parse(".a").is_ok());
    }

    #[test]
    fn generated_ids_are_valid_and_increase() {
        let a = Id::generate();
        let b = Id::generate();
        assert!(Id::parse(a.as_str()).is_ok());
        assert!(a < b);
    }
}
