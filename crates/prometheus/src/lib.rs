//! A [`MetricSink`] over prometheus-client: clients' samples (a family created on a name's first
//! sample: gauge set, counter increased, histogram observed) and the service's own metrics, in one
//! registry encoded as OpenMetrics text. Label values are escaped ([`labels`]), so no client
//! text can break the exposition or inject into it.

pub mod labels;

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{PoisonError, RwLock};

use integra_domain::{Metrica, TipoMetrica};
use integra_ports::MetricSink;
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::labels::{LabelValue, Labels, SeriesLabels};

type HistogramFamily = Family<Labels, Histogram, fn() -> Histogram>;
type ClientHistograms = Family<SeriesLabels, Histogram, fn() -> Histogram>;
type FloatCounter = Counter<f64, AtomicU64>;

/// Prometheus' default buckets.
const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

fn histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

enum ClientFamily {
    Gauge(Family<SeriesLabels, Gauge<f64, AtomicU64>>),
    Counter(Family<SeriesLabels, FloatCounter>),
    Histogram(ClientHistograms),
}

/// The labels of the request latency: method and route, both bounded by the server (a route is
/// its pattern, a method one of a known few), escaped all the same.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: LabelValue,
    route: LabelValue,
}

/// The labels of the request counter: the route's, and the status. A struct rather than a list of
/// pairs: counting a request is on every request's path, and this costs two strings, not six.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: LabelValue,
    route: LabelValue,
    status: u16,
}

struct Own {
    http_requests: Family<RequestLabels, Counter>,
    http_latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    ws_connections: Gauge,
    bus_latency: HistogramFamily,
    bus_errors: Family<Labels, Counter>,
    store_errors: Family<Labels, Counter>,
    store_bytes: Gauge,
    store_evicted: Counter,
}

/// The registry of every series, safe to share between threads.
pub struct PrometheusSink {
    own: Own,
    state: RwLock<State>,
}

struct State {
    registry: Registry,
    families: HashMap<String, ClientFamily>,
}

impl Default for PrometheusSink {
    fn default() -> Self {
        Self::new()
    }
}

fn label(name: &str, value: &str) -> (String, LabelValue) {
    (name.to_owned(), LabelValue::from(value))
}

impl PrometheusSink {
    /// A registry holding the service's own metrics.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let own = Own {
            http_requests: Family::default(),
            http_latency: Family::new_with_constructor(histogram),
            ws_connections: Gauge::default(),
            bus_latency: Family::new_with_constructor(histogram),
            bus_errors: Family::default(),
            store_errors: Family::default(),
            store_bytes: Gauge::default(),
            store_evicted: Counter::default(),
        };
        registry.register(
            "integra_http_requests",
            "HTTP requests by method, route and status",
            own.http_requests.clone(),
        );
        registry.register(
            "integra_http_request_duration_seconds",
            "HTTP request latency by method and route",
            own.http_latency.clone(),
        );
        registry.register(
            "integra_ws_connections",
            "Open WebSocket connections on this instance",
            own.ws_connections.clone(),
        );
        registry.register(
            "integra_bus_publish_duration_seconds",
            "Latency of publishes to the bus, by outcome",
            own.bus_latency.clone(),
        );
        registry.register(
            "integra_bus_publish_errors",
            "Failed publishes to the bus, by outcome",
            own.bus_errors.clone(),
        );
        registry.register(
            "integra_store_errors",
            "Failed store operations, by operation",
            own.store_errors.clone(),
        );
        registry.register(
            "integra_store_memory_bytes",
            "What the embedded store holds, about, in bytes (store.memory_max_bytes bounds it)",
            own.store_bytes.clone(),
        );
        registry.register(
            "integra_store_evicted_records",
            "Records and points the embedded store evicted, oldest first, to keep within its budget",
            own.store_evicted.clone(),
        );
        Self {
            own,
            state: RwLock::new(State {
                registry,
                families: HashMap::new(),
            }),
        }
    }

    fn apply(family: &ClientFamily, sample: &Metrica, labels: &SeriesLabels) {
        match (family, sample.tipo) {
            (ClientFamily::Gauge(f), TipoMetrica::Gauge) => {
                f.get_or_create(labels).set(sample.valor);
            }
            (ClientFamily::Counter(f), TipoMetrica::Counter) => {
                let counter = f.get_or_create(labels);
                // The service refuses a sample that would take a counter past the largest finite
                // value; two at once could still, so the counter stops there rather than at inf.
                let room = f64::MAX - counter.get();
                counter.inc_by(sample.valor.min(room));
            }
            (ClientFamily::Histogram(f), TipoMetrica::Histogram) => {
                f.get_or_create(labels).observe(sample.valor);
            }
            // The store pins a name's kind; a mismatch here means it was pinned elsewhere first.
            _ => {}
        }
    }

    fn register(registry: &mut Registry, sample: &Metrica) -> ClientFamily {
        let help = format!("Client metric {}", sample.nome);
        match sample.tipo {
            TipoMetrica::Gauge => {
                let f = Family::default();
                registry.register(&sample.nome, help, f.clone());
                ClientFamily::Gauge(f)
            }
            TipoMetrica::Counter => {
                let f = Family::default();
                // The encoder appends `_total` to counters itself.
                registry.register(sample.nome.trim_end_matches("_total"), help, f.clone());
                ClientFamily::Counter(f)
            }
            TipoMetrica::Histogram => {
                let f: ClientHistograms = Family::new_with_constructor(histogram);
                registry.register(&sample.nome, help, f.clone());
                ClientFamily::Histogram(f)
            }
        }
    }
}

