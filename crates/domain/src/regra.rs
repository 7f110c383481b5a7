//! Rules: a condition over the series of a metric. While a series' latest sample has met it for
//! `por_segundos`, the rule holds the alert of that series open; when a later sample stops
//! meeting it, the rule resolves that alert.
//!
//! A rule keeps, per series, only what an evaluation needs: the series that are pending (their
//! latest samples meet the condition, for less than `por_segundos`) or firing, and an action
//! (open, resolve) that was decided but is not yet done. A series that neither meets nor fires
//! has no state. Every instance evaluates the samples it receives against the rule as stored,
//! and writes it back with a compare-and-set: the series' `ultima` orders samples that arrive at
//! several instances, and the decision to open or resolve is written before it is carried out,
//! so that it is made once.
//!
//! A series that stops reporting keeps the state of its latest sample: a pending one fires when
//! its time is up, a firing one stays firing. The latest sample is the series' value until
//! another says otherwise (what a gauge means, and what Pushgateway does); a silent series is
//! not a resolved problem.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::metrica::is_metric_name;
use crate::{
    validate, Alerta, Id, Metrica, NovoAlerta, Severidade, Timestamp, TipoMensagem,
    ValidationError, MAX_LABELS,
};

/// Longest rule id: the alert id `regra:{id}:{16 hex}` must stay within the id limit.
pub const MAX_RULE_ID_LEN: usize = 100;

/// Longest `por_segundos`: a week.
pub const MAX_POR_SEGUNDOS: u64 = 7 * 86_400;

/// Most notification targets of one rule.
pub const MAX_NOTIFICAR: usize = 8;

/// How a sample's value compares to the rule's `limite`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Condicao {
    /// `>`
    #[serde(rename = ">")]
    Maior,
    /// `>=`
    #[serde(rename = ">=")]
    MaiorOuIgual,
    /// `<`
    #[serde(rename = "<")]
    Menor,
    /// `<=`
    #[serde(rename = "<=")]
    MenorOuIgual,
    /// `==`
    #[serde(rename = "==")]
    Igual,
    /// `!=`
    #[serde(rename = "!=")]
    Diferente,
}

impl Condicao {
    /// Whether `valor` meets it against `limite`.
    #[allow(clippy::float_cmp)]
    pub fn holds(self, valor: f64, limite: f64) -> bool {
        match self {
            Self::Maior => valor > limite,
            Self::MaiorOuIgual => valor >= limite,
            Self::Menor => valor < limite,
            Self::MenorOuIgual => valor <= limite,
            Self::Igual => valor == limite,
            Self::Diferente => valor != limite,
        }
    }

    /// Its symbol.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Maior => ">",
            Self::MaiorOuIgual => ">=",
            Self::Menor => "<",
            Self::MenorOuIgual => "<=",
            Self::Igual => "==",
            Self::Diferente => "!=",
        }
    }
}

impl fmt::Display for Condicao {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a rule's alert is notified: a message of this `tipo` to this `destinatario`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Notificar {
    /// The message's channel.
    pub tipo: TipoMensagem,
    /// Its recipient: 1 to 320 characters.
    pub destinatario: String,
}

/// What a client sends to `POST /rules`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NovaRegra {
    /// The client's id (at most 100 characters); the server makes one when absent.
    #[serde(default)]
    pub id: Option<Id>,
    /// The metric whose series it watches.
    pub metrica: String,
    /// Labels a series must carry, each with this value (a subset of its labels).
    #[serde(default, deserialize_with = "crate::validate::unique_map")]
    pub labels: Option<BTreeMap<String, String>>,
    /// The comparison.
    pub condicao: Condicao,
    /// The threshold: a finite number.
    pub limite: f64,
    /// How long the latest samples must meet the condition before the alert opens (0: at once).
    #[serde(default)]
    pub por_segundos: u64,
    /// The alert's severity.
    pub severidade: Severidade,
    /// The alert's title: 1 to 200 characters.
    pub titulo: String,
    /// The alert's description: at most 4096 characters; one is written when absent.
    #[serde(default)]
    pub descricao: Option<String>,
    /// Where each opening and resolution is notified.
    #[serde(default)]
    pub notificar: Option<Vec<Notificar>>,
}

