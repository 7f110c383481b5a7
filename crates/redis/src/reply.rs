//! Reading the scripts' replies.

use fred::types::Value;
use integra_ports::{Replaced, Revision, StoreError, Versioned};

/// A reply as text of its own, if it is text.
pub(crate) fn text(value: Value) -> Option<String> {
    text_of(&value).map(str::to_owned)
}

/// A reply as text, where it is, if it is text.
pub(crate) fn text_of(value: &Value) -> Option<&str> {
    match value {
        Value::String(s) => Some(s),
        Value::Bytes(b) => std::str::from_utf8(b).ok(),
        _ => None,
    }
}

/// A reply as a revision.
fn revision(value: &Value) -> Result<Revision, StoreError> {
    value
        .as_u64()
        .map(Revision)
        .ok_or_else(|| StoreError::Unavailable("redis: a document has no revision".into()))
}

/// `{body, revision}` as the scripts answer it.
pub(crate) fn versioned(reply: Vec<Value>) -> Result<Versioned<String>, StoreError> {
    let mut parts = reply.into_iter();
    let (Some(body), Some(rev)) = (parts.next().and_then(text), parts.next()) else {
        return Err(StoreError::Unavailable(
            "redis: unexpected reply for a document".into(),
        ));
    };
    Ok(Versioned {
        revision: revision(&rev)?,
        record: body,
    })
}

/// What a compare-and-set script answered (`lua/replace.lua`, `lua/cut.lua`): 1 when written, 0
/// when the document is gone, else what is stored.
pub(crate) fn replaced(
    reply: Value,
    expected: Revision,
    script: &str,
) -> Result<Replaced<String>, StoreError> {
    match reply {
        Value::Integer(1) => Ok(Replaced::Done(expected.next())),
        Value::Integer(_) | Value::Null => Ok(Replaced::Stale(None)),
        Value::Array(stored) => Ok(Replaced::Stale(Some(versioned(stored)?))),
        _ => Err(StoreError::Unavailable(format!(
            "redis: unexpected reply to {script}"
        ))),
    }
}

pub(crate) fn revision_value(revision: Revision) -> Value {
    i64::try_from(revision.0).unwrap_or(i64::MAX).into()
}
