//! A value with its JSON, written once: the answer to a request and the events about the same
//! value carry one text instead of serializing the value again for each.

use std::ops::Deref;

use serde::Serialize;

/// A value and its JSON text, which is exactly what `serde_json` writes for it: the value cannot
/// change once encoded, so the text always holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Encoded<T> {
    value: T,
    json: String,
}

impl<T: Serialize> Encoded<T> {
    /// `value`, serialized now.
    pub fn new(value: T) -> Self {
        // The domain's types are string-keyed structs and maps: writing them cannot fail.
        let json = serde_json::to_string(&value).unwrap_or_default();
        Self { value, json }
    }
}

impl<T> Encoded<T> {
    /// Its JSON.
    pub fn json(&self) -> &str {
        &self.json
    }

    /// Its JSON, taken.
    pub fn into_json(self) -> String {
        self.json
    }

    /// The value, taken.
    pub fn into_inner(self) -> T {
        self.value
    }
}

impl<T> Deref for Encoded<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Alerta, NovoAlerta, Timestamp};

    #[test]
    fn the_text_is_what_serde_writes_for_the_value() {
        let input: NovoAlerta = serde_json::from_str(
            r#"{"titulo":"Fila \"parada\"","severidade":"alta","labels":{"a":"b"}}"#,
        )
        .unwrap();
        let alerta = Alerta::raise(input, Timestamp::now()).unwrap();
        let encoded = Encoded::new(alerta.clone());
        assert_eq!(encoded.json(), serde_json::to_string(&alerta).unwrap());
        assert_eq!(*encoded, alerta);
        assert_eq!(encoded.into_inner(), alerta);
    }
}
