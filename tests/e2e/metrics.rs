use integra_domain::Timestamp;
use integra_tests::{get, get_with, post, spawn_app};
use serde_json::json;

#[actix_rt::test]
async fn samples_are_stored_queried_and_exposed() {
    let s = spawn_app(|_| {}).await;
    let one = post(
        &s.url("/metrics"),
        &json!({"nome": "fila_pedidos", "valor": 12, "labels": {"fila": "pedidos"}}),
    )
    .await;
    assert_eq!(one.status, 201, "{}", one.text);
    assert_eq!(
        (one.json["tipo"].as_str(), one.json["valor"].as_f64()),
        (Some("gauge"), Some(12.0))
    );
    // An hour ago: inside the default retention (a day) whenever the test runs.
    let hour_ago = Timestamp::now().plus_millis(-3_600_000).to_string();
    let batch = post(
        &s.url("/metrics"),
        &json!([
            {"nome": "pedidos_total", "valor": 2, "tipo": "counter", "timestamp": hour_ago},
            {"nome": "pedidos_total", "valor": 3, "tipo": "counter", "timestamp": hour_ago},
            {"nome": "latencia", "valor": 0.2, "tipo": "histogram"}
        ]),
    )
    .await;
    assert_eq!(batch.status, 201, "{}", batch.text);
    assert_eq!(batch.json.as_array().unwrap().len(), 3);

    let counters = get(&s.url("/metrics?nome=pedidos_total")).await;
    assert_eq!(
        counters.json.as_array().unwrap().len(),
        2,
        "equal samples never collapse: {}",
        counters.text
    );
    let gauges = get(&s.url("/metrics?tipo=gauge")).await;
    assert_eq!(gauges.json.as_array().unwrap().len(), 1);
    let range = get(&s.url(&format!(
        "/metrics?start_time={hour_ago}&end_time={hour_ago}"
    )))
    .await;
    assert_eq!(
        range.json.as_array().unwrap().len(),
        2,
        "the range is inclusive: {}",
        range.text
    );
    let all = get(&s.url("/metrics?limit=2")).await;
    assert_eq!(all.json.as_array().unwrap().len(), 2);

    let exposition = get(&s.url("/metrics/prometheus")).await;
    assert!(exposition
        .header("content-type")
        .unwrap()
        .starts_with("application/openmetrics-text"));
    for line in [
        "fila_pedidos{fila=\"pedidos\"} 12",
        "pedidos_total{} 5",
        "latencia_count{} 1",
        "integra_http_requests_total{",
        "integra_ws_connections",
    ] {
        assert!(
            exposition.text.contains(line),
            "{line} missing from {}",
            exposition.text
        );
    }
    let negotiated = get_with(
        &s.url("/metrics"),
        &[("accept", "application/openmetrics-text")],
    )
    .await;
    assert!(negotiated.text.ends_with("# EOF\n"));
    let plain = get_with(&s.url("/metrics"), &[("accept", "text/plain")]).await;
    assert!(
        plain
            .header("content-type")
            .unwrap()
            .starts_with("text/plain")
            && plain.text.contains("fila_pedidos")
    );
}

#[actix_rt::test]
async fn an_invalid_item_refuses_the_whole_array_and_names_its_index() {
    let s = spawn_app(|s| s.metrics.max_series_per_name = 2).await;
    let bad = post(
        &s.url("/metrics"),
        &json!([{"nome": "ok", "valor": 1}, {"nome": "c", "valor": -1, "tipo": "counter"}]),
    )
    .await;
    assert_eq!(bad.assert_problem(422).json["field"], "[1].valor");
    assert_eq!(
        get(&s.url("/metrics?nome=ok")).await.json,
        json!([]),
        "nothing of a refused batch is stored"
    );
    post(
        &s.url("/metrics"),
        &json!({"nome": "x", "valor": 1, "tipo": "counter"}),
    )
    .await;
    let other_kind = post(
        &s.url("/metrics"),
        &json!({"nome": "x", "valor": 1, "tipo": "gauge"}),
    )
    .await;
    assert_eq!(other_kind.assert_problem(422).json["field"], "tipo");
    for v in ["a", "b"] {
        assert_eq!(
            post(
                &s.url("/metrics"),
                &json!({"nome": "g", "valor": 1, "labels": {"k": v}})
            )
            .await
            .status,
            201
        );
    }
    let third = post(
        &s.url("/metrics"),
        &json!({"nome": "g", "valor": 1, "labels": {"k": "c"}}),
    )
    .await;
    assert_eq!(third.assert_problem(422).json["field"], "labels");
    post(&s.url("/metrics"), &json!({"nome": "bad-name", "valor": 1}))
        .await
        .assert_problem(422);
    post(
        &s.url("/metrics"),
        &json!({"nome": "n", "valor": 1, "labels": {"__x": "y"}}),
    )
    .await
    .assert_problem(422);
    let too_many: Vec<_> = (0..1001)
        .map(|_| json!({"nome": "n", "valor": 1}))
        .collect();
    post(&s.url("/metrics"), &json!(too_many))
        .await
        .assert_problem(422);
    get(&s.url("/metrics?limit=10001"))
        .await
        .assert_problem(422);
}

#[actix_rt::test]
async fn a_query_with_a_name_no_metric_can_have_is_422_and_a_skip_past_everything_is_empty() {
    let s = spawn_app(|_| {}).await;
    let bad = get(&s.url("/metrics?nome=a-b")).await;
    bad.assert_problem(422);
    assert_eq!(bad.json["field"], "nome");
    let far = get(&s.url("/messages?skip=99999999999999999999999999")).await;
    assert_eq!(
        (far.status, far.json.as_array().map(Vec::len)),
        (200, Some(0))
    );
    get(&s.url("/messages?skip=")).await.assert_problem(400);
}
