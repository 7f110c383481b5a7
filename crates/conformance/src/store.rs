//! The Store suite: typed records, metric series, presence. Each function's name is what it shows.

#![allow(missing_docs)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use integra_domain::{
    AlertEvent, AlertFilter, Alerta, CoordenadasKafka, Encoded, Mensagem, MessageFilter,
    MetricQuery, Metrica, NovaMensagem, NovoAlerta, Order, Paging, Severidade, StatusMensagem,
    TimeRange, Timestamp, TipoMensagem, TipoMetrica,
};
use integra_ports::{
    Inserted, OwedEvent, PresenceStore, Records, Replaced, Revision, SampleRejection, SeriesLimits,
    SeriesStore, StoredAlert, Versioned,
};

use crate::StoreFactory;

const LIMITS: SeriesLimits = SeriesLimits {
    max_names: 10_000,
    max_series_per_name: 1000,
    max_samples_per_series: 10_000,
    retention_ms: 86_400_000,
};

fn message(id: &str, tipo: &str, created_ms: i64) -> Encoded<Mensagem> {
    let input: NovaMensagem = serde_json::from_value(serde_json::json!({
        "id": id, "tipo": tipo, "destinatario": "ana@example.com", "conteudo": "Olá",
        "metadados": {"campanha": "natal"}
    }))
    .unwrap();
    Encoded::new(Mensagem::accept(input, Timestamp::from_millis(created_ms)).unwrap())
}

fn alert(id: &str, severidade: &str, created_ms: i64) -> StoredAlert {
    let input: NovoAlerta = serde_json::from_value(serde_json::json!({
        "id": id, "titulo": "Fila parada", "severidade": severidade, "labels": {"fila": "pedidos"}
    }))
    .unwrap();
    stored(Alerta::raise(input, Timestamp::from_millis(created_ms)).unwrap())
}

/// `alerta` as stored, owing nothing.
fn stored(alerta: Alerta) -> StoredAlert {
    StoredAlert {
        alerta: Encoded::new(alerta),
        owed: None,
    }
}

fn sample(nome: &str, valor: f64, tipo: TipoMetrica, labels: &[(&str, &str)], ms: i64) -> Metrica {
    Metrica {
        nome: nome.to_owned(),
        valor,
        tipo,
        labels: labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<BTreeMap<_, _>>(),
        timestamp: Timestamp::from_millis(ms),
    }
}

fn query(nome: Option<&str>, limit: usize) -> MetricQuery {
    MetricQuery::new(nome.map(str::to_owned), None, TimeRange::ALL, limit).unwrap()
}

pub async fn messages_come_back_as_written_and_are_listed_by_their_filters(
    factory: &impl StoreFactory,
) {
    let messages: Arc<dyn Records<Encoded<Mensagem>>> = factory(None).await;
    let (a, b, c) = (
        message("a", "sms", 10),
        message("b", "email", 20),
        message("c", "sms", 30),
    );
    for m in [&a, &b, &c] {
        assert_eq!(messages.insert(m).await.unwrap(), Inserted::Created);
    }
    let mut done = a.clone().into_inner();
    let coords = CoordenadasKafka {
        topico: "messages.sms".into(),
        particao: 0,
        offset: 7,
    };
    done.complete(coords, Timestamp::from_millis(40)).unwrap();
    let done = Encoded::new(done);
    assert_eq!(
        messages.replace(&done, Revision::FIRST).await.unwrap(),
        Replaced::Done(Revision(2))
    );
    let read = messages.get("a").await.unwrap().unwrap();
    assert_eq!((read.revision, &read.record), (Revision(2), &done));

    let ids = |filter: MessageFilter, order: Order| {
        let messages = messages.clone();
        async move {
            let listed = messages
                .list(&filter, Paging::default(), order)
                .await
                .unwrap();
            listed
                .into_iter()
                .map(|v| v.record.id.to_string())
                .collect::<Vec<_>>()
        }
    };
    let sms = MessageFilter {
        tipo: Some(TipoMensagem::Sms),
        status: None,
    };
    assert_eq!(ids(sms, Order::NewestFirst).await, ["c", "a"]);
    assert_eq!(
        ids(MessageFilter::default(), Order::OldestFirst).await,
        ["a", "b", "c"]
    );
    let processing = MessageFilter {
        status: Some(StatusMensagem::Processando),
        ..sms
    };
    assert_eq!(ids(processing, Order::NewestFirst).await, ["c"]);
    let concluded = MessageFilter {
        status: Some(StatusMensagem::Concluida),
        ..sms
    };
    assert_eq!(ids(concluded, Order::NewestFirst).await, ["a"]);

    // The page as JSON is the page as records, written as the API writes them.
    let page = messages
        .list(
            &MessageFilter::default(),
            Paging::default(),
            Order::NewestFirst,
        )
        .await
        .unwrap();
    let records: Vec<Mensagem> = page.into_iter().map(|v| v.record.into_inner()).collect();
    let json = messages
        .list_json(
            &MessageFilter::default(),
            Paging::default(),
            Order::NewestFirst,
        )
        .await
        .unwrap();
    assert_eq!(json, serde_json::to_string(&records).unwrap());
    let empty = messages
        .list_json(&concluded, Paging::new(5, 10).unwrap(), Order::NewestFirst)
        .await
        .unwrap();
    assert_eq!(empty, "[]");
}

