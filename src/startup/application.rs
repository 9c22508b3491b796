//! `Application`: the one way a malipo process is assembled — by `main` (`run`, `serve`,
//! `work`), by every test harness and by the benchmarks. It takes the [`Settings`] read at
//! startup and a [`Database`], builds the providers, the workers' state and the HTTP front's
//! state from them once, and starts the parts this process runs.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use sqlx::PgPool;
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

use super::Database;
use crate::{
    http::AppState,
    queue::{Runner, backend::SHUTDOWN_GRACE},
    settings::Settings,
    worker::WorkerState,
};

/// A malipo built from its settings, not yet running.
pub struct Application {
    /// What it was built from.
    pub settings: Arc<Settings>,
    /// The workers' state: providers, commission destinations, notifier (also what an
    /// operator's drain runs jobs with, so a drain acts exactly as the workers would).
    pub workers: WorkerState,
    /// The HTTP front's state.
    pub front: AppState,
    database: Database,
    listener: Option<TcpListener>,
    companions: Vec<Companion>,
}

/// The stop of something that runs beside the application and ends with it, after the
/// workers (the sandbox's fakes): called once, when the application stops.
pub type Companion = Box<dyn FnOnce() -> futures::future::BoxFuture<'static, ()> + Send + Sync>;

impl Application {
    /// Builds the provider clients, the workers' state and the front's state from `settings`
    /// over `database`; the front will serve `listener` when one is given. Refuses to build
    /// without `MALIPO_SECRETS_KEY` once notification endpoints exist (nothing could be sealed
    /// or delivered).
    pub async fn build(
        settings: Settings,
        database: Database,
        listener: Option<TcpListener>,
    ) -> anyhow::Result<Self> {
        crate::notify::require_key_if_needed(&database.pool, &settings.notify).await?;
        let workers = WorkerState::build(database.pool.clone(), &settings)?;
        let front = super::app_state_for(
            database.pool.clone(),
            &settings.app,
            Arc::new(settings.providers.clone()),
        )
        .with_notify(settings.notify.clone())
        .with_workers(workers.clone());
        Ok(Self {
            settings: Arc::new(settings),
            workers,
            front,
            database,
            listener,
            companions: Vec::new(),
        })
    }

    /// Keeps `stop` until the application stops, and then runs it (after the workers, before
    /// the database closes).
    #[must_use]
    pub fn with_companion(mut self, stop: Companion) -> Self {
        self.companions.push(stop);
        self
    }

    /// The database pool.
    pub fn pool(&self) -> &PgPool {
        &self.database.pool
    }

    /// Where the HTTP front will listen, when this application has one.
    pub fn address(&self) -> Option<SocketAddr> {
        self.listener
            .as_ref()
            .and_then(|listener| listener.local_addr().ok())
    }

    /// Starts the HTTP front (when built with a listener), the workers (when `workers`) and
    /// the private `/metrics` listener (when configured).
    pub async fn start(mut self, workers: bool) -> anyhow::Result<Running> {
        super::spawn_metrics_listener(&self.settings.app, &self.database.pool);
        let front = self.listener.take().map(|listener| {
            let (stop, stopped) = oneshot::channel::<()>();
            let served = tokio::spawn(super::serve(listener, self.front.clone(), async {
                let _ = stopped.await;
            }));
            (served, stop)
        });
        let runner = if workers {
            Some(
                super::start_workers(
                    self.database.pool.clone(),
                    &self.settings.app,
                    self.workers.clone(),
                )
                .await?,
            )
        } else {
            None
        };
        Ok(Running {
            workers: self.workers,
            runner,
            front,
            database: Some(self.database),
            companions: self.companions,
        })
    }
}

/// A started application.
pub struct Running {
    /// The workers' state (tests run a job's logic directly with it).
    pub workers: WorkerState,
    runner: Option<Runner>,
    front: Option<(JoinHandle<anyhow::Result<()>>, oneshot::Sender<()>)>,
    database: Option<Database>,
    companions: Vec<Companion>,
}

impl Running {
    /// Stops the workers only, waiting up to `grace` for running jobs (tests that run jobs by
    /// hand afterwards).
    pub async fn stop_workers(&mut self, grace: Duration) {
        if let Some(runner) = self.runner.take() {
            runner.shutdown(grace).await;
        }
    }

    /// Runs until `shutdown` resolves or the HTTP front fails, then stops everything in
    /// order: the front, the workers (running jobs get their grace), the companions (the
    /// sandbox's fakes), the database (and the private cluster, if this process started it).
    pub async fn until(mut self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let served = match self.front.as_mut() {
            Some((served, _)) => tokio::select! {
                () = shutdown => None,
                result = served => Some(result),
            },
            None => {
                shutdown.await;
                None
            }
        };
        let served = match (served, self.front.take()) {
            (Some(result), _) => result.context("HTTP front task failed")?,
            (None, Some((served, stop))) => {
                let _ = stop.send(());
                served.await.context("HTTP front task failed")?
            }
            (None, None) => Ok(()),
        };
        self.stop_workers(SHUTDOWN_GRACE).await;
        for stop in std::mem::take(&mut self.companions) {
            stop().await;
        }
        if let Some(database) = self.database.take() {
            database.close().await;
        }
        served
    }
}
