use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use integra_kafka::{KafkaBus, KafkaConfig};
use integra_ports::Bus;
use integra_tests::{
    get, post, shared_brokers, shared_redis_url, spawn_app, unique_prefix, BusBackend, Daemon,
    StoreBackend, TestApp, WsClient,
};
use serde_json::json;

/// A server on the shared Redis and the `brokers`, its keys and topics under `prefix`, ready.
pub(crate) async fn start(brokers: &str, prefix: &str) -> TestApp {
    let server = spawn_app(|s| {
        s.store.backend = StoreBackend::Redis;
        s.store.url = shared_redis_url().into();
        s.store.key_prefix = prefix.to_owned();
        s.bus.backend = BusBackend::Kafka;
        s.bus.brokers = brokers.to_owned();
        s.bus.topic_prefix = prefix.to_owned();
        s.bus.timeout_ms = 3000;
    })
    .await;
    server
        .wait_until(|status| status == 200, "/readyz", Duration::from_secs(30))
        .await;
    server
}

async fn subscribe(prefix: &str, topic: &str) -> integra_ports::Subscription {
    let config = KafkaConfig {
        topic_prefix: prefix.into(),
        timeout: Duration::from_secs(10),
        ..KafkaConfig::new(shared_brokers())
    };
    KafkaBus::new(&config)
        .unwrap()
        .subscribe(topic)
        .await
        .unwrap()
}

