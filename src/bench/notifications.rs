//! `malipo bench notifications`: signed events delivered per second to a receiver on loopback
//! at a given number of concurrent deliveries — the `deliver_event` job end to end (load,
//! open the secret, sign, POST, record the attempt), through the real queue.

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use anyhow::Context;
use serde::Serialize;
use serde_json::json;
use sqlx::PgPool;

use super::stats::round;
use crate::{
    clients,
    db::{
        events,
        webhook_endpoints::{self, NewEndpoint},
    },
    notify::{
        Notifier, NotifySettings, SecretsKey, WebhookSecret,
        receiver::{Receiver, Script},
    },
    queue::{QueueSettings, Runner},
    worker::{self, WorkerState},
};

/// The notifications report.
#[derive(Debug, Serialize)]
pub struct NotificationReport {
    /// Events delivered in the run.
    pub events: usize,
    /// Deliveries run at once.
    pub concurrency: usize,
    /// Delivered (2xx).
    pub delivered: i64,
    /// Not delivered by the end (should be 0).
    pub undelivered: i64,
    /// Requests the receiver saw (more than `events` would mean a resend).
    pub requests_received: usize,
    /// Of those, signatures that verified.
    pub verified: usize,
    /// Wall time from starting the workers to the last delivery.
    pub seconds: f64,
    /// Events delivered per second.
    pub events_per_sec: f64,
}

/// Queues `events` test events for one endpoint, then times workers delivering them.
pub async fn run(
    pool: &PgPool,
    events_total: usize,
    concurrency: usize,
) -> anyhow::Result<NotificationReport> {
    let client = clients::create(pool, "bench-notifications", "client", 0).await?;
    let receiver =
        Receiver::start(SocketAddr::from(([127, 0, 0, 1], 0)), Script::default()).await?;
    let settings = NotifySettings {
        secrets_key: Some(SecretsKey::generate()),
        allow_private: true,
        ..NotifySettings::default()
    };
    let key = settings
        .secrets_key
        .as_ref()
        .context("a key was just made")?;
    let secret = WebhookSecret::generate();
    receiver.verify_with(secret.clone());
    let mut conn = pool.acquire().await?;
    let endpoint = webhook_endpoints::insert(
        &mut conn,
        client.id,
        &NewEndpoint {
            url: receiver.url(),
            event_types: Vec::new(),
            description: Some("bench".to_owned()),
        },
        &key.seal(&secret),
    )
    .await?;
    // Seeding is not timed: the events and their jobs wait until the workers start.
    for chunk in (0..events_total).collect::<Vec<_>>().chunks(500) {
        let mut tx = pool.begin().await?;
        for n in chunk {
            events::record_test(
                &mut tx,
                client.id,
                endpoint.id,
                json!({"object": "bench", "n": n}),
            )
            .await?;
        }
        tx.commit().await?;
    }
    drop(conn);

    let state = WorkerState::new(pool.clone(), Default::default(), Default::default())
        .with_notifier(Notifier::new(settings)?);
    let queue = QueueSettings {
        queues: vec![malipo_jobs::queues::NOTIFICATIONS.to_owned()],
        concurrency,
        poll_interval: Duration::from_millis(50),
        ..QueueSettings::default()
    };
    let started = Instant::now();
    let runner = Runner::start(pool.clone(), queue, worker::handlers(), state).await?;
    let deadline = started + Duration::from_secs(600);
    let pending = loop {
        let pending: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = $1 AND status = 'pending'",
        )
        .bind(endpoint.id)
        .fetch_one(pool)
        .await?;
        if pending == 0 || Instant::now() > deadline {
            break pending;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let seconds = started.elapsed().as_secs_f64();
    runner.shutdown(Duration::from_secs(5)).await;
    let delivered: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = $1 AND status = 'succeeded'",
    )
    .bind(endpoint.id)
    .fetch_one(pool)
    .await?;
    let log = receiver.log();
    Ok(NotificationReport {
        events: events_total,
        concurrency,
        delivered,
        undelivered: pending,
        requests_received: log.len(),
        verified: log
            .iter()
            .filter(|d| matches!(d.verified, Some(Ok(()))))
            .count(),
        seconds: round(seconds),
        events_per_sec: round(delivered as f64 / seconds),
    })
}

/// Registers a loopback receiver as `client`'s endpoint (for `bench e2e --notify`), its secret
/// sealed with the base64 key the worker processes are given.
pub async fn register_receiver(
    pool: &PgPool,
    client: uuid::Uuid,
    key_base64: &str,
) -> anyhow::Result<Receiver> {
    let key = SecretsKey::parse(key_base64)?;
    let receiver =
        Receiver::start(SocketAddr::from(([127, 0, 0, 1], 0)), Script::default()).await?;
    let secret = WebhookSecret::generate();
    receiver.verify_with(secret.clone());
    let mut conn = pool.acquire().await?;
    webhook_endpoints::insert(
        &mut conn,
        client,
        &NewEndpoint {
            url: receiver.url(),
            event_types: Vec::new(),
            description: Some("bench e2e".to_owned()),
        },
        &key.seal(&secret),
    )
    .await?;
    Ok(receiver)
}

/// What `client`'s endpoint got by now.
pub async fn tally(
    pool: &PgPool,
    client: uuid::Uuid,
    receiver: &Receiver,
) -> anyhow::Result<super::e2e::NotifyTally> {
    let (delivered, pending): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE d.status = 'succeeded'), count(*) FILTER (WHERE d.status = 'pending')
           FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
          WHERE e.client_id = $1",
    )
    .bind(client)
    .fetch_one(pool)
    .await?;
    Ok(super::e2e::NotifyTally {
        delivered,
        pending,
        requests_received: receiver.log().len(),
    })
}
