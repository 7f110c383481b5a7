use std::time::Duration;

use integra_tests::{get, spawn_app};

#[actix_rt::test]
async fn probes_answer() {
    let s = spawn_app(|_| {}).await;
    assert_eq!(get(&s.url("/healthz")).await.status, 200);
    s.wait_until(|status| status == 200, "/readyz", Duration::from_secs(10))
        .await;
    let ready = get(&s.url("/readyz")).await;
    assert_eq!(ready.json["checks"]["store"], "ok");
    assert_eq!(ready.json["checks"]["subscription"], "ok");
}
