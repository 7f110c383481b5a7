use integra_tests::{
    get, post, post_raw, shared_redis_url, spawn_app, unique_prefix, Settings, StoreBackend,
    WsClient,
};
use serde_json::json;

/// Settings for instances that share one store and bus under `prefix`: Redis where the suite runs
/// on the embedded engines (whose store is the process's own), else the engines it runs on.
fn sharing(prefix: &str) -> impl FnOnce(&mut Settings) + '_ {
    move |s| {
        if s.store.backend == StoreBackend::Memory {
            s.store.backend = StoreBackend::Redis;
            s.store.url = shared_redis_url().into();
        }
        s.store.key_prefix = prefix.to_owned();
        s.bus.topic_prefix = prefix.to_owned();
    }
}

/// The ids of a list answer, in its order.
fn ids(list: serde_json::Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect()
}

#[actix_rt::test]
async fn alerts_are_created_deduplicated_resolved_and_reopened() {
    let s = spawn_app(|_| {}).await;
    let body = json!({"id": "fila-parada", "titulo": "Fila parada", "descricao": "sem consumo há 5 min", "severidade": "alta", "origem": "billing"});
    let created = post(&s.url("/alerts"), &body).await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(
        (
            created.json["resolvido"].as_bool(),
            created.json["resolvido_em"].is_null()
        ),
        (Some(false), true)
    );
    let dedup = post(&s.url("/alerts"), &body).await;
    assert_eq!((dedup.status, &dedup.json), (200, &created.json));

    let resolved = post(&s.url("/alerts/fila-parada/resolve"), &json!({})).await;
    assert_eq!(resolved.status, 200);
    assert_eq!(resolved.json["resolvido"], true);
    let again = post(&s.url("/alerts/fila-parada/resolve"), &json!({})).await;
    assert_eq!(
        again.json["resolvido_em"], resolved.json["resolvido_em"],
        "the first resolvido_em stands"
    );

    let reopened = post(&s.url("/alerts"), &body).await;
    assert_eq!(reopened.status, 200);
    assert_eq!(
        (
            reopened.json["resolvido"].as_bool(),
            reopened.json["resolvido_em"].is_null()
        ),
        (Some(false), true)
    );
    assert_eq!(get(&s.url("/alerts/fila-parada")).await.json, reopened.json);
}

#[actix_rt::test]
async fn alert_lists_filter_by_severity_resolution_and_time() {
    let s = spawn_app(|_| {}).await;
    for (id, sev) in [("a", "baixa"), ("b", "critica"), ("c", "critica")] {
        assert_eq!(
            post(
                &s.url("/alerts"),
                &json!({"id": id, "titulo": "t", "severidade": sev})
            )
            .await
            .status,
            201
        );
        actix_rt::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    post(&s.url("/alerts/c/resolve"), &json!({})).await;
    assert_eq!(ids(get(&s.url("/alerts")).await.json), ["c", "b", "a"]);
    assert_eq!(
        ids(get(&s.url("/alerts?severidade=critica")).await.json),
        ["c", "b"]
    );
    assert_eq!(
        ids(get(&s.url("/alerts?resolvido=false")).await.json),
        ["b", "a"]
    );
    assert_eq!(
        ids(get(&s.url("/alerts?severidade=critica&resolvido=true"))
            .await
            .json),
        ["c"]
    );
    let b = get(&s.url("/alerts/b")).await.json;
    let since = b["criado_em"].as_str().unwrap();
    assert_eq!(
        ids(get(&s.url(&format!("/alerts?start_time={since}")))
            .await
            .json),
        ["c", "b"]
    );
    assert_eq!(
        ids(get(&s.url(&format!("/alerts?end_time={since}&limit=1")))
            .await
            .json),
        ["b"]
    );
    get(&s.url("/alerts?resolvido=talvez"))
        .await
        .assert_problem(400);
    get(&s.url("/alerts?start_time=2026-11-29T02:00:00Z&end_time=2026-11-29T01:00:00Z"))
        .await
        .assert_problem(422);
}

#[actix_rt::test]
async fn an_acknowledgement_is_kept_once_filters_the_list_and_a_reopening_clears_it() {
    let s = spawn_app(|_| {}).await;
    let mut ws = WsClient::connect(&s.ws_url("/ws")).await;
    for id in ["ack-a", "ack-b"] {
        let r = post(
            &s.url("/alerts"),
            &json!({"id": id, "titulo": "t", "severidade": "media"}),
        )
        .await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(
            (
                r.json["reconhecido"].as_bool(),
                r.json["silenciado"].as_bool()
            ),
            (Some(false), Some(false))
        );
        assert!(r.json["regra"].is_null() && r.json["reconhecido_em"].is_null());
        assert_eq!(ws.next_json().await["evento"], "alerta.criado");
    }
    let acked = post(&s.url("/alerts/ack-a/ack"), &json!({"por": "ana"})).await;
    assert_eq!(acked.status, 200, "{}", acked.text);
    assert_eq!(
        (
            acked.json["reconhecido"].as_bool(),
            acked.json["reconhecido_por"].as_str()
        ),
        (Some(true), Some("ana"))
    );
    let event = ws.next_json().await;
    assert_eq!(
        (event["evento"].as_str(), event["dados"]["id"].as_str()),
        (Some("alerta.reconhecido"), Some("ack-a"))
    );
    // Without a body; a second acknowledgement keeps the first, and publishes nothing.
    let again = post_raw(&s.url("/alerts/ack-a/ack"), None, "", &[]).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.json["reconhecido_em"], acked.json["reconhecido_em"]);
    assert_eq!(again.json["reconhecido_por"], "ana");
    assert_eq!(
        ids(get(&s.url("/alerts?reconhecido=true")).await.json),
        ["ack-a"]
    );
    assert_eq!(
        ids(get(&s.url("/alerts?reconhecido=false&severidade=media"))
            .await
            .json),
        ["ack-b"]
    );
    post(&s.url("/alerts/ack-a/ack"), &json!({"por": ""}))
        .await
        .assert_problem(422);
    post(&s.url("/alerts/ack-a/ack"), &json!({"quem": "x"}))
        .await
        .assert_problem(422);
    post(&s.url("/alerts/nenhum/ack"), &json!({}))
        .await
        .assert_problem(404);
    get(&s.url("/alerts?reconhecido=talvez"))
        .await
        .assert_problem(400);
    // Resolved: no acknowledgement; reopened: unacknowledged again.
    post(&s.url("/alerts/ack-a/resolve"), &json!({})).await;
    post(&s.url("/alerts/ack-a/ack"), &json!({}))
        .await
        .assert_problem(409);
    let reopened = post(
        &s.url("/alerts"),
        &json!({"id": "ack-a", "titulo": "t", "severidade": "media"}),
    )
    .await;
    assert_eq!(
        (reopened.status, reopened.json["reconhecido"].as_bool()),
        (200, Some(false))
    );
    assert!(reopened.json["reconhecido_por"].is_null());
    assert_eq!(ws.next_json().await["evento"], "alerta.resolvido");
    assert_eq!(ws.next_json().await["evento"], "alerta.reaberto");
}

