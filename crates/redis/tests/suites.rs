//! The behaviour suites of `integra-conformance` on the three Redis set-ups that `make test`
//! starts (`scripts/services.sh`): one Redis, a three-master Redis Cluster, and Redis over TLS
//! with an ACL user. Each test has a key prefix of its own.

#![allow(clippy::unwrap_used, missing_docs)]

use std::time::Duration;

use integra_redis::{ConnectError, RedisConfig, RedisEngine, RedisMode};
use integra_testkit::tls_file;

/// A setting from the environment, or the address `scripts/services.sh` uses.
fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// An engine on `base` with a key prefix of its own.
async fn isolated(base: RedisConfig, ttl: Option<Duration>) -> RedisEngine {
    let config = RedisConfig {
        key_prefix: own_prefix(),
        ttl,
        ..base
    };
    RedisEngine::connect(config.clone())
        .await
        .unwrap_or_else(|e| panic!("Redis must run for these tests (make test starts it): {e}"))
}

/// A key prefix no other test uses.
fn own_prefix() -> String {
    format!("test:{}:", integra_domain::Id::generate())
}

/// A query of every sample of `nome` (up to 10,000), in time order.
fn every_sample_of(nome: &str) -> integra_domain::MetricQuery {
    integra_domain::MetricQuery::new(
        Some(nome.into()),
        None,
        integra_domain::TimeRange::ALL,
        10_000,
    )
    .unwrap()
}

/// An engine on the local Redis with a key prefix of its own, and the prefix, for the tests that
/// read its keys.
async fn with_own_prefix() -> (String, RedisEngine) {
    let prefix = own_prefix();
    let engine = RedisEngine::connect(RedisConfig {
        key_prefix: prefix.clone(),
        ..RedisConfig::new(env_or("INTEGRA_TEST_REDIS_URL", "redis://127.0.0.1:6379"))
    })
    .await
    .unwrap();
    (prefix, engine)
}

/// The engine and Store suites on the engines `$base()` configures.
macro_rules! suites_on {
    ($base:path) => {
        integra_conformance::engine_suite!(|ttl| async move {
            std::sync::Arc::new(isolated($base(), ttl).await)
        });
        integra_conformance::store_suite!(|ttl| async move {
            std::sync::Arc::new(integra_redis::RedisStore::new(isolated($base(), ttl).await))
                as std::sync::Arc<dyn integra_ports::Store>
        });
    };
}

mod standalone {
    use super::*;

    fn base() -> RedisConfig {
        RedisConfig::new(env_or("INTEGRA_TEST_REDIS_URL", "redis://127.0.0.1:6379"))
    }

    suites_on!(base);
}

/// A three-master Redis Cluster on 127.0.0.1:7001-7003 (`scripts/services.sh redis-cluster`).
mod cluster {
    use super::*;

    pub(super) fn base() -> RedisConfig {
        RedisConfig {
            mode: RedisMode::Cluster,
            ..RedisConfig::new(env_or(
                "INTEGRA_TEST_REDIS_CLUSTER_URL",
                "redis://127.0.0.1:7001,redis://127.0.0.1:7002",
            ))
        }
    }

    suites_on!(base);
}

/// Redis over TLS only (127.0.0.1:6390), with the ACL user `integra`, its certificate signed by
/// the test CA (`scripts/services.sh redis-tls`).
mod tls {
    use super::*;

    pub(super) fn base() -> RedisConfig {
        RedisConfig {
            tls_ca_file: Some(tls_file("ca.pem")),
            ..RedisConfig::new(env_or(
                "INTEGRA_TEST_REDIS_TLS_URL",
                "rediss://integra:integra-test-password@127.0.0.1:6390",
            ))
        }
    }

    suites_on!(base);
}

#[tokio::test]
async fn a_wrong_password_is_refused_at_connect_and_the_error_does_not_show_it() {
    let base = tls::base();
    let url = base
        .url
        .expose()
        .replace("integra-test-password", "not-the-password");
    let Err(e) = RedisEngine::connect(RedisConfig {
        url: url.into(),
        ..base
    })
    .await
    else {
        panic!("a wrong password connected");
    };
    assert!(matches!(e, ConnectError::Refused(_)), "{e:?}");
    let shown = format!("{e} {e:?}");
    assert!(!shown.contains("not-the-password"), "{shown}");
}

#[tokio::test]
async fn a_server_certificate_from_an_unknown_ca_is_refused_at_connect() {
    // A CA of its own, which signed nothing the server holds.
    let Err(e) = RedisEngine::connect(RedisConfig {
        tls_ca_file: Some(tls_file("other-ca.pem")),
        ..tls::base()
    })
    .await
    else {
        panic!("an unknown CA was trusted");
    };
    assert!(matches!(e, ConnectError::Tls(_)), "{e:?}");
}