/// Where a rule stands: firing when one of its series fires, else pending when one is pending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum EstadoRegra {
    /// No series meets the condition.
    Inativa,
    /// A series meets it, for less than `por_segundos`.
    Pendente,
    /// A series has met it for `por_segundos`: its alert is open.
    Disparada,
}

/// What a rule does to the alert of a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Acao {
    /// Open (or reopen) it.
    Abrir,
    /// Resolve it.
    Resolver,
}

/// An action decided and written, not yet known to be done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AcaoDevida {
    /// Which.
    pub acao: Acao,
    /// When an evaluator took it up; another takes it over once this is a lease old.
    pub desde: Timestamp,
}

/// A series a rule watches, while it is pending or firing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SerieRegra {
    /// The series' labels.
    pub labels: BTreeMap<String, String>,
    /// The id of its alert.
    pub alerta: Id,
    /// Its latest sample's value.
    pub valor: f64,
    /// Its latest sample's timestamp: older samples change nothing.
    pub ultima: Timestamp,
    /// Since when its samples meet the condition (the first of the latest run that does); null
    /// when the latest does not.
    pub desde: Option<Timestamp>,
    /// Whether its alert is open by this rule.
    pub disparada: bool,
    /// The action decided and not yet done.
    #[serde(default)]
    pub acao_devida: Option<AcaoDevida>,
}

impl SerieRegra {
    /// Neither meeting, firing nor owing: no state to keep.
    const fn idle(&self) -> bool {
        self.desde.is_none() && !self.disparada && self.acao_devida.is_none()
    }
}

/// One sample as a rule takes it in: its series, its value and time, and its labels where the
/// series may start to be tracked (they may be left out for a sample that does not meet the
/// condition: it starts nothing).
#[derive(Debug, Clone, Copy)]
pub struct Observacao<'a> {
    /// The series (see [`series_hash`]).
    pub serie: &'a str,
    /// Its labels.
    pub labels: Option<&'a BTreeMap<String, String>>,
    /// The value.
    pub valor: f64,
    /// When it was measured.
    pub timestamp: Timestamp,
}

/// An action a rule decided for one series' alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transicao {
    /// The series (its key in [`Regra::series`]).
    pub serie: String,
    /// What to do.
    pub acao: Acao,
}

/// A rule, with the state of its series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Regra {
    /// Its id.
    pub id: Id,
    /// The metric it watches.
    pub metrica: String,
    /// The labels a series must carry.
    pub labels: BTreeMap<String, String>,
    /// The comparison.
    pub condicao: Condicao,
    /// The threshold.
    pub limite: f64,
    /// How long the condition must hold before the alert opens.
    pub por_segundos: u64,
    /// The alert's severity.
    pub severidade: Severidade,
    /// The alert's title.
    pub titulo: String,
    /// The alert's description (empty: one is written from the rule and the series).
    pub descricao: String,
    /// Where each opening and resolution is notified.
    pub notificar: Vec<Notificar>,
    /// When it was made.
    pub criado_em: Timestamp,
    /// When its state last changed.
    pub atualizado_em: Timestamp,
    /// Where it stands.
    pub estado: EstadoRegra,
    /// The series pending or firing, by the 16 hex digits that end their alert's id.
    pub series: BTreeMap<String, SerieRegra>,
}

