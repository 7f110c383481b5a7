use integra_tests::{get, get_with, post_raw, spawn_app, SseClient, WsClient};

#[actix_rt::test]
async fn with_keys_every_route_but_the_probes_needs_one() {
    let s = spawn_app(|s| s.auth.api_keys = vec!["chave-1".into(), "chave-2".into()]).await;
    let refused = get(&s.url("/messages")).await;
    refused.assert_problem(401);
    assert_eq!(refused.header("www-authenticate"), Some("Bearer"));
    get_with(&s.url("/messages"), &[("authorization", "Bearer errada")])
        .await
        .assert_problem(401);
    assert_eq!(
        get_with(&s.url("/messages"), &[("authorization", "Bearer chave-2")])
            .await
            .status,
        200
    );
    let body = r#"{"tipo":"sms","destinatario":"d","conteudo":"c"}"#;
    post_raw(&s.url("/messages"), Some("application/json"), body, &[])
        .await
        .assert_problem(401);
    assert_eq!(
        post_raw(
            &s.url("/messages"),
            Some("application/json"),
            body,
            &[("authorization", "Bearer chave-1")]
        )
        .await
        .status,
        201
    );
    for open in ["/healthz", "/readyz", "/metrics/prometheus"] {
        assert_eq!(get(&s.url(open)).await.status, 200, "{open}");
    }
    get(&s.url("/no/route")).await.assert_problem(401);
    assert!(integra_tests::client()
        .ws(s.ws_url("/ws"))
        .connect()
        .await
        .is_err());
    let c = WsClient::connect(&s.ws_url("/ws?token=chave-1")).await;
    assert!(!c.id.is_empty());
    // The SSE streams take the key as `?token=` too; other routes do not.
    let sse = SseClient::open(&s.url("/channels/c/events"), &[]).await;
    assert_eq!(sse.status, 401);
    let mut sse = SseClient::open(&s.url("/channels/c/events?token=chave-2"), &[]).await;
    assert_eq!(sse.status, 200);
    let inscrito = sse
        .next_event(std::time::Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(inscrito.event, "inscrito");
    get(&s.url("/channels/c?token=chave-1"))
        .await
        .assert_problem(401);
}

#[actix_rt::test]
async fn without_keys_nothing_asks_for_one() {
    let s = spawn_app(|_| {}).await;
    assert_eq!(get(&s.url("/messages")).await.status, 200);
}

#[actix_rt::test]
async fn the_openapi_document_says_which_routes_need_a_key_as_the_server_is_configured() {
    let off = spawn_app(|_| {}).await;
    let doc = get(&off.url("/openapi.json")).await.json;
    assert!(
        doc.get("security").is_none(),
        "auth off, yet the document asks for a key"
    );
    assert!(doc["paths"]["/messages"]["get"]["responses"]
        .get("401")
        .is_none());

    let on = spawn_app(|s| s.auth.api_keys = vec!["k".into()]).await;
    let doc = get_with(&on.url("/openapi.json"), &[("authorization", "Bearer k")])
        .await
        .json;
    assert_eq!(doc["security"][0]["api_key"], serde_json::json!([]));
    for open in [
        "/healthz",
        "/readyz",
        "/metrics/prometheus",
        "/ui",
        "/ui/{asset}",
    ] {
        assert_eq!(
            doc["paths"][open]["get"]["security"],
            serde_json::json!([{}]),
            "{open} is open"
        );
    }
    let ws = &doc["paths"]["/ws"]["get"]["security"];
    assert!(ws
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s.get("token").is_some()));
}

#[actix_rt::test]
async fn the_dashboard_is_open_says_whether_auth_is_on_and_allows_only_its_own_content() {
    for (keys, auth) in [(vec![], "off"), (vec!["k".to_owned()], "on")] {
        let s = spawn_app(|s| s.auth.api_keys = keys).await;
        let page = get(&s.url("/ui")).await;
        assert_eq!(page.status, 200, "the page needs no key");
        assert!(page
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/html")));
        assert!(
            page.text
                .contains(&format!(r#"<meta name="integra-auth" content="{auth}">"#)),
            "the page tells its script that auth is {auth}"
        );
        let csp = page.header("content-security-policy").unwrap();
        assert!(csp.contains("script-src 'self'") && csp.contains("default-src 'none'"));
        for (asset, kind) in [("app.js", "text/javascript"), ("app.css", "text/css")] {
            let served = get(&s.url(&format!("/ui/{asset}"))).await;
            assert_eq!(served.status, 200, "{asset}");
            assert!(served
                .header("content-type")
                .is_some_and(|t| t.starts_with(kind)));
            assert!(!served.text.is_empty());
        }
        // Only its own assets are open: another name is what any unknown route is.
        let other = if auth == "on" { 401 } else { 404 };
        get(&s.url("/ui/outro.js")).await.assert_problem(other);
        let head = integra_tests::client()
            .head(s.url("/ui"))
            .send()
            .await
            .unwrap();
        assert_eq!(head.status().as_u16(), 200);
    }
}
