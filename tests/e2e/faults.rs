//! Faults of the broker: killed with `-9` and restarted, with its data (the durable Tansu) or
//! without (the in-memory one). Two instances share the shared Redis and the test's own broker.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use integra_tests::{get, post, read_topic, unique_prefix, Daemon, TestApp, WsClient};
use serde_json::json;

use crate::kafka::start;

/// `bus.timeout_ms` of the servers `start` builds.
const BUS_TIMEOUT: Duration = Duration::from_millis(3000);

/// One answer to `POST /messages`.
struct Answer {
    id: String,
    status: u16,
    started: Instant,
    took: Duration,
}

/// Sends messages through `server` until `stop`, one at a time: a new id after each success, the
/// same id again after each failure (as a client that wants its message through would). Checks
/// that every failed message is stored `ERRO` at once.
async fn sender(server: Rc<TestApp>, name: String, stop: Rc<AtomicBool>) -> Vec<Answer> {
    let mut answers = Vec::new();
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        let id = format!("{name}-{n}");
        let body =
            json!({"id": id, "tipo": "sms", "destinatario": "d", "conteudo": format!("c {id}")});
        let started = Instant::now();
        let reply = post(&server.url("/messages"), &body).await;
        let took = started.elapsed();
        match reply.status {
            200 | 201 => {
                assert_eq!(reply.json["status"], "CONCLUIDA", "{}", reply.text);
                n += 1;
            }
            502 | 504 => {
                assert_eq!(reply.json["id"], id, "{}", reply.text);
                let stored = get(&server.url(&format!("/messages/{id}"))).await;
                assert_eq!(stored.json["status"], "ERRO", "{}", stored.text);
                actix_rt::time::sleep(Duration::from_millis(100)).await;
            }
            other => panic!("{id}: {other} {}", reply.text),
        }
        answers.push(Answer {
            id,
            status: reply.status,
            started,
            took,
        });
    }
    answers
}

/// Two instances on `broker` and the shared Redis, their keys and topics under `prefix`.
async fn pair(broker: &Daemon, prefix: &str) -> (Rc<TestApp>, Rc<TestApp>) {
    (
        Rc::new(start(&broker.address(), prefix).await),
        Rc::new(start(&broker.address(), prefix).await),
    )
}

/// A broadcast from each instance reaches a client of the other, once both are ready again.
async fn fan_out_flows(a: &TestApp, b: &TestApp, within: Duration) {
    for s in [a, b] {
        s.wait_until(|status| status == 200, "/readyz", within)
            .await;
    }
    let mut on_a = WsClient::connect(&a.ws_url("/ws")).await;
    let mut on_b = WsClient::connect(&b.ws_url("/ws")).await;
    for (from, text) in [(a, "from A"), (b, "from B")] {
        let sent = post(&from.url("/ws/broadcast"), &json!({"texto": text})).await;
        assert_eq!(sent.status, 202, "{}", sent.text);
        assert_eq!(next_broadcast(&mut on_a).await, text);
        assert_eq!(next_broadcast(&mut on_b).await, text);
    }
}

/// The next text that is not an event (the messages sent before still announce their changes).
async fn next_broadcast(client: &mut WsClient) -> String {
    loop {
        let text = client.next_text().await;
        if !text.starts_with(r#"{"evento""#) {
            return text;
        }
    }
}

