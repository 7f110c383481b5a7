//! The MetricSink port: where samples and the service's own measurements go. It never fails the
//! business call: its methods return nothing.

use integra_domain::Metrica;

/// A registry of metrics with a text exposition.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait MetricSink: Send + Sync {
    /// Records a client's sample: a gauge is set, a counter increased, a histogram observed.
    fn record(&self, sample: &Metrica);

    /// What the counter series of `sample` (its name and labels) has counted so far; 0 for a
    /// series this sink has not seen. A counter must never pass the largest finite value.
    fn counter_total(&self, sample: &Metrica) -> f64;

    /// One HTTP request served on `route` (the route pattern, not the path) with `status`.
    fn http_request(&self, method: &str, route: &str, status: u16, seconds: f64);

    /// The number of open WebSocket connections on this instance.
    fn ws_connections(&self, open: i64);

    /// One publish to the bus, its outcome (`ok`, `unavailable`, `timeout`, `rejected`) and latency.
    fn bus_publish(&self, outcome: &str, seconds: f64);

    /// One failed store operation.
    fn store_error(&self, operation: &str);

    /// What an in-process store holds (about, in bytes) and how many records it evicted, since
    /// start, to keep within its budget.
    fn store_memory(&self, bytes: u64, evicted: u64);

    /// The OpenMetrics text exposition of everything recorded.
    fn render(&self) -> String;
}

/// A sink that drops everything, for embedders that do not want metrics.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopMetrics;

impl MetricSink for NoopMetrics {
    fn record(&self, _: &Metrica) {}
    fn counter_total(&self, _: &Metrica) -> f64 {
        0.0
    }
    fn http_request(&self, _: &str, _: &str, _: u16, _: f64) {}
    fn ws_connections(&self, _: i64) {}
    fn bus_publish(&self, _: &str, _: f64) {}
    fn store_error(&self, _: &str) {}
    fn store_memory(&self, _: u64, _: u64) {}
    fn render(&self) -> String {
        "# EOF\n".to_owned()
    }
}
