#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use integra_domain::{
    CoordenadasKafka, Encoded, Mensagem, NovaMensagem, StatusMensagem, Timestamp,
};
use integra_ports::{BusError, MockBus, MockRecords, StoreError, Versioned};

use super::*;
use crate::test_support::{memory, memory_with_bus, mocked, FakeBus};
use crate::Events;

fn input(id: &str) -> NovaMensagem {
    serde_json::from_value(serde_json::json!({
        "id": id, "tipo": "email", "destinatario": "ana@example.com", "conteudo": "Olá"
    }))
    .unwrap()
}

fn service(
    ports: Ports<dyn Records<Encoded<Mensagem>>>,
) -> (MessageService, tokio::sync::mpsc::Receiver<crate::Emitted>) {
    let (events, rx) = Events::channel(64);
    let config = PublishConfig {
        timeout: Duration::from_millis(200),
        takeover_margin: Duration::from_millis(100),
    };
    (MessageService::new(ports, events, config), rx)
}

fn mocked_service(
    store: MockRecords<Encoded<Mensagem>>,
    bus: MockBus,
) -> (MessageService, tokio::sync::mpsc::Receiver<crate::Emitted>) {
    let store: Arc<dyn Records<Encoded<Mensagem>>> = Arc::new(store);
    service(mocked(store, bus))
}

fn delivered() -> CoordenadasKafka {
    CoordenadasKafka {
        topico: "messages.email".into(),
        particao: 0,
        offset: 42,
    }
}

fn stored(status: StatusMensagem, updated_ms_ago: i64) -> Versioned<Encoded<Mensagem>> {
    let now = Timestamp::now();
    let mut m = Mensagem::accept(input("m1"), now.plus_millis(-updated_ms_ago)).unwrap();
    match status {
        StatusMensagem::Concluida => m
            .complete(
                CoordenadasKafka {
                    topico: "messages.email".into(),
                    particao: 0,
                    offset: 7,
                },
                now,
            )
            .unwrap(),
        StatusMensagem::Erro => m
            .fail("broker down", now.plus_millis(-updated_ms_ago))
            .unwrap(),
        _ => {}
    }
    Versioned {
        revision: Revision(3),
        record: Encoded::new(m),
    }
}

