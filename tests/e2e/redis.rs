use std::time::{Duration, Instant};

use integra_tests::{get, post, shared_redis_url, unique_prefix, Daemon, TestServer};
use serde_json::json;

fn redis_env(url: &str, prefix: &str) -> Vec<(&'static str, String)> {
    vec![
        ("INTEGRA__STORE__BACKEND", "redis".into()),
        ("INTEGRA__STORE__URL", url.into()),
        ("INTEGRA__STORE__KEY_PREFIX", prefix.into()),
    ]
}

async fn start(env: &[(&'static str, String)]) -> TestServer {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    TestServer::start(&env).await
}

#[actix_rt::test]
async fn two_servers_sharing_redis_see_the_same_messages_and_publish_each_id_once() {
    let env = redis_env(&shared_redis_url(), &unique_prefix());
    let (a, b) = (start(&env).await, start(&env).await);
    let mut sends = Vec::new();
    for i in 0..20 {
        for server in [&a, &b, &a, &b] {
            let url = server.url("/messages");
            sends.push(actix_rt::spawn(async move {
                post(&url, &json!({"id": format!("shared-{i}"), "tipo": "email", "destinatario": "d", "conteudo": "c"})).await.status
            }));
        }
    }
    let mut created = 0;
    for send in sends {
        let status = send.await.unwrap();
        assert!(matches!(status, 200 | 201 | 409), "{status}");
        created += usize::from(status == 201);
    }
    assert_eq!(created, 20, "each id is created once across both servers");
    let listed = get(&b.url("/messages?limit=1000")).await.json;
    assert_eq!(listed.as_array().unwrap().len(), 20);
    assert_eq!(
        get(&a.url("/messages/shared-3")).await.json["tentativas"],
        1
    );
}

#[actix_rt::test]
async fn redis_killed_under_the_server_gives_503_then_service_resumes() {
    let mut redis = Daemon::redis().await;
    let url = format!("redis://{}", redis.address());
    let s = start(&redis_env(&url, "")).await;
    let body = |id: &str| json!({"id": id, "tipo": "sms", "destinatario": "d", "conteudo": "c"});
    assert_eq!(post(&s.url("/messages"), &body("before")).await.status, 201);

    redis.kill();
    for path in ["/messages/before", "/messages", "/alerts"] {
        let started = Instant::now();
        get(&s.url(path)).await.assert_problem(503);
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{path} took {:?}",
            started.elapsed()
        );
    }
    post(&s.url("/messages"), &body("during"))
        .await
        .assert_problem(503);
    post(&s.url("/metrics"), &json!({"nome": "x", "valor": 1}))
        .await
        .assert_problem(503);
    s.wait_until(|status| status == 503, "/readyz", Duration::from_secs(5))
        .await;
    assert!(get(&s.url("/readyz")).await.json["detail"]
        .as_str()
        .unwrap()
        .contains("store"));

    redis.start().await;
    s.wait_until(|status| status == 200, "/readyz", Duration::from_secs(20))
        .await;
    assert_eq!(post(&s.url("/messages"), &body("after")).await.status, 201);
    assert_eq!(
        get(&s.url("/messages/after")).await.json["status"],
        "CONCLUIDA"
    );
}
