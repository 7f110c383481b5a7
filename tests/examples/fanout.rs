//! The channels' load generator (`scripts/bench.sh channels` runs it against release servers):
//!
//! 1. **Fan-out**: `FANOUT_CONNECTIONS` WebSocket subscribers of one channel; publishers post to
//!    it for `FANOUT_SECS` (at `FANOUT_RATE` publications a second, or, with 0, each as soon as
//!    the last was accepted). Each publication carries the time it was sent; each subscriber
//!    records, for every delivery, how long it took. Reported: deliveries a second, latency
//!    percentiles, the server's CPU per delivery and deliveries per core-second of it.
//! 2. **Recovery**: `FANOUT_MISSED` publications made while no one listens, then one subscriber
//!    with `desde` 0: the time from its `inscrever` to its last recovered publication.
//! 3. **Memory**: `FANOUT_IDLE` more connections, each subscribed; the server's resident memory
//!    before and after, as connections per GiB.
//!
//! Environment: `FANOUT_URL` (the server's base URL), `FANOUT_PID` (its process id, for CPU and
//! memory), and the counts above. One thread: the generator takes one core, the server the other.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::cast_precision_loss,
    missing_docs
)]

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use awc::ws;
use futures_util::{SinkExt, StreamExt};
use integra_tests::client;
use serde_json::{json, Value};

type Socket = actix_codec::Framed<awc::BoxedSocket, ws::Codec>;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Microseconds since the epoch: what a publication carries, and what a delivery is compared to.
fn now_us() -> u64 {
    u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_micros(),
    )
    .unwrap()
}

/// The server's user + system CPU so far, in seconds, and its resident memory in bytes.
fn server_usage(pid: &str) -> (f64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // After the command: state is field 0, utime 11, stime 12, rss (pages) 21.
    let cpu = (ticks(11) + ticks(12)) / 100.0;
    let rss = fields
        .get(21)
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0)
        * 4096;
    (cpu, rss)
}

async fn connect(url: &str) -> Socket {
    let (_, mut socket) = client()
        .ws(url)
        .max_frame_size(1 << 20)
        .connect()
        .await
        .unwrap_or_else(|e| panic!("ws connect {url}: {e}"));
    // The `conectado` greeting.
    next_json(&mut socket).await;
    socket
}

async fn next_json(socket: &mut Socket) -> Value {
    loop {
        match socket.next().await {
            Some(Ok(ws::Frame::Text(t))) => return serde_json::from_slice(&t).unwrap(),
            Some(Ok(ws::Frame::Ping(p))) => socket.send(ws::Message::Pong(p)).await.unwrap(),
            Some(Ok(_)) => {}
            other => panic!("the connection ended: {other:?}"),
        }
    }
}

async fn subscribe(socket: &mut Socket, canal: &str, desde: Option<Value>) -> Value {
    let mut command = json!({"acao": "inscrever", "canal": canal});
    if let Some(desde) = desde {
        command["desde"] = desde;
    }
    socket
        .send(ws::Message::Text(command.to_string().into()))
        .await
        .unwrap();
    let frame = next_json(socket).await;
    assert_eq!(frame["evento"], "inscrito", "{frame}");
    frame["dados"].clone()
}

/// The `"t":` a publication frame carries, read without parsing the frame.
fn sent_at(frame: &[u8]) -> Option<u64> {
    let at = frame.windows(4).position(|w| w == b"\"t\":")? + 4;
    let digits = frame[at..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    std::str::from_utf8(&frame[at..at + digits])
        .ok()?
        .parse()
        .ok()
}

#[derive(Default)]
struct Deliveries {
    count: Cell<u64>,
    latencies_us: RefCell<Vec<u32>>,
    closed: Cell<u64>,
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[at]) / 1000.0
}

