//! The behaviour every [`Store`] and [`Bus`] must show, written once and run against each adapter:
//! the memory backends here, Redis and Kafka in their crates. An adapter crate runs the suite with
//! [`store_conformance!`](crate::store_conformance) or [`bus_conformance!`](crate::bus_conformance),
//! given a factory that builds a fresh, isolated instance (its own key prefix, its own topics).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use integra_ports::{Bus, Store};

/// Builds a fresh store whose documents expire after the given TTL (`None`: never).
pub trait StoreFactory: Fn(Option<Duration>) -> Self::Fut {
    /// The future the factory returns.
    type Fut: Future<Output = Arc<dyn Store>>;
}
impl<F, Fut> StoreFactory for F
where
    F: Fn(Option<Duration>) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    type Fut = Fut;
}

/// Builds a bus whose topics all start with the given prefix.
pub trait BusFactory: Fn(String) -> Self::Fut {
    /// The future the factory returns.
    type Fut: Future<Output = Arc<dyn Bus>>;
}
impl<F, Fut> BusFactory for F
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Arc<dyn Bus>>,
{
    type Fut = Fut;
}

/// Runs every Store behaviour test against the stores `$factory` builds.
#[macro_export]
macro_rules! store_conformance {
    ($factory:expr) => {
        $crate::store_conformance!(@each $factory;
            insert_claims_a_free_id_once,
            replace_needs_the_current_revision,
            concurrent_inserts_of_one_id_create_it_once,
            concurrent_replaces_from_one_revision_succeed_once,
            lists_are_newest_first_with_ties_by_id_descending,
            a_replace_moves_the_document_between_indexes,
            time_ranges_are_inclusive,
            expired_documents_leave_get_and_every_index,
            an_id_reused_after_expiry_is_indexed_as_the_new_document_only,
            collections_do_not_share_ids,
            samples_come_back_in_ascending_time_and_equal_samples_both_stay,
            a_name_keeps_the_kind_of_its_first_sample_and_a_bad_batch_stores_nothing,
            series_per_name_are_capped,
            samples_past_the_retention_are_trimmed,
            sample_queries_filter_by_kind_and_range_and_limit,
            presence_is_kept_for_its_ttl_and_removed_on_request
        );
    };
    (@each $factory:expr; $($name:ident),+) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                $crate::conformance::store::$name(&$factory).await;
            }
        )+
    };
}

/// Runs every Bus behaviour test against the buses `$factory` builds.
#[macro_export]
macro_rules! bus_conformance {
    ($factory:expr) => {
        $crate::bus_conformance!(@each $factory;
            a_publish_is_acknowledged_with_increasing_offsets,
            a_subscriber_receives_what_is_published_after_it_subscribed,
            every_subscriber_receives_every_record,
            records_over_the_size_limit_are_rejected,
            the_broker_answers_pings
        );
    };
    (@each $factory:expr; $($name:ident),+) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                $crate::conformance::bus::$name(&$factory).await;
            }
        )+
    };
}

/// The Store suite.
pub mod store {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use integra_domain::{Metrica, Timestamp, TipoMetrica};
    use integra_ports::{
        Collection, Document, Insert, Page, Replace, SampleQuery, SampleRejection, SeriesLimits,
    };

    use super::StoreFactory;

    const LIMITS: SeriesLimits = SeriesLimits {
        max_series_per_name: 1000,
        retention_ms: 86_400_000,
    };

