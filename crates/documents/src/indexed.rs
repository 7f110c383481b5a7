//! How a record becomes a document: its encoding, its creation time and the indexes that answer
//! its list filters.
//!
//! A record has facets (a message: `tipo` and `status`; an alert: `severidade` and `resolvido`),
//! and it is in two indexes: `all`, and the one of its every facet (`tipo:email|status:ERRO`).
//! A filter that names every facet, or none, reads one index; a filter that names some reads the
//! indexes of every value of the others, merged (`tipo:email` is `tipo:email|status:PENDENTE`,
//! `…|status:PROCESSANDO`, and so on). Two index writes a record, whatever its number of facets,
//! where one index per combination took 2^facets (four, and eight with a third facet); a page of
//! a partial filter reads a few ranges instead of one, each no longer than `skip + limit`.

use std::borrow::Cow;

use integra_domain::{
    Encoded, Mensagem, Regra, Severidade, Silencio, StatusMensagem, TimeRange, Timestamp,
    TipoMensagem,
};
use integra_ports::{Record, StoredAlert};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::Collection;

/// The index of every record of a collection.
const ALL: &str = "all";

/// One facet of a record: a name, and the value this record has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facet {
    /// The filter's name.
    pub name: &'static str,
    /// The value.
    pub value: &'static str,
}

impl Facet {
    const fn of(name: &'static str, value: &'static str) -> Self {
        Self { name, value }
    }
}

/// A record kept as a document.
pub trait Indexed: Record + Serialize + DeserializeOwned {
    /// Its collection.
    const COLLECTION: Collection;

    /// Its JSON, as stored.
    ///
    /// # Errors
    /// When it cannot be written as JSON.
    fn to_json(&self) -> serde_json::Result<String> {
        serde_json::to_string(self)
    }

    /// Where its JSON may end with what the API does not show: the text that begins that part, last
    /// in the body, its value an object (see [`StoredAlert`]). `None`: the API shows it all.
    const PRIVATE_TAIL: Option<&'static str> = None;

    /// What the API shows of a stored body (this type's JSON): the body cut where its
    /// [`Indexed::PRIVATE_TAIL`] begins, closed again, or all of it.
    fn public_json(stored: &str) -> Cow<'_, str> {
        match public_len(stored, Self::PRIVATE_TAIL) {
            Some(len) => Cow::Owned(format!("{}}}", &stored[..len])),
            None => Cow::Borrowed(stored),
        }
    }

    /// When it was created: the order of its indexes.
    fn created(&self) -> Timestamp;

    /// Its facets, always in the same order.
    fn facets(&self) -> Vec<Facet>;

    /// Every facet's name and every value it can take, in the order of [`Indexed::facets`].
    const FACETS: &'static [(&'static str, &'static [&'static str])];

    /// The value of each facet `filter` asks for (in the order of [`Indexed::FACETS`], `None`
    /// where it asks for any), and the creation times it asks for.
    fn wanted(filter: &Self::Filter) -> (Vec<Option<&'static str>>, TimeRange);

    /// The indexes this record belongs in: `all`, and the one of its every facet.
    fn indexes(&self) -> Vec<String> {
        let facets = self.facets();
        if facets.is_empty() {
            return vec![ALL.to_owned()];
        }
        vec![ALL.to_owned(), index_name(&facets)]
    }

    /// The indexes whose union, merged in creation order, is what a filter asking for these
    /// facet values passes: `all` when it asks for none, else one index per combination of the
    /// values it leaves open.
    fn indexes_for(wanted: &[Option<&'static str>]) -> Vec<String> {
        if wanted.iter().all(Option::is_none) {
            return vec![ALL.to_owned()];
        }
        let mut combinations: Vec<Vec<Facet>> = vec![Vec::new()];
        for ((name, values), asked) in Self::FACETS.iter().zip(wanted) {
            let values: &[&'static str] = match asked {
                Some(value) => std::slice::from_ref(value),
                None => values,
            };
            combinations = combinations
                .into_iter()
                .flat_map(|chosen| {
                    values.iter().map(move |value| {
                        let mut next = chosen.clone();
                        next.push(Facet::of(name, value));
                        next
                    })
                })
                .collect();
        }
        combinations.iter().map(index_name).collect()
    }
}

/// Where a body's public part ends when it has a private tail (the last `tail` in it): its public
/// JSON is `body[..len]` closed with `}`. The one rule for every engine: [`Indexed::public_json`]
/// and the engines' `cut_tail` use it (`lua/cut.lua` is its Redis form).
pub fn public_len(body: &str, tail: Option<&str>) -> Option<usize> {
    tail.and_then(|t| body.rfind(t))
}

/// The index that holds exactly the records with these facets. Written straight into one string:
/// it is made for every write.
pub(crate) fn index_name<'a>(facets: impl IntoIterator<Item = &'a Facet>) -> String {
    let mut name = String::with_capacity(48);
    for facet in facets {
        if !name.is_empty() {
            name.push('|');
        }
        name.push_str(facet.name);
        name.push(':');
        name.push_str(facet.value);
    }
    if name.is_empty() {
        name.push_str(ALL);
    }
    name
}