pub async fn settling_an_alert_drops_the_event_it_owes_and_nothing_else(
    factory: &impl StoreFactory,
) {
    let alerts: Arc<dyn Records<StoredAlert>> = factory(None).await;
    let mut owing = alert("s", "alta", 100);
    owing.owed = Some(OwedEvent {
        event: AlertEvent::Criado,
        since: Some(Timestamp::from_millis(100)),
    });
    assert_eq!(alerts.insert(&owing).await.unwrap(), Inserted::Created);
    let stale = alerts.settle("s", Revision(7)).await.unwrap();
    assert_eq!(
        stale,
        Replaced::Stale(Some(Versioned {
            revision: Revision::FIRST,
            record: owing.clone(),
        }))
    );
    assert_eq!(
        alerts.settle("s", Revision::FIRST).await.unwrap(),
        Replaced::Done(Revision(2))
    );
    let settled = StoredAlert {
        owed: None,
        ..owing.clone()
    };
    let read = alerts.get("s").await.unwrap().unwrap();
    assert_eq!((read.revision, &read.record), (Revision(2), &settled));
    // Still in its indexes, and changed by a replace as any alert.
    let alta = AlertFilter {
        severidade: Some(Severidade::Alta),
        resolvido: Some(false),
        ..AlertFilter::default()
    };
    let listed = alerts
        .list(&alta, Paging::default(), Order::NewestFirst)
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].record, settled);
    assert_eq!(
        alerts.settle("s", Revision(2)).await.unwrap(),
        Replaced::Done(Revision(3))
    );
    assert_eq!(
        alerts.replace(&owing, Revision(3)).await.unwrap(),
        Replaced::Done(Revision(4))
    );
    assert_eq!(
        alerts.settle("absent", Revision::FIRST).await.unwrap(),
        Replaced::Stale(None)
    );
}

pub async fn a_page_of_alerts_as_json_shows_the_alerts_without_the_events_they_owe(
    factory: &impl StoreFactory,
) {
    let alerts: Arc<dyn Records<StoredAlert>> = factory(None).await;
    // Text that looks like the owed event's, in a description and a label, stays as it is.
    let mut alerta = alert("x", "alta", 100).alerta.into_inner();
    alerta.descricao = r#"a text with ,"owed":{"event":"x"} in it"#.into();
    alerta.labels.extend([
        ("owed".to_owned(), "{".to_owned()),
        ("p".to_owned(), ",\"owed\":{".to_owned()),
    ]);
    let mut owing = stored(alerta);
    owing.owed = Some(OwedEvent {
        event: AlertEvent::Criado,
        since: None,
    });
    let clean = alert("y", "baixa", 200);
    alerts.insert(&owing).await.unwrap();
    alerts.insert(&clean).await.unwrap();
    let json = alerts
        .list_json(
            &AlertFilter::default(),
            Paging::default(),
            Order::NewestFirst,
        )
        .await
        .unwrap();
    assert_eq!(
        json,
        serde_json::to_string(&[&clean.alerta, &owing.alerta]).unwrap()
    );
}