#[actix_rt::test]
async fn every_accepted_message_is_on_its_topic_exactly_once_with_its_key() {
    let prefix = unique_prefix();
    let s = start(&shared_brokers(), &prefix).await;
    let mut topic = subscribe(&prefix, "messages.email").await;
    let mut sends = Vec::new();
    for i in 0..30 {
        for _ in 0..3 {
            let url = s.url("/messages");
            sends.push(actix_rt::spawn(async move {
                post(&url, &json!({"id": format!("k{i}"), "tipo": "email", "destinatario": "d", "conteudo": format!("c{i}")})).await
            }));
        }
    }
    for send in sends {
        let r = send.await.unwrap();
        assert!(matches!(r.status, 200 | 201 | 409), "{}", r.text);
        if r.status == 201 {
            assert_eq!(r.json["kafka"]["topico"], format!("{prefix}messages.email"));
        }
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    // Every send was acknowledged already: read until the topic stays quiet for 3 s.
    while Instant::now() < deadline {
        let Ok(Some(record)) = actix_rt::time::timeout(Duration::from_secs(3), topic.next()).await
        else {
            break;
        };
        let value: serde_json::Value = serde_json::from_slice(&record.payload).unwrap();
        assert_eq!(
            record.key.as_deref(),
            value["id"].as_str(),
            "the key is the id"
        );
        *seen.entry(record.key.unwrap()).or_default() += 1;
    }
    assert_eq!(seen.len(), 30, "{seen:?}");
    assert!(
        seen.values().all(|n| *n == 1),
        "a message was published twice: {seen:?}"
    );
}

#[actix_rt::test]
async fn alert_events_are_published_on_alerts() {
    let prefix = unique_prefix();
    let s = start(&shared_brokers(), &prefix).await;
    let mut alerts = subscribe(&prefix, "alerts").await;
    let alert = json!({"id": "a1", "titulo": "t", "severidade": "critica"});
    assert_eq!(post(&s.url("/alerts"), &alert).await.status, 201);
    assert_eq!(post(&s.url("/alerts"), &alert).await.status, 200);
    assert_eq!(
        post(&s.url("/alerts/a1/resolve"), &json!({})).await.status,
        200
    );
    let mut events = Vec::new();
    while let Ok(Some(record)) =
        actix_rt::time::timeout(Duration::from_secs(3), alerts.next()).await
    {
        let value: serde_json::Value = serde_json::from_slice(&record.payload).unwrap();
        assert_eq!(record.key.as_deref(), Some("a1"));
        events.push(value["evento"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        events,
        ["alerta.criado", "alerta.resolvido"],
        "deduplication published nothing"
    );
}

#[actix_rt::test]
async fn an_acknowledgement_on_one_instance_is_published_once_and_seen_by_the_other() {
    let prefix = unique_prefix();
    let (a, b) = (
        start(&shared_brokers(), &prefix).await,
        start(&shared_brokers(), &prefix).await,
    );
    let mut alerts = subscribe(&prefix, "alerts").await;
    let alert = json!({"id": "ack1", "titulo": "t", "severidade": "alta"});
    assert_eq!(post(&a.url("/alerts"), &alert).await.status, 201);
    for server in [&b, &a, &b] {
        let r = post(&server.url("/alerts/ack1/ack"), &json!({"por": "ana"})).await;
        assert_eq!(
            (r.status, r.json["reconhecido_por"].as_str()),
            (200, Some("ana")),
            "{}",
            r.text
        );
    }
    let listed = get(&a.url("/alerts?reconhecido=true&severidade=alta")).await;
    assert_eq!(
        listed.json.as_array().map(Vec::len),
        Some(1),
        "{}",
        listed.text
    );
    let mut events = Vec::new();
    while let Ok(Some(record)) =
        actix_rt::time::timeout(Duration::from_secs(3), alerts.next()).await
    {
        let value: serde_json::Value = serde_json::from_slice(&record.payload).unwrap();
        events.push(value["evento"].as_str().unwrap().to_owned());
    }
    assert_eq!(events, ["alerta.criado", "alerta.reconhecido"]);
}

#[actix_rt::test]
async fn two_instances_fan_out_broadcasts_and_personal_messages_to_each_others_clients() {
    let prefix = unique_prefix();
    let brokers = shared_brokers();
    let (a, b) = (
        start(&brokers, &prefix).await,
        start(&brokers, &prefix).await,
    );
    let mut on_a = WsClient::connect(&a.ws_url("/ws")).await;
    let mut on_b = WsClient::connect(&b.ws_url("/ws")).await;
    assert_eq!(
        post(
            &a.url("/ws/broadcast"),
            &json!({"texto": "de A para todos"})
        )
        .await
        .status,
        202
    );
    assert_eq!(on_a.next_text().await, "de A para todos");
    assert_eq!(on_b.next_text().await, "de A para todos");
    let personal = post(
        &a.url(&format!("/ws/connections/{}/messages", on_b.id)),
        &json!({"texto": "de A para B"}),
    )
    .await;
    assert_eq!(personal.status, 202, "{}", personal.text);
    assert_eq!(on_b.next_text().await, "de A para B");
    post(&b.url("/ws/broadcast"), &json!({"texto": "marcador"})).await;
    assert_eq!(
        on_a.next_text().await,
        "marcador",
        "A's client got B's personal message"
    );
    assert_eq!(on_b.next_text().await, "marcador");
    // Events of a change made on A reach B's client.
    post(
        &a.url("/alerts"),
        &json!({"titulo": "t", "severidade": "baixa"}),
    )
    .await;
    assert_eq!(on_b.next_json().await["evento"], "alerta.criado");
}

/// The broker stops answering mid-run (frozen: connections stay open and nothing answers, as
/// when a broker hangs or the network is cut), then comes back with its state. Killed brokers,
/// with their data and without, are in `faults.rs`.
#[actix_rt::test]
async fn a_broker_that_stops_answering_gives_502_and_erro_then_a_resend_succeeds_once_it_is_back() {
    let broker = Daemon::tansu().await;
    let s = start(&broker.address(), &unique_prefix()).await;
    let body =
        json!({"id": "through-outage", "tipo": "push", "destinatario": "d", "conteudo": "c"});
    assert_eq!(
        post(
            &s.url("/messages"),
            &json!({"tipo": "push", "destinatario": "d", "conteudo": "warm-up"})
        )
        .await
        .status,
        201
    );

    broker.freeze();
    let started = Instant::now();
    let failed = post(&s.url("/messages"), &body).await;
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "the request hung for {:?}",
        started.elapsed()
    );
    failed.assert_problem(502);
    assert_eq!(failed.json["id"], "through-outage");
    let stored = get(&s.url("/messages/through-outage")).await.json;
    assert_eq!(stored["status"], "ERRO", "{stored}");
    s.wait_until(|status| status == 503, "/readyz", Duration::from_secs(10))
        .await;

    broker.thaw();
    let deadline = Instant::now() + Duration::from_secs(60);
    let resent = loop {
        let r = post(&s.url("/messages"), &body).await;
        if r.status == 201 || Instant::now() > deadline {
            break r;
        }
        assert!(matches!(r.status, 502 | 504), "{}", r.text);
        actix_rt::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(resent.status, 201, "{}", resent.text);
    assert_eq!(resent.json["status"], "CONCLUIDA");
    assert!(resent.json["tentativas"].as_u64().unwrap() >= 2);
}

/// The keys of every record that arrives on `subscription` within `quiet` of the one before.
async fn keys_until_quiet(
    subscription: &mut integra_ports::Subscription,
    quiet: Duration,
) -> Vec<(String, serde_json::Value)> {
    let mut records = Vec::new();
    while let Ok(Some(record)) = actix_rt::time::timeout(quiet, subscription.next()).await {
        let value = serde_json::from_slice(&record.payload).unwrap_or_default();
        records.push((record.key.unwrap_or_default(), value));
    }
    records
}

#[actix_rt::test]
async fn two_instances_evaluating_one_rule_open_and_resolve_its_alert_once_each_notified_once() {
    use crate::rules::{alert_of, alert_until, rule, sample};
    let prefix = unique_prefix();
    let (a, b) = (
        start(&shared_brokers(), &prefix).await,
        start(&shared_brokers(), &prefix).await,
    );
    let mut alerts = subscribe(&prefix, "alerts").await;
    let mut webhooks = subscribe(&prefix, "messages.webhook").await;
    let mut body = rule("duas", "fila_duas");
    body["por_segundos"] = json!(1);
    assert_eq!(post(&a.url("/rules"), &body).await.status, 201);
    assert_eq!(
        post(&a.url("/rules"), &rule("quieta", "fila_quieta"))
            .await
            .status,
        201
    );
    let silence = json!({"matchers": {"origem": "regra:quieta"}, "fim": "2999-01-01T00:00:00Z"});
    assert_eq!(post(&a.url("/silences"), &silence).await.status, 201);
    // Instance B learns the rules at its next round, and the silence at its next reading.
    actix_rt::time::sleep(Duration::from_millis(1500)).await;

    // Samples of one series cross the threshold on both instances, alternately.
    for (server, valor) in [(&a, 150.0), (&b, 160.0), (&a, 170.0), (&b, 180.0)] {
        sample(server, "fila_duas", valor).await;
    }
    let id = alert_of(&b, "duas").await;
    let opened = alert_until(&b, &id, false).await;
    assert_eq!(opened["regra"], "duas");
    sample(&b, "fila_duas", 190.0).await;
    // Both drop back.
    sample(&a, "fila_duas", 10.0).await;
    sample(&b, "fila_duas", 5.0).await;
    alert_until(&a, &id, true).await;
    // The silenced rule's alert opens on B's samples, silenced.
    sample(&b, "fila_quieta", 150.0).await;
    let quiet = alert_of(&b, "quieta").await;
    assert_eq!(alert_until(&a, &quiet, false).await["silenciado"], true);

    let events: Vec<String> = keys_until_quiet(&mut alerts, Duration::from_secs(4))
        .await
        .into_iter()
        .map(|(key, value)| format!("{key} {}", value["evento"].as_str().unwrap_or("?")))
        .collect();
    assert_eq!(
        events,
        [
            format!("{id} alerta.criado"),
            format!("{id} alerta.resolvido"),
            format!("{quiet} alerta.criado")
        ]
    );
    let notified: Vec<String> = keys_until_quiet(&mut webhooks, Duration::from_secs(2))
        .await
        .into_iter()
        .map(|(key, _)| key)
        .collect();
    assert_eq!(
        notified,
        [
            format!("alerta:{id}:criado:1"),
            format!("alerta:{id}:resolvido:1")
        ]
    );
}

#[actix_rt::test]
async fn a_dashboard_on_one_instance_shows_live_what_the_other_receives() {
    let prefix = unique_prefix();
    let (a, b) = (
        start(&shared_brokers(), &prefix).await,
        start(&shared_brokers(), &prefix).await,
    );
    let browser = integra_tests::Browser::start(1280, 900, &[]).await;
    browser.goto(&a.url("/ui")).await;
    browser
        .wait_for(
            "the page, live",
            crate::dashboard::LIVE,
            Duration::from_secs(10),
        )
        .await;
    let sent = Instant::now();
    let r = post(
        &b.url("/messages"),
        &json!({"id": "outra-1", "tipo": "push", "destinatario": "device-1", "conteudo": "x"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    browser
        .wait_for(
            "the message sent to the other instance, CONCLUIDA",
            "return document.querySelector('#m-outra-1')?.dataset.status === 'CONCLUIDA'",
            Duration::from_secs(1).saturating_sub(sent.elapsed()),
        )
        .await;
    let r = post(
        &b.url("/alerts"),
        &json!({"id": "outra-a", "titulo": "t", "severidade": "media"}),
    )
    .await;
    assert_eq!(r.status, 201);
    browser
        .wait_for(
            "the alert raised on the other instance",
            "return document.querySelector('#a-outra-a') !== null",
            Duration::from_secs(2),
        )
        .await;
    // Resolved from the page on A, it is resolved for B.
    browser
        .click("#a-outra-a button[data-action=resolve]")
        .await;
    integra_tests::eventually(Duration::from_secs(3), "the resolution on B", || async {
        let alert = get(&b.url("/alerts/outra-a")).await;
        (alert.json["resolvido"] == true).then_some(())
    })
    .await;
    assert_eq!(browser.console_errors().await, Vec::<String>::new());
}
