//! Label sets whose values are escaped as the text formats require.
//!
//! prometheus-client writes label values as they are (client_rust#151): a value with a `"` or a
//! newline breaks the exposition, and a crafted one injects series. Every value here is escaped
//! when it is encoded: `\` as `\\`, `"` as `\"`, a line feed as `\n`. A scraper reads the
//! original value back.

use std::fmt::Write;

use integra_domain::Metrica;
use prometheus_client::encoding::{
    EncodeLabelSet, EncodeLabelValue, LabelSetEncoder, LabelValueEncoder,
};

/// A label value, escaped when encoded.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LabelValue(String);

impl From<&str> for LabelValue {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl From<String> for LabelValue {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl EncodeLabelValue for LabelValue {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> Result<(), std::fmt::Error> {
        let mut rest = self.0.as_str();
        while let Some(at) = rest.find(['\\', '"', '\n']) {
            encoder.write_str(&rest[..at])?;
            encoder.write_str(match rest.as_bytes()[at] {
                b'\\' => "\\\\",
                b'"' => "\\\"",
                _ => "\\n",
            })?;
            rest = &rest[at + 1..];
        }
        encoder.write_str(rest)
    }
}

/// A label set: names (checked by the domain: `[a-zA-Z_][a-zA-Z0-9_]*`) and escaped values.
pub type Labels = Vec<(String, LabelValue)>;

/// A client series' label set, held as its series key ([`Metrica::series_key`]): a sample is
/// looked up with one string made and hashed, not two per label. It is decoded into escaped
/// pairs only when the exposition is written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SeriesLabels(String);

impl SeriesLabels {
    /// The label set of `sample`'s series.
    pub fn of(sample: &Metrica) -> Self {
        Self(sample.series_key())
    }
}

impl EncodeLabelSet for SeriesLabels {
    fn encode(&self, encoder: LabelSetEncoder<'_>) -> Result<(), std::fmt::Error> {
        // A key this type made always reads back; the labels keep their order (by name).
        let pairs: Labels = Metrica::labels_of_series_key(&self.0)
            .unwrap_or_default()
            .into_iter()
            .map(|(name, value)| (name, LabelValue::from(value)))
            .collect();
        pairs.encode(encoder)
    }
}
