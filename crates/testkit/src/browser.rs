//! A WebDriver client for the dashboard's browser tests: `chromedriver`, started here on a free
//! port, driving a headless Chromium (Debian's `chromium` and `chromium-driver`, which
//! `scripts/services.sh` installs). The W3C protocol is JSON over HTTP; the few commands the tests
//! use are written out here rather than pulling in a WebDriver crate.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};

use crate::{client, free_port};

/// The key of an element reference in a WebDriver answer.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A headless browser, closed (with its driver) when dropped.
pub struct Browser {
    driver: Child,
    base: String,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium window of `width` × `height` pixels, logging
    /// the console; `args` go to Chromium too (`--force-dark-mode` for the dark scheme).
    ///
    /// # Panics
    /// When chromedriver is missing or does not start a session.
    pub async fn start(width: u32, height: u32, args: &[&str]) -> Self {
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("chromedriver did not start ({e}); scripts/services.sh chromium installs it")
            });
        let root = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while client().get(format!("{root}/status")).send().await.is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not answer");
            actix_rt::time::sleep(Duration::from_millis(100)).await;
        }
        let mut chromium = vec![
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            format!("--window-size={width},{height}"),
        ];
        chromium.extend(args.iter().map(|a| (*a).to_owned()));
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": chromium},
            "goog:loggingPrefs": {"browser": "ALL"}
        }}});
        let mut started = client()
            .post(format!("{root}/session"))
            .timeout(Duration::from_secs(60))
            .send_json(&capabilities)
            .await
            .expect("a WebDriver session");
        let answer: Value = started
            .json()
            .limit(1 << 20)
            .await
            .expect("a session answer");
        let session = answer["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {answer}"))
            .to_owned();
        Self {
            driver,
            base: format!("{root}/session/{session}"),
        }
    }

    /// A WebDriver command; its `value`.
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.base);
        let request = match method {
            "GET" => client().get(&url),
            "DELETE" => client().delete(&url),
            _ => client().post(&url),
        };
        let mut sent = match body {
            Some(body) => request.send_json(&body).await,
            None => request.send().await,
        }
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let answer: Value = sent
            .json()
            .limit(64 << 20)
            .await
            .expect("a WebDriver answer");
        answer["value"].clone()
    }

    /// Opens `url`.
    pub async fn goto(&self, url: &str) {
        self.call("POST", "/url", Some(json!({ "url": url }))).await;
    }

    /// Runs `script` (a function body, `arguments` are `args`) in the page; what it returns.
    pub async fn execute(&self, script: &str, args: Value) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
        .await
    }

    /// Waits until `script` returns something truthy (within `within`); that value.
    ///
    /// # Panics
    /// When it does not, naming `what`.
    pub async fn wait_for(&self, what: &str, script: &str, within: Duration) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let got = self.execute(script, json!([])).await;
            let truthy = !matches!(&got, Value::Null | Value::Bool(false))
                && got != json!("")
                && got != json!(0);
            if truthy {
                return got;
            }
            assert!(Instant::now() < deadline, "waited {within:?} for {what}");
            actix_rt::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The element `css` selects.
    ///
    /// # Panics
    /// When there is none.
    async fn element(&self, css: &str) -> String {
        let found = self
            .call(
                "POST",
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        found[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {found}"))
            .to_owned()
    }

    /// Clicks the element `css` selects, as a user would. A live page may replace the element
    /// between finding and clicking it (a row redrawn by an event): then it is found again.
    ///
    /// # Panics
    /// When the click fails otherwise, or keeps finding a replaced element.
    pub async fn click(&self, css: &str) {
        for _ in 0..20 {
            let id = self.element(css).await;
            let clicked = self
                .call("POST", &format!("/element/{id}/click"), Some(json!({})))
                .await;
            match clicked["error"].as_str() {
                None => return,
                Some("stale element reference") => {
                    actix_rt::time::sleep(Duration::from_millis(50)).await;
                }
                Some(error) => panic!("click on {css}: {error}: {clicked}"),
            }
        }
        panic!("click on {css}: the element kept being replaced");
    }

    /// Types `text` into the element `css` selects.
    pub async fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css).await;
        self.call("POST", &format!("/element/{id}/clear"), Some(json!({})))
            .await;
        self.call(
            "POST",
            &format!("/element/{id}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    /// What the console logged at the level of errors since the last call.
    pub async fn console_errors(&self) -> Vec<String> {
        let logged = self
            .call("POST", "/se/log", Some(json!({"type": "browser"})))
            .await;
        logged
            .as_array()
            .into_iter()
            .flatten()
            .filter(|entry| entry["level"] == "SEVERE")
            .map(|entry| entry["message"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Saves a PNG of the window to `path`.
    ///
    /// # Panics
    /// When it cannot be taken or written.
    pub async fn screenshot(&self, path: &Path) {
        let encoded = self.call("GET", "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().expect("a screenshot"))
            .expect("a base64 screenshot");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("the screenshot's folder");
        }
        std::fs::write(path, png).expect("the screenshot written");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The driver takes its browser with it when it ends the session; killed, it would leave
        // Chromium running. A drop cannot wait on a request, so the session ends on a thread.
        let url = self.base.clone();
        let _ = std::thread::spawn(move || {
            let _ = Command::new("curl")
                .args(["-fs", "-m", "5", "-X", "DELETE", &url])
                .stdout(Stdio::null())
                .status();
        })
        .join();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
