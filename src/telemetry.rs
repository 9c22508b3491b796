//! Logging: human-readable by default, JSON lines with `MALIPO_LOG_FORMAT=json`; `RUST_LOG` filters.

pub mod metrics;

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

/// What is logged when `RUST_LOG` is unset.
pub const DEFAULT_FILTER: &str = "info,sqlx=warn,apalis=warn,apalis_core=warn";

/// Installs the global subscriber; call once at startup. Logs go to stdout, or to stderr when
/// `to_stderr` (commands whose stdout is their answer, such as `malipo jobs list --json`);
/// `default_filter` applies when `RUST_LOG` is unset.
pub fn init(json: bool, to_stderr: bool, default_filter: &str) {
    let writer = move || -> Box<dyn std::io::Write> {
        if to_stderr {
            Box::new(std::io::stderr())
        } else {
            Box::new(std::io::stdout())
        }
    };
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let registry = tracing_subscriber::registry().with(filter);
    let installed = if json {
        registry
            .with(
                fmt::layer()
                    .with_writer(writer)
                    .json()
                    .flatten_event(true)
                    .with_current_span(true),
            )
            .try_init()
    } else {
        registry
            .with(fmt::layer().with_writer(writer).with_target(false))
            .try_init()
    };
    if installed.is_err() {
        // Already installed (tests start several apps in one process).
    }
}
