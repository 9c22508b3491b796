//! Building the application: the database (external or a private local cluster), the HTTP
//! front on a listener (port 0 in tests), the workers, and graceful shutdown. [`Application`]
//! puts them together; the functions here are its parts.

mod application;
#[cfg(feature = "sandbox")]
pub mod sandbox;

pub use application::{Application, Companion, Running};

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tracing::info;

use crate::{
    config::Config,
    db,
    http::{self, AppState, ProviderGate},
    pg::LocalCluster,
    queue::Runner,
    worker::{self, WorkerState},
};

/// The database this process uses, and the private cluster it started, if any.
pub struct Database {
    /// The pool.
    pub pool: PgPool,
    /// Its URL (for child processes such as benchmark workers).
    pub url: String,
    cluster: Option<LocalCluster>,
    /// Someone else's pool (a benchmark's): [`Database::close`] leaves it open.
    borrowed: bool,
}

impl Database {
    /// Connects to `DATABASE_URL`, or to the private cluster under `MALIPO_DATA_DIR` (created
    /// and started as needed); migrates when `migrate` is set or the cluster is private.
    pub async fn open(config: &Config, migrate: bool) -> anyhow::Result<Self> {
        let (url, cluster) = match &config.database_url {
            Some(url) => (url.expose().to_owned(), None),
            None => {
                let dir = config.data_dir.clone();
                let cluster =
                    tokio::task::spawn_blocking(move || LocalCluster::ensure_running(&dir))
                        .await
                        .context("failed to start the private PostgreSQL")??;
                info!(data_dir = %cluster.data_dir().display(), port = cluster.port(), "using the private PostgreSQL cluster");
                (cluster.database_url(), Some(cluster))
            }
        };
        let pool = db::connect(&url, config.db_pool_size).await?;
        if migrate || cluster.is_some() {
            db::migrate(&pool).await?;
        }
        Ok(Self {
            pool,
            url,
            cluster,
            borrowed: false,
        })
    }

    /// A database someone else opened and migrated (a test's own database).
    pub fn existing(pool: PgPool, url: String) -> Self {
        Self {
            pool,
            url,
            cluster: None,
            borrowed: false,
        }
    }

    /// A pool its owner keeps using and closes after this application stops (a benchmark's).
    pub fn borrowed(pool: PgPool) -> Self {
        Self {
            pool,
            url: String::new(),
            cluster: None,
            borrowed: true,
        }
    }

    /// Closes the pool and stops the private cluster if this process started it.
    pub async fn close(self) {
        if self.borrowed {
            return;
        }
        self.pool.close().await;
        if let Some(cluster) = self.cluster.filter(LocalCluster::started_by_us) {
            match tokio::task::spawn_blocking(move || cluster.stop()).await {
                Ok(Ok(())) => info!("private PostgreSQL stopped"),
                Ok(Err(error)) => tracing::warn!(
                    error = format!("{error:#}"),
                    "failed to stop the private PostgreSQL"
                ),
                Err(error) => tracing::warn!(%error, "failed to stop the private PostgreSQL"),
            }
        }
    }
}

/// Starts the workers of this process, and the periodic M-Pesa reconciliation when M-Pesa is
/// configured and this process serves the reconcile queue.
pub async fn start_workers(
    pool: PgPool,
    config: &Config,
    state: WorkerState,
) -> anyhow::Result<Runner> {
    if config
        .queues
        .iter()
        .any(|q| q == malipo_jobs::queues::RECONCILE)
        && state.providers.mpesa().is_some()
    {
        spawn_reconciliation_schedule(pool.clone(), config.reconcile.mpesa_every);
    }
    if config
        .queues
        .iter()
        .any(|q| q == malipo_jobs::queues::RECONCILE)
        && state.providers.fincra().is_some()
    {
        worker::reconcile_fincra::spawn_schedule(pool.clone(), config.reconcile.fincra_every);
    }
    Runner::start(pool, config.queue_settings(), worker::handlers(), state).await
}

