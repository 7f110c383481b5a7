#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use integra_domain::{NovoAlerta, Severidade, TimeRange};
use integra_ports::{MockBus, MockRecords, StoreError};

use super::*;
use crate::test_support::{memory_with_bus, mocked, FakeBus};
use crate::Events;

fn input(id: &str) -> NovoAlerta {
    serde_json::from_value(
        serde_json::json!({"id": id, "titulo": "Fila parada", "severidade": "alta"}),
    )
    .unwrap()
}

fn publish_config() -> PublishConfig {
    PublishConfig::with_timeout(Duration::from_millis(200))
}

fn service(bus: Arc<FakeBus>) -> AlertService {
    let (events, _) = Events::channel(64);
    AlertService::new(memory_with_bus(bus).alerts(), events, publish_config())
}

fn mocked_service(store: MockRecords<StoredAlert>, bus: MockBus) -> AlertService {
    let (events, _) = Events::channel(4);
    let store: Arc<dyn Records<StoredAlert>> = Arc::new(store);
    AlertService::new(mocked(store, bus), events, publish_config())
}

#[tokio::test]
async fn a_new_alert_is_stored_and_its_creation_published_keyed_by_id() {
    let bus = Arc::new(FakeBus::default());
    let svc = service(bus.clone());
    let (outcome, alert) = svc.create(input("a1")).await.unwrap();
    assert_eq!(outcome, AlertOutcome::Created);
    assert_eq!(svc.get("a1").await.unwrap(), alert);
    // The answer's text is the alert as it is stored and read back.
    assert_eq!(
        alert.json(),
        serde_json::to_string(&svc.get("a1").await.unwrap()).unwrap()
    );
    assert_eq!(bus.events(), ["alerta.criado a1"]);
}

#[tokio::test]
async fn the_same_id_while_open_is_deduplicated_and_publishes_nothing() {
    let bus = Arc::new(FakeBus::default());
    let svc = service(bus.clone());
    let (_, first) = svc.create(input("a1")).await.unwrap();
    let (outcome, again) = svc.create(input("a1")).await.unwrap();
    assert_eq!((outcome, again), (AlertOutcome::Existing, first));
    assert_eq!(bus.events().len(), 1);
}

#[tokio::test]
async fn resolving_publishes_once_and_keeps_the_first_time() {
    let bus = Arc::new(FakeBus::default());
    let svc = service(bus.clone());
    svc.create(input("a1")).await.unwrap();
    let first = svc.resolve("a1").await.unwrap();
    assert!(first.resolvido && first.resolvido_em.is_some());
    let again = svc.resolve("a1").await.unwrap();
    assert_eq!(again.resolvido_em, first.resolvido_em);
    assert_eq!(bus.events(), ["alerta.criado a1", "alerta.resolvido a1"]);
    assert!(matches!(
        svc.resolve("nope").await,
        Err(ServiceError::NotFound(_))
    ));
}

#[tokio::test]
async fn the_same_id_after_resolution_reopens_the_alert() {
    let bus = Arc::new(FakeBus::default());
    let svc = service(bus.clone());
    svc.create(input("a1")).await.unwrap();
    svc.resolve("a1").await.unwrap();
    let (outcome, alert) = svc.create(input("a1")).await.unwrap();
    assert_eq!(outcome, AlertOutcome::Reopened);
    assert!(!alert.resolvido && alert.resolvido_em.is_none());
    assert_eq!(
        bus.events(),
        [
            "alerta.criado a1",
            "alerta.resolvido a1",
            "alerta.reaberto a1"
        ]
    );
}

