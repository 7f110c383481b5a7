#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use integra_domain::{EstadoRegra, NovaMetrica, NovoSilencio};
use integra_ports::{MockRecords, MockSeriesStore, Store, StoreError};

use super::*;
use crate::test_support::{memory_with_bus, mocked, FakeBus};
use crate::{Events, MetricsConfig, PublishConfig, Services};

fn instance(ports: &Ports<dyn Store>, lease: Duration) -> Services {
    let (events, _) = Events::channel(256);
    let publish = PublishConfig::with_timeout(Duration::from_millis(300));
    let config = RulesConfig {
        interval: Duration::from_secs(1),
        lease,
    };
    Services::new(ports, &events, publish, MetricsConfig::default(), config)
}

fn rule(por_segundos: u64) -> NovaRegra {
    serde_json::from_value(serde_json::json!({
        "id": "fila-alta", "metrica": "fila", "labels": {"fila": "pedidos"},
        "condicao": ">", "limite": 100, "por_segundos": por_segundos,
        "severidade": "alta", "titulo": "Fila alta",
        "notificar": [{"tipo": "webhook", "destinatario": "https://hooks.example/oncall"}]
    }))
    .unwrap()
}

fn sample(valor: f64) -> NovaMetrica {
    serde_json::from_value(
        serde_json::json!({"nome": "fila", "valor": valor, "labels": {"fila": "pedidos"}}),
    )
    .unwrap()
}

/// The topics and keys the bus stored, in order.
fn published(bus: &FakeBus) -> Vec<String> {
    bus.published()
        .iter()
        .map(|r| format!("{} {}", r.topic, r.key))
        .collect()
}

fn alert_id() -> String {
    let labels = [("fila".to_owned(), "pedidos".to_owned())].into();
    format!("regra:fila-alta:{}", series_hash("fila", &labels))
}

#[tokio::test]
async fn a_crossing_opens_the_alert_once_and_a_drop_resolves_it_each_notified_once() {
    let bus = Arc::new(FakeBus::default());
    let ports = memory_with_bus(bus.clone());
    let i = instance(&ports, Duration::from_secs(10));
    i.rules.create(rule(0)).await.unwrap();
    i.metrics.record(sample(50.0)).await.unwrap();
    i.rules.evaluate().await.unwrap();
    assert!(bus.published().is_empty(), "below the threshold");

    i.metrics.record(sample(150.0)).await.unwrap();
    i.rules.evaluate().await.unwrap();
    i.metrics.record(sample(170.0)).await.unwrap();
    i.rules.evaluate().await.unwrap();
    let id = alert_id();
    assert_eq!(
        published(&bus),
        [
            format!("alerts {id}"),
            format!("messages.webhook alerta:{id}:criado:1")
        ]
    );
    let alert = i.alerts.get(&id).await.unwrap();
    assert_eq!(alert.regra.as_deref(), Some("fila-alta"));
    assert!(!alert.resolvido);
    let stored = i.rules.get("fila-alta").await.unwrap();
    assert_eq!(stored.estado, EstadoRegra::Disparada);
    assert!(stored.series.values().all(|s| s.acao_devida.is_none()));

    i.metrics.record(sample(20.0)).await.unwrap();
    i.rules.evaluate().await.unwrap();
    i.rules.evaluate().await.unwrap();
    assert_eq!(
        published(&bus)[2..],
        [
            format!("alerts {id}"),
            format!("messages.webhook alerta:{id}:resolvido:1")
        ]
    );
    assert!(i.alerts.get(&id).await.unwrap().resolvido);
    assert_eq!(
        i.rules.get("fila-alta").await.unwrap().estado,
        EstadoRegra::Inativa
    );
    // A second crossing reopens it: the second opening, notified as such.
    i.metrics.record(sample(150.0)).await.unwrap();
    i.rules.evaluate().await.unwrap();
    assert_eq!(
        published(&bus)[4..],
        [
            format!("alerts {id}"),
            format!("messages.webhook alerta:{id}:reaberto:2")
        ]
    );
}

