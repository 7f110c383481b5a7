//! The embedded backends: [`MemoryStore`] and [`MemoryBus`], in process, with no service to run.
//!
//! They are real backends, not stubs: documents expire, indexes answer pages in
//! `O(log n + skip + limit)`, series keep their kind, cap and retention, records get offsets and
//! subscribers each receive every record. They are what a new user runs on, and the reference the
//! Redis and Kafka adapters are tested against (the behaviour suites of `integra-services`).
//! State lives in this process only: it is gone on restart and not shared between instances.

mod bus;
mod store;

pub use bus::MemoryBus;
pub use store::MemoryStore;
