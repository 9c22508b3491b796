//! The system under chaos: provider fakes, malipo's HTTP front in this process, and the
//! environment the `malipo work` processes are started with — one map for both, so callback
//! tokens agree and webhooks verify.

use std::{collections::HashMap, sync::Arc, time::Duration};

use malipo::{
    clients,
    config::Config,
    providers::{Providers, ProvidersConfig, mpesa::PgTokenStore},
    sandbox::{
        FakeProviders, MpesaSettings, PaystackSettings, SandboxSettings, StkOutcome, StkResult,
        TransferOutcome,
    },
    startup,
    testing::test_database,
    worker::{self, WorkerState},
};
use rand::RngCore;
use sqlx::{PgPool, postgres::PgPoolOptions};

/// Everything the storm drives and the verdict inspects.
pub struct Stack {
    /// API base URL (also `MALIPO_PUBLIC_URL`).
    pub base: String,
    /// A pool on the test database.
    pub pool: PgPool,
    /// A client key.
    pub key: String,
    /// The fakes.
    pub fakes: FakeProviders,
    /// The environment given to `malipo work` processes.
    pub env: HashMap<String, String>,
    /// Worker state in this process, for reconciliation runs.
    pub worker_state: WorkerState,
    /// Paystack transfer recipients registered at the fake.
    pub recipients: Vec<String>,
}

impl Stack {
    /// Starts the fakes and the API on a fresh database.
    pub async fn start(seed: u64) -> Self {
        let db = test_database().await.expect("database");
        // The test pool is small; the API serves dozens of concurrent drivers.
        let pool = PgPoolOptions::new()
            .max_connections(30)
            .acquire_timeout(Duration::from_secs(10))
            .connect(&db.url)
            .await
            .expect("pool");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let fakes = FakeProviders::start(sandbox_settings(seed))
            .await
            .expect("fakes");
        fakes.set_paystack_webhook_url(Some(format!("{base}/webhooks/paystack")));
        let env = environment(&fakes, &base, &db.url);
        let lookup = |name: &str| env.get(name).cloned();
        let providers_config =
            Arc::new(ProvidersConfig::from_lookup(lookup).expect("provider config"));
        let config = Config::from_lookup(lookup).expect("config");
        let providers =
            Providers::from_config(&providers_config, Arc::new(PgTokenStore::new(pool.clone())))
                .expect("providers");
        let commission = worker::commission_from(lookup).expect("commission");
        let worker_state = WorkerState::new(pool.clone(), providers, commission);
        let app = startup::app_state_for(pool.clone(), &config, providers_config);
        tokio::spawn(startup::serve(listener, app, std::future::pending()));
        let key = clients::create(&pool, "chaos", "client", 0)
            .await
            .expect("client")
            .key;
        let mut stack = Self {
            base,
            pool,
            key,
            fakes,
            env,
            worker_state,
            recipients: Vec::new(),
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

/// Fakes that also fail some payouts, reverse some, and cancel some STK pushes, so the storm
/// ends in every terminal state; Paystack redelivers webhooks for long enough to outlast the
/// PostgreSQL restart (live Paystack retries for 72 hours).
fn sandbox_settings(seed: u64) -> SandboxSettings {
    SandboxSettings {
        seed,
        paystack: PaystackSettings {
            transfer_outcomes: vec![
                (TransferOutcome::Success, 90),
                (TransferOutcome::Failed, 5),
                (TransferOutcome::Reversed, 5),
            ],
            webhook_retries: 40,
            webhook_retry_delay: Duration::from_millis(500),
            ..PaystackSettings::default()
        },
        mpesa: MpesaSettings {
            stk_outcomes: vec![
                (StkOutcome::new(StkResult::Success), 95),
                (StkOutcome::new(StkResult::Cancelled), 5),
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
        (
            "MALIPO_COMMISSION_PAYOUT_KES",
            "mpesa:254700000099".to_owned(),
        ),
        ("RUST_LOG", "warn".to_owned()),
    ];
    pairs
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
}

fn token() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}
