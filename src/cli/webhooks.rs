//! `malipo webhooks …`: client notification tools.

use clap::Subcommand;
use uuid::Uuid;

/// Client notification tools.
#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// Registers a temporary endpoint for a client on a loopback receiver and prints every
    /// event delivered to it, verified (the server must allow loopback targets, as the sandbox does).
    Listen {
        /// The API client whose events to receive.
        #[arg(long)]
        client: Uuid,
        /// Loopback port to listen on (0: any free port).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Only these event types (comma-separated); all when empty.
        #[arg(long, value_delimiter = ',')]
        events: Vec<String>,
        /// Use the sandbox's key when MALIPO_SECRETS_KEY is not set (as `run --sandbox` does).
        #[arg(long)]
        sandbox: bool,
    },
    /// Sends one delivery again now (any client's; audited).
    Retry {
        /// The delivery id.
        delivery: Uuid,
    },
    /// Sends again every delivery of an endpoint whose event is in the window (audited).
    Recover {
        /// The endpoint id.
        endpoint: Uuid,
        /// Window start (RFC 3339).
        #[arg(long)]
        since: chrono::DateTime<chrono::Utc>,
        /// Window end (RFC 3339); now when absent.
        #[arg(long)]
        until: Option<chrono::DateTime<chrono::Utc>>,
    },
}

/// Runs one `malipo webhooks …` command on `pool`; `notify` is the process's notification
/// settings (the sandbox's key and loopback allowance with `listen --sandbox`).
pub async fn run(
    action: WebhooksCommand,
    pool: &sqlx::PgPool,
    notify: &crate::notify::NotifySettings,
) -> anyhow::Result<()> {
    use crate::ops::{self, Actor};
    match action {
        WebhooksCommand::Listen {
            client,
            port,
            events,
            sandbox,
        } => {
            let notify = if sandbox {
                notify.clone().for_sandbox()
            } else {
                notify.clone()
            };
            let bind = std::net::SocketAddr::from(([127, 0, 0, 1], port));
            crate::notify::listen::run(
                pool,
                &notify,
                client,
                bind,
                events,
                crate::startup::shutdown_signal(),
            )
            .await
        }
        WebhooksCommand::Retry { delivery } => {
            let round = ops::notifications::retry_delivery(pool, &Actor::cli(), delivery).await?;
            println!("delivery {delivery}: round {round} queued");
            Ok(())
        }
        WebhooksCommand::Recover {
            endpoint,
            since,
            until,
        } => {
            let count =
                ops::notifications::recover_endpoint(pool, &Actor::cli(), endpoint, since, until)
                    .await?;
            println!("{count} deliveries of endpoint {endpoint} queued again");
            Ok(())
        }
    }
}