    fn doc(id: &str, created_ms: i64, indexes: &[&str], body: &str) -> Document {
        Document {
            collection: Collection::Messages,
            id: id.to_owned(),
            body: format!(r#"{{"id":"{id}","v":"{body}"}}"#),
            created_ms,
            indexes: indexes.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    fn page(index: &str, skip: usize, limit: usize) -> Page {
        Page {
            collection: Collection::Messages,
            index: index.to_owned(),
            from_ms: None,
            to_ms: None,
            skip,
            limit,
            ascending: false,
        }
    }

    fn ids(docs: &[integra_ports::Versioned]) -> Vec<String> {
        docs.iter()
            .map(|d| {
                serde_json::from_str::<serde_json::Value>(&d.body).unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    }

    fn sample(
        nome: &str,
        valor: f64,
        tipo: TipoMetrica,
        labels: &[(&str, &str)],
        ms: i64,
    ) -> Metrica {
        Metrica {
            nome: nome.to_owned(),
            valor,
            tipo,
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>(),
            timestamp: Timestamp::from_millis(ms),
        }
    }

    pub async fn insert_claims_a_free_id_once(factory: &impl StoreFactory) {
        let store = factory(None).await;
        let first = doc("m1", 1, &["all"], "a");
        assert_eq!(store.insert(&first).await.unwrap(), Insert::Created);
        let got = store
            .get(Collection::Messages, "m1")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got.rev, 1);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&got.body).unwrap()["v"],
            "a"
        );
        match store.insert(&doc("m1", 2, &["all"], "b")).await.unwrap() {
            Insert::Exists(v) => assert_eq!((v.rev, v.body), (1, got.body)),
            Insert::Created => panic!("a taken id was created again"),
        }
        assert_eq!(
            store.get(Collection::Messages, "absent").await.unwrap(),
            None
        );
    }

    pub async fn replace_needs_the_current_revision(factory: &impl StoreFactory) {
        let store = factory(None).await;
        store.insert(&doc("m1", 1, &["all"], "a")).await.unwrap();
        assert_eq!(
            store
                .replace(&doc("m1", 1, &["all"], "b"), 1)
                .await
                .unwrap(),
            Replace::Done(2)
        );
        match store
            .replace(&doc("m1", 1, &["all"], "c"), 1)
            .await
            .unwrap()
        {
            Replace::Stale(Some(v)) => assert_eq!(v.rev, 2),
            other => panic!("a stale revision was not refused: {other:?}"),
        }
        let body = store
            .get(Collection::Messages, "m1")
            .await
            .unwrap()
            .unwrap()
            .body;
        assert!(body.contains("\"b\""), "{body}");
        assert_eq!(
            store
                .replace(&doc("gone", 1, &["all"], "x"), 1)
                .await
                .unwrap(),
            Replace::Stale(None)
        );
        assert_eq!(store.get(Collection::Messages, "gone").await.unwrap(), None);
    }

    pub async fn concurrent_inserts_of_one_id_create_it_once(factory: &impl StoreFactory) {
        let store = factory(None).await;
        let tasks: Vec<_> = (0..32)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .insert(&doc("race", 1, &["all"], &i.to_string()))
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut created = 0;
        for t in tasks {
            if t.await.unwrap() == Insert::Created {
                created += 1;
            }
        }
        assert_eq!(created, 1);
    }

    pub async fn concurrent_replaces_from_one_revision_succeed_once(factory: &impl StoreFactory) {
        let store = factory(None).await;
        store.insert(&doc("cas", 1, &["all"], "0")).await.unwrap();
        let tasks: Vec<_> = (0..32)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .replace(&doc("cas", 1, &["all"], &i.to_string()), 1)
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut done = 0;
        for t in tasks {
            if matches!(t.await.unwrap(), Replace::Done(2)) {
                done += 1;
            }
        }
        assert_eq!(done, 1);
    }

    pub async fn lists_are_newest_first_with_ties_by_id_descending(factory: &impl StoreFactory) {
        let store = factory(None).await;
        for (id, ms) in [("a", 10), ("b", 30), ("c", 20), ("d", 30), ("e", 5)] {
            store.insert(&doc(id, ms, &["all"], id)).await.unwrap();
        }
        assert_eq!(
            ids(&store.list(&page("all", 0, 100)).await.unwrap()),
            ["d", "b", "c", "a", "e"]
        );
        assert_eq!(
            ids(&store.list(&page("all", 1, 2)).await.unwrap()),
            ["b", "c"]
        );
        assert_eq!(
            ids(&store.list(&page("all", 5, 2)).await.unwrap()),
            Vec::<String>::new()
        );
        let oldest_first = Page {
            ascending: true,
            ..page("all", 0, 2)
        };
        assert_eq!(ids(&store.list(&oldest_first).await.unwrap()), ["e", "a"]);
        assert!(store
            .list(&page("no-such-index", 0, 10))
            .await
            .unwrap()
            .is_empty());
    }

    pub async fn a_replace_moves_the_document_between_indexes(factory: &impl StoreFactory) {
        let store = factory(None).await;
        store
            .insert(&doc("m", 1, &["all", "status:PROCESSANDO"], "p"))
            .await
            .unwrap();
        store
            .insert(&doc("n", 2, &["all", "status:PROCESSANDO"], "p"))
            .await
            .unwrap();
        store
            .replace(&doc("m", 1, &["all", "status:CONCLUIDA"], "c"), 1)
            .await
            .unwrap();
        assert_eq!(
            ids(&store
                .list(&page("status:PROCESSANDO", 0, 10))
                .await
                .unwrap()),
            ["n"]
        );
        assert_eq!(
            ids(&store.list(&page("status:CONCLUIDA", 0, 10)).await.unwrap()),
            ["m"]
        );
        assert_eq!(
            ids(&store.list(&page("all", 0, 10)).await.unwrap()),
            ["n", "m"]
        );
    }

    pub async fn time_ranges_are_inclusive(factory: &impl StoreFactory) {
        let store = factory(None).await;
        for (id, ms) in [("a", 100), ("b", 200), ("c", 300), ("d", 400)] {
            store.insert(&doc(id, ms, &["all"], id)).await.unwrap();
        }
        let range = Page {
            from_ms: Some(200),
            to_ms: Some(300),
            ..page("all", 0, 10)
        };
        assert_eq!(ids(&store.list(&range).await.unwrap()), ["c", "b"]);
        let from = Page {
            from_ms: Some(300),
            ..page("all", 0, 10)
        };
        assert_eq!(ids(&store.list(&from).await.unwrap()), ["d", "c"]);
    }

    pub async fn expired_documents_leave_get_and_every_index(factory: &impl StoreFactory) {
        let store = factory(Some(Duration::from_millis(1000))).await;
        store
            .insert(&doc("old", 1, &["all", "tipo:sms"], "x"))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(600)).await;
        store
            .insert(&doc("new", 2, &["all", "tipo:sms"], "y"))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(store.get(Collection::Messages, "old").await.unwrap(), None);
        assert!(store
            .get(Collection::Messages, "new")
            .await
            .unwrap()
            .is_some());
        assert_eq!(
            ids(&store.list(&page("all", 0, 10)).await.unwrap()),
            ["new"]
        );
        assert_eq!(
            ids(&store.list(&page("tipo:sms", 0, 10)).await.unwrap()),
            ["new"]
        );
        // The expired id is free again.
        assert_eq!(
            store.insert(&doc("old", 3, &["all"], "z")).await.unwrap(),
            Insert::Created
        );
    }

    /// Even when the reuse comes before any trim reached the expired document: 250 expired
    /// documents are ahead of it, more than the Redis store's trims take at once.
    pub async fn an_id_reused_after_expiry_is_indexed_as_the_new_document_only(
        factory: &impl StoreFactory,
    ) {
        let store = factory(Some(Duration::from_millis(800))).await;
        for i in 0..250 {
            let id = format!("x{i:03}");
            store.insert(&doc(&id, i, &["all"], "x")).await.unwrap();
        }
        store
            .insert(&doc("r", 1000, &["all", "status:CONCLUIDA"], "old"))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(1000)).await;
        store
            .insert(&doc("keep", 2000, &["all"], "k"))
            .await
            .unwrap();
        assert_eq!(
            store
                .insert(&doc("r", 3000, &["all", "status:PROCESSANDO"], "new"))
                .await
                .unwrap(),
            Insert::Created
        );
        assert_eq!(
            ids(&store.list(&page("all", 0, 10)).await.unwrap()),
            ["r", "keep"]
        );
        assert_eq!(
            ids(&store
                .list(&page("status:PROCESSANDO", 0, 10))
                .await
                .unwrap()),
            ["r"]
        );
        assert!(store
            .list(&page("status:CONCLUIDA", 0, 10))
            .await
            .unwrap()
            .is_empty());
    }