impl Indexed for Encoded<Mensagem> {
    const COLLECTION: Collection = Collection::new("message");

    /// The text it was encoded as.
    fn to_json(&self) -> serde_json::Result<String> {
        Ok(self.json().to_owned())
    }

    fn created(&self) -> Timestamp {
        self.criado_em
    }

    fn facets(&self) -> Vec<Facet> {
        vec![
            Facet::of("tipo", self.tipo.as_str()),
            Facet::of("status", self.status.as_str()),
        ]
    }

    const FACETS: &'static [(&'static str, &'static [&'static str])] = &[
        ("tipo", &["email", "sms", "push", "webhook"]),
        ("status", &["PENDENTE", "PROCESSANDO", "CONCLUIDA", "ERRO"]),
    ];

    fn wanted(filter: &Self::Filter) -> (Vec<Option<&'static str>>, TimeRange) {
        let facets = vec![
            filter.tipo.map(TipoMensagem::as_str),
            filter.status.map(StatusMensagem::as_str),
        ];
        (facets, TimeRange::ALL)
    }
}

const fn boolean(r: bool) -> &'static str {
    if r {
        "true"
    } else {
        "false"
    }
}

const fn severidade(s: Severidade) -> Facet {
    Facet::of("severidade", s.as_str())
}

/// How the event a stored alert owes ends its JSON: `owed` is serialized after the alert's own
/// fields (see [`StoredAlert`]), and its value is an object, which no field of an alert can hold
/// under that name (labels are text): so this text, found last, is where the alert ends.
const OWED_TAIL: &str = ",\"owed\":{";

impl Indexed for StoredAlert {
    const COLLECTION: Collection = Collection::new("alert");

    /// The alert's JSON, as it was encoded, then the event it owes: what serde writes for a
    /// [`StoredAlert`], without the slower path `#[serde(flatten)]` takes, nor the alert written
    /// again.
    fn to_json(&self) -> serde_json::Result<String> {
        let alerta = self.alerta.json();
        let Some(owed) = &self.owed else {
            return Ok(alerta.to_owned());
        };
        let owed = serde_json::to_string(owed)?;
        let tail = OWED_TAIL.trim_end_matches('{');
        let mut json = String::with_capacity(alerta.len() + tail.len() + owed.len() + 1);
        json.push_str(alerta.strip_suffix('}').unwrap_or(alerta));
        json.push_str(tail);
        json.push_str(&owed);
        json.push('}');
        Ok(json)
    }

    /// The event it owes, after the alert's own fields.
    const PRIVATE_TAIL: Option<&'static str> = Some(OWED_TAIL);

    fn created(&self) -> Timestamp {
        self.alerta.criado_em
    }

    fn facets(&self) -> Vec<Facet> {
        vec![
            severidade(self.alerta.severidade),
            Facet::of("resolvido", boolean(self.alerta.resolvido)),
            Facet::of("reconhecido", boolean(self.alerta.reconhecido)),
        ]
    }

    const FACETS: &'static [(&'static str, &'static [&'static str])] = &[
        ("severidade", &["baixa", "media", "alta", "critica"]),
        ("resolvido", &["false", "true"]),
        ("reconhecido", &["false", "true"]),
    ];

    fn wanted(filter: &Self::Filter) -> (Vec<Option<&'static str>>, TimeRange) {
        let facets = vec![
            filter.severidade.map(Severidade::as_str),
            filter.resolvido.map(boolean),
            filter.reconhecido.map(boolean),
        ];
        (facets, filter.criado_em)
    }
}

/// A record listed whole (no filter, no facet): only the index `all`, by its creation time, in a
/// lasting collection (kept until removed, never expired nor evicted).
macro_rules! listed_whole {
    ($record:ty, $collection:literal) => {
        impl Indexed for $record {
            const COLLECTION: Collection = Collection::lasting($collection);

            fn created(&self) -> Timestamp {
                self.criado_em
            }

            fn facets(&self) -> Vec<Facet> {
                Vec::new()
            }

            const FACETS: &'static [(&'static str, &'static [&'static str])] = &[];

            fn wanted((): &Self::Filter) -> (Vec<Option<&'static str>>, TimeRange) {
                (Vec::new(), TimeRange::ALL)
            }
        }
    };
}

