//! The [`ChannelStore`] suite: offsets given once and in order, bounded history, a new epoca when
//! the history is lost, subscriber counts across instances.

#![allow(missing_docs)]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use integra_domain::{Canal, Dados, Timestamp};
use integra_ports::{ChannelStore, HistoryLimits};

use crate::StoreFactory;

const LIMITS: HistoryLimits = HistoryLimits {
    size: 100,
    ttl_ms: 60_000,
};

fn canal(name: &str) -> Canal {
    Canal::parse(name).unwrap()
}

fn dados(i: usize) -> Dados {
    Dados::parse(format!(r#"{{"n":{i},"texto":"olá \"{i}\""}}"#)).unwrap()
}

async fn channels(factory: &impl StoreFactory) -> Arc<dyn ChannelStore> {
    factory(None).await
}

pub async fn publications_get_consecutive_offsets_in_one_epoca_and_read_back_after_an_offset(
    factory: &impl StoreFactory,
) {
    let store = channels(factory).await;
    let c = canal("pedidos");
    let empty = store.history(&c, 0, 10, "e1", LIMITS).await.unwrap();
    assert_eq!(
        (empty.posicao.offset, empty.posicao.epoca.as_str()),
        (0, "e1")
    );
    assert_eq!((empty.first_kept, empty.publicacoes.len()), (None, 0));

    let at = Timestamp::parse("2026-12-05T10:00:00.123Z").unwrap();
    let first = store
        .publish(&c, &[dados(1)], at, "e2", LIMITS)
        .await
        .unwrap();
    let rest = store
        .publish(&c, &[dados(2), dados(3), dados(4)], at, "e3", LIMITS)
        .await
        .unwrap();
    // The epoca begun by the first read holds.
    assert!(first.iter().chain(&rest).all(|p| p.epoca == "e1"));
    let offsets: Vec<u64> = first.iter().chain(&rest).map(|p| p.offset).collect();
    assert_eq!(offsets, [1, 2, 3, 4]);

    let read = store.history(&c, 1, 2, "e4", LIMITS).await.unwrap();
    assert_eq!(read.posicao.offset, 4);
    assert_eq!(read.first_kept, Some(1));
    assert_eq!(read.publicacoes, rest[..2].to_vec());
    assert_eq!(read.publicacoes[0].dados.get(), dados(2).get());
    assert_eq!(read.publicacoes[0].criado_em, at);
    let none_after = store.history(&c, 4, 10, "e4", LIMITS).await.unwrap();
    assert!(none_after.publicacoes.is_empty());
    // Another channel numbers its own.
    let other = store
        .publish(&canal("outro"), &[dados(9)], at, "f", LIMITS)
        .await
        .unwrap();
    assert_eq!((other[0].offset, other[0].epoca.as_str()), (1, "f"));
}

pub async fn concurrent_publishers_on_one_channel_never_share_an_offset(
    factory: &impl StoreFactory,
) {
    let store = channels(factory).await;
    let tasks: Vec<_> = (0..4)
        .map(|t| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let mut offsets = Vec::new();
                for i in 0..50 {
                    let batch = [dados(t * 100 + i), dados(t * 100 + i + 50)];
                    let published = store
                        .publish(&canal("disputado"), &batch, Timestamp::now(), "e", LIMITS)
                        .await
                        .unwrap();
                    offsets.extend(published.iter().map(|p| p.offset));
                }
                offsets
            })
        })
        .collect();
    let mut all = BTreeSet::new();
    for task in tasks {
        for offset in task.await.unwrap() {
            assert!(all.insert(offset), "offset {offset} given twice");
        }
    }
    assert_eq!(all, (1..=400).collect());
}

pub async fn history_keeps_its_last_publications_and_says_which_is_the_oldest_kept(
    factory: &impl StoreFactory,
) {
    let store = channels(factory).await;
    let c = canal("longo");
    for chunk in (0..150).collect::<Vec<_>>().chunks(50) {
        let batch: Vec<_> = chunk.iter().map(|&i| dados(i)).collect();
        store
            .publish(&c, &batch, Timestamp::now(), "e", LIMITS)
            .await
            .unwrap();
    }
    let all = store.history(&c, 0, 1000, "x", LIMITS).await.unwrap();
    assert_eq!((all.posicao.offset, all.first_kept), (150, Some(51)));
    let offsets: Vec<u64> = all.publicacoes.iter().map(|p| p.offset).collect();
    assert_eq!(offsets, (51..=150).collect::<Vec<_>>());
    let tail = store.history(&c, 140, 1000, "x", LIMITS).await.unwrap();
    assert_eq!(tail.publicacoes.first().map(|p| p.offset), Some(141));
    assert_eq!(tail.publicacoes.len(), 10);
}

pub async fn a_lost_history_begins_anew_with_another_epoca(factory: &impl StoreFactory) {
    let store = channels(factory).await;
    let c = canal("efemero");
    let short = HistoryLimits {
        size: 10,
        ttl_ms: 300,
    };
    let before = store
        .publish(&c, &[dados(1), dados(2)], Timestamp::now(), "antes", short)
        .await
        .unwrap();
    assert_eq!(before[1].offset, 2);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let after = store.history(&c, 0, 10, "depois", short).await.unwrap();
    assert_eq!(
        (after.posicao.offset, after.posicao.epoca.as_str()),
        (0, "depois")
    );
    assert!(after.publicacoes.is_empty());
    let again = store
        .publish(&c, &[dados(3)], Timestamp::now(), "outra", short)
        .await
        .unwrap();
    assert_eq!((again[0].offset, again[0].epoca.as_str()), (1, "depois"));
}

pub async fn subscriber_counts_add_up_over_instances_and_leave_with_them(
    factory: &impl StoreFactory,
) {
    let store = channels(factory).await;
    let c = canal("contado");
    assert_eq!(store.subscribers(&c).await.unwrap(), 0);
    store.put_subscribers(&c, "i1", 3, 60_000).await.unwrap();
    store.put_subscribers(&c, "i2", 2, 300).await.unwrap();
    assert_eq!(store.subscribers(&c).await.unwrap(), 5);
    store.put_subscribers(&c, "i1", 1, 60_000).await.unwrap();
    assert_eq!(store.subscribers(&c).await.unwrap(), 3);
    // An instance that stops refreshing its count leaves it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(store.subscribers(&c).await.unwrap(), 1);
    store.put_subscribers(&c, "i1", 0, 60_000).await.unwrap();
    assert_eq!(store.subscribers(&c).await.unwrap(), 0);
    assert_eq!(store.subscribers(&canal("outro")).await.unwrap(), 0);
}
