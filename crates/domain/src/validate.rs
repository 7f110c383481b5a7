//! Small checks shared by the entities.

use std::collections::BTreeMap;

use crate::ValidationError;

/// `text` has between `min` and `max` characters.
pub(crate) fn chars(
    field: &str,
    text: &str,
    min: usize,
    max: usize,
) -> Result<(), ValidationError> {
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
        return Err(ValidationError::new(
            field,
            format!("must have {want} characters, has {n}"),
        ));
    }
    Ok(())
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
        chars(&format!("{field}.{key}"), key, 1, 128)?;
        chars(&format!("{field}.{key}"), value, 0, max_value)?;
    }
    Ok(())
}
