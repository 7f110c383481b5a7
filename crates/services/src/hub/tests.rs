#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use integra_domain::{AlertEvent, Alerta, NovoAlerta, Timestamp};
use integra_ports::{BusError, MockBus, MockPresenceStore, PresenceStore};

use super::*;
use crate::test_support::{memory, mocked};

fn presence(store: MockPresenceStore) -> Arc<dyn PresenceStore> {
    Arc::new(store)
}

fn config(max_queue: usize, max_connections: usize) -> HubConfig {
    HubConfig {
        max_queue,
        max_connections,
        heartbeat_every: Duration::from_millis(50),
        ..HubConfig::default()
    }
}

/// Two hubs (two instances) sharing one store and one bus.
fn pair(max_queue: usize) -> (Hub, Hub, HubTasks, HubTasks) {
    let store = memory();
    let (ports, history) = (store.presence(), store.channels());
    let (a, _) = Hub::new(ports.clone(), history.clone(), config(max_queue, 100));
    let (b, _) = Hub::new(ports, history, config(max_queue, 100));
    let (ta, tb) = (a.start(), b.start());
    (a, b, ta, tb)
}

async fn text(conn: &mut Connection) -> String {
    match tokio::time::timeout(Duration::from_secs(5), conn.next())
        .await
        .expect("nothing arrived")
    {
        Outgoing::Text(t) => t.to_string(),
        other => panic!("not a text: {other:?}"),
    }
}

async fn ready(hubs: &[&Hub]) {
    for hub in hubs {
        assert!(
            hub.wait_subscribed(Duration::from_secs(2)).await,
            "subscription never became live"
        );
    }
}

#[tokio::test]
async fn the_first_text_names_the_connection() {
    let (a, _b, _ta, _tb) = pair(8);
    let mut conn = a.connect().await.unwrap();
    let hello: serde_json::Value = serde_json::from_str(&text(&mut conn).await).unwrap();
    assert_eq!(hello["evento"], "conectado");
    assert_eq!(hello["dados"]["conexao_id"], conn.id());
}

#[tokio::test]
async fn a_broadcast_reaches_every_connection_on_every_instance() {
    let (a, b, _ta, _tb) = pair(8);
    ready(&[&a, &b]).await;
    let mut on_a = a.connect().await.unwrap();
    let mut on_b = b.connect().await.unwrap();
    text(&mut on_a).await;
    text(&mut on_b).await;
    a.broadcast("olá a todos").await.unwrap();
    assert_eq!(text(&mut on_a).await, "olá a todos");
    assert_eq!(text(&mut on_b).await, "olá a todos");
}

#[tokio::test]
async fn a_personal_message_reaches_only_its_connection_even_on_another_instance() {
    let (a, b, _ta, _tb) = pair(8);
    ready(&[&a, &b]).await;
    let mut target = b.connect().await.unwrap();
    let mut bystander = a.connect().await.unwrap();
    text(&mut target).await;
    text(&mut bystander).await;
    a.send_to(target.id(), "só para ti").await.unwrap();
    assert_eq!(text(&mut target).await, "só para ti");
    a.broadcast("marker").await.unwrap();
    assert_eq!(
        text(&mut bystander).await,
        "marker",
        "the bystander got the personal message"
    );
    assert!(matches!(
        a.send_to("nobody", "x").await,
        Err(ServiceError::NotFound(_))
    ));
}

#[tokio::test]
async fn a_connection_whose_queue_overflows_is_closed_and_the_others_go_on() {
    let (a, _b, _ta, _tb) = pair(4);
    ready(&[&a]).await;
    let mut slow = a.connect().await.unwrap();
    let mut fast = a.connect().await.unwrap();
    text(&mut fast).await;
    for i in 0..10 {
        a.broadcast(&i.to_string()).await.unwrap();
        assert_eq!(text(&mut fast).await, i.to_string());
    }
    // The slow one never read: its next step is the close, ahead of what it had queued.
    assert!(matches!(
        slow.next().await,
        Outgoing::Close(CloseReason::Overflow)
    ));
    assert_eq!(a.local_connections(), 1);
}