#[actix_rt::test]
async fn an_alert_changed_right_after_an_answer_on_either_instance_is_not_a_conflict() {
    // An answer comes once the event is published; clearing it follows behind the answer. A
    // request right after, here or on the other instance, waits for that, not answers 409.
    let prefix = unique_prefix();
    let (a, b) = (
        spawn_app(sharing(&prefix)).await,
        spawn_app(sharing(&prefix)).await,
    );
    for i in 0..30 {
        let id = format!("logo-{i}");
        let created = post(
            &a.url("/alerts"),
            &json!({"id": id, "titulo": "t", "severidade": "alta"}),
        )
        .await;
        assert_eq!(created.status, 201, "{}", created.text);
        let acked = post(&b.url(&format!("/alerts/{id}/ack")), &json!({})).await;
        assert_eq!(
            acked.status, 200,
            "{id} acknowledged on the other: {}",
            acked.text
        );
        let resolved = post(&b.url(&format!("/alerts/{id}/resolve")), &json!({})).await;
        assert_eq!(
            resolved.status, 200,
            "{id} resolved right after, on the same: {}",
            resolved.text
        );
        let reopened = post(
            &a.url("/alerts"),
            &json!({"id": id, "titulo": "t", "severidade": "alta"}),
        )
        .await;
        assert_eq!(
            (reopened.status, reopened.json["resolvido"].as_bool()),
            (200, Some(false)),
            "{id} reopened right after, on the other: {}",
            reopened.text
        );
    }
}

#[actix_rt::test]
async fn a_shutdown_finishes_the_clearing_of_the_events_it_answered() {
    let prefix = unique_prefix();
    let a = spawn_app(sharing(&prefix)).await;
    let body =
        |i: usize| json!({"id": format!("parada-{i}"), "titulo": "t", "severidade": "baixa"});
    let creates: Vec<_> = (0..200)
        .map(|i| {
            let (url, body) = (a.url("/alerts"), body(i));
            actix_rt::spawn(async move { post(&url, &body).await.status })
        })
        .collect();
    for create in creates {
        assert_eq!(create.await.unwrap(), 201);
    }
    a.stop().await;
    // Every event the first instance answered for is cleared: the same ids on a new instance
    // are deduplicated at once (an event left owed would be a 409 within its lease).
    let b = spawn_app(sharing(&prefix)).await;
    for i in 0..200 {
        let again = post(&b.url("/alerts"), &body(i)).await;
        assert_eq!(again.status, 200, "parada-{i}: {}", again.text);
    }
}
