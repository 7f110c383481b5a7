//! Metric samples.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{json, Timestamp, ValidationError};

/// Most labels on one sample.
pub const MAX_LABELS: usize = 16;

/// The prefix of the service's own metrics: no client name may take it, so that no client series
/// can ever collide with one of the service's, today's or a later version's.
pub const OWN_METRICS_PREFIX: &str = "integra_";

/// The kind of a metric. A name keeps the kind of its first sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum TipoMetrica {
    /// A value that goes up and down; a sample sets it.
    #[default]
    Gauge,
    /// A total that only grows; a sample adds its (non-negative) value.
    Counter,
    /// A distribution; a sample is one observation.
    Histogram,
}

impl TipoMetrica {
    /// Every kind, in a fixed order.
    pub const ALL: [Self; 3] = [Self::Gauge, Self::Counter, Self::Histogram];

    /// The contract's name of this kind.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Gauge => "gauge",
            Self::Counter => "counter",
            Self::Histogram => "histogram",
        }
    }

    /// Parses the contract's name.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == text)
    }

    /// The names the Prometheus exposition of a metric `nome` of this kind uses: its family's and
    /// its samples'. Two metrics whose sets meet would break each other's exposition (a gauge
    /// `x_count` beside a histogram `x`), so a store refuses the second.
    pub fn exposed_names(self, nome: &str) -> Vec<String> {
        match self {
            Self::Gauge => vec![nome.to_owned()],
            // The family of a counter drops a `_total` suffix; its sample puts it back.
            Self::Counter => {
                let family = nome.strip_suffix("_total").unwrap_or(nome);
                vec![family.to_owned(), format!("{family}_total")]
            }
            Self::Histogram => ["", "_bucket", "_sum", "_count"]
                .iter()
                .map(|suffix| format!("{nome}{suffix}"))
                .collect(),
        }
    }
}

impl fmt::Display for TipoMetrica {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a client sends to `POST /metrics` (one of them, or an array). Its schema is written out
/// in `openapi.rs`: its rules depend on its kind.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NovaMetrica {
    /// The metric's name: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    pub nome: String,
    /// The sample's value: finite; not negative for a counter.
    pub valor: f64,
    /// The kind; `gauge` when absent.
    #[serde(default)]
    pub tipo: Option<TipoMetrica>,
    /// Label names `[a-zA-Z_][a-zA-Z0-9_]*` not starting with `__`; at most 16.
    #[serde(default, deserialize_with = "crate::validate::unique_map")]
    pub labels: Option<BTreeMap<String, String>>,
    /// When it was measured; now when absent.
    #[serde(default)]
    pub timestamp: Option<Timestamp>,
}

/// A metric sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Metrica {
    /// The metric's name.
    pub nome: String,
    /// The value.
    pub valor: f64,
    /// The kind.
    pub tipo: TipoMetrica,
    /// The labels that, with the name, identify its series.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// When it was measured.
    pub timestamp: Timestamp,
}

impl Metrica {
    /// A sample checked against the contract's rules, its timestamp defaulted to `now`.
    ///
    /// # Errors
    /// The first rule the input breaks, naming its field.
    pub fn record(input: NovaMetrica, now: Timestamp) -> Result<Self, ValidationError> {
        if !is_metric_name(&input.nome) {
            return Err(ValidationError::new(
                "nome",
                "must match [a-zA-Z_:][a-zA-Z0-9_:]* and have at most 200 characters",
            ));
        }
        if !input.valor.is_finite() {
            return Err(ValidationError::new("valor", "must be a finite number"));
        }
        if input.nome.starts_with(OWN_METRICS_PREFIX) {
            return Err(ValidationError::new(
                "nome",
                format!("names starting with {OWN_METRICS_PREFIX} are the service's own metrics"),
            ));
        }
        let tipo = input.tipo.unwrap_or_default();
        if tipo == TipoMetrica::Counter && input.nome == "_total" {
            return Err(ValidationError::new(
                "nome",
                "a counter's name needs more than the `_total` suffix",
            ));
        }
        if tipo == TipoMetrica::Counter && input.valor < 0.0 {
            return Err(ValidationError::new(
                "valor",
                "a counter's value must not be negative",
            ));
        }
        let labels = input.labels.unwrap_or_default();
        if labels.len() > MAX_LABELS {
            return Err(ValidationError::new(
                "labels",
                format!(
                    "must have at most {MAX_LABELS} labels, has {}",
                    labels.len()
                ),
            ));
        }
        for (name, value) in &labels {
            if !is_label_name(name) || name.starts_with("__") || name.len() > 128 {
                return Err(ValidationError::new(
                    format!("labels.{name}"),
                    "a label name must match [a-zA-Z_][a-zA-Z0-9_]*, not start with __, and have \
                     at most 128 characters",
                ));
            }
            // The label's path is written only for an error: every valid sample passes here.
            if let Some(rule) = crate::validate::miscounted(value, 0, 1024) {
                return Err(ValidationError::new(format!("labels.{name}"), rule));
            }
        }
        if tipo == TipoMetrica::Histogram && labels.contains_key("le") {
            return Err(ValidationError::new(
                "labels.le",
                "`le` is the label of a histogram's buckets",
            ));
        }
        Ok(Self {
            nome: input.nome,
            valor: input.valor,
            tipo,
            labels,
            timestamp: input.timestamp.unwrap_or(now),
        })
    }

