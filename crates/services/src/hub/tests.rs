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
    let ports = memory().presence();
    let (a, _) = Hub::new(ports.clone(), config(max_queue, 100));
    let (b, _) = Hub::new(ports, config(max_queue, 100));
    let (ta, tb) = (a.start(), b.start());
    (a, b, ta, tb)
}

async fn text(conn: &mut Connection) -> String {
    match tokio::time::timeout(Duration::from_secs(5), conn.next())
        .await
        .expect("nothing arrived")
    {
        Outgoing::Text(t) => t.to_string(),
        Outgoing::Close(r) => panic!("closed: {r:?}"),
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
    let (hub, _) = Hub::new(memory().presence(), config(4, 2));
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
    let (hub, events) = Hub::new(memory().presence(), config(16, 10));
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
    let (hub, _) = Hub::new(mocked(presence(store), bus), config(4, 4));
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
    let ports = crate::test_support::memory_with_bus(bus.clone()).presence();
    let config = HubConfig {
        stall_after: Duration::from_millis(300),
        ..config(8, 8)
    };
    let (hub, _) = Hub::new(ports, config);
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
