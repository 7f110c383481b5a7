//! End-to-end tests (written with the server issue).