    pub async fn collections_do_not_share_ids(factory: &impl StoreFactory) {
        let store = factory(None).await;
        store.insert(&doc("x", 1, &["all"], "m")).await.unwrap();
        let alert = Document {
            collection: Collection::Alerts,
            ..doc("x", 1, &["all"], "a")
        };
        assert_eq!(store.insert(&alert).await.unwrap(), Insert::Created);
        let alerts = store
            .list(&Page {
                collection: Collection::Alerts,
                ..page("all", 0, 10)
            })
            .await
            .unwrap();
        assert_eq!(alerts.len(), 1);
        assert!(alerts[0].body.contains("\"a\""));
    }

    pub async fn samples_come_back_in_ascending_time_and_equal_samples_both_stay(
        factory: &impl StoreFactory,
    ) {
        let store = factory(None).await;
        let now = Timestamp::now().millis();
        let batch = [
            sample("fila", 3.0, TipoMetrica::Gauge, &[], now - 10),
            sample("fila", 1.0, TipoMetrica::Gauge, &[], now - 30),
            sample("fila", 1.0, TipoMetrica::Gauge, &[], now - 30),
        ];
        store.append_samples(&batch, LIMITS).await.unwrap().unwrap();
        let q = SampleQuery {
            nome: Some("fila".into()),
            limit: 100,
            ..SampleQuery::default()
        };
        let got = store.query_samples(&q).await.unwrap();
        let times: Vec<i64> = got.iter().map(|m| m.timestamp.millis()).collect();
        assert_eq!(times, [now - 30, now - 30, now - 10]);
        assert_eq!(got[2].valor, 3.0);
    }

