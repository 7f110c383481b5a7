//! Every error status a client can cause, each answered with problem JSON.

use integra_tests::{get, post, post_raw, spawn_app, BusBackend};
use serde_json::json;

#[actix_rt::test]
async fn bad_input_gets_a_clear_problem_never_a_500() {
    let s = spawn_app(|s| s.server.body_limit_bytes = 2048).await;
    let messages = s.url("/messages");
    // 400: malformed JSON, bad query values.
    post_raw(&messages, Some("application/json"), "{\"tipo\":", &[])
        .await
        .assert_problem(400);
    post_raw(&messages, Some("application/json"), "", &[])
        .await
        .assert_problem(400);
    get(&s.url("/messages?limit=abc")).await.assert_problem(400);
    get(&s.url("/messages?skip=-1")).await.assert_problem(400);
    get(&s.url("/messages?tipo=fax")).await.assert_problem(400);
    get(&s.url("/alerts?start_time=yesterday"))
        .await
        .assert_problem(400);
    get(&s.url("/metrics?end_time=2026-13-01T00:00:00Z"))
        .await
        .assert_problem(400);
    // 404: unknown resources and routes.
    get(&s.url("/messages/nope")).await.assert_problem(404);
    get(&s.url("/alerts/nope")).await.assert_problem(404);
    post(&s.url("/alerts/nope/resolve"), &json!({}))
        .await
        .assert_problem(404);
    get(&s.url("/no/such/route")).await.assert_problem(404);
    // 405: a known route asked with a method it does not serve (the contract said 404 before).
    let wrong_method = post_raw(&s.url("/healthz"), None, "", &[]).await;
    wrong_method.assert_problem(405);
    assert_eq!(wrong_method.header("allow"), Some("GET, HEAD"));
    post(
        &s.url("/ws/connections/nobody/messages"),
        &json!({"texto": "x"}),
    )
    .await
    .assert_problem(404);
    // 413: over server.body_limit_bytes (from the environment here), declared or streamed.
    let big = json!({"tipo": "sms", "destinatario": "d", "conteudo": "x".repeat(4096)});
    post(&messages, &big).await.assert_problem(413);
    // 415: another content type, or none.
    post_raw(&messages, Some("text/plain"), "{}", &[])
        .await
        .assert_problem(415);
    post_raw(&messages, None, "{}", &[])
        .await
        .assert_problem(415);
    // 422: well-formed but invalid, naming the field.
    let unknown = post(
        &messages,
        &json!({"tipo": "sms", "destinatario": "d", "conteudo": "c", "cor": "azul"}),
    )
    .await;
    assert_eq!(unknown.assert_problem(422).json["field"], "cor");
    let missing = post(&messages, &json!({"tipo": "sms", "conteudo": "c"})).await;
    assert_eq!(missing.assert_problem(422).json["field"], "destinatario");
    let bad_tipo = post(
        &messages,
        &json!({"tipo": "fax", "destinatario": "d", "conteudo": "c"}),
    )
    .await;
    assert_eq!(bad_tipo.assert_problem(422).json["field"], "tipo");
    let bad_id = post(
        &messages,
        &json!({"id": "a/b", "tipo": "sms", "destinatario": "d", "conteudo": "c"}),
    )
    .await;
    assert_eq!(bad_id.assert_problem(422).json["field"], "id");
    get(&s.url("/messages?limit=0")).await.assert_problem(422);
    get(&s.url("/messages?limit=1001"))
        .await
        .assert_problem(422);
    post(
        &s.url("/alerts"),
        &json!({"titulo": "", "severidade": "alta"}),
    )
    .await
    .assert_problem(422);
    post(&s.url("/ws/broadcast"), &json!({"text": "typo"}))
        .await
        .assert_problem(422);
    post(&s.url("/metrics"), &json!("just a string"))
        .await
        .assert_problem(422);
}

#[actix_rt::test]
async fn fields_the_server_owns_are_ignored() {
    let s = spawn_app(|_| {}).await;
    let r = post(&s.url("/messages"), &json!({"tipo": "sms", "destinatario": "d", "conteudo": "c", "status": "ERRO", "tentativas": 99, "kafka": null})).await;
    assert_eq!(
        (
            r.status,
            r.json["status"].as_str(),
            r.json["tentativas"].as_u64()
        ),
        (201, Some("CONCLUIDA"), Some(1))
    );
}

#[actix_rt::test]
async fn a_bus_nobody_answers_gives_409_meanwhile_then_502_naming_the_id_and_erro() {
    // Kafka on a port nobody listens on: every publish waits its timeout.
    let port = integra_tests::free_port().to_string();
    let brokers = format!("127.0.0.1:{port}");
    let s = spawn_app(|s| {
        s.bus.backend = BusBackend::Kafka;
        s.bus.brokers = brokers;
        s.bus.timeout_ms = 2000;
    })
    .await;
    let url = s.url("/messages");
    let body = json!({"id": "stuck", "tipo": "email", "destinatario": "d", "conteudo": "c"});
    let first = actix_rt::spawn({
        let (url, body) = (url.clone(), body.clone());
        async move { post(&url, &body).await }
    });
    actix_rt::time::sleep(std::time::Duration::from_millis(500)).await;
    post(&url, &body).await.assert_problem(409);
    let started = std::time::Instant::now();
    let first = first.await.unwrap();
    first.assert_problem(502);
    assert_eq!(first.json["id"], "stuck");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "the request hung"
    );
    let stored = get(&s.url("/messages/stuck")).await;
    assert_eq!(stored.json["status"], "ERRO");
    assert!(stored.json["erro"].as_str().is_some_and(|e| !e.is_empty()));
    s.wait_until(
        |status| status == 503,
        "/readyz",
        std::time::Duration::from_secs(10),
    )
    .await;
}

#[actix_rt::test]
async fn the_openapi_document_lists_every_route() {
    let s = spawn_app(|_| {}).await;
    let doc = get(&s.url("/openapi.json")).await;
    assert_eq!(doc.status, 200);
    assert!(doc.json["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = doc.json["paths"].as_object().unwrap();
    for (path, method) in [
        ("/messages", "post"),
        ("/messages", "get"),
        ("/messages/{id}", "get"),
        ("/metrics", "post"),
        ("/metrics", "get"),
        ("/metrics/prometheus", "get"),
        ("/alerts", "post"),
        ("/alerts", "get"),
        ("/alerts/{id}", "get"),
        ("/alerts/{id}/resolve", "post"),
        ("/ws", "get"),
        ("/ws/broadcast", "post"),
        ("/ws/connections/{conexao_id}/messages", "post"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/openapi.json", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} missing"
        );
    }
    assert!(doc.json["components"]["schemas"]["Mensagem"].is_object());
}
