//! `TestApp`: a whole malipo for one test, assembled by the same [`Application::build`] as
//! `main` — its own database, the HTTP front on 127.0.0.1:0, optionally the provider fakes
//! wired in and the workers running — plus the helpers every test binary shares.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use sqlx::PgPool;

use malipo::{
    config::Config,
    http::{AllProviders, WebhookSecrets},
    providers::{HttpSettings, ProvidersConfig},
    settings::Settings,
    startup::{Application, Database, Running, sandbox as wiring},
    worker::WorkerState,
};
use malipo_sandbox::{FakeProviders, SandboxSettings};

use super::test_database;

/// An edit of the provider settings, applied after the fakes are wired in.
type ProvidersEdit = Box<dyn FnOnce(&mut ProvidersConfig) + Send>;

/// How a [`TestApp`] is put together; start with [`TestApp::builder`].
pub struct TestAppBuilder {
    settings: Settings,
    fakes: Option<SandboxSettings>,
    provider_http: HttpSettings,
    providers: Vec<ProvidersEdit>,
    every_provider: bool,
    webhook_secrets: Option<WebhookSecrets>,
    workers: bool,
}

/// A running malipo on its own database.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The front's address.
    pub address: SocketAddr,
    /// The app's database.
    pub pool: PgPool,
    /// Its URL, for child processes.
    pub db_url: String,
    /// The provider fakes, when the app was built with them.
    pub fakes: Option<FakeProviders>,
    /// What the app was built from (callback URLs and tokens of the fakes included).
    pub settings: Arc<Settings>,
    /// The workers' state (for running a job's logic directly).
    pub workers: WorkerState,
    running: Running,
}

impl TestApp {
    /// Defaults: every setting unset, no fakes, no workers, a 100 ms idle poll.
    pub fn builder() -> TestAppBuilder {
        let mut settings = Settings::from_lookup(|_| None).expect("the defaults are valid");
        settings.app.poll_interval = Duration::from_millis(100);
        TestAppBuilder {
            settings,
            fakes: None,
            provider_http: HttpSettings {
                connect_timeout: Duration::from_secs(2),
                read_timeout: Duration::from_secs(5),
            },
            providers: Vec::new(),
            every_provider: false,
            webhook_secrets: None,
            workers: false,
        }
    }

    /// Stops the workers (tests that then run jobs by hand), waiting up to 5 s for running ones.
    pub async fn stop_workers(&mut self) {
        self.running.stop_workers(Duration::from_secs(5)).await;
    }

    /// The fakes; panics when the app was built without them (a test's own mistake).
    pub fn fakes(&self) -> &FakeProviders {
        self.fakes
            .as_ref()
            .expect("this TestApp was built without fakes")
    }
}

impl TestAppBuilder {
    /// Edits the process configuration (limits, timeouts, queues …).
    #[must_use]
    pub fn config(mut self, adjust: impl FnOnce(&mut Config)) -> Self {
        adjust(&mut self.settings.app);
        self
    }

    /// Edits the whole settings tree (commission destinations, notification settings …).
    #[must_use]
    pub fn settings(mut self, adjust: impl FnOnce(&mut Settings)) -> Self {
        adjust(&mut self.settings);
        self
    }

    /// Starts the provider fakes with `sandbox` and points every provider at them.
    #[must_use]
    pub fn fakes(mut self, sandbox: SandboxSettings) -> Self {
        self.fakes = Some(sandbox);
        self
    }

    /// The provider clients' timeouts (short ones for in-doubt tests).
    #[must_use]
    pub fn provider_http(mut self, http: HttpSettings) -> Self {
        self.provider_http = http;
        self
    }

    /// Edits the provider settings after the fakes are wired in.
    #[must_use]
    pub fn providers(mut self, adjust: impl FnOnce(&mut ProvidersConfig) + Send + 'static) -> Self {
        self.providers.push(Box::new(adjust));
        self
    }

    /// Lets intents name any provider though none is configured (front-only tests of
    /// validation, limits and abuse, where no job runs).
    #[must_use]
    pub fn every_provider_allowed(mut self) -> Self {
        self.every_provider = true;
        self
    }

    /// Verifies webhooks with these secrets instead of the configured providers' ones.
    #[must_use]
    pub fn webhook_secrets(mut self, secrets: WebhookSecrets) -> Self {
        self.webhook_secrets = Some(secrets);
        self
    }

    /// Runs the workers on the configured queues.
    #[must_use]
    pub fn workers(mut self) -> Self {
        self.workers = true;
        self
    }

    /// Creates the database, starts the fakes and the app.
    pub async fn start(self) -> anyhow::Result<TestApp> {
        let db = test_database().await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("failed to bind 127.0.0.1:0")?;
        let address = listener.local_addr()?;
        let base = format!("http://{address}");
        let mut settings = self.settings;
        let fakes = match self.fakes {
            Some(sandbox) => {
                let fakes = FakeProviders::start(sandbox).await?;
                settings.providers = wiring::providers_config(&fakes, &base, self.provider_http);
                Some(fakes)
            }
            None => None,
        };
        for adjust in self.providers {
            adjust(&mut settings.providers);
        }
        let database = Database::existing(db.pool.clone(), db.url.clone());
        let mut application = Application::build(settings, database, Some(listener)).await?;
        if self.every_provider {
            application.front.provider_gate = Arc::new(AllProviders);
        }
        if let Some(secrets) = self.webhook_secrets {
            application.front.webhook_secrets = Arc::new(secrets);
        }
        let settings = application.settings.clone();
        let running = application.start(self.workers).await?;
        Ok(TestApp {
            base,
            address,
            pool: db.pool,
            db_url: db.url,
            fakes,
            settings,
            workers: running.workers.clone(),
            running,
        })
    }
}

/// Polls `check` every 50 ms until it holds or `limit` passes; returns whether it held. The
/// one bounded wait tests use instead of sleeping.
pub async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Asserts `response` is an `application/problem+json` with `status`, a type URI, a title
/// and a detail; returns its body.
pub async fn problem(response: reqwest::Response, status: u16) -> serde_json::Value {
    assert_eq!(response.status().as_u16(), status, "status");
    let media = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(media, "application/problem+json", "media type");
    let body: serde_json::Value = response.json().await.expect("problem body");
    assert_eq!(body["status"], status, "status member: {body}");
    assert!(
        body["type"]
            .as_str()
            .is_some_and(|uri| uri.starts_with("https://malipo.dev/problems/")),
        "type URI: {body}"
    );
    assert!(
        body["title"].is_string() && body["detail"].is_string(),
        "{body}"
    );
    body
}

/// Workers on the bench queue only, with the production handlers, `lease` and a 100 ms idle
/// poll: for queue tests that enqueue `noop` jobs and watch what the runtime does with them.
pub async fn bench_runner(pool: &PgPool, lease: Duration) -> malipo::queue::Runner {
    let settings = malipo::queue::QueueSettings {
        queues: vec![malipo_jobs::queues::BENCH.to_owned()],
        lease,
        heartbeat: lease / 6,
        poll_interval: Duration::from_millis(100),
        ..malipo::queue::QueueSettings::default()
    };
    malipo::queue::Runner::start(
        pool.clone(),
        settings,
        malipo::worker::handlers(),
        WorkerState::new(pool.clone(), Default::default(), Default::default()),
    )
    .await
    .expect("workers start")
}
