//! `malipo bench intake`: intent creations per second over HTTP through the real router on a
//! loopback listener, at a given number of concurrent connections, with p50/p99 latency.

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
use crate::{clients, config::Config, http::AllProviders};

/// The intake report.
#[derive(Debug, Serialize)]
pub struct IntakeReport {
    /// Concurrent connections.
    pub connections: usize,
    /// Requests sent.
    pub requests: usize,
    /// Requests answered 201.
    pub created: usize,
    /// Other answers.
    pub failed: usize,
    /// Successful creations per second.
    pub intents_per_sec: f64,
    /// Request latency.
    pub latency: Latency,
    /// Intents (with their events, keys and jobs) already in the tables.
    pub preloaded: i64,
}

/// Sends `requests` intent creations over `connections` connections, after adding `preload`
/// earlier intents to the tables.
pub async fn run(
    pool: &PgPool,
    config: &Config,
    connections: usize,
    requests: usize,
    preload: i64,
) -> anyhow::Result<IntakeReport> {
    let mut config = config.clone();
    // The benchmark measures the service, not the per-client limiter.
    config.rate_limit_per_sec = 1_000_000;
    config.rate_limit_burst = 1_000_000;
    let client = clients::create(pool, "bench-intake", "client", 250).await?;
    super::preload::intents(pool, client.id, preload).await?;
    let port = Port::bind().await?;
    let url = format!("{}/v1/intents", port.base);
    let front = port
        .serve(pool, super::loopback::settings_with(&config)?, |front| {
            front.provider_gate = Arc::new(AllProviders);
        })
        .await?;

    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()?;
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (http, next, url, key) = (http.clone(), next.clone(), url.clone(), client.key.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failed = 0usize;
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= requests {
                    return (latencies, failed);
                }
                let body = format!(
                    r#"{{"amount":"{}.00","currency":"KES","provider":"mpesa","buyer":{{"msisdn":"254708374149"}},"payee":{{"id":"seller-{n}","payout":{{"provider":"mpesa","msisdn":"254700000001"}}}},"reference":"bench-{n}"}}"#,
                    100 + n % 5_000
                );
                let sent = Instant::now();
                let answer = http
                    .post(&url)
                    .bearer_auth(&key)
                    .header("content-type", "application/json")
                    .header("idempotency-key", format!("bench-{n}"))
                    .body(body)
                    .send()
                    .await;
                match answer {
                    Ok(response) if response.status().as_u16() == 201 => latencies.push(sent.elapsed()),
                    _ => failed += 1,
                }
            }
        }));
    }
    let mut latencies = Vec::new();
    let mut failed = 0;
    for task in tasks {
        let (mut samples, failures) = task.await.context("load task panicked")?;
        latencies.append(&mut samples);
        failed += failures;
    }
    let elapsed = started.elapsed();
    front.stop().await;
    // Leave no work behind for a worker that starts on this database later.
    sqlx::query("DELETE FROM malipo_jobs WHERE kind = 'initiate_deposit' AND intent_id IN (SELECT id FROM intents WHERE client_id = $1)")
        .bind(client.id)
        .execute(pool)
        .await?;
    let created = latencies.len();
    Ok(IntakeReport {
        connections,
        requests,
        created,
        failed,
        intents_per_sec: round(created as f64 / elapsed.as_secs_f64()),
        latency: Latency::of(latencies),
        preloaded: preload,
    })
}
