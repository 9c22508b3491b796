//! The chaos suite: 2,000 intents across Paystack, M-Pesa and Lightning (10% of them paying
//! their payee out through Fincra) through malipo's HTTP
//! front (a process of its own) while the provider fakes fail, time out, rate-limit, duplicate,
//! drop and lie; `malipo work` processes are SIGKILLed and restarted, the front is SIGKILLed
//! once, and PostgreSQL (fsync on) crashes once. Afterwards the money is counted at the fakes
//! and must agree with the intents, the payouts and the ledger; lower bounds make sure the
//! faults really fired. See `verdict::RULES` for every promise checked.
//!
//! A binary of its own: it runs its own PostgreSQL. Bounded: it finishes by itself in a few
//! minutes. `MALIPO_CHAOS_SEED` replays a run's random choices (the process scheduling is not
//! replayable).

mod driver;
mod marketplace;
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
use malipo::ops::{self, Actor, JobFilter};
use malipo_sandbox::{CountersSnapshot, FaultSettings};
use rand::{Rng, SeedableRng, rngs::StdRng};

use driver::{Api, Ctx, Tally};
use stack::Stack;
use verdict::{Violation, push};
use workers::Fleet;

const INTENTS: usize = 2_000;
/// Drivers in flight: each spends most of its time waiting on backoffs and webhooks, so more
/// of them than cores keeps the 2-core machine busy and the storm inside its budget.
const IN_FLIGHT: usize = 64;
const WORKERS: usize = 2;
const PG_DOWN_FOR: Duration = Duration::from_secs(5);
/// Worker SIGKILLs a run must have made.
const MIN_WORKER_KILLS: u32 = 10;

/// The storm's weather: every call has a 10% chance of a 5xx before acting, 3% of a 5xx after
/// acting and 10% of timing out (still acting: the in-doubt case), 5% of a 429; 30% of webhooks
/// come twice and 10% twice at once; 10% of M-Pesa callbacks and LNbits webhooks never come;
/// 30% of Paystack transfers report out of order; 3% of payouts and 10% of Paystack refunds
/// fail; 10% of deposit callbacks and of payout/refund results are preceded by a lie.
fn storm() -> FaultSettings {
    FaultSettings {
        server_error_probability: 0.10,
        server_error_after_action_probability: 0.03,
        timeout_probability: 0.10,
        timeout_hold: Duration::from_millis(1_500),
        timeout_performs_action: true,
        rate_limit_probability: 0.05,
        duplicate_webhook_probability: 0.30,
        concurrent_duplicate_probability: 0.10,
        webhook_delay: (Duration::ZERO, Duration::from_millis(300)),
        callback_drop_probability: 0.10,
        webhook_drop_probability: 0.10,
        out_of_order_probability: 0.30,
        payout_failure_probability: 0.03,
        refund_failure_probability: 0.10,
        deposit_lie_probability: 0.10,
        payout_lie_probability: 0.10,
        ..FaultSettings::default()
    }
}