fn statuses(rx: &mut tokio::sync::mpsc::Receiver<crate::Emitted>) -> Vec<String> {
    std::iter::from_fn(|| rx.try_recv().ok())
        .map(|e| {
            serde_json::from_str::<serde_json::Value>(e.json()).unwrap()["dados"]["status"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn a_first_send_publishes_once_and_ends_concluded_with_its_coordinates() {
    let mut store = MockRecords::<Encoded<Mensagem>>::new();
    store
        .expect_insert()
        .times(1)
        .returning(|_| Ok(Inserted::Created));
    store
        .expect_replace()
        .times(1)
        .withf(|m, rev| *rev == Revision::FIRST && m.status == StatusMensagem::Concluida)
        .returning(|_, _| Ok(Replaced::Done(Revision(2))));
    let mut bus = MockBus::new();
    bus.expect_publish()
        .times(1)
        .withf(|r, _| {
            r.topic == "messages.email"
                && r.key == "m1"
                && r.headers.iter().any(|(k, v)| k == "tipo" && v == "email")
        })
        .returning(|_, _| Ok(delivered()));
    let (svc, mut events) = mocked_service(store, bus);
    let Sent::Created(m) = svc.send(input("m1")).await.unwrap() else {
        panic!("not created")
    };
    assert_eq!(m.status, StatusMensagem::Concluida);
    assert_eq!(m.kafka.as_ref().unwrap().offset, 42);
    assert_eq!(statuses(&mut events), ["PROCESSANDO", "CONCLUIDA"]);
}

#[tokio::test]
async fn a_bus_failure_stores_erro_with_the_cause_and_names_the_id() {
    let mut store = MockRecords::<Encoded<Mensagem>>::new();
    store.expect_insert().returning(|_| Ok(Inserted::Created));
    store
        .expect_replace()
        .times(1)
        .withf(|m, _| {
            m.status == StatusMensagem::Erro
                && m.erro.as_deref().is_some_and(|e| e.contains("broker down"))
        })
        .returning(|_, _| Ok(Replaced::Done(Revision(2))));
    let mut bus = MockBus::new();
    bus.expect_publish()
        .returning(|_, _| Err(BusError::Unavailable("broker down".into())));
    let (svc, mut events) = mocked_service(store, bus);
    match svc.send(input("m1")).await {
        Err(ServiceError::BusUnavailable { id, .. }) => {
            assert_eq!(id.as_ref().map(|id| id.as_str()), Some("m1"));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(statuses(&mut events), ["PROCESSANDO", "ERRO"]);
}

#[tokio::test]
async fn a_publish_that_never_acknowledges_times_out_into_erro_instead_of_hanging() {
    let (svc, _) = service(memory_with_bus(Arc::new(FakeBus::hanging())).messages());
    let started = std::time::Instant::now();
    assert!(matches!(
        svc.send(input("m1")).await,
        Err(ServiceError::BusTimedOut { .. })
    ));
    assert!(started.elapsed() < Duration::from_secs(3));
    let m = svc.get("m1").await.unwrap();
    assert_eq!(m.status, StatusMensagem::Erro);
    assert!(m.erro.as_ref().unwrap().contains("200 ms"));
}

#[tokio::test]
async fn a_store_that_is_down_refuses_the_message_before_anything_is_published() {
    let mut store = MockRecords::<Encoded<Mensagem>>::new();
    store
        .expect_insert()
        .returning(|_| Err(StoreError::Unavailable("connection refused".into())));
    let mut bus = MockBus::new();
    bus.expect_publish().never();
    let (svc, _) = mocked_service(store, bus);
    assert!(matches!(
        svc.send(input("m1")).await,
        Err(ServiceError::StoreUnavailable(_))
    ));
}

#[tokio::test]
async fn resend_of_a_concluded_message_publishes_nothing() {
    let mut store = MockRecords::<Encoded<Mensagem>>::new();
    store
        .expect_insert()
        .returning(|_| Ok(Inserted::Exists(stored(StatusMensagem::Concluida, 0))));
    store.expect_replace().never();
    let mut bus = MockBus::new();
    bus.expect_publish().never();
    let (svc, _) = mocked_service(store, bus);
    let Sent::Replayed(m) = svc.send(input("m1")).await.unwrap() else {
        panic!("not replayed")
    };
    assert_eq!(m.kafka.as_ref().unwrap().offset, 7);
}

#[tokio::test]
async fn resend_while_in_flight_is_a_conflict() {
    let mut store = MockRecords::<Encoded<Mensagem>>::new();
    store
        .expect_insert()
        .returning(|_| Ok(Inserted::Exists(stored(StatusMensagem::Processando, 0))));
    let mut bus = MockBus::new();
    bus.expect_publish().never();
    let (svc, _) = mocked_service(store, bus);
    assert!(matches!(
        svc.send(input("m1")).await,
        Err(ServiceError::Conflict(_))
    ));
}

#[tokio::test]
async fn resend_after_erro_is_a_new_attempt_claimed_at_the_read_revision() {
    let mut store = MockRecords::<Encoded<Mensagem>>::new();
    store
        .expect_insert()
        .returning(|_| Ok(Inserted::Exists(stored(StatusMensagem::Erro, 0))));
    store
        .expect_replace()
        .times(1)
        .withf(|m, rev| {
            *rev == Revision(3) && m.status == StatusMensagem::Processando && m.tentativas == 2
        })
        .returning(|_, _| Ok(Replaced::Done(Revision(4))));
    store
        .expect_replace()
        .times(1)
        .withf(|m, rev| *rev == Revision(4) && m.status == StatusMensagem::Concluida)
        .returning(|_, _| Ok(Replaced::Done(Revision(5))));
    let mut bus = MockBus::new();
    bus.expect_find()
        .times(1)
        .withf(|topic, key, sent| {
            topic == "messages.email"
                && key == "m1"
                && sent.start().is_some()
                && sent.end().is_some()
        })
        .returning(|_, _, _| Ok(None));
    bus.expect_publish()
        .times(1)
        .returning(|_, _| Ok(delivered()));
    let (svc, _) = mocked_service(store, bus);
    let Sent::Created(m) = svc.send(input("m1")).await.unwrap() else {
        panic!("not a new attempt")
    };
    assert_eq!((m.tentativas, m.erro.as_deref()), (2, None));
}

#[tokio::test]
async fn a_retry_that_loses_the_claim_is_a_conflict_and_publishes_nothing() {
    let mut store = MockRecords::<Encoded<Mensagem>>::new();
    store
        .expect_insert()
        .returning(|_| Ok(Inserted::Exists(stored(StatusMensagem::Erro, 0))));
    store
        .expect_replace()
        .returning(|_, _| Ok(Replaced::Stale(None)));
    let mut bus = MockBus::new();
    bus.expect_publish().never();
    let (svc, _) = mocked_service(store, bus);
    assert!(matches!(
        svc.send(input("m1")).await,
        Err(ServiceError::Conflict(_))
    ));
}

#[tokio::test]
async fn a_reused_id_with_other_content_is_refused() {
    let mut store = MockRecords::<Encoded<Mensagem>>::new();
    store
        .expect_insert()
        .returning(|_| Ok(Inserted::Exists(stored(StatusMensagem::Concluida, 0))));
    let (svc, _) = mocked_service(store, MockBus::new());
    let mut other = input("m1");
    other.conteudo = "outro".into();
    match svc.send(other).await {
        Err(ServiceError::Invalid(e)) => assert_eq!(e.field, "id"),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn invalid_input_never_reaches_the_store() {
    let (svc, _) = mocked_service(MockRecords::<Encoded<Mensagem>>::new(), MockBus::new());
    let mut bad = input("m1");
    bad.destinatario = String::new();
    assert!(
        matches!(svc.send(bad).await, Err(ServiceError::Invalid(e)) if e.field == "destinatario")
    );
}

#[tokio::test]
async fn a_store_failure_on_get_and_list_is_reported_not_hidden() {
    let mut store = MockRecords::<Encoded<Mensagem>>::new();
    store.expect_get().returning(|_| Err(StoreError::Timeout));
    store
        .expect_list()
        .returning(|_, _, _| Err(StoreError::Unavailable("down".into())));
    let (svc, _) = mocked_service(store, MockBus::new());
    assert!(matches!(
        svc.get("m1").await,
        Err(ServiceError::StoreTimedOut(_))
    ));
    assert!(matches!(
        svc.list(MessageFilter::default(), Paging::default()).await,
        Err(ServiceError::StoreUnavailable(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_many_concurrent_sends_of_one_id_exactly_one_publishes() {
    let bus = Arc::new(FakeBus::slow(Duration::from_millis(20)));
    let (svc, _) = service(memory_with_bus(bus.clone()).messages());
    let svc = Arc::new(svc);
    let sends: Vec<_> = (0..50)
        .map(|_| {
            let svc = Arc::clone(&svc);
            tokio::spawn(async move { svc.send(input("same")).await })
        })
        .collect();
    let (mut created, mut conflicts, mut replays) = (0, 0, 0);
    for s in sends {
        match s.await.unwrap() {
            Ok(Sent::Created(_)) => created += 1,
            Ok(Sent::Replayed(_)) => replays += 1,
            Err(ServiceError::Conflict(_)) => conflicts += 1,
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(bus.published().len(), 1);
    assert_eq!(created, 1);
    assert_eq!(created + conflicts + replays, 50);
    assert_eq!(
        svc.get("same").await.unwrap().status,
        StatusMensagem::Concluida
    );
}

#[tokio::test]
async fn a_message_abandoned_in_processando_is_taken_up_after_its_lease() {
    let mut store = MockRecords::<Encoded<Mensagem>>::new();
    let abandoned = stored(StatusMensagem::Processando, 10_000);
    let fresh = stored(StatusMensagem::Processando, 0);
    store
        .expect_list()
        .times(1)
        .withf(|filter, _, order| {
            filter.status == Some(StatusMensagem::Processando) && *order == Order::OldestFirst
        })
        .returning(move |_, _, _| Ok(vec![abandoned.clone(), fresh.clone()]));
    store
        .expect_replace()
        .times(1)
        .withf(|m, rev| *rev == Revision(3) && m.tentativas == 2)
        .returning(|_, _| Ok(Replaced::Done(Revision(4))));
    store
        .expect_replace()
        .times(1)
        .withf(|m, rev| *rev == Revision(4) && m.status == StatusMensagem::Concluida)
        .returning(|_, _| Ok(Replaced::Done(Revision(5))));
    let mut bus = MockBus::new();
    bus.expect_find().times(1).returning(|_, _, _| Ok(None));
    bus.expect_publish()
        .times(1)
        .returning(|_, _| Ok(delivered()));
    let (svc, _) = mocked_service(store, bus);
    assert_eq!(svc.redrive_abandoned().await.unwrap(), 1);
}

#[tokio::test]
async fn a_resend_after_an_unanswered_attempt_that_was_stored_publishes_nothing_again() {
    let bus = Arc::new(FakeBus::default());
    let (svc, _) = service(memory_with_bus(bus.clone()).messages());
    bus.answers_lost
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let lost = svc.send(input("m1")).await;
    assert!(
        matches!(lost, Err(ServiceError::BusTimedOut { .. })),
        "{lost:?}"
    );
    assert_eq!(svc.get("m1").await.unwrap().status, StatusMensagem::Erro);

    bus.answers_lost
        .store(false, std::sync::atomic::Ordering::SeqCst);
    let Sent::Created(m) = svc.send(input("m1")).await.unwrap() else {
        panic!("not a new attempt")
    };
    assert_eq!(m.status, StatusMensagem::Concluida);
    assert_eq!(m.tentativas, 2);
    assert_eq!(
        m.kafka.as_ref().map(|k| k.offset),
        Some(0),
        "the first attempt's record"
    );
    assert_eq!(bus.published().len(), 1, "published once");
}

/// A store holding a message in `ERRO` after an attempt that got no answer: the resend claims it
/// (`PROCESSANDO`), then stores one outcome, which must satisfy `outcome`.
fn store_for_a_resend(
    outcome: impl Fn(&Mensagem) -> bool + Send + 'static,
) -> MockRecords<Encoded<Mensagem>> {
    let mut store = MockRecords::<Encoded<Mensagem>>::new();
    store
        .expect_insert()
        .returning(|_| Ok(Inserted::Exists(stored(StatusMensagem::Erro, 0))));
    store
        .expect_replace()
        .times(1)
        .withf(|m, _| m.status == StatusMensagem::Processando)
        .returning(|_, _| Ok(Replaced::Done(Revision(4))));
    store
        .expect_replace()
        .times(1)
        .withf(move |m, _| outcome(m))
        .returning(|_, _| Ok(Replaced::Done(Revision(5))));
    store
}

#[tokio::test]
async fn a_resend_that_cannot_search_the_bus_fails_and_publishes_nothing() {
    let store = store_for_a_resend(|m| {
        m.status == StatusMensagem::Erro
            && m.erro
                .as_deref()
                .is_some_and(|e| e.contains("earlier attempt"))
    });
    let mut bus = MockBus::new();
    bus.expect_find()
        .returning(|_, _, _| Err(BusError::Unavailable("broker down".into())));
    bus.expect_publish().never();
    let (svc, _) = mocked_service(store, bus);
    assert!(matches!(
        svc.send(input("m1")).await,
        Err(ServiceError::BusUnavailable { .. })
    ));
}

#[tokio::test]
async fn lists_are_filtered_and_paged_newest_first() {
    let (svc, _) = service(memory().messages());
    for (i, tipo) in ["email", "sms", "email", "push"].iter().enumerate() {
        let input: NovaMensagem = serde_json::from_value(serde_json::json!({
            "id": format!("m{i}"), "tipo": tipo, "destinatario": "x", "conteudo": "y"
        }))
        .unwrap();
        svc.send(input).await.unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let emails = svc
        .list(
            MessageFilter {
                tipo: Some(integra_domain::TipoMensagem::Email),
                status: None,
            },
            Paging::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        emails.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
        ["m2", "m0"]
    );
    let page = svc
        .list(MessageFilter::default(), Paging::new(1, 2).unwrap())
        .await
        .unwrap();
    assert_eq!(
        page.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
        ["m2", "m1"]
    );
    let done = MessageFilter {
        tipo: None,
        status: Some(StatusMensagem::Concluida),
    };
    assert_eq!(svc.list(done, Paging::default()).await.unwrap().len(), 4);
    assert!(matches!(
        svc.get("nope").await,
        Err(ServiceError::NotFound(_))
    ));
}

#[tokio::test]
async fn a_resend_searches_and_publishes_within_one_publish_timeout() {
    let store = store_for_a_resend(|m| m.status == StatusMensagem::Concluida);
    let mut bus = MockBus::new();
    bus.expect_find().times(1).returning(|_, _, _| {
        std::thread::sleep(Duration::from_millis(60));
        Ok(None)
    });
    // The publish gets what the search left of the 200 ms.
    bus.expect_publish()
        .times(1)
        .withf(|_, within| *within <= Duration::from_millis(140))
        .returning(|_, _| Ok(delivered()));
    let (svc, _) = mocked_service(store, bus);
    assert!(matches!(
        svc.send(input("m1")).await,
        Ok(Sent::Created(m)) if m.status == StatusMensagem::Concluida
    ));
}

#[tokio::test]
async fn a_resend_whose_search_leaves_no_time_fails_as_a_timeout_and_publishes_nothing() {
    let store = store_for_a_resend(|m| m.status == StatusMensagem::Erro);
    let mut bus = MockBus::new();
    bus.expect_find().times(1).returning(|_, _, _| {
        std::thread::sleep(Duration::from_millis(195));
        Ok(None)
    });
    bus.expect_publish().never();
    let (svc, _) = mocked_service(store, bus);
    assert!(matches!(
        svc.send(input("m1")).await,
        Err(ServiceError::BusTimedOut { .. })
    ));
}

#[tokio::test]
async fn each_state_of_a_send_is_one_text_for_the_store_the_bus_the_events_and_the_answer() {
    let bus = Arc::new(FakeBus::default());
    let ports = memory_with_bus(bus.clone());
    let (svc, mut events) = service(ports.messages());
    let Sent::Created(sent) = svc.send(input("m1")).await.unwrap() else {
        panic!("not created")
    };
    let serialized = serde_json::to_string(&*sent).unwrap();
    assert_eq!(sent.json(), serialized, "the answer is what serde writes");
    let stored = svc.get("m1").await.unwrap();
    assert_eq!(stored.json(), serialized, "the store kept that text");
    let published = bus.published();
    assert_eq!(published.len(), 1);
    let on_the_bus: Mensagem = serde_json::from_slice(&published[0].payload).unwrap();
    assert_eq!(on_the_bus.status, StatusMensagem::Processando);
    assert_eq!(
        published[0].payload,
        serde_json::to_vec(&on_the_bus).unwrap(),
        "the bus record is what serde writes for the claimed message"
    );
    let texts: Vec<String> = std::iter::from_fn(|| events.try_recv().ok())
        .map(|e| e.json().to_owned())
        .collect();
    assert_eq!(
        texts,
        [
            Evento::MensagemAtualizada(&on_the_bus).to_json(),
            Evento::MensagemAtualizada(&sent).to_json()
        ]
    );
}