impl Regra {
    /// A rule made now, checked against the contract's rules.
    ///
    /// # Errors
    /// The first rule the input breaks, naming its field.
    pub fn create(input: NovaRegra, now: Timestamp) -> Result<Self, ValidationError> {
        let id = input.id.unwrap_or_else(Id::generate);
        if id.as_str().len() > MAX_RULE_ID_LEN {
            return Err(ValidationError::new(
                "id",
                format!("a rule id has at most {MAX_RULE_ID_LEN} characters"),
            ));
        }
        if !is_metric_name(&input.metrica) {
            return Err(ValidationError::new(
                "metrica",
                "must be a metric name: [a-zA-Z_:][a-zA-Z0-9_:]*, at most 200 characters",
            ));
        }
        let labels = input.labels.unwrap_or_default();
        if labels.len() > MAX_LABELS {
            return Err(ValidationError::new(
                "labels",
                format!("a series has at most {MAX_LABELS} labels"),
            ));
        }
        validate::string_map("labels", &labels, MAX_LABELS, 1024)?;
        if !input.limite.is_finite() {
            return Err(ValidationError::new("limite", "must be a finite number"));
        }
        if input.por_segundos > MAX_POR_SEGUNDOS {
            return Err(ValidationError::new(
                "por_segundos",
                format!("must be at most {MAX_POR_SEGUNDOS} (a week)"),
            ));
        }
        validate::chars("titulo", &input.titulo, 1, 200)?;
        let descricao = input.descricao.unwrap_or_default();
        validate::chars("descricao", &descricao, 0, 4096)?;
        let notificar = input.notificar.unwrap_or_default();
        if notificar.len() > MAX_NOTIFICAR {
            return Err(ValidationError::new(
                "notificar",
                format!("at most {MAX_NOTIFICAR} entries"),
            ));
        }
        for (i, n) in notificar.iter().enumerate() {
            validate::chars(
                &format!("notificar[{i}].destinatario"),
                &n.destinatario,
                1,
                320,
            )?;
        }
        Ok(Self {
            id,
            metrica: input.metrica,
            labels,
            condicao: input.condicao,
            limite: input.limite,
            por_segundos: input.por_segundos,
            severidade: input.severidade,
            titulo: input.titulo,
            descricao,
            notificar,
            criado_em: now,
            atualizado_em: now,
            estado: EstadoRegra::Inativa,
            series: BTreeMap::new(),
        })
    }

    /// Whether `other` is the same rule as asked for: everything a client sends, equal.
    #[allow(clippy::float_cmp)]
    pub fn same_definition(&self, other: &Self) -> bool {
        self.id == other.id
            && self.metrica == other.metrica
            && self.labels == other.labels
            && self.condicao == other.condicao
            && self.limite == other.limite
            && self.por_segundos == other.por_segundos
            && self.severidade == other.severidade
            && self.titulo == other.titulo
            && self.descricao == other.descricao
            && self.notificar == other.notificar
    }

    /// Whether it watches the series of `sample`: its metric, with the rule's labels.
    pub fn watches(&self, sample: &Metrica) -> bool {
        sample.nome == self.metrica
            && self
                .labels
                .iter()
                .all(|(k, v)| sample.labels.get(k).is_some_and(|have| have == v))
    }

    /// Takes in one sample of a series it watches; returns whether the rule changed. A sample
    /// older than the series' latest changes nothing; one of the same time is taken as later (the
    /// samples of one instance come in their order of arrival).
    pub fn observe(&mut self, sample: &Metrica) -> bool {
        let serie = series_hash(&sample.nome, &sample.labels);
        self.observe_all([Observacao {
            serie: &serie,
            labels: Some(&sample.labels),
            valor: sample.valor,
            timestamp: sample.timestamp,
        }])
    }