#[tokio::test]
async fn plaintext_to_the_tls_port_does_not_connect() {
    let config = RedisConfig {
        command_timeout: Duration::from_secs(1),
        ..RedisConfig::new("redis://integra:integra-test-password@127.0.0.1:6390")
    };
    assert!(RedisEngine::connect(config).await.is_err());
}

#[tokio::test]
async fn a_key_prefix_with_a_hash_tag_is_refused() {
    let config = RedisConfig {
        key_prefix: "{integra}:".into(),
        ..cluster::base()
    };
    assert!(matches!(
        RedisEngine::connect(config).await,
        Err(ConnectError::KeyPrefix)
    ));
}

#[tokio::test]
async fn several_urls_are_refused_outside_cluster_mode() {
    let config = RedisConfig {
        mode: RedisMode::Standalone,
        ..cluster::base()
    };
    assert!(matches!(
        RedisEngine::connect(config).await,
        Err(ConnectError::Url(_))
    ));
}

/// A cluster spreads the metric names over its masters: the layout is not one slot.
#[tokio::test]
async fn metric_names_spread_over_the_cluster_masters() {
    use integra_domain::{Metrica, TipoMetrica};
    use integra_ports::{SeriesLimits, SeriesStore};
    let prefix = own_prefix();
    let engine = RedisEngine::connect(RedisConfig {
        key_prefix: prefix.clone(),
        ..cluster::base()
    })
    .await
    .unwrap();
    let limits = SeriesLimits {
        max_names: 1000,
        max_series_per_name: 10,
        max_samples_per_series: 10,
        retention_ms: 3_600_000,
    };
    let samples: Vec<Metrica> = (0..30)
        .map(|i| Metrica {
            nome: format!("spread_{i}"),
            valor: 1.0,
            tipo: TipoMetrica::Gauge,
            labels: Default::default(),
            timestamp: integra_domain::Timestamp::now(),
        })
        .collect();
    engine
        .append_samples(&samples, limits)
        .await
        .unwrap()
        .unwrap();
    let mut masters_with_keys = 0;
    for port in [7001, 7002, 7003] {
        let out = std::process::Command::new("redis-cli")
            .args([
                "-p",
                &port.to_string(),
                "--scan",
                "--pattern",
                &format!("{prefix}*"),
            ])
            .output()
            .unwrap();
        if !String::from_utf8_lossy(&out.stdout).trim().is_empty() {
            masters_with_keys += 1;
        }
    }
    assert_eq!(masters_with_keys, 3, "30 names should reach all 3 masters");
}

