//! The `malipo` binary: parses the command line and runs one subcommand.

use std::{future::Future, process::ExitCode};

use anyhow::Context;
use clap::Parser;
#[cfg(feature = "sandbox")]
use malipo::{bench, startup::sandbox as wiring};
use malipo::{
    cli::{
        Cli, Command, DiscrepanciesCommand, IntentsCommand, LedgerCommand, PayoutsCommand,
        ReconcileCommand,
    },
    config::Config,
    ops,
    settings::Settings,
    startup::{self, Application, Database},
    telemetry,
    worker::WorkerState,
};
#[cfg(feature = "sandbox")]
use malipo_sandbox::{FakeProviders, SandboxSettings};
use sqlx::PgPool;

/// mimalloc rather than glibc's malloc: `bench e2e` spent ~5% of the machine in glibc's malloc
/// and free (many short-lived buffers per request, job and query), and mimalloc took ~15% off
/// the malipo processes' CPU per lifecycle (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("malipo: invalid configuration: {error:#}");
            return ExitCode::from(2);
        }
    };
    let answers_on_stdout = matches!(
        cli.command,
        Command::Jobs { .. }
            | Command::Clients { .. }
            | Command::Queues { .. }
            | Command::Audit { .. }
            | Command::Discrepancies { .. }
            | Command::Intents { .. }
            | Command::Payouts { .. }
            | Command::Webhooks { .. }
    ) || cli.command.is_bench();
    let default_filter = if cli.command.is_bench() {
        "warn"
    } else {
        telemetry::DEFAULT_FILTER
    };
    telemetry::init(settings.app.json_logs, answers_on_stdout, default_filter);
    ops::metrics::install();
    match run(cli.command, settings).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("malipo: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    let config = &settings.app;
    match command {
        Command::Run { sandbox } => run_all(settings, sandbox).await,
        Command::Serve => serve(settings).await,
        Command::Work { exit_with_parent } => work(settings, exit_with_parent).await,
        Command::Migrate => {
            with_database(config, true, |_| async {
                println!("migrations applied");
                Ok(())
            })
            .await
        }
        Command::Clients { action } => {
            with_database(config, false, |pool| async move {
                malipo::cli::clients::run(action, &pool, config).await
            })
            .await
        }
        Command::Ledger {
            action: LedgerCommand::Check,
        } => {
            with_database(
                config,
                false,
                |pool| async move { ledger_check(&pool).await },
            )
            .await
        }
        command @ (Command::Jobs { .. } | Command::Queues { .. } | Command::Audit { .. }) => {
            let settings = &settings;
            with_database(config, false, |pool| async move {
                malipo::cli::console::run(command, &pool, settings).await
            })
            .await
        }
        Command::Reconcile { action } => reconcile(action, &settings).await,
        Command::Discrepancies { action } => {
            with_database(config, false, |pool| async move {
                money_command(action, &pool).await
            })
            .await
        }
        Command::Intents {
            action: IntentsCommand::Stuck { older_than },
        } => {
            let older_than = match older_than {
                Some(text) => malipo::config::duration(&text).context("--older-than")?,
                None => config.stuck_after,
            };
            with_database(config, false, |pool| async move {
                let rows =
                    ops::money::stuck_intents(&pool, older_than, Some(ops::MAX_PAGE)).await?;
                println!("{}", serde_json::to_string_pretty(&rows)?);
                Ok(())
            })
            .await
        }
        Command::Payouts {
            action: PayoutsCommand::ResendCommission { id, note, to },
        } => {
            let to = to
                .map(|text| malipo::settings::destination_from_text(&text))
                .transpose()
                .map_err(|error| anyhow::anyhow!("--to: {error}"))?;
            with_database(config, false, |pool| async move {
                let intent =
                    ops::payouts::resend_commission(&pool, &ops::Actor::cli(), id, to, &note)
                        .await?;
                println!("{}", serde_json::to_string_pretty(&intent)?);
                Ok(())
            })
            .await
        }
        Command::Webhooks { action } => {
            let notify = &settings.notify;
            with_database(config, false, |pool| async move {
                malipo::cli::webhooks::run(action, &pool, notify).await
            })
            .await
        }
        #[cfg(feature = "sandbox")]
        Command::Bench { which } => {
            let database = Database::open(config, true).await?;
            let result = bench::run(which, &database.pool, &database.url, config).await;
            database.close().await;
            println!(
                "{}",
                serde_json::to_string_pretty(&result?).context("failed to print the report")?
            );
            Ok(())
        }
    }
}

/// Opens the database (migrating when `migrate`), runs `command` on its pool and closes it,
/// whether the command succeeded or not.
async fn with_database<F, Fut>(config: &Config, migrate: bool, command: F) -> anyhow::Result<()>
where
    F: FnOnce(PgPool) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let database = Database::open(config, migrate).await?;
    let result = command(database.pool.clone()).await;
    database.close().await;
    result
}

