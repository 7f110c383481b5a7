//! The document engine suite. Each function's name is what it shows.

#![allow(missing_docs)]

use std::time::Duration;

use integra_documents::{Collection, Document, DocumentEngine, Page};
use integra_domain::{Order, Paging, TimeRange, Timestamp};
use integra_ports::{Inserted, Replaced, Revision, Versioned};

use crate::EngineFactory;

const MESSAGES: Collection = Collection::new("message");
const ALERTS: Collection = Collection::new("alert");
const RULES: Collection = Collection::lasting("rule");

fn doc(id: &str, created_ms: i64, indexes: &[&str], body: &str) -> Document {
    Document {
        collection: MESSAGES,
        id: id.to_owned(),
        body: format!("{id}={body}"),
        created_ms,
        indexes: indexes.iter().map(|s| (*s).to_owned()).collect(),
    }
}

fn page(index: &str, skip: usize, limit: usize) -> Page {
    Page {
        collection: MESSAGES,
        indexes: vec![index.to_owned()],
        range: TimeRange::ALL,
        paging: Paging::new(skip, limit).unwrap(),
        order: Order::NewestFirst,
    }
}

fn at(ms: i64) -> Option<Timestamp> {
    Some(Timestamp::from_millis(ms))
}

fn ids(docs: &[Versioned<String>]) -> Vec<&str> {
    docs.iter()
        .map(|d| d.record.split_once('=').unwrap().0)
        .collect()
}

pub async fn insert_claims_a_free_id_once(factory: &impl EngineFactory) {
    let engine = factory(None).await;
    assert_eq!(
        engine.insert(&doc("m1", 1, &["all"], "a")).await.unwrap(),
        Inserted::Created
    );
    let got = engine.get(MESSAGES, "m1").await.unwrap().unwrap();
    assert_eq!(
        (got.revision, got.record.as_str()),
        (Revision::FIRST, "m1=a")
    );
    match engine.insert(&doc("m1", 2, &["all"], "b")).await.unwrap() {
        Inserted::Exists(v) => assert_eq!(v, got),
        Inserted::Created => panic!("a taken id was created again"),
    }
    assert_eq!(engine.get(MESSAGES, "absent").await.unwrap(), None);
}

pub async fn replace_needs_the_current_revision(factory: &impl EngineFactory) {
    let engine = factory(None).await;
    engine.insert(&doc("m1", 1, &["all"], "a")).await.unwrap();
    assert_eq!(
        engine
            .replace(&doc("m1", 1, &["all"], "b"), Revision::FIRST)
            .await
            .unwrap(),
        Replaced::Done(Revision(2))
    );
    match engine
        .replace(&doc("m1", 1, &["all"], "c"), Revision::FIRST)
        .await
        .unwrap()
    {
        Replaced::Stale(Some(v)) => {
            assert_eq!((v.revision, v.record.as_str()), (Revision(2), "m1=b"))
        }
        other => panic!("a stale revision was not refused: {other:?}"),
    }
    assert_eq!(
        engine.get(MESSAGES, "m1").await.unwrap().unwrap().record,
        "m1=b"
    );
    assert_eq!(
        engine
            .replace(&doc("gone", 1, &["all"], "x"), Revision::FIRST)
            .await
            .unwrap(),
        Replaced::Stale(None)
    );
    assert_eq!(engine.get(MESSAGES, "gone").await.unwrap(), None);
}

