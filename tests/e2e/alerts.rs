use integra_tests::{get, post, post_raw, spawn_app, WsClient};
use serde_json::json;

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
