//! The behaviour every backend must show, written once and run against each adapter: the
//! embedded backends, Redis and Kafka. An adapter crate runs a suite with one macro call, given a
//! factory that builds a fresh, isolated instance (its own key prefix, its own topics):
//!
//! - [`engine_suite!`]: a [`DocumentEngine`] (compare-and-set, indexes, paging, expiry);
//! - [`store_suite!`]: a [`Store`] (typed records, metric series, presence, channel history);
//! - [`bus_suite!`]: a [`Bus`].
//!
//! Every test panics on a failure, as tests do.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::missing_panics_doc)]

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use integra_documents::DocumentEngine;
use integra_ports::{Bus, Store};

pub mod bus;
pub mod channels;
pub mod engine;
pub mod store;

/// Builds a fresh engine whose documents expire after the given TTL (`None`: never).
pub trait EngineFactory: Fn(Option<Duration>) -> Self::Fut {
    /// The engine.
    type Engine: DocumentEngine + 'static;
    /// The future the factory returns.
    type Fut: Future<Output = Arc<Self::Engine>>;
}
impl<F, Fut, E> EngineFactory for F
where
    F: Fn(Option<Duration>) -> Fut,
    Fut: Future<Output = Arc<E>>,
    E: DocumentEngine + 'static,
{
    type Engine = E;
    type Fut = Fut;
}

/// Builds a fresh store whose records expire after the given TTL (`None`: never).
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

/// Declares one `#[tokio::test]` per named test of `$module`, each given `$factory`.
#[doc(hidden)]
#[macro_export]
macro_rules! suite {
    ($module:ident, $factory:expr; $($name:ident),+) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                $crate::$module::$name(&$factory).await;
            }
        )+
    };
}

/// Runs every document engine test against the engines `$factory` builds.
#[macro_export]
macro_rules! engine_suite {
    ($factory:expr) => {
        $crate::suite!(engine, $factory;
            insert_claims_a_free_id_once,
            replace_needs_the_current_revision,
            concurrent_inserts_of_one_id_create_it_once,
            concurrent_replaces_from_one_revision_succeed_once,
            concurrent_inserts_and_settles_each_get_their_own_answer,
            lists_are_newest_first_with_ties_by_id_descending,
            a_page_of_several_indexes_is_their_union_in_order_with_ties_by_id,
            a_replace_moves_the_document_between_indexes,
            time_ranges_are_inclusive,
            expired_documents_leave_get_and_every_index,
            an_id_reused_after_expiry_is_indexed_as_the_new_document_only,
            a_removed_document_leaves_get_and_every_index,
            a_lasting_collection_keeps_its_documents_past_the_expiry,
            collections_do_not_share_ids
        );
    };
}

/// Runs every Store test against the stores `$factory` builds.
#[macro_export]
macro_rules! store_suite {
    ($factory:expr) => {
        $crate::suite!(store, $factory;
            messages_come_back_as_written_and_are_listed_by_their_filters,
            an_alert_keeps_the_event_it_owes_and_is_listed_by_severity_state_and_time,
            a_page_of_alerts_as_json_shows_the_alerts_without_the_events_they_owe,
            settling_an_alert_drops_the_event_it_owes_and_nothing_else,
            samples_come_back_in_ascending_time_and_equal_samples_both_stay,
            a_name_keeps_the_kind_of_its_first_sample_and_a_bad_batch_stores_nothing,
            series_per_name_are_capped,
            samples_past_the_retention_are_trimmed,
            sample_queries_filter_by_kind_and_range_and_limit,
            a_series_keeps_its_newest_samples_up_to_its_cap,
            names_are_capped_and_no_exposition_collides_with_another,
            a_query_merges_the_series_of_a_name_in_time_order,
            a_long_query_over_many_series_is_their_newest_samples_merged_in_time_order,
            presence_is_kept_for_its_ttl_and_removed_on_request
        );
        $crate::suite!(channels, $factory;
            publications_get_consecutive_offsets_in_one_epoca_and_read_back_after_an_offset,
            concurrent_publishers_on_one_channel_never_share_an_offset,
            history_keeps_its_last_publications_and_says_which_is_the_oldest_kept,
            a_lost_history_begins_anew_with_another_epoca,
            subscriber_counts_add_up_over_instances_and_leave_with_them
        );
    };
}

/// Runs every Bus test against the buses `$factory` builds.
#[macro_export]
macro_rules! bus_suite {
    ($factory:expr) => {
        $crate::suite!(bus, $factory;
            a_publish_is_acknowledged_with_increasing_offsets,
            a_subscriber_receives_what_is_published_after_it_subscribed,
            every_subscriber_receives_every_record,
            records_over_the_size_limit_are_rejected,
            the_broker_answers_pings,
            a_stored_record_is_found_by_its_key_and_time,
            a_record_sent_outside_the_range_is_not_found
        );
    };
}
