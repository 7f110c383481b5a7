//! MessageService: accept, publish exactly once, track the status, list.

use std::sync::Arc;
use std::time::Duration;

use integra_domain::{
    KafkaCoords, Mensagem, NovaMensagem, StatusMensagem, Timestamp, TipoMensagem,
};
use integra_ports::{Collection, Document, Insert, Outbound, Page, Replace, Versioned};

use crate::records::{decode, message_doc, message_index};
use crate::{topics, Events, Paging, Ports, ServiceError};

/// The event of a message's status change.
const UPDATED: &str = "mensagem.atualizada";

/// How messages are published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageConfig {
    /// How long a publish may wait for the broker's acknowledgement (`bus.timeout_ms`).
    pub publish_timeout: Duration,
    /// How long past the publish timeout a `PROCESSANDO` message is left to its sender before
    /// another may take it up: the sender has either finished or died by then.
    pub takeover_margin: Duration,
}

impl Default for MessageConfig {
    fn default() -> Self {
        Self {
            publish_timeout: Duration::from_millis(5000),
            takeover_margin: Duration::from_secs(2),
        }
    }
}

impl MessageConfig {
    fn lease(&self) -> i64 {
        i64::try_from((self.publish_timeout + self.takeover_margin).as_millis()).unwrap_or(i64::MAX)
    }
}

/// The outcome of a send that did not fail.
#[derive(Debug, Clone, PartialEq)]
pub enum Sent {
    /// Published now (a first send, or a new attempt after `ERRO`): 201.
    Created(Mensagem),
    /// Already `CONCLUIDA`: nothing published again: 200 with `Idempotent-Replayed`.
    Replayed(Mensagem),
}

/// The filters of a message list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MessageFilter {
    /// Only this kind.
    pub tipo: Option<TipoMensagem>,
    /// Only this status.
    pub status: Option<StatusMensagem>,
}

/// Sends messages to the bus and keeps their status in the store.
pub struct MessageService {
    ports: Ports,
    events: Events,
    config: MessageConfig,
}

impl MessageService {
    /// The service over these ports.
    pub fn new(ports: Ports, events: Events, config: MessageConfig) -> Self {
        Self {
            ports,
            events,
            config,
        }
    }

    /// Sends a message: claims its id, publishes it to `messages.{tipo}` and records the outcome.
    /// Of any number of concurrent sends of one id, exactly one publishes.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] for a bad input or an id reused for another message;
    /// [`ServiceError::Conflict`] while another send of the id is in flight;
    /// [`ServiceError::Publish`] when the bus failed (the message is then `ERRO`);
    /// [`ServiceError::Store`] when the store failed.
    pub async fn send(&self, input: NovaMensagem) -> Result<Sent, ServiceError> {
        let now = Timestamp::now();
        let message = Mensagem::accept(input, now)?;
        let doc = message_doc(&message)?;
        match self.ports.insert(&doc).await? {
            Insert::Created => {
                self.events.emit_json(UPDATED, &doc.body);
                self.publish(message, 1, doc.body).await.map(Sent::Created)
            }
            Insert::Exists(stored) => self.resend(&message, stored, now).await,
        }
    }

    /// A send of an id that is already stored.
    async fn resend(
        &self,
        asked: &Mensagem,
        stored: Versioned,
        now: Timestamp,
    ) -> Result<Sent, ServiceError> {
        let current: Mensagem = decode(&stored.body)?;
        if !current.same_request(asked) {
            return Err(ServiceError::invalid(
                "id",
                format!("id {} is already used by a message with another tipo, destinatario or conteudo", asked.id),
            ));
        }
        match current.status {
            StatusMensagem::Concluida => Ok(Sent::Replayed(current)),
            StatusMensagem::Processando if !self.abandoned(&current, now) => Err(
                ServiceError::Conflict(format!("message {} is being sent", current.id)),
            ),
            StatusMensagem::Pendente | StatusMensagem::Processando | StatusMensagem::Erro => self
                .retry(current, stored.rev, now)
                .await
                .map(Sent::Created),
        }
    }

    /// Whether a `PROCESSANDO` message was left by a sender that can no longer be publishing it.
    fn abandoned(&self, m: &Mensagem, now: Timestamp) -> bool {
        m.status == StatusMensagem::Processando
            && m.atualizado_em.plus_millis(self.config.lease()) <= now
    }

    /// Takes the message up for a new attempt, if no one else did first, and publishes it.
    async fn retry(
        &self,
        mut message: Mensagem,
        rev: u64,
        now: Timestamp,
    ) -> Result<Mensagem, ServiceError> {
        message.begin_attempt(now)?;
        let doc = message_doc(&message)?;
        match self.ports.replace(&doc, rev).await? {
            Replace::Done(rev) => {
                self.events.emit_json(UPDATED, &doc.body);
                self.publish(message, rev, doc.body).await
            }
            Replace::Stale(_) => Err(ServiceError::Conflict(format!(
                "message {} is being sent",
                message.id
            ))),
        }
    }