/// Each fault class, how often it fired, and the least a run must show.
fn fault_counts(c: &CountersSnapshot, bursts: u32) -> Vec<(&'static str, u64, u64)> {
    let failures = |channel: &str| c.injected_failures.get(channel).copied().unwrap_or(0);
    vec![
        ("5xx before acting", c.injected_5xx, 50),
        ("5xx after acting", c.injected_5xx_after_action, 20),
        ("timeouts (acting)", c.injected_timeouts, 50),
        ("429s", c.injected_429 + c.rate_limited, 50),
        ("429 bursts", u64::from(bursts), 3),
        ("webhooks duplicated", c.webhooks_duplicated, 50),
        (
            "webhooks duplicated at once",
            c.webhooks_duplicated_concurrently,
            20,
        ),
        ("M-Pesa callbacks dropped", c.callbacks_dropped, 20),
        ("LNbits webhooks dropped", c.webhooks_dropped, 5),
        ("B2C failures", failures("mpesa b2c"), 3),
        ("Lightning payment failures", failures("lnbits payment"), 2),
        (
            "Paystack transfer failures",
            failures("paystack transfer"),
            2,
        ),
        ("Paystack refund failures", failures("paystack refund"), 3),
        ("Fincra payout failures", failures("fincra payout"), 1),
        ("lies: forged failure", c.lies_of_kind("forged_failure"), 10),
        ("lies: forged success", c.lies_of_kind("forged_success"), 2),
        ("lies: wrong amount", c.lies_of_kind("wrong_amount"), 10),
    ]
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
async fn a_storm_of_faults_lies_kills_and_crashes_loses_no_money_and_pays_nothing_twice() {
    let started = Instant::now();
    let since = chrono::Utc::now();
    let seed = std::env::var("MALIPO_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x0063_6861_6f73_u64);
    let stack = Stack::start(seed).await;
    let fleet = Arc::new(Mutex::new(Fleet::start(
        WORKERS,
        stack.env.clone(),
        stack.log_dir.clone(),
    )));
    stack.fakes.faults().set_all(storm());

    let api = Api::new(&stack.base, &stack.key);
    marketplace::install(&stack.pool, &stack.base, &stack.key).await;
    let tally = Mutex::new(Tally::default());
    let ctx = Ctx {
        api: &api,
        fakes: &stack.fakes,
        recipients: &stack.recipients,
        tally: &tally,
        seed,
        patience: Duration::from_secs(40),
    };

    // Chaos: a worker SIGKILL every 1.5–4 s, a 429 burst every fourth tick, PostgreSQL crashed
    // once about a third of the way in, the HTTP front SIGKILLed once about two thirds in.
    let calm = Arc::new(AtomicBool::new(false));
    let created = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let chaos = {
        let (fleet, calm, created) = (fleet.clone(), calm.clone(), created.clone());
        let faults = stack.fakes.faults();
        let pool = stack.pool.clone();
        let (db, front, base) = (&stack.db, stack.front.clone(), stack.base.clone());
        // Joined with the drivers rather than spawned: it borrows the stack.
        async move {
            let mut rng = StdRng::seed_from_u64(seed);
            let (mut ticks, mut bursts) = (0u32, 0u32);
            let (mut pg_crashed, mut front_killed) = (false, false);
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
                let done = created.load(Ordering::Relaxed);
                if !pg_crashed && done >= INTENTS / 3 {
                    pg_crashed = true;
                    println!("  [{:>4.0?}] crashing PostgreSQL", started.elapsed());
                    if let Err(error) = db.crash_and_restart(PG_DOWN_FOR).await {
                        pg_error = Some(format!("{error:#}"));
                    }
                }
                if !front_killed && done >= 2 * INTENTS / 3 {
                    front_killed = true;
                    println!("  [{:>4.0?}] killing the HTTP front", started.elapsed());
                    front
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .kill_and_restart();
                    stack::wait_until_serving(&base).await;
                }
            }
            (bursts, pg_error)
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
    let (ids, (bursts, pg_error)) = tokio::join!(storm_run, chaos);
    let storm_took = started.elapsed();
    stack.fakes.faults().set_all(FaultSettings::default());
    let storm_counters = stack.fakes.counters();

    // After the storm: reconcile and wait; then the dead letters, retried, must drain. Nobody
    // pays, releases or rewrites anything on the storm's behalf.
    let mut settled = settle::Settled::default();
    settle::quiesce(
        &ctx,
        &stack.pool,
        &stack.worker_state,
        since,
        Duration::from_secs(75),
        &mut settled,
    )
    .await;
    let quiet = settled.quiet;
    let dead_before = verdict::dead_jobs(&stack.pool).await;
    let retried = ops::retry::retry_dead(&stack.pool, &Actor::cli(), &JobFilter::default(), false)
        .await
        .expect("retry dead letters");
    settled.quiet = false;
    settle::quiesce(
        &ctx,
        &stack.pool,
        &stack.worker_state,
        since,
        Duration::from_secs(30),
        &mut settled,
    )
    .await;
    let drained = settled.quiet;
    let settle_took = started.elapsed() - storm_took;
    // Checked while the workers still run: deliveries on their retry schedule finish first.
    let notification_failures =
        verdict::notification_violations(&stack.pool, &stack.receiver).await;

    let counters = stack.fakes.counters();
    let money = stack.fakes.money();
    let mut failures: Vec<Violation> = Vec::new();
    failures.extend(verdict::money_violations(&stack.pool, &money, &counters).await);
    failures.extend(verdict::marketplace_violations(&stack.pool, &money).await);
    let (intent_failures, settled_share) = verdict::intent_violations(&stack.pool, ids.len()).await;
    failures.extend(intent_failures);
    let dead_after = verdict::dead_jobs(&stack.pool).await;
    let open_after = settle::open_jobs(&stack.pool).await;
    let tables = verdict::tables(&stack.pool).await;
    let money_table = verdict::money_table(&stack.pool, &money).await;
    let discrepancies = verdict::discrepancy_counts(&stack.pool).await;
    let (kills, spawns, unexpected) = {
        let mut fleet = fleet.lock().unwrap_or_else(|e| e.into_inner());
        fleet.reap_unexpected();
        let summary = (fleet.kills, fleet.spawns, fleet.unexpected_exits.clone());
        fleet.stop();
        summary
    };
    let (front_kills, front_exit) = {
        let mut front = stack.front.lock().unwrap_or_else(|e| e.into_inner());
        let exit = front.exited_by_itself();
        let kills = front.kills;
        front.stop();
        (kills, exit)
    };
    let pg_crashes = *stack.db.crashes.lock().unwrap_or_else(|e| e.into_inner());
    let inbox_rows: i64 = sqlx::query_scalar("SELECT count(*) FROM webhook_inbox")
        .fetch_one(&stack.pool)
        .await
        .expect("inbox");
    // Deposits whose STK push went out from a run that died before recording the answer: the
    // run after it treats them as in doubt instead of prompting the buyer again.
    let pushed_then_died: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM intent_events WHERE type = 'deposit_in_doubt' AND detail->>'reason' = $1",
    )
    .bind(malipo::worker::EARLIER_RUN_STOPPED)
    .fetch_one(&stack.pool)
    .await
    .expect("in-doubt deposits");
    let tally = tally.into_inner().unwrap_or_else(|e| e.into_inner());
    let faults = fault_counts(&storm_counters, bursts);

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
        "  drivers: {} intents created ({} create replays), {} deposits paid, {} releases, {} refunds ({} asked again after a failed refund), {} failed payee shares sent again, {} release/refund races, {} repeated-key replays, {} repeated-key in-flight answers, {} unfinished at patience ({} acted on once held, {} cancelled unpaid, after the storm)",
        tally.created,
        tally.create_replays,
        tally.paid,
        tally.releases,
        tally.refunds,
        settled.refund_retries,
        settled.share_retries,
        tally.races,
        tally.action_replays,
        tally.action_in_flight,
        tally.unfinished,
        settled.late_actions,
        settled.cancelled
    );
    summary.push_str(&tables);
    summary.push_str(&marketplace::summary());
    let _ = writeln!(
        summary,
        "  {:<32}{:>8}{:>8}",
        "fault (storm)", "fired", "min"
    );
    for (name, fired, min) in &faults {
        let _ = writeln!(
            summary,
            "    {name:<30}{fired:>8}{min:>8}{}",
            if fired < min {
                "  <- below minimum"
            } else {
                ""
            }
        );
    }
    let mut lies: Vec<_> = storm_counters.lies.iter().collect();
    lies.sort();
    let _ = writeln!(summary, "  lies by channel: {lies:?}");
    let _ = writeln!(
        summary,
        "  duplicates absorbed: {} deliveries ({} duplicated, {} at once, {} failed) -> {} inbox rows",
        counters.webhooks_sent,
        counters.webhooks_duplicated,
        counters.webhooks_duplicated_concurrently,
        counters.webhook_failures,
        inbox_rows
    );
    let _ = writeln!(
        summary,
        "  STK pushes: {} account numbers prompted; {} deposits claimed by a run that died before recording the answer (then in doubt, not pushed again)",
        counters.stk_pushes_per_account.len(),
        pushed_then_died
    );
    summary.push_str(&money_table);
    let _ = writeln!(summary, "  discrepancies (kind, status): {discrepancies:?}");
    let _ = writeln!(
        summary,
        "  workers: {kills} SIGKILLs (min {MIN_WORKER_KILLS}), {spawns} processes started, unexpected exits {unexpected:?}"
    );
    let _ = writeln!(
        summary,
        "  HTTP front: {front_kills} SIGKILL (exactly 1 required); PostgreSQL (fsync on): {pg_crashes} crash-restart (exactly 1 required, down {PG_DOWN_FOR:?})"
    );
    let _ = writeln!(
        summary,
        "  reconciliation: {} runs, {} errors, last {}",
        settled.reconciliations,
        settled.reconcile_errors.len(),
        settled.last_reconciliation
    );
    let _ = writeln!(
        summary,
        "  settled or refunded: {:.1}% (min 85%); quiescent: {quiet}; dead letters {} -> {} retried -> drained: {drained}, {} dead, {open_after} open",
        settled_share * 100.0,
        dead_before.len(),
        retried.affected,
        dead_after.len()
    );
    let _ = writeln!(
        summary,
        "  logs in {} (kept only if the suite fails)",
        stack.log_dir.display()
    );
    println!("{summary}");

    for v in &tally.violations {
        push(&mut failures, "run", v.clone());
    }
    for (name, fired, min) in &faults {
        if fired < min {
            push(
                &mut failures,
                "minimums",
                format!("{name} fired {fired} times; the run needs {min}"),
            );
        }
    }
    if kills < MIN_WORKER_KILLS {
        push(
            &mut failures,
            "minimums",
            format!("{kills} worker SIGKILLs; the run needs {MIN_WORKER_KILLS}"),
        );
    }
    if pg_crashes != 1 || pg_error.is_some() {
        push(
            &mut failures,
            "minimums",
            format!(
                "{pg_crashes} PostgreSQL crash-restarts (error: {pg_error:?}); exactly 1 required"
            ),
        );
    }
    if front_kills != 1 {
        push(
            &mut failures,
            "minimums",
            format!("{front_kills} HTTP front kills; exactly 1 required"),
        );
    }
    failures.extend(verdict::reconciliation_violations(&stack.pool, &settled.last_findings).await);
    failures.extend(notification_failures);
    if settled.reconciliations == 0 {
        push(
            &mut failures,
            "reconciliation",
            "no reconciliation ran".to_owned(),
        );
    }
    for error in &settled.reconcile_errors {
        push(
            &mut failures,
            "run",
            format!("reconciliation failed: {error}"),
        );
    }
    for (id, kind, _) in dead_before
        .iter()
        .filter(|(_, _, error)| error.as_deref().is_none_or(str::is_empty))
    {
        push(
            &mut failures,
            "run",
            format!("dead job {id} ({kind}) has no reason"),
        );
    }
    for (id, kind, error) in &dead_after {
        push(
            &mut failures,
            "run",
            format!("job {id} ({kind}) is dead again after a retry: {error:?}"),
        );
    }
    if open_after != 0 {
        push(
            &mut failures,
            "run",
            format!("{open_after} jobs still pending or running after the settle phase"),
        );
    }
    if !unexpected.is_empty() {
        push(
            &mut failures,
            "run",
            format!("worker processes exited by themselves: {unexpected:?}"),
        );
    }
    if let Some(status) = front_exit {
        push(
            &mut failures,
            "run",
            format!("the HTTP front exited by itself: {status}"),
        );
    }
    if ids.len() != INTENTS {
        push(
            &mut failures,
            "intent-count",
            format!("only {} of {INTENTS} intents were created", ids.len()),
        );
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
        // Every CI run would otherwise leave ~40 process logs in the temp dir.
        let _ = std::fs::remove_dir_all(&stack.log_dir);
        return;
    }
    // CI keeps only the head and the tail of a failing run's output, and a panic's backtrace
    // would fill the tail. So the verdict is printed last, its one-line-per-rule headline at the
    // very end, and the test fails by unwinding without the panic hook (no message, no trace).
    println!("{}", verdict::report(&failures, 8));
    println!("{}", verdict::headline(&failures));
    std::panic::resume_unwind(Box::new("the chaos verdict found broken promises (above)"));
}
