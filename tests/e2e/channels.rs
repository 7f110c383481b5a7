//! Channels end to end: subscribe, publish, recover over WebSocket and SSE, on the embedded
//! backends and with two instances on Redis + Kafka.

use std::time::Duration;

use integra_tests::{
    eventually, get, post, shared_brokers, shared_redis_url, spawn_app, unique_prefix, BusBackend,
    SseClient, StoreBackend, TestApp, WsClient,
};
use serde_json::{json, Value};

/// Subscribes `ws` to `canal` and returns the `inscrito` data.
async fn subscribe(ws: &mut WsClient, canal: &str, desde: Option<Value>) -> Value {
    let mut command = json!({"acao": "inscrever", "canal": canal});
    if let Some(desde) = desde {
        command["desde"] = desde;
    }
    ws.send_text(&command.to_string()).await;
    let frame = ws.next_json().await;
    assert_eq!(frame["evento"], "inscrito", "{frame}");
    assert_eq!(frame["dados"]["canal"], canal);
    frame["dados"].clone()
}

/// The next frame, which must be a publication: its data.
async fn publication(ws: &mut WsClient) -> Value {
    let frame = ws.next_json().await;
    assert_eq!(frame["evento"], "publicacao", "{frame}");
    frame["dados"].clone()
}

/// The next frame, which must be an `erro`: its status.
async fn erro(ws: &mut WsClient) -> u64 {
    let frame = ws.next_json().await;
    assert_eq!(frame["evento"], "erro", "{frame}");
    assert!(frame["dados"]["detail"]
        .as_str()
        .is_some_and(|d| !d.is_empty()));
    frame["dados"]["status"].as_u64().unwrap()
}

/// Waits until `GET /channels/{canal}` shows `offset` and `count` subscribers (counts reach the
/// store a moment after a subscription).
async fn inscritos(server: &TestApp, canal: &str, offset: u64, count: u64) {
    let url = server.url(&format!("/channels/{canal}"));
    eventually(Duration::from_secs(5), "the subscriber count", || {
        let url = url.clone();
        async move {
            let info = get(&url).await;
            assert_eq!(
                (info.status, info.json["offset"].as_u64()),
                (200, Some(offset))
            );
            (info.json["inscritos"].as_u64() == Some(count)).then_some(())
        }
    })
    .await;
}

