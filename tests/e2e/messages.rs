use integra_tests::{get, post, spawn_app};
use serde_json::json;

#[actix_rt::test]
async fn a_message_is_published_and_answered_201_with_its_location() {
    let s = spawn_app(|_| {}).await;
    let r = post(&s.url("/messages"), &json!({"tipo": "email", "destinatario": "ana@example.com", "conteudo": "Olá", "metadados": {"campanha": "natal"}})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.json["id"].as_str().unwrap();
    assert_eq!(id.len(), 36, "a UUIDv7 is made for a missing id");
    assert_eq!(
        r.header("location"),
        Some(format!("/messages/{id}").as_str())
    );
    assert_eq!(r.json["status"], "CONCLUIDA");
    assert_eq!(r.json["kafka"]["topico"], s.topic("messages.email"));
    assert_eq!(r.json["metadados"]["campanha"], "natal");
    assert!(r.json["criado_em"].as_str().unwrap().ends_with('Z'));
    let got = get(&s.url(&format!("/messages/{id}"))).await;
    assert_eq!((got.status, &got.json), (200, &r.json));
}

#[actix_rt::test]
async fn a_resend_of_a_concluded_message_is_replayed_and_a_changed_one_refused() {
    let s = spawn_app(|_| {}).await;
    let body = json!({"id": "pedido-1", "tipo": "sms", "destinatario": "+5511999999999", "conteudo": "oi"});
    let first = post(&s.url("/messages"), &body).await;
    assert_eq!(first.status, 201);
    let again = post(&s.url("/messages"), &body).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.json, first.json);
    let changed = post(&s.url("/messages"), &json!({"id": "pedido-1", "tipo": "sms", "destinatario": "+5511999999999", "conteudo": "outro"})).await;
    changed.assert_problem(422);
    assert_eq!(changed.json["field"], "id");
}

#[actix_rt::test]
async fn of_concurrent_sends_of_one_id_exactly_one_is_created() {
    let s = spawn_app(|_| {}).await;
    let url = s.url("/messages");
    let sends = (0..30).map(|_| {
        let url = url.clone();
        actix_rt::spawn(async move {
            post(
                &url,
                &json!({"id": "same", "tipo": "push", "destinatario": "d", "conteudo": "c"}),
            )
            .await
        })
    });
    let mut statuses = Vec::new();
    for send in sends.collect::<Vec<_>>() {
        statuses.push(send.await.unwrap().status);
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| matches!(s, 200 | 201 | 409)),
        "{statuses:?}"
    );
    let m = get(&s.url("/messages/same")).await;
    assert_eq!(
        (
            m.json["tentativas"].as_u64(),
            m.json["kafka"]["offset"].as_i64()
        ),
        (Some(1), Some(0))
    );
}

#[actix_rt::test]
async fn lists_filter_and_page_newest_first() {
    let s = spawn_app(|_| {}).await;
    for (i, tipo) in ["email", "sms", "email", "webhook", "email"]
        .iter()
        .enumerate()
    {
        let r = post(
            &s.url("/messages"),
            &json!({"id": format!("m{i}"), "tipo": tipo, "destinatario": "d", "conteudo": "c"}),
        )
        .await;
        assert_eq!(r.status, 201);
        actix_rt::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    let ids = |v: &serde_json::Value| {
        v.as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(&get(&s.url("/messages")).await.json),
        ["m4", "m3", "m2", "m1", "m0"]
    );
    assert_eq!(
        ids(&get(&s.url("/messages?tipo=email")).await.json),
        ["m4", "m2", "m0"]
    );
    assert_eq!(
        ids(
            &get(&s.url("/messages?tipo=email&status=CONCLUIDA&skip=1&limit=1"))
                .await
                .json
        ),
        ["m2"]
    );
    assert_eq!(
        ids(&get(&s.url("/messages?status=ERRO")).await.json),
        Vec::<String>::new()
    );
    assert_eq!(
        ids(&get(&s.url("/messages?tipo=&status=")).await.json).len(),
        5,
        "empty filters are no filters"
    );
}
