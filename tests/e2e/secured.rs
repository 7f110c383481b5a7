//! Integra on the secured and distributed engines `scripts/services.sh` starts: a three-master
//! Redis Cluster, Redis over TLS with an ACL user, and Kafka with SASL (SCRAM) over TLS. Two
//! instances share them; start-up refuses what the engines refuse, naming the setting; no
//! password shows in what a client can read.

use std::time::Duration;

use integra_tests::{
    get, on_secured_engines, post, spawn_app, tls_setting, unique_prefix, Application, Settings,
    StoreBackend, TestApp, WsClient, TEST_PASSWORD,
};
use serde_json::json;

async fn secured(prefix: &str) -> TestApp {
    spawn_app(|s| on_secured_engines(s, prefix)).await
}

#[actix_rt::test]
async fn two_instances_on_the_cluster_and_sasl_ssl_share_messages_alerts_metrics_and_websockets() {
    let prefix = unique_prefix();
    let (a, b) = (secured(&prefix).await, secured(&prefix).await);

    let sent = post(&a.url("/messages"), &json!({"id": "sec-1", "tipo": "webhook", "destinatario": "https://example.com/h", "conteudo": "{}"})).await;
    assert_eq!(sent.status, 201, "{}", sent.text);
    assert_eq!(sent.json["status"], "CONCLUIDA");
    assert_eq!(sent.json["kafka"]["topico"], a.topic("messages.webhook"));
    assert_eq!(get(&b.url("/messages/sec-1")).await.json, sent.json);
    let replayed = post(&b.url("/messages"), &json!({"id": "sec-1", "tipo": "webhook", "destinatario": "https://example.com/h", "conteudo": "{}"})).await;
    assert_eq!(replayed.status, 200, "the other instance replays it");

    let alert = post(
        &a.url("/alerts"),
        &json!({"id": "sec-a", "titulo": "Fila parada", "severidade": "alta"}),
    )
    .await;
    assert_eq!(alert.status, 201, "{}", alert.text);
    let resolved = post(&b.url("/alerts/sec-a/resolve"), &json!({})).await;
    assert_eq!(resolved.json["resolvido"], true);
    let listed = get(&a.url("/alerts?resolvido=true")).await;
    assert_eq!(listed.json.as_array().unwrap().len(), 1);

    // Three names: their samples live in three slots of their own, wherever the cluster put them.
    let samples: Vec<_> = ["fila_a", "fila_b", "fila_c"]
        .iter()
        .map(|nome| json!({"nome": nome, "valor": 2.0, "labels": {"fila": "x"}}))
        .collect();
    let pushed = post(&a.url("/metrics"), &json!(samples)).await;
    assert_eq!(pushed.status, 201, "{}", pushed.text);
    let all = get(&b.url("/metrics")).await;
    assert_eq!(all.json.as_array().unwrap().len(), 3, "{}", all.text);
    let one = get(&b.url("/metrics?nome=fila_b")).await;
    assert_eq!(one.json.as_array().unwrap().len(), 1);

    let mut on_b = WsClient::connect(&b.ws_url("/ws")).await;
    on_b.next_json().await; // conectado
    let broadcast = post(&a.url("/ws/broadcast"), &json!({"texto": "olá b"})).await;
    assert_eq!(broadcast.status, 202);
    let received = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if on_b.next_text().await == "olá b" {
                break;
            }
        }
    })
    .await;
    assert!(received.is_ok(), "a broadcast on A did not reach B");

    let ready = get(&a.url("/readyz")).await;
    assert_eq!(ready.status, 200, "{}", ready.text);
}

async fn start_up_error(configure: impl FnOnce(&mut Settings)) -> String {
    let mut settings = Settings::defaults().unwrap();
    settings.server.bind = "127.0.0.1:0".into();
    on_secured_engines(&mut settings, &unique_prefix());
    configure(&mut settings);
    match Application::build(&settings).await {
        Ok(_) => panic!("the server started"),
        Err(e) => e.to_string(),
    }
}

#[actix_rt::test]
async fn a_wrong_kafka_password_stops_start_up_naming_the_setting_never_the_password() {
    let e = start_up_error(|s| s.bus.sasl_password = "not-the-password".into()).await;
    assert!(e.contains("bus.sasl_password"), "{e}");
    assert!(!e.contains("not-the-password"), "{e}");
}

#[actix_rt::test]
async fn a_kafka_certificate_from_an_unknown_ca_stops_start_up_naming_the_ca_file() {
    let e = start_up_error(|s| s.bus.ssl_ca_file = tls_setting("other-ca.pem")).await;
    assert!(e.starts_with("bus.ssl_ca_file"), "{e}");
}

#[actix_rt::test]
async fn a_wrong_redis_password_stops_start_up_naming_the_url_never_the_password() {
    let e = start_up_error(|s| {
        s.store.mode = integra_server::settings::RedisMode::Standalone;
        s.store.url = "rediss://integra:not-the-password@127.0.0.1:6390".into();
        s.store.tls_ca_file = tls_setting("ca.pem");
    })
    .await;
    assert!(e.starts_with("store.url"), "{e}");
    assert!(e.contains("refused the credentials"), "{e}");
    assert!(!e.contains("not-the-password"), "{e}");
}

#[actix_rt::test]
async fn a_redis_certificate_from_an_unknown_ca_stops_start_up_naming_the_ca_file() {
    let e = start_up_error(|s| {
        s.store.mode = integra_server::settings::RedisMode::Standalone;
        s.store.url = format!("rediss://integra:{TEST_PASSWORD}@127.0.0.1:6390").into();
        s.store.tls_ca_file = tls_setting("other-ca.pem");
    })
    .await;
    assert!(e.starts_with("store.tls_ca_file"), "{e}");
}

#[actix_rt::test]
async fn redis_over_tls_with_an_acl_user_serves_the_end_to_end_path() {
    let s = spawn_app(|s| {
        s.store.backend = StoreBackend::Redis;
        s.store.mode = integra_server::settings::RedisMode::Standalone;
        s.store.url = format!("rediss://integra:{TEST_PASSWORD}@127.0.0.1:6390").into();
        s.store.tls_ca_file = tls_setting("ca.pem");
        s.store.key_prefix = unique_prefix();
    })
    .await;
    let sent = post(
        &s.url("/messages"),
        &json!({"id": "tls-1", "tipo": "sms", "destinatario": "+55", "conteudo": "oi"}),
    )
    .await;
    assert_eq!(sent.status, 201, "{}", sent.text);
    assert_eq!(get(&s.url("/messages/tls-1")).await.json, sent.json);
    assert_eq!(get(&s.url("/readyz")).await.status, 200);
}

#[actix_rt::test]
async fn no_password_shows_in_readyz_the_openapi_document_or_error_answers() {
    let s = secured(&unique_prefix()).await;
    let mut seen = String::new();
    for path in [
        "/readyz",
        "/openapi.json",
        "/nowhere",
        "/messages/..",
        "/metrics?limit=x",
    ] {
        seen.push_str(&get(&s.url(path)).await.text);
    }
    seen.push_str(
        &post(&s.url("/messages"), &json!({"tipo": "fax"}))
            .await
            .text,
    );
    assert!(seen.contains("\"store\""), "readyz was read: {seen}");
    assert!(!seen.contains(TEST_PASSWORD), "{seen}");
}