    /// Publishes a claimed message (`body`: its stored JSON, which is also the record's value)
    /// and stores the outcome.
    async fn publish(
        &self,
        mut message: Mensagem,
        rev: u64,
        body: String,
    ) -> Result<Mensagem, ServiceError> {
        let record = outbound(&message, body);
        let published = self
            .ports
            .publish(&record, self.config.publish_timeout)
            .await;
        let now = Timestamp::now();
        let failure = match published {
            Ok(d) => {
                message.complete(
                    KafkaCoords {
                        topico: d.topic,
                        particao: d.partition,
                        offset: d.offset,
                    },
                    now,
                )?;
                None
            }
            Err(e) => {
                message.fail(e.to_string(), now)?;
                Some(e)
            }
        };
        let doc = message_doc(&message)?;
        self.save_outcome(&doc, rev).await?;
        self.events.emit_json(UPDATED, &doc.body);
        match failure {
            None => Ok(message),
            Some(source) => Err(ServiceError::Publish {
                id: Some(message.id.to_string()),
                source,
            }),
        }
    }

    /// Stores the final status of an attempt. The claim guarantees the revision is still ours:
    /// no one takes a message over before its lease, which outlasts the publish timeout.
    async fn save_outcome(&self, doc: &Document, rev: u64) -> Result<(), ServiceError> {
        match self.ports.replace(doc, rev).await? {
            Replace::Done(_) => Ok(()),
            Replace::Stale(_) => {
                tracing::warn!(id = %doc.id, "message was taken over before its outcome was saved");
                Ok(())
            }
        }
    }

    /// Reads one message.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`], or [`ServiceError::Store`].
    pub async fn get(&self, id: &str) -> Result<Mensagem, ServiceError> {
        match self.ports.get(Collection::Messages, id).await? {
            Some(v) => decode(&v.body),
            None => Err(ServiceError::NotFound(format!("message {id}"))),
        }
    }

    /// Lists messages, newest first (ties by id descending).
    ///
    /// # Errors
    /// [`ServiceError::Store`].
    pub async fn list(
        &self,
        filter: MessageFilter,
        paging: Paging,
    ) -> Result<Vec<Mensagem>, ServiceError> {
        let page = Page {
            collection: Collection::Messages,
            index: message_index(filter.tipo, filter.status),
            from_ms: None,
            to_ms: None,
            skip: paging.skip,
            limit: paging.limit,
            ascending: false,
        };
        let docs = self.ports.list(&page).await?;
        docs.iter().map(|v| decode(&v.body)).collect()
    }

    /// Takes up every message left `PROCESSANDO` past its lease by a sender that died, and
    /// publishes it again (or sets it to `ERRO`). Returns how many it took up.
    ///
    /// # Errors
    /// [`ServiceError::Store`] when the store fails; a message another instance took first is
    /// passed over.
    pub async fn redrive_abandoned(&self) -> Result<usize, ServiceError> {
        const BATCH: usize = 100;
        let index = message_index(None, Some(StatusMensagem::Processando));
        let (mut skip, mut taken) = (0, 0);
        loop {
            let page = Page {
                collection: Collection::Messages,
                index: index.clone(),
                from_ms: None,
                to_ms: None,
                skip,
                limit: BATCH,
                ascending: true,
            };
            let docs = self.ports.list(&page).await?;
            let now = Timestamp::now();
            let mut kept = 0;
            for doc in &docs {
                let message: Mensagem = decode(&doc.body)?;
                if !self.abandoned(&message, now) {
                    kept += 1;
                    continue;
                }
                tracing::info!(id = %message.id, tentativas = message.tentativas, "taking up an abandoned message");
                match self.retry(message, doc.rev, now).await {
                    Ok(_) | Err(ServiceError::Publish { .. }) => taken += 1,
                    Err(ServiceError::Conflict(_)) => kept += 1,
                    Err(e) => return Err(e),
                }
            }
            if docs.len() < BATCH {
                return Ok(taken);
            }
            // Messages taken up left the index; those kept still hold their places.
            skip += kept;
        }
    }

    /// Runs [`MessageService::redrive_abandoned`] every `every`, until the task is aborted.
    pub fn spawn_redriver(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let service = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = service.redrive_abandoned().await {
                    tracing::warn!(error = %e, "re-drive of abandoned messages failed");
                }
            }
        })
    }
}

/// The bus record of a message: key = id, value = its JSON, headers content-type, tipo, id.
fn outbound(m: &Mensagem, json: String) -> Outbound {
    Outbound {
        topic: topics::messages(m.tipo),
        key: m.id.to_string(),
        payload: json.into_bytes(),
        headers: vec![
            ("content-type".to_owned(), "application/json".to_owned()),
            ("tipo".to_owned(), m.tipo.to_string()),
            ("id".to_owned(), m.id.to_string()),
        ],
    }
}

#[cfg(test)]
#[path = "messages_tests.rs"]
mod tests;
