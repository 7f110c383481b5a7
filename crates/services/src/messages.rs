//! MessageService: accept, publish exactly once, track the status, list.

use std::sync::Arc;
use std::time::{Duration, Instant};

use integra_domain::{
    CoordenadasKafka, Encoded, Evento, Mensagem, MessageFilter, NovaMensagem, Order, Paging,
    StatusMensagem, TimeRange, Timestamp,
};
use integra_ports::{BusError, Inserted, Outbound, Records, Replaced, Revision, Versioned};

use crate::ledger::Ledger;
use crate::{topics, Events, Ports, PublishConfig, ServiceError};

/// Below this share of the publish timeout, what a search left is not worth a publish: the resend
/// fails at once (`ERRO`, nothing published) rather than almost surely timing out.
const MIN_PUBLISH_SHARE: u32 = 10;

/// The outcome of a send that did not fail: the message as stored, with its JSON.
#[derive(Debug, Clone, PartialEq)]
pub enum Sent {
    /// Published now: a first send, or a new attempt after `ERRO`.
    Created(Encoded<Mensagem>),
    /// Already `CONCLUIDA`: nothing was published again.
    Replayed(Encoded<Mensagem>),
}

/// Sends messages to the bus and keeps their status in the store.
///
/// Each state of a message is serialized once ([`Encoded`]): the stored body, its
/// `mensagem.atualizada` event, the bus record and the answer are that one text.
pub struct MessageService {
    ledger: Ledger<Encoded<Mensagem>>,
}

impl MessageService {
    /// The service over these ports.
    pub fn new(
        ports: Ports<dyn Records<Encoded<Mensagem>>>,
        events: Events,
        publish: PublishConfig,
    ) -> Self {
        Self {
            ledger: Ledger::new(ports, events, publish),
        }
    }

    /// Sends a message: claims its id, publishes it to `messages.{tipo}` and records the outcome.
    /// Of any number of concurrent sends of one id, exactly one publishes.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] for a bad input or an id reused for another message;
    /// [`ServiceError::Conflict`] while another send of the id is in flight; a bus failure (the
    /// message is then `ERRO`, and a resend tries again); a store failure.
    pub async fn send(&self, input: NovaMensagem) -> Result<Sent, ServiceError> {
        let now = Timestamp::now();
        let message = Encoded::new(Mensagem::accept(input, now)?);
        match self.ledger.insert(&message).await? {
            Inserted::Created => {
                self.announce(&message);
                self.publish(message, Revision::FIRST)
                    .await
                    .map(Sent::Created)
            }
            Inserted::Exists(stored) => self.resend(&message, stored, now).await,
        }
    }

    /// Tells WebSocket clients and the system channels that `message` changed.
    fn announce(&self, message: &Encoded<Mensagem>) {
        self.ledger.events.emit_json(
            &Evento::MensagemAtualizada(message),
            Evento::mensagem_json(message),
        );
    }