    /// Takes in samples of the series it watches, in their order of arrival, as
    /// [`Regra::observe`] does one; returns whether the rule changed.
    pub fn observe_all<'a>(&mut self, samples: impl IntoIterator<Item = Observacao<'a>>) -> bool {
        let mut changed = false;
        let mut latest = self.atualizado_em;
        for sample in samples {
            if self.observe_one(&sample) {
                changed = true;
                latest = latest.max(sample.timestamp);
            }
        }
        if changed {
            self.refresh(latest);
        }
        changed
    }

    fn observe_one(&mut self, sample: &Observacao<'_>) -> bool {
        let meets = self.condicao.holds(sample.valor, self.limite);
        if let Some(serie) = self.series.get_mut(sample.serie) {
            if sample.timestamp < serie.ultima {
                return false;
            }
            serie.ultima = sample.timestamp;
            serie.valor = sample.valor;
            serie.desde = if meets {
                serie.desde.or(Some(sample.timestamp))
            } else {
                None
            };
            if serie.idle() {
                self.series.remove(sample.serie);
            }
            return true;
        }
        // A series starts to be tracked by a sample that meets the condition, which brings its
        // labels.
        let (true, Some(labels)) = (meets, sample.labels) else {
            return false;
        };
        let alerta = self.alert_id(sample.serie);
        self.series.insert(
            sample.serie.to_owned(),
            SerieRegra {
                labels: labels.clone(),
                alerta,
                valor: sample.valor,
                ultima: sample.timestamp,
                desde: Some(sample.timestamp),
                disparada: false,
                acao_devida: None,
            },
        );
        true
    }

    /// The pending series whose time is up at `now`: before they fire, their samples since
    /// they began to meet the condition are read again (see [`Regra::confirm`]).
    pub fn due(&self, now: Timestamp) -> Vec<String> {
        self.series
            .iter()
            .filter(|(_, s)| !s.disparada && s.acao_devida.is_none())
            .filter(|(_, s)| s.desde.is_some_and(|d| self.elapsed(d, now)))
            .map(|(key, _)| key.clone())
            .collect()
    }

    /// Checks a pending series against every sample the store holds of it since it began to
    /// meet the condition (ascending): samples that reached other instances first may have broken
    /// the run, or started it later. Returns whether the rule changed.
    pub fn confirm(&mut self, serie: &str, samples: &[Metrica]) -> bool {
        let (Some(s), Some(last)) = (self.series.get_mut(serie), samples.last()) else {
            return false;
        };
        let before = s.clone();
        let mut desde = None;
        for sample in samples {
            desde = if self.condicao.holds(sample.valor, self.limite) {
                desde.or(Some(sample.timestamp))
            } else {
                None
            };
        }
        if last.timestamp >= s.ultima {
            s.ultima = last.timestamp;
            s.valor = last.valor;
            s.desde = desde;
        }
        let changed = *s != before;
        if s.idle() {
            self.series.remove(serie);
        }
        self.refresh(last.timestamp.max(self.atualizado_em));
        changed
    }

    /// Decides, at `now`, what each series' alert needs: open where the condition has held for
    /// `por_segundos`, resolve where a firing series stopped meeting it. Each decision is written
    /// into the series as owed, so that it is made once; [`Regra::settle`] clears it when done.
    pub fn advance(&mut self, now: Timestamp) -> Vec<Transicao> {
        let mut decided = Vec::new();
        let por = self.por_millis();
        for (key, s) in &mut self.series {
            if s.acao_devida.is_some() {
                continue;
            }
            let acao = match (s.disparada, s.desde) {
                (false, Some(d)) if d.millis().saturating_add(por) <= now.millis() => Acao::Abrir,
                (true, None) => Acao::Resolver,
                _ => continue,
            };
            s.disparada = acao == Acao::Abrir;
            s.acao_devida = Some(AcaoDevida { acao, desde: now });
            decided.push(Transicao {
                serie: key.clone(),
                acao,
            });
        }
        if !decided.is_empty() {
            self.refresh(now);
        }
        decided
    }

    /// The actions taken up before `now - lease_ms` and not yet done (their evaluator failed or
    /// is gone), taken up again now.
    pub fn take_over(&mut self, now: Timestamp, lease_ms: i64) -> Vec<Transicao> {
        let mut taken = Vec::new();
        for (key, s) in &mut self.series {
            if let Some(owed) = &mut s.acao_devida {
                if owed.desde.millis().saturating_add(lease_ms) <= now.millis() {
                    owed.desde = now;
                    taken.push(Transicao {
                        serie: key.clone(),
                        acao: owed.acao,
                    });
                }
            }
        }
        taken
    }

    /// Clears the owed `acao` of `serie`, done; returns whether it was still owed.
    pub fn settle(&mut self, serie: &str, acao: Acao, now: Timestamp) -> bool {
        let Some(s) = self.series.get_mut(serie) else {
            return false;
        };
        if s.acao_devida.map(|o| o.acao) != Some(acao) {
            return false;
        }
        s.acao_devida = None;
        if s.idle() {
            self.series.remove(serie);
        }
        self.refresh(now);
        true
    }

    /// The alert a rule opens for `serie`: its id fixed by the rule and the series, `regra` and
    /// `origem` naming the rule, the series' labels.
    ///
    /// # Errors
    /// When `serie` is not one of its series.
    pub fn alert(&self, serie: &str, now: Timestamp) -> Result<Alerta, ValidationError> {
        let s = self
            .series
            .get(serie)
            .ok_or_else(|| ValidationError::new("serie", format!("no series {serie}")))?;
        let descricao = if self.descricao.is_empty() {
            format!(
                "{}{} {} {} por {} s: valor {}",
                self.metrica,
                labels_text(&s.labels),
                self.condicao,
                self.limite,
                self.por_segundos,
                s.valor
            )
        } else {
            self.descricao.clone()
        };
        let mut alerta = Alerta::raise(
            NovoAlerta {
                id: Some(s.alerta.clone()),
                titulo: self.titulo.clone(),
                descricao: Some(descricao),
                severidade: self.severidade,
                origem: Some(format!("regra:{}", self.id)),
                labels: Some(s.labels.clone()),
            },
            now,
        )?;
        alerta.regra = Some(self.id.to_string());
        Ok(alerta)
    }

    /// The id of the alert of `serie`: `regra:{rule id}:{serie}`.
    fn alert_id(&self, serie: &str) -> Id {
        Id::parse(&format!("regra:{}:{serie}", self.id)).unwrap_or_else(|_| Id::generate())
    }

    const fn por_millis(&self) -> i64 {
        // At most a week: it fits.
        self.por_segundos.saturating_mul(1000) as i64
    }

    fn elapsed(&self, desde: Timestamp, now: Timestamp) -> bool {
        desde.millis().saturating_add(self.por_millis()) <= now.millis()
    }

    /// Sets `estado` from the series, and `atualizado_em` when it changed.
    fn refresh(&mut self, now: Timestamp) {
        let estado = if self.series.values().any(|s| s.disparada) {
            EstadoRegra::Disparada
        } else if self.series.values().any(|s| s.desde.is_some()) {
            EstadoRegra::Pendente
        } else {
            EstadoRegra::Inativa
        };
        if estado != self.estado {
            self.estado = estado;
            self.atualizado_em = now;
        }
    }
}

