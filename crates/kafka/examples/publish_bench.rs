//! Measures the Kafka bus alone: 64 publishes in flight (as many as the HTTP benchmark's
//! connections), each waiting for the broker's acknowledgement, for a few `linger.ms` settings.
//! This is the ceiling the broker puts on `POST /messages` whatever the server does around it.
//! Run by `scripts/bench.sh bus` (release build) against the broker at `BENCH_KAFKA_BROKERS`
//! (default 127.0.0.1:9092).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    missing_docs
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use integra_kafka::{KafkaBus, KafkaConfig};
use integra_ports::{Bus, Outbound};

const IN_FLIGHT: usize = 64;
const SECONDS: u64 = 8;

/// A record the size of a stored message.
fn record(i: usize) -> Outbound {
    let id = format!("0193a1c2-bench-{i:012}");
    let payload = format!(
        r#"{{"id":"{id}","tipo":"email","destinatario":"user{i}@example.com","conteudo":"Olá, esta é a mensagem {i}","metadados":{{}},"status":"PROCESSANDO","erro":null,"tentativas":1,"criado_em":"2026-11-29T01:05:03.123Z","atualizado_em":"2026-11-29T01:05:03.123Z","kafka":null}}"#
    );
    Outbound {
        topic: "messages.email".into(),
        key: id.clone(),
        payload: payload.into_bytes(),
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("tipo".into(), "email".into()),
            ("id".into(), id),
        ],
    }
}

/// Publishes from `IN_FLIGHT` loops for `SECONDS`; returns (records/s, p50, p99).
async fn measure(bus: Arc<KafkaBus>) -> (f64, Duration, Duration) {
    let stop = Instant::now() + Duration::from_secs(SECONDS);
    let started = Instant::now();
    let loops: Vec<_> = (0..IN_FLIGHT)
        .map(|l| {
            let bus = Arc::clone(&bus);
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut i = l;
                while Instant::now() < stop {
                    let t = Instant::now();
                    bus.publish(&record(i), Duration::from_secs(5))
                        .await
                        .unwrap();
                    latencies.push(t.elapsed());
                    i += IN_FLIGHT;
                }
                latencies
            })
        })
        .collect();
    let mut all = Vec::new();
    for l in loops {
        all.extend(l.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_unstable();
    let at = |q: f64| all[((all.len() - 1) as f64 * q) as usize];
    (all.len() as f64 / elapsed, at(0.50), at(0.99))
}

#[tokio::main]
async fn main() {
    let brokers = std::env::var("BENCH_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into());
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    println!("| linger.ms | publishes/s | p50 | p99 |");
    println!("|---|---|---|---|");
    for linger in [0, 1, 5] {
        let bus = Arc::new(
            KafkaBus::new(&KafkaConfig {
                topic_prefix: format!("bench{run}l{linger}."),
                linger: Duration::from_millis(linger),
                ..KafkaConfig::new(brokers.clone())
            })
            .unwrap(),
        );
        bus.ping().await.unwrap();
        // Creates the topic and connects before the clock starts.
        for i in 0..IN_FLIGHT {
            bus.publish(&record(i), Duration::from_secs(5))
                .await
                .unwrap();
        }
        let (rate, p50, p99) = measure(bus).await;
        println!(
            "| {linger} | {rate:.0} | {:.2} ms | {:.2} ms |",
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3
        );
    }
}
