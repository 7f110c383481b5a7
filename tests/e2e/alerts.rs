use integra_tests::{get, post, spawn_app};
use serde_json::json;

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
    let ids = |v: serde_json::Value| {
        v.as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
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