/// `{k="v",…}`, or nothing for no labels.
fn labels_text(labels: &BTreeMap<String, String>) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", pairs.join(","))
}

/// 16 hex digits of a stable hash of a series' name and labels: the same on every instance and
/// in every version (FNV-1a, 64 bits, over the name and the labels in order).
pub fn series_hash(nome: &str, labels: &BTreeMap<String, String>) -> String {
    format!("{:016x}", series_number(nome, labels))
}

/// The hash [`series_hash`] writes in hex.
pub fn series_number(nome: &str, labels: &BTreeMap<String, String>) -> u64 {
    let mut hash = Fnv::default();
    hash.write(nome.as_bytes());
    for (k, v) in labels {
        hash.write(&[0]);
        hash.write(k.as_bytes());
        hash.write(&[1]);
        hash.write(v.as_bytes());
    }
    hash.0
}

/// The id of the message that notifies `evento` (`criado`, `reaberto`, `resolvido`) of the
/// `n`th opening of an alert to the `entry`th (from 0) of a rule's `notificar`:
/// `alerta:{alert id}:{evento}:{n}`, then `:{entry + 1}` for the second entry on (so that each
/// target gets its own message). Where that would pass the id limit, the alert id is replaced by
/// 16 hex digits of its hash.
pub fn notification_id(alert: &Id, evento: &str, n: u32, entry: usize) -> Id {
    let suffix = if entry == 0 {
        String::new()
    } else {
        format!(":{}", entry + 1)
    };
    let full = format!("alerta:{alert}:{evento}:{n}{suffix}");
    let text = if full.len() <= crate::id::MAX_ID_LEN {
        full
    } else {
        let mut hash = Fnv::default();
        hash.write(alert.as_str().as_bytes());
        format!("alerta:{:016x}:{evento}:{n}{suffix}", hash.0)
    };
    Id::parse(&text).unwrap_or_else(|_| Id::generate())
}

/// FNV-1a, 64 bits.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

#[cfg(test)]
#[path = "regra_tests.rs"]
mod tests;
