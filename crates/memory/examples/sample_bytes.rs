//! What one metric sample costs held in the embedded store: fills it with a million samples
//! (20 names x 100 series x 500 samples, in batches of 1,000 as `POST /metrics` takes them) and
//! prints the bytes per sample, as the store counts them (its budget's measure) and as the
//! process's resident memory grew. With mimalloc, the server's allocator.
//!
//! `cargo run --release -p integra-memory --example sample_bytes` (SAMPLES=n for another count)

#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use std::collections::BTreeMap;

use integra_domain::{Metrica, Timestamp, TipoMetrica};
use integra_memory::MemoryEngine;
use integra_ports::{NoopMetrics, SeriesLimits, SeriesStore};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const NAMES: usize = 20;
const SERIES: usize = 100;
const BATCH: usize = 1000;

/// Resident memory of this process, in bytes.
fn resident() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let total: usize = std::env::var("SAMPLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let engine = MemoryEngine::with_budget(None, usize::MAX / 2, std::sync::Arc::new(NoopMetrics));
    let limits = SeriesLimits {
        max_names: 10_000,
        max_series_per_name: 1_000,
        max_samples_per_series: 10_000,
        retention_ms: 86_400_000,
    };
    let start = Timestamp::now().millis() - 3_600_000;
    let before = resident();
    let mut batch = Vec::with_capacity(BATCH);
    for i in 0..total {
        let labels = BTreeMap::from([
            ("instancia".to_owned(), format!("i{}", (i / NAMES) % SERIES)),
            ("zona".to_owned(), "z1".to_owned()),
        ]);
        batch.push(Metrica {
            nome: format!("carga_{}", i % NAMES),
            valor: (i % 1000) as f64 / 10.0,
            tipo: TipoMetrica::Gauge,
            labels,
            // One sample per series per millisecond step: every sample is kept.
            timestamp: Timestamp::from_millis(start + (i / (NAMES * SERIES)) as i64),
        });
        if batch.len() == BATCH {
            engine
                .append_samples(&batch, limits)
                .await
                .unwrap()
                .unwrap();
            batch.clear();
        }
    }
    if !batch.is_empty() {
        engine
            .append_samples(&batch, limits)
            .await
            .unwrap()
            .unwrap();
    }
    let grown = resident().saturating_sub(before);
    println!("samples held:              {total}");
    println!(
        "bytes per sample, counted: {:.1} (the store's own measure, its budget's)",
        engine.used_bytes() as f64 / total as f64
    );
    println!(
        "bytes per sample, resident: {:.1} (the process grew {:.0} MiB)",
        grown as f64 / total as f64,
        grown as f64 / 1_048_576.0
    );
}
