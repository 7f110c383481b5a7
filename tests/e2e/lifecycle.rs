use std::process::{Command, Stdio};
use std::time::Duration;

use integra_tests::{get, server_binary, TestServer, WsClient};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[actix_rt::test]
async fn sigterm_finishes_requests_in_flight_closes_websockets_and_exits_0() {
    let mut s = TestServer::start(&[]).await;
    let mut ws = WsClient::connect(&s.ws_url("/ws")).await;
    // A request whose body is still arriving when SIGTERM comes, written by hand on a socket.
    let addr = s.base.trim_start_matches("http://").to_owned();
    let in_flight = actix_rt::spawn(async move {
        let body = r#"{"id":"late","tipo":"sms","destinatario":"d","conteudo":"c"}"#;
        let mut socket = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let head = format!("POST /messages HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
        socket.write_all(head.as_bytes()).await.unwrap();
        socket.write_all(&body.as_bytes()[..20]).await.unwrap();
        actix_rt::time::sleep(Duration::from_millis(1500)).await;
        socket.write_all(&body.as_bytes()[20..]).await.unwrap();
        let mut answer = String::new();
        socket.read_to_string(&mut answer).await.unwrap();
        answer
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse::<u16>().ok())
            .unwrap_or(0)
    });
    actix_rt::time::sleep(Duration::from_millis(500)).await;
    s.terminate();
    assert_eq!(ws.close_code(Duration::from_secs(5)).await, Some(1001));
    assert_eq!(
        in_flight.await.unwrap(),
        201,
        "the request in flight was not finished"
    );
    let status = s.exit_status(Duration::from_secs(35)).await;
    assert!(status.success(), "exit status {status:?}");
}

#[actix_rt::test]
async fn configuration_comes_from_a_file_and_the_environment_and_bad_values_name_their_key() {
    // An invalid value stops start-up, naming the key.
    let out = Command::new(server_binary())
        .env("INTEGRA__STORE__BACKEND", "postgres")
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("store.backend"), "{stderr}");
    let out = Command::new(server_binary())
        .env("INTEGRA__WS__MAX_QUEUE", "0")
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("ws.max_queue"));
    let out = Command::new(server_binary())
        .args(["--config", "/no/such/file.toml"])
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(!out.status.success());

    // A file given with --config, then an environment variable over it.
    let dir = std::env::temp_dir().join(format!("integra-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("test.toml");
    std::fs::write(&file, "[auth]\napi_keys = [\"from-file\"]\n").unwrap();
    let s = TestServer::start(&[("INTEGRA_CONFIG", file.to_str().unwrap())]).await;
    get(&s.url("/messages")).await.assert_problem(401);
    let ok = integra_tests::get_with(
        &s.url("/messages"),
        &[("authorization", "Bearer from-file")],
    )
    .await;
    assert_eq!(ok.status, 200);
    drop(s);
    let s = TestServer::start(&[
        ("INTEGRA_CONFIG", file.to_str().unwrap()),
        ("INTEGRA__AUTH__API_KEYS", "from-env"),
    ])
    .await;
    assert_eq!(
        integra_tests::get_with(&s.url("/messages"), &[("authorization", "Bearer from-env")])
            .await
            .status,
        200
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[actix_rt::test]
async fn probes_answer() {
    let s = TestServer::start(&[]).await;
    assert_eq!(get(&s.url("/healthz")).await.status, 200);
    s.wait_until(|status| status == 200, "/readyz", Duration::from_secs(10))
        .await;
    let ready = get(&s.url("/readyz")).await;
    assert_eq!(ready.json["checks"]["store"], "ok");
    assert_eq!(ready.json["checks"]["subscription"], "ok");
}