/// `redis-cli` on the standalone Redis: its answer, trimmed.
fn redis_cli(args: &[&str]) -> String {
    let out = std::process::Command::new("redis-cli")
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[tokio::test]
async fn a_series_is_one_string_of_16_byte_points_and_an_earlier_layout_is_cleared() {
    use integra_domain::{Metrica, Timestamp, TipoMetrica};
    use integra_ports::{SeriesLimits, SeriesStore};
    let (prefix, engine) = with_own_prefix().await;
    let base = format!("{prefix}{{metrics:compacta}}");
    // What an earlier version left: the name's samples in sorted sets.
    redis_cli(&["ZADD", &base, "1", "1|{}"]);
    redis_cli(&["HSET", &format!("{base}.sids"), "old", "1"]);
    redis_cli(&["ZADD", &format!("{base}.s:1"), "1", "1"]);
    let limits = SeriesLimits {
        max_names: 1000,
        max_series_per_name: 10,
        max_samples_per_series: 10_000,
        retention_ms: 3_600_000,
    };
    let now = Timestamp::now().millis();
    let samples: Vec<Metrica> = (0..2000)
        .map(|i| Metrica {
            nome: "compacta".into(),
            valor: f64::from(i) / 3.0,
            tipo: TipoMetrica::Gauge,
            labels: [("rota".to_owned(), "/a,b=\"c\"".to_owned())].into(),
            timestamp: Timestamp::from_millis(now - 2000 + i64::from(i)),
        })
        .collect();
    for batch in samples.chunks(100) {
        engine.append_samples(batch, limits).await.unwrap().unwrap();
    }
    // The batches wait in the name's log until it is full or read: 18 bytes a sample, as the
    // client packed them, behind 24 bytes a batch (its one series' number, the counts).
    let log = format!("{base}.log");
    let batch_bytes = 24 + 100 * 18;
    assert_eq!(redis_cli(&["STRLEN", &log]), (20 * batch_bytes).to_string());
    // Read back exactly, labels and all; the read folds the log into the series.
    let query = every_sample_of("compacta");
    assert_eq!(engine.query_samples(&query).await.unwrap(), samples);
    assert_eq!(
        redis_cli(&["EXISTS", &log, &base, &format!("{base}.s:1")]),
        "0"
    );
    let points = format!("{base}.p:2");
    assert_eq!(redis_cli(&["STRLEN", &points]), (2000 * 16).to_string());
    let usage: usize = redis_cli(&["MEMORY", "USAGE", &points]).parse().unwrap();
    assert!(usage <= 2 * 2000 * 16, "{usage} bytes for 2,000 points");
    // Past the log's size, a batch folds it without a read.
    let more: Vec<Metrica> = (0..4200)
        .map(|i| Metrica {
            timestamp: Timestamp::from_millis(now + i64::from(i)),
            ..samples[0].clone()
        })
        .collect();
    for batch in more.chunks(100) {
        engine.append_samples(batch, limits).await.unwrap().unwrap();
    }
    assert_eq!(redis_cli(&["STRLEN", &log]), batch_bytes.to_string());
    // The 41st batch filled it (4,100 samples): they were folded; the 42nd waits.
    assert_eq!(redis_cli(&["STRLEN", &points]), (6100 * 16).to_string());
}

#[tokio::test]
async fn a_capped_series_string_stays_near_its_cap_across_folds() {
    use integra_domain::{Metrica, Timestamp, TipoMetrica};
    use integra_ports::{SeriesLimits, SeriesStore};
    let (prefix, engine) = with_own_prefix().await;
    let limits = SeriesLimits {
        max_samples_per_series: 100,
        ..SMALL
    };
    let now = Timestamp::now().millis();
    let samples: Vec<Metrica> = (0..10_000)
        .map(|i| Metrica {
            nome: "limitada".into(),
            valor: f64::from(i),
            tipo: TipoMetrica::Gauge,
            labels: std::collections::BTreeMap::new(),
            timestamp: Timestamp::from_millis(now - 10_000 + i64::from(i)),
        })
        .collect();
    for batch in samples.chunks(100) {
        engine.append_samples(batch, limits).await.unwrap().unwrap();
    }
    let query = every_sample_of("limitada");
    let got = engine.query_samples(&query).await.unwrap();
    assert_eq!(got, samples[9_900..]);
    // Its head is looked for every 64 points written, and cut once it is an eighth of the cap
    // (at least 16): never more than cap + 64 + 16 points held, however many came.
    let held: usize = redis_cli(&["STRLEN", &format!("{prefix}{{metrics:limitada}}.p:1")])
        .parse()
        .unwrap();
    assert!(
        (100 * 16..=(100 + 64 + 16) * 16).contains(&held),
        "{held} bytes held"
    );
}

/// Gauge samples of `nome`, one per label value of `x`, at `ms`.
fn gauges(nome: &str, xs: &[&str], ms: i64) -> Vec<integra_domain::Metrica> {
    xs.iter()
        .map(|x| integra_domain::Metrica {
            nome: nome.into(),
            valor: 1.0,
            tipo: integra_domain::TipoMetrica::Gauge,
            labels: [("x".to_owned(), (*x).to_owned())].into(),
            timestamp: integra_domain::Timestamp::from_millis(ms),
        })
        .collect()
}

/// Each sample of `nome` read back: its `x` label and timestamp, in time order.
async fn read_back(engine: &RedisEngine, nome: &str) -> Vec<(String, i64)> {
    use integra_ports::SeriesStore;
    let query = every_sample_of(nome);
    engine
        .query_samples(&query)
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.labels["x"].clone(), m.timestamp.millis()))
        .collect()
}

const SMALL: integra_ports::SeriesLimits = integra_ports::SeriesLimits {
    max_names: 1000,
    max_series_per_name: 3,
    max_samples_per_series: 100,
    retention_ms: 3_600_000,
};