#[tokio::test]
async fn a_bus_failure_keeps_the_alert_and_the_retry_publishes_the_missed_event() {
    let bus = Arc::new(FakeBus::default());
    let svc = service(bus.clone());
    bus.down.store(true, Ordering::SeqCst);
    match svc.create(input("a1")).await {
        Err(e @ ServiceError::BusUnavailable { .. }) => {
            assert_eq!(e.unpublished_id().map(|id| id.as_str()), Some("a1"));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(
        !svc.get("a1").await.unwrap().resolvido,
        "the alert is stored"
    );
    bus.down.store(false, Ordering::SeqCst);
    let (outcome, _) = svc.create(input("a1")).await.unwrap();
    assert_eq!(outcome, AlertOutcome::Created);
    assert_eq!(bus.events(), ["alerta.criado a1"]);
    // Now it is delivered, the same id deduplicates again.
    assert_eq!(
        svc.create(input("a1")).await.unwrap().0,
        AlertOutcome::Existing
    );
    assert_eq!(bus.events().len(), 1);
}

#[tokio::test]
async fn a_missed_resolution_is_published_by_the_next_resolve() {
    let bus = Arc::new(FakeBus::default());
    let svc = service(bus.clone());
    svc.create(input("a1")).await.unwrap();
    bus.down.store(true, Ordering::SeqCst);
    assert!(matches!(
        svc.resolve("a1").await,
        Err(ServiceError::BusUnavailable { .. })
    ));
    assert!(svc.get("a1").await.unwrap().resolvido);
    bus.down.store(false, Ordering::SeqCst);
    assert!(svc.resolve("a1").await.unwrap().resolvido);
    assert_eq!(bus.events(), ["alerta.criado a1", "alerta.resolvido a1"]);
}

#[tokio::test]
async fn a_missed_creation_is_published_before_a_resolve_goes_on() {
    let bus = Arc::new(FakeBus::default());
    let svc = service(bus.clone());
    bus.down.store(true, Ordering::SeqCst);
    assert!(svc.create(input("a1")).await.is_err());
    bus.down.store(false, Ordering::SeqCst);
    assert!(svc.resolve("a1").await.unwrap().resolvido);
    assert_eq!(bus.events(), ["alerta.criado a1", "alerta.resolvido a1"]);
}

#[tokio::test]
async fn a_store_that_is_down_fails_the_create_before_publishing() {
    let mut store = MockRecords::<StoredAlert>::new();
    store
        .expect_insert()
        .returning(|_| Err(StoreError::Unavailable("down".into())));
    let mut bus = MockBus::new();
    bus.expect_publish().never();
    let svc = mocked_service(store, bus);
    assert!(matches!(
        svc.create(input("a1")).await,
        Err(ServiceError::StoreUnavailable(_))
    ));
}

/// Alert `id` at revision 1, owing its creation, taken up `ago` before now.
fn taken_up(id: &str, ago: Duration) -> Versioned<StoredAlert> {
    let mut stored = owing(
        Encoded::new(Alerta::raise(input(id), Timestamp::now()).unwrap()),
        AlertEvent::Criado,
    );
    let ago = i64::try_from(ago.as_millis()).unwrap();
    stored.owed = stored.owed.map(|owed| OwedEvent {
        since: owed.since.map(|since| since.plus_millis(-ago)),
        ..owed
    });
    Versioned {
        revision: Revision::FIRST,
        record: stored,
    }
}

#[tokio::test]
async fn an_event_being_published_by_another_request_is_a_conflict() {
    let mut store = MockRecords::<StoredAlert>::new();
    // Taken up a second ago, within its lease (the timeout, 200 ms, and the 2 s margin): a
    // request still in flight publishes it.
    let being_published = taken_up("a1", Duration::from_secs(1));
    store
        .expect_insert()
        .returning(move |_| Ok(Inserted::Exists(being_published.clone())));
    store.expect_get().never();
    store.expect_replace().never();
    let mut bus = MockBus::new();
    bus.expect_publish().never();
    let svc = mocked_service(store, bus);
    assert!(matches!(
        svc.create(input("a1")).await,
        Err(ServiceError::Conflict(_))
    ));
}

#[tokio::test]
async fn an_event_taken_up_moments_ago_is_awaited_until_it_is_cleared() {
    let mut store = MockRecords::<StoredAlert>::new();
    let fresh = taken_up("a1", Duration::ZERO);
    let (owing_it, cleared) = (fresh.clone(), fresh.clone());
    store
        .expect_insert()
        .returning(move |_| Ok(Inserted::Exists(owing_it.clone())));
    let mut reads = 0;
    store.expect_get().times(3).returning(move |_| {
        reads += 1;
        let mut read = cleared.clone();
        if reads == 3 {
            read.record.owed = None;
            read.revision = Revision::FIRST.next();
        }
        Ok(Some(read))
    });
    store.expect_replace().never();
    let mut bus = MockBus::new();
    bus.expect_publish().never();
    let svc = mocked_service(store, bus);
    let (outcome, alert) = svc.create(input("a1")).await.unwrap();
    assert_eq!(outcome, AlertOutcome::Existing);
    assert_eq!(alert.id.as_str(), "a1");
}

#[tokio::test]
async fn an_event_still_owed_after_the_wait_is_a_conflict() {
    let mut store = MockRecords::<StoredAlert>::new();
    let fresh = taken_up("a1", Duration::ZERO);
    let owing_it = fresh.clone();
    store
        .expect_insert()
        .returning(move |_| Ok(Inserted::Exists(owing_it.clone())));
    store
        .expect_get()
        .returning(move |_| Ok(Some(fresh.clone())));
    store.expect_replace().never();
    let mut bus = MockBus::new();
    bus.expect_publish().never();
    let svc = mocked_service(store, bus);
    let started = std::time::Instant::now();
    assert!(matches!(
        svc.create(input("a1")).await,
        Err(ServiceError::Conflict(_))
    ));
    let waited = started.elapsed();
    assert!(
        waited >= FRESH_CLAIM_WAIT - Duration::from_millis(20) && waited < Duration::from_secs(1),
        "{waited:?}"
    );
}

/// A store whose settles land `delay` after they are asked for, as a busy Redis's may.
struct SlowSettles {
    inner: Arc<dyn Records<StoredAlert>>,
    delay: Duration,
}

#[async_trait::async_trait]
impl Records<StoredAlert> for SlowSettles {
    async fn insert(&self, r: &StoredAlert) -> Result<Inserted<StoredAlert>, StoreError> {
        self.inner.insert(r).await
    }
    async fn replace(
        &self,
        r: &StoredAlert,
        expected: Revision,
    ) -> Result<Replaced<StoredAlert>, StoreError> {
        self.inner.replace(r, expected).await
    }
    async fn settle(
        &self,
        id: &str,
        expected: Revision,
    ) -> Result<Replaced<StoredAlert>, StoreError> {
        tokio::time::sleep(self.delay).await;
        self.inner.settle(id, expected).await
    }
    async fn remove(&self, id: &str) -> Result<bool, StoreError> {
        self.inner.remove(id).await
    }
    async fn get(&self, id: &str) -> Result<Option<Versioned<StoredAlert>>, StoreError> {
        self.inner.get(id).await
    }
    async fn list(
        &self,
        filter: &AlertFilter,
        paging: Paging,
        order: Order,
    ) -> Result<Vec<Versioned<StoredAlert>>, StoreError> {
        self.inner.list(filter, paging, order).await
    }
    async fn list_json(
        &self,
        filter: &AlertFilter,
        paging: Paging,
        order: Order,
    ) -> Result<String, StoreError> {
        self.inner.list_json(filter, paging, order).await
    }
}

/// Whether alert `id` still owes an event, as stored.
async fn owes(svc: &AlertService, id: &str) -> bool {
    let stored = svc.ledger.get(id).await.unwrap().unwrap();
    stored.record.owed.is_some()
}

#[tokio::test]
async fn the_next_request_waits_for_a_clearing_done_behind_the_answer() {
    let bus = Arc::new(FakeBus::default());
    let memory = memory_with_bus(bus.clone() as Arc<dyn integra_ports::Bus>);
    let store: Arc<dyn Records<StoredAlert>> = Arc::new(SlowSettles {
        inner: memory.alerts().store,
        delay: Duration::from_millis(50),
    });
    let (events, _) = Events::channel(64);
    let deferred = Arc::new(Deferred::default());
    let task = deferred.start().unwrap();
    let svc = AlertService::new(
        Ports::new(store, memory.bus, memory.metrics),
        events,
        publish_config(),
    )
    .with_deferred(Arc::clone(&deferred));

    let (outcome, _) = svc.create(input("a1")).await.unwrap();
    assert_eq!(outcome, AlertOutcome::Created);
    assert!(owes(&svc, "a1").await, "answered before the clearing");
    // Right after the answer the event is still owed; the resolve waits for it to clear, then
    // goes on: 200, not 409, and each event published once.
    assert!(svc.resolve("a1").await.unwrap().resolvido);
    assert_eq!(
        svc.create(input("a1")).await.unwrap().0,
        AlertOutcome::Reopened
    );
    assert!(task.drain(Duration::from_secs(5)).await);
    assert_eq!(
        bus.events(),
        [
            "alerta.criado a1",
            "alerta.resolvido a1",
            "alerta.reaberto a1"
        ]
    );
    assert!(!owes(&svc, "a1").await, "the drain cleared the last event");
}

#[tokio::test]
async fn concurrent_creates_of_one_id_publish_one_creation() {
    let bus = Arc::new(FakeBus::default());
    let svc = Arc::new(service(bus.clone()));
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let svc = Arc::clone(&svc);
            tokio::spawn(async move { svc.create(input("same")).await })
        })
        .collect();
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) | Err(ServiceError::Conflict(_)) => {}
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(bus.events(), ["alerta.criado same"]);
}

