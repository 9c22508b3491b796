//! The chaos suite: 2,000 intents across Paystack, M-Pesa and Lightning through the real HTTP
//! front while the provider fakes fail, time out, rate-limit, duplicate and drop webhooks;
//! `malipo work` processes are SIGKILLed and restarted; PostgreSQL restarts once. Afterwards
//! nothing is lost, nothing is paid twice, the ledger balances and the dead letters drain.
//!
//! A binary of its own: restarting PostgreSQL reaches every test in the process. Bounded: it
//! finishes by itself in a few minutes. `MALIPO_CHAOS_SEED` replays a run's random choices (the
//! process scheduling is not replayable).

mod driver;
mod settle;
mod stack;
mod verdict;
mod workers;

use std::{
    fmt::Write,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use futures::StreamExt;
use malipo::{
    ops::{self, Actor, JobFilter},
    sandbox::FaultSettings,
};
use rand::{Rng, SeedableRng, rngs::StdRng};

use driver::{Api, Ctx, Tally};
use stack::Stack;
use workers::Fleet;

const INTENTS: usize = 2_000;
/// Drivers in flight: each spends most of its time waiting on backoffs and webhooks, so more
/// of them than cores keeps the 2-core machine busy and the storm inside its budget.
const IN_FLIGHT: usize = 64;
const WORKERS: usize = 2;
const PG_DOWN_FOR: Duration = Duration::from_secs(5);

/// The storm's weather: every call has a 10% chance of a 5xx and 10% of timing out (the call
/// still acting: the in-doubt case), 5% of a 429; 30% of webhooks come twice, 10% of M-Pesa
/// callbacks never come, 30% of Paystack transfers report out of order.
fn storm() -> FaultSettings {
    FaultSettings {
        server_error_probability: 0.10,
        timeout_probability: 0.10,
        timeout_hold: Duration::from_millis(1_500),
        timeout_performs_action: true,
        rate_limit_probability: 0.05,
        duplicate_webhook_probability: 0.30,
        webhook_delay: (Duration::ZERO, Duration::from_millis(300)),
        callback_drop_probability: 0.10,
        out_of_order_probability: 0.30,
        ..FaultSettings::default()
    }
}

/// One line of progress: elapsed, intents driven, intents per state, open jobs.
async fn progress(pool: &sqlx::PgPool, started: Instant, driven: usize) {
    let states: Vec<(String, i64)> =
        sqlx::query_as("SELECT status, count(*) FROM intents GROUP BY 1 ORDER BY 1")
            .fetch_all(pool)
            .await
            .unwrap_or_default();
    let jobs: Vec<(String, i64)> =
        sqlx::query_as("SELECT state, count(*) FROM malipo_jobs GROUP BY 1 ORDER BY 1")
            .fetch_all(pool)
            .await
            .unwrap_or_default();
    println!(
        "  [{:>4.0?}] {driven} driven; intents {states:?}; jobs {jobs:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_storm_of_faults_kills_and_a_database_restart_loses_nothing_and_pays_nothing_twice() {
    let started = Instant::now();
    let since = chrono::Utc::now();
    let seed = std::env::var("MALIPO_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x0063_6861_6f73_u64);
    let can_restart_pg = std::env::var_os("DATABASE_URL").is_none_or(|u| u.is_empty());
    let stack = Stack::start(seed).await;
    let fleet = Arc::new(Mutex::new(Fleet::start(WORKERS, stack.env.clone())));
    stack.fakes.faults().set_all(storm());

    let api = Api::new(&stack.base, &stack.key);
    let tally = Mutex::new(Tally::default());
    let ctx = Ctx {
        api: &api,
        fakes: &stack.fakes,
        recipients: &stack.recipients,
        tally: &tally,
        seed,
        patience: Duration::from_secs(40),
    };

    // Chaos: a SIGKILL every 1.5–4 s, a 429 burst every fourth tick, and PostgreSQL restarted
    // once, about a third of the way in.
    let calm = Arc::new(AtomicBool::new(false));
    let created = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let chaos = {
        let (fleet, calm, created) = (fleet.clone(), calm.clone(), created.clone());
        let faults = stack.fakes.faults();
        let pool = stack.pool.clone();
        // Joined with the drivers rather than spawned: the restart's future is not `Send`.
        async move {
            let mut rng = StdRng::seed_from_u64(seed);
            let (mut ticks, mut pg_restarts, mut bursts) = (0u32, 0u32, 0u32);
            let mut pg_error = None;
            while !calm.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(rng.random_range(1_500..4_000))).await;
                if calm.load(Ordering::Relaxed) {
                    break;
                }
                ticks += 1;
                if ticks % 4 == 1 {
                    progress(&pool, started, created.load(Ordering::Relaxed)).await;
                }
                {
                    let mut fleet = fleet.lock().unwrap_or_else(|e| e.into_inner());
                    let slot = rng.random_range(0..fleet.size());
                    fleet.kill_and_restart(slot);
                }
                if ticks % 4 == 0 {
                    bursts += 1;
                    faults.update_all(|f| f.rate_limit_probability = 0.8);
                    tokio::time::sleep(Duration::from_millis(1_000)).await;
                    faults
                        .update_all(|f| f.rate_limit_probability = storm().rate_limit_probability);
                }
                if pg_restarts == 0 && created.load(Ordering::Relaxed) >= INTENTS / 3 {
                    pg_restarts += 1;
                    if can_restart_pg
                        && let Err(error) = malipo::testing::restart_cluster(PG_DOWN_FOR).await
                    {
                        pg_error = Some(format!("{error:#}"));
                    }
                }
            }
            (pg_restarts, bursts, pg_error)
        }
    };

    let drivers = futures::stream::iter(0..INTENTS)
        .map(|n| {
            let ctx = &ctx;
            let created = created.clone();
            async move {
                let id = driver::drive(ctx, n).await;
                created.fetch_add(1, Ordering::Relaxed);
                id
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .filter_map(|id| async move { id })
        .collect::<Vec<String>>();
    let storm_run = async {
        let ids = drivers.await;
        calm.store(true, Ordering::Relaxed);
        ids
    };
    let (ids, (pg_restarts, bursts, pg_error)) = tokio::join!(storm_run, chaos);
    let storm_took = started.elapsed();
    assert!(
        pg_error.is_none(),
        "PostgreSQL restart failed: {pg_error:?}"
    );
    stack.fakes.faults().set_all(FaultSettings::default());
    let storm_counters = stack.fakes.counters();

    // After the storm: reconcile, finish, wait; then the dead letters, retried, must drain.
    let reconciled = settle::reconcile(&stack.worker_state, since).await;
    let quiet = settle::quiesce(
        &ctx,
        &stack.pool,
        &stack.worker_state,
        since,
        Duration::from_secs(60),
    )
    .await;
    let dead_before = verdict::dead_jobs(&stack.pool).await;
    let retried = ops::retry::retry_dead(&stack.pool, &Actor::cli(), &JobFilter::default(), false)
        .await
        .expect("retry dead letters");
    let drained = settle::quiesce(
        &ctx,
        &stack.pool,
        &stack.worker_state,
        since,
        Duration::from_secs(60),
    )
    .await;
    let settle_took = started.elapsed() - storm_took;

    let counters = stack.fakes.counters();
    let money = verdict::money_violations(&stack.pool, &counters).await;
    let misplaced = verdict::misplaced_intents(&stack.pool).await;
    let dead_after = verdict::dead_jobs(&stack.pool).await;
    let open_after = settle::open_jobs(&stack.pool).await;
    let tables = verdict::tables(&stack.pool).await;
    let (kills, spawns, unexpected, log_dir) = {
        let mut fleet = fleet.lock().unwrap_or_else(|e| e.into_inner());
        fleet.reap_unexpected();
        let summary = (
            fleet.kills,
            fleet.spawns,
            fleet.unexpected_exits.clone(),
            fleet.log_dir.clone(),
        );
        fleet.stop();
        summary
    };
    let inbox_rows: i64 = sqlx::query_scalar("SELECT count(*) FROM webhook_inbox")
        .fetch_one(&stack.pool)
        .await
        .expect("inbox");
    let tally = tally.into_inner().unwrap_or_else(|e| e.into_inner());

    let mut summary = String::new();
    let _ = writeln!(summary, "\n== chaos summary (seed {seed}) ==");
    let _ = writeln!(
        summary,
        "  storm {:.0?}, settle {:.0?}, total {:.0?}",
        storm_took,
        settle_took,
        started.elapsed()
    );
    let _ = writeln!(
        summary,
        "  drivers: {} intents created ({} create replays), {} deposits paid, {} releases, {} refunds, {} release/refund races, {} repeated-key replays, {} repeated-key in-flight answers, {} unfinished at patience",
        tally.created,
        tally.create_replays,
        tally.paid,
        tally.releases,
        tally.refunds,
        tally.races,
        tally.action_replays,
        tally.action_in_flight,
        tally.unfinished
    );
    summary.push_str(&tables);
    let _ = writeln!(
        summary,
        "  faults injected: {} 5xx, {} 429 ({} bursts), {} timeouts, {} callbacks dropped, {} webhooks duplicated",
        storm_counters.injected_5xx,
        storm_counters.injected_429 + storm_counters.rate_limited,
        bursts,
        storm_counters.injected_timeouts,
        storm_counters.callbacks_dropped,
        storm_counters.webhooks_duplicated
    );
    let _ = writeln!(
        summary,
        "  duplicates absorbed: {} deliveries ({} duplicated, {} failed) -> {} inbox rows",
        counters.webhooks_sent, counters.webhooks_duplicated, counters.webhook_failures, inbox_rows
    );
    let _ = writeln!(
        summary,
        "  workers: {kills} SIGKILLs, {spawns} processes started, unexpected exits {unexpected:?} (logs in {}, kept only if the suite fails)",
        log_dir.display()
    );
    let _ = writeln!(
        summary,
        "  PostgreSQL restarts: {} (down {PG_DOWN_FOR:?})",
        if can_restart_pg { pg_restarts } else { 0 }
    );
    let _ = writeln!(summary, "  reconciliation: {reconciled}");
    let _ = writeln!(
        summary,
        "  quiescent: {quiet}; dead letters {} -> {} retried -> drained: {drained}, {} dead, {open_after} open",
        dead_before.len(),
        retried.affected,
        dead_after.len()
    );
    let _ = writeln!(
        summary,
        "  payouts checked against provider initiations (Paystack refunds per refunded transaction)"
    );
    println!("{summary}");

    let mut failures: Vec<String> = Vec::new();
    failures.extend(tally.violations.iter().cloned());
    failures.extend(money);
    failures.extend(misplaced.iter().map(|(id, status, provider, flag)| {
        format!("intent {id} ({provider}) left {status}, flagged {flag:?}")
    }));
    failures.extend(
        dead_before
            .iter()
            .filter(|(_, _, error)| error.as_deref().is_none_or(str::is_empty))
            .map(|(id, kind, _)| format!("dead job {id} ({kind}) has no reason")),
    );
    failures.extend(dead_after.iter().map(|(id, kind, error)| {
        format!("job {id} ({kind}) is dead again after a retry: {error:?}")
    }));
    if open_after != 0 {
        failures.push(format!("{open_after} jobs still pending or running"));
    }
    if !unexpected.is_empty() {
        failures.push(format!(
            "worker processes exited by themselves: {unexpected:?}"
        ));
    }
    if ids.len() < INTENTS {
        failures.push(format!(
            "only {} of {INTENTS} intents were created",
            ids.len()
        ));
    }
    if !dead_before.is_empty() {
        let mut reasons: std::collections::BTreeMap<String, usize> = Default::default();
        for (_, kind, error) in &dead_before {
            let reason: String = error
                .clone()
                .unwrap_or_default()
                .chars()
                .take(100)
                .collect();
            *reasons.entry(format!("{kind}: {reason}")).or_default() += 1;
        }
        println!("  dead letters before the retry, by kind and reason: {reasons:#?}");
    }
    if failures.is_empty() {
        // Every CI run would otherwise leave ~40 worker logs in the temp dir.
        let _ = std::fs::remove_dir_all(&log_dir);
    }
    assert!(
        failures.is_empty(),
        "{} broken promises (first 40):\n{}",
        failures.len(),
        failures
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
