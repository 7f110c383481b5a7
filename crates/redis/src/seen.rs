//! The metric series an engine saw registered in Redis, with their numbers: a batch whose every
//! series is among them has nothing to check (a name's tipo and series numbers never change once
//! made, and only a new series meets the caps), so `series.rs` appends it unchecked
//! (`lua/series_log.lua`).
//!
//! Each name's numbers hold under the gen of its meta: Redis losing them (flushed, restarted
//! empty, the name then made again or not) is found by that script, which then writes nothing,
//! and the engine forgets what it saw.

use foldhash::{HashMap, HashMapExt};
use std::sync::{Mutex, PoisonError};

use integra_domain::TipoMetrica;

/// Most series an engine remembers; past it, it forgets them all and learns again the ones still
/// written (a bound on its memory whatever clients send).
const SEEN_MAX: usize = 100_000;

/// The series seen registered, shared by every request of an engine.
#[derive(Default)]
pub(crate) struct SeenSeries {
    inner: Mutex<Seen>,
}

#[derive(Default)]
struct Seen {
    names: HashMap<String, SeenName>,
    /// Series remembered, over every name.
    series: usize,
}

/// What an engine saw of one name: the gen of its meta, its tipo, series key → number.
struct SeenName {
    gen: String,
    tipo: TipoMetrica,
    numbers: HashMap<String, i64>,
}

impl SeenSeries {
    /// For each (nome, tipo, series keys): the gen and the numbers of those series, when every
    /// one of them was seen with that tipo; none otherwise.
    pub(crate) fn numbers<'a>(
        &self,
        names: impl Iterator<Item = (&'a str, TipoMetrica, &'a [String])>,
    ) -> Option<Vec<(String, Vec<i64>)>> {
        let seen = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        names
            .map(|(nome, tipo, keys)| {
                let name = seen.names.get(nome).filter(|n| n.tipo == tipo)?;
                let numbers = keys
                    .iter()
                    .map(|k| name.numbers.get(k).copied())
                    .collect::<Option<_>>()?;
                Some((name.gen.clone(), numbers))
            })
            .collect()
    }

    /// Remembers series of `nome` written under `gen`, with the numbers the script gave them (by
    /// the place of their keys).
    pub(crate) fn remember(
        &self,
        nome: &str,
        tipo: TipoMetrica,
        keys: &[String],
        gen: &str,
        numbers: &[i64],
    ) {
        if gen.is_empty() || numbers.len() != keys.len() {
            return;
        }
        let mut seen = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if seen.series + numbers.len() > SEEN_MAX {
            *seen = Seen::default();
        }
        let Seen { names, series } = &mut *seen;
        let name = names.entry(nome.to_owned()).or_insert_with(|| SeenName {
            gen: gen.to_owned(),
            tipo,
            numbers: HashMap::new(),
        });
        if name.gen != gen {
            // The name was made again: what was seen of it before no longer holds.
            *series -= name.numbers.len();
            name.numbers.clear();
            gen.clone_into(&mut name.gen);
            name.tipo = tipo;
        }
        for (key, n) in keys.iter().zip(numbers) {
            if name.numbers.insert(key.clone(), *n).is_none() {
                *series += 1;
            }
        }
    }

    /// Forgets every series: Redis no longer holds some.
    pub(crate) fn forget(&self) {
        *self.inner.lock().unwrap_or_else(PoisonError::into_inner) = Seen::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(ks: &[&str]) -> Vec<String> {
        ks.iter().map(|k| (*k).to_owned()).collect()
    }

    #[test]
    fn a_batch_is_known_only_when_every_series_was_seen_with_its_tipo() {
        let seen = SeenSeries::default();
        seen.remember("a", TipoMetrica::Gauge, &keys(&["x", "y"]), "g1", &[1, 2]);
        let known = keys(&["y", "x"]);
        assert_eq!(
            seen.numbers([("a", TipoMetrica::Gauge, known.as_slice())].into_iter()),
            Some(vec![("g1".to_owned(), vec![2, 1])])
        );
        let new = keys(&["x", "z"]);
        assert_eq!(
            seen.numbers([("a", TipoMetrica::Gauge, new.as_slice())].into_iter()),
            None
        );
        assert_eq!(
            seen.numbers([("a", TipoMetrica::Counter, known.as_slice())].into_iter()),
            None
        );
        seen.forget();
        assert_eq!(
            seen.numbers([("a", TipoMetrica::Gauge, known.as_slice())].into_iter()),
            None
        );
    }

    #[test]
    fn a_name_made_again_forgets_its_old_numbers() {
        let seen = SeenSeries::default();
        seen.remember("a", TipoMetrica::Gauge, &keys(&["x", "y"]), "g1", &[1, 2]);
        seen.remember("a", TipoMetrica::Counter, &keys(&["y"]), "g2", &[1]);
        let y = keys(&["y"]);
        assert_eq!(
            seen.numbers([("a", TipoMetrica::Counter, y.as_slice())].into_iter()),
            Some(vec![("g2".to_owned(), vec![1])])
        );
        let x = keys(&["x"]);
        assert_eq!(
            seen.numbers([("a", TipoMetrica::Counter, x.as_slice())].into_iter()),
            None
        );
        assert_eq!(seen.inner.lock().unwrap().series, 1);
    }

    #[test]
    fn past_its_bound_it_starts_over() {
        let seen = SeenSeries::default();
        let many: Vec<String> = (0..SEEN_MAX).map(|i| i.to_string()).collect();
        let numbers: Vec<i64> = (1..=SEEN_MAX as i64).collect();
        seen.remember("a", TipoMetrica::Gauge, &many, "g", &numbers);
        seen.remember("b", TipoMetrica::Gauge, &keys(&["x"]), "g", &[1]);
        let inner = seen.inner.lock().unwrap();
        assert_eq!(inner.series, 1);
        assert!(!inner.names.contains_key("a"));
    }
}
