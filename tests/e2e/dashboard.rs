//! The dashboard in a real browser: headless Chromium driven over WebDriver (chromedriver), both
//! installed by `scripts/services.sh`. Screenshots go to `target/screenshots`, or to the folder
//! `INTEGRA_SCREENSHOTS_DIR` names (`docs` to refresh the README's).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use integra_domain::Timestamp;
use integra_tests::{eventually, get, post, post_raw, spawn_app, Browser};
use serde_json::json;

/// Live: the app shown and its socket open.
pub(crate) const LIVE: &str = "return !document.querySelector('#app').hidden \
                    && document.querySelector('#socket').textContent === 'live'";

fn screenshot(name: &str) -> PathBuf {
    let dir =
        std::env::var("INTEGRA_SCREENSHOTS_DIR").unwrap_or_else(|_| "target/screenshots".into());
    // The tests run in tests/; the folder is the workspace's.
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(dir)
        .join(name)
}

#[actix_rt::test]
async fn the_dashboard_shows_messages_alerts_and_metrics_live_with_no_console_error() {
    let s = spawn_app(|_| {}).await;
    let b = Browser::start(1440, 1350, &[]).await;
    b.goto(&s.url("/ui")).await;
    b.wait_for("the page, live", LIVE, Duration::from_secs(10))
        .await;
    b.wait_for(
        "the first tables",
        "return document.querySelector('#message-rows .empty, #message-rows tr[id]') !== null \
         && document.querySelector('#checks .check') !== null",
        Duration::from_secs(5),
    )
    .await;
    // Every state a row of the table goes through, as the page shows it.
    b.execute(
        "window.seen = [];
         const note = () => { for (const r of document.querySelectorAll('#message-rows tr[data-status]')) {
             const k = r.id + ' ' + r.dataset.status; if (!window.seen.includes(k)) window.seen.push(k); } };
         new MutationObserver(note).observe(document.querySelector('#message-rows'),
             {childList: true, subtree: true, attributes: true});
         return true;",
        json!([]),
    )
    .await;

    // A message sent over HTTP is in the table within a second, and its status changes live.
    let sent = Instant::now();
    let r = post(
        &s.url("/messages"),
        &json!({"id": "painel-1", "tipo": "email", "destinatario": "ana@example.com", "conteudo": "Olá"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    b.wait_for(
        "the message, CONCLUIDA",
        "return document.querySelector('#m-painel-1')?.dataset.status === 'CONCLUIDA'",
        Duration::from_secs(1).saturating_sub(sent.elapsed()),
    )
    .await;
    let seen = b.execute("return window.seen", json!([])).await;
    assert_eq!(
        seen,
        json!(["m-painel-1 PROCESSANDO", "m-painel-1 CONCLUIDA"]),
        "the row went through both states without a reload"
    );
    let coordinates = b
        .execute(
            "return document.querySelector('#m-painel-1 td:nth-child(6)').textContent",
            json!([]),
        )
        .await;
    // The topic (after any bus.topic_prefix), the partition, the offset.
    assert!(
        coordinates.as_str().unwrap().contains("messages.email · p"),
        "{coordinates}"
    );

    // A socket that drops is opened again, and what happened meanwhile is read again.
    b.execute("state.socket.close(); return true;", json!([]))
        .await;
    let r = post(
        &s.url("/messages"),
        &json!({"id": "painel-2", "tipo": "sms", "destinatario": "+351900000000", "conteudo": "x"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    b.wait_for("the socket, live again", LIVE, Duration::from_secs(5))
        .await;
    b.wait_for(
        "the message sent while it was down",
        "return document.querySelector('#m-painel-2') !== null",
        Duration::from_secs(3),
    )
    .await;

    // An alert opened over HTTP appears; clicking "Resolve" resolves it.
    let r = post(
        &s.url("/alerts"),
        &json!({"id": "painel-a", "titulo": "Fila parada", "severidade": "critica", "origem": "billing"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    b.wait_for(
        "the alert's row",
        "return document.querySelector('#a-painel-a') !== null",
        Duration::from_secs(2),
    )
    .await;
    b.click("#a-painel-a button[data-action=ack]").await;
    eventually(Duration::from_secs(3), "the acknowledgement", || async {
        let a = get(&s.url("/alerts/painel-a")).await;
        (a.json["reconhecido"] == true).then_some(())
    })
    .await;
    b.wait_for(
        "the acknowledged row, live",
        "return document.querySelector('#a-painel-a')?.textContent.includes('acked')",
        Duration::from_secs(2),
    )
    .await;
    b.click("#a-painel-a button[data-action=resolve]").await;
    eventually(Duration::from_secs(3), "the resolution", || async {
        let a = get(&s.url("/alerts/painel-a")).await;
        (a.json["resolvido"] == true).then_some(())
    })
    .await;
    // Resolved, it leaves the table of open alerts.
    b.wait_for(
        "the resolved alert gone from the open ones",
        "return document.querySelector('#a-painel-a') === null",
        Duration::from_secs(2),
    )
    .await;
    let r = post(
        &s.url("/alerts"),
        &json!({"id": "painel-b", "titulo": "Disco cheio", "severidade": "alta", "origem": "infra"}),
    )
    .await;
    assert_eq!(r.status, 201);
    b.wait_for(
        "the second alert's row",
        "return document.querySelector('#a-painel-b') !== null",
        Duration::from_secs(2),
    )
    .await;
    // "Silence" makes a silence of an hour on the alert's id.
    b.click("#a-painel-b button[data-action=silence]").await;
    eventually(Duration::from_secs(3), "the silence", || async {
        let listed = get(&s.url("/silences?ativo=true")).await;
        (listed.json[0]["matchers"]["id_prefixo"] == "painel-b").then_some(())
    })
    .await;

    // The chart draws the points pushed.
    let now = Timestamp::now();
    let samples: Vec<_> = [(3, 12.0), (2, 30.0), (1, 18.0)]
        .into_iter()
        .map(|(minutes, valor)| {
            json!({"nome": "painel_fila", "valor": valor, "labels": {"fila": "pedidos"},
                   "timestamp": now.plus_millis(-minutes * 60_000).to_string()})
        })
        .collect();
    assert_eq!(post(&s.url("/metrics"), &json!(samples)).await.status, 201);
    b.type_into("#metric-name", "painel_fila").await;
    b.execute(
        "document.querySelector('#metric-form select[name=range]').value = '900'; return true;",
        json!([]),
    )
    .await;
    b.click("#metric-form button[type=submit]").await;
    let drawn = b
        .wait_for(
            "the chart's points",
            "const dots = [...document.querySelectorAll('#chart circle')]; \
             return dots.length === 3 && dots.map(d => Number(d.dataset.valor));",
            Duration::from_secs(3),
        )
        .await;
    assert_eq!(drawn, json!([12, 30, 18]));

    b.wait_for(
        "the channels' subscriber counts",
        "return document.querySelectorAll('#channels tr').length >= 6",
        Duration::from_secs(3),
    )
    .await;
    b.execute("window.scrollTo(0, 0); return true;", json!([]))
        .await;
    b.screenshot(&screenshot("dashboard.png")).await;
    assert_eq!(b.console_errors().await, Vec::<String>::new());
}

#[actix_rt::test]
async fn with_auth_on_the_page_asks_for_the_key_refuses_a_wrong_one_and_works_with_the_right() {
    let s = spawn_app(|s| s.auth.api_keys = vec!["painel-chave".into()]).await;
    let b = Browser::start(1280, 800, &["--force-dark-mode"]).await;
    b.goto(&s.url("/ui")).await;
    b.wait_for(
        "the key prompt",
        "return !document.querySelector('#auth').hidden && document.querySelector('#app').hidden",
        Duration::from_secs(10),
    )
    .await;
    b.type_into("#key", "errada").await;
    b.click("#key-form button").await;
    let said = b
        .wait_for(
            "a message for the wrong key",
            "return document.querySelector('#key-error').textContent",
            Duration::from_secs(3),
        )
        .await;
    assert!(said.as_str().unwrap().contains("refused"), "{said}");
    b.screenshot(&screenshot("dashboard-key.png")).await;

    b.type_into("#key", "painel-chave").await;
    b.click("#key-form button").await;
    b.wait_for("the page, live", LIVE, Duration::from_secs(5))
        .await;
    // The key serves the API and the socket: a message shows up live.
    let r = post_raw(
        &s.url("/messages"),
        Some("application/json"),
        json!({"id": "painel-k", "tipo": "sms", "destinatario": "+351900000000", "conteudo": "x"})
            .to_string(),
        &[("authorization", "Bearer painel-chave")],
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    b.wait_for(
        "the message, live",
        "return document.querySelector('#m-painel-k') !== null",
        Duration::from_secs(2),
    )
    .await;
    // Kept for the tab: a reload does not ask again.
    b.goto(&s.url("/ui")).await;
    b.wait_for("the page, live again", LIVE, Duration::from_secs(5))
        .await;
    let dark = b
        .execute(
            "return matchMedia('(prefers-color-scheme: dark)').matches",
            json!([]),
        )
        .await;
    assert_eq!(dark, true, "this window is in the dark scheme");
    b.wait_for(
        "the message after the reload",
        "return document.querySelector('#m-painel-k') !== null",
        Duration::from_secs(2),
    )
    .await;
    b.screenshot(&screenshot("dashboard-dark.png")).await;
    assert_eq!(
        b.console_errors().await.len(),
        1,
        "the refused key's 401 only"
    );
}