pub async fn concurrent_inserts_of_one_id_create_it_once(factory: &impl EngineFactory) {
    let engine = factory(None).await;
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let engine = engine.clone();
            tokio::spawn(async move {
                engine
                    .insert(&doc("race", 1, &["all"], &i.to_string()))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut created = 0;
    for t in tasks {
        if t.await.unwrap() == Inserted::Created {
            created += 1;
        }
    }
    assert_eq!(created, 1);
}

pub async fn concurrent_replaces_from_one_revision_succeed_once(factory: &impl EngineFactory) {
    let engine = factory(None).await;
    engine.insert(&doc("cas", 1, &["all"], "0")).await.unwrap();
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let engine = engine.clone();
            tokio::spawn(async move {
                engine
                    .replace(&doc("cas", 1, &["all"], &i.to_string()), Revision::FIRST)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut done = 0;
    for t in tasks {
        if t.await.unwrap() == Replaced::Done(Revision(2)) {
            done += 1;
        }
    }
    assert_eq!(done, 1);
}

/// Many inserts and then many settles at once, as under load (the Redis engine sends those
/// queued together in one call): each gets its own answer, and each document only its own change,
/// in its own indexes.
pub async fn concurrent_inserts_and_settles_each_get_their_own_answer(
    factory: &impl EngineFactory,
) {
    const TAIL: &str = ",\"owed\":{";
    let engine = factory(None).await;
    // Three shapes of document, in one, two and three indexes.
    let owing = |id: &str| {
        let n: usize = id[1..].parse().unwrap();
        Document {
            collection: ALERTS,
            id: id.to_owned(),
            body: format!(r#"{{"id":"{id}","owed":{{"event":"x"}}}}"#),
            created_ms: i64::try_from(n).unwrap(),
            indexes: ["all", "two", "three"][..1 + n % 3]
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
        }
    };
    let inserts: Vec<_> = (0..48)
        .map(|i| {
            let engine = engine.clone();
            let doc = owing(&format!("s{i}"));
            tokio::spawn(async move { engine.insert(&doc).await.unwrap() })
        })
        .collect();
    for t in inserts {
        assert_eq!(t.await.unwrap(), Inserted::Created);
    }
    let listed = |index: &'static str| {
        let engine = engine.clone();
        async move {
            let page = Page {
                collection: ALERTS,
                ..page(index, 0, 100)
            };
            let docs = engine.list(&page).await.unwrap();
            docs.iter()
                .map(|d| d.record[7..].split('"').next().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    let expected: Vec<String> = (0..48)
        .rev()
        .filter(|i| i % 3 == 2)
        .map(|i| format!("s{i}"))
        .collect();
    assert_eq!(listed("three").await, expected);
    assert_eq!(listed("all").await.len(), 48);
    // s0..s31 at their revision, s32..s39 at a stale one, s40..s47 after their removal, and
    // ids never stored: all at once.
    for i in 40..48 {
        assert!(engine.remove(ALERTS, &format!("s{i}")).await.unwrap());
    }
    let tasks: Vec<_> = (0..56)
        .map(|i| {
            let engine = engine.clone();
            tokio::spawn(async move {
                let expected = if (32..40).contains(&i) {
                    Revision(7)
                } else {
                    Revision::FIRST
                };
                let id = format!("s{i}");
                (
                    i,
                    engine
                        .cut_tail(ALERTS, &id, expected, Some(TAIL))
                        .await
                        .unwrap(),
                )
            })
        })
        .collect();
    for t in tasks {
        let (i, answer) = t.await.unwrap();
        let id = format!("s{i}");
        match i {
            0..32 => assert_eq!(answer, Replaced::Done(Revision(2)), "{id}"),
            32..40 => match answer {
                Replaced::Stale(Some(stored)) => {
                    assert_eq!(stored.revision, Revision::FIRST, "{id}");
                    assert_eq!(stored.record, owing(&id).body, "{id}");
                }
                other => panic!("{id}: {other:?}"),
            },
            _ => assert_eq!(answer, Replaced::Stale(None), "{id}"),
        }
    }
    for i in 0..32 {
        let read = engine.get(ALERTS, &format!("s{i}")).await.unwrap().unwrap();
        assert_eq!(read.record, format!(r#"{{"id":"s{i}"}}"#));
        assert_eq!(read.revision, Revision(2));
    }
}

pub async fn lists_are_newest_first_with_ties_by_id_descending(factory: &impl EngineFactory) {
    let engine = factory(None).await;
    for (id, ms) in [("a", 10), ("b", 30), ("c", 20), ("d", 30), ("e", 5)] {
        engine.insert(&doc(id, ms, &["all"], id)).await.unwrap();
    }
    let list = |p: Page| {
        let engine = engine.clone();
        async move { engine.list(&p).await.unwrap() }
    };
    assert_eq!(
        ids(&list(page("all", 0, 100)).await),
        ["d", "b", "c", "a", "e"]
    );
    assert_eq!(ids(&list(page("all", 1, 2)).await), ["b", "c"]);
    assert!(list(page("all", 5, 2)).await.is_empty());
    let oldest_first = Page {
        order: Order::OldestFirst,
        ..page("all", 0, 2)
    };
    assert_eq!(ids(&list(oldest_first).await), ["e", "a"]);
    assert!(list(page("no-such-index", 0, 10)).await.is_empty());
}

pub async fn a_page_of_several_indexes_is_their_union_in_order_with_ties_by_id(
    factory: &impl EngineFactory,
) {
    let engine = factory(None).await;
    let docs = [
        ("a", 10, "x"),
        ("b", 30, "y"),
        ("c", 20, "x"),
        ("d", 30, "x"),
        ("e", 5, "y"),
        ("f", 20, "z"),
        ("g", 40, "z"),
    ];
    for (id, ms, index) in docs {
        engine.insert(&doc(id, ms, &[index], id)).await.unwrap();
    }
    let union = |skip: usize, limit: usize| Page {
        indexes: vec!["x".into(), "y".into(), "missing".into()],
        ..page("x", skip, limit)
    };
    let list = |p: Page| {
        let engine = engine.clone();
        async move {
            let listed = engine.list(&p).await.unwrap();
            ids(&listed)
                .iter()
                .map(|id| (*id).to_owned())
                .collect::<Vec<String>>()
        }
    };
    assert_eq!(list(union(0, 100)).await, ["d", "b", "c", "a", "e"]);
    assert_eq!(list(union(1, 2)).await, ["b", "c"]);
    assert_eq!(list(union(3, 10)).await, ["a", "e"]);
    assert!(list(union(5, 10)).await.is_empty());
    let oldest_first = Page {
        order: Order::OldestFirst,
        ..union(1, 3)
    };
    assert_eq!(list(oldest_first).await, ["a", "c", "b"]);
    let in_range = Page {
        range: TimeRange::new(at(10), at(20)).unwrap(),
        ..union(0, 10)
    };
    assert_eq!(list(in_range).await, ["c", "a"]);
    let mut bodies = Vec::new();
    engine
        .list_bodies(&union(0, 2), &mut |body| bodies.push(body.to_owned()))
        .await
        .unwrap();
    assert_eq!(bodies, ["d=d", "b=b"]);
}

pub async fn a_replace_moves_the_document_between_indexes(factory: &impl EngineFactory) {
    let engine = factory(None).await;
    let processing = ["all", "status:PROCESSANDO"];
    engine.insert(&doc("m", 1, &processing, "p")).await.unwrap();
    engine.insert(&doc("n", 2, &processing, "p")).await.unwrap();
    engine
        .replace(
            &doc("m", 1, &["all", "status:CONCLUIDA"], "c"),
            Revision::FIRST,
        )
        .await
        .unwrap();
    let index = |name: &'static str| {
        let engine = engine.clone();
        async move { engine.list(&page(name, 0, 10)).await.unwrap() }
    };
    assert_eq!(ids(&index("status:PROCESSANDO").await), ["n"]);
    assert_eq!(ids(&index("status:CONCLUIDA").await), ["m"]);
    assert_eq!(ids(&index("all").await), ["n", "m"]);
}

pub async fn time_ranges_are_inclusive(factory: &impl EngineFactory) {
    let engine = factory(None).await;
    for (id, ms) in [("a", 100), ("b", 200), ("c", 300), ("d", 400)] {
        engine.insert(&doc(id, ms, &["all"], id)).await.unwrap();
    }
    let between = Page {
        range: TimeRange::new(at(200), at(300)).unwrap(),
        ..page("all", 0, 10)
    };
    assert_eq!(ids(&engine.list(&between).await.unwrap()), ["c", "b"]);
    let from = Page {
        range: TimeRange::new(at(300), None).unwrap(),
        ..page("all", 0, 10)
    };
    assert_eq!(ids(&engine.list(&from).await.unwrap()), ["d", "c"]);
}

pub async fn expired_documents_leave_get_and_every_index(factory: &impl EngineFactory) {
    let engine = factory(Some(Duration::from_millis(1000))).await;
    let indexes = ["all", "tipo:sms"];
    engine.insert(&doc("old", 1, &indexes, "x")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    engine.insert(&doc("new", 2, &indexes, "y")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(engine.get(MESSAGES, "old").await.unwrap(), None);
    assert!(engine.get(MESSAGES, "new").await.unwrap().is_some());
    assert_eq!(
        ids(&engine.list(&page("all", 0, 10)).await.unwrap()),
        ["new"]
    );
    assert_eq!(
        ids(&engine.list(&page("tipo:sms", 0, 10)).await.unwrap()),
        ["new"]
    );
    // The expired id is free again.
    assert_eq!(
        engine.insert(&doc("old", 3, &["all"], "z")).await.unwrap(),
        Inserted::Created
    );
}

pub async fn a_removed_document_leaves_get_and_every_index(factory: &impl EngineFactory) {
    let engine = factory(None).await;
    let indexes = ["all", "tipo:sms"];
    engine.insert(&doc("gone", 1, &indexes, "x")).await.unwrap();
    engine.insert(&doc("kept", 2, &indexes, "y")).await.unwrap();
    assert!(engine.remove(MESSAGES, "gone").await.unwrap());
    assert!(!engine.remove(MESSAGES, "gone").await.unwrap());
    assert_eq!(engine.get(MESSAGES, "gone").await.unwrap(), None);
    for index in indexes {
        assert_eq!(
            ids(&engine.list(&page(index, 0, 10)).await.unwrap()),
            ["kept"]
        );
    }
    // The id is free again, at the first revision.
    assert_eq!(
        engine.insert(&doc("gone", 3, &["all"], "z")).await.unwrap(),
        Inserted::Created
    );
    assert_eq!(
        engine
            .get(MESSAGES, "gone")
            .await
            .unwrap()
            .unwrap()
            .revision,
        Revision::FIRST
    );
}

pub async fn a_lasting_collection_keeps_its_documents_past_the_expiry(
    factory: &impl EngineFactory,
) {
    let engine = factory(Some(Duration::from_millis(300))).await;
    let rule = Document {
        collection: RULES,
        ..doc("r1", 1, &["all"], "x")
    };
    engine.insert(&rule).await.unwrap();
    engine.insert(&doc("m1", 1, &["all"], "x")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    // A write elsewhere trims what expired.
    engine.insert(&doc("m2", 2, &["all"], "y")).await.unwrap();
    assert_eq!(engine.get(MESSAGES, "m1").await.unwrap(), None);
    assert!(engine.get(RULES, "r1").await.unwrap().is_some());
    let page = Page {
        collection: RULES,
        ..page("all", 0, 10)
    };
    assert_eq!(ids(&engine.list(&page).await.unwrap()), ["r1"]);
}

/// Even when the reuse comes before any trim reached the expired document: 250 expired
/// documents are ahead of it, more than the Redis engine's trims take at once.
pub async fn an_id_reused_after_expiry_is_indexed_as_the_new_document_only(
    factory: &impl EngineFactory,
) {
    let engine = factory(Some(Duration::from_millis(800))).await;
    for i in 0..250 {
        let id = format!("x{i:03}");
        engine.insert(&doc(&id, i, &["all"], "x")).await.unwrap();
    }
    engine
        .insert(&doc("r", 1000, &["all", "status:CONCLUIDA"], "old"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    engine
        .insert(&doc("keep", 2000, &["all"], "k"))
        .await
        .unwrap();
    assert_eq!(
        engine
            .insert(&doc("r", 3000, &["all", "status:PROCESSANDO"], "new"))
            .await
            .unwrap(),
        Inserted::Created
    );
    assert_eq!(
        ids(&engine.list(&page("all", 0, 10)).await.unwrap()),
        ["r", "keep"]
    );
    assert_eq!(
        ids(&engine
            .list(&page("status:PROCESSANDO", 0, 10))
            .await
            .unwrap()),
        ["r"]
    );
    assert!(engine
        .list(&page("status:CONCLUIDA", 0, 10))
        .await
        .unwrap()
        .is_empty());
}

pub async fn collections_do_not_share_ids(factory: &impl EngineFactory) {
    let engine = factory(None).await;
    engine.insert(&doc("x", 1, &["all"], "m")).await.unwrap();
    let alert = Document {
        collection: ALERTS,
        ..doc("x", 1, &["all"], "a")
    };
    assert_eq!(engine.insert(&alert).await.unwrap(), Inserted::Created);
    let alerts = engine
        .list(&Page {
            collection: ALERTS,
            ..page("all", 0, 10)
        })
        .await
        .unwrap();
    assert_eq!(
        alerts.iter().map(|d| d.record.as_str()).collect::<Vec<_>>(),
        ["x=a"]
    );
}
