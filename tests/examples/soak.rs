//! The chaos soak's load and its checks (`scripts/soak.sh` starts the engines and two servers,
//! kills Redis and the broker while this runs, and passes their addresses):
//!
//! - 32 senders of messages, one request at a time each, about one a second; one send in ten is a
//!   resend of an id already acknowledged; after a 502/504 the sender checks the message is
//!   `ERRO` and resends the same id until it is acknowledged;
//! - metric batches and alert creates and resolves;
//! - 500 WebSocket clients (10 of them reading slowly) and a broadcast every second.
//!
//! At the end it prints the invariants and exits non-zero when one does not hold.
//!
//! Environment: `SOAK_A`, `SOAK_B` (base URLs), `SOAK_BROKERS`, `SOAK_SECS`, `SOAK_BUS_TIMEOUT_MS`,
//! `SOAK_PIDS` (the two servers' process ids, for memory and descriptors).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    missing_docs
)]

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::rc::Rc;
use std::time::{Duration, Instant};

use awc::ws;
use futures_util::{SinkExt, StreamExt};
use integra_tests::{client, read_topic};
use serde_json::{json, Value};

const SENDERS: usize = 32;
const CLIENTS: usize = 500;
const SLOW_CLIENTS: usize = 10;
const TIPOS: [&str; 4] = ["email", "sms", "push", "webhook"];

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"))
}

/// What the run saw, shared by every task (one thread).
#[derive(Default)]
struct Seen {
    /// (route, status) → count.
    answers: BTreeMap<(String, u16), u64>,
    slowest: Duration,
    slowest_what: String,
    /// Ids answered 201/200, with their tipo.
    acked: HashMap<String, &'static str>,
    /// Ids answered 502/504 at least once.
    failed: HashSet<String>,
    /// Ids answered 502/504 whose stored status was not `ERRO` right after.
    failed_not_erro: Vec<String>,
    /// Broadcasts sent while both instances said ready, before and after.
    counted_broadcasts: Vec<u64>,
    uncounted_broadcasts: u64,
    violations: Vec<String>,
}

type Shared = Rc<RefCell<Seen>>;

fn elapsed(start: Instant) -> String {
    format!("{:>6.1}s", start.elapsed().as_secs_f64())
}