#[tokio::test]
async fn a_series_is_pending_for_por_segundos_then_the_timer_fires_it_without_new_samples() {
    let bus = Arc::new(FakeBus::default());
    let ports = memory_with_bus(bus.clone());
    let i = instance(&ports, Duration::from_secs(10));
    i.rules.create(rule(1)).await.unwrap();
    i.metrics.record(sample(150.0)).await.unwrap();
    i.rules.evaluate().await.unwrap();
    assert_eq!(
        i.rules.get("fila-alta").await.unwrap().estado,
        EstadoRegra::Pendente
    );
    assert!(bus.published().is_empty());
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // No sample since: the round of the timer fires it.
    i.rules.evaluate().await.unwrap();
    assert_eq!(published(&bus).len(), 2);
    assert_eq!(
        i.rules.get("fila-alta").await.unwrap().estado,
        EstadoRegra::Disparada
    );
}

#[tokio::test]
async fn a_series_that_flaps_within_por_segundos_never_fires() {
    let bus = Arc::new(FakeBus::default());
    let ports = memory_with_bus(bus.clone());
    let i = instance(&ports, Duration::from_secs(10));
    i.rules.create(rule(1)).await.unwrap();
    for valor in [150.0, 20.0, 150.0, 20.0, 150.0, 20.0] {
        i.metrics.record(sample(valor)).await.unwrap();
        i.rules.evaluate().await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    i.rules.evaluate().await.unwrap();
    assert!(bus.published().is_empty());
    assert_eq!(
        i.rules.get("fila-alta").await.unwrap().estado,
        EstadoRegra::Inativa
    );
}

#[tokio::test]
async fn a_sample_another_instance_stored_breaks_a_run_before_it_fires() {
    let bus = Arc::new(FakeBus::default());
    let ports = memory_with_bus(bus.clone());
    let a = instance(&ports, Duration::from_secs(10));
    let b = instance(&ports, Duration::from_secs(10));
    a.rules.create(rule(1)).await.unwrap();
    a.metrics.record(sample(150.0)).await.unwrap();
    a.rules.evaluate().await.unwrap();
    // B stores a sample below, and has not evaluated it when A's window ends.
    b.metrics.record(sample(20.0)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    a.rules.evaluate().await.unwrap();
    assert!(bus.published().is_empty(), "{:?}", published(&bus));
    assert_eq!(
        a.rules.get("fila-alta").await.unwrap().estado,
        EstadoRegra::Inativa
    );
}

#[tokio::test]
async fn two_instances_that_see_the_same_crossing_open_and_notify_once() {
    let bus = Arc::new(FakeBus::default());
    let ports = memory_with_bus(bus.clone());
    let a = instance(&ports, Duration::from_secs(10));
    let b = instance(&ports, Duration::from_secs(10));
    a.rules.create(rule(0)).await.unwrap();
    // Both learn the rule's metric at their first round.
    a.rules.evaluate().await.unwrap();
    b.rules.evaluate().await.unwrap();
    a.metrics.record(sample(150.0)).await.unwrap();
    b.metrics.record(sample(160.0)).await.unwrap();
    let (ra, rb) = tokio::join!(a.rules.evaluate(), b.rules.evaluate());
    ra.unwrap();
    rb.unwrap();
    a.rules.evaluate().await.unwrap();
    b.rules.evaluate().await.unwrap();
    let id = alert_id();
    assert_eq!(
        published(&bus),
        [
            format!("alerts {id}"),
            format!("messages.webhook alerta:{id}:criado:1")
        ]
    );
}

#[tokio::test]
async fn under_a_matching_silence_the_alert_opens_silenced_and_notifies_nothing() {
    let bus = Arc::new(FakeBus::default());
    let ports = memory_with_bus(bus.clone());
    let i = instance(&ports, Duration::from_secs(10));
    let silence: NovoSilencio = serde_json::from_value(serde_json::json!({
        "matchers": {"origem": "regra:fila-alta"}, "fim": "2999-01-01T00:00:00Z"
    }))
    .unwrap();
    i.silences.create(silence).await.unwrap();
    i.rules.create(rule(0)).await.unwrap();
    i.metrics.record(sample(150.0)).await.unwrap();
    i.rules.evaluate().await.unwrap();
    let id = alert_id();
    assert_eq!(published(&bus), [format!("alerts {id}")]);
    let record = &bus.published()[0];
    assert!(record
        .headers
        .contains(&("silenciado".to_owned(), "true".to_owned())));
    assert!(i.alerts.get(&id).await.unwrap().silenciado);
    // Its resolution notifies nothing either.
    i.metrics.record(sample(20.0)).await.unwrap();
    i.rules.evaluate().await.unwrap();
    assert_eq!(
        published(&bus),
        [format!("alerts {id}"), format!("alerts {id}")]
    );
}

#[tokio::test]
async fn an_action_that_failed_is_carried_out_after_its_lease_and_notified_once() {
    let bus = Arc::new(FakeBus::default());
    let ports = memory_with_bus(bus.clone());
    let i = instance(&ports, Duration::from_millis(200));
    i.rules.create(rule(0)).await.unwrap();
    i.metrics.record(sample(150.0)).await.unwrap();
    bus.down.store(true, Ordering::SeqCst);
    assert!(i.rules.evaluate().await.is_ok());
    let owed = i.rules.get("fila-alta").await.unwrap();
    assert!(owed.series.values().all(|s| s.acao_devida.is_some()));
    bus.down.store(false, Ordering::SeqCst);
    // Within the lease, nothing is retried.
    i.rules.evaluate().await.unwrap();
    assert!(bus.published().is_empty());
    tokio::time::sleep(Duration::from_millis(300)).await;
    i.rules.evaluate().await.unwrap();
    i.rules.evaluate().await.unwrap();
    let id = alert_id();
    assert_eq!(
        published(&bus),
        [
            format!("alerts {id}"),
            format!("messages.webhook alerta:{id}:criado:1")
        ]
    );
    let settled = i.rules.get("fila-alta").await.unwrap();
    assert!(settled.series.values().all(|s| s.acao_devida.is_none()));
}

#[tokio::test]
async fn a_store_failure_keeps_the_samples_for_the_next_round() {
    let stored = Regra::create(rule(0), Timestamp::now()).unwrap();
    let mut store = MockRecords::<Regra>::new();
    let mut seq = mockall::Sequence::new();
    store
        .expect_list()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Err(StoreError::Timeout));
    let listed = stored.clone();
    store
        .expect_list()
        .times(1)
        .in_sequence(&mut seq)
        .returning(move |_, _, _| {
            Ok(vec![Versioned {
                revision: integra_ports::Revision::FIRST,
                record: listed.clone(),
            }])
        });
    // The rule written back holds the pending series the queued sample made.
    store
        .expect_replace()
        .times(1)
        .withf(|rule, _| rule.estado == EstadoRegra::Disparada && rule.series.len() == 1)
        .returning(|_, _| Ok(Replaced::Stale(None)));
    let sample = Metrica::record(sample(150.0), Timestamp::now()).unwrap();
    // With por_segundos 0 nothing is read again before firing: a read panics.
    let series = MockSeriesStore::new();
    let bus = Arc::new(FakeBus::default());
    let ports = memory_with_bus(bus.clone());
    let i = instance(&ports, Duration::from_secs(10));
    let rules = RuleService::new(
        mocked(
            Arc::new(store) as Arc<dyn Records<Regra>>,
            integra_ports::MockBus::new(),
        ),
        Arc::new(series),
        Arc::clone(&i.alerts),
        Arc::new(MessageService::new(
            ports.messages(),
            Events::channel(4).0,
            PublishConfig::default(),
        )),
        RulesConfig::default(),
    );
    rules.set_watched([&stored]);
    rules.observe(std::slice::from_ref(&sample));
    assert!(matches!(
        rules.evaluate().await,
        Err(ServiceError::StoreTimedOut(_))
    ));
    rules.evaluate().await.unwrap();
}

#[tokio::test]
async fn samples_that_flap_between_two_rounds_leave_the_rule_as_each_would_have() {
    let bus = Arc::new(FakeBus::default());
    let ports = memory_with_bus(bus.clone());
    let i = instance(&ports, Duration::from_secs(10));
    i.rules.create(rule(30)).await.unwrap();
    let mut last = None;
    for valor in [150.0, 20.0, 160.0, 170.0, 10.0, 180.0, 190.0] {
        last = Some(i.metrics.record(sample(valor)).await.unwrap());
        // Distinct times, in order.
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let recorded: Vec<_> = i
        .metrics
        .query(&MetricQuery::new(Some("fila".into()), None, TimeRange::ALL, 100).unwrap())
        .await
        .unwrap();
    i.rules.evaluate().await.unwrap();
    let stored = i.rules.get("fila-alta").await.unwrap();
    let serie = stored.series.values().next().unwrap();
    // Pending since the 180 that followed the last 10; its latest value is the 190.
    assert_eq!(serie.desde, Some(recorded[5].timestamp));
    assert_eq!(
        (serie.valor, serie.ultima),
        (190.0, last.unwrap().timestamp)
    );
    assert_eq!(stored.estado, EstadoRegra::Pendente);
}
