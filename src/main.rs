//! The `malipo` binary: parses the command line and runs one subcommand.

use std::{process::ExitCode, sync::Arc};

use anyhow::Context;
use clap::Parser;
use malipo::{
    bench,
    cli::{
        BenchCommand, Cli, Command, DiscrepanciesCommand, IntentsCommand, LedgerCommand,
        ReconcileCommand,
    },
    config::Config,
    ops,
    providers::{HttpSettings, Providers, ProvidersConfig, mpesa::PgTokenStore},
    queue::backend::SHUTDOWN_GRACE,
    sandbox::{FakeProviders, SandboxSettings},
    startup::{self, Database},
    telemetry,
    worker::WorkerState,
};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::from_env() {
        Ok(config) => config,
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
            | Command::Bench { .. }
            | Command::Webhooks { .. }
    );
    // A benchmark's own per-request logging would be part of what it measures.
    let default_filter = if matches!(cli.command, Command::Bench { .. }) {
        "warn"
    } else {
        telemetry::DEFAULT_FILTER
    };
    telemetry::init(config.json_logs, answers_on_stdout, default_filter);
    ops::metrics::install();
    match run(cli.command, config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("malipo: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Run { sandbox } => run_all(config, sandbox).await,
        Command::Serve => serve(config).await,
        Command::Work { exit_with_parent } => work(config, exit_with_parent).await,
        Command::Migrate => {
            let database = Database::open(&config, true).await?;
            println!("migrations applied");
            database.close().await;
            Ok(())
        }
        Command::Clients { action } => {
            let database = Database::open(&config, false).await?;
            let result = malipo::cli::clients::run(action, &database.pool, &config).await;
            database.close().await;
            result
        }
        Command::Ledger {
            action: LedgerCommand::Check,
        } => {
            let database = Database::open(&config, false).await?;
            let violations = malipo::db::ledger::check(&database.pool).await;
            database.close().await;
            let violations = violations.context("failed to check the ledger")?;
            if violations.is_empty() {
                println!(
                    "ledger ok: every transaction balances and every account agrees with its intent"
                );
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
        command @ (Command::Jobs { .. } | Command::Queues { .. } | Command::Audit { .. }) => {
            let database = Database::open(&config, false).await?;
            let result = ops::console::run(command, &database.pool, &config).await;
            database.close().await;
            result
        }
        Command::Reconcile { action } => reconcile(action, &config).await,
        Command::Discrepancies { action } => {
            let database = Database::open(&config, false).await?;
            let result = money_command(action, &database.pool).await;
            database.close().await;
            result
        }
        Command::Intents {
            action: IntentsCommand::Stuck { older_than },
        } => {
            let older_than = match older_than {
                Some(text) => malipo::config::duration(&text).context("--older-than")?,
                None => config.stuck_after,
            };
            let database = Database::open(&config, false).await?;
            let result = ops::money::stuck_intents(&database.pool, older_than, Some(ops::MAX_PAGE))
                .await
                .map_err(anyhow::Error::from)
                .and_then(|rows| {
                    println!("{}", serde_json::to_string_pretty(&rows)?);
                    Ok(())
                });
            database.close().await;
            result
        }
        Command::Webhooks {
            action:
                malipo::cli::webhooks::WebhooksCommand::Listen {
                    client,
                    port,
                    events,
                    sandbox,
                },
        } => {
            let database = Database::open(&config, false).await?;
            let settings = malipo::notify::NotifySettings::from_env()
                .context("invalid notification settings")?;
            let settings = if sandbox {
                settings.for_sandbox()
            } else {
                settings
            };
            let bind = std::net::SocketAddr::from(([127, 0, 0, 1], port));
            let result = malipo::notify::listen::run(
                &database.pool,
                &settings,
                client,
                bind,
                events,
                startup::shutdown_signal(),
            )
            .await;
            database.close().await;
            result
        }
        Command::Webhooks {
            action: malipo::cli::webhooks::WebhooksCommand::Retry { delivery },
        } => {
            let database = Database::open(&config, false).await?;
            let result =
                ops::notifications::retry_delivery(&database.pool, &ops::Actor::cli(), delivery)
                    .await
                    .map(|round| println!("delivery {delivery}: round {round} queued"))
                    .map_err(anyhow::Error::from);
            database.close().await;
            result
        }
        Command::Webhooks {
            action:
                malipo::cli::webhooks::WebhooksCommand::Recover {
                    endpoint,
                    since,
                    until,
                },
        } => {
            let database = Database::open(&config, false).await?;
            let result = ops::notifications::recover_endpoint(
                &database.pool,
                &ops::Actor::cli(),
                endpoint,
                since,
                until,
            )
            .await
            .map(|count| println!("{count} deliveries of endpoint {endpoint} queued again"))
            .map_err(anyhow::Error::from);
            database.close().await;
            result
        }
        Command::Bench { which } => {
            let database = Database::open(&config, true).await?;
            let result = match which {
                BenchCommand::Queue {
                    jobs,
                    backlog,
                    latency_samples,
                } => bench::queue::run(&database.pool, jobs, backlog, latency_samples)
                    .await
                    .and_then(|r| Ok(serde_json::to_value(r)?)),
                BenchCommand::Intake {
                    connections,
                    requests,
                    preload,
                } => bench::intake::run(&database.pool, &config, connections, requests, preload)
                    .await
                    .and_then(|r| Ok(serde_json::to_value(r)?)),
                BenchCommand::E2e {
                    lifecycles,
                    concurrency,
                    notify,
                    provider,
                } => bench::e2e::run(
                    &database.pool,
                    &database.url,
                    &config,
                    lifecycles,
                    concurrency,
                    notify,
                    provider,
                )
                .await
                .and_then(|r| Ok(serde_json::to_value(r)?)),
                BenchCommand::Notifications {
                    events,
                    concurrency,
                } => bench::notifications::run(&database.pool, events, concurrency)
                    .await
                    .and_then(|r| Ok(serde_json::to_value(r)?)),
                BenchCommand::Webhooks {
                    connections,
                    deliveries,
                    preload,
                } => {
                    bench::webhooks::run(&database.pool, &config, connections, deliveries, preload)
                        .await
                        .and_then(|r| Ok(serde_json::to_value(r)?))
                }
            };
            database.close().await;
            let report = result?;
            println!(
                "{}",
                serde_json::to_string_pretty(&report).context("failed to print the report")?
            );
            Ok(())
        }
    }
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

async fn reconcile(action: ReconcileCommand, config: &Config) -> anyhow::Result<()> {
    let database = Database::open(config, false).await?;
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
            let options = malipo::worker::reconcile_mpesa::options(
                &job,
                malipo::worker::reconcile_mpesa::default_period(),
            )
            .map_err(|error| anyhow::anyhow!("{error:?}"))?;
            let state = WorkerState::from_env(database.pool.clone()).await?;
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

async fn run_all(config: Config, sandbox: bool) -> anyhow::Result<()> {
    let database = Database::open(&config, true).await?;
    spawn_metrics_listener(&config, &database);
    let listener = startup::bind(&config).await?;
    let (providers_config, fakes) = if sandbox {
        let address = listener.local_addr().context("listener has no address")?;
        let public_url = format!("http://{address}");
        let fakes = FakeProviders::start(SandboxSettings::default()).await?;
        let providers =
            malipo::sandbox::wiring::providers_config(&fakes, &public_url, HttpSettings::default());
        print_sandbox_banner(&fakes, &public_url);
        (providers, Some(fakes))
    } else {
        (
            ProvidersConfig::from_env().context("invalid provider configuration")?,
            None,
        )
    };
    let providers_config = Arc::new(providers_config);
    let worker_state = if sandbox {
        let providers = Providers::from_config(
            &providers_config,
            Arc::new(PgTokenStore::new(database.pool.clone())),
        )?;
        WorkerState::new(
            database.pool.clone(),
            providers,
            malipo::worker::commission_from(|name| std::env::var(name).ok())?,
        )
    } else {
        WorkerState::from_env(database.pool.clone()).await?
    };
    let notify = notify_settings(&database, sandbox).await?;
    let worker_state = worker_state.with_notifier(malipo::notify::Notifier::new(notify.clone())?);
    let runner = startup::start_workers(database.pool.clone(), &config, worker_state).await?;
    let state = startup::app_state_for(database.pool.clone(), &config, providers_config)
        .with_notify(notify);
    let served = startup::serve(listener, state, startup::shutdown_signal()).await;
    runner.shutdown(SHUTDOWN_GRACE).await;
    if let Some(fakes) = fakes {
        fakes.shutdown().await;
    }
    database.close().await;
    served
}

/// The notification settings from the environment (the sandbox's own key and loopback
/// allowance when `sandbox`), refusing to go on without `MALIPO_SECRETS_KEY` once endpoints exist.
async fn notify_settings(
    database: &Database,
    sandbox: bool,
) -> anyhow::Result<malipo::notify::NotifySettings> {
    let settings =
        malipo::notify::NotifySettings::from_env().context("invalid notification settings")?;
    let settings = if sandbox {
        settings.for_sandbox()
    } else {
        settings
    };
    malipo::notify::require_key_if_needed(&database.pool, &settings).await?;
    Ok(settings)
}

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

async fn serve(config: Config) -> anyhow::Result<()> {
    let database = Database::open(&config, false).await?;
    spawn_metrics_listener(&config, &database);
    let listener = startup::bind(&config).await?;
    let providers =
        Arc::new(ProvidersConfig::from_env().context("invalid provider configuration")?);
    let notify = notify_settings(&database, false).await?;
    let state =
        startup::app_state_for(database.pool.clone(), &config, providers).with_notify(notify);
    let served = startup::serve(listener, state, startup::shutdown_signal()).await;
    database.close().await;
    served
}

async fn work(config: Config, exit_with_parent: bool) -> anyhow::Result<()> {
    let parent = std::os::unix::process::parent_id();
    let database = Database::open(&config, false).await?;
    spawn_metrics_listener(&config, &database);
    notify_settings(&database, false).await?;
    let runner = startup::start_workers(
        database.pool.clone(),
        &config,
        WorkerState::from_env(database.pool.clone()).await?,
    )
    .await?;
    if exit_with_parent {
        tokio::select! {
            () = startup::shutdown_signal() => {}
            () = startup::parent_exit(parent) => {}
        }
    } else {
        startup::shutdown_signal().await;
    }
    runner.shutdown(SHUTDOWN_GRACE).await;
    database.close().await;
    Ok(())
}

/// Serves `/metrics` without a key on `MALIPO_METRICS_ADDR` when it is set (every role: a
/// `work` process has job metrics the web processes never see).
fn spawn_metrics_listener(config: &Config, database: &Database) {
    if let Some(address) = config.metrics_addr {
        let pool = database.pool.clone();
        let stuck_after = config.stuck_after;
        tokio::spawn(async move {
            if let Err(error) =
                malipo::http::metrics::serve_standalone(address, pool, stuck_after).await
            {
                tracing::error!(error = format!("{error:#}"), "metrics listener stopped");
            }
        });
    }
}
