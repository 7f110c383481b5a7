//! Reading the scripts' replies.

use fred::types::Value;

/// A reply as text, if it is one.
pub(crate) fn text(value: Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.to_string()),
        Value::Bytes(b) => String::from_utf8(b.to_vec()).ok(),
        _ => None,
    }
}
