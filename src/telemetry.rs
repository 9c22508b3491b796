//! Logging: human-readable by default, JSON lines with `MALIPO_LOG_FORMAT=json`; `RUST_LOG` filters.

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

/// Installs the global subscriber; call once at startup.
pub fn init(json: bool) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,apalis=warn,apalis_core=warn"));
    let registry = tracing_subscriber::registry().with(filter);
    let installed = if json {
        registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true),
            )
            .try_init()
    } else {
        registry.with(fmt::layer().with_target(false)).try_init()
    };
    if installed.is_err() {
        // Already installed (tests start several apps in one process).
    }
}
