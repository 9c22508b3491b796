//! The apalis backend: `Persisted<PgPersistence>` plus wake-ups, and the layer that turns every
//! run's outcome into a fenced, batched completion.

use std::{
    future::Future,
    panic::AssertUnwindSafe,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll},
    time::{Duration, Instant},
};

use apalis_core::{
    backend::{
        Backend, BackendConfig,
        finalize::Ephemeral,
        persistence::{Persisted, State},
    },
    error::BoxDynError,
    task::Task,
    worker::context::WorkerContext,
};
use futures::FutureExt;
use tokio::sync::watch;
use tower::{Layer, Service};

use super::{
    QueueSettings,
    claim::ClaimedJob,
    complete::{Completion, CompletionSink},
    filter::JobState,
    outcome::JobOutcome,
    persistence::{PersistenceError, PgPersistence},
};

type WakeFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// One apalis worker loop's source of jobs.
pub struct MalipoBackend {
    persisted: Persisted<PgPersistence>,
    settings: Arc<QueueSettings>,
    wake: watch::Receiver<u64>,
    wake_future: Option<WakeFuture>,
    /// Set by the persistence when its last claim came back short.
    drained: Arc<AtomicBool>,
    sink: CompletionSink,
    worker_id: Arc<str>,
}

impl MalipoBackend {
    /// A backend over `persistence`, woken by `wake` or every `settings.poll_interval`.
    pub fn new(
        persistence: PgPersistence,
        settings: Arc<QueueSettings>,
        wake: watch::Receiver<u64>,
        sink: CompletionSink,
        worker_id: Arc<str>,
    ) -> Self {
        Self {
            drained: persistence.drained_flag(),
            persisted: Persisted::new(persistence),
            settings,
            wake,
            wake_future: None,
            sink,
            worker_id,
        }
    }

    fn arm_wake(&mut self) -> &mut WakeFuture {
        let mut wake = self.wake.clone();
        let interval = self.settings.poll_interval;
        self.wake_future.get_or_insert_with(|| {
            Box::pin(async move {
                // Either a notification for our queue or the fallback poll, whichever is first.
                tokio::select! {
                    _ = wake.changed() => {}
                    _ = tokio::time::sleep(interval) => {}
                }
            })
        })
    }
}

impl Backend for MalipoBackend {
    type Task = Task<ClaimedJob>;
    type Error = PersistenceError;

    fn poll_ready(
        &mut self,
        cx: &mut Context<'_>,
        worker: &WorkerContext,
    ) -> Poll<Result<(), Self::Error>> {
        self.persisted
            .poll_ready(cx, worker, self.settings.heartbeat)
    }

    fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
        worker: &WorkerContext,
    ) -> Poll<Option<Result<Self::Task, Self::Error>>> {
        loop {
            // A loop whose last claim came back short — empty, or fewer jobs than it asked for
            // — waits for a wake-up (a notification for its queue, or the fallback poll)
            // before claiming again: claiming at once could only find what arrived in the
            // last few milliseconds, and the notification for that is already on its way.
            // (Without this wait every claim that found work was followed by one that found
            // none: a third of a lifecycle's claims.)
            if matches!(self.persisted.state(), State::Ready)
                && self.drained.load(Ordering::Relaxed)
            {
                match self.arm_wake().as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        self.wake_future = None;
                        self.drained.store(false, Ordering::Relaxed);
                        // Mark the notification seen so the next wait starts fresh; one that
                        // arrives during the claim below wakes the wait after it at once.
                        self.wake.borrow_and_update();
                    }
                    Poll::Pending => return Poll::Pending,
                }
            }
            match self.persisted.poll_next(cx, worker) {
                Poll::Ready(item) => return Poll::Ready(item),
                // A claim in flight has registered its own waker; an empty claim has set
                // `drained`, so the next turn waits for a wake-up.
                Poll::Pending if matches!(self.persisted.state(), State::Ready) => continue,
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    fn poll_close(
        &mut self,
        cx: &mut Context<'_>,
        worker: &WorkerContext,
    ) -> Poll<Result<(), Self::Error>> {
        self.persisted.poll_close(cx, worker)
    }
}

impl BackendConfig for MalipoBackend {
    type Args = ClaimedJob;
    type Id = i64;
    type Kind = Ephemeral;
    type Config = QueueSettings;
    type Layer = CompletionLayer;

    fn config(&self) -> &Self::Config {
        &self.settings
    }

    fn middleware(&mut self, _worker: &mut WorkerContext) -> Self::Layer {
        CompletionLayer {
            sink: self.sink.clone(),
            worker_id: self.worker_id.clone(),
            retry_cap: self.settings.retry_cap,
        }
    }
}

/// Middleware that resolves each run's `JobOutcome` against the job's retry policy and queues
/// the fenced completion; a panicking handler counts as a retryable failure.
#[derive(Clone)]
pub struct CompletionLayer {
    sink: CompletionSink,
    worker_id: Arc<str>,
    retry_cap: Option<Duration>,
}

impl<S> Layer<S> for CompletionLayer {
    type Service = CompletionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CompletionService {
            inner,
            sink: self.sink.clone(),
            worker_id: self.worker_id.clone(),
            retry_cap: self.retry_cap,
        }
    }
}

/// See [`CompletionLayer`].
#[derive(Clone)]
pub struct CompletionService<S> {
    inner: S,
    sink: CompletionSink,
    worker_id: Arc<str>,
    retry_cap: Option<Duration>,
}

impl<S> Service<Task<ClaimedJob>> for CompletionService<S>
where
    S: Service<Task<ClaimedJob>, Response = JobOutcome>,
    S::Future: Send + 'static,
    S::Error: Into<BoxDynError>,
{
    type Response = ();
    type Error = BoxDynError;
    type Future = Pin<Box<dyn Future<Output = Result<(), BoxDynError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, task: Task<ClaimedJob>) -> Self::Future {
        let job = task.args.clone();
        let run = self.inner.call(task);
        let sink = self.sink.clone();
        let worker = self.worker_id.to_string();
        let retry_cap = self.retry_cap;
        Box::pin(async move {
            let started = Instant::now();
            let outcome = match AssertUnwindSafe(run).catch_unwind().await {
                Ok(Ok(outcome)) => outcome,
                Ok(Err(error)) => JobOutcome::Retry {
                    error: error.into().to_string(),
                    after: None,
                },
                Err(panic) => JobOutcome::Retry {
                    error: format!("handler panicked: {}", panic_message(&panic)),
                    after: None,
                },
            };
            let mut policy = super::policy_for(&job.kind);
            if let Some(cap) = retry_cap {
                policy.cap = policy.cap.min(cap);
                policy.base = policy.base.min(cap);
            }
            let resolution = outcome.resolve(
                job.attempts,
                job.max_attempts,
                &policy,
                rand::random::<f64>(),
            );
            crate::telemetry::metrics::job_finished(
                &job.kind,
                resolution.result().as_str(),
                started.elapsed(),
                job.attempts,
            );
            if resolution.state == JobState::Dead {
                tracing::warn!(job_id = job.id, kind = %job.kind, error = ?resolution.error, "job is dead");
            }
            if outcome == JobOutcome::DoneWithEffect {
                // Written and committed with the effect; the batch has nothing left to do.
                sink.tally().record(&resolution);
                return Ok(());
            }
            sink.send(Completion {
                id: job.id,
                lease_token: job.lease_token,
                resolution,
                worker,
            });
            Ok(())
        })
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic".to_owned())
}

/// How long graceful shutdown waits for in-flight jobs before leaving them to lease expiry.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(25);