/// Two instances on one prefix number the series in turn; what each appends unchecked to the
/// series it saw lands in the right series, and the caps still hold for a new series or tipo.
async fn two_instances_append_to_the_series_they_saw(base: RedisConfig) {
    use integra_ports::SeriesStore;
    let config = RedisConfig {
        key_prefix: own_prefix(),
        ..base
    };
    let a = RedisEngine::connect(config.clone()).await.unwrap();
    let b = RedisEngine::connect(config).await.unwrap();
    let t = integra_domain::Timestamp::now().millis();
    a.append_samples(&gauges("vistas", &["1", "2"], t), SMALL)
        .await
        .unwrap()
        .unwrap();
    b.append_samples(&gauges("vistas", &["3", "1"], t + 1), SMALL)
        .await
        .unwrap()
        .unwrap();
    // Both now write unchecked, each with the numbers the other's writes gave too.
    a.append_samples(&gauges("vistas", &["2", "1"], t + 2), SMALL)
        .await
        .unwrap()
        .unwrap();
    b.append_samples(&gauges("vistas", &["3"], t + 3), SMALL)
        .await
        .unwrap()
        .unwrap();
    let mut got = read_back(&a, "vistas").await;
    got.sort();
    let want: Vec<(String, i64)> = [
        ("1", t),
        ("1", t + 1),
        ("1", t + 2),
        ("2", t),
        ("2", t + 2),
        ("3", t + 1),
        ("3", t + 3),
    ]
    .iter()
    .map(|(x, ms)| ((*x).to_owned(), *ms))
    .collect();
    assert_eq!(got, want);
    // A fourth series is past the cap, and another tipo is refused, though the name is known.
    let refused = a
        .append_samples(&gauges("vistas", &["1", "4"], t + 4), SMALL)
        .await
        .unwrap();
    assert!(
        matches!(
            refused,
            Err(integra_ports::SampleRejection::TooManySeries { index: 1, .. })
        ),
        "{refused:?}"
    );
    let mut counter = gauges("vistas", &["1"], t + 4);
    counter[0].tipo = integra_domain::TipoMetrica::Counter;
    let refused = a.append_samples(&counter, SMALL).await.unwrap();
    assert!(
        matches!(
            refused,
            Err(integra_ports::SampleRejection::TypeMismatch { index: 0, .. })
        ),
        "{refused:?}"
    );
    assert_eq!(
        read_back(&b, "vistas").await.len(),
        7,
        "nothing refused was written"
    );
}

#[tokio::test]
async fn two_instances_append_to_the_series_they_saw_on_one_redis() {
    two_instances_append_to_the_series_they_saw(RedisConfig::new(env_or(
        "INTEGRA_TEST_REDIS_URL",
        "redis://127.0.0.1:6379",
    )))
    .await;
}

#[tokio::test]
async fn two_instances_append_to_the_series_they_saw_on_a_cluster() {
    two_instances_append_to_the_series_they_saw(cluster::base()).await;
}

/// Redis emptied under a running engine (flushed, or restarted with nothing on disk): the next
/// batch of series the engine had seen is registered and written again, not lost or misfiled.
#[tokio::test]
async fn series_seen_before_redis_was_emptied_are_registered_again() {
    use integra_ports::SeriesStore;
    let (prefix, engine) = with_own_prefix().await;
    let t = integra_domain::Timestamp::now().millis();
    let mut batch = gauges("esvaziada", &["1", "2"], t);
    batch.extend(gauges("outra", &["1"], t));
    engine.append_samples(&batch, SMALL).await.unwrap().unwrap();
    let keys = redis_cli(&["--scan", "--pattern", &format!("{prefix}*")]);
    for key in keys.lines() {
        redis_cli(&["DEL", key]);
    }
    // Another writer takes series number 1 of the emptied name first.
    let other = RedisEngine::connect(RedisConfig {
        key_prefix: prefix.clone(),
        ..RedisConfig::new(env_or("INTEGRA_TEST_REDIS_URL", "redis://127.0.0.1:6379"))
    })
    .await
    .unwrap();
    other
        .append_samples(&gauges("esvaziada", &["9"], t + 1), SMALL)
        .await
        .unwrap()
        .unwrap();
    // A batch of that name alone, then one of both names.
    engine
        .append_samples(&gauges("esvaziada", &["2"], t + 2), SMALL)
        .await
        .unwrap()
        .unwrap();
    engine
        .append_samples(&gauges("outra", &["1"], t + 2), SMALL)
        .await
        .unwrap()
        .unwrap();
    let mut again = gauges("esvaziada", &["2"], t + 3);
    again.extend(gauges("outra", &["1"], t + 3));
    engine.append_samples(&again, SMALL).await.unwrap().unwrap();
    assert_eq!(
        read_back(&engine, "esvaziada").await,
        vec![
            ("9".to_owned(), t + 1),
            ("2".to_owned(), t + 2),
            ("2".to_owned(), t + 3)
        ]
    );
    assert_eq!(
        read_back(&engine, "outra").await,
        vec![("1".to_owned(), t + 2), ("1".to_owned(), t + 3)]
    );
    assert_eq!(
        redis_cli(&["HLEN", &format!("{prefix}{{metrics}}.kind")]),
        "2",
        "both names are in the registry again"
    );
}