async fn fan_out(base: &str, ws_base: &str, pid: &str) {
    let connections = env_or("FANOUT_CONNECTIONS", 1000);
    let seconds = env_or("FANOUT_SECS", 10);
    let rate = env_or("FANOUT_RATE", 0);
    let publishers = env_or("FANOUT_PUBLISHERS", 2).max(1);
    let canal = format!("fanout-{}", now_us());
    let deliveries = Rc::new(Deliveries::default());
    let mut readers = Vec::new();
    for _ in 0..connections {
        let mut socket = connect(&format!("{ws_base}/ws?eventos=canais")).await;
        subscribe(&mut socket, &canal, None).await;
        let seen = Rc::clone(&deliveries);
        readers.push(actix_rt::spawn(async move {
            while let Some(frame) = socket.next().await {
                match frame {
                    Ok(ws::Frame::Text(t)) => {
                        if let Some(sent) = sent_at(&t) {
                            let took = now_us().saturating_sub(sent);
                            seen.count.set(seen.count.get() + 1);
                            seen.latencies_us
                                .borrow_mut()
                                .push(u32::try_from(took).unwrap_or(u32::MAX));
                        }
                    }
                    Ok(ws::Frame::Ping(p)) => {
                        let _ = socket.send(ws::Message::Pong(p)).await;
                    }
                    Ok(ws::Frame::Close(_)) | Err(_) => {
                        seen.closed.set(seen.closed.get() + 1);
                        return;
                    }
                    Ok(_) => {}
                }
            }
        }));
    }
    let url = format!("{base}/channels/{canal}/publications");
    let published = Rc::new(Cell::new(0_u64));
    let (cpu0, _) = server_usage(pid);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let pace = (rate > 0).then(|| Duration::from_secs_f64(publishers as f64 / rate as f64));
    let tasks: Vec<_> = (0..publishers)
        .map(|_| {
            let (url, published) = (url.clone(), Rc::clone(&published));
            actix_rt::spawn(async move {
                let http = client();
                let mut next = Instant::now();
                while Instant::now() < deadline {
                    let body = json!({"dados": {"t": now_us()}});
                    let r = http.post(&url).send_json(&body).await;
                    if r.is_ok_and(|r| r.status().as_u16() == 202) {
                        published.set(published.get() + 1);
                    }
                    if let Some(pace) = pace {
                        next += pace;
                        if let Some(wait) = next.checked_duration_since(Instant::now()) {
                            actix_rt::time::sleep(wait).await;
                        }
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let expected = published.get() * connections;
    let drain_until = Instant::now() + Duration::from_secs(10);
    while deliveries.count.get() + deliveries.closed.get() * published.get() < expected
        && Instant::now() < drain_until
    {
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let (cpu1, _) = server_usage(pid);
    let cpu = cpu1 - cpu0;
    let delivered = deliveries.count.get();
    let mut latencies = deliveries.latencies_us.take();
    latencies.sort_unstable();
    println!(
        "| fan-out, {connections} subscribers, {publishers} publishers{} | {} publications, {delivered} of {expected} deliveries, {} connections closed | {:.0} deliveries/s | p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms | {:.2} s of server CPU: {:.2} µs a delivery, {:.0} deliveries per core-second |",
        if rate > 0 { format!(" at {rate}/s") } else { ", full speed".to_owned() },
        published.get(),
        deliveries.closed.get(),
        delivered as f64 / elapsed,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0),
        cpu,
        cpu * 1e6 / delivered.max(1) as f64,
        delivered as f64 / cpu.max(1e-9),
    );
    for r in readers {
        r.abort();
    }
}

async fn recovery(base: &str, ws_base: &str) {
    let missed = env_or("FANOUT_MISSED", 10_000);
    let canal = format!("recovery-{}", now_us());
    let url = format!("{base}/channels/{canal}/publications");
    let mut writers = Vec::new();
    let per = missed.div_ceil(8);
    for w in 0..8 {
        let url = url.clone();
        writers.push(actix_rt::spawn(async move {
            let http = client();
            for i in (w * per)..((w + 1) * per).min(missed) {
                let r = http
                    .post(&url)
                    .send_json(&json!({"dados": {"i": i, "texto": "uma publicação perdida"}}))
                    .await
                    .unwrap();
                assert_eq!(r.status().as_u16(), 202);
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    let mut socket = connect(&format!("{ws_base}/ws?eventos=canais")).await;
    let started = Instant::now();
    let inscrito = subscribe(&mut socket, &canal, Some(json!({"offset": 0}))).await;
    let mut got = 0;
    while got < missed {
        let frame = next_json(&mut socket).await;
        if frame["evento"] == "publicacao" {
            got += 1;
        }
    }
    let took = started.elapsed();
    println!(
        "| recovery | {missed} missed publications replayed to one subscriber (recuperado {}) | {:.0} ms | - | - |",
        inscrito["recuperado"],
        took.as_secs_f64() * 1000.0
    );
}

async fn memory(ws_base: &str, pid: &str) {
    let idle = env_or("FANOUT_IDLE", 2000);
    let (_, before) = server_usage(pid);
    let mut held = Vec::new();
    for i in 0..idle {
        let mut socket = connect(&format!("{ws_base}/ws?eventos=canais")).await;
        subscribe(&mut socket, &format!("idle-{}", i % 100), None).await;
        held.push(socket);
    }
    actix_rt::time::sleep(Duration::from_secs(1)).await;
    let (_, after) = server_usage(pid);
    let per = after.saturating_sub(before) as f64 / idle as f64;
    println!(
        "| memory | {idle} more connections, each subscribed to a channel | {:.1} KiB of server memory each: {:.0} connections per GiB | - | - |",
        per / 1024.0,
        (1u64 << 30) as f64 / per.max(1.0)
    );
}

#[actix_rt::main]
async fn main() {
    let base = std::env::var("FANOUT_URL").unwrap_or_else(|_| "http://127.0.0.1:18095".into());
    let ws_base = base.replacen("http", "ws", 1);
    let pid = std::env::var("FANOUT_PID").unwrap_or_default();
    println!("| run | what | rate | delivery latency | server CPU |");
    println!("|---|---|---|---|---|");
    fan_out(&base, &ws_base, &pid).await;
    recovery(&base, &ws_base).await;
    memory(&ws_base, &pid).await;
}
