//! Routing a claimed job to its handler by kind, and the errors handlers return.

use std::{
    collections::HashMap,
    future::Future,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use apalis_core::{error::BoxDynError, task::Task};
use malipo_jobs::Job;
use sqlx::PgConnection;
use tower::Service;

use super::{claim::ClaimedJob, outcome::JobOutcome};

/// How a handler's run ended short of success.
#[derive(Debug)]
pub enum JobError {
    /// Another attempt may succeed (database or provider hiccup); `after` is a provider's hint.
    Retry(anyhow::Error, Option<Duration>),
    /// No retry can help (a mismatch, a declined payment): the job goes dead for an operator.
    Permanent(anyhow::Error),
    /// Not finished, nothing wrong: run again after the delay without spending an attempt.
    Snooze(Duration),
}

impl JobError {
    /// A permanent failure with a message.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self::Permanent(anyhow::anyhow!(message.into()))
    }
}

impl From<anyhow::Error> for JobError {
    fn from(error: anyhow::Error) -> Self {
        Self::Retry(error, None)
    }
}

impl From<sqlx::Error> for JobError {
    fn from(error: sqlx::Error) -> Self {
        Self::Retry(anyhow::Error::new(error), None)
    }
}

/// A run's claim on its job: what a statement completing the job names.
#[derive(Debug, Clone, Copy)]
pub struct Lease {
    /// The job row id.
    pub job_id: i64,
    /// The claim's fencing token.
    pub token: i64,
}

/// What a handler sees besides its payload.
#[derive(Clone)]
pub struct JobContext<C> {
    /// The job row id.
    pub job_id: i64,
    /// Runs so far, this one included.
    pub attempt: i32,
    /// The application's shared state.
    pub app: C,
    /// The token of the claim this run holds.
    lease_token: i64,
    /// Set once [`Self::complete_within`] marked the row done in the handler's transaction.
    done_within: Arc<AtomicBool>,
}

impl<C> JobContext<C> {
    /// Marks this job done inside the caller's transaction, fenced by this run's lease, so the
    /// run's effect and its completion commit together or not at all (River's transactional
    /// completion): a crash after the commit cannot run the effect again, and a crash before it
    /// leaves neither. Call it last, just before the commit. When another worker has taken the
    /// lease over (this run outlived it), it refuses: the caller's transaction must roll back,
    /// and the new holder of the lease does the work.
    pub async fn complete_within(&self, conn: &mut PgConnection) -> Result<(), JobError> {
        let done = super::complete::done_within(conn, self.job_id, self.lease_token).await?;
        self.completed_with_effect(done)
    }

    /// This run's claim, for one statement that writes the run's effect and marks the job done
    /// only together (fenced by the token, as [`Self::complete_within`] is): the statement calls
    /// `malipo_complete_done(ARRAY[job_id], ARRAY[token])` and writes the effect only when it
    /// returned the job. Report what it did with [`Self::completed_with_effect`].
    pub(crate) fn lease(&self) -> Lease {
        Lease {
            job_id: self.job_id,
            token: self.lease_token,
        }
    }

    /// After an effect written together with this job's completion (`done`: the completion
    /// happened; false when another worker took the lease over, and the effect was not
    /// written): the batch writer then leaves the job alone.
    pub(crate) fn completed_with_effect(&self, done: bool) -> Result<(), JobError> {
        if !done {
            return Err(JobError::Retry(
                anyhow::anyhow!(
                    "job {} no longer holds its lease; its effect is rolled back",
                    self.job_id
                ),
                None,
            ));
        }
        // Read only when the handler returns `Ok`, i.e. after its commit succeeded.
        self.done_within.store(true, Ordering::Release);
        Ok(())
    }
}

type BoxedHandler<C> = Arc<
    dyn Fn(serde_json::Value, JobContext<C>) -> Pin<Box<dyn Future<Output = JobOutcome> + Send>>
        + Send
        + Sync,
>;

/// Handlers by job kind.
pub struct Handlers<C> {
    by_kind: HashMap<&'static str, BoxedHandler<C>>,
}

impl<C> Clone for Handlers<C> {
    fn clone(&self) -> Self {
        Self {
            by_kind: self.by_kind.clone(),
        }
    }
}

impl<C: Clone + Send + Sync + 'static> Default for Handlers<C> {
    fn default() -> Self {
        Self {
            by_kind: HashMap::new(),
        }
    }
}

impl<C: Clone + Send + Sync + 'static> Handlers<C> {
    /// Registers the handler for job kind `J`.
    pub fn register<J, F, Fut>(mut self, handler: F) -> Self
    where
        J: Job,
        F: Fn(J, JobContext<C>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), JobError>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        let boxed: BoxedHandler<C> = Arc::new(move |payload, context| {
            let handler = handler.clone();
            Box::pin(async move {
                let job: J = match serde_json::from_value(payload) {
                    Ok(job) => job,
                    Err(error) => {
                        return JobOutcome::Permanent {
                            error: format!("payload does not decode as {}: {error}", J::KIND),
                        };
                    }
                };
                let done_within = context.done_within.clone();
                match into_outcome(handler(job, context).await) {
                    JobOutcome::Done if done_within.load(Ordering::Acquire) => {
                        JobOutcome::DoneWithEffect
                    }
                    outcome => outcome,
                }
            })
        });
        self.by_kind.insert(J::KIND, boxed);
        self
    }

    /// Runs one claimed job.
    pub async fn run(&self, job: ClaimedJob, app: C) -> JobOutcome {
        let Some(handler) = self.by_kind.get(job.kind.as_str()).cloned() else {
            return JobOutcome::Permanent {
                error: format!("no handler for job kind `{}` in this worker", job.kind),
            };
        };
        let span =
            tracing::info_span!("job", job_id = job.id, kind = %job.kind, attempt = job.attempts);
        let context = JobContext {
            job_id: job.id,
            attempt: job.attempts,
            app,
            lease_token: job.lease_token,
            done_within: Arc::new(AtomicBool::new(false)),
        };
        tracing::Instrument::instrument(handler(job.payload, context), span).await
    }
}

fn into_outcome(result: Result<(), JobError>) -> JobOutcome {
    match result {
        Ok(()) => JobOutcome::Done,
        Err(JobError::Retry(error, after)) => JobOutcome::Retry {
            error: format!("{error:#}"),
            after,
        },
        Err(JobError::Permanent(error)) => JobOutcome::Permanent {
            error: format!("{error:#}"),
        },
        Err(JobError::Snooze(after)) => JobOutcome::Snooze { after },
    }
}

/// The apalis service every worker loop runs: dispatch by kind.
pub struct Dispatcher<C> {
    handlers: Handlers<C>,
    app: C,
}

impl<C: Clone> Clone for Dispatcher<C> {
    fn clone(&self) -> Self {
        Self {
            handlers: self.handlers.clone(),
            app: self.app.clone(),
        }
    }
}

impl<C> Dispatcher<C> {
    /// A dispatcher over `handlers` with shared state `app`.
    pub fn new(handlers: Handlers<C>, app: C) -> Self {
        Self { handlers, app }
    }
}

impl<C: Clone + Send + Sync + 'static> Service<Task<ClaimedJob>> for Dispatcher<C> {
    type Response = JobOutcome;
    type Error = BoxDynError;
    type Future = Pin<Box<dyn Future<Output = Result<JobOutcome, BoxDynError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, task: Task<ClaimedJob>) -> Self::Future {
        let handlers = self.handlers.clone();
        let app = self.app.clone();
        Box::pin(async move { Ok(handlers.run(task.args, app).await) })
    }
}
