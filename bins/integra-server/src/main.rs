//! The Integra server: reads the configuration, sets up logging, and serves the
//! [`Application`] until SIGTERM or SIGINT.

use std::path::PathBuf;
use std::process::ExitCode;

use integra_server::settings::LogFormat;
use integra_server::{Application, Settings};

/// mimalloc instead of glibc's malloc: every request allocates its body, its JSON and its
/// records, and across the actix workers and librdkafka's threads glibc's arenas cost more.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str = "usage: integra-server [--config PATH]\n\nConfiguration layers, later wins: built-in defaults, config/default.toml, \
the --config file (or INTEGRA_CONFIG), then INTEGRA__SECTION__KEY environment variables.";

fn main() -> ExitCode {
    let config_path = match parse_args(std::env::args().skip(1)) {
        Ok(Some(path)) => path,
        Ok(None) => return say(USAGE, ExitCode::SUCCESS),
        Err(e) => return say(&format!("{e}\n\n{USAGE}"), ExitCode::from(2)),
    };
    let settings = match Settings::load(config_path) {
        Ok(s) => s,
        Err(e) => return say(&e.to_string(), ExitCode::from(2)),
    };
    init_logs(&settings);
    match actix_web::rt::System::new().block_on(serve(settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "the server stopped on an error");
            ExitCode::FAILURE
        }
    }
}

async fn serve(settings: Settings) -> Result<(), Box<dyn std::error::Error>> {
    let app = Application::build(&settings).await?;
    tracing::info!(
        address = %app.address(),
        store = ?settings.store.backend,
        bus = ?settings.bus.backend,
        "Integra listening on http://{}", app.address()
    );
    app.run_until_stopped().await?;
    tracing::info!("stopped");
    Ok(())
}

/// `Ok(Some(path))` to run (with `--config PATH` when given), `Ok(None)` for `--help`.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Option<PathBuf>>, String> {
    let mut config = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--config" => config = Some(PathBuf::from(args.next().ok_or("--config needs a PATH")?)),
            other => match other.strip_prefix("--config=") {
                Some(path) => config = Some(PathBuf::from(path)),
                None => return Err(format!("unknown argument `{other}`")),
            },
        }
    }
    Ok(Some(config))
}

/// Start-up messages, before logging exists.
#[allow(clippy::print_stderr)]
fn say(text: &str, code: ExitCode) -> ExitCode {
    eprintln!("{text}");
    code
}

fn init_logs(settings: &Settings) {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| tracing_subscriber::EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new(&settings.log.level));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match settings.log.format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Pretty => builder.init(),
    }
}
