#![allow(clippy::unwrap_used)]

use serde_json::json;

use super::*;

fn at(secs: i64) -> Timestamp {
    Timestamp::from_millis(secs * 1000)
}

fn rule(condicao: &str, limite: f64, por: u64) -> Regra {
    let input: NovaRegra = serde_json::from_value(json!({
        "id": "fila-alta", "metrica": "fila", "labels": {"fila": "pedidos"},
        "condicao": condicao, "limite": limite, "por_segundos": por,
        "severidade": "alta", "titulo": "Fila alta"
    }))
    .unwrap();
    Regra::create(input, at(0)).unwrap()
}

fn sample(valor: f64, secs: i64) -> Metrica {
    serde_json::from_value(json!({
        "nome": "fila", "valor": valor, "tipo": "gauge",
        "labels": {"fila": "pedidos", "zona": "z1"}, "timestamp": at(secs)
    }))
    .unwrap()
}

fn serie() -> String {
    series_hash("fila", &sample(0.0, 0).labels)
}

#[test]
fn every_condition_compares_the_value_with_the_threshold() {
    let cases = [
        (">", [false, false, true]),
        (">=", [false, true, true]),
        ("<", [true, false, false]),
        ("<=", [true, true, false]),
        ("==", [false, true, false]),
        ("!=", [true, false, true]),
    ];
    for (symbol, expected) in cases {
        let condicao: Condicao = serde_json::from_value(json!(symbol)).unwrap();
        assert_eq!(condicao.as_str(), symbol);
        let got = [9.0, 10.0, 11.0].map(|v| condicao.holds(v, 10.0));
        assert_eq!(got, expected, "{symbol}");
        // And a rule of it opens its alert exactly where the condition holds.
        for (valor, holds) in [9.0, 10.0, 11.0].into_iter().zip(expected) {
            let mut r = rule(symbol, 10.0, 0);
            r.observe(&sample(valor, 1));
            assert_eq!(
                r.advance(at(1)).len(),
                usize::from(holds),
                "{symbol} {valor}"
            );
        }
    }
}

#[test]
fn a_rule_watches_its_metric_with_its_labels_only() {
    let r = rule(">", 10.0, 0);
    assert!(r.watches(&sample(1.0, 1)));
    let mut other_queue = sample(1.0, 1);
    other_queue.labels.insert("fila".into(), "outra".into());
    assert!(!r.watches(&other_queue));
    let mut other_name = sample(1.0, 1);
    other_name.nome = "fila2".into();
    assert!(!r.watches(&other_name));
}

#[test]
fn a_series_is_pending_for_por_segundos_then_fires_once() {
    let mut r = rule(">", 10.0, 60);
    assert!(r.observe(&sample(11.0, 100)));
    assert_eq!(r.estado, EstadoRegra::Pendente);
    assert!(r.advance(at(159)).is_empty());
    // Still meeting: the run began at 100.
    r.observe(&sample(12.0, 130));
    assert_eq!(r.series[&serie()].desde, Some(at(100)));
    let fired = r.advance(at(160));
    assert_eq!(
        fired,
        [Transicao {
            serie: serie(),
            acao: Acao::Abrir
        }]
    );
    assert_eq!(r.estado, EstadoRegra::Disparada);
    // Decided once: owed until settled, never decided again.
    assert!(r.advance(at(161)).is_empty());
    assert!(r.settle(&serie(), Acao::Abrir, at(161)));
    assert!(r.advance(at(200)).is_empty());
    let alert = r.alert(&serie(), at(161)).unwrap();
    assert_eq!(
        alert.id.as_str(),
        format!("regra:fila-alta:{}", serie()).as_str()
    );
    assert_eq!(alert.regra.as_deref(), Some("fila-alta"));
    assert_eq!(alert.origem.as_deref(), Some("regra:fila-alta"));
    assert_eq!(alert.labels, sample(0.0, 0).labels);
}

#[test]
fn a_sample_that_stops_meeting_resolves_a_firing_series_and_its_state_goes() {
    let mut r = rule(">", 10.0, 0);
    r.observe(&sample(11.0, 1));
    r.advance(at(1));
    r.settle(&serie(), Acao::Abrir, at(1));
    r.observe(&sample(5.0, 2));
    assert_eq!(
        r.advance(at(2)),
        [Transicao {
            serie: serie(),
            acao: Acao::Resolver
        }]
    );
    assert!(r.settle(&serie(), Acao::Resolver, at(2)));
    assert!(r.series.is_empty());
    assert_eq!(r.estado, EstadoRegra::Inativa);
}

#[test]
fn a_flapping_series_restarts_its_wait_and_never_fires_while_it_flaps() {
    let mut r = rule(">", 10.0, 30);
    for (i, valor) in [11.0, 5.0, 11.0, 5.0, 11.0, 5.0].into_iter().enumerate() {
        let secs = 10 * i64::try_from(i).unwrap();
        r.observe(&sample(valor, secs));
        assert!(r.advance(at(secs)).is_empty(), "at {secs}");
    }
    assert!(
        r.series.is_empty(),
        "a series below the threshold keeps no state"
    );
    // It meets again at 60: pending from 60, not from its first crossing.
    r.observe(&sample(11.0, 60));
    assert!(r.advance(at(89)).is_empty());
    assert_eq!(r.advance(at(90)).len(), 1);
}

