//! The system under chaos: provider fakes, malipo's HTTP front as a `malipo serve` process,
//! the environment the `malipo serve` and `malipo work` processes are started with — one map
//! for all, so callback tokens agree and webhooks verify — and a PostgreSQL cluster of the
//! suite's own, with fsync on, that the storm crashes once (an immediate stop, then crash
//! recovery): the shared test cluster runs with fsync off, where a crash proves nothing.

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::Context as _;
use malipo::{clients, pg::LocalCluster, settings::Settings, worker::WorkerState};
use malipo_sandbox::{
    FakeProviders, MpesaSettings, PaystackSettings, SandboxSettings, StkOutcome, StkResult,
    TransferOutcome,
};
use rand::RngCore;
use sqlx::{PgPool, postgres::PgPoolOptions};

use super::workers::Front;

/// The suite's own durable cluster in /tmp, stopped and removed when dropped.
pub struct ChaosDb {
    dir: PathBuf,
    cluster: Mutex<Option<LocalCluster>>,
    /// Its database's URL.
    pub url: String,
    /// Crash-restarts done.
    pub crashes: Mutex<u32>,
}

impl ChaosDb {
    /// Creates and starts a cluster with fsync on (what `malipo run` creates) and migrates it.
    async fn start() -> Self {
        let dir = PathBuf::from(format!(
            "/tmp/malipo-chaos-{}-{:08x}",
            std::process::id(),
            rand::rng().next_u32()
        ));
        let at = dir.clone();
        let cluster = tokio::task::spawn_blocking(move || LocalCluster::ensure_running(&at))
            .await
            .expect("join")
            .expect("the chaos suite's PostgreSQL starts (server binaries installed?)");
        let url = cluster.database_url();
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .connect(&url)
            .await
            .expect("connect");
        malipo::db::migrate(&pool).await.expect("migrate");
        pool.close().await;
        Self {
            dir,
            cluster: Mutex::new(Some(cluster)),
            url,
            crashes: Mutex::new(0),
        }
    }

    /// Crashes PostgreSQL (`-m immediate`: no checkpoint, sessions cut), waits `down_for`, and
    /// starts it again on the same port through crash recovery.
    pub async fn crash_and_restart(&self, down_for: Duration) -> anyhow::Result<()> {
        let cluster = self
            .cluster
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .context("no cluster")?;
        let port = cluster.port();
        let cluster = tokio::task::spawn_blocking(move || cluster.crash().map(|()| cluster))
            .await
            .context("join")??;
        drop(cluster);
        tokio::time::sleep(down_for).await;
        let dir = self.dir.clone();
        let restarted = tokio::task::spawn_blocking(move || LocalCluster::ensure_running(&dir))
            .await
            .context("join")??;
        anyhow::ensure!(
            restarted.port() == port,
            "PostgreSQL came back on port {} instead of {port}",
            restarted.port()
        );
        *self.cluster.lock().unwrap_or_else(|e| e.into_inner()) = Some(restarted);
        *self.crashes.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        Ok(())
    }
}

