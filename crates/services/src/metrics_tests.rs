#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use integra_domain::{NovaMetrica, TimeRange, TipoMetrica};
use integra_ports::{MockBus, MockMetricSink, MockSeriesStore, SampleRejection, StoreError};

use super::*;
use crate::test_support::memory;

fn sample(json: serde_json::Value) -> NovaMetrica {
    serde_json::from_value(json).unwrap()
}

fn service_with_prometheus() -> (MetricsService, Arc<integra_prometheus::PrometheusSink>) {
    let sink = Arc::new(integra_prometheus::PrometheusSink::new());
    let base = memory().series();
    let ports = Ports::new(base.store, base.bus, sink.clone());
    (
        MetricsService::new(
            ports,
            MetricsConfig {
                max_series_per_name: 2,
                ..MetricsConfig::default()
            },
        ),
        sink,
    )
}

#[tokio::test]
async fn a_sample_is_stored_and_reaches_the_registry() {
    let (svc, _) = service_with_prometheus();
    let stored = svc
        .record(sample(
            serde_json::json!({"nome": "fila", "valor": 12, "labels": {"fila": "pedidos"}}),
        ))
        .await
        .unwrap();
    assert_eq!(stored.tipo, TipoMetrica::Gauge);
    let got = svc
        .query(&MetricQuery::new(Some("fila".into()), None, TimeRange::ALL, 10).unwrap())
        .await
        .unwrap();
    assert_eq!(got, [stored]);
    assert!(
        svc.exposition().contains("fila{fila=\"pedidos\"} 12"),
        "{}",
        svc.exposition()
    );
}

#[tokio::test]
async fn one_invalid_item_refuses_the_whole_batch_and_names_its_index() {
    let (svc, _) = service_with_prometheus();
    let batch = vec![
        sample(serde_json::json!({"nome": "ok", "valor": 1})),
        sample(serde_json::json!({"nome": "bad", "valor": -1, "tipo": "counter"})),
    ];
    match svc.record_batch(batch).await {
        Err(ServiceError::Invalid(e)) => assert_eq!(e.field, "[1].valor"),
        other => panic!("unexpected {other:?}"),
    }
    let all = svc
        .query(&MetricQuery::everything(10).unwrap())
        .await
        .unwrap();
    assert!(all.is_empty());
    assert!(!svc.exposition().contains("ok"));
}

#[tokio::test]
async fn another_kind_for_a_known_name_is_refused() {
    let (svc, _) = service_with_prometheus();
    svc.record(sample(
        serde_json::json!({"nome": "x", "valor": 1, "tipo": "counter"}),
    ))
    .await
    .unwrap();
    match svc
        .record(sample(serde_json::json!({"nome": "x", "valor": 1})))
        .await
    {
        Err(ServiceError::Invalid(e)) => {
            assert_eq!(e.field, "tipo");
            assert!(e.reason.contains("counter"), "{}", e.reason);
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn the_series_cap_refuses_a_new_label_set_and_records_nothing() {
    let (svc, _) = service_with_prometheus();
    for v in ["a", "b"] {
        svc.record(sample(
            serde_json::json!({"nome": "g", "valor": 1, "labels": {"k": v}}),
        ))
        .await
        .unwrap();
    }
    let batch = vec![sample(
        serde_json::json!({"nome": "g", "valor": 1, "labels": {"k": "c"}}),
    )];
    assert!(
        matches!(svc.record_batch(batch).await, Err(ServiceError::Invalid(e)) if e.field == "[0].labels")
    );
    assert!(!svc.exposition().contains("k=\"c\""));
}

#[tokio::test]
async fn batches_are_between_one_and_a_thousand_samples() {
    let (svc, _) = service_with_prometheus();
    assert!(matches!(
        svc.record_batch(vec![]).await,
        Err(ServiceError::Invalid(_))
    ));
    let many = (0..1001)
        .map(|_| sample(serde_json::json!({"nome": "n", "valor": 1})))
        .collect();
    assert!(matches!(
        svc.record_batch(many).await,
        Err(ServiceError::Invalid(_))
    ));
}

#[tokio::test]
async fn a_store_failure_records_nothing_in_the_registry() {
    let mut store = MockSeriesStore::new();
    store
        .expect_append_samples()
        .returning(|_, _| Err(StoreError::Unavailable("down".into())));
    let mut metrics = MockMetricSink::new();
    metrics.expect_record().never();
    metrics.expect_store_error().times(1).return_const(());
    let svc = MetricsService::new(
        Ports::new(Arc::new(store), Arc::new(MockBus::new()), Arc::new(metrics)),
        MetricsConfig::default(),
    );
    assert!(matches!(
        svc.record(sample(serde_json::json!({"nome": "x", "valor": 1})))
            .await,
        Err(ServiceError::StoreUnavailable(_))
    ));
}

#[tokio::test]
async fn a_rejection_from_the_store_names_the_field_of_the_item() {
    let mut store = MockSeriesStore::new();
    store.expect_append_samples().returning(|_, _| {
        Ok(Err(SampleRejection::TooManySeries {
            index: 3,
            nome: "g".into(),
            cap: 5,
        }))
    });
    let mut metrics = MockMetricSink::new();
    metrics.expect_record().never();
    let svc = MetricsService::new(
        Ports::new(Arc::new(store), Arc::new(MockBus::new()), Arc::new(metrics)),
        MetricsConfig::default(),
    );
    let batch = (0..4)
        .map(|_| sample(serde_json::json!({"nome": "g", "valor": 1})))
        .collect();
    match svc.record_batch(batch).await {
        Err(ServiceError::Invalid(e)) => {
            assert_eq!(e.field, "[3].labels");
            assert!(e.reason.contains("already has 5 series"), "{}", e.reason);
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn a_counter_that_would_pass_the_largest_finite_value_is_refused_and_nothing_stored() {
    let (svc, _) = service_with_prometheus();
    let huge = || sample(serde_json::json!({"nome": "c", "valor": 1e308, "tipo": "counter"}));
    svc.record(huge()).await.unwrap();
    match svc.record(huge()).await {
        Err(ServiceError::Invalid(e)) => assert_eq!(e.field, "valor"),
        other => panic!("unexpected {other:?}"),
    }
    // Within one batch too: the batch's own increments count.
    let batch = vec![
        sample(serde_json::json!({"nome": "d", "valor": 1e308, "tipo": "counter"})),
        sample(serde_json::json!({"nome": "d", "valor": 1e308, "tipo": "counter"})),
    ];
    match svc.record_batch(batch).await {
        Err(ServiceError::Invalid(e)) => assert_eq!(e.field, "[1].valor"),
        other => panic!("unexpected {other:?}"),
    }
    let stored = svc
        .query(&MetricQuery::everything(10).unwrap())
        .await
        .unwrap();
    assert_eq!(stored.len(), 1, "only the first sample was stored");
    assert!(!svc.exposition().contains("inf"));
}
