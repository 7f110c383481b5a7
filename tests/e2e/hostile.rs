//! What a hostile or careless client can try, each answered as the contract says: nothing breaks
//! the exposition, grows memory without bound, holds a socket, or gets a 500.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use integra_tests::raw_ws::opcode;
use integra_tests::{get, get_with, post, post_raw, spawn_app, RawWs, TestApp};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `promtool check metrics` on `exposition`: what it printed, and whether it could parse it.
fn promtool(exposition: &str) -> (String, bool) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is needed (make test installs Debian's prometheus)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(exposition.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Exit 1 is a parse error; 3 a lint remark (such as a counter's HELP, which OpenMetrics puts
    // on the family and the 0.0.4 format promtool reads expects on the sample).
    let parsed = !said.contains("parsing error") && out.status.code() != Some(1);
    (said, parsed)
}

#[actix_rt::test]
async fn hostile_label_values_cannot_break_or_inject_into_the_exposition() {
    let s = spawn_app(|_| {}).await;
    let hostile = json!({"nome": "x", "valor": 1, "labels": {
        "a": "say \"hi\"", "b": "back\\slash", "c": "line\nprobe_injected_total 1337"
    }});
    assert_eq!(post(&s.url("/metrics"), &hostile).await.status, 201);
    let exposition = get(&s.url("/metrics/prometheus")).await.text;
    let (said, parsed) = promtool(&exposition);
    assert!(
        parsed,
        "promtool could not parse the exposition: {said}\n{exposition}"
    );
    assert!(
        !exposition.lines().any(|l| l.starts_with("probe_injected")),
        "{exposition}"
    );
    // Before the fix, the very same value broke the parse.
    let (_, broken) = promtool("# TYPE x gauge\nx{a=\"say \"hi\"\"} 1\n");
    assert!(!broken, "promtool does not catch what it must");
}

