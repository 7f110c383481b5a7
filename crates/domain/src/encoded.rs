//! A value with its JSON, written once: the answer to a request and the events about the same
//! value carry one text instead of serializing the value again for each.

use std::ops::Deref;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A value and its JSON text, which is exactly what `serde_json` writes for it: the value cannot
/// change once encoded, so the text always holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded<T> {
    value: T,
    json: String,
}

/// How a value is written to JSON for [`Encoded`]: the text `serde_json` writes for it, by serde
/// unless the type writes that same text faster itself (its tests then hold the two equal).
pub trait Encode: Serialize {
    /// Its JSON.
    fn encode(&self) -> String {
        // The domain's types are string-keyed structs and maps: writing them cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl<T: Encode> Encoded<T> {
    /// `value`, serialized now.
    pub fn new(value: T) -> Self {
        let json = value.encode();
        Self { value, json }
    }

    /// The value after `change`, which tells whether it changed it: encoded again when it did,
    /// and as it was, text and all, when it did not (so it must then have left it as it was).
    ///
    /// # Errors
    /// What `change` returns; the value is dropped.
    pub fn change<E>(
        self,
        change: impl FnOnce(&mut T) -> Result<bool, E>,
    ) -> Result<(Self, bool), E> {
        let Self { mut value, json } = self;
        if change(&mut value)? {
            Ok((Self::new(value), true))
        } else {
            Ok((Self { value, json }, false))
        }
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

/// Written as the value is (its JSON is that text).
impl<T: Serialize> Serialize for Encoded<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(s)
    }
}

/// Read as the value, then encoded: what is read back is what this version writes.
impl<'de, T: Encode + Deserialize<'de>> Deserialize<'de> for Encoded<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::deserialize(d).map(Self::new)
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
    use crate::{Alerta, CoordenadasKafka, Mensagem, NovaMensagem, NovoAlerta, Timestamp};

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
        assert_eq!(encoded.clone().into_inner(), alerta);
        let (same, changed) = encoded.clone().change(|_| Ok::<_, ()>(false)).unwrap();
        assert_eq!((same, changed), (encoded.clone(), false));
        let (resolved, changed) = encoded
            .change(|a| Ok::<_, ()>(a.resolve(Timestamp::now())))
            .unwrap();
        assert!(changed && resolved.resolvido);
        assert_eq!(resolved.json(), serde_json::to_string(&*resolved).unwrap());
        let mut odd = alerta.clone();
        odd.descricao = "tab\t, aspas \" e \\ barra, \u{1} e é".into();
        odd.origem = None;
        odd.labels.insert("chave\n".into(), "valor \"x\"".into());
        odd.resolvido_em = Some(Timestamp::from_millis(-62_167_219_200_001));
        odd.reconhecido = true;
        odd.reconhecido_por = Some("ana \"a\"".into());
        odd.reconhecido_em = Some(Timestamp::from_millis(1));
        odd.silenciado = true;
        odd.regra = Some("r1".into());
        odd.aberturas = u32::MAX;
        assert_eq!(odd.encode(), serde_json::to_string(&odd).unwrap());
    }

    #[test]
    fn a_message_is_written_as_serde_writes_it() {
        let input: NovaMensagem = serde_json::from_str(
            r#"{"tipo":"webhook","destinatario":"https://x/\"y\"","conteudo":"Olá\n\u0002\\","metadados":{"b":"2","a\t":"é"}}"#,
        )
        .unwrap();
        let mut m = Mensagem::accept(input, Timestamp::now()).unwrap();
        assert_eq!(m.encode(), serde_json::to_string(&m).unwrap());
        m.fail(
            "broker \"down\"",
            Timestamp::from_millis(-62_167_219_200_001),
        )
        .unwrap();
        assert_eq!(m.encode(), serde_json::to_string(&m).unwrap());
        m.erro = None;
        m.tentativas = u32::MAX;
        m.kafka = Some(CoordenadasKafka {
            topico: "messages.\"webhook\"".into(),
            particao: -1,
            offset: i64::MIN,
        });
        assert_eq!(m.encode(), serde_json::to_string(&m).unwrap());
    }
}
