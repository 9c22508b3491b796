//! A whole malipo (API + workers) wired to fresh provider fakes.

use std::time::Duration;

use malipo::{
    clients,
    db::ledger,
    providers::HttpSettings,
    worker::{self, WorkerState},
};
use malipo_sandbox::{FakeProviders, SandboxSettings};
use malipo_testing::TestApp;
use serde_json::{Value, json};
use sqlx::PgPool;

/// Everything a flow test drives.
pub struct Harness {
    /// API base URL.
    pub base: String,
    /// The database.
    pub pool: PgPool,
    /// Its URL, for child processes.
    pub database_url: String,
    /// A client key.
    pub key: String,
    /// The fakes.
    pub fakes: FakeProviders,
    /// HTTP client.
    pub http: reqwest::Client,
    /// The workers' state (for running jobs' logic directly).
    pub worker_state: WorkerState,
    /// Where Daraja posts STK callbacks (with the secret token), for forged callbacks.
    pub mpesa_stk_url: String,
    /// Where Daraja posts B2C results (with the secret token).
    pub mpesa_b2c_result_url: String,
    /// Where LNbits posts its webhook (with the secret token).
    pub lnbits_webhook_url: String,
    /// `MALIPO_SECRETS_KEY` of this stack (base64), for child worker processes.
    pub secrets_key: String,
    /// The running app (workers stop with [`Harness::stop_workers`]).
    app: TestApp,
}

/// Options for [`Harness::start_with`].
pub struct Options {
    /// Provider read timeout (short for in-doubt tests).
    pub read_timeout: Duration,
    /// Where KES commission goes, when anywhere.
    pub commission_kes: Option<&'static str>,
    /// Fake settings.
    pub sandbox: SandboxSettings,
    /// Lifetime of the Lightning invoices malipo asks for.
    pub lnbits_invoice_expiry: Option<Duration>,
    /// The workers' idle poll (`MALIPO_POLL_INTERVAL`); the test app's 100 ms when unset.
    pub idle_poll: Option<Duration>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            read_timeout: Duration::from_secs(5),
            commission_kes: Some("mpesa:254700000099"),
            sandbox: SandboxSettings::default(),
            lnbits_invoice_expiry: None,
            idle_poll: None,
        }
    }
}

impl Harness {
    /// Starts with default options.
    pub async fn start() -> Self {
        Self::start_with(Options::default()).await
    }

    /// Starts API, workers and fakes.
    pub async fn start_with(options: Options) -> Self {
        let commission = worker::commission_from(|name| {
            (name == "MALIPO_COMMISSION_PAYOUT_KES")
                .then(|| options.commission_kes.map(str::to_owned))
                .flatten()
        })
        .expect("commission");
        let secrets_key = test_secrets_key();
        let notify = notify_settings(&secrets_key);
        let invoice_expiry = options.lnbits_invoice_expiry;
        let mut app = TestApp::builder()
            .fakes(options.sandbox)
            .provider_http(HttpSettings {
                connect_timeout: Duration::from_secs(2),
                read_timeout: options.read_timeout,
            })
            .providers(move |providers| {
                if let (Some(expiry), Ok(lnbits)) = (invoice_expiry, providers.lnbits.as_mut()) {
                    lnbits.invoice_expiry = expiry;
                }
            })
            .settings(|settings| {
                settings.commission = commission;
                settings.notify = notify;
                if let Some(poll) = options.idle_poll {
                    settings.app.poll_interval = poll;
                }
            })
            .workers()
            .start()
            .await
            .expect("app");
        let providers = &app.settings.providers;
        let (mpesa_stk_url, mpesa_b2c_result_url) = providers
            .mpesa
            .as_ref()
            .map(|m| (m.callbacks.stk(), m.callbacks.b2c_result()))
            .expect("mpesa config");
        let lnbits_webhook_url = providers
            .lnbits
            .as_ref()
            .map(|l| l.webhook.url())
            .expect("lnbits config");
        let key = clients::create(&app.pool, "flows", "client", 0)
            .await
            .expect("client")
            .key;
        Self {
            base: app.base.clone(),
            pool: app.pool.clone(),
            database_url: app.db_url.clone(),
            key,
            fakes: app.fakes.take().expect("fakes"),
            http: reqwest::Client::new(),
            worker_state: app.workers.clone(),
            mpesa_stk_url,
            mpesa_b2c_result_url,
            lnbits_webhook_url,
            secrets_key,
            app,
        }
    }

    /// Stops the workers (tests that re-run jobs by hand).
    pub async fn stop_workers(&mut self) {
        self.app.stop_workers().await;
    }