#[actix_rt::test]
async fn request_labels_stay_bounded_whatever_methods_and_paths_clients_invent() {
    let s = spawn_app(|_| {}).await;
    let client = integra_tests::client();
    for i in 0..2000 {
        let method = awc::http::Method::from_bytes(format!("M{i}X").as_bytes()).unwrap();
        let _ = client
            .request(method, s.url(&format!("/invented/{i}")))
            .send()
            .await;
    }
    let exposition = get(&s.url("/metrics/prometheus")).await.text;
    let series = exposition
        .lines()
        .filter(|l| l.starts_with("integra_http_requests_total{"))
        .count();
    assert!(series < 10, "{series} request series:\n{exposition}");
    assert!(exposition.contains(r#"method="OTHER",route="unmatched",status="404""#));
}

#[actix_rt::test]
async fn colliding_and_reserved_metric_names_and_an_overflowing_counter_are_422() {
    let s = spawn_app(|_| {}).await;
    let metrics = s.url("/metrics");
    assert_eq!(
        post(&metrics, &json!({"nome": "x_count", "valor": 1}))
            .await
            .status,
        201
    );
    let collides = post(
        &metrics,
        &json!({"nome": "x", "valor": 1, "tipo": "histogram"}),
    )
    .await;
    collides.assert_problem(422);
    assert_eq!(collides.json["field"], "nome");
    let own = post(
        &metrics,
        &json!({"nome": "integra_http_requests", "valor": 1}),
    )
    .await;
    own.assert_problem(422);
    let big = json!({"nome": "c", "valor": 1e308, "tipo": "counter"});
    assert_eq!(post(&metrics, &big).await.status, 201);
    post(&metrics, &big).await.assert_problem(422);
    let exposition = get(&s.url("/metrics/prometheus")).await.text;
    assert!(!exposition.contains("+Inf\n") && !exposition.contains(" inf"));
}

#[actix_rt::test]
async fn the_ids_dot_and_dotdot_are_refused() {
    let s = spawn_app(|_| {}).await;
    for id in [".", ".."] {
        let body = json!({"id": id, "tipo": "sms", "destinatario": "d", "conteudo": "c"});
        let r = post(&s.url("/messages"), &body).await;
        r.assert_problem(422);
        assert_eq!(r.json["field"], "id");
    }
}

#[actix_rt::test]
async fn a_repeated_key_is_422_naming_it() {
    let s = spawn_app(|_| {}).await;
    let url = s.url("/messages");
    let top = r#"{"tipo":"sms","tipo":"email","destinatario":"d","conteudo":"c"}"#;
    let r = post_raw(&url, Some("application/json"), top, &[]).await;
    r.assert_problem(422);
    assert_eq!(r.json["field"], "tipo");
    let nested =
        r#"{"tipo":"sms","destinatario":"d","conteudo":"c","metadados":{"a":"1","a":"2"}}"#;
    let r = post_raw(&url, Some("application/json"), nested, &[]).await;
    r.assert_problem(422);
    assert_eq!(r.json["field"], "metadados.a");
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

#[actix_rt::test]
async fn gzip_bodies_are_read_within_the_limit_and_other_encodings_are_415() {
    let s = spawn_app(|s| s.server.body_limit_bytes = 4096).await;
    let url = s.url("/messages");
    let body = br#"{"id":"zipped","tipo":"sms","destinatario":"d","conteudo":"c"}"#;
    let gz = [("content-encoding", "gzip")];
    let r = post_raw(&url, Some("application/json"), gzip(body), &gz).await;
    assert_eq!(r.status, 201, "{}", r.text);
    // 10 MB of spaces inflate from a few KB; reading stops at the limit.
    let mut bomb = b"{\"tipo\":\"sms\",\"destinatario\":\"d\",\"conteudo\":\"c\"".to_vec();
    bomb.extend(std::iter::repeat_n(b' ', 10 << 20));
    bomb.push(b'}');
    let compressed = gzip(&bomb);
    assert!(compressed.len() < 4096 * 8);
    post_raw(&url, Some("application/json"), compressed, &gz)
        .await
        .assert_problem(413);
    post_raw(&url, Some("application/json"), &b"not gzip"[..], &gz)
        .await
        .assert_problem(400);
    post_raw(
        &url,
        Some("application/json"),
        &body[..],
        &[("content-encoding", "br")],
    )
    .await
    .assert_problem(415);
}

#[actix_rt::test]
async fn head_is_get_without_a_body_and_a_known_route_with_another_method_is_405() {
    let s = spawn_app(|_| {}).await;
    post(
        &s.url("/alerts"),
        &json!({"id": "a1", "titulo": "t", "severidade": "baixa"}),
    )
    .await;
    let client = integra_tests::client();
    let get_reply = client.get(s.url("/alerts/a1")).send().await.unwrap();
    let length = get_reply.headers().get("content-length").cloned();
    let mut head = client.head(s.url("/alerts/a1")).send().await.unwrap();
    assert_eq!(head.status().as_u16(), 200);
    assert_eq!(head.headers().get("content-length").cloned(), length);
    assert!(head.body().await.unwrap().is_empty());
    for (method, path, allow) in [
        ("PUT", "/messages", "GET, HEAD, POST"),
        ("DELETE", "/alerts/a1/resolve", "POST"),
        ("POST", "/healthz", "GET, HEAD"),
    ] {
        let method = awc::http::Method::from_bytes(method.as_bytes()).unwrap();
        let mut r = client.request(method, s.url(path)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 405, "{path}");
        assert_eq!(r.headers().get("allow").unwrap(), allow, "{path}");
        let body: serde_json::Value = serde_json::from_slice(&r.body().await.unwrap()).unwrap();
        assert_eq!(body["status"], 405);
    }
}

/// A raw request: `head` written, then `body` (possibly short of its Content-Length); the status
/// the server answers, and how long it took.
async fn stalled(s: &TestApp, head: &str, body: &[u8]) -> (Option<u16>, Duration) {
    let addr = s.base.trim_start_matches("http://").to_owned();
    let mut socket = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let started = Instant::now();
    socket.write_all(head.as_bytes()).await.unwrap();
    socket.write_all(body).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), socket.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer);
    let status = text.split(' ').nth(1).and_then(|code| code.parse().ok());
    (status, started.elapsed())
}

#[actix_rt::test]
async fn a_body_or_a_head_that_stalls_is_dropped_after_the_request_timeout() {
    let s = spawn_app(|s| s.server.request_timeout_ms = 1000).await;
    let head = "POST /messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n";
    let (status, took) = stalled(&s, head, b"{\"tipo\":").await;
    assert_eq!(status, Some(408));
    assert!(took < Duration::from_secs(3), "{took:?}");
    let (_, took) = stalled(&s, "POST /messages HTTP/1.1\r\nHost: x\r\n", b"").await;
    assert!(
        took < Duration::from_secs(4),
        "a stalled head held the socket {took:?}"
    );
    assert_eq!(get(&s.url("/healthz")).await.status, 200);
}

#[actix_rt::test]
async fn an_announced_oversized_frame_closes_with_1009_before_its_payload_is_sent() {
    let s = spawn_app(|s| s.ws.max_frame_bytes = 1024).await;
    let mut ws = RawWs::connect(&s.base, "/ws").await;
    ws.frame(Duration::from_secs(5)).await.unwrap(); // conectado
    assert!(ws.announce(true, opcode::TEXT, 100 << 20).await);
    assert_eq!(ws.close_code(Duration::from_secs(3)).await, Some(1009));
    assert!(ws.closed_within(Duration::from_secs(2)).await.is_some());

    // Fragments count together: 600 + 600 is over 1024, said by the second header.
    let mut ws = RawWs::connect(&s.base, "/ws").await;
    ws.frame(Duration::from_secs(5)).await.unwrap();
    assert!(ws.send(false, opcode::TEXT, &[b'a'; 600]).await);
    assert!(ws.announce(true, opcode::CONTINUATION, 600).await);
    assert_eq!(ws.close_code(Duration::from_secs(3)).await, Some(1009));
}

#[actix_rt::test]
async fn text_that_is_not_utf8_closes_with_1007_and_a_protocol_error_with_1002() {
    let s = spawn_app(|_| {}).await;
    let mut ws = RawWs::connect(&s.base, "/ws").await;
    ws.frame(Duration::from_secs(5)).await.unwrap();
    assert!(ws.send(true, opcode::TEXT, &[0xC3, 0x28]).await);
    assert_eq!(ws.close_code(Duration::from_secs(3)).await, Some(1007));
    let mut ws = RawWs::connect(&s.base, "/ws").await;
    ws.frame(Duration::from_secs(5)).await.unwrap();
    assert!(ws.send(true, opcode::CONTINUATION, b"orphan").await);
    assert_eq!(ws.close_code(Duration::from_secs(3)).await, Some(1002));
}

#[actix_rt::test]
async fn after_a_clients_close_the_server_closes_the_connection_at_once() {
    let s = spawn_app(|_| {}).await;
    let mut ws = RawWs::connect(&s.base, "/ws").await;
    ws.frame(Duration::from_secs(5)).await.unwrap();
    assert!(ws.send(true, opcode::CLOSE, &1000_u16.to_be_bytes()).await);
    assert_eq!(ws.close_code(Duration::from_secs(2)).await, Some(1000));
    let took = ws.closed_within(Duration::from_secs(2)).await;
    assert!(
        took.is_some_and(|t| t < Duration::from_millis(200)),
        "the server kept the connection {took:?} after the closing handshake"
    );
}

#[actix_rt::test]
async fn a_client_that_floods_pings_and_never_reads_is_dropped() {
    let s = spawn_app(|s| {
        s.ws.ping_interval_secs = 1;
        s.ws.pong_timeout_secs = 1;
        s.server.request_timeout_ms = 2000;
    })
    .await;
    let mut ws = RawWs::connect(&s.base, "/ws").await;
    let started = Instant::now();
    // Pings as fast as the socket takes them, never reading the pongs: the session ends at the
    // pong timeout, and the connection, whose pongs nobody takes, once the kernel gives up on it
    // (TCP_USER_TIMEOUT = server.request_timeout_ms).
    let limit = Duration::from_secs(20);
    while started.elapsed() < limit {
        if !ws.send(true, opcode::PING, &[b'p'; 125]).await {
            break;
        }
    }
    assert!(
        started.elapsed() < limit,
        "the flooding client was still connected after {limit:?}"
    );
}

#[actix_rt::test]
async fn three_hundred_clients_connect_get_a_broadcast_and_close_one_after_another_in_under_5s() {
    let s = spawn_app(|_| {}).await;
    let started = Instant::now();
    let mut clients = Vec::new();
    for _ in 0..300 {
        let mut ws = RawWs::connect(&s.base, "/ws").await;
        ws.frame(Duration::from_secs(5)).await.unwrap();
        clients.push(ws);
    }
    assert_eq!(
        post(&s.url("/ws/broadcast"), &json!({"texto": "olá"}))
            .await
            .status,
        202
    );
    for ws in &mut clients {
        let frame = ws.frame(Duration::from_secs(5)).await.unwrap();
        assert_eq!(frame.payload, "olá".as_bytes());
    }
    for mut ws in clients {
        assert!(ws.send(true, opcode::CLOSE, &1000_u16.to_be_bytes()).await);
        assert!(ws.closed_within(Duration::from_secs(2)).await.is_some());
    }
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "{took:?}");
    let _ = get_with(&s.url("/healthz"), &[]).await;
}