pub async fn an_alert_keeps_the_event_it_owes_and_is_listed_by_severity_state_and_time(
    factory: &impl StoreFactory,
) {
    let alerts: Arc<dyn Records<StoredAlert>> = factory(None).await;
    let mut owing = alert("x", "alta", 100);
    owing.owed = Some(OwedEvent {
        event: AlertEvent::Criado,
        since: Some(Timestamp::from_millis(100)),
    });
    alerts.insert(&owing).await.unwrap();
    alerts.insert(&alert("y", "baixa", 200)).await.unwrap();
    let mut resolved = alert("z", "alta", 300).alerta.into_inner();
    resolved.resolve(Timestamp::from_millis(310));
    let resolved = stored(resolved);
    alerts.insert(&resolved).await.unwrap();
    assert_eq!(alerts.get("x").await.unwrap().unwrap().record, owing);

    let ids = |filter: AlertFilter| {
        let alerts = alerts.clone();
        async move {
            let listed = alerts
                .list(&filter, Paging::default(), Order::NewestFirst)
                .await
                .unwrap();
            listed
                .into_iter()
                .map(|v| v.record.alerta.id.to_string())
                .collect::<Vec<_>>()
        }
    };
    let alta = AlertFilter {
        severidade: Some(Severidade::Alta),
        ..AlertFilter::default()
    };
    assert_eq!(ids(alta).await, ["z", "x"]);
    let open = AlertFilter {
        resolvido: Some(false),
        ..AlertFilter::default()
    };
    assert_eq!(ids(open).await, ["y", "x"]);
    let since_150 = AlertFilter {
        criado_em: TimeRange::new(Some(Timestamp::from_millis(150)), None).unwrap(),
        ..alta
    };
    assert_eq!(ids(since_150).await, ["z"]);
}

pub async fn samples_come_back_in_ascending_time_and_equal_samples_both_stay(
    factory: &impl StoreFactory,
) {
    let series: Arc<dyn SeriesStore> = factory(None).await;
    let now = Timestamp::now().millis();
    let batch = [
        sample("fila", 3.0, TipoMetrica::Gauge, &[], now - 10),
        sample("fila", 1.0, TipoMetrica::Gauge, &[], now - 30),
        sample("fila", 1.0, TipoMetrica::Gauge, &[], now - 30),
    ];
    series
        .append_samples(&batch, LIMITS)
        .await
        .unwrap()
        .unwrap();
    let got = series
        .query_samples(&query(Some("fila"), 100))
        .await
        .unwrap();
    let times: Vec<i64> = got.iter().map(|m| m.timestamp.millis()).collect();
    assert_eq!(times, [now - 30, now - 30, now - 10]);
    assert_eq!(got[2].valor, 3.0);
}

pub async fn a_name_keeps_the_kind_of_its_first_sample_and_a_bad_batch_stores_nothing(
    factory: &impl StoreFactory,
) {
    let series: Arc<dyn SeriesStore> = factory(None).await;
    let now = Timestamp::now().millis();
    series
        .append_samples(&[sample("c", 1.0, TipoMetrica::Counter, &[], now)], LIMITS)
        .await
        .unwrap()
        .unwrap();
    let batch = [
        sample("other", 1.0, TipoMetrica::Gauge, &[], now),
        sample("c", 1.0, TipoMetrica::Gauge, &[], now),
    ];
    match series.append_samples(&batch, LIMITS).await.unwrap() {
        Err(SampleRejection::TypeMismatch {
            index: 1,
            pinned: TipoMetrica::Counter,
            ..
        }) => {}
        other => panic!("expected a type mismatch at index 1, got {other:?}"),
    }
    assert!(
        series
            .query_samples(&query(Some("other"), 10))
            .await
            .unwrap()
            .is_empty(),
        "part of a refused batch was stored"
    );
    // Within one batch too, the first sample of a name pins its kind.
    let mixed = [
        sample("fresh", 1.0, TipoMetrica::Gauge, &[], now),
        sample("fresh", 1.0, TipoMetrica::Histogram, &[], now),
    ];
    assert!(matches!(
        series.append_samples(&mixed, LIMITS).await.unwrap(),
        Err(SampleRejection::TypeMismatch { index: 1, .. })
    ));
}

