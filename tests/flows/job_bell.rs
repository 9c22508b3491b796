//! The job bell (migration 0125, `queue::bell`): the hot paths' jobs are not notified from
//! inside their transactions, so their writers' rings after the commit are what wakes idle
//! workers. With the idle poll a minute away, an M-Pesa escrow still goes create → held →
//! settled in seconds: a ring lost anywhere on that path (a new intent's deposit job, the
//! callbacks' jobs, a client's release, `release_escrow`'s payouts) would hold it for the poll.

use std::time::Duration;

use serde_json::json;

use super::support::{Harness, Options, mpesa_intent};

/// Well under the idle poll: reached only if every hop was woken by a ring or a notification.
const LIMIT: Duration = Duration::from_secs(40);

#[tokio::test]
async fn an_escrow_settles_in_seconds_with_the_idle_poll_a_minute_away() {
    let harness = Harness::start_with(Options {
        idle_poll: Some(Duration::from_secs(60)),
        ..Options::default()
    })
    .await;
    let started = tokio::time::Instant::now();
    let created = harness.create(mpesa_intent("1500")).await;
    let id = created["id"].as_str().expect("id").to_owned();
    harness.wait_for(&id, "held", LIMIT).await;
    assert_eq!(harness.release(&id, json!({})).await.status(), 202);
    harness
        .wait_for(&id, "settled", LIMIT.saturating_sub(started.elapsed()))
        .await;
    harness.assert_ledger_sound().await;
}
