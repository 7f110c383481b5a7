//! The Integra services: [`MessageService`], [`MetricsService`], [`AlertService`] with its
//! [`SilenceService`] and [`RuleService`], the WebSocket [`Hub`] and the readiness [`Health`]. Each holds the part of the ports it uses and carries
//! every rule of the contract that is not a transport's concern; none knows HTTP or WebSocket.
//!
//! Embedding them on the in-process backends takes a few lines; see `examples/embed.rs`.

mod alerts;
mod catalog;
mod deferred;
mod error;
mod events;
mod health;
mod hub;
mod ledger;
mod messages;
mod metrics;
mod ports;
mod publish;
mod rules;
mod silences;
#[cfg(test)]
mod test_support;
pub mod topics;
mod wiring;

pub use alerts::{AlertOutcome, AlertService};
pub use deferred::{Deferred, DeferredTask};
pub use error::ServiceError;
pub use events::{Emitted, Events};
pub use health::{Check, Health, Readiness};
pub use hub::{
    ChannelsConfig, CloseReason, Connection, Hub, HubConfig, HubTasks, Mode, Outgoing, Publication,
};
pub use messages::{MessageService, Sent};
pub use metrics::{MetricsConfig, MetricsService, MAX_BATCH};
pub use ports::Ports;
pub use publish::PublishConfig;
pub use rules::{RuleService, RulesConfig, MAX_RULES};
pub use silences::{SilenceService, MAX_SILENCES};
pub use wiring::Services;