pub async fn series_per_name_are_capped(factory: &impl StoreFactory) {
    let series: Arc<dyn SeriesStore> = factory(None).await;
    let now = Timestamp::now().millis();
    let limits = SeriesLimits {
        max_series_per_name: 2,
        ..LIMITS
    };
    let two = [
        sample("g", 1.0, TipoMetrica::Gauge, &[("k", "a")], now),
        sample("g", 1.0, TipoMetrica::Gauge, &[("k", "b")], now),
    ];
    series.append_samples(&two, limits).await.unwrap().unwrap();
    // An existing series still takes samples; a third does not open.
    let again = [sample("g", 2.0, TipoMetrica::Gauge, &[("k", "a")], now)];
    series
        .append_samples(&again, limits)
        .await
        .unwrap()
        .unwrap();
    let third = [sample("g", 1.0, TipoMetrica::Gauge, &[("k", "c")], now)];
    assert!(matches!(
        series.append_samples(&third, limits).await.unwrap(),
        Err(SampleRejection::TooManySeries {
            index: 0,
            cap: 2,
            ..
        })
    ));
    assert_eq!(
        series
            .query_samples(&query(Some("g"), 10))
            .await
            .unwrap()
            .len(),
        3
    );
}

pub async fn samples_past_the_retention_are_trimmed(factory: &impl StoreFactory) {
    let series: Arc<dyn SeriesStore> = factory(None).await;
    let now = Timestamp::now().millis();
    let limits = SeriesLimits {
        retention_ms: 60_000,
        ..LIMITS
    };
    let batch = [
        sample("r", 1.0, TipoMetrica::Gauge, &[], now - 120_000),
        sample("r", 2.0, TipoMetrica::Gauge, &[], now),
    ];
    series
        .append_samples(&batch, limits)
        .await
        .unwrap()
        .unwrap();
    let got = series.query_samples(&query(Some("r"), 10)).await.unwrap();
    assert_eq!(got.iter().map(|m| m.valor).collect::<Vec<_>>(), [2.0]);
}

pub async fn sample_queries_filter_by_kind_and_range_and_limit(factory: &impl StoreFactory) {
    let series: Arc<dyn SeriesStore> = factory(None).await;
    let t = Timestamp::now().millis() - 1000;
    let batch = [
        sample("a_gauge", 1.0, TipoMetrica::Gauge, &[], t),
        sample("b_counter", 2.0, TipoMetrica::Counter, &[], t + 1),
        sample("a_gauge", 3.0, TipoMetrica::Gauge, &[], t + 2),
        sample("c_hist", 4.0, TipoMetrica::Histogram, &[], t + 3),
    ];
    series
        .append_samples(&batch, LIMITS)
        .await
        .unwrap()
        .unwrap();
    let values = |q: MetricQuery| {
        let series = series.clone();
        async move {
            let got = series.query_samples(&q).await.unwrap();
            got.iter().map(|m| m.valor).collect::<Vec<_>>()
        }
    };
    assert_eq!(values(query(None, 100)).await, [1.0, 2.0, 3.0, 4.0]);
    let gauges = MetricQuery::new(None, Some(TipoMetrica::Gauge), TimeRange::ALL, 100).unwrap();
    assert_eq!(values(gauges).await, [1.0, 3.0]);
    let range = TimeRange::new(
        Some(Timestamp::from_millis(t + 1)),
        Some(Timestamp::from_millis(t + 2)),
    )
    .unwrap();
    let between = MetricQuery::new(None, None, range, 100).unwrap();
    assert_eq!(values(between).await, [2.0, 3.0]);
    assert_eq!(values(query(None, 3)).await, [1.0, 2.0, 3.0]);
    assert!(values(query(Some("nope"), 100)).await.is_empty());
    // A range wholly before the retention holds nothing.
    let long_ago = TimeRange::new(
        Some(Timestamp::from_millis(0)),
        Some(Timestamp::from_millis(1)),
    );
    let before = MetricQuery::new(None, None, long_ago.unwrap(), 100).unwrap();
    assert!(values(before).await.is_empty());
}

