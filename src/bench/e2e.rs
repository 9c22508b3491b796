//! `malipo bench e2e`: full escrow lifecycles per second — create → deposit confirmed → release
//! → payouts settled — against the provider fakes with no added latency, with the HTTP front in
//! this process and two `malipo work` processes doing the jobs. `--provider mpesa` (STK push in,
//! B2C out) or `--provider fincra` (a Fincra checkout paid, then a Nigerian bank payout).

use std::{
    collections::HashMap,
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use rand::RngCore;
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::PgPool;

use super::{
    cpu::{CpuSample, CpuSplit},
    loopback::Port,
    serves::{Serves, reserve_bases},
    statements::{StatementCounter, StatementCounts},
    stats::{Latency, round},
    watch::Watcher,
};
use malipo_sandbox::{FakeProviders, MpesaSettings, SandboxSettings};

use crate::{clients, config::Config, settings::Settings};

/// Whose lifecycles the benchmark runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum BenchProvider {
    /// KES: an STK push the fake answers, a B2C payout (and the KES commission's).
    Mpesa,
    /// NGN: a Fincra checkout the benchmark pays at the fake (`charge.successful`, then
    /// verification by merchant reference), a Fincra bank payout.
    Fincra,
}

/// What `malipo bench e2e` runs.
#[derive(Debug, Clone, clap::Args)]
pub struct E2eOptions {
    /// Lifecycles in total.
    #[arg(long, default_value_t = 2_000)]
    pub lifecycles: usize,
    /// Lifecycles in flight at once.
    #[arg(long, default_value_t = 128)]
    pub concurrency: usize,
    /// Register one webhook endpoint (a loopback receiver) for the bench client, so every
    /// transition is also delivered as a signed event.
    #[arg(long)]
    pub notify: bool,
    /// Whose lifecycles: mpesa (STK push, B2C) or fincra (checkout, bank payout).
    #[arg(long, value_enum, default_value = "mpesa")]
    pub provider: BenchProvider,
    /// `malipo work` processes doing the jobs.
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    /// `malipo serve` processes taking the API requests (lifecycles spread over them) and the
    /// providers' callbacks (at the first); 0 serves from the benchmark's own process.
    #[arg(long, default_value_t = 0)]
    pub serves: usize,
    /// Settled lifecycles put in the tables first (intents, events, keys, callbacks, payouts,
    /// finished jobs, ledger postings), to measure growth; e.g. 1000000.
    #[arg(long, default_value_t = 0)]
    pub preload: i64,
    /// The `malipo` executable the worker processes run (this one when unset; a test names the
    /// built binary).
    #[arg(skip)]
    pub worker_exe: Option<std::path::PathBuf>,
}

impl E2eOptions {
    /// `lifecycles` M-Pesa lifecycles, `concurrency` at a time, with two workers.
    pub fn mpesa(lifecycles: usize, concurrency: usize) -> Self {
        Self {
            lifecycles,
            concurrency,
            notify: false,
            provider: BenchProvider::Mpesa,
            workers: 2,
            serves: 0,
            preload: 0,
            worker_exe: None,
        }
    }
}

/// The end-to-end report.
#[derive(Debug, Serialize)]
pub struct E2eReport {
    /// Whose lifecycles.
    pub provider: BenchProvider,
    /// Lifecycles attempted.
    pub lifecycles: usize,
    /// Lifecycles that reached `settled`.
    pub settled: usize,
    /// Settled lifecycles per second over the whole run.
    pub lifecycles_per_sec: f64,
    /// Creation to settled.
    pub creation_to_settled: Latency,
    /// Worker processes.
    pub worker_processes: usize,
    /// `malipo serve` processes (0: the front ran in the benchmark's process).
    pub serve_processes: usize,
    /// Settled lifecycles in the tables before the run (`--preload`).
    pub preloaded: i64,
    /// Lifecycles in flight at once.
    pub concurrency: usize,
    /// Why lifecycles did not settle (the first few).
    pub failures: Vec<String>,
    /// Callbacks the fakes could not deliver (no answer within their delivery timeout, or an
    /// error answer). Daraja does not retry, so each one leaves its lifecycle to reconciliation.
    pub callback_deliveries_failed: u64,
    /// CPU milliseconds per settled lifecycle, by process (Linux only): what 500 lifecycles/s
    /// on two cores would have to fit in 4 ms of.
    pub cpu_per_lifecycle: Option<CpuSplit>,
    /// Requests malipo made to the provider fakes per lifecycle, by endpoint (the cost of
    /// asking the provider before every money decision shows here).
    pub provider_requests_per_lifecycle: std::collections::BTreeMap<String, f64>,
    /// With `--notify`: the client's one webhook endpoint (a loopback receiver) and what it got.
    pub notifications: Option<NotifyTally>,
    /// Statements and transactions per settled lifecycle, when the database counts them
    /// (`pg_stat_statements`, loaded by malipo's private cluster).
    pub statements: Option<StatementCounts>,
}