    /// A send of an id that is already stored.
    async fn resend(
        &self,
        asked: &Mensagem,
        stored: Versioned<Encoded<Mensagem>>,
        now: Timestamp,
    ) -> Result<Sent, ServiceError> {
        let current = stored.record;
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
                .retry(current, stored.revision, now)
                .await
                .map(Sent::Created),
        }
    }

    /// Whether a `PROCESSANDO` message was left by a sender that can no longer be publishing it.
    fn abandoned(&self, m: &Mensagem, now: Timestamp) -> bool {
        m.status == StatusMensagem::Processando && !self.ledger.publish.holds(m.atualizado_em, now)
    }

    /// Takes the message up for a new attempt, if no one else did first, and publishes it,
    /// unless an earlier attempt that got no answer was stored on the bus after all: then that
    /// one is the delivery, and nothing is published again.
    async fn retry(
        &self,
        message: Encoded<Mensagem>,
        revision: Revision,
        now: Timestamp,
    ) -> Result<Encoded<Mensagem>, ServiceError> {
        let mut message = message.into_inner();
        let earlier = message.unanswered_attempts(self.ledger.publish.lease());
        message.begin_attempt(now)?;
        let message = Encoded::new(message);
        match self.ledger.replace(&message, revision).await? {
            Replaced::Done(revision) => {
                self.announce(&message);
                let outcome = match earlier {
                    Some(sent) => self.deliver_once(&message, sent).await,
                    None => self.ledger.publish(&outbound(&message)).await,
                };
                self.settle(message, revision, outcome).await
            }
            Replaced::Stale(_) => Err(ServiceError::Conflict(format!(
                "message {} is being sent",
                message.id
            ))),
        }
    }

    /// Publishes a message again only if no earlier attempt sent while `sent` is on the bus. The
    /// search and the publish share one publish timeout, so a resend answers as soon as a send.
    async fn deliver_once(
        &self,
        message: &Encoded<Mensagem>,
        sent: TimeRange,
    ) -> Result<CoordenadasKafka, BusError> {
        let started = Instant::now();
        let record = outbound(message);
        match self.ledger.find(&record, sent).await {
            Ok(Some(stored)) => {
                tracing::info!(id = %message.id, topic = %stored.topico, offset = stored.offset, "an earlier attempt was stored after all; not published again");
                Ok(stored)
            }
            Ok(None) => {
                let left = self
                    .ledger
                    .publish
                    .timeout
                    .saturating_sub(started.elapsed());
                if left < self.ledger.publish.timeout / MIN_PUBLISH_SHARE {
                    return Err(BusError::Timeout(format!(
                        "the search of the bus left no time to publish within {} ms",
                        self.ledger.publish.timeout.as_millis()
                    )));
                }
                self.ledger.publish_within(&record, left).await
            }
            Err(e) => Err(e.context("could not check whether an earlier attempt was stored")),
        }
    }

    /// Publishes a claimed message (stored at `revision`) and stores the outcome.
    async fn publish(
        &self,
        message: Encoded<Mensagem>,
        revision: Revision,
    ) -> Result<Encoded<Mensagem>, ServiceError> {
        let published = self.ledger.publish(&outbound(&message)).await;
        self.settle(message, revision, published).await
    }

    /// Stores the outcome of an attempt: `CONCLUIDA` where the bus stored it, or `ERRO`.
    async fn settle(
        &self,
        message: Encoded<Mensagem>,
        revision: Revision,
        published: Result<CoordenadasKafka, BusError>,
    ) -> Result<Encoded<Mensagem>, ServiceError> {
        let mut message = message.into_inner();
        let now = Timestamp::now();
        let failure = match published {
            Ok(coords) => {
                message.complete(coords, now)?;
                None
            }
            Err(e) => {
                message.fail(e.to_string(), now)?;
                Some(e)
            }
        };
        let message = Encoded::new(message);
        self.save_outcome(&message, revision).await?;
        self.announce(&message);
        match failure {
            None => Ok(message),
            Some(cause) => Err(ServiceError::publish(Some(message.into_inner().id), cause)),
        }
    }

    /// Stores the final status of an attempt. The claim guarantees the revision is still ours:
    /// no one takes a message over before its lease, which outlasts the publish timeout.
    async fn save_outcome(
        &self,
        message: &Encoded<Mensagem>,
        revision: Revision,
    ) -> Result<(), ServiceError> {
        if let Replaced::Stale(_) = self.ledger.replace(message, revision).await? {
            tracing::warn!(id = %message.id, "message was taken over before its outcome was saved");
        }
        Ok(())
    }

    /// Reads one message, with its JSON.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`], or a store failure.
    pub async fn get(&self, id: &str) -> Result<Encoded<Mensagem>, ServiceError> {
        match self.ledger.get(id).await? {
            Some(v) => Ok(v.record),
            None => Err(ServiceError::NotFound(format!("message {id}"))),
        }
    }

    /// Lists messages, newest first (ties by id descending).
    ///
    /// # Errors
    /// A store failure.
    pub async fn list(
        &self,
        filter: MessageFilter,
        paging: Paging,
    ) -> Result<Vec<Mensagem>, ServiceError> {
        let listed = self
            .ledger
            .list(&filter, paging, Order::NewestFirst)
            .await?;
        Ok(listed.into_iter().map(|v| v.record.into_inner()).collect())
    }

    /// The same page as [`MessageService::list`], as the JSON array the API answers, made of the
    /// stored JSON without parsing it.
    ///
    /// # Errors
    /// A store failure.
    pub async fn list_json(
        &self,
        filter: MessageFilter,
        paging: Paging,
    ) -> Result<String, ServiceError> {
        self.ledger
            .list_json(&filter, paging, Order::NewestFirst)
            .await
    }

    /// Takes up every message left `PROCESSANDO` past its lease by a sender that died, and
    /// publishes it again (or sets it to `ERRO`). Returns how many it took up.
    ///
    /// # Errors
    /// A store failure; a message another instance took first is passed over.
    pub async fn redrive_abandoned(&self) -> Result<usize, ServiceError> {
        const BATCH: usize = 100;
        let processing = MessageFilter {
            tipo: None,
            status: Some(StatusMensagem::Processando),
        };
        let (mut skip, mut taken) = (0, 0);
        loop {
            let batch = self
                .ledger
                .list(&processing, Paging::new(skip, BATCH)?, Order::OldestFirst)
                .await?;
            let now = Timestamp::now();
            let mut kept = 0;
            let found = batch.len();
            for stored in batch {
                if !self.abandoned(&stored.record, now) {
                    kept += 1;
                    continue;
                }
                tracing::info!(id = %stored.record.id, tentativas = stored.record.tentativas, "taking up an abandoned message");
                match self.retry(stored.record, stored.revision, now).await {
                    Ok(_) => taken += 1,
                    Err(e) if e.unpublished_id().is_some() => taken += 1,
                    Err(ServiceError::Conflict(_)) => kept += 1,
                    Err(e) => return Err(e),
                }
            }
            if found < BATCH {
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
fn outbound(m: &Encoded<Mensagem>) -> Outbound {
    Outbound {
        topic: topics::messages(m.tipo),
        key: m.id.to_string(),
        payload: m.json().as_bytes().to_vec(),
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
