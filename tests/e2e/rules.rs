//! Silences and rules, end to end: on the embedded engines, and (`make test`'s second run) on the
//! secured engines.

use std::time::Duration;

use integra_tests::{delete, eventually, get, post, spawn_app, TestApp, WsClient};
use serde_json::{json, Value};

/// A rule over `metrica` that opens an alert at once above 100, notified to one webhook.
pub(crate) fn rule(id: &str, metrica: &str) -> Value {
    json!({
        "id": id, "metrica": metrica, "labels": {"fila": "pedidos"},
        "condicao": ">", "limite": 100, "por_segundos": 0,
        "severidade": "alta", "titulo": "Fila alta",
        "notificar": [{"tipo": "webhook", "destinatario": "https://hooks.example/oncall"}]
    })
}

pub(crate) async fn sample(s: &TestApp, metrica: &str, valor: f64) {
    let r = post(
        &s.url("/metrics"),
        &json!({"nome": metrica, "valor": valor, "labels": {"fila": "pedidos", "zona": "z1"}}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
}

/// The alert id of the rule's one series, once the rule tracks it.
pub(crate) async fn alert_of(s: &TestApp, rule: &str) -> String {
    eventually(
        Duration::from_secs(10),
        "the rule to track its series",
        || async {
            let r = get(&s.url(&format!("/rules/{rule}"))).await;
            let series = r.json["series"].as_object()?;
            series.values().next()?["alerta"]
                .as_str()
                .map(str::to_owned)
        },
    )
    .await
}

/// Waits until the alert `id` is open (`true`) or resolved (`false`); returns it.
pub(crate) async fn alert_until(s: &TestApp, id: &str, resolvido: bool) -> Value {
    eventually(Duration::from_secs(10), "the alert to change", || async {
        let r = get(&s.url(&format!("/alerts/{id}"))).await;
        (r.status == 200 && r.json["resolvido"] == resolvido).then_some(r.json)
    })
    .await
}

/// The ids of the webhook messages.
pub(crate) async fn webhook_ids(s: &TestApp) -> Vec<String> {
    let listed = get(&s.url("/messages?tipo=webhook")).await;
    let mut ids: Vec<String> = listed
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

#[actix_rt::test]
async fn silences_are_made_listed_read_ended_and_mark_the_alerts_they_match() {
    let s = spawn_app(|_| {}).await;
    let body = json!({
        "id": "manutencao", "matchers": {"origem": "billing", "labels": {"zona": "z1"}},
        "fim": "2999-01-01T00:00:00Z", "comentario": "janela", "criado_por": "ana"
    });
    let made = post(&s.url("/silences"), &body).await;
    assert_eq!(made.status, 201, "{}", made.text);
    assert_eq!(made.header("location"), Some("/silences/manutencao"));
    assert_eq!(post(&s.url("/silences"), &body).await.status, 200);
    let mut other = body.clone();
    other["matchers"] = json!({"origem": "outra"});
    post(&s.url("/silences"), &other).await.assert_problem(409);
    for bad in [
        json!({"matchers": {}, "fim": "2999-01-01T00:00:00Z"}),
        json!({"matchers": {"origem": "b"}, "fim": "2000-01-01T00:00:00Z"}),
        json!({"matchers": {"origem": "b"}}),
        json!({"matchers": {"nome": "b"}, "fim": "2999-01-01T00:00:00Z"}),
    ] {
        post(&s.url("/silences"), &bad).await.assert_problem(422);
    }
    let active = get(&s.url("/silences?ativo=true")).await;
    assert_eq!(active.json[0]["id"], "manutencao", "{}", active.text);
    assert_eq!(
        get(&s.url("/silences/manutencao")).await.json["criado_por"],
        "ana"
    );

    let matching = json!({"id": "s-1", "titulo": "t", "severidade": "alta", "origem": "billing",
        "labels": {"zona": "z1", "outra": "x"}});
    let r = post(&s.url("/alerts"), &matching).await;
    assert_eq!(
        (r.status, r.json["silenciado"].as_bool()),
        (201, Some(true))
    );
    let elsewhere = json!({"id": "s-2", "titulo": "t", "severidade": "alta", "origem": "billing",
        "labels": {"zona": "z2"}});
    let r = post(&s.url("/alerts"), &elsewhere).await;
    assert_eq!(
        (r.status, r.json["silenciado"].as_bool()),
        (201, Some(false))
    );

    let ended = delete(&s.url("/silences/manutencao")).await;
    assert_eq!(ended.status, 200, "{}", ended.text);
    assert_eq!(
        get(&s.url("/silences?ativo=false")).await.json[0]["id"],
        "manutencao"
    );
    assert_eq!(get(&s.url("/silences?ativo=true")).await.json, json!([]));
    // Ended: a reopening is no longer silenced.
    post(&s.url("/alerts/s-1/resolve"), &json!({})).await;
    let reopened = post(&s.url("/alerts"), &matching).await;
    assert_eq!(
        (reopened.status, reopened.json["silenciado"].as_bool()),
        (200, Some(false))
    );
    delete(&s.url("/silences/nenhum")).await.assert_problem(404);
    get(&s.url("/silences/nenhum")).await.assert_problem(404);
    get(&s.url("/silences?ativo=talvez"))
        .await
        .assert_problem(400);
}

#[actix_rt::test]
async fn a_rule_opens_its_alert_once_then_resolves_it_each_time_notified_once() {
    let s = spawn_app(|_| {}).await;
    let mut ws = WsClient::connect(&s.ws_url("/ws?eventos=canais")).await;
    ws.send_text(r#"{"acao": "inscrever", "canal": "alertas"}"#)
        .await;
    assert_eq!(ws.next_json().await["evento"], "inscrito");
    let made = post(&s.url("/rules"), &rule("fila-alta", "fila_e2e")).await;
    assert_eq!(made.status, 201, "{}", made.text);
    assert_eq!(made.json["estado"], "inativa");
    sample(&s, "fila_e2e", 40.0).await;
    sample(&s, "fila_e2e", 150.0).await;
    let id = alert_of(&s, "fila-alta").await;
    let opened = alert_until(&s, &id, false).await;
    assert_eq!(
        (opened["regra"].as_str(), opened["origem"].as_str()),
        (Some("fila-alta"), Some("regra:fila-alta"))
    );
    assert_eq!(opened["labels"]["zona"], "z1");
    let event = ws.next_json().await;
    assert_eq!(
        (
            event["dados"]["canal"].as_str(),
            event["dados"]["dados"]["evento"].as_str(),
            event["dados"]["dados"]["dados"]["id"].as_str()
        ),
        (Some("alertas"), Some("alerta.criado"), Some(id.as_str()))
    );
    // Still above: nothing more.
    sample(&s, "fila_e2e", 170.0).await;
    let firing = get(&s.url("/rules/fila-alta")).await;
    assert_eq!(firing.json["estado"], "disparada", "{}", firing.text);
    let criado = format!("alerta:{id}:criado:1");
    eventually(Duration::from_secs(10), "the notification", || async {
        let m = get(&s.url(&format!("/messages/{criado}"))).await;
        (m.json["status"] == "CONCLUIDA").then_some(())
    })
    .await;
    let message = get(&s.url(&format!("/messages/{criado}"))).await.json;
    let conteudo: Value = serde_json::from_str(message["conteudo"].as_str().unwrap()).unwrap();
    assert_eq!(conteudo["id"], id.as_str());
    assert_eq!(message["destinatario"], "https://hooks.example/oncall");

    sample(&s, "fila_e2e", 20.0).await;
    let resolved = alert_until(&s, &id, true).await;
    assert_eq!(resolved["regra"], "fila-alta");
    let event = ws.next_json().await;
    assert_eq!(event["dados"]["dados"]["evento"], "alerta.resolvido");
    eventually(Duration::from_secs(10), "both notifications", || async {
        (webhook_ids(&s).await.len() == 2).then_some(())
    })
    .await;
    assert_eq!(
        webhook_ids(&s).await,
        [criado, format!("alerta:{id}:resolvido:1")]
    );
    assert_eq!(
        get(&s.url("/rules/fila-alta")).await.json["estado"],
        "inativa"
    );
}

#[actix_rt::test]
async fn under_a_matching_silence_a_rule_opens_its_alert_silenced_with_no_notification() {
    let s = spawn_app(|_| {}).await;
    let silence = json!({"matchers": {"origem": "regra:quieta"}, "fim": "2999-01-01T00:00:00Z"});
    assert_eq!(post(&s.url("/silences"), &silence).await.status, 201);
    assert_eq!(
        post(&s.url("/rules"), &rule("quieta", "fila_quieta"))
            .await
            .status,
        201
    );
    sample(&s, "fila_quieta", 150.0).await;
    let id = alert_of(&s, "quieta").await;
    let opened = alert_until(&s, &id, false).await;
    assert_eq!(opened["silenciado"], true);
    sample(&s, "fila_quieta", 10.0).await;
    alert_until(&s, &id, true).await;
    // A rule round later, still no message.
    actix_rt::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(webhook_ids(&s).await, Vec::<String>::new());
}

#[actix_rt::test]
async fn rules_are_checked_listed_read_and_deleted() {
    let s = spawn_app(|_| {}).await;
    let body = rule("r-crud", "fila_crud");
    assert_eq!(post(&s.url("/rules"), &body).await.status, 201);
    assert_eq!(post(&s.url("/rules"), &body).await.status, 200);
    let mut other = body.clone();
    other["limite"] = json!(5);
    post(&s.url("/rules"), &other).await.assert_problem(409);
    for (field, value) in [
        ("condicao", json!("=>")),
        ("metrica", json!("1x")),
        ("limite", json!("alto")),
        ("por_segundos", json!(-1)),
        ("titulo", json!("")),
        ("notificar", json!([{"tipo": "pombo", "destinatario": "x"}])),
        ("id", json!("r".repeat(101))),
        ("desconhecido", json!(1)),
    ] {
        let mut bad = rule("r-bad", "fila_crud");
        bad[field] = value;
        post(&s.url("/rules"), &bad).await.assert_problem(422);
    }
    let listed = get(&s.url("/rules")).await;
    assert_eq!(
        listed.json.as_array().map(Vec::len),
        Some(1),
        "{}",
        listed.text
    );
    assert_eq!(get(&s.url("/rules/r-crud")).await.json["limite"], 100.0);
    assert_eq!(delete(&s.url("/rules/r-crud")).await.status, 204);
    get(&s.url("/rules/r-crud")).await.assert_problem(404);
    delete(&s.url("/rules/r-crud")).await.assert_problem(404);
}
