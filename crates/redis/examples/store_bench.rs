//! Benchmarks the Redis document engine against a real Redis: insert, get, replace, and a page of 100 from
//! an index holding 1,000 and then 1,000,000 messages. Run by `scripts/bench.sh` (release build).
//!
//! With `BENCH_ONLY=alerts`, only the write path of a new alert on the engine alone: what the
//! Redis store must do per alert, without HTTP, JSON or a bus (`scripts/bench.sh peers` prints it
//! beside Alertmanager, as the most the Redis rows can reach on this machine).
//!
//! Uses Redis database 15 (`BENCH_REDIS_URL` to change), which it flushes before and after.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    missing_docs
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use integra_documents::{Collection, Document, DocumentEngine, Page};
use integra_domain::{Order, Paging, TimeRange};
use integra_ports::Revision;
use integra_redis::{RedisConfig, RedisEngine};

const CONCURRENCY: usize = 64;
const MESSAGES: Collection = Collection::new("message");
const ALERTS: Collection = Collection::new("alert");

/// A new alert as the Redis store writes it: its JSON (about the size of the peers benchmark's),
/// the event it owes after it, and its two indexes.
fn alert(i: usize) -> Document {
    let id = format!("alert-{i:09}");
    let severidade = ["baixa", "media", "alta", "critica"][i % 4];
    Document {
        collection: ALERTS,
        body: format!(
            r#"{{"id":"{id}","titulo":"Fila parada {i}","descricao":"sem consumo","severidade":"{severidade}","origem":"bench","labels":{{"fila":"pedidos","zona":"z{z}"}},"resolvido":false,"criado_em":"2026-12-05T20:00:00.000Z","atualizado_em":"2026-12-05T20:00:00.000Z","resolvido_em":null,"reconhecido":false,"reconhecido_por":null,"reconhecido_em":null,"silenciado":false,"regra":null,"aberturas":1,"owed":{{"event":"criado","since":"2026-12-05T20:00:00.000Z"}}}}"#,
            z = i % 10
        ),
        id,
        created_ms: 1_700_000_000_000 + i64::try_from(i).unwrap(),
        indexes: vec![
            "all".into(),
            format!("severidade:{severidade}|resolvido:false|reconhecido:false"),
        ],
    }
}

/// New alerts a second through the engine alone: an insert, then the settle that clears the
/// owed event (what the alert service asks of the store per new alert), `n` of them.
async fn alert_write_path(store: &Arc<RedisEngine>, n: usize) -> f64 {
    let s = Arc::clone(store);
    run(0..n, move |i| {
        let s = Arc::clone(&s);
        async move {
            let doc = alert(i);
            s.insert(&doc).await.unwrap();
            s.cut_tail(ALERTS, &doc.id, Revision::FIRST, Some(",\"owed\":{"))
                .await
                .unwrap();
        }
    })
    .await
}

fn doc(i: usize) -> Document {
    let id = format!("bench-{i:08}");
    let tipo = ["email", "sms", "push", "webhook"][i % 4];
    Document {
        collection: MESSAGES,
        body: format!(
            r#"{{"id":"{id}","tipo":"{tipo}","destinatario":"user{i}@example.com","conteudo":"Olá {i}","status":"CONCLUIDA"}}"#
        ),
        id,
        created_ms: 1_700_000_000_000 + i64::try_from(i).unwrap(),
        indexes: vec!["all".into(), format!("tipo:{tipo}|status:CONCLUIDA")],
    }
}

