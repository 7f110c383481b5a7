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
