use std::time::{Duration, Instant};

use integra_tests::{
    get, post, shared_redis_url, spawn_app, unique_prefix, Daemon, StoreBackend, TestApp,
};
use serde_json::json;

/// A server on the Redis at `url`, its keys under `prefix`.
async fn start(url: &str, prefix: &str) -> TestApp {
    spawn_app(|s| {
        s.store.backend = StoreBackend::Redis;
        s.store.url = url.into();
        s.store.key_prefix = prefix.to_owned();
    })
    .await
}

#[actix_rt::test]
async fn two_servers_sharing_redis_see_the_same_messages_and_publish_each_id_once() {
    let (url, prefix) = (shared_redis_url(), unique_prefix());
    let (a, b) = (start(&url, &prefix).await, start(&url, &prefix).await);
    let mut sends = Vec::new();
    for i in 0..20 {
        for server in [&a, &b, &a, &b] {
            let url = server.url("/messages");
            sends.push(actix_rt::spawn(async move {
                post(&url, &json!({"id": format!("shared-{i}"), "tipo": "email", "destinatario": "d", "conteudo": "c"})).await.status
            }));
        }
    }
    let mut created = 0;
    for send in sends {
        let status = send.await.unwrap();
        assert!(matches!(status, 200 | 201 | 409), "{status}");
        created += usize::from(status == 201);
    }
    assert_eq!(created, 20, "each id is created once across both servers");
    let listed = get(&b.url("/messages?limit=1000")).await.json;
    assert_eq!(listed.as_array().unwrap().len(), 20);
    assert_eq!(
        get(&a.url("/messages/shared-3")).await.json["tentativas"],
        1
    );
}

#[actix_rt::test]
async fn redis_killed_under_the_server_gives_503_then_service_resumes() {
    let mut redis = Daemon::redis().await;
    let url = format!("redis://{}", redis.address());
    let s = start(&url, "").await;
    let body = |id: &str| json!({"id": id, "tipo": "sms", "destinatario": "d", "conteudo": "c"});
    assert_eq!(post(&s.url("/messages"), &body("before")).await.status, 201);

    redis.kill();
    for path in ["/messages/before", "/messages", "/alerts"] {
        let started = Instant::now();
        get(&s.url(path)).await.assert_problem(503);
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{path} took {:?}",
            started.elapsed()
        );
    }
    post(&s.url("/messages"), &body("during"))
        .await
        .assert_problem(503);
    post(&s.url("/metrics"), &json!({"nome": "x", "valor": 1}))
        .await
        .assert_problem(503);
    s.wait_until(|status| status == 503, "/readyz", Duration::from_secs(5))
        .await;
    assert!(get(&s.url("/readyz")).await.json["detail"]
        .as_str()
        .unwrap()
        .contains("store"));

    redis.start().await;
    s.wait_until(|status| status == 200, "/readyz", Duration::from_secs(20))
        .await;
    assert_eq!(post(&s.url("/messages"), &body("after")).await.status, 201);
    assert_eq!(
        get(&s.url("/messages/after")).await.json["status"],
        "CONCLUIDA"
    );
}

/// A bus that counts publishes per key and takes a few ms to acknowledge.
#[derive(Default)]
struct CountingBus(std::sync::Mutex<std::collections::HashMap<String, usize>>);

#[async_trait::async_trait]
impl integra_ports::Bus for CountingBus {
    async fn publish(
        &self,
        r: &integra_ports::Outbound,
        _within: Duration,
    ) -> Result<integra_domain::CoordenadasKafka, integra_ports::BusError> {
        actix_rt::time::sleep(Duration::from_millis(5)).await;
        *self.0.lock().unwrap().entry(r.key.clone()).or_default() += 1;
        Ok(integra_domain::CoordenadasKafka {
            topico: r.topic.clone(),
            particao: 0,
            offset: 0,
        })
    }
    async fn find(
        &self,
        topic: &str,
        key: &str,
        _: integra_domain::TimeRange,
    ) -> Result<Option<integra_domain::CoordenadasKafka>, integra_ports::BusError> {
        Ok(self
            .0
            .lock()
            .unwrap()
            .get(key)
            .map(|_| integra_domain::CoordenadasKafka {
                topico: topic.to_owned(),
                particao: 0,
                offset: 0,
            }))
    }
    async fn subscribe(
        &self,
        _: &str,
    ) -> Result<integra_ports::Subscription, integra_ports::BusError> {
        Err(integra_ports::BusError::Unavailable("not used".into()))
    }
    async fn ping(&self) -> Result<(), integra_ports::BusError> {
        Ok(())
    }
}

/// Two message services (as two instances would hold) on one Redis, 6 concurrent sends of each
/// of 40 ids spread over both: the bus sees every id exactly once.
#[actix_rt::test]
async fn two_services_sharing_one_redis_publish_each_id_once() {
    use std::sync::Arc;

    use integra_redis::{RedisConfig, RedisEngine, RedisStore};
    use integra_services::{Events, MessageService, Ports, PublishConfig, Sent, ServiceError};

    let prefix = unique_prefix();
    let bus = Arc::new(CountingBus::default());
    let (events, _keep) = Events::channel(100_000);
    let mut services = Vec::new();
    for _ in 0..2 {
        let config = RedisConfig {
            key_prefix: prefix.clone(),
            ..RedisConfig::new(shared_redis_url())
        };
        let store: Arc<dyn integra_ports::Store> =
            Arc::new(RedisStore::new(RedisEngine::connect(config).await.unwrap()));
        let ports = Ports::new(store, bus.clone(), Arc::new(integra_ports::NoopMetrics));
        services.push(Arc::new(MessageService::new(
            ports.messages(),
            events.clone(),
            PublishConfig::default(),
        )));
    }
    let mut sends = Vec::new();
    for id in 0..40 {
        for attempt in 0..6 {
            let service = Arc::clone(&services[attempt % 2]);
            sends.push(actix_rt::spawn(async move {
                let input = serde_json::from_value(json!({
                    "id": format!("race-{id}"), "tipo": "sms", "destinatario": "d", "conteudo": "c"
                }))
                .unwrap();
                service.send(input).await
            }));
        }
    }
    let mut created = 0;
    for send in sends {
        match send.await.unwrap() {
            Ok(Sent::Created(_)) => created += 1,
            Ok(Sent::Replayed(_)) | Err(ServiceError::Conflict(_)) => {}
            Err(e) => panic!("unexpected {e}"),
        }
    }
    let counts = bus.0.lock().unwrap();
    assert_eq!(counts.len(), 40);
    assert!(
        counts.values().all(|n| *n == 1),
        "an id was published more than once: {counts:?}"
    );
    assert_eq!(created, 40);
}