/// Runs `op(i)` for i in `range` with `CONCURRENCY` tasks; returns operations per second.
async fn run<F, Fut>(range: std::ops::Range<usize>, op: F) -> f64
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let op = Arc::new(op);
    let n = range.len();
    let started = Instant::now();
    let chunk = n.div_ceil(CONCURRENCY);
    let tasks: Vec<_> = (0..CONCURRENCY)
        .map(|t| {
            let op = Arc::clone(&op);
            let (from, to) = (
                range.start + t * chunk,
                (range.start + (t + 1) * chunk).min(range.end),
            );
            tokio::spawn(async move {
                for i in from..to {
                    op(i).await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    n as f64 / started.elapsed().as_secs_f64()
}

/// Median latency of a page of 100, newest first, from `index`, over `rounds` sequential calls.
async fn page_latency(
    store: &Arc<RedisEngine>,
    index: &str,
    skip: usize,
    rounds: usize,
) -> Duration {
    let page = Page {
        collection: MESSAGES,
        indexes: vec![index.into()],
        range: TimeRange::ALL,
        paging: Paging::new(skip, 100).unwrap(),
        order: Order::NewestFirst,
    };
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let started = Instant::now();
        let docs = store.list(&page).await.unwrap();
        times.push(started.elapsed());
        assert_eq!(docs.len(), 100);
    }
    times.sort();
    times[rounds / 2]
}

async fn flush(url: &str) {
    let status = tokio::process::Command::new("redis-cli")
        .args(["-u", url, "FLUSHDB"])
        .stdout(std::process::Stdio::null())
        .status()
        .await
        .unwrap();
    assert!(status.success());
}

#[tokio::main]
async fn main() {
    let url =
        std::env::var("BENCH_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/15".into());
    let big: usize = std::env::var("BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    flush(&url).await;
    let config = RedisConfig {
        command_timeout: Duration::from_secs(10),
        ..RedisConfig::new(url.as_str())
    };
    let store = Arc::new(RedisEngine::connect(config).await.unwrap());
    if std::env::var("BENCH_ONLY").is_ok_and(|v| v == "alerts") {
        let n = std::env::var("BENCH_ALERTS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(300_000);
        let rate = alert_write_path(&store, n).await;
        flush(&url).await;
        println!("{rate:.0}");
        return;
    }

    let s = Arc::clone(&store);
    let insert_rate = run(0..1_000, move |i| {
        let s = Arc::clone(&s);
        async move {
            s.insert(&doc(i)).await.unwrap();
        }
    })
    .await;
    let small_all = page_latency(&store, "all", 0, 200).await;
    let small_filtered = page_latency(&store, "tipo:sms|status:CONCLUIDA", 0, 200).await;

    let s = Arc::clone(&store);
    let fill_rate = run(1_000..big, move |i| {
        let s = Arc::clone(&s);
        async move {
            s.insert(&doc(i)).await.unwrap();
        }
    })
    .await;
    let big_all = page_latency(&store, "all", 0, 200).await;
    let big_filtered = page_latency(&store, "tipo:sms|status:CONCLUIDA", 0, 200).await;
    let big_deep = page_latency(&store, "all", 10_000, 200).await;

    let s = Arc::clone(&store);
    let get_rate = run(0..100_000, move |i| {
        let s = Arc::clone(&s);
        async move {
            assert!(s
                .get(MESSAGES, &format!("bench-{:08}", i * 7 % big))
                .await
                .unwrap()
                .is_some());
        }
    })
    .await;
    let s = Arc::clone(&store);
    let replace_rate = run(0..50_000, move |i| {
        let s = Arc::clone(&s);
        async move {
            s.replace(&doc(i), Revision::FIRST).await.unwrap();
        }
    })
    .await;
    flush(&url).await;

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("| operation | result |");
    println!("|---|---|");
    println!("| insert (1 EVALSHA: document + 4 indexes + expiry bookkeeping), {CONCURRENCY} in flight | {insert_rate:.0} ops/s (first 1,000), {fill_rate:.0} ops/s (filling to {big}) |");
    println!("| get, {CONCURRENCY} in flight | {get_rate:.0} ops/s |");
    println!("| replace (compare-and-set, moves indexes), {CONCURRENCY} in flight | {replace_rate:.0} ops/s |");
    println!(
        "| page of 100, index `all`, 1,000 stored | {:.3} ms median |",
        ms(small_all)
    );
    println!(
        "| page of 100, index `all`, {big} stored | {:.3} ms median |",
        ms(big_all)
    );
    println!("| page of 100, `tipo:sms\\|status:CONCLUIDA`, 1,000 stored (250 in index) | {:.3} ms median |", ms(small_filtered));
    println!(
        "| page of 100, `tipo:sms\\|status:CONCLUIDA`, {big} stored | {:.3} ms median |",
        ms(big_filtered)
    );
    println!(
        "| page of 100 at skip 10,000, {big} stored | {:.3} ms median |",
        ms(big_deep)
    );
    println!();
    println!(
        "page of 100 with {big} stored / with 1,000 stored: {:.2}x",
        big_all.as_secs_f64() / small_all.as_secs_f64()
    );
}
