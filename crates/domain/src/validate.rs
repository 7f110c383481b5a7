//! Small checks shared by the entities.

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};

use crate::ValidationError;

/// Reads an optional string-to-string map whose keys are all different: a key given twice is an
/// error (which of its values a reader keeps is not defined), as it is for a struct's fields.
pub(crate) fn unique_map<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<BTreeMap<String, String>>, D::Error> {
    struct UniqueMap;

    impl<'de> Visitor<'de> for UniqueMap {
        type Value = Option<BTreeMap<String, String>>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object of strings")
        }

        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_map(self)
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut read = BTreeMap::new();
            while let Some((key, value)) = map.next_entry::<String, String>()? {
                match read.entry(key) {
                    Entry::Vacant(slot) => {
                        slot.insert(value);
                    }
                    Entry::Occupied(slot) => {
                        return Err(de::Error::custom(format!("repeated key `{}`", slot.key())));
                    }
                }
            }
            Ok(Some(read))
        }
    }

    d.deserialize_option(UniqueMap)
}

/// `text` has between `min` and `max` characters.
pub(crate) fn chars(
    field: &str,
    text: &str,
    min: usize,
    max: usize,
) -> Result<(), ValidationError> {
    match miscounted(text, min, max) {
        Some(rule) => Err(ValidationError::new(field, rule)),
        None => Ok(()),
    }
}

/// What is wrong with the length of `text`, unless it has between `min` and `max` characters.
pub(crate) fn miscounted(text: &str, min: usize, max: usize) -> Option<String> {
    // Counting chars is O(n); the byte length bounds it from both sides first.
    let n = if text.len() <= max {
        text.chars().count()
    } else {
        text.chars().take(max + 1).count()
    };
    if n < min || n > max {
        let want = if min == 0 {
            format!("at most {max}")
        } else {
            format!("{min} to {max}")
        };
        return Some(format!("must have {want} characters, has {n}"));
    }
    None
}

/// A string-to-string map with at most `max_entries`, keys of 1 to 128 characters and values of
/// at most `max_value` characters.
pub(crate) fn string_map(
    field: &str,
    map: &BTreeMap<String, String>,
    max_entries: usize,
    max_value: usize,
) -> Result<(), ValidationError> {
    if map.len() > max_entries {
        return Err(ValidationError::new(
            field,
            format!("must have at most {max_entries} entries, has {}", map.len()),
        ));
    }
    for (key, value) in map {
        // The entry's path is written only for an error: every valid label set passes here.
        if let Some(rule) = miscounted(key, 1, 128).or_else(|| miscounted(value, 0, max_value)) {
            return Err(ValidationError::new(format!("{field}.{key}"), rule));
        }
    }
    Ok(())
}
