//! End-to-end tests: each starts the built `integra-server` and drives it over real HTTP and
//! WebSocket. `make test` builds the server and starts Redis and the Kafka-compatible broker that
//! the `redis` and `kafka` modules use.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod alerts;
mod auth;
mod channels;
mod dashboard;
mod errors;
mod faults;
mod hostile;
mod kafka;
mod messages;
mod metrics;
mod operations;
mod redis;
mod rules;
mod secured;
mod websocket;