/// What the endpoint of `bench e2e --notify` received.
#[derive(Debug, Serialize)]
pub struct NotifyTally {
    /// Deliveries that succeeded by the end of the run.
    pub delivered: i64,
    /// Deliveries still pending at the end.
    pub pending: i64,
    /// Requests the receiver saw.
    pub requests_received: usize,
}

/// How long one lifecycle may take before it counts as failed.
const PATIENCE: Duration = Duration::from_secs(60);

/// Kills the worker processes however the benchmark ends; if the benchmark itself is killed,
/// they stop by themselves (`work --exit-with-parent`).
struct Workers(Vec<Child>);

impl Drop for Workers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn token() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Runs the escrows `options` name against `database_url`.
pub async fn run(
    pool: &PgPool,
    database_url: &str,
    config: &Config,
    options: &E2eOptions,
) -> anyhow::Result<E2eReport> {
    let E2eOptions {
        lifecycles,
        concurrency,
        notify,
        provider,
        workers: worker_count,
        serves: serve_count,
        ..
    } = options.clone();
    let settings = SandboxSettings {
        mpesa: MpesaSettings {
            callback_delay: Duration::ZERO,
            ..MpesaSettings::default()
        },
        ..SandboxSettings::default()
    };
    let fakes = Arc::new(FakeProviders::start(settings).await?);
    let port = Port::bind().await?;
    let serve_bases = reserve_bases(serve_count)?;
    // Where the providers call back: the first serve process, or this process's front.
    let base = serve_bases.first().unwrap_or(&port.base).clone();
    let bases = if serve_bases.is_empty() {
        vec![port.base.clone()]
    } else {
        serve_bases.clone()
    };
    fakes.set_fincra_webhook_url(Some(format!("{base}/webhooks/fincra")));
    let (consumer_key, consumer_secret) = fakes.mpesa_consumer_credentials();
    let (shortcode, passkey) = fakes.mpesa_shortcode_and_passkey();
    let notify_key = crate::notify::SecretsKey::generate_base64();
    let mut env: HashMap<&str, String> = HashMap::from([
        ("MPESA_BASE_URL", fakes.mpesa_base_url()),
        ("MPESA_CONSUMER_KEY", consumer_key.to_owned()),
        ("MPESA_CONSUMER_SECRET", consumer_secret.to_owned()),
        ("MPESA_SHORTCODE", shortcode.to_owned()),
        ("MPESA_PASSKEY", passkey.to_owned()),
        ("MPESA_CALLBACK_TOKEN", token()),
        ("MPESA_INITIATOR_NAME", "benchapi".to_owned()),
        ("MPESA_SECURITY_CREDENTIAL", "YmVuY2g=".to_owned()),
        // The fakes answer at once; the benchmark measures malipo, not a provider's quota.
        ("MPESA_RATE_PER_SEC", "100000".to_owned()),
        ("FINCRA_BASE_URL", fakes.fincra_base_url()),
        ("FINCRA_SECRET_KEY", fakes.fincra_secret_key().to_owned()),
        ("FINCRA_PUBLIC_KEY", fakes.fincra_public_key().to_owned()),
        ("FINCRA_BUSINESS_ID", fakes.fincra_business_id().to_owned()),
        (
            "FINCRA_WEBHOOK_SECRET",
            fakes.fincra_webhook_secret().to_owned(),
        ),
        ("FINCRA_RATE_PER_SEC", "100000".to_owned()),
        ("MALIPO_PUBLIC_URL", base.clone()),
        (
            "MALIPO_COMMISSION_PAYOUT_KES",
            "mpesa:254700000099".to_owned(),
        ),
    ]);
    if notify {
        env.insert("MALIPO_SECRETS_KEY", notify_key.clone());
        env.insert("MALIPO_WEBHOOK_ALLOW_PRIVATE", "true".to_owned());
    }
    // The front is assembled from the same variables the worker processes are given.
    let mut settings =
        Settings::from_lookup(|name| env.get(name).cloned()).context("bench settings")?;
    settings.app = config.clone();
    settings.app.rate_limit_per_sec = 1_000_000;
    settings.app.rate_limit_burst = 1_000_000;
    let exe = match &options.worker_exe {
        Some(exe) => exe.clone(),
        None => std::env::current_exe().context("cannot find the malipo binary")?,
    };
    let front = if serve_bases.is_empty() {
        Some(port.serve(pool, settings, |_| {}).await?)
    } else {
        None
    };
    let serves = Serves::start(&exe, database_url, &env, &serve_bases).await?;
    let mut workers = Workers(Vec::new());
    for _ in 0..worker_count {
        let mut command = Command::new(&exe);
        command
            .args(["work", "--exit-with-parent"])
            .env("DATABASE_URL", database_url)
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (name, value) in &env {
            command.env(name, value);
        }
        workers.0.push(
            command
                .spawn()
                .context("failed to start a worker process")?,
        );
    }
    let client = clients::create(pool, "bench-e2e", "client", 1_000).await?;
    if options.preload > 0 {
        super::preload::lifecycles(pool, client.id, options.preload).await?;
    }
    let key = client.key.clone();
    let receiver = if notify {
        Some(super::notifications::register_receiver(pool, client.id, &notify_key).await?)
    } else {
        None
    };
    // Idle connections are dropped well before the front closes them (its keep-alive timeout):
    // a request sent on a connection the front is closing at that moment fails with "connection
    // closed before message completed", which lost a lifecycle in one 3,000-lifecycle run.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .pool_idle_timeout(config.front.keep_alive_timeout / 2)
        .build()?;

    let watcher = Watcher::start(pool.clone());
    let worker_ids: Vec<u32> = workers.0.iter().map(Child::id).collect();
    let serve_ids = serves.pids();
    let counter = StatementCounter::start(pool).await;
    let cpu_before = CpuSample::now(&worker_ids, &serve_ids);
    let started = Instant::now();
    let semaphore = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let mut tasks = Vec::new();
    for n in 0..lifecycles {
        let permit = semaphore.clone().acquire_owned().await?;
        let base = bases[n % bases.len()].clone();
        let (http, key, watcher) = (http.clone(), key.clone(), watcher.clone());
        let fakes = Arc::clone(&fakes);
        tasks.push(tokio::spawn(async move {
            let _permit = permit;
            let target = Target { provider, fakes };
            lifecycle(&http, &base, &key, &watcher, &target, n).await
        }));
    }
    let mut durations = Vec::new();
    let mut failures = Vec::new();
    for task in tasks {
        match task.await {
            Ok(Ok(duration)) => durations.push(duration),
            Ok(Err(error)) if failures.len() < 10 => failures.push(format!("{error:#}")),
            Err(error) if failures.len() < 10 => failures.push(error.to_string()),
            _ => {}
        }
    }
    let elapsed = started.elapsed();
    let cpu_after = CpuSample::now(&worker_ids, &serve_ids);
    let settled = durations.len();
    let statements = match counter {
        Some(counter) => counter.finish(pool, settled).await,
        None => None,
    };
    let notifications = match &receiver {
        Some(receiver) => Some(super::notifications::tally(pool, client.id, receiver).await?),
        None => None,
    };
    watcher.stop();
    drop(workers);
    drop(serves);
    if let Some(front) = front {
        front.stop().await;
    }
    // Payout jobs snooze to check again after their webhook settled them; leave nothing for
    // the next run's workers on this database.
    sqlx::query(
        "DELETE FROM malipo_jobs WHERE state IN ('pending', 'running')
            AND intent_id IN (SELECT id FROM intents WHERE client_id = $1)",
    )
    .bind(client.id)
    .execute(pool)
    .await?;

    let counters = fakes.counters();
    let callback_deliveries_failed = counters.webhook_failures;
    let per_lifecycle = lifecycles.max(1) as f64;
    let provider_requests_per_lifecycle = counters
        .requests
        .iter()
        .map(|(endpoint, count)| (endpoint.clone(), *count as f64 / per_lifecycle))
        .collect();
    // Every lifecycle task has ended, so this is the last handle.
    if let Ok(fakes) = Arc::try_unwrap(fakes) {
        fakes.shutdown().await;
    }
    Ok(E2eReport {
        provider,
        lifecycles,
        settled,
        lifecycles_per_sec: round(settled as f64 / elapsed.as_secs_f64()),
        creation_to_settled: Latency::of(durations),
        worker_processes: worker_count,
        serve_processes: serve_count,
        preloaded: options.preload,
        concurrency,
        failures,
        callback_deliveries_failed,
        provider_requests_per_lifecycle,
        notifications,
        cpu_per_lifecycle: cpu_before
            .zip(cpu_after)
            .and_then(|(before, after)| before.split_until(&after, settled)),
        statements,
    })
}

