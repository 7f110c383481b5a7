//! JSON text written straight into a buffer where serde's general path costs more than the text
//! (a push's answer repeats every sample; every event a system channel carries is framed): the
//! same text serde writes, which the tests of each writer hold.

/// Whether serde_json writes `text` as a JSON string unchanged between its quotes: no quote, no
/// backslash, no control character (it escapes nothing else).
pub(crate) fn plain(text: &str) -> bool {
    text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\')
}

/// Appends `text` as a JSON string, as serde_json writes it.
pub(crate) fn push_string(out: &mut Vec<u8>, text: &str) {
    if plain(text) {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else {
        // Writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, text);
    }
}

/// [`push_string`] into text.
pub(crate) fn push_str(out: &mut String, text: &str) {
    if plain(text) {
        out.push('"');
        out.push_str(text);
        out.push('"');
    } else if let Ok(quoted) = serde_json::to_string(text) {
        // A string always serializes; written as `push_string` writes it, without a copy of it
        // into a `Value` first.
        out.push_str(&quoted);
    }
}

/// Appends `text` as a JSON string, or `null`.
pub(crate) fn push_opt_string(out: &mut Vec<u8>, text: Option<&str>) {
    match text {
        Some(text) => push_string(out, text),
        None => out.extend_from_slice(b"null"),
    }
}

/// Appends `true` or `false`.
pub(crate) fn push_bool(out: &mut Vec<u8>, value: bool) {
    out.extend_from_slice(if value { b"true" } else { b"false" });
}

/// Appends an instant as serde writes it: its text, quoted (it holds nothing to escape).
pub(crate) fn push_timestamp(out: &mut Vec<u8>, at: crate::Timestamp) {
    out.push(b'"');
    at.push_text(out);
    out.push(b'"');
}

/// Appends an instant as serde writes it, or `null`.
pub(crate) fn push_opt_timestamp(out: &mut Vec<u8>, at: Option<crate::Timestamp>) {
    match at {
        Some(at) => push_timestamp(out, at),
        None => out.extend_from_slice(b"null"),
    }
}

/// Appends a string-to-string map as serde writes it: an object in the map's order.
pub(crate) fn push_map(out: &mut Vec<u8>, map: &std::collections::BTreeMap<String, String>) {
    out.push(b'{');
    for (i, (name, value)) in map.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_string(out, name);
        out.push(b':');
        push_string(out, value);
    }
    out.push(b'}');
}

/// About the bytes [`push_map`] writes for `map`, to size a buffer.
pub(crate) fn map_size(map: &std::collections::BTreeMap<String, String>) -> usize {
    map.iter().map(|(k, v)| k.len() + v.len() + 6).sum()
}

/// The text of a buffer these writers filled: only whole UTF-8 strings and ASCII went in.
pub(crate) fn into_string(out: Vec<u8>) -> String {
    String::from_utf8(out).unwrap_or_default()
}