impl Drop for ChaosDb {
    fn drop(&mut self) {
        if let Some(cluster) = self
            .cluster
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            let _ = cluster.stop();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Everything the storm drives and the verdict inspects.
pub struct Stack {
    /// API base URL (also `MALIPO_PUBLIC_URL`).
    pub base: String,
    /// A pool on the chaos database.
    pub pool: PgPool,
    /// A client key.
    pub key: String,
    /// The fakes.
    pub fakes: FakeProviders,
    /// The environment given to `malipo serve` and `malipo work` processes.
    pub env: HashMap<String, String>,
    /// Worker state in this process, for reconciliation runs (what `malipo reconcile` does).
    pub worker_state: WorkerState,
    /// Paystack transfer recipients registered at the fake.
    pub recipients: Vec<String>,
    /// The HTTP front process.
    pub front: Arc<Mutex<Front>>,
    /// Where the processes' logs go (kept only if the suite fails).
    pub log_dir: PathBuf,
    /// The client's webhook endpoint: a receiver failing 30% and stalling 10% of requests.
    pub receiver: malipo::notify::receiver::Receiver,
    /// Declared last: dropped after the processes using it.
    pub db: ChaosDb,
}

impl Stack {
    /// Starts the database, the fakes and the HTTP front.
    pub async fn start(seed: u64) -> Self {
        let db = ChaosDb::start().await;
        // The verdict's and the reconciliation's pool; the processes have their own.
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(Duration::from_secs(10))
            .connect(&db.url)
            .await
            .expect("pool");
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            probe.local_addr().expect("address").port()
        };
        let base = format!("http://127.0.0.1:{port}");
        let fakes = FakeProviders::start(sandbox_settings(seed))
            .await
            .expect("fakes");
        fakes.set_paystack_webhook_url(Some(format!("{base}/webhooks/paystack")));
        fakes.set_fincra_webhook_url(Some(format!("{base}/webhooks/fincra")));
        let mut env = environment(&fakes, &base, &db.url);
        env.insert("MALIPO_HTTP_ADDR".to_owned(), format!("127.0.0.1:{port}"));
        let lookup = |name: &str| env.get(name).cloned();
        // The processes read this environment; the verdict's reconciliation runs in this one
        // with the same settings, assembled the way they assemble theirs.
        let settings = Settings::from_lookup(lookup).expect("settings");
        let worker_state = WorkerState::build(pool.clone(), &settings).expect("workers' state");
        let log_dir = std::env::temp_dir().join(format!("malipo-chaos-{}", std::process::id()));
        let mut front_env = env.clone();
        // The front answers dozens of concurrent drivers.
        front_env.insert("MALIPO_DB_POOL_SIZE".to_owned(), "30".to_owned());
        let front = Front::start(front_env, log_dir.clone());
        wait_until_serving(&base).await;
        let client = clients::create(&pool, "chaos", "client", 0)
            .await
            .expect("client");
        let key = client.key;
        let receiver = flaky_endpoint(&pool, client.id, &env, seed).await;
        let mut stack = Self {
            base,
            pool,
            key,
            fakes,
            env,
            worker_state,
            recipients: Vec::new(),
            front: Arc::new(Mutex::new(front)),
            log_dir,
            receiver,
            db,
        };
        for _ in 0..8 {
            let code = stack.paystack_recipient().await;
            stack.recipients.push(code);
        }
        stack
    }

    async fn paystack_recipient(&self) -> String {
        let answer: serde_json::Value = reqwest::Client::new()
            .post(format!("{}/transferrecipient", self.fakes.paystack_base_url()))
            .bearer_auth(self.fakes.paystack_secret_key())
            .json(&serde_json::json!({"type": "nuban", "name": "Chaos Seller", "account_number": "0123456789", "bank_code": "058", "currency": "NGN"}))
            .send()
            .await
            .expect("recipient")
            .json()
            .await
            .expect("json");
        answer["data"]["recipient_code"]
            .as_str()
            .expect("recipient code")
            .to_owned()
    }
}

/// Fakes that also reverse some Paystack transfers and cancel some STK pushes, so the storm
/// ends in every terminal state; Paystack redelivers webhooks for long enough to outlast the
/// PostgreSQL restart (live Paystack retries for 72 hours).
/// Waits (up to 60 s) until the front answers `/healthz`.
pub async fn wait_until_serving(base: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let http = reqwest::Client::new();
    while Instant::now() < deadline {
        if let Ok(response) = http.get(format!("{base}/healthz")).send().await
            && response.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the HTTP front did not come up at {base}");
}

fn sandbox_settings(seed: u64) -> SandboxSettings {
    SandboxSettings {
        seed,
        paystack: PaystackSettings {
            // Failures come from `payout_failure_probability`, counted; reversals from here.
            transfer_outcomes: vec![
                (TransferOutcome::Success, 96),
                (TransferOutcome::Reversed, 4),
            ],
            webhook_retries: 40,
            webhook_retry_delay: Duration::from_millis(500),
            ..PaystackSettings::default()
        },
        mpesa: MpesaSettings {
            stk_outcomes: vec![
                (StkOutcome::new(StkResult::Success), 93),
                (StkOutcome::new(StkResult::Cancelled), 7),
            ],
            ..MpesaSettings::default()
        },
        ..SandboxSettings::default()
    }
}

fn environment(fakes: &FakeProviders, base: &str, database_url: &str) -> HashMap<String, String> {
    let (consumer_key, consumer_secret) = fakes.mpesa_consumer_credentials();
    let (shortcode, passkey) = fakes.mpesa_shortcode_and_passkey();
    let pairs = [
        ("DATABASE_URL", database_url.to_owned()),
        ("MALIPO_PUBLIC_URL", base.to_owned()),
        ("MALIPO_PROVIDER_TIMEOUT_SECS", "1".to_owned()),
        ("MALIPO_JOB_LEASE", "3s".to_owned()),
        // Backoffs stay short by setting, not by rewriting run_at: the settle phase has a
        // minute, not the half hour a payout's policy may wait.
        ("MALIPO_RETRY_CAP", "5s".to_owned()),
        // The workers' own reconciliation finds STK payments whose callback never came.
        ("MALIPO_MPESA_RECONCILE_EVERY", "20s".to_owned()),
        ("MALIPO_MPESA_PENDING_AFTER", "15s".to_owned()),
        ("MALIPO_DB_POOL_SIZE", "12".to_owned()),
        // The API's per-client limiter would otherwise throttle the drivers, not the chaos.
        ("MALIPO_RATE_LIMIT_PER_SEC", "100000".to_owned()),
        ("MALIPO_RATE_LIMIT_BURST", "100000".to_owned()),
        // Client-side provider limits high: 429s come from the fakes' bursts instead.
        ("PAYSTACK_RATE_PER_MIN", "600000".to_owned()),
        ("MPESA_RATE_PER_SEC", "10000".to_owned()),
        ("LNBITS_RATE_PER_SEC", "10000".to_owned()),
        ("PAYSTACK_BASE_URL", fakes.paystack_base_url()),
        (
            "PAYSTACK_SECRET_KEY",
            fakes.paystack_secret_key().to_owned(),
        ),
        ("MPESA_BASE_URL", fakes.mpesa_base_url()),
        ("MPESA_CONSUMER_KEY", consumer_key.to_owned()),
        ("MPESA_CONSUMER_SECRET", consumer_secret.to_owned()),
        ("MPESA_SHORTCODE", shortcode.to_owned()),
        ("MPESA_PASSKEY", passkey.to_owned()),
        ("MPESA_CALLBACK_TOKEN", token()),
        ("MPESA_INITIATOR_NAME", "sandboxapi".to_owned()),
        ("MPESA_SECURITY_CREDENTIAL", "c2FuZGJveA==".to_owned()),
        ("LNBITS_BASE_URL", fakes.lnbits_base_url()),
        ("LNBITS_INVOICE_KEY", fakes.lnbits_invoice_key().to_owned()),
        ("LNBITS_ADMIN_KEY", fakes.lnbits_admin_key().to_owned()),
        ("LNBITS_WEBHOOK_TOKEN", token()),
        ("FINCRA_BASE_URL", fakes.fincra_base_url()),
        ("FINCRA_SECRET_KEY", fakes.fincra_secret_key().to_owned()),
        ("FINCRA_PUBLIC_KEY", fakes.fincra_public_key().to_owned()),
        ("FINCRA_BUSINESS_ID", fakes.fincra_business_id().to_owned()),
        (
            "FINCRA_WEBHOOK_SECRET",
            fakes.fincra_webhook_secret().to_owned(),
        ),
        ("FINCRA_RATE_PER_SEC", "10000".to_owned()),
        (
            "MALIPO_COMMISSION_PAYOUT_KES",
            "mpesa:254700000099".to_owned(),
        ),
        ("RUST_LOG", "warn".to_owned()),
        // Notifications to a flaky endpoint on loopback, on a schedule compressed 5,000-fold:
        // the whole schedule (76 h, 91 h with the most jitter) then takes at most 65 s, so every
        // delivery has succeeded or failed for good well within the verdict's patience. (At a
        // thousandfold, a delivery unlucky eight times in a row — likely in some runs, with a
        // 30 % failure rate over ~15,000 deliveries — was still on its schedule when the
        // verdict gave up.)
        (
            "MALIPO_SECRETS_KEY",
            malipo::notify::SecretsKey::generate_base64(),
        ),
        ("MALIPO_WEBHOOK_ALLOW_PRIVATE", "true".to_owned()),
        ("MALIPO_WEBHOOK_SCHEDULE_SCALE", "0.0002".to_owned()),
        ("MALIPO_WEBHOOK_TIMEOUT", "2s".to_owned()),
    ];
    pairs
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
}

/// Registers the flaky receiver as `client`'s endpoint for every event type.
async fn flaky_endpoint(
    pool: &PgPool,
    client: uuid::Uuid,
    env: &HashMap<String, String>,
    seed: u64,
) -> malipo::notify::receiver::Receiver {
    use malipo::notify::{
        SecretsKey, WebhookSecret,
        receiver::{Receiver, Script},
    };
    let receiver = Receiver::start(
        "127.0.0.1:0".parse().expect("address"),
        Script {
            fail_ratio: 0.3,
            slow_ratio: 0.1,
            slow: Duration::from_millis(500),
            seed,
            ..Script::default()
        },
    )
    .await
    .expect("receiver");
    let key = SecretsKey::parse(&env["MALIPO_SECRETS_KEY"]).expect("key");
    let secret = WebhookSecret::generate();
    receiver.verify_with(secret.clone());
    let mut conn = pool.acquire().await.expect("connection");
    malipo::db::webhook_endpoints::insert(
        &mut conn,
        client,
        &malipo::db::webhook_endpoints::NewEndpoint {
            url: receiver.url(),
            event_types: Vec::new(),
            description: Some("chaos flaky endpoint".to_owned()),
        },
        &key.seal(&secret),
    )
    .await
    .expect("endpoint");
    receiver
}

fn token() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}