    pub async fn a_name_keeps_the_kind_of_its_first_sample_and_a_bad_batch_stores_nothing(
        factory: &impl StoreFactory,
    ) {
        let store = factory(None).await;
        let now = Timestamp::now().millis();
        store
            .append_samples(&[sample("c", 1.0, TipoMetrica::Counter, &[], now)], LIMITS)
            .await
            .unwrap()
            .unwrap();
        let batch = [
            sample("other", 1.0, TipoMetrica::Gauge, &[], now),
            sample("c", 1.0, TipoMetrica::Gauge, &[], now),
        ];
        match store.append_samples(&batch, LIMITS).await.unwrap() {
            Err(SampleRejection::TypeMismatch {
                index: 1,
                pinned: TipoMetrica::Counter,
                ..
            }) => {}
            other => panic!("expected a type mismatch at index 1, got {other:?}"),
        }
        let q = SampleQuery {
            nome: Some("other".into()),
            limit: 10,
            ..SampleQuery::default()
        };
        assert!(
            store.query_samples(&q).await.unwrap().is_empty(),
            "part of a refused batch was stored"
        );
        // Within one batch too, the first sample of a name pins its kind.
        let mixed = [
            sample("fresh", 1.0, TipoMetrica::Gauge, &[], now),
            sample("fresh", 1.0, TipoMetrica::Histogram, &[], now),
        ];
        assert!(matches!(
            store.append_samples(&mixed, LIMITS).await.unwrap(),
            Err(SampleRejection::TypeMismatch { index: 1, .. })
        ));
    }