/// Whose lifecycle, and the fakes its buyer pays at.
struct Target {
    provider: BenchProvider,
    fakes: Arc<FakeProviders>,
}

impl Target {
    fn intent(&self, n: usize) -> Value {
        match self.provider {
            BenchProvider::Mpesa => {
                json!({"amount": format!("{}", 100 + n % 900), "currency": "KES", "provider": "mpesa", "buyer": {"msisdn": "254708374149"},
                      "payee": {"id": format!("seller-{n}"), "payout": {"provider": "mpesa", "msisdn": "254700000001"}}})
            }
            BenchProvider::Fincra => {
                json!({"amount": format!("{}.00", 1000 + n % 9000), "currency": "NGN", "provider": "fincra", "buyer": {"email": format!("buyer{n}@example.com")},
                      "payee": {"id": format!("seller-{n}"), "payout": {"provider": "fincra", "destination": "bank_account",
                          "bank_code": "058", "account_number": "0124775489", "account_name": "Bench Seller"}}})
            }
        }
    }

    /// The buyer pays: M-Pesa's fake answers the STK push by itself; a Fincra checkout is paid
    /// once it is open.
    async fn pay(&self, watcher: &Watcher, id: uuid::Uuid) -> anyhow::Result<()> {
        if self.provider == BenchProvider::Fincra {
            watcher
                .until(id, "awaiting_payment", PATIENCE)
                .await
                .map_err(anyhow::Error::msg)?;
            self.fakes
                .fincra_pay_checkout(&crate::escrow::deposit_reference(id), None, true)?;
        }
        Ok(())
    }
}

async fn lifecycle(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    watcher: &Watcher,
    target: &Target,
    n: usize,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let body = target.intent(n);
    let created: Value = http
        .post(format!("{base}/v1/intents"))
        .bearer_auth(key)
        .header("idempotency-key", format!("e2e-{n}"))
        .json(&body)
        .send()
        .await?
        .json()
        .await?;
    let id: uuid::Uuid = created["id"]
        .as_str()
        .context("no intent id")?
        .parse()
        .context("intent id is not a UUID")?;
    target.pay(watcher, id).await?;
    watcher
        .until(id, "held", PATIENCE)
        .await
        .map_err(anyhow::Error::msg)?;
    let released = http
        .post(format!("{base}/v1/intents/{id}/release"))
        .bearer_auth(key)
        .header("idempotency-key", format!("e2e-release-{n}"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await?;
    anyhow::ensure!(
        released.status() == reqwest::StatusCode::ACCEPTED,
        "release of {id} answered {}",
        released.status()
    );
    watcher
        .until(id, "settled", PATIENCE)
        .await
        .map_err(anyhow::Error::msg)?;
    Ok(started.elapsed())
}