/// `malipo ledger check`: prints every violated invariant and fails when there is one.
async fn ledger_check(pool: &PgPool) -> anyhow::Result<()> {
    let violations = malipo::db::ledger::check(pool)
        .await
        .context("failed to check the ledger")?;
    if violations.is_empty() {
        println!("ledger ok: every transaction balances and every account agrees with its intent");
        return Ok(());
    }
    for violation in &violations {
        println!(
            "VIOLATION {}: {} ({})",
            violation.rule, violation.subject, violation.detail
        );
    }
    anyhow::bail!("{} ledger invariant violation(s)", violations.len())
}

async fn money_command(action: DiscrepanciesCommand, pool: &sqlx::PgPool) -> anyhow::Result<()> {
    let printed = match action {
        DiscrepanciesCommand::List { all, limit } => {
            serde_json::to_string_pretty(&ops::money::discrepancies(pool, all, limit).await?)?
        }
        DiscrepanciesCommand::Resolve {
            id,
            resolution,
            note,
        } => serde_json::to_string_pretty(
            &ops::money::resolve(pool, &ops::Actor::cli(), id, resolution, &note).await?,
        )?,
    };
    println!("{printed}");
    Ok(())
}

async fn reconcile(action: ReconcileCommand, settings: &Settings) -> anyhow::Result<()> {
    let database = Database::open(&settings.app, false).await?;
    let result = match action {
        ReconcileCommand::Mpesa {
            since,
            pending_after,
        } => {
            let mut job = malipo_jobs::ReconcileMpesa {
                window_start: chrono::Utc::now().to_rfc3339(),
                since,
                pending_after_secs: None,
            };
            if let Some(text) = pending_after {
                job.pending_after_secs = Some(
                    malipo::config::duration(&text)
                        .context("--pending-after")?
                        .as_secs(),
                );
            }
            let options = malipo::worker::reconcile_mpesa::options(&job, &settings.app.reconcile)
                .map_err(|error| anyhow::anyhow!("{error:?}"))?;
            let state = WorkerState::build(database.pool.clone(), settings)?;
            malipo::reconcile::mpesa::run(&state, options)
                .await
                .map(|report| {
                    println!(
                        "report {}  ({} → {})",
                        report.id,
                        report.window_start.to_rfc3339(),
                        report.window_end.to_rfc3339()
                    );
                    for (class, count) in &report.summary {
                        println!("  {class:<20} {count}");
                    }
                })
        }
        ReconcileCommand::Show { id, csv } => {
            match malipo::reconcile::load(&database.pool, id).await? {
                Some(report) if csv => {
                    print!("{}", malipo::reconcile::to_csv(&report));
                    Ok(())
                }
                Some(report) => {
                    println!("{}", serde_json::to_string_pretty(&report)?);
                    Ok(())
                }
                None => Err(anyhow::anyhow!("no reconciliation report {id}")),
            }
        }
    };
    database.close().await;
    result
}

async fn run_all(settings: Settings, sandbox: bool) -> anyhow::Result<()> {
    let database = Database::open(&settings.app, true).await?;
    let listener = startup::bind(&settings.app).await?;
    #[cfg(not(feature = "sandbox"))]
    anyhow::ensure!(
        !sandbox,
        "this malipo was built without the `sandbox` feature: no fake providers to run against"
    );
    #[cfg(feature = "sandbox")]
    let application = if sandbox {
        let address = listener.local_addr().context("listener has no address")?;
        let public_url = format!("http://{address}");
        let fakes = FakeProviders::start(SandboxSettings::default()).await?;
        print_sandbox_banner(&fakes, &public_url);
        let settings = wiring::sandbox_settings(settings, &fakes, &public_url);
        Application::build(settings, database, Some(listener))
            .await?
            .with_fakes(fakes)
    } else {
        Application::build(settings, database, Some(listener)).await?
    };
    #[cfg(not(feature = "sandbox"))]
    let application = Application::build(settings, database, Some(listener)).await?;
    application
        .start(true)
        .await?
        .until(startup::shutdown_signal())
        .await
}

#[cfg(feature = "sandbox")]
fn print_sandbox_banner(fakes: &FakeProviders, public_url: &str) {
    println!(
        "malipo sandbox: API at {public_url}; fake Paystack {}, Daraja {}, LNbits {}, Fincra {}\n\
         create a key with `malipo clients create --name demo --mode test`, then see README.md (\"Walk a payment\").",
        fakes.paystack_base_url(),
        fakes.mpesa_base_url(),
        fakes.lnbits_base_url(),
        fakes.fincra_base_url()
    );
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let database = Database::open(&settings.app, false).await?;
    let listener = startup::bind(&settings.app).await?;
    Application::build(settings, database, Some(listener))
        .await?
        .start(false)
        .await?
        .until(startup::shutdown_signal())
        .await
}

async fn work(settings: Settings, exit_with_parent: bool) -> anyhow::Result<()> {
    let parent = std::os::unix::process::parent_id();
    let database = Database::open(&settings.app, false).await?;
    let running = Application::build(settings, database, None)
        .await?
        .start(true)
        .await?;
    running
        .until(async {
            if exit_with_parent {
                tokio::select! {
                    () = startup::shutdown_signal() => {}
                    () = startup::parent_exit(parent) => {}
                }
            } else {
                startup::shutdown_signal().await;
            }
        })
        .await
}