#[actix_rt::test]
async fn a_durable_broker_killed_under_16_senders_keeps_every_acknowledged_message_once() {
    let mut broker = Daemon::tansu_durable().await;
    let prefix = unique_prefix();
    let (a, b) = pair(&broker, &prefix).await;
    let stop = Rc::new(AtomicBool::new(false));
    let senders: Vec<_> = (0..16)
        .map(|i| {
            let server = Rc::clone(if i % 2 == 0 { &a } else { &b });
            actix_rt::spawn(sender(server, format!("s{i}"), Rc::clone(&stop)))
        })
        .collect();

    actix_rt::time::sleep(Duration::from_secs(2)).await;
    broker.kill();
    // Longer than `bus.timeout_ms`: some requests fail.
    actix_rt::time::sleep(Duration::from_secs(5)).await;
    broker.start().await;
    let up = Instant::now();
    actix_rt::time::sleep(Duration::from_secs(10)).await;
    stop.store(true, Ordering::Relaxed);
    let mut answers = Vec::new();
    for sender in senders {
        answers.extend(sender.await.unwrap());
    }

    let slowest = answers.iter().map(|a| a.took).max().unwrap();
    assert!(
        slowest <= BUS_TIMEOUT + Duration::from_secs(1),
        "a request took {slowest:?}"
    );
    let first_success_after_up = answers
        .iter()
        .filter(|a| a.status == 201 && a.started >= up)
        .map(|a| a.started + a.took - up)
        .min()
        .expect("no message was accepted after the broker came back");
    assert!(
        first_success_after_up <= Duration::from_secs(5),
        "publishing resumed {first_success_after_up:?} after the broker accepted connections"
    );
    // Every sender's resend gets through within the 10 s; when, is printed. (Before searches kept
    // what earlier passes read, one instance's resends could keep failing for all of it.)
    let late_failures = answers
        .iter()
        .filter(|a| a.status != 201 && a.started >= up + Duration::from_secs(5))
        .count();
    let resumed: Vec<Duration> = (0..16)
        .filter_map(|i| {
            answers
                .iter()
                .filter(|a| {
                    a.status == 201 && a.started >= up && a.id.starts_with(&format!("s{i}-"))
                })
                .map(|a| a.started + a.took - up)
                .min()
        })
        .collect();
    let last_resumed = resumed.iter().max().copied().unwrap_or_default();
    assert_eq!(
        resumed.len(),
        16,
        "only {} senders got their resend through",
        resumed.len()
    );

    let acknowledged: HashSet<&str> = answers
        .iter()
        .filter(|a| a.status == 201)
        .map(|a| a.id.as_str())
        .collect();
    let failed = answers.iter().filter(|a| a.status != 201).count();
    assert!(
        acknowledged.len() > 100 && failed > 0,
        "{} acknowledged, {failed} failed: the fault did not happen under load",
        acknowledged.len()
    );
    let topic = format!("{prefix}messages.sms");
    let brokers = broker.address();
    let records =
        tokio::task::spawn_blocking(move || read_topic(&brokers, &topic, Duration::from_secs(30)))
            .await
            .unwrap();
    let mut copies: HashMap<&str, usize> = HashMap::new();
    for record in &records {
        *copies.entry(record.key.as_str()).or_default() += 1;
    }
    let missing: Vec<_> = acknowledged
        .iter()
        .filter(|id| !copies.contains_key(*id))
        .collect();
    let twice: Vec<_> = copies.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        missing.is_empty(),
        "acknowledged but not on the topic: {missing:?}"
    );
    assert!(twice.is_empty(), "on the topic more than once: {twice:?}");
    for id in acknowledged.iter().take(20) {
        let stored = get(&a.url(&format!("/messages/{id}"))).await;
        assert_eq!(stored.json["status"], "CONCLUIDA", "{}", stored.text);
    }
    #[allow(clippy::print_stderr)]
    {
        eprintln!(
            "{} acknowledged, {failed} failed answers, {} records on the topic, publishing resumed {first_success_after_up:?} after the broker came back ({} of 16 senders through, the last after {last_resumed:?}; {late_failures} failures started over 5 s after), slowest answer {slowest:?}",
            acknowledged.len(),
            records.len(),
            resumed.len()
        );
    }

    fan_out_flows(&a, &b, Duration::from_secs(30)).await;
}

#[actix_rt::test]
async fn an_in_memory_broker_restarted_empty_serves_again_within_10_s() {
    let mut broker = Daemon::tansu().await;
    let prefix = unique_prefix();
    let (a, b) = pair(&broker, &prefix).await;
    let body =
        |n: usize| json!({"tipo": "webhook", "destinatario": "d", "conteudo": format!("c{n}")});
    assert_eq!(post(&a.url("/messages"), &body(0)).await.status, 201);
    assert_eq!(post(&b.url("/messages"), &body(1)).await.status, 201);

    broker.kill();
    broker.start().await;
    let up = Instant::now();
    for (n, s) in [&a, &b].into_iter().enumerate() {
        loop {
            let reply = post(&s.url("/messages"), &body(n + 2)).await;
            if reply.status == 201 {
                break;
            }
            assert!(matches!(reply.status, 502 | 504), "{}", reply.text);
            assert!(
                up.elapsed() < Duration::from_secs(10),
                "still failing {:?} after the broker came back: {}",
                up.elapsed(),
                reply.text
            );
            actix_rt::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fan_out_flows(&a, &b, Duration::from_secs(30)).await;
}