#[test]
fn a_firing_series_that_flaps_resolves_and_opens_once_per_crossing() {
    let mut r = rule(">", 10.0, 0);
    let mut decided = Vec::new();
    for (i, valor) in [11.0, 5.0, 11.0, 5.0].into_iter().enumerate() {
        let secs = i64::try_from(i).unwrap() + 1;
        r.observe(&sample(valor, secs));
        for t in r.advance(at(secs)) {
            r.settle(&t.serie, t.acao, at(secs));
            decided.push(t.acao);
        }
    }
    assert_eq!(
        decided,
        [Acao::Abrir, Acao::Resolver, Acao::Abrir, Acao::Resolver]
    );
}

#[test]
fn a_series_that_stops_reporting_keeps_the_state_of_its_latest_sample() {
    // Pending when it went silent: it fires when its time is up, with no new sample.
    let mut r = rule(">", 10.0, 60);
    r.observe(&sample(11.0, 0));
    assert_eq!(r.advance(at(600)).len(), 1);
    r.settle(&serie(), Acao::Abrir, at(600));
    // Firing: it stays firing, however long it is silent.
    assert!(r.advance(at(86_400)).is_empty());
    assert_eq!(r.estado, EstadoRegra::Disparada);
}

#[test]
fn an_older_sample_changes_nothing_and_one_of_the_same_time_comes_after() {
    let mut r = rule(">", 10.0, 0);
    r.observe(&sample(11.0, 10));
    assert!(!r.observe(&sample(5.0, 9)));
    assert_eq!(r.series[&serie()].desde, Some(at(10)));
    assert!(r.observe(&sample(5.0, 10)));
    assert!(r.series.is_empty());
}

#[test]
fn the_stored_samples_confirm_or_break_a_run_before_it_fires() {
    // This instance saw 11 at 0; another instance received 5 at 20, then 12 at 40.
    let mut r = rule(">", 10.0, 60);
    r.observe(&sample(11.0, 0));
    assert_eq!(r.due(at(60)), [serie()]);
    let stored = [sample(11.0, 0), sample(5.0, 20), sample(12.0, 40)];
    assert!(r.confirm(&serie(), &stored));
    assert_eq!(r.series[&serie()].desde, Some(at(40)));
    assert!(r.due(at(60)).is_empty());
    assert!(r.advance(at(60)).is_empty());
    assert_eq!(r.advance(at(100)).len(), 1);
    // A stored latest sample that does not meet the condition ends the pending series.
    let mut r = rule(">", 10.0, 60);
    r.observe(&sample(11.0, 0));
    assert!(r.confirm(&serie(), &[sample(11.0, 0), sample(3.0, 30)]));
    assert!(r.series.is_empty());
}

#[test]
fn an_owed_action_is_taken_over_after_its_lease() {
    let mut r = rule(">", 10.0, 0);
    r.observe(&sample(11.0, 1));
    r.advance(at(1));
    assert!(r.take_over(at(5), 10_000).is_empty());
    let taken = r.take_over(at(11), 10_000);
    assert_eq!(taken.len(), 1);
    assert_eq!(r.series[&serie()].acao_devida.unwrap().desde, at(11));
    assert!(r.take_over(at(12), 10_000).is_empty());
}

#[test]
fn a_rule_is_checked_field_by_field() {
    let field = |patch: serde_json::Value| {
        let mut body = json!({
            "metrica": "fila", "condicao": ">", "limite": 1, "severidade": "alta", "titulo": "t"
        });
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let input: NovaRegra = serde_json::from_value(body).unwrap();
        Regra::create(input, at(0)).err().map(|e| e.field)
    };
    assert_eq!(field(json!({})), None);
    assert_eq!(field(json!({"metrica": "1x"})).as_deref(), Some("metrica"));
    assert_eq!(field(json!({"titulo": ""})).as_deref(), Some("titulo"));
    assert_eq!(
        field(json!({"por_segundos": 604_801})).as_deref(),
        Some("por_segundos")
    );
    assert_eq!(field(json!({"id": "r".repeat(101)})).as_deref(), Some("id"));
    assert_eq!(
        field(json!({"notificar": [{"tipo": "webhook", "destinatario": ""}]})).as_deref(),
        Some("notificar[0].destinatario")
    );
    let unknown =
        json!({"metrica": "f", "condicao": "=>", "limite": 1, "severidade": "alta", "titulo": "t"});
    assert!(serde_json::from_value::<NovaRegra>(unknown).is_err());
}

#[test]
fn series_hashes_and_notification_ids_are_stable_and_bounded() {
    let labels: BTreeMap<String, String> = [("fila".to_owned(), "pedidos".to_owned())].into();
    // Fixed by the algorithm: every instance and every version names the series alike.
    assert_eq!(
        series_hash("fila", &labels),
        series_hash("fila", &labels.clone())
    );
    // FNV-1a of "fila": a value any implementation of the algorithm reproduces.
    assert_eq!(series_hash("fila", &BTreeMap::new()), "aad01578f02a70ef");
    assert_ne!(
        series_hash("fila", &labels),
        series_hash("fila", &BTreeMap::new())
    );
    let short = Id::parse("a1").unwrap();
    assert_eq!(
        notification_id(&short, "criado", 2, 0).as_str(),
        "alerta:a1:criado:2"
    );
    assert_eq!(
        notification_id(&short, "criado", 2, 1).as_str(),
        "alerta:a1:criado:2:2"
    );
    let long = Id::parse(&format!("regra:{}:0123456789abcdef", "r".repeat(100))).unwrap();
    let id = notification_id(&long, "resolvido", 1, 0);
    assert!(id.as_str().len() <= crate::id::MAX_ID_LEN);
    assert!(id.as_str().starts_with("alerta:") && id.as_str().ends_with(":resolvido:1"));
    assert_eq!(id, notification_id(&long, "resolvido", 1, 0));
}
