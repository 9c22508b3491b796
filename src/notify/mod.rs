//! Outgoing notifications (Standard Webhooks): signing, sealed endpoint secrets, event types,
//! the envelope, the retry schedule, the SSRF guard and one delivery attempt. The tables are
//! `db::{events, webhook_endpoints, webhook_deliveries}`; the job is `worker::deliver_event`;
//! the API is `http::{webhook_endpoints, events}`.

pub mod attempt;
pub mod envelope;
pub mod listen;
pub mod metrics;
pub mod receiver;
pub mod schedule;
pub mod secret_box;
pub mod settings;
pub mod signature;
pub mod ssrf;

pub use crate::domain::{DeliveryStatus, event_type};
pub use secret_box::SecretsKey;
pub use settings::NotifySettings;
pub use signature::{WebhookSecret, verify};

/// What a process needs to send deliveries: the settings and one HTTP client.
#[derive(Clone)]
pub struct Notifier {
    /// The settings.
    pub settings: NotifySettings,
    /// The HTTP sender.
    pub sender: attempt::Sender,
}

impl Notifier {
    /// A notifier with `settings`.
    pub fn new(settings: NotifySettings) -> anyhow::Result<Self> {
        let sender = attempt::Sender::new(&settings)?;
        Ok(Self { settings, sender })
    }
}

/// Counts one delivery attempt by outcome (`delivered`, `retried`, `failed`, `gone`).
pub fn count_attempt(outcome: &'static str) {
    ::metrics::counter!("malipo_notification_attempts_total", "outcome" => outcome).increment(1);
}

/// Counts one endpoint disabled by malipo, by reason (`gone`, `failing`).
pub fn count_endpoint_disabled(reason: &'static str) {
    ::metrics::counter!("malipo_webhook_endpoints_disabled_total", "reason" => reason).increment(1);
}

/// Refuses to start a process that would store or send endpoint secrets without
/// `MALIPO_SECRETS_KEY`: once any endpoint exists, the key is required (the sandbox makes one).
pub async fn require_key_if_needed(
    pool: &sqlx::PgPool,
    settings: &NotifySettings,
) -> anyhow::Result<()> {
    if settings.secrets_key.is_none() && crate::db::webhook_endpoints::any_exist(pool).await? {
        anyhow::bail!(
            "MALIPO_SECRETS_KEY is required: webhook endpoints exist and their secrets are sealed with it \
             (generate one with `openssl rand -base64 32`)"
        );
    }
    Ok(())
}