pub async fn a_series_keeps_its_newest_samples_up_to_its_cap(factory: &impl StoreFactory) {
    let series: Arc<dyn SeriesStore> = factory(None).await;
    let now = Timestamp::now().millis();
    let limits = SeriesLimits {
        max_samples_per_series: 3,
        ..LIMITS
    };
    // Out of order, across two batches, beside another series that keeps its own.
    let first = [
        sample("cap", 1.0, TipoMetrica::Gauge, &[], now - 50),
        sample("cap", 2.0, TipoMetrica::Gauge, &[], now - 10),
        sample("cap", 9.0, TipoMetrica::Gauge, &[("k", "other")], now - 60),
    ];
    series
        .append_samples(&first, limits)
        .await
        .unwrap()
        .unwrap();
    // Read in between: a store that gathers writes has put the first batch in place, so the
    // second, older, goes among what is already there.
    let got = series
        .query_samples(&query(Some("cap"), 100))
        .await
        .unwrap();
    assert_eq!(got.len(), 3);
    let second = [
        sample("cap", 3.0, TipoMetrica::Gauge, &[], now - 40),
        sample("cap", 4.0, TipoMetrica::Gauge, &[], now - 30),
        sample("cap", 5.0, TipoMetrica::Gauge, &[], now - 20),
    ];
    series
        .append_samples(&second, limits)
        .await
        .unwrap()
        .unwrap();
    let got = series
        .query_samples(&query(Some("cap"), 100))
        .await
        .unwrap();
    let values: Vec<f64> = got.iter().map(|m| m.valor).collect();
    assert_eq!(values, [9.0, 4.0, 5.0, 2.0]);
}

pub async fn names_are_capped_and_no_exposition_collides_with_another(factory: &impl StoreFactory) {
    let series: Arc<dyn SeriesStore> = factory(None).await;
    let now = Timestamp::now().millis();
    let limits = SeriesLimits {
        max_names: 3,
        ..LIMITS
    };
    let append = |batch: Vec<Metrica>| {
        let series = series.clone();
        async move { series.append_samples(&batch, limits).await.unwrap() }
    };
    append(vec![sample("x_count", 1.0, TipoMetrica::Gauge, &[], now)])
        .await
        .unwrap();
    match append(vec![sample("x", 1.0, TipoMetrica::Histogram, &[], now)]).await {
        Err(SampleRejection::Collision { index: 0, with, .. }) => assert_eq!(with, "x_count"),
        other => panic!("a histogram x beside a gauge x_count was not refused: {other:?}"),
    }
    // Within one batch too.
    let both = vec![
        sample("y", 1.0, TipoMetrica::Counter, &[], now),
        sample("y_total", 1.0, TipoMetrica::Gauge, &[], now),
    ];
    assert!(matches!(
        append(both).await,
        Err(SampleRejection::Collision { index: 1, .. })
    ));
    append(vec![sample("z", 1.0, TipoMetrica::Counter, &[], now)])
        .await
        .unwrap();
    append(vec![sample("w", 1.0, TipoMetrica::Gauge, &[], now)])
        .await
        .unwrap();
    assert!(matches!(
        append(vec![sample("v", 1.0, TipoMetrica::Gauge, &[], now)]).await,
        Err(SampleRejection::TooManyNames { index: 0, cap: 3 })
    ));
    // A known name still takes samples, and nothing refused was kept.
    append(vec![sample("w", 2.0, TipoMetrica::Gauge, &[], now)])
        .await
        .unwrap();
    for refused in ["x", "y", "y_total", "v"] {
        let got = series
            .query_samples(&query(Some(refused), 10))
            .await
            .unwrap();
        assert!(got.is_empty(), "{refused} was stored");
    }
}