#[tokio::test]
async fn past_max_connections_a_new_connection_is_refused() {
    let (hub, _) = Hub::new(memory().presence(), memory().channels(), config(4, 2));
    let _a = hub.connect().await.unwrap();
    let b = hub.connect().await.unwrap();
    assert!(matches!(
        hub.connect().await,
        Err(ServiceError::Overloaded(_))
    ));
    drop(b);
    assert!(
        hub.connect().await.is_ok(),
        "a closed connection frees its place"
    );
}

#[tokio::test]
async fn events_from_services_reach_the_connections() {
    let (hub, events) = Hub::new(memory().presence(), memory().channels(), config(16, 10));
    let _tasks = hub.start();
    ready(&[&hub]).await;
    let mut conn = hub.connect().await.unwrap();
    text(&mut conn).await;
    let input: NovoAlerta = serde_json::from_str(r#"{"titulo":"t","severidade":"baixa"}"#).unwrap();
    let alert = Alerta::raise(input, Timestamp::now()).unwrap();
    events.emit(AlertEvent::Criado.about(&alert));
    let got: serde_json::Value = serde_json::from_str(&text(&mut conn).await).unwrap();
    assert_eq!(got["evento"], "alerta.criado");
}

#[tokio::test]
async fn closing_all_tells_every_connection_the_server_goes_away() {
    let (a, _b, _ta, _tb) = pair(8);
    let mut c = a.connect().await.unwrap();
    a.close_all(CloseReason::GoingAway);
    assert!(matches!(
        c.next().await,
        Outgoing::Close(CloseReason::GoingAway)
    ));
}

#[tokio::test]
async fn a_broadcast_on_a_bus_that_is_down_fails_with_a_publish_error() {
    let mut bus = MockBus::new();
    bus.expect_publish()
        .returning(|_, _| Err(BusError::Unavailable("down".into())));
    let (hub, _) = Hub::new(
        mocked(presence(MockPresenceStore::new()), bus),
        memory().channels(),
        config(4, 4),
    );
    assert!(matches!(
        hub.broadcast("x").await,
        Err(ServiceError::BusUnavailable { id: None, .. })
    ));
}

#[tokio::test]
async fn a_subscription_that_delivers_nothing_is_reported_stalled() {
    let mut bus = MockBus::new();
    bus.expect_subscribe()
        .returning(|_| Ok(Box::pin(futures_util::stream::pending())));
    bus.expect_publish().returning(|r, _| {
        Ok(integra_domain::CoordenadasKafka {
            topico: r.topic.clone(),
            particao: 0,
            offset: 0,
        })
    });
    let mut store = MockPresenceStore::new();
    store.expect_put_presence().returning(|_, _, _| Ok(()));
    let (hub, _) = Hub::new(
        mocked(presence(store), bus),
        memory().channels(),
        config(4, 4),
    );
    let _tasks = hub.start();
    assert!(!hub.wait_subscribed(Duration::from_millis(200)).await);
    assert!(!hub.subscription_healthy());
}

/// The in-process bus, except that its first subscription never delivers anything.
#[derive(Default)]
struct FirstSubscriptionDead {
    bus: integra_memory::MemoryBus,
    subscriptions: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl integra_ports::Bus for FirstSubscriptionDead {
    async fn publish(
        &self,
        record: &integra_ports::Outbound,
        within: std::time::Duration,
    ) -> Result<integra_domain::CoordenadasKafka, BusError> {
        self.bus.publish(record, within).await
    }

    async fn find(
        &self,
        topic: &str,
        key: &str,
        sent: integra_domain::TimeRange,
    ) -> Result<Option<integra_domain::CoordenadasKafka>, BusError> {
        self.bus.find(topic, key, sent).await
    }

    async fn subscribe(&self, topic: &str) -> Result<integra_ports::Subscription, BusError> {
        if self.subscriptions.fetch_add(1, Ordering::SeqCst) == 0 {
            return Ok(Box::pin(futures_util::stream::pending()));
        }
        self.bus.subscribe(topic).await
    }

    async fn ping(&self) -> Result<(), BusError> {
        Ok(())
    }
}

#[tokio::test]
async fn a_stalled_subscription_is_replaced_and_the_hub_recovers() {
    let bus = Arc::new(FirstSubscriptionDead::default());
    let store = crate::test_support::memory_with_bus(bus.clone());
    let (ports, history) = (store.presence(), store.channels());
    let config = HubConfig {
        stall_after: Duration::from_millis(300),
        ..config(8, 8)
    };
    let (hub, _) = Hub::new(ports, history, config);
    let _tasks = hub.start();
    assert!(
        hub.wait_subscribed(Duration::from_secs(5)).await,
        "the hub never subscribed again"
    );
    assert_eq!(bus.subscriptions.load(Ordering::SeqCst), 2);
    let mut conn = hub.connect().await.unwrap();
    text(&mut conn).await;
    hub.broadcast("after the stall").await.unwrap();
    assert_eq!(text(&mut conn).await, "after the stall");
}

mod channels {
    use integra_domain::{Canal, Dados, Desde};
    use integra_ports::HistoryLimits;

    use super::*;

    fn canal(name: &str) -> Canal {
        Canal::parse(name).unwrap()
    }

    fn dados(i: u64) -> Dados {
        Dados::parse(format!(r#"{{"i":{i}}}"#)).unwrap()
    }

    async fn next(conn: &mut Connection) -> Outgoing {
        tokio::time::timeout(Duration::from_secs(5), conn.next())
            .await
            .expect("nothing arrived")
    }

    /// What a subscriber receives next: (offset, i) of a publication, or panics.
    async fn publication(conn: &mut Connection) -> (u64, u64) {
        match next(conn).await {
            Outgoing::Publication(p) => {
                let v: serde_json::Value = serde_json::from_str(p.json()).unwrap();
                (p.offset, v["dados"]["i"].as_u64().unwrap())
            }
            other => panic!("not a publication: {other:?}"),
        }
    }

    async fn subscribed(conn: &mut Connection) -> (u64, String, bool) {
        loop {
            match next(conn).await {
                Outgoing::Subscribed {
                    posicao,
                    recuperado,
                    ..
                } => return (posicao.offset, posicao.epoca, recuperado),
                Outgoing::Text(_) => {}
                other => panic!("not subscribed: {other:?}"),
            }
        }
    }

    /// Two hubs sharing one store and one bus, with channels keeping `history` publications.
    fn pair_keeping(history: usize) -> (Hub, Hub, HubTasks, HubTasks) {
        let store = memory();
        let config = HubConfig {
            channels: ChannelsConfig {
                history: HistoryLimits {
                    size: history,
                    ttl_ms: 60_000,
                },
                max_per_connection: 3,
            },
            ..config(2048, 100)
        };
        let (a, _) = Hub::new(store.presence(), store.channels(), config);
        let (b, _) = Hub::new(store.presence(), store.channels(), config);
        let (ta, tb) = (a.start(), b.start());
        (a, b, ta, tb)
    }

    #[tokio::test]
    async fn publications_from_both_instances_reach_subscribers_of_both_in_order_once() {
        let (a, b, _ta, _tb) = pair_keeping(1000);
        ready(&[&a, &b]).await;
        let c = canal("pedidos");
        let mut on_a = a.open(Mode::Channels).await.unwrap();
        let mut on_b = b.open(Mode::Stream).await.unwrap();
        on_a.subscribe(c.clone(), None).await.unwrap();
        on_b.subscribe(c.clone(), None).await.unwrap();
        assert_eq!(subscribed(&mut on_a).await.0, 0);
        assert_eq!(subscribed(&mut on_b).await.0, 0);
        let publishers: Vec<_> = [a.clone(), b.clone()]
            .into_iter()
            .enumerate()
            .map(|(n, hub)| {
                let c = c.clone();
                tokio::spawn(async move {
                    for i in 0..100 {
                        hub.publish(&c, dados(n as u64 * 1000 + i)).await.unwrap();
                    }
                })
            })
            .collect();
        for p in publishers {
            p.await.unwrap();
        }
        for conn in [&mut on_a, &mut on_b] {
            let offsets: Vec<u64> = {
                let mut got = Vec::new();
                for _ in 0..200 {
                    got.push(publication(conn).await.0);
                }
                got
            };
            assert_eq!(offsets, (1..=200).collect::<Vec<_>>());
        }
        let (posicao, inscritos) = a.channel(&c).await.unwrap();
        assert_eq!((posicao.offset, inscritos), (200, 2));
    }

    #[tokio::test]
    async fn a_subscriber_back_on_the_other_instance_recovers_exactly_what_it_missed() {
        let (a, b, _ta, _tb) = pair_keeping(1000);
        ready(&[&a, &b]).await;
        let c = canal("recupera");
        for i in 1..=10 {
            a.publish(&c, dados(i)).await.unwrap();
        }
        let mut first = a.open(Mode::Channels).await.unwrap();
        first.subscribe(c.clone(), None).await.unwrap();
        let (offset, epoca, _) = subscribed(&mut first).await;
        assert_eq!(offset, 10);
        drop(first);
        for i in 11..=510 {
            a.publish(&c, dados(i)).await.unwrap();
        }
        let mut back = b.open(Mode::Channels).await.unwrap();
        let desde = Desde {
            offset: 10,
            epoca: Some(epoca),
        };
        back.subscribe(c.clone(), Some(desde)).await.unwrap();
        assert!(subscribed(&mut back).await.2);
        for expected in 11..=510 {
            assert_eq!(publication(&mut back).await, (expected, expected));
        }
        a.publish(&c, dados(511)).await.unwrap();
        assert_eq!(publication(&mut back).await, (511, 511));
    }

    #[tokio::test]
    async fn past_the_history_a_recovery_says_so_and_sends_what_is_kept() {
        let (a, b, _ta, _tb) = pair_keeping(100);
        ready(&[&a, &b]).await;
        let c = canal("curto");
        let first = a.publish(&c, dados(1)).await.unwrap();
        for i in 2..=501 {
            a.publish(&c, dados(i)).await.unwrap();
        }
        let mut back = b.open(Mode::Channels).await.unwrap();
        let desde = Desde {
            offset: 1,
            epoca: Some(first.epoca.clone()),
        };
        back.subscribe(c.clone(), Some(desde)).await.unwrap();
        assert_eq!(subscribed(&mut back).await, (501, first.epoca, false));
        for expected in 402..=501 {
            assert_eq!(publication(&mut back).await.0, expected);
        }
        // Another history's offsets mean nothing here: everything kept comes, not recovered.
        let mut other = b.open(Mode::Channels).await.unwrap();
        let stranger = Desde {
            offset: 450,
            epoca: Some("another".into()),
        };
        other.subscribe(c.clone(), Some(stranger)).await.unwrap();
        assert!(!subscribed(&mut other).await.2);
        assert_eq!(publication(&mut other).await.0, 402);
    }

    #[tokio::test]
    async fn a_publication_missing_from_the_topic_is_read_from_the_store() {
        let store = memory();
        let (hub, _) = Hub::new(store.presence(), store.channels(), config(64, 10));
        let _tasks = hub.start();
        ready(&[&hub]).await;
        let c = canal("lacuna");
        let mut conn = hub.open(Mode::Stream).await.unwrap();
        conn.subscribe(c.clone(), None).await.unwrap();
        subscribed(&mut conn).await;
        // Numbered by the store, but never announced (as when its record is lost on the way).
        store
            .channels()
            .publish(
                &c,
                &[dados(1)],
                Timestamp::now(),
                "e",
                ChannelsConfig::default().history,
            )
            .await
            .unwrap();
        hub.publish(&c, dados(2)).await.unwrap();
        assert_eq!(publication(&mut conn).await, (1, 1));
        assert_eq!(publication(&mut conn).await, (2, 2));
    }

    #[tokio::test]
    async fn system_channels_carry_the_events_and_channel_connections_get_no_other_event() {
        let store = memory();
        let (hub, events) = Hub::new(store.presence(), store.channels(), config(64, 10));
        let _tasks = hub.start();
        ready(&[&hub]).await;
        let mut everything = hub.connect().await.unwrap();
        let mut channels_only = hub.open(Mode::Channels).await.unwrap();
        text(&mut everything).await;
        text(&mut channels_only).await;
        channels_only
            .subscribe(Canal::alertas(), None)
            .await
            .unwrap();
        subscribed(&mut channels_only).await;
        let input: NovoAlerta =
            serde_json::from_str(r#"{"titulo":"t","severidade":"alta"}"#).unwrap();
        let alert = Alerta::raise(input, Timestamp::now()).unwrap();
        events.emit(AlertEvent::Criado.about(&alert));
        let event: serde_json::Value = serde_json::from_str(&text(&mut everything).await).unwrap();
        assert_eq!(event["evento"], "alerta.criado");
        match next(&mut channels_only).await {
            Outgoing::Publication(p) => {
                let v: serde_json::Value = serde_json::from_str(p.json()).unwrap();
                assert_eq!(
                    (v["canal"].as_str(), v["offset"].as_u64()),
                    (Some("alertas"), Some(1))
                );
                assert_eq!(v["dados"], event);
            }
            other => panic!("not a publication: {other:?}"),
        }
        // Broadcasts still reach it.
        hub.broadcast("todos").await.unwrap();
        assert_eq!(text(&mut channels_only).await, "todos");
        assert_eq!(text(&mut everything).await, "todos");
        let stored = hub.history(&Canal::alertas(), 0, 10).await.unwrap();
        assert_eq!(stored.publicacoes.len(), 1);
    }

    #[tokio::test]
    async fn a_cancelled_subscription_gets_nothing_more_and_the_limit_is_refused() {
        let (a, _b, _ta, _tb) = pair_keeping(10);
        ready(&[&a]).await;
        let mut conn = a.open(Mode::Stream).await.unwrap();
        for name in ["x", "y", "z"] {
            conn.subscribe(canal(name), None).await.unwrap();
            subscribed(&mut conn).await;
        }
        assert!(matches!(
            conn.subscribe(canal("w"), None).await,
            Err(ServiceError::Invalid(_))
        ));
        a.publish(&canal("x"), dados(1)).await.unwrap();
        assert!(conn.unsubscribe(&canal("x")));
        assert!(!conn.unsubscribe(&canal("x")));
        a.publish(&canal("y"), dados(2)).await.unwrap();
        // What x left queued is dropped; y's comes.
        assert_eq!(publication(&mut conn).await, (1, 2));
        conn.subscribe(canal("w"), None).await.unwrap();
        assert_eq!(subscribed(&mut conn).await.0, 0);
    }

    #[tokio::test]
    async fn a_subscriber_that_reads_too_slowly_is_closed_and_the_others_go_on() {
        let store = memory();
        let (hub, _) = Hub::new(store.presence(), store.channels(), config(8, 10));
        let _tasks = hub.start();
        ready(&[&hub]).await;
        let c = canal("rapido");
        let mut slow = hub.open(Mode::Stream).await.unwrap();
        let mut fast = hub.open(Mode::Stream).await.unwrap();
        slow.subscribe(c.clone(), None).await.unwrap();
        fast.subscribe(c.clone(), None).await.unwrap();
        subscribed(&mut slow).await;
        subscribed(&mut fast).await;
        for i in 1..=20 {
            hub.publish(&c, dados(i)).await.unwrap();
            assert_eq!(publication(&mut fast).await, (i, i));
        }
        assert!(matches!(
            next(&mut slow).await,
            Outgoing::Close(CloseReason::Overflow)
        ));
        assert_eq!(hub.local_connections(), 1);
    }
}