impl MetricSink for PrometheusSink {
    fn record(&self, sample: &Metrica) {
        let labels = SeriesLabels::of(sample);
        {
            let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(family) = state.families.get(&sample.nome) {
                Self::apply(family, sample, &labels);
                return;
            }
        }
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        let State { registry, families } = &mut *state;
        let family = families
            .entry(sample.nome.clone())
            .or_insert_with(|| Self::register(registry, sample));
        Self::apply(family, sample, &labels);
    }

    fn counter_total(&self, sample: &Metrica) -> f64 {
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        match state.families.get(&sample.nome) {
            Some(ClientFamily::Counter(f)) => f.get_or_create(&SeriesLabels::of(sample)).get(),
            _ => 0.0,
        }
    }

    fn http_request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let route = RouteLabels {
            method: LabelValue::from(method),
            route: LabelValue::from(route),
        };
        self.own.http_latency.get_or_create(&route).observe(seconds);
        let request = RequestLabels {
            method: route.method,
            route: route.route,
            status,
        };
        self.own.http_requests.get_or_create(&request).inc();
    }

    fn ws_connections(&self, open: i64) {
        self.own.ws_connections.set(open);
    }

    fn bus_publish(&self, outcome: &str, seconds: f64) {
        let labels = vec![label("outcome", outcome)];
        self.own.bus_latency.get_or_create(&labels).observe(seconds);
        if outcome != "ok" {
            self.own.bus_errors.get_or_create(&labels).inc();
        }
    }

    fn store_error(&self, operation: &str) {
        self.own
            .store_errors
            .get_or_create(&vec![label("operation", operation)])
            .inc();
    }

    fn store_memory(&self, bytes: u64, evicted: u64) {
        self.own
            .store_bytes
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
        let counted = self.own.store_evicted.get();
        self.own
            .store_evicted
            .inc_by(evicted.saturating_sub(counted));
    }

    fn render(&self) -> String {
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        let mut text = String::new();
        if let Err(e) = encode(&mut text, &state.registry) {
            // Writing into a String cannot fail; keep the exposition valid regardless.
            return format!("# encoding failed: {e}\n# EOF\n");
        }
        text
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn sample(json: &str) -> Metrica {
        let input = serde_json_from(json);
        Metrica::record(input, integra_domain::Timestamp::now()).unwrap()
    }

    fn serde_json_from(json: &str) -> integra_domain::NovaMetrica {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_gauge_is_set_a_counter_increased_and_a_histogram_observed() {
        let sink = PrometheusSink::new();
        sink.record(&sample(r#"{"nome":"fila","valor":3,"labels":{"q":"a"}}"#));
        sink.record(&sample(r#"{"nome":"fila","valor":5,"labels":{"q":"a"}}"#));
        sink.record(&sample(
            r#"{"nome":"pedidos_total","valor":2,"tipo":"counter"}"#,
        ));
        sink.record(&sample(
            r#"{"nome":"pedidos_total","valor":1.5,"tipo":"counter"}"#,
        ));
        sink.record(&sample(r#"{"nome":"lat","valor":0.3,"tipo":"histogram"}"#));
        let text = sink.render();
        assert!(text.contains("fila{q=\"a\"} 5.0"), "{text}");
        assert!(text.contains("pedidos_total{} 3.5"), "{text}");
        assert!(
            text.contains("lat_count{} 1") && text.contains("lat_bucket{le=\"0.5\"} 1"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn the_service_metrics_are_exposed() {
        let sink = PrometheusSink::new();
        sink.http_request("GET", "/messages/{id}", 404, 0.002);
        sink.ws_connections(3);
        sink.bus_publish("timeout", 5.0);
        sink.store_error("insert");
        let text = sink.render();
        for line in [
            "integra_http_requests_total{method=\"GET\",route=\"/messages/{id}\",status=\"404\"} 1",
            "integra_ws_connections 3",
            "integra_bus_publish_errors_total{outcome=\"timeout\"} 1",
            "integra_store_errors_total{operation=\"insert\"} 1",
            "integra_http_request_duration_seconds_count{method=\"GET\",route=\"/messages/{id}\"} 1",
        ] {
            assert!(text.contains(line), "missing {line} in {text}");
        }
    }

    #[test]
    fn label_values_are_escaped_so_that_nothing_can_be_injected() {
        let sink = PrometheusSink::new();
        sink.record(&sample(
            r#"{"nome":"x","valor":1,"labels":{"a":"say \"hi\"","b":"back\\slash","c":"line\nprobe_injected_total 1337"}}"#,
        ));
        let text = sink.render();
        assert!(
            text.contains(
                r#"x{a="say \"hi\"",b="back\\slash",c="line\nprobe_injected_total 1337"} 1.0"#
            ),
            "{text}"
        );
        assert!(
            !text.lines().any(|l| l.starts_with("probe_injected")),
            "{text}"
        );
    }

    #[test]
    fn a_counter_stops_at_the_largest_finite_value() {
        let sink = PrometheusSink::new();
        let big = sample(r#"{"nome":"c","valor":1e308,"tipo":"counter"}"#);
        sink.record(&big);
        sink.record(&big);
        assert_eq!(sink.counter_total(&big), f64::MAX);
        assert!(!sink.render().contains("inf"));
    }
}