listed_whole!(Silencio, "silence");
listed_whole!(Regra, "rule");

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use integra_domain::{AlertFilter, MessageFilter, NovaMensagem, StatusMensagem, TipoMensagem};

    use super::*;

    fn message() -> Encoded<Mensagem> {
        let input: NovaMensagem =
            serde_json::from_str(r#"{"tipo":"sms","destinatario":"a","conteudo":"b"}"#).unwrap();
        Encoded::new(Mensagem::accept(input, Timestamp::from_millis(1)).unwrap())
    }

    #[test]
    fn a_record_is_in_the_index_of_all_and_the_one_of_its_every_facet() {
        assert_eq!(message().indexes(), ["all", "tipo:sms|status:PROCESSANDO"]);
    }

    #[test]
    fn every_facet_lists_every_value_its_type_has() {
        let tipos: Vec<&str> = TipoMensagem::ALL.iter().map(|t| t.as_str()).collect();
        let statuses: Vec<&str> = StatusMensagem::ALL.iter().map(|s| s.as_str()).collect();
        let severidades: Vec<&str> = Severidade::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            <Encoded<Mensagem>>::FACETS,
            [("tipo", &tipos[..]), ("status", &statuses[..])]
        );
        assert_eq!(
            StoredAlert::FACETS,
            [
                ("severidade", &severidades[..]),
                ("resolvido", &["false", "true"][..]),
                ("reconhecido", &["false", "true"][..])
            ]
        );
    }

    #[test]
    fn a_stored_alert_is_written_as_serde_writes_it_and_shown_without_its_event() {
        let input: integra_domain::NovoAlerta = serde_json::from_str(
            r#"{"titulo":"t","severidade":"alta","labels":{"owed":"{","x":",\"owed\":{"}}"#,
        )
        .unwrap();
        let alerta = integra_domain::Alerta::raise(input, Timestamp::from_millis(1)).unwrap();
        let public = serde_json::to_string(&alerta).unwrap();
        for owed in [
            None,
            Some(integra_ports::OwedEvent {
                event: integra_domain::AlertEvent::Criado,
                since: Some(Timestamp::from_millis(2)),
            }),
        ] {
            let stored = StoredAlert {
                alerta: integra_domain::Encoded::new(alerta.clone()),
                owed,
            };
            let json = stored.to_json().unwrap();
            assert_eq!(json, serde_json::to_string(&stored).unwrap());
            assert_eq!(serde_json::from_str::<StoredAlert>(&json).unwrap(), stored);
            assert_eq!(StoredAlert::public_json(&json), public);
        }
    }

    #[test]
    fn every_filter_names_the_indexes_whose_union_answers_it() {
        let names =
            |f: MessageFilter| <Encoded<Mensagem>>::indexes_for(&<Encoded<Mensagem>>::wanted(&f).0);
        assert_eq!(names(MessageFilter::default()), ["all"]);
        let sms = MessageFilter {
            tipo: Some(TipoMensagem::Sms),
            status: None,
        };
        assert_eq!(
            names(sms),
            [
                "tipo:sms|status:PENDENTE",
                "tipo:sms|status:PROCESSANDO",
                "tipo:sms|status:CONCLUIDA",
                "tipo:sms|status:ERRO"
            ]
        );
        let erro = MessageFilter {
            status: Some(StatusMensagem::Erro),
            ..sms
        };
        assert_eq!(names(erro), ["tipo:sms|status:ERRO"]);
        let open_unacknowledged = AlertFilter {
            resolvido: Some(false),
            reconhecido: Some(false),
            ..AlertFilter::default()
        };
        assert_eq!(
            StoredAlert::indexes_for(&StoredAlert::wanted(&open_unacknowledged).0),
            [
                "severidade:baixa|resolvido:false|reconhecido:false",
                "severidade:media|resolvido:false|reconhecido:false",
                "severidade:alta|resolvido:false|reconhecido:false",
                "severidade:critica|resolvido:false|reconhecido:false"
            ]
        );
        let alta = AlertFilter {
            severidade: Some(Severidade::Alta),
            ..AlertFilter::default()
        };
        assert_eq!(
            StoredAlert::indexes_for(&StoredAlert::wanted(&alta).0).len(),
            4
        );
    }
}