    pub async fn series_per_name_are_capped(factory: &impl StoreFactory) {
        let store = factory(None).await;
        let now = Timestamp::now().millis();
        let limits = SeriesLimits {
            max_series_per_name: 2,
            ..LIMITS
        };
        let two = [
            sample("g", 1.0, TipoMetrica::Gauge, &[("k", "a")], now),
            sample("g", 1.0, TipoMetrica::Gauge, &[("k", "b")], now),
        ];
        store.append_samples(&two, limits).await.unwrap().unwrap();
        // An existing series still takes samples; a third does not open.
        store
            .append_samples(
                &[sample("g", 2.0, TipoMetrica::Gauge, &[("k", "a")], now)],
                limits,
            )
            .await
            .unwrap()
            .unwrap();
        let third = [sample("g", 1.0, TipoMetrica::Gauge, &[("k", "c")], now)];
        assert!(matches!(
            store.append_samples(&third, limits).await.unwrap(),
            Err(SampleRejection::TooManySeries {
                index: 0,
                cap: 2,
                ..
            })
        ));
        let q = SampleQuery {
            nome: Some("g".into()),
            limit: 10,
            ..SampleQuery::default()
        };
        assert_eq!(store.query_samples(&q).await.unwrap().len(), 3);
    }

    pub async fn samples_past_the_retention_are_trimmed(factory: &impl StoreFactory) {
        let store = factory(None).await;
        let now = Timestamp::now().millis();
        let limits = SeriesLimits {
            retention_ms: 60_000,
            ..LIMITS
        };
        let batch = [
            sample("r", 1.0, TipoMetrica::Gauge, &[], now - 120_000),
            sample("r", 2.0, TipoMetrica::Gauge, &[], now),
        ];
        store.append_samples(&batch, limits).await.unwrap().unwrap();
        let q = SampleQuery {
            nome: Some("r".into()),
            limit: 10,
            ..SampleQuery::default()
        };
        let got = store.query_samples(&q).await.unwrap();
        assert_eq!(got.iter().map(|m| m.valor).collect::<Vec<_>>(), [2.0]);
    }

    pub async fn sample_queries_filter_by_kind_and_range_and_limit(factory: &impl StoreFactory) {
        let store = factory(None).await;
        let t = Timestamp::now().millis() - 1000;
        let batch = [
            sample("a_gauge", 1.0, TipoMetrica::Gauge, &[], t),
            sample("b_counter", 2.0, TipoMetrica::Counter, &[], t + 1),
            sample("a_gauge", 3.0, TipoMetrica::Gauge, &[], t + 2),
            sample("c_hist", 4.0, TipoMetrica::Histogram, &[], t + 3),
        ];
        store.append_samples(&batch, LIMITS).await.unwrap().unwrap();
        let all = SampleQuery {
            limit: 100,
            ..SampleQuery::default()
        };
        let values = |v: Vec<Metrica>| v.iter().map(|m| m.valor).collect::<Vec<_>>();
        assert_eq!(
            values(store.query_samples(&all).await.unwrap()),
            [1.0, 2.0, 3.0, 4.0]
        );
        let gauges = SampleQuery {
            tipo: Some(TipoMetrica::Gauge),
            ..all.clone()
        };
        assert_eq!(
            values(store.query_samples(&gauges).await.unwrap()),
            [1.0, 3.0]
        );
        let range = SampleQuery {
            from: Some(Timestamp::from_millis(t + 1)),
            to: Some(Timestamp::from_millis(t + 2)),
            ..all.clone()
        };
        assert_eq!(
            values(store.query_samples(&range).await.unwrap()),
            [2.0, 3.0]
        );
        let limited = SampleQuery {
            limit: 3,
            ..all.clone()
        };
        assert_eq!(
            values(store.query_samples(&limited).await.unwrap()),
            [1.0, 2.0, 3.0]
        );
        let unknown = SampleQuery {
            nome: Some("nope".into()),
            ..all
        };
        assert!(store.query_samples(&unknown).await.unwrap().is_empty());
    }

