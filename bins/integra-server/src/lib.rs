//! The Integra server as a library: [`Settings`] (configuration layers, each part converting
//! itself into the configuration of what it sets up) and [`Application`] (the backends the
//! settings name, the services, the HTTP server, shutdown). The `integra-server` binary is a thin
//! `main` over them, and the end-to-end tests build the same application in process.

pub mod settings;
mod startup;

pub use settings::{Settings, SettingsError};
pub use startup::{Application, StartupError};
