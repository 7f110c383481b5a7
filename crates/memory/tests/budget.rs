//! The embedded store keeps within its memory budget: past it, the oldest records and points
//! leave first, and the sink is told what it holds and what it evicted.

#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use integra_documents::{Collection, Document, DocumentEngine};
use integra_domain::{Metrica, Timestamp, TipoMetrica};
use integra_memory::{MemoryEngine, DEFAULT_MAX_BYTES};
use integra_ports::{MetricSink, SeriesLimits, SeriesStore};

/// Keeps the last report of the store's memory.
#[derive(Default)]
struct Reports(Mutex<Option<(u64, u64)>>);

impl MetricSink for Reports {
    fn record(&self, _: &Metrica) {}
    fn counter_total(&self, _: &Metrica) -> f64 {
        0.0
    }
    fn http_request(&self, _: &str, _: &str, _: u16, _: f64) {}
    fn ws_connections(&self, _: i64) {}
    fn bus_publish(&self, _: &str, _: f64) {}
    fn store_error(&self, _: &str) {}
    fn store_memory(&self, bytes: u64, evicted: u64) {
        *self.0.lock().unwrap() = Some((bytes, evicted));
    }
    fn render(&self) -> String {
        String::new()
    }
}

const BUDGET: usize = 200_000;

fn doc(i: usize) -> Document {
    Document {
        collection: Collection::new("message"),
        id: format!("m{i:05}"),
        body: "x".repeat(500),
        created_ms: i64::try_from(i).unwrap(),
        indexes: vec!["all".into()],
    }
}

#[tokio::test]
async fn past_its_budget_the_store_evicts_the_oldest_first_and_says_so() {
    let reports = Arc::new(Reports::default());
    let engine = MemoryEngine::with_budget(None, BUDGET, reports.clone());
    for i in 0..1000 {
        engine.insert(&doc(i)).await.unwrap();
        assert!(engine.used_bytes() <= BUDGET, "over budget after {i}");
    }
    let message = Collection::new("message");
    assert!(
        engine.get(message, "m00000").await.unwrap().is_none(),
        "the oldest stayed"
    );
    assert!(
        engine.get(message, "m00999").await.unwrap().is_some(),
        "the newest left"
    );
    let (bytes, evicted) = reports.0.lock().unwrap().unwrap();
    assert!(bytes <= BUDGET as u64 && evicted > 500, "{bytes} {evicted}");
    assert_eq!(evicted, engine.evicted());

    // Points count against the same budget, and the oldest (by timestamp) leave first.
    let limits = SeriesLimits {
        max_names: 10,
        max_series_per_name: 10,
        max_samples_per_series: 1_000_000,
        retention_ms: 86_400_000,
    };
    let now = Timestamp::now().millis();
    let points: Vec<Metrica> = (0..20_000)
        .map(|i| Metrica {
            nome: "p".into(),
            valor: 1.0,
            tipo: TipoMetrica::Gauge,
            labels: BTreeMap::new(),
            timestamp: Timestamp::from_millis(now - 20_000 + i),
        })
        .collect();
    for chunk in points.chunks(1000) {
        engine.append_samples(chunk, limits).await.unwrap().unwrap();
        assert!(engine.used_bytes() <= BUDGET);
    }
    assert!(engine.evicted() > 1000);
    // The default engine is not this one: it evicts nothing here.
    let roomy = MemoryEngine::new(None);
    roomy.insert(&doc(0)).await.unwrap();
    assert!(roomy.used_bytes() < DEFAULT_MAX_BYTES && roomy.evicted() == 0);
}
