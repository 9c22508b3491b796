//! The statement budget of a lifecycle (issue #21): M-Pesa escrows run end to end the way
//! `malipo bench e2e` runs them — HTTP front in this process, two `malipo work` processes, the
//! fakes answering at once — while `pg_stat_statements` counts what malipo sends. Counts do not
//! drift with the machine's speed the way rates do, so this is the regression guard; the rate
//! is the benchmark's business.

use malipo::{
    bench::e2e::{self, E2eOptions},
    config::Config,
};
use malipo_testing::test_database;

/// Lifecycles counted: enough that the workers' idle rounds (lease renewals, sweeps) weigh
/// little beside them.
const LIFECYCLES: usize = 192;
/// In flight at once, as in the benchmark's usual runs (128) but smaller. (32 until
/// 2026-12-06: at 32 a claim finds one or two jobs ready, so claims and the bell's `pg_notify`
/// weighed ~8 statements per lifecycle against the benchmark's ~2.)
const CONCURRENCY: usize = 64;
/// Top-level statements per settled lifecycle, `BEGIN`/`COMMIT` included. Measured by this
/// test: 109–110 before the round trips of issue #21 were cut on 2026-12-05, 89–91 after
/// (claims vary by about one per lifecycle from run to run, with how many jobs each claim
/// finds ready); 85.7–86.6 once the front and `release_escrow` rang the job bell after their
/// commits (migration 0125) — 2.4–2.6 of them the bell's own `pg_notify`, and fewer claims;
/// 84.3–85.8 once a callback's outcome and its job's completion were one statement;
/// 83.1–83.7 once a settling payout move ended its waiting status check itself; 80.5–81.2 on
/// 2026-12-05 before, and 77.6–79.4 after, an STK callback naming an id already issued was
/// stored in one statement (the handle's lock only on the path where the callback may have
/// overtaken the job, which now takes the lock in the statement recording the id);
/// 72.9–74.2 on 2026-12-06 once a `process_webhook` job carried its delivery instead of
/// reading its inbox row back; 72.0–73.1 once `release_escrow` wrote both payouts in one
/// statement. (A client's release writing its move and its job in one statement took it to
/// 69.5–71.6 but was taken back: the job's CTE made every other move dearer to start.)
/// 69.5–71.1 on 2026-12-06 once a full payment's hold was one statement without a transaction
/// (`escrow::deposit::hold_alone`); 67.2–68.0 once a `payout` job carried a copy of its new
/// row instead of reading it back (67.6 with the rest of the flows suite running beside it).
/// 59.0–60.4 once a delivered share settled with its callback's finish in one call
/// (`malipo_settle_share`, migration 0131), at 120 lifecycles and 32 in flight; 56.1–57.0 at
/// the 192 lifecycles and 64 in flight counted since (`bench e2e`, 3,000 and 128: 53.0).
const BUDGET: f64 = 60.0;

#[tokio::test]
async fn a_lifecycle_stays_within_its_statement_budget() {
    let db = test_database().await.expect("test database");
    let config = Config::from_lookup(|_| None).expect("default config");
    let mut options = E2eOptions::mpesa(LIFECYCLES, CONCURRENCY);
    options.worker_exe = Some(env!("CARGO_BIN_EXE_malipo").into());
    let report = e2e::run(&db.pool, &db.url, &config, &options)
        .await
        .expect("the lifecycles run");
    assert_eq!(
        report.settled, LIFECYCLES,
        "every lifecycle settles: {:?}",
        report.failures
    );
    let counts = report.statements.expect(
        "pg_stat_statements is loaded (malipo's test cluster loads it when the PostgreSQL \
         install ships it; an external DATABASE_URL needs it in shared_preload_libraries)",
    );
    let listing: Vec<String> = counts
        .top
        .iter()
        .map(|(calls, query)| format!("{calls:>6.2}  {query}"))
        .collect();
    assert!(
        counts.statements_per_lifecycle <= BUDGET,
        "{} statements per lifecycle, over the budget of {BUDGET} ({} commits); most frequent:\n{}",
        counts.statements_per_lifecycle,
        counts.commits_per_lifecycle,
        listing.join("\n")
    );
    println!(
        "{} statements, {} commits, {} write transactions per lifecycle; most frequent:\n{}",
        counts.statements_per_lifecycle,
        counts.commits_per_lifecycle,
        counts.write_transactions_per_lifecycle,
        listing.join("\n")
    );
}