#[tokio::test]
async fn lists_filter_by_severity_resolution_and_creation_time() {
    let bus = Arc::new(FakeBus::default());
    let svc = service(bus);
    for (id, sev) in [("a", "baixa"), ("b", "alta"), ("c", "alta")] {
        let i: NovoAlerta =
            serde_json::from_value(serde_json::json!({"id": id, "titulo": "t", "severidade": sev}))
                .unwrap();
        svc.create(i).await.unwrap();
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    svc.resolve("c").await.unwrap();
    let altas = AlertFilter {
        severidade: Some(Severidade::Alta),
        ..AlertFilter::default()
    };
    let ids = |v: Vec<integra_domain::Alerta>| {
        v.into_iter().map(|a| a.id.to_string()).collect::<Vec<_>>()
    };
    assert_eq!(
        ids(svc.list(altas, Paging::default()).await.unwrap()),
        ["c", "b"]
    );
    let open = AlertFilter {
        resolvido: Some(false),
        ..AlertFilter::default()
    };
    assert_eq!(
        ids(svc.list(open, Paging::default()).await.unwrap()),
        ["b", "a"]
    );
    let b = svc.get("b").await.unwrap();
    let since_b = AlertFilter {
        criado_em: TimeRange::new(Some(b.criado_em), None).unwrap(),
        ..AlertFilter::default()
    };
    assert_eq!(
        ids(svc.list(since_b, Paging::default()).await.unwrap()),
        ["c", "b"]
    );
    let until_b = AlertFilter {
        criado_em: TimeRange::new(None, Some(b.criado_em)).unwrap(),
        ..AlertFilter::default()
    };
    assert_eq!(
        ids(svc.list(until_b, Paging::default()).await.unwrap()),
        ["b", "a"]
    );
}

#[tokio::test]
async fn an_acknowledgement_is_published_once_and_keeps_the_first() {
    let bus = Arc::new(FakeBus::default());
    let svc = service(bus.clone());
    svc.create(input("a1")).await.unwrap();
    let acked = svc.acknowledge("a1", Some("ana".into())).await.unwrap();
    assert!(acked.reconhecido);
    let again = svc.acknowledge("a1", Some("rui".into())).await.unwrap();
    assert_eq!(
        (again.reconhecido_por.as_deref(), again.reconhecido_em),
        (Some("ana"), acked.reconhecido_em)
    );
    assert_eq!(bus.events(), ["alerta.criado a1", "alerta.reconhecido a1"]);
    assert!(matches!(
        svc.acknowledge("nobody", None).await,
        Err(ServiceError::NotFound(_))
    ));
    let listed = |reconhecido| {
        let filter = AlertFilter {
            reconhecido: Some(reconhecido),
            ..AlertFilter::default()
        };
        let svc = &svc;
        async move {
            svc.list(filter, Paging::default())
                .await
                .unwrap()
                .into_iter()
                .map(|a| a.id.to_string())
                .collect::<Vec<_>>()
        }
    };
    svc.create(input("a2")).await.unwrap();
    assert_eq!(listed(true).await, ["a1"]);
    assert_eq!(listed(false).await, ["a2"]);
}

#[tokio::test]
async fn a_resolved_alert_is_not_acknowledged_and_a_reopened_one_starts_unacknowledged() {
    let bus = Arc::new(FakeBus::default());
    let svc = service(bus.clone());
    svc.create(input("a1")).await.unwrap();
    svc.acknowledge("a1", None).await.unwrap();
    svc.resolve("a1").await.unwrap();
    assert!(matches!(
        svc.acknowledge("a1", None).await,
        Err(ServiceError::Conflict(_))
    ));
    let (outcome, reopened) = svc.create(input("a1")).await.unwrap();
    assert_eq!(outcome, AlertOutcome::Reopened);
    assert!(!reopened.reconhecido && reopened.reconhecido_em.is_none());
    assert!(svc.acknowledge("a1", None).await.unwrap().reconhecido);
    assert_eq!(
        bus.events(),
        [
            "alerta.criado a1",
            "alerta.reconhecido a1",
            "alerta.resolvido a1",
            "alerta.reaberto a1",
            "alerta.reconhecido a1"
        ]
    );
}

#[tokio::test]
async fn a_missed_acknowledgement_is_published_by_the_next_one() {
    let bus = Arc::new(FakeBus::default());
    let svc = service(bus.clone());
    svc.create(input("a1")).await.unwrap();
    bus.down.store(true, Ordering::SeqCst);
    assert!(matches!(
        svc.acknowledge("a1", Some("ana".into())).await,
        Err(ServiceError::BusUnavailable { .. })
    ));
    bus.down.store(false, Ordering::SeqCst);
    let acked = svc.acknowledge("a1", Some("rui".into())).await.unwrap();
    assert_eq!(acked.reconhecido_por.as_deref(), Some("ana"));
    // A resolve after it goes on as usual.
    assert!(svc.resolve("a1").await.unwrap().resolvido);
    assert_eq!(
        bus.events(),
        [
            "alerta.criado a1",
            "alerta.reconhecido a1",
            "alerta.resolvido a1"
        ]
    );
}