    pub async fn presence_is_kept_for_its_ttl_and_removed_on_request(factory: &impl StoreFactory) {
        let store = factory(None).await;
        store.put_presence("c1", "i1", 60_000).await.unwrap();
        store.put_presence("c2", "i2", 300).await.unwrap();
        assert_eq!(store.presence("c1").await.unwrap().as_deref(), Some("i1"));
        assert_eq!(store.presence("c2").await.unwrap().as_deref(), Some("i2"));
        store.remove_presence("c1").await.unwrap();
        assert_eq!(store.presence("c1").await.unwrap(), None);
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(store.presence("c2").await.unwrap(), None);
        store.ping().await.unwrap();
    }
}

/// The Bus suite.
pub mod bus {
    use std::time::Duration;

    use futures_util::StreamExt;
    use integra_domain::Id;
    use integra_ports::{BusError, Outbound};

    use super::BusFactory;

    fn prefix() -> String {
        format!("t{}.", Id::generate().as_str().replace('-', ""))
    }

    fn record(topic: &str, key: &str, payload: &str) -> Outbound {
        Outbound {
            topic: topic.to_owned(),
            key: key.to_owned(),
            payload: payload.as_bytes().to_vec(),
            headers: vec![("content-type".into(), "application/json".into())],
        }
    }

    async fn next(sub: &mut integra_ports::Subscription) -> integra_ports::Inbound {
        tokio::time::timeout(Duration::from_secs(20), sub.next())
            .await
            .expect("no record within 20 s")
            .expect("subscription ended")
    }

    pub async fn a_publish_is_acknowledged_with_increasing_offsets(factory: &impl BusFactory) {
        let prefix = prefix();
        let bus = factory(prefix.clone()).await;
        let a = bus
            .publish(&record("messages.email", "k", "{}"))
            .await
            .unwrap();
        let b = bus
            .publish(&record("messages.email", "k", "{}"))
            .await
            .unwrap();
        assert_eq!(a.topic, format!("{prefix}messages.email"));
        assert_eq!(a.partition, b.partition, "one key, one partition");
        assert!(b.offset > a.offset);
    }

    pub async fn a_subscriber_receives_what_is_published_after_it_subscribed(
        factory: &impl BusFactory,
    ) {
        let bus = factory(prefix()).await;
        bus.publish(&record("fan", "before", "0")).await.unwrap();
        let mut sub = bus.subscribe("fan").await.unwrap();
        for i in 1..=3 {
            bus.publish(&record("fan", "k", &i.to_string()))
                .await
                .unwrap();
        }
        for i in 1..=3 {
            let got = next(&mut sub).await;
            assert_eq!(
                (got.key.as_deref(), got.payload),
                (Some("k"), i.to_string().into_bytes())
            );
        }
    }

    pub async fn every_subscriber_receives_every_record(factory: &impl BusFactory) {
        let bus = factory(prefix()).await;
        let mut a = bus.subscribe("fan").await.unwrap();
        let mut b = bus.subscribe("fan").await.unwrap();
        bus.publish(&record("fan", "k", "hello")).await.unwrap();
        assert_eq!(next(&mut a).await.payload, b"hello");
        assert_eq!(next(&mut b).await.payload, b"hello");
    }

    pub async fn records_over_the_size_limit_are_rejected(factory: &impl BusFactory) {
        let bus = factory(prefix()).await;
        let huge = "x".repeat(2 * 1024 * 1024);
        match bus.publish(&record("big", "k", &huge)).await {
            Err(BusError::Rejected(_)) => {}
            other => panic!("a 2 MiB record was not rejected: {other:?}"),
        }
    }

    pub async fn the_broker_answers_pings(factory: &impl BusFactory) {
        factory(prefix()).await.ping().await.unwrap();
    }
}