/// One request; its status (0 when the server could not be reached) and body.
async fn request(
    seen: &Shared,
    route: &str,
    method: &str,
    url: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let started = Instant::now();
    let sent = match method {
        "GET" => client().get(url).send().await,
        _ => match body {
            Some(b) => client().post(url).send_json(b).await,
            None => client().post(url).send().await,
        },
    };
    let (status, value) = match sent {
        Ok(mut res) => {
            let status = res.status().as_u16();
            let body = res.body().limit(16 << 20).await.unwrap_or_default();
            (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
        }
        Err(e) => {
            seen.borrow_mut()
                .violations
                .push(format!("{method} {url}: no answer ({e})"));
            (0, Value::Null)
        }
    };
    let took = started.elapsed();
    let mut s = seen.borrow_mut();
    *s.answers.entry((route.to_owned(), status)).or_default() += 1;
    if took > s.slowest {
        s.slowest = took;
        s.slowest_what = format!("{route} → {status}");
    }
    if status == 500 {
        s.violations.push(format!("{method} {url}: 500 {value}"));
    }
    (status, value)
}

async fn sender(n: usize, bases: Rc<[String; 2]>, seen: Shared, stop: Rc<Cell<bool>>) {
    let mut next = 0u64;
    let mut pending: Option<(String, &'static str)> = None;
    let mut mine: Vec<(String, &'static str)> = Vec::new();
    let mut turn = n;
    while !stop.get() {
        turn += 1;
        let base = &bases[turn % 2];
        let (id, tipo, replay) = if let Some((id, tipo)) = pending.clone() {
            (id, tipo, false)
        } else if next % 10 == 9 && !mine.is_empty() {
            let (id, tipo) = mine[(next as usize * 7) % mine.len()].clone();
            next += 1;
            (id, tipo, true)
        } else {
            let tipo = TIPOS[(n + next as usize) % TIPOS.len()];
            next += 1;
            (format!("soak-{n}-{next}"), tipo, false)
        };
        let body =
            json!({"id": id, "tipo": tipo, "destinatario": "d", "conteudo": format!("c {id}")});
        let (status, answer) = request(
            &seen,
            "POST /messages",
            "POST",
            &format!("{base}/messages"),
            Some(&body),
        )
        .await;
        match status {
            200 | 201 => {
                if answer["status"] != "CONCLUIDA" {
                    seen.borrow_mut()
                        .violations
                        .push(format!("{id}: {status} but {answer}"));
                }
                if replay && status != 200 {
                    seen.borrow_mut().violations.push(format!(
                        "{id}: a resend of an acknowledged id answered {status}"
                    ));
                }
                seen.borrow_mut().acked.insert(id.clone(), tipo);
                if !replay {
                    mine.push((id, tipo));
                }
                pending = None;
            }
            502 | 504 => {
                seen.borrow_mut().failed.insert(id.clone());
                let (_, stored) = request(
                    &seen,
                    "GET /messages/{id}",
                    "GET",
                    &format!("{base}/messages/{id}"),
                    None,
                )
                .await;
                if stored["status"] != "ERRO" && stored != Value::Null {
                    seen.borrow_mut()
                        .failed_not_erro
                        .push(format!("{id}: {}", stored["status"]));
                }
                pending = Some((id, tipo));
            }
            // The store is down (503) or an earlier attempt still holds its claim (409): later.
            _ => pending = Some((id, tipo)),
        }
        let pause = if pending.is_some() { 300 } else { 1000 };
        actix_rt::time::sleep(Duration::from_millis(pause)).await;
    }
    // After the run: every id that was never acknowledged gets through now.
    if let Some((id, tipo)) = pending {
        for _ in 0..40 {
            let body =
                json!({"id": id, "tipo": tipo, "destinatario": "d", "conteudo": format!("c {id}")});
            let (status, _) = request(
                &seen,
                "POST /messages (after)",
                "POST",
                &format!("{}/messages", bases[0]),
                Some(&body),
            )
            .await;
            if matches!(status, 200 | 201) {
                seen.borrow_mut().acked.insert(id.clone(), tipo);
                return;
            }
            actix_rt::time::sleep(Duration::from_millis(500)).await;
        }
        seen.borrow_mut()
            .violations
            .push(format!("{id}: never acknowledged after the run"));
    }
}

async fn metrics(bases: Rc<[String; 2]>, seen: Shared, stop: Rc<Cell<bool>>) {
    let mut turn = 0usize;
    while !stop.get() {
        turn += 1;
        let batch: Vec<Value> = (0..20)
            .map(|i| json!({"nome": format!("soak_m{}", i % 5), "valor": turn as f64, "labels": {"serie": format!("s{}", i % 4)}}))
            .collect();
        request(
            &seen,
            "POST /metrics",
            "POST",
            &format!("{}/metrics", bases[turn % 2]),
            Some(&Value::Array(batch)),
        )
        .await;
        actix_rt::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn alerts(bases: Rc<[String; 2]>, seen: Shared, stop: Rc<Cell<bool>>) {
    let mut turn = 0usize;
    while !stop.get() {
        turn += 1;
        let base = &bases[turn % 2];
        let id = format!("soak-alert-{turn}");
        let body = json!({"id": id, "titulo": "soak", "severidade": "media", "origem": "soak"});
        request(
            &seen,
            "POST /alerts",
            "POST",
            &format!("{base}/alerts"),
            Some(&body),
        )
        .await;
        if turn > 1 {
            let previous = format!("soak-alert-{}", turn - 1);
            request(
                &seen,
                "POST /alerts/{id}/resolve",
                "POST",
                &format!("{}/alerts/{previous}/resolve", bases[(turn + 1) % 2]),
                None,
            )
            .await;
        }
        actix_rt::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Polls both instances' `/readyz`; prints each change.
async fn readiness(
    bases: Rc<[String; 2]>,
    both: Rc<Cell<bool>>,
    start: Instant,
    stop: Rc<Cell<bool>>,
) {
    let mut was = [true, true];
    while !stop.get() {
        let mut now = [false, false];
        for (i, base) in bases.iter().enumerate() {
            now[i] = matches!(client().get(format!("{base}/readyz")).send().await, Ok(r) if r.status() == 200);
            if now[i] != was[i] {
                println!(
                    "{} instance {} {}",
                    elapsed(start),
                    ["A", "B"][i],
                    if now[i] { "ready" } else { "NOT ready" }
                );
            }
        }
        was = now;
        both.set(now[0] && now[1]);
        actix_rt::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn broadcaster(
    bases: Rc<[String; 2]>,
    seen: Shared,
    both: Rc<Cell<bool>>,
    stop: Rc<Cell<bool>>,
) {
    let mut n = 0u64;
    while !stop.get() {
        n += 1;
        let before = both.get();
        let (status, _) = request(
            &seen,
            "POST /ws/broadcast",
            "POST",
            &format!("{}/ws/broadcast", bases[(n % 2) as usize]),
            Some(&json!({"texto": format!("soak-bcast-{n}")})),
        )
        .await;
        if before && status == 202 && both.get() {
            seen.borrow_mut().counted_broadcasts.push(n);
        } else {
            seen.borrow_mut().uncounted_broadcasts += 1;
        }
        actix_rt::time::sleep(Duration::from_secs(1)).await;
    }
}

/// A WebSocket client: the broadcasts it received, and whether it is still connected.
struct Listener {
    got: HashSet<u64>,
    connected: bool,
    slow: bool,
}

async fn listen(url: String, slow: bool, me: Rc<RefCell<Listener>>, stop: Rc<Cell<bool>>) {
    let Ok((_, mut framed)) = client().ws(&url).max_frame_size(16 << 20).connect().await else {
        me.borrow_mut().connected = false;
        return;
    };
    while !stop.get() {
        match actix_rt::time::timeout(Duration::from_millis(500), framed.next()).await {
            Err(_) => continue,
            Ok(Some(Ok(ws::Frame::Ping(p)))) => {
                let _ = framed.send(ws::Message::Pong(p)).await;
            }
            Ok(Some(Ok(ws::Frame::Text(t)))) => {
                if let Some(n) = t.strip_prefix(b"soak-bcast-") {
                    if let Some(n) = std::str::from_utf8(n).ok().and_then(|n| n.parse().ok()) {
                        me.borrow_mut().got.insert(n);
                    }
                }
                if slow {
                    actix_rt::time::sleep(Duration::from_millis(100)).await;
                }
            }
            Ok(Some(Ok(ws::Frame::Close(_))) | Some(Err(_)) | None) => {
                me.borrow_mut().connected = false;
                return;
            }
            Ok(Some(Ok(_))) => {}
        }
    }
}

/// Resident memory (kB) and open descriptors of a process.
fn resources(pid: &str) -> (u64, usize) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count);
    (rss, fds)
}

fn print_resources(when: &str, pids: &[String]) {
    for (name, pid) in ["A", "B"].iter().zip(pids) {
        let (rss, fds) = resources(pid);
        println!(
            "{when:>8} instance {name}: RSS {:.1} MiB, {fds} open descriptors",
            rss as f64 / 1024.0
        );
    }
}

#[actix_rt::main]
async fn main() {
    let bases: Rc<[String; 2]> = Rc::new([env("SOAK_A"), env("SOAK_B")]);
    let brokers = env("SOAK_BROKERS");
    let secs: u64 = env("SOAK_SECS").parse().unwrap();
    let bus_timeout = Duration::from_millis(env("SOAK_BUS_TIMEOUT_MS").parse().unwrap());
    let pids: Vec<String> = env("SOAK_PIDS").split(',').map(str::to_owned).collect();
    let seen: Shared = Rc::default();
    let stop = Rc::new(Cell::new(false));
    let both = Rc::new(Cell::new(false));
    let clients_stop = Rc::new(Cell::new(false));
    let start = Instant::now();

    let listeners: Vec<_> = (0..CLIENTS)
        .map(|i| {
            Rc::new(RefCell::new(Listener {
                got: HashSet::new(),
                connected: true,
                slow: i < SLOW_CLIENTS,
            }))
        })
        .collect();
    let mut clients = Vec::new();
    for (i, me) in listeners.iter().enumerate() {
        let url = format!("{}/ws", bases[i % 2].replacen("http", "ws", 1));
        clients.push(actix_rt::spawn(listen(
            url,
            i < SLOW_CLIENTS,
            Rc::clone(me),
            Rc::clone(&clients_stop),
        )));
        if i % 50 == 49 {
            actix_rt::time::sleep(Duration::from_millis(50)).await;
        }
    }
    println!(
        "{} {CLIENTS} WebSocket clients connecting ({SLOW_CLIENTS} slow readers)",
        elapsed(start)
    );
    let ready = actix_rt::spawn(readiness(
        Rc::clone(&bases),
        Rc::clone(&both),
        start,
        Rc::clone(&stop),
    ));
    actix_rt::time::sleep(Duration::from_secs(5)).await;
    print_resources("start", &pids);

    let mut load = Vec::new();
    for n in 0..SENDERS {
        load.push(actix_rt::spawn(sender(
            n,
            Rc::clone(&bases),
            Rc::clone(&seen),
            Rc::clone(&stop),
        )));
    }
    load.push(actix_rt::spawn(metrics(
        Rc::clone(&bases),
        Rc::clone(&seen),
        Rc::clone(&stop),
    )));
    load.push(actix_rt::spawn(alerts(
        Rc::clone(&bases),
        Rc::clone(&seen),
        Rc::clone(&stop),
    )));
    load.push(actix_rt::spawn(broadcaster(
        Rc::clone(&bases),
        Rc::clone(&seen),
        Rc::clone(&both),
        Rc::clone(&stop),
    )));
    println!("{} load started for {secs} s", elapsed(start));
    let mut minute = 0;
    while start.elapsed() < Duration::from_secs(secs) {
        actix_rt::time::sleep(Duration::from_secs(1)).await;
        if start.elapsed().as_secs() / 60 > minute {
            minute = start.elapsed().as_secs() / 60;
            let (acked, failed) = {
                let s = seen.borrow();
                (s.acked.len(), s.failed.len())
            };
            println!(
                "{} {acked} acknowledged, {failed} failed ids so far",
                elapsed(start)
            );
            print_resources("", &pids);
        }
    }
    stop.set(true);
    for task in load {
        let _ = task.await;
    }
    // The clients stop reading once the last broadcasts had time to arrive.
    actix_rt::time::sleep(Duration::from_secs(3)).await;
    println!("{} load stopped", elapsed(start));
    print_resources("end", &pids);
    clients_stop.set(true);
    for task in clients {
        let _ = task.await;
    }
    let _ = ready.await;
    println!("{} clients closed", elapsed(start));
    actix_rt::time::sleep(Duration::from_secs(5)).await;
    print_resources("closed", &pids);

    let mut seen = std::mem::take(&mut *seen.borrow_mut());
    // Every acknowledged message: CONCLUIDA in the store, and once on its topic with its key.
    let mut not_concluded = Vec::new();
    for id in seen.acked.keys() {
        let reply = client()
            .get(format!("{}/messages/{id}", bases[0]))
            .send()
            .await;
        let status = match reply {
            Ok(mut r) => serde_json::from_slice::<Value>(&r.body().await.unwrap_or_default())
                .unwrap_or(Value::Null)["status"]
                .clone(),
            Err(_) => Value::Null,
        };
        if status != "CONCLUIDA" {
            not_concluded.push(format!("{id}: {status}"));
        }
    }
    let mut on_topics: HashMap<String, usize> = HashMap::new();
    for tipo in TIPOS {
        let brokers = brokers.clone();
        let topic = format!("messages.{tipo}");
        let records = tokio::task::spawn_blocking(move || {
            read_topic(&brokers, &topic, Duration::from_secs(120))
        })
        .await
        .unwrap();
        for r in records {
            *on_topics.entry(r.key).or_default() += 1;
        }
    }
    let missing: Vec<_> = seen
        .acked
        .keys()
        .filter(|id| !on_topics.contains_key(*id))
        .cloned()
        .collect();
    let twice: Vec<_> = on_topics
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(k, n)| format!("{k}×{n}"))
        .collect();
    let unacked: Vec<_> = on_topics
        .keys()
        .filter(|k| k.starts_with("soak-") && !seen.acked.contains_key(*k))
        .cloned()
        .collect();
    let failed_resent = seen
        .failed
        .iter()
        .filter(|id| seen.acked.contains_key(*id))
        .count();

    let counted: HashSet<u64> = seen.counted_broadcasts.iter().copied().collect();
    let listeners: Vec<_> = listeners.iter().map(|l| l.borrow()).collect();
    let stayed: Vec<_> = listeners.iter().filter(|l| l.connected).collect();
    let incomplete = stayed.iter().filter(|l| !counted.is_subset(&l.got)).count();
    let dropped_fast = listeners.iter().filter(|l| !l.connected && !l.slow).count();
    let dropped_slow = listeners.iter().filter(|l| !l.connected && l.slow).count();

    println!();
    println!("answers (route, status → count):");
    for ((route, status), n) in &seen.answers {
        println!("  {route:<28} {status:>3} → {n}");
    }
    let fives = seen
        .answers
        .iter()
        .filter(|((_, s), _)| *s == 500)
        .map(|(_, n)| n)
        .sum::<u64>();
    let limit = bus_timeout + Duration::from_secs(1);
    println!();
    println!("invariants:");
    let mut ok = true;
    let mut check = |holds: bool, what: String| {
        println!("  [{}] {what}", if holds { "ok" } else { "FAILED" });
        ok &= holds;
    };
    check(not_concluded.is_empty() && missing.is_empty() && twice.is_empty(), format!(
        "{} messages acknowledged: {} not CONCLUIDA in the store {:?}, {} missing from their topic {:?}, {} on it more than once {:?}",
        seen.acked.len(), not_concluded.len(), first(&not_concluded), missing.len(), first(&missing), twice.len(), first(&twice)));
    check(
        unacked.is_empty(),
        format!(
            "{} records on the topics whose id was never acknowledged {:?}",
            unacked.len(),
            first(&unacked)
        ),
    );
    check(seen.failed_not_erro.is_empty() && failed_resent == seen.failed.len(), format!(
        "{} ids answered 502/504: {} not ERRO right after {:?}; {} of them acknowledged on a resend",
        seen.failed.len(), seen.failed_not_erro.len(), first(&seen.failed_not_erro), failed_resent));
    check(fives == 0, format!("{fives} answers of 500"));
    check(
        seen.slowest <= limit,
        format!(
            "slowest request {:.2} s ({}), limit bus.timeout_ms + 1 s = {:.1} s",
            seen.slowest.as_secs_f64(),
            seen.slowest_what,
            limit.as_secs_f64()
        ),
    );
    check(incomplete == 0, format!(
        "{} broadcasts sent while both instances were ready ({} others not counted); {} of {} clients still connected, {} missing one; disconnected: {} slow readers of {SLOW_CLIENTS}, {} others",
        counted.len(), seen.uncounted_broadcasts, stayed.len(), CLIENTS, incomplete, dropped_slow, dropped_fast));
    check(
        dropped_fast == 0,
        format!("{dropped_fast} clients that read at full speed were disconnected"),
    );
    check(
        seen.violations.is_empty(),
        format!(
            "{} other violations {:?}",
            seen.violations.len(),
            first(&seen.violations)
        ),
    );
    seen.violations.clear();
    if !ok {
        std::process::exit(1);
    }
}

fn first(items: &[String]) -> Vec<&String> {
    items.iter().take(5).collect()
}
