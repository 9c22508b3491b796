//! `malipo bench webhooks`: Paystack webhook acknowledgements per second and their latency at
//! a given number of concurrent senders — signature check, inbox insert and job enqueue in one
//! transaction, through the real router on a loopback listener.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Instant,
};

use anyhow::Context;
use serde::Serialize;
use sqlx::PgPool;

use super::{
    loopback::Port,
    stats::{Latency, round},
};
use crate::{
    config::Config,
    http::{AllProviders, WebhookSecrets},
    providers::{Secret, signature::paystack_signature},
};

/// The webhook report.
#[derive(Debug, Serialize)]
pub struct WebhookReport {
    /// Concurrent senders.
    pub connections: usize,
    /// Deliveries sent.
    pub deliveries: usize,
    /// Answered 200.
    pub acknowledged: usize,
    /// Other answers.
    pub failed: usize,
    /// Acknowledgements per second.
    pub acks_per_sec: f64,
    /// Time to acknowledgement.
    pub latency: Latency,
    /// Inbox rows (with their jobs) already in the tables.
    pub preloaded: i64,
}

const SECRET: &str = "sk_test_bench";

/// Sends `deliveries` distinct signed `charge.success` events over `connections` senders, after
/// adding `preload` earlier events to the inbox.
pub async fn run(
    pool: &PgPool,
    config: &Config,
    connections: usize,
    deliveries: usize,
    preload: i64,
) -> anyhow::Result<WebhookReport> {
    super::preload::webhooks(pool, preload).await?;
    let port = Port::bind().await?;
    let url = format!("{}/webhooks/paystack", port.base);
    let secrets = WebhookSecrets {
        paystack_secret: Some(Secret::new(SECRET.to_owned())),
        ..WebhookSecrets::default()
    };
    let front = port
        .serve(pool, super::loopback::settings_with(config)?, |front| {
            front.provider_gate = Arc::new(AllProviders);
            front.webhook_secrets = Arc::new(secrets);
        })
        .await?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()?;
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (http, url, next, run_id) = (http.clone(), url.clone(), next.clone(), run_id.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failed = 0usize;
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= deliveries {
                    return (latencies, failed);
                }
                let body = format!(
                    r#"{{"event":"charge.success","data":{{"id":{n},"reference":"bench-{run_id}-{n}","amount":10000,"currency":"NGN","status":"success"}}}}"#
                );
                let signature = paystack_signature(SECRET, body.as_bytes());
                let sent = Instant::now();
                match http.post(&url).header("x-paystack-signature", signature).body(body).send().await {
                    Ok(response) if response.status().is_success() => latencies.push(sent.elapsed()),
                    _ => failed += 1,
                }
            }
        }));
    }
    let mut latencies = Vec::new();
    let mut failed = 0;
    for task in tasks {
        let (mut samples, failures) = task.await.context("sender panicked")?;
        latencies.append(&mut samples);
        failed += failures;
    }
    let elapsed = started.elapsed();
    front.stop().await;
    // Leave no work behind for a worker that starts on this database later.
    sqlx::query("DELETE FROM malipo_jobs WHERE kind = 'process_webhook' AND payload->>'inbox_id' IN (SELECT id::text FROM webhook_inbox WHERE convert_from(body, 'UTF8') LIKE '%bench-' || $1 || '%')")
        .bind(&run_id)
        .execute(pool)
        .await?;
    let acknowledged = latencies.len();
    Ok(WebhookReport {
        connections,
        deliveries,
        acknowledged,
        failed,
        acks_per_sec: round(acknowledged as f64 / elapsed.as_secs_f64()),
        latency: Latency::of(latencies),
        preloaded: preload,
    })
}
