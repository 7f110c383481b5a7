//! The layer below the [`Store`](integra_ports::Store) port: one generic document engine, and the
//! typed store every engine gets from it.
//!
//! A [`DocumentEngine`] keeps opaque documents, each with a revision (every change is a
//! compare-and-set) and the indexes it belongs in (every list is one index range, never a scan).
//! The embedded and Redis stores each implement it once. [`DocumentStore`] turns any engine into
//! the typed [`Records`](integra_ports::Records) of every [`Indexed`] record: the encoding and the
//! index layout live here, so a service never builds a key, an index name or a JSON text, and a
//! new kind of record is one `Indexed` implementation.

mod engine;
mod indexed;
mod store;

pub use engine::{Collection, Document, DocumentEngine, Page};
pub use indexed::{public_len, Facet, Indexed};
pub use store::DocumentStore;