/// Enqueues one `reconcile_mpesa` per period; its dedupe key is the period's start, so however
/// many workers run this, each window is reconciled once.
fn spawn_reconciliation_schedule(pool: PgPool, period: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(30).min(period));
        loop {
            tick.tick().await;
            let period_secs = period.as_secs().max(1) as i64;
            let now = chrono::Utc::now().timestamp();
            let Some(slot) = chrono::DateTime::from_timestamp(now - now.rem_euclid(period_secs), 0)
            else {
                continue;
            };
            let job = malipo_jobs::ReconcileMpesa {
                window_start: slot.to_rfc3339(),
                since: None,
                pending_after_secs: None,
            };
            let enqueued = async {
                let mut conn = pool.acquire().await?;
                crate::queue::enqueue(&mut conn, &job, crate::queue::EnqueueOptions::default())
                    .await
            };
            if let Err(error) = enqueued.await {
                tracing::warn!(%error, "could not schedule M-Pesa reconciliation");
            }
        }
    });
}

/// Serves the HTTP front on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let address = listener.local_addr().context("listener has no address")?;
    info!(%address, "HTTP front listening");
    spawn_idempotency_pruning(state.pool.clone(), state.config.idempotency_ttl);
    let limits = state.config.front.clone();
    http::server::serve(listener, http::router(state), limits, shutdown)
        .await
        .context("HTTP server failed")
}

/// Binds the configured HTTP address.
pub async fn bind(config: &Config) -> anyhow::Result<TcpListener> {
    TcpListener::bind(config.http_addr)
        .await
        .with_context(|| format!("failed to bind MALIPO_HTTP_ADDR={}", config.http_addr))
}

/// Application state for the HTTP front, with every provider let through (benchmarks, tests).
pub fn app_state(pool: PgPool, config: &Config, gate: Arc<dyn ProviderGate>) -> AppState {
    AppState::new(pool, config.clone(), gate, http::WebhookSecrets::default())
}

/// Application state for the HTTP front with the providers configured in `providers`.
pub fn app_state_for(
    pool: PgPool,
    config: &Config,
    providers: Arc<crate::providers::ProvidersConfig>,
) -> AppState {
    let secrets = http::WebhookSecrets::from_config(&providers);
    let recipients = providers.paystack.as_ref().ok().and_then(|paystack| {
        crate::providers::paystack::PaystackClient::new(paystack, &providers.http)
            .map_err(|error| tracing::warn!(%error, "no Paystack client for recipient checks"))
            .ok()
    });
    let fincra = providers.fincra.as_ref().ok().and_then(|fincra| {
        crate::providers::FincraClient::new(fincra, &providers.http)
            .map_err(|error| tracing::warn!(%error, "no Fincra client for account checks"))
            .ok()
    });
    AppState::new(pool, config.clone(), providers, secrets)
        .with_recipient_checks(recipients)
        .with_fincra_checks(fincra)
}

/// Serves `/metrics` without a key on `MALIPO_METRICS_ADDR` when it is set (every role: a
/// `work` process has job metrics the web processes never see).
pub(crate) fn spawn_metrics_listener(config: &Config, pool: &PgPool) {
    if let Some(address) = config.metrics_addr {
        let pool = pool.clone();
        let stuck_after = config.stuck_after;
        tokio::spawn(async move {
            if let Err(error) = http::metrics::serve_standalone(address, pool, stuck_after).await {
                tracing::error!(error = format!("{error:#}"), "metrics listener stopped");
            }
        });
    }
}

fn spawn_idempotency_pruning(pool: PgPool, ttl: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(300));
        loop {
            tick.tick().await;
            if let Err(error) = http::idempotency::prune(&pool, ttl).await {
                tracing::warn!(%error, "pruning idempotency keys failed");
            }
        }
    });
}

/// Resolves once the process `parent` (this one's parent when it started) has exited — this
/// process was re-parented — checked every second. Take `parent` before any slow start-up
/// step: a parent that dies during start-up must still count.
pub async fn parent_exit(parent: u32) {
    loop {
        if std::os::unix::process::parent_id() != parent {
            info!(parent, "parent process exited; shutting down");
            return;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
    info!("shutdown requested");
}
