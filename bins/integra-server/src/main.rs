//! The Integra server.
fn main() {}