    /// POST with the client key and an idempotency key.
    pub async fn post(&self, path: &str, body: &Value, idempotency_key: &str) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .header("content-type", "application/json")
            .header("idempotency-key", idempotency_key)
            .body(body.to_string())
            .send()
            .await
            .expect("request")
    }

    /// Creates an intent, returning its JSON.
    pub async fn create(&self, body: Value) -> Value {
        let response = self
            .post("/v1/intents", &body, &uuid::Uuid::new_v4().to_string())
            .await;
        assert_eq!(response.status(), 201, "create intent");
        response.json().await.expect("json")
    }

    /// Reads an intent.
    pub async fn get(&self, id: &str) -> Value {
        self.http
            .get(format!("{}/v1/intents/{id}", self.base))
            .bearer_auth(&self.key)
            .send()
            .await
            .expect("get")
            .json()
            .await
            .expect("json")
    }

    /// Waits until the intent's status is `status` (panics after `limit`).
    pub async fn wait_for(&self, id: &str, status: &str, limit: Duration) -> Value {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let intent = self.get(id).await;
            if intent["status"] == status {
                return intent;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "intent {id} never reached {status}; it is {intent}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Releases a held intent.
    pub async fn release(&self, id: &str, body: Value) -> reqwest::Response {
        self.post(
            &format!("/v1/intents/{id}/release"),
            &body,
            &uuid::Uuid::new_v4().to_string(),
        )
        .await
    }

    /// Registers a transfer recipient at the fake Paystack, as a marketplace does when a seller
    /// adds a bank account; returns its `RCP_…` code.
    pub async fn paystack_recipient(&self) -> String {
        let answer: Value = self
            .http
            .post(format!("{}/transferrecipient", self.fakes.paystack_base_url()))
            .bearer_auth(self.fakes.paystack_secret_key())
            .json(&json!({"type": "nuban", "name": "Seller Two", "account_number": "0123456789", "bank_code": "058", "currency": "NGN"}))
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

    /// Asserts the ledger holds every invariant.
    pub async fn assert_ledger_sound(&self) {
        let violations = ledger::check(&self.pool).await.expect("ledger check");
        assert!(violations.is_empty(), "ledger violations: {violations:?}");
    }
}

/// A fresh `MALIPO_SECRETS_KEY` (base64 of 32 random bytes).
pub fn test_secrets_key() -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(uuid::Uuid::new_v4().as_bytes().repeat(2))
}

/// Notification settings for a test stack: loopback receivers allowed, the retry schedule
/// compressed a thousandfold (5 s → 5 ms, 5 min → 300 ms, 30 min → 1.8 s), a short timeout.
pub fn notify_settings(secrets_key: &str) -> malipo::notify::NotifySettings {
    malipo::notify::NotifySettings::from_lookup(|name| match name {
        "MALIPO_SECRETS_KEY" => Some(secrets_key.to_owned()),
        "MALIPO_WEBHOOK_ALLOW_PRIVATE" => Some("true".to_owned()),
        "MALIPO_WEBHOOK_SCHEDULE_SCALE" => Some(NOTIFY_SCALE.to_string()),
        "MALIPO_WEBHOOK_TIMEOUT" => Some("3s".to_owned()),
        _ => None,
    })
    .expect("notify settings")
}

/// How much the test stack compresses the delivery schedule.
pub const NOTIFY_SCALE: f64 = 0.001;

/// An M-Pesa intent for `amount` KES.
pub fn mpesa_intent(amount: &str) -> Value {
    json!({"amount": amount, "currency": "KES", "provider": "mpesa", "buyer": {"msisdn": "254708374149"},
           "payee": {"id": "seller-1", "payout": {"provider": "mpesa", "msisdn": "254700000001"}}, "commission_bps": 1000})
}

/// A Paystack intent for `amount` NGN paid out by Paystack transfer.
pub fn paystack_intent(amount: &str) -> Value {
    json!({"amount": amount, "currency": "NGN", "provider": "paystack", "buyer": {"email": "buyer@example.com"},
           "payee": {"id": "seller-2", "payout": {"provider": "paystack", "recipient_code": "RCP_sandboxpayee01"}}, "commission_bps": 250})
}

/// A Lightning intent for `sats`, payee invoice given at release.
pub fn lightning_intent(sats: &str) -> Value {
    json!({"amount": sats, "currency": "SAT", "provider": "lightning", "buyer": {},
           "payee": {"id": "seller-3", "payout": {"provider": "lightning"}}, "commission_bps": 0})
}
