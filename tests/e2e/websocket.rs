use std::time::{Duration, Instant};

use integra_tests::{get, post, spawn_app, WsClient};
use serde_json::json;

#[actix_rt::test]
async fn three_hundred_clients_all_receive_one_broadcast() {
    let s = spawn_app(|_| {}).await;
    let mut clients = Vec::new();
    for _ in 0..300 {
        clients.push(WsClient::connect(&s.ws_url("/ws")).await);
    }
    let r = post(&s.url("/ws/broadcast"), &json!({"texto": "olá a todos"})).await;
    assert_eq!(r.status, 202, "{}", r.text);
    let reads = clients
        .into_iter()
        .map(|mut c| actix_rt::spawn(async move { c.next_text().await }));
    for read in reads.collect::<Vec<_>>() {
        assert_eq!(read.await.unwrap(), "olá a todos");
    }
}

#[actix_rt::test]
async fn a_text_frame_from_a_client_reaches_everyone_including_the_sender() {
    let s = spawn_app(|_| {}).await;
    let mut a = WsClient::connect(&s.ws_url("/ws")).await;
    let mut b = WsClient::connect(&s.ws_url("/ws")).await;
    a.send_text("{\"ping\": 1}").await;
    assert_eq!(a.next_text().await, "{\"ping\": 1}");
    assert_eq!(b.next_text().await, "{\"ping\": 1}");
}

#[actix_rt::test]
async fn a_personal_message_reaches_only_its_connection() {
    let s = spawn_app(|_| {}).await;
    let mut target = WsClient::connect(&s.ws_url("/ws")).await;
    let mut other = WsClient::connect(&s.ws_url("/ws")).await;
    let r = post(
        &s.url(&format!("/ws/connections/{}/messages", target.id)),
        &json!({"texto": "só para ti"}),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(target.next_text().await, "só para ti");
    post(&s.url("/ws/broadcast"), &json!({"texto": "marcador"})).await;
    assert_eq!(
        other.next_text().await,
        "marcador",
        "the other connection received the personal message"
    );
}

#[actix_rt::test]
async fn clients_see_message_and_alert_events() {
    let s = spawn_app(|_| {}).await;
    let mut c = WsClient::connect(&s.ws_url("/ws")).await;
    post(&s.url("/messages"), &json!({"id": "ev1", "tipo": "webhook", "destinatario": "https://example.com/hook", "conteudo": "{}"})).await;
    let processing = c.next_json().await;
    assert_eq!(
        (
            processing["evento"].as_str(),
            processing["dados"]["status"].as_str()
        ),
        (Some("mensagem.atualizada"), Some("PROCESSANDO"))
    );
    let done = c.next_json().await;
    assert_eq!(
        (
            done["dados"]["id"].as_str(),
            done["dados"]["status"].as_str()
        ),
        (Some("ev1"), Some("CONCLUIDA"))
    );
    post(
        &s.url("/alerts"),
        &json!({"id": "al1", "titulo": "t", "severidade": "media"}),
    )
    .await;
    assert_eq!(c.next_json().await["evento"], "alerta.criado");
    post(&s.url("/alerts/al1/resolve"), &json!({})).await;
    let resolved = c.next_json().await;
    assert_eq!(
        (
            resolved["evento"].as_str(),
            resolved["dados"]["resolvido"].as_bool()
        ),
        (Some("alerta.resolvido"), Some(true))
    );
    post(
        &s.url("/alerts"),
        &json!({"id": "al1", "titulo": "t", "severidade": "media"}),
    )
    .await;
    assert_eq!(c.next_json().await["evento"], "alerta.reaberto");
}

#[actix_rt::test]
async fn a_client_that_never_reads_is_closed_and_slows_no_one() {
    let s = spawn_app(|s| s.ws.max_queue = 16).await;
    let _slow = WsClient::connect(&s.ws_url("/ws")).await;
    let mut fast = WsClient::connect(&s.ws_url("/ws")).await;
    let text = "x".repeat(60_000);
    let started = Instant::now();
    for i in 0..400 {
        let r = post(
            &s.url("/ws/broadcast"),
            &json!({"texto": format!("{i}:{text}")}),
        )
        .await;
        assert_eq!(r.status, 202);
        let got = fast.next_text().await;
        assert!(
            got.starts_with(&format!("{i}:")),
            "fast client got {} instead of {i}",
            &got[..10]
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "the fast client was held up"
    );
    let exposition = get(&s.url("/metrics/prometheus")).await.text;
    assert!(
        exposition.contains("integra_ws_connections 1\n"),
        "the slow client is still open:\n{exposition}"
    );
}

#[actix_rt::test]
async fn an_oversized_frame_closes_with_1009_and_a_full_instance_answers_503() {
    let s = spawn_app(|s| {
        s.ws.max_frame_bytes = 1024;
        s.ws.max_connections = 2;
    })
    .await;
    let mut a = WsClient::connect(&s.ws_url("/ws")).await;
    let _b = WsClient::connect(&s.ws_url("/ws")).await;
    let refused = integra_tests::client().ws(s.ws_url("/ws")).connect().await;
    match refused {
        Err(awc::error::WsClientError::InvalidResponseStatus(status)) => {
            assert_eq!(status.as_u16(), 503)
        }
        other => panic!(
            "a third connection was not refused: {:?}",
            other.map(|(r, _)| r.status())
        ),
    }
    a.send_text(&"y".repeat(2000)).await;
    assert_eq!(a.close_code(Duration::from_secs(5)).await, Some(1009));
}

#[actix_rt::test]
async fn a_client_that_never_answers_pings_is_closed() {
    let s = spawn_app(|s| {
        s.ws.ping_interval_secs = 1;
        s.ws.pong_timeout_secs = 1;
    })
    .await;
    let mut silent = WsClient::connect(&s.ws_url("/ws")).await;
    let mut polite = WsClient::connect(&s.ws_url("/ws")).await;
    // Both at once: the polite one answers every ping (and sees nothing else) while the silent
    // one is closed for not answering.
    let (silent_close, polite_frame) = futures_util::future::join(
        silent.close_code(Duration::from_secs(6)),
        polite.next_frame(Duration::from_secs(4)),
    )
    .await;
    assert_eq!(silent_close, Some(1008));
    assert!(
        polite_frame.is_none(),
        "nothing but pings was expected, got {polite_frame:?}"
    );
    post(&s.url("/ws/broadcast"), &json!({"texto": "still here"})).await;
    assert_eq!(polite.next_text().await, "still here");
}
