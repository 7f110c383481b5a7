#![allow(clippy::print_stdout)]
//! Embedding the Integra services in another Rust program, on the in-process backends.
//!
//! Run with `cargo run -p integra-services --example embed`; `make test` runs it too.

use std::sync::Arc;
use std::time::Duration;

use integra_domain::{MessageFilter, NovaMensagem, Paging};
use integra_memory::{MemoryBus, MemoryEngine, MemoryStore};
use integra_ports::{NoopMetrics, Store};
use integra_services::{Hub, HubConfig, MessageService, Outgoing, Ports, PublishConfig, Sent};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 1. The ports: an expiring store, a bus, a metric sink (here one that drops everything).
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new(MemoryEngine::new(Some(
        Duration::from_secs(3600),
    ))));
    let ports = Ports::new(store, Arc::new(MemoryBus::default()), Arc::new(NoopMetrics));

    // 2. The hub, whose event handle the services use to announce changes.
    let (hub, events) = Hub::new(ports.presence(), ports.channels(), HubConfig::default());
    let _hub_tasks = hub.start();
    // Events published before the hub's subscription is live would not reach its connections.
    if !hub.wait_subscribed(Duration::from_secs(5)).await {
        return Err("the hub's fan-out subscription did not start".into());
    }
    let mut watcher = hub.connect().await?;

    // 3. A service, and a send.
    let messages = MessageService::new(ports.messages(), events, PublishConfig::default());
    let input: NovaMensagem = serde_json::from_str(
        r#"{"id": "pedido-42", "tipo": "email", "destinatario": "ana@example.com", "conteudo": "Olá"}"#,
    )?;
    let Sent::Created(sent) = messages.send(input).await? else {
        return Err("expected a first send".into());
    };
    let coords = sent.kafka.as_ref().ok_or("no coordinates")?;
    println!(
        "{} is {} at {}:{}",
        sent.id, sent.status, coords.topico, coords.offset
    );

    // 4. Query it back.
    let listed = messages
        .list(MessageFilter::default(), Paging::default())
        .await?;
    assert_eq!(listed.len(), 1);

    // 5. The connection saw its greeting and the status changes.
    for _ in 0..3 {
        if let Outgoing::Text(text) =
            tokio::time::timeout(Duration::from_secs(2), watcher.next()).await?
        {
            println!("ws: {text}");
        }
    }
    Ok(())
}