    /// Appends this sample's JSON to `out`: the text serde writes for it, without serde's
    /// general path (a push's answer repeats every sample it stored).
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(br#"{"nome":"#);
        json::push_string(out, &self.nome);
        out.extend_from_slice(br#","valor":"#);
        // Writing into a Vec cannot fail; a number is written as serde writes it.
        let _ = serde_json::to_writer(&mut *out, &self.valor);
        out.extend_from_slice(br#","tipo":""#);
        out.extend_from_slice(self.tipo.as_str().as_bytes());
        out.extend_from_slice(br#"","labels":"#);
        json::push_map(out, &self.labels);
        out.extend_from_slice(br#","timestamp":"#);
        json::push_timestamp(out, self.timestamp);
        out.push(b'}');
    }

    /// The JSON array of `samples`, as serde writes it (see [`Metrica::write_json`]).
    pub fn json_array(samples: &[Self]) -> Vec<u8> {
        let mut out = Vec::with_capacity(2 + samples.len() * 160);
        out.push(b'[');
        for (i, sample) in samples.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            sample.write_json(&mut out);
        }
        out.push(b']');
        out
    }

    /// The key of this sample's series within its name: its labels, in order, as `k=v` pairs.
    pub fn series_key(&self) -> String {
        // One allocation for the usual key (values with nothing to escape), which every sample
        // stored makes at least once; built as text, so that it is never checked as UTF-8 again.
        let size = self.labels.iter().map(|(k, v)| k.len() + v.len() + 4).sum();
        let mut key = String::with_capacity(size);
        for (k, v) in &self.labels {
            if !key.is_empty() {
                key.push(',');
            }
            key.push_str(k);
            key.push('=');
            // Quoted so that `,` and `=` inside a value cannot make two label sets collide.
            json::push_str(&mut key, v);
        }
        key
    }

    /// The labels a [`Metrica::series_key`] was made of; `None` for a text no series key is.
    pub fn labels_of_series_key(key: &str) -> Option<BTreeMap<String, String>> {
        let mut labels = BTreeMap::new();
        let mut rest = key;
        while !rest.is_empty() {
            let (name, quoted) = rest.split_once('=')?;
            let mut values = serde_json::Deserializer::from_str(quoted).into_iter::<String>();
            let value = values.next()?.ok()?;
            let after = &quoted[values.byte_offset()..];
            labels.insert(name.to_owned(), value);
            rest = match after.strip_prefix(',') {
                Some(next) if !next.is_empty() => next,
                Some(_) => return None,
                None if after.is_empty() => after,
                None => return None,
            };
        }
        Some(labels)
    }
}

/// Whether `name` is a metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`, at most 200 characters.
pub(crate) fn is_metric_name(name: &str) -> bool {
    name.len() <= 200 && is_metric_name_syntax(name)
}

fn is_metric_name_syntax(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(json: &str) -> Result<Metrica, ValidationError> {
        Metrica::record(
            serde_json::from_str(json).unwrap(),
            Timestamp::from_millis(7),
        )
    }

    #[test]
    fn samples_are_written_as_serde_writes_them() {
        let mut samples: Vec<Metrica> = [
            r#"{"nome":"x","valor":1}"#,
            r#"{"nome":"fila:pedidos_total","valor":0.1,"tipo":"counter","labels":{"a":"1,b=\"2\"","b":"","c":"olá\n=\u0001\\"}}"#,
            r#"{"nome":"h","valor":-1e300,"tipo":"histogram","labels":{"z":"é"}}"#,
            r#"{"nome":"g","valor":123456789012345680000000,"timestamp":"2026-12-07T12:00:00.5+01:00"}"#,
        ]
        .into_iter()
        .map(|json| sample(json).unwrap())
        .collect();
        samples[0].valor = -0.0;
        samples[2].timestamp = Timestamp::from_millis(-62_167_219_200_001);
        let mut other = samples[1].clone();
        other.valor = f64::NAN;
        other.labels.insert("chave \"odd\"".into(), "\t".into());
        samples.push(other);
        assert_eq!(
            String::from_utf8(Metrica::json_array(&samples)).unwrap(),
            serde_json::to_string(&samples).unwrap()
        );
        assert_eq!(Metrica::json_array(&[]), b"[]");
    }

    #[test]
    fn a_series_key_gives_back_the_labels_it_was_made_of() {
        let m = sample(r#"{"nome":"x","valor":1,"labels":{"a":"1,b=\"2\"","b":"","c":"olá\n="}}"#)
            .unwrap();
        let key = m.series_key();
        // The stored form (Redis keeps series by it): each value as serde_json writes it.
        assert_eq!(key, r#"a="1,b=\"2\"",b="",c="olá\n=""#);
        assert_eq!(Metrica::labels_of_series_key(&key), Some(m.labels));
        assert_eq!(Metrica::labels_of_series_key(""), Some(BTreeMap::new()));
        for broken in ["a", "a=1", "a=\"1\",", "a=\"1\"b"] {
            assert_eq!(Metrica::labels_of_series_key(broken), None, "{broken}");
        }
    }

    #[test]
    fn defaults_to_a_gauge_measured_now() {
        let m = sample(r#"{"nome":"fila_pedidos","valor":12}"#).unwrap();
        assert_eq!(
            (m.tipo, m.timestamp),
            (TipoMetrica::Gauge, Timestamp::from_millis(7))
        );
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(v["tipo"], "gauge");
        assert_eq!(v["valor"], 12.0);
    }

    #[test]
    fn enforces_name_and_label_rules() {
        assert_eq!(
            sample(r#"{"nome":"9x","valor":1}"#).unwrap_err().field,
            "nome"
        );
        assert_eq!(
            sample(r#"{"nome":"a-b","valor":1}"#).unwrap_err().field,
            "nome"
        );
        assert!(sample(r#"{"nome":"ns:sub_total","valor":1}"#).is_ok());
        assert_eq!(
            sample(r#"{"nome":"x","valor":1,"labels":{"__x":"1"}}"#)
                .unwrap_err()
                .field,
            "labels.__x"
        );
        assert_eq!(
            sample(r#"{"nome":"x","valor":1,"labels":{"a:b":"1"}}"#)
                .unwrap_err()
                .field,
            "labels.a:b"
        );
        let many: BTreeMap<_, _> = (0..17)
            .map(|i| (format!("l{i}"), "v".to_string()))
            .collect();
        let input = NovaMetrica {
            nome: "x".into(),
            valor: 1.0,
            tipo: None,
            labels: Some(many),
            timestamp: None,
        };
        assert_eq!(
            Metrica::record(input, Timestamp::now()).unwrap_err().field,
            "labels"
        );
    }

    #[test]
    fn counters_are_never_negative_and_values_are_finite() {
        assert_eq!(
            sample(r#"{"nome":"c","valor":-1,"tipo":"counter"}"#)
                .unwrap_err()
                .field,
            "valor"
        );
        assert!(sample(r#"{"nome":"g","valor":-1}"#).is_ok());
        let input = NovaMetrica {
            nome: "x".into(),
            valor: f64::NAN,
            tipo: None,
            labels: None,
            timestamp: None,
        };
        assert_eq!(
            Metrica::record(input, Timestamp::now()).unwrap_err().field,
            "valor"
        );
    }

    #[test]
    fn the_service_prefix_a_bare_total_and_a_histograms_le_are_refused() {
        for json in [
            r#"{"nome":"integra_http_requests","valor":1}"#,
            r#"{"nome":"_total","valor":1,"tipo":"counter"}"#,
        ] {
            assert_eq!(sample(json).unwrap_err().field, "nome", "{json}");
        }
        let le = r#"{"nome":"h","valor":1,"tipo":"histogram","labels":{"le":"1"}}"#;
        assert_eq!(sample(le).unwrap_err().field, "labels.le");
        assert!(sample(r#"{"nome":"g","valor":1,"labels":{"le":"1"}}"#).is_ok());
    }

    #[test]
    fn each_kind_names_what_its_exposition_uses() {
        assert_eq!(TipoMetrica::Gauge.exposed_names("x_count"), ["x_count"]);
        assert_eq!(
            TipoMetrica::Histogram.exposed_names("x"),
            ["x", "x_bucket", "x_sum", "x_count"]
        );
        assert_eq!(TipoMetrica::Counter.exposed_names("x"), ["x", "x_total"]);
        assert_eq!(
            TipoMetrica::Counter.exposed_names("pedidos_total"),
            ["pedidos", "pedidos_total"]
        );
    }

    #[test]
    fn label_sets_that_differ_never_share_a_series_key() {
        let a = sample(r#"{"nome":"x","valor":1,"labels":{"a":"1,b=2"}}"#).unwrap();
        let b = sample(r#"{"nome":"x","valor":1,"labels":{"a":"1","b":"2"}}"#).unwrap();
        assert_ne!(a.series_key(), b.series_key());
    }
}