pub async fn a_query_merges_the_series_of_a_name_in_time_order(factory: &impl StoreFactory) {
    let series: Arc<dyn SeriesStore> = factory(None).await;
    let t = Timestamp::now().millis() - 1000;
    let batch = [
        sample("lat", 1.0, TipoMetrica::Gauge, &[("rota", "a")], t),
        sample("lat", 2.0, TipoMetrica::Gauge, &[("rota", "b")], t + 1),
        sample("lat", 3.0, TipoMetrica::Gauge, &[("rota", "a")], t + 2),
        sample("lat", 4.0, TipoMetrica::Gauge, &[("rota", "b")], t + 3),
    ];
    series
        .append_samples(&batch, LIMITS)
        .await
        .unwrap()
        .unwrap();
    let got = series.query_samples(&query(Some("lat"), 3)).await.unwrap();
    assert_eq!(got, batch[..3]);
}

pub async fn a_long_query_over_many_series_is_their_newest_samples_merged_in_time_order(
    factory: &impl StoreFactory,
) {
    let series: Arc<dyn SeriesStore> = factory(None).await;
    let limits = SeriesLimits {
        max_samples_per_series: 250,
        ..LIMITS
    };
    let base = Timestamp::now().millis() - 100_000;
    // Five series of 300 samples each, timestamps distinct across all of them; every tenth
    // sample of a series arrives in a later batch than the ones after it.
    let point = |s: i64, j: i64| {
        let labels = [("serie", format!("s{s}"))];
        let labels: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
        sample(
            "longa",
            (s * 1000 + j) as f64,
            TipoMetrica::Gauge,
            &labels,
            base + 5 * j + s,
        )
    };
    let (mut on_time, mut late) = (Vec::new(), Vec::new());
    for j in 0..300 {
        for s in 0..5 {
            if j % 10 == 3 {
                late.push(point(s, j))
            } else {
                on_time.push(point(s, j))
            }
        }
    }
    for batch in on_time.chunks(400).chain(late.chunks(400)) {
        series.append_samples(batch, limits).await.unwrap().unwrap();
    }
    // What a series keeps: its newest 250 (j from 50); asked from j = 60 on, 700 at most.
    let from = base + 5 * 60;
    let mut expected: Vec<Metrica> = (0..5)
        .flat_map(|s| (60..300).map(move |j| (s, j)))
        .map(|(s, j)| point(s, j))
        .collect();
    expected.sort_by_key(|m| m.timestamp);
    expected.truncate(700);
    let asked = MetricQuery::new(
        Some("longa".to_owned()),
        None,
        TimeRange::new(Some(Timestamp::from_millis(from)), None).unwrap(),
        700,
    )
    .unwrap();
    assert_eq!(series.query_samples(&asked).await.unwrap(), expected);
    // The oldest a series still keeps, and nothing before it.
    let all = series
        .query_samples(&query(Some("longa"), 10_000))
        .await
        .unwrap();
    assert_eq!(all.len(), 5 * 250);
    assert_eq!(all[0], point(0, 50));
}

pub async fn presence_is_kept_for_its_ttl_and_removed_on_request(factory: &impl StoreFactory) {
    let store = factory(None).await;
    let presence: Arc<dyn PresenceStore> = store.clone();
    presence.put_presence("c1", "i1", 60_000).await.unwrap();
    presence.put_presence("c2", "i2", 300).await.unwrap();
    assert_eq!(
        presence.presence("c1").await.unwrap().as_deref(),
        Some("i1")
    );
    assert_eq!(
        presence.presence("c2").await.unwrap().as_deref(),
        Some("i2")
    );
    presence.remove_presence("c1").await.unwrap();
    assert_eq!(presence.presence("c1").await.unwrap(), None);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(presence.presence("c2").await.unwrap(), None);
    store.ping().await.unwrap();
}
