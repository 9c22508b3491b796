//! Benchmarks behind `malipo bench …`: they print JSON reports, they assert nothing.

mod command;
mod cpu;
pub mod e2e;
pub mod intake;
mod loopback;
pub mod notifications;
pub mod preload;
pub mod queue;
mod serves;
pub mod statements;
mod stats;
mod watch;
pub mod webhooks;

use serde_json::Value;
use sqlx::PgPool;

pub use command::BenchCommand;

use crate::config::Config;

/// Runs one benchmark on `pool` (its URL for the worker processes some start) and returns
/// its report.
pub async fn run(
    which: BenchCommand,
    pool: &PgPool,
    database_url: &str,
    config: &Config,
) -> anyhow::Result<Value> {
    Ok(match which {
        BenchCommand::Queue {
            jobs,
            backlog,
            latency_samples,
        } => serde_json::to_value(queue::run(pool, jobs, backlog, latency_samples).await?)?,
        BenchCommand::Intake {
            connections,
            requests,
            preload,
        } => {
            serde_json::to_value(intake::run(pool, config, connections, requests, preload).await?)?
        }
        BenchCommand::E2e(options) => {
            serde_json::to_value(e2e::run(pool, database_url, config, &options).await?)?
        }
        BenchCommand::Notifications {
            events,
            concurrency,
        } => serde_json::to_value(notifications::run(pool, events, concurrency).await?)?,
        BenchCommand::Webhooks {
            connections,
            deliveries,
            preload,
        } => serde_json::to_value(
            webhooks::run(pool, config, connections, deliveries, preload).await?,
        )?,
    })
}
