//! The automatic release with three `malipo work` *processes* competing for the timers: many
//! held intents due at the same instant, each released exactly once — one release request,
//! one payee payout, one transfer seen by the provider per payout.

use std::{
    process::{Child, Command, Stdio},
    time::Duration,
};

use malipo::db::payouts::reference_for;
use malipo_sandbox::ChargeOutcome;
use serde_json::json;
use uuid::Uuid;

use super::support::{Harness, paystack_intent};

const INTENTS: usize = 12;
const PROCESSES: usize = 3;
const LIMIT: Duration = Duration::from_secs(90);

/// Worker processes killed when the test ends, panics included.
struct Workers(Vec<Child>);

impl Drop for Workers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn spawn_worker(harness: &Harness) -> Child {
    Command::new(env!("CARGO_BIN_EXE_malipo"))
        .args(["work", "--exit-with-parent"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("DATABASE_URL", &harness.database_url)
        .env("MALIPO_PUBLIC_URL", &harness.base)
        .env("MALIPO_SECRETS_KEY", &harness.secrets_key)
        .env("MALIPO_WEBHOOK_ALLOW_PRIVATE", "true")
        .env("MALIPO_PROVIDER_TIMEOUT_SECS", "2")
        .env("PAYSTACK_BASE_URL", harness.fakes.paystack_base_url())
        .env("PAYSTACK_SECRET_KEY", harness.fakes.paystack_secret_key())
        .env("PAYSTACK_RATE_PER_MIN", "600000")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("malipo work starts")
}

#[tokio::test]
async fn the_automatic_release_fires_once_with_three_worker_processes() {
    let mut harness = Harness::start().await;
    let recipient = harness.paystack_recipient().await;
    let mut ids = Vec::new();
    for _ in 0..INTENTS {
        let mut body = paystack_intent("1000.00");
        body["payee"]["payout"]["recipient_code"] = recipient.clone().into();
        let created = harness.create(body).await;
        let id = created["id"].as_str().expect("id").to_owned();
        let waiting = harness.wait_for(&id, "awaiting_payment", LIMIT).await;
        let reference = waiting["next_action"]["reference"].as_str().expect("ref");
        harness
            .fakes
            .paystack_complete_charge(reference, ChargeOutcome::Success)
            .expect("buyer pays");
        ids.push(id);
    }
    for id in &ids {
        harness.wait_for(id, "held", LIMIT).await;
    }
    // From here only the three processes run jobs.
    harness.stop_workers().await;
    let workers = Workers((0..PROCESSES).map(|_| spawn_worker(&harness)).collect());
    // Each process has registered its runner (worker ids carry the pid) before the timers are set.
    let pids: Vec<String> = workers
        .0
        .iter()
        .map(|child| format!("-{}-", child.id()))
        .collect();
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let registered: Vec<String> = sqlx::query_scalar("SELECT id FROM malipo_workers")
            .fetch_all(&harness.pool)
            .await
            .expect("workers");
        if pids
            .iter()
            .all(|pid| registered.iter().any(|id| id.contains(pid.as_str())))
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the worker processes never registered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let at = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
    for id in &ids {
        let set = harness
            .post(
                &format!("/v1/intents/{id}/auto_release"),
                &json!({"at": at}),
                &Uuid::new_v4().to_string(),
            )
            .await;
        assert_eq!(set.status(), 200, "auto_release for {id}");
    }

    // Only the three processes run jobs now: settling proves they released and paid.
    for id in &ids {
        harness.wait_for(id, "settled", LIMIT).await;
    }
    let counters_at_end = harness.fakes.counters();
    for id in &ids {
        let intent = Uuid::parse_str(id).expect("uuid");
        let requests: Vec<(String,)> = sqlx::query_as(
            "SELECT detail->>'source' FROM intent_events
              WHERE intent_id = $1 AND type IN ('release_requested', 'part_release_requested')",
        )
        .bind(intent)
        .fetch_all(&harness.pool)
        .await
        .expect("events");
        assert_eq!(
            requests,
            [("auto_release".to_owned(),)],
            "{id} released once"
        );
        let payouts: Vec<(Uuid, String, i32)> =
            sqlx::query_as("SELECT id, kind, release_seq FROM payouts WHERE intent_id = $1")
                .bind(intent)
                .fetch_all(&harness.pool)
                .await
                .expect("payouts");
        // NGN commission stays in the platform account: one payee payout, nothing else.
        assert_eq!(payouts.len(), 1, "{id}: {payouts:?}");
        assert_eq!((payouts[0].1.as_str(), payouts[0].2), ("payee", 1));
        assert_eq!(
            counters_at_end.transfers_for(&reference_for(payouts[0].0)),
            1,
            "{id}: the provider saw one transfer"
        );
    }
    let done: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM malipo_jobs WHERE kind = 'auto_release' AND state = 'done'",
    )
    .fetch_one(&harness.pool)
    .await
    .expect("jobs");
    assert_eq!(
        done,
        i64::try_from(INTENTS).expect("small"),
        "one timer job each"
    );
    drop(workers);
    harness.assert_ledger_sound().await;
}