async fn publish(server: &TestApp, canal: &str, dados: Value) -> Value {
    let r = post(
        &server.url(&format!("/channels/{canal}/publications")),
        &json!({ "dados": dados }),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    r.json
}

/// Two instances on the shared Redis and broker, one prefix, channels keeping `history`.
async fn two_instances(history: usize) -> (TestApp, TestApp) {
    let prefix = unique_prefix();
    let start = || async {
        let server = spawn_app(|s| {
            s.store.backend = StoreBackend::Redis;
            s.store.url = shared_redis_url().into();
            s.store.key_prefix = prefix.clone();
            s.bus.backend = BusBackend::Kafka;
            s.bus.brokers = shared_brokers();
            s.bus.topic_prefix = prefix.clone();
            s.bus.timeout_ms = 3000;
            s.channels.history_size = history;
        })
        .await;
        server
            .wait_until(|status| status == 200, "/readyz", Duration::from_secs(30))
            .await;
        server
    };
    (start().await, start().await)
}

#[actix_rt::test]
async fn publications_over_http_and_websocket_reach_subscribers_in_order() {
    let s = spawn_app(|_| {}).await;
    let mut a = WsClient::connect(&s.ws_url("/ws?eventos=canais")).await;
    let mut b = WsClient::connect(&s.ws_url("/ws?eventos=canais")).await;
    let first = subscribe(&mut a, "pedidos", None).await;
    assert_eq!(
        (first["offset"].as_u64(), first["recuperado"].as_bool()),
        (Some(0), Some(true))
    );
    subscribe(&mut b, "pedidos", None).await;
    let went = publish(&s, "pedidos", json!({"n": 1, "itens": ["a", "b"]})).await;
    assert_eq!(
        (
            went["canal"].as_str(),
            went["offset"].as_u64(),
            went["epoca"].as_str()
        ),
        (Some("pedidos"), Some(1), first["epoca"].as_str())
    );
    b.send_text(r#"{"acao": "publicar", "canal": "pedidos", "dados": {"n": 2}}"#)
        .await;
    for ws in [&mut a, &mut b] {
        let one = publication(ws).await;
        assert_eq!(
            (one["offset"].as_u64(), one["dados"].clone()),
            (Some(1), json!({"n": 1, "itens": ["a", "b"]}))
        );
        assert!(one["criado_em"].as_str().is_some_and(|t| t.ends_with('Z')));
        assert_eq!(publication(ws).await["dados"]["n"], 2);
    }
    inscritos(&s, "pedidos", 2, 2).await;
    a.send_text(r#"{"acao": "cancelar", "canal": "pedidos"}"#)
        .await;
    assert_eq!(a.next_json().await["evento"], "cancelado");
    publish(&s, "pedidos", json!(3)).await;
    assert_eq!(publication(&mut b).await["dados"], 3);
    // The next thing `a` receives is what comes after, not the cancelled channel's.
    post(&s.url("/ws/broadcast"), &json!({"texto": "depois"})).await;
    assert_eq!(a.next_text().await, "depois");
    let history = get(&s.url("/channels/pedidos/publications?desde=1&limit=5")).await;
    assert_eq!(history.status, 200, "{}", history.text);
    let offsets: Vec<u64> = history.json["publicacoes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["offset"].as_u64().unwrap())
        .collect();
    assert_eq!(offsets, [2, 3]);
    assert_eq!(history.json["epoca"], first["epoca"]);
}

#[actix_rt::test]
async fn a_reconnecting_subscriber_recovers_exactly_what_it_missed_and_the_history_bounds_it() {
    let s = spawn_app(|s| s.channels.history_size = 100).await;
    let mut ws = WsClient::connect(&s.ws_url("/ws?eventos=canais")).await;
    let start = subscribe(&mut ws, "eventos", None).await;
    publish(&s, "eventos", json!(0)).await;
    assert_eq!(publication(&mut ws).await["offset"], 1);
    drop(ws);
    for i in 1..=50 {
        publish(&s, "eventos", json!(i)).await;
    }
    let desde = json!({"offset": 1, "epoca": start["epoca"]});
    let mut back = WsClient::connect(&s.ws_url("/ws?eventos=canais")).await;
    let recovered = subscribe(&mut back, "eventos", Some(desde.clone())).await;
    assert_eq!(
        (
            recovered["offset"].as_u64(),
            recovered["recuperado"].as_bool()
        ),
        (Some(51), Some(true))
    );
    for offset in 2..=51 {
        assert_eq!(publication(&mut back).await["offset"], offset);
    }
    for i in 51..=200 {
        publish(&s, "eventos", json!(i)).await;
    }
    let mut late = WsClient::connect(&s.ws_url("/ws?eventos=canais")).await;
    let partial = subscribe(&mut late, "eventos", Some(desde)).await;
    assert_eq!(
        (partial["offset"].as_u64(), partial["recuperado"].as_bool()),
        (Some(201), Some(false))
    );
    // What is still kept comes all the same: the last 100.
    for offset in 102..=201 {
        assert_eq!(publication(&mut late).await["offset"], offset);
    }
}

#[actix_rt::test]
async fn sse_recovers_after_last_event_id_then_streams() {
    let s = spawn_app(|_| {}).await;
    for i in 1..=5 {
        publish(&s, "sse", json!({"i": i})).await;
    }
    let mut stream =
        SseClient::open(&s.url("/channels/sse/events"), &[("last-event-id", "3")]).await;
    assert_eq!(
        (stream.status, stream.content_type.as_str()),
        (200, "text/event-stream")
    );
    let within = Duration::from_secs(10);
    let inscrito = stream.next_event(within).await.unwrap();
    assert_eq!(inscrito.event, "inscrito");
    let dados: Value = serde_json::from_str(&inscrito.data).unwrap();
    assert_eq!(
        (dados["offset"].as_u64(), dados["recuperado"].as_bool()),
        (Some(5), Some(true))
    );
    for offset in 4..=5 {
        let event = stream.next_event(within).await.unwrap();
        assert_eq!(
            (event.event.as_str(), event.id.as_deref()),
            ("publicacao", Some(offset.to_string().as_str()))
        );
        let p: Value = serde_json::from_str(&event.data).unwrap();
        assert_eq!(p["dados"]["i"], offset);
    }
    publish(&s, "sse", json!({"i": 6})).await;
    let live = stream.next_event(within).await.unwrap();
    assert_eq!(live.id.as_deref(), Some("6"));
    let mut by_query = SseClient::open(&s.url("/channels/sse/events?desde=5"), &[]).await;
    assert_eq!(by_query.next_event(within).await.unwrap().event, "inscrito");
    assert_eq!(
        by_query.next_event(within).await.unwrap().id.as_deref(),
        Some("6")
    );
    let bad = get(&s.url("/channels/sse/events?desde=ontem")).await;
    bad.assert_problem(400);
}

#[actix_rt::test]
async fn an_idle_sse_stream_gets_a_comment_every_ping_interval_and_stays_open() {
    let s = spawn_app(|s| s.ws.ping_interval_secs = 1).await;
    let mut stream = SseClient::open(&s.url("/channels/quieto/events"), &[]).await;
    assert_eq!(
        stream
            .next_event(Duration::from_secs(5))
            .await
            .unwrap()
            .event,
        "inscrito"
    );
    assert!(stream
        .next_event(Duration::from_millis(2500))
        .await
        .is_none());
    assert!(
        stream.comments >= 2,
        "{} keep-alive comments",
        stream.comments
    );
    publish(&s, "quieto", json!("enfim")).await;
    let event = stream.next_event(Duration::from_secs(5)).await.unwrap();
    assert_eq!(event.id.as_deref(), Some("1"));
}

#[actix_rt::test]
async fn refused_commands_get_erro_frames_and_the_connection_stays_open() {
    let s = spawn_app(|s| s.channels.max_per_connection = 2).await;
    let mut ws = WsClient::connect(&s.ws_url("/ws?eventos=canais")).await;
    let refused = [
        (r#"{"acao": "dançar", "canal": "c"}"#, 422),
        (r#"{"acao": "inscrever", "canal": "com espaço"}"#, 422),
        (r#"{"acao": "inscrever"}"#, 400),
        (r#"{"acao": "inscrever", "canal": "c", "extra": 1}"#, 400),
        (
            r#"{"acao": "publicar", "canal": "alertas", "dados": 1}"#,
            422,
        ),
        (r#"{"acao": "publicar", "canal": "c"}"#, 422),
        (r#"{"acao": "cancelar", "canal": "nunca"}"#, 404),
        (
            r#"{"acao": "inscrever", "canal": "c", "desde": {"offset": -1}}"#,
            400,
        ),
    ];
    for (command, status) in refused {
        ws.send_text(command).await;
        assert_eq!(erro(&mut ws).await, status, "{command}");
    }
    subscribe(&mut ws, "um", None).await;
    subscribe(&mut ws, "dois", None).await;
    ws.send_text(r#"{"acao": "inscrever", "canal": "tres"}"#)
        .await;
    assert_eq!(erro(&mut ws).await, 422);
    // Still open, and still subscribed.
    publish(&s, "dois", json!("ainda aqui")).await;
    assert_eq!(publication(&mut ws).await["dados"], "ainda aqui");
    // A text that is not a command is still a broadcast.
    ws.send_text(r#"{"acaox": 1}"#).await;
    assert_eq!(ws.next_text().await, r#"{"acaox": 1}"#);
    let http = [
        ("/channels/alertas/publications", json!({"dados": 1}), 422),
        (
            "/channels/c/publications",
            json!({"dados": "x".repeat(70_000)}),
            422,
        ),
        ("/channels/c/publications", json!({"outro": 1}), 422),
        ("/channels/c%20d/publications", json!({"dados": 1}), 422),
    ];
    for (path, body, status) in http {
        post(&s.url(path), &body).await.assert_problem(status);
    }
    get(&s.url("/channels/c/publications?limit=0"))
        .await
        .assert_problem(422);
    get(&s.url("/channels/c/publications?desde=x"))
        .await
        .assert_problem(400);
}

#[actix_rt::test]
async fn system_channels_carry_the_events_and_channel_connections_get_no_other_event() {
    let s = spawn_app(|_| {}).await;
    let mut channels = WsClient::connect(&s.ws_url("/ws?eventos=canais")).await;
    let mut everything = WsClient::connect(&s.ws_url("/ws")).await;
    subscribe(&mut channels, "mensagens.sms", None).await;
    subscribe(&mut channels, "alertas", None).await;
    let sent = post(
        &s.url("/messages"),
        &json!({"id": "canal-1", "tipo": "sms", "destinatario": "+351900000000", "conteudo": "olá"}),
    )
    .await;
    assert_eq!(sent.status, 201, "{}", sent.text);
    post(
        &s.url("/alerts"),
        &json!({"id": "canal-a", "titulo": "t", "severidade": "alta"}),
    )
    .await;
    let statuses: Vec<Value> = [
        publication(&mut channels).await,
        publication(&mut channels).await,
    ]
    .into_iter()
    .map(|p| {
        assert_eq!(p["canal"], "mensagens.sms");
        assert_eq!(p["dados"]["evento"], "mensagem.atualizada");
        p["dados"]["dados"]["status"].clone()
    })
    .collect();
    assert_eq!(statuses, [json!("PROCESSANDO"), json!("CONCLUIDA")]);
    let alerta = publication(&mut channels).await;
    assert_eq!(
        (alerta["canal"].as_str(), alerta["dados"]["evento"].as_str()),
        (Some("alertas"), Some("alerta.criado"))
    );
    // The plain connection has the same events as before, as events.
    assert_eq!(
        everything.next_json().await["evento"],
        "mensagem.atualizada"
    );
    post(&s.url("/ws/broadcast"), &json!({"texto": "a todos"})).await;
    assert_eq!(channels.next_text().await, "a todos");
    let bad = get(&s.url("/ws?eventos=tudo")).await;
    bad.assert_problem(400);
}

#[actix_rt::test]
async fn on_redis_and_kafka_two_instances_deliver_in_order_and_recover_on_the_other() {
    let (a, b) = two_instances(1000).await;
    let mut on_a = WsClient::connect(&a.ws_url("/ws?eventos=canais")).await;
    let mut on_b = WsClient::connect(&b.ws_url("/ws?eventos=canais")).await;
    let first = subscribe(&mut on_a, "partilhado", None).await;
    subscribe(&mut on_b, "partilhado", None).await;
    // Both instances publish at once: the subscribers of both see offsets 1..=100 in order.
    let sends: Vec<_> = [
        a.url("/channels/partilhado/publications"),
        b.url("/channels/partilhado/publications"),
    ]
    .into_iter()
    .map(|url| {
        actix_rt::spawn(async move {
            for i in 0..50 {
                let r = post(&url, &json!({"dados": i})).await;
                assert_eq!(r.status, 202, "{}", r.text);
            }
        })
    })
    .collect();
    for send in sends {
        send.await.unwrap();
    }
    for ws in [&mut on_a, &mut on_b] {
        for offset in 1..=100 {
            assert_eq!(publication(ws).await["offset"], offset);
        }
    }
    inscritos(&b, "partilhado", 100, 2).await;

    // A subscriber of `a` leaves; 500 are published; it comes back on `b`.
    drop(on_a);
    for i in 0..500 {
        publish(&a, "partilhado", json!(i)).await;
    }
    let desde = json!({"offset": 100, "epoca": first["epoca"]});
    let mut back = WsClient::connect(&b.ws_url("/ws?eventos=canais")).await;
    let recovered = subscribe(&mut back, "partilhado", Some(desde)).await;
    assert_eq!(
        (
            recovered["offset"].as_u64(),
            recovered["recuperado"].as_bool()
        ),
        (Some(600), Some(true))
    );
    for offset in 101..=600 {
        assert_eq!(publication(&mut back).await["offset"], offset);
    }
    publish(&a, "partilhado", json!("ao vivo")).await;
    assert_eq!(publication(&mut back).await["dados"], "ao vivo");

    // SSE on `a` with Last-Event-ID does the same.
    let mut stream = SseClient::open(
        &a.url("/channels/partilhado/events"),
        &[("last-event-id", "598")],
    )
    .await;
    let within = Duration::from_secs(10);
    let inscrito: Value =
        serde_json::from_str(&stream.next_event(within).await.unwrap().data).unwrap();
    assert_eq!(
        (
            inscrito["offset"].as_u64(),
            inscrito["recuperado"].as_bool()
        ),
        (Some(601), Some(true))
    );
    for offset in 599..=601 {
        assert_eq!(
            stream.next_event(within).await.unwrap().id,
            Some(offset.to_string())
        );
    }

    // An alert raised on `b` reaches the `alertas` subscriber on `a`.
    let mut alerts = WsClient::connect(&a.ws_url("/ws?eventos=canais")).await;
    subscribe(&mut alerts, "alertas", None).await;
    let r = post(
        &b.url("/alerts"),
        &json!({"titulo": "fila", "severidade": "critica"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let p = publication(&mut alerts).await;
    assert_eq!(
        (
            p["dados"]["evento"].as_str(),
            p["dados"]["dados"]["id"].as_str()
        ),
        (Some("alerta.criado"), r.json["id"].as_str())
    );
}

#[actix_rt::test]
async fn on_redis_and_kafka_a_recovery_past_the_history_says_so_on_the_other_instance() {
    let (a, b) = two_instances(100).await;
    let first = publish(&a, "curto", json!(0)).await;
    for i in 1..=500 {
        publish(&a, "curto", json!(i)).await;
    }
    let mut back = WsClient::connect(&b.ws_url("/ws?eventos=canais")).await;
    let desde = json!({"offset": 1, "epoca": first["epoca"]});
    let partial = subscribe(&mut back, "curto", Some(desde)).await;
    assert_eq!(
        (partial["offset"].as_u64(), partial["recuperado"].as_bool()),
        (Some(501), Some(false))
    );
    for offset in 402..=501 {
        assert_eq!(publication(&mut back).await["offset"], offset);
    }
    let mut stream = SseClient::open(&b.url("/channels/curto/events?desde=1"), &[]).await;
    let within = Duration::from_secs(10);
    let inscrito: Value =
        serde_json::from_str(&stream.next_event(within).await.unwrap().data).unwrap();
    assert_eq!(inscrito["recuperado"], false);
    assert_eq!(
        stream.next_event(within).await.unwrap().id.as_deref(),
        Some("402")
    );
}
