//! `deliver_event`: one attempt of one delivery, then its record — delivered, failed for good,
//! endpoint disabled (410 or days of failures), or the next attempt scheduled by snoozing the
//! job until the delivery's own schedule says (the attempt is not the queue's retry).
//!
//! No transaction or connection is held across the HTTP call: the record is written after, so
//! a crash in between sends again with the same `webhook-id`, which the receiver dedupes.

use std::time::Duration;

use chrono::Utc;
use malipo_jobs::DeliverEvent;
use rand::Rng;
use sqlx::PgConnection;
use uuid::Uuid;

use super::WorkerState;
use crate::{
    db::{
        events,
        webhook_deliveries::{self, Attempt},
        webhook_endpoints,
    },
    notify::{
        self, DeliveryStatus, WebhookSecret,
        attempt::{Outcome, Verdict},
        envelope, schedule,
    },
    queue::{JobContext, JobError},
};

/// Sends the delivery if it is still pending in this job's round.
#[tracing::instrument(skip_all, fields(delivery_id = %job.delivery_id, round = job.round))]
pub async fn run(job: DeliverEvent, context: JobContext<WorkerState>) -> Result<(), JobError> {
    let app = &context.app;
    let Some(notifier) = app.notifier.as_deref() else {
        return Err(JobError::Retry(
            anyhow::anyhow!("this process cannot send notifications"),
            None,
        ));
    };
    let mut conn = app.pool.acquire().await?;
    let Some(delivery) = webhook_deliveries::load(&mut conn, job.delivery_id).await? else {
        return Err(JobError::permanent("no such delivery"));
    };
    if delivery.status != DeliveryStatus::Pending || delivery.round != job.round {
        return Ok(());
    }
    let early = delivery.next_attempt_at - Utc::now();
    if let Ok(wait) = early.to_std()
        && wait > std::time::Duration::from_millis(50)
    {
        return Err(JobError::Snooze(wait));
    }
    let endpoint = webhook_endpoints::load(&mut conn, delivery.endpoint_id).await?;
    let endpoint = match endpoint {
        Some(endpoint) if endpoint.enabled => endpoint,
        other => {
            let reason = match other {
                None => "endpoint deleted".to_owned(),
                Some(e) => format!(
                    "endpoint disabled: {}",
                    e.disabled_reason.as_deref().unwrap_or("by its owner")
                ),
            };
            webhook_deliveries::finish(
                &mut conn,
                delivery.id,
                DeliveryStatus::Failed,
                delivery.attempts,
                Some(&reason),
            )
            .await?;
            return Ok(());
        }
    };
    let Some(key) = notifier.settings.secrets_key.as_ref() else {
        return Err(JobError::Retry(
            anyhow::anyhow!("MALIPO_SECRETS_KEY is not configured; deliveries wait"),
            None,
        ));
    };
    let current = key.open(&endpoint.secret_sealed)?;
    let previous = match (
        &endpoint.previous_secret_sealed,
        endpoint.previous_secret_until,
    ) {
        (Some(sealed), Some(until)) if until > Utc::now() => Some(key.open(sealed)?),
        _ => None,
    };
    let Some(event) = events::load(&mut conn, delivery.event_id).await? else {
        return Err(JobError::permanent("the delivery's event is missing"));
    };
    drop(conn);

    let body = serde_json::to_vec(&envelope::render(&event)).map_err(anyhow::Error::from)?;
    let mut secrets: Vec<&WebhookSecret> = vec![&current];
    secrets.extend(previous.as_ref());
    let outcome = notifier
        .sender
        .send(
            &endpoint.url,
            &envelope::public_id(event.id),
            &body,
            &secrets,
        )
        .await;
    record(&context, notifier.settings.schedule_scale, &job, &outcome).await
}

/// Writes the attempt and its consequence in one transaction; the snooze it may return is the
/// wait before the next attempt.
async fn record(
    context: &JobContext<WorkerState>,
    scale: f64,
    job: &DeliverEvent,
    outcome: &Outcome,
) -> Result<(), JobError> {
    let mut tx = context.app.pool.begin().await?;
    let Some(delivery) = webhook_deliveries::lock(&mut tx, job.delivery_id).await? else {
        return Err(JobError::permanent("no such delivery"));
    };
    let attempt = Attempt {
        attempted_at: outcome.started_at,
        duration_ms: i32::try_from(outcome.duration.as_millis()).unwrap_or(i32::MAX),
        response_status: outcome.status.map(i32::from),
        response_body: outcome.body.clone(),
        error: match &outcome.verdict {
            Verdict::Delivered => None,
            Verdict::Gone => Some("answered 410 Gone".to_owned()),
            Verdict::Failed { error, .. } => Some(error.clone()),
        },
    };
    webhook_deliveries::log_attempt(&mut tx, delivery.id, &attempt).await?;
    if delivery.status != DeliveryStatus::Pending || delivery.round != job.round {
        // A manual retry started a new round meanwhile; that round's job carries on.
        context.complete_within(&mut tx).await?;
        tx.commit().await?;
        return Ok(());
    }
    let attempts = delivery.attempts + 1;
    let endpoint = delivery.endpoint_id;
    let mut snooze = None;
    match &outcome.verdict {
        Verdict::Delivered => {
            webhook_deliveries::finish(
                &mut tx,
                delivery.id,
                DeliveryStatus::Succeeded,
                attempts,
                None,
            )
            .await?;
            webhook_endpoints::note_outcome(&mut tx, endpoint, true).await?;
            notify::count_attempt("delivered");
        }
        Verdict::Gone => {
            webhook_deliveries::finish(
                &mut tx,
                delivery.id,
                DeliveryStatus::Failed,
                attempts,
                attempt.error.as_deref(),
            )
            .await?;
            webhook_endpoints::disable(&mut tx, endpoint, "the endpoint answered 410 Gone").await?;
            notify::count_attempt("gone");
            notify::count_endpoint_disabled("gone");
        }
        Verdict::Failed { error, retry_after } => {
            snooze = record_failure(
                &mut tx,
                delivery.id,
                endpoint,
                attempts,
                error,
                *retry_after,
                scale,
            )
            .await?;
        }
    }
    if snooze.is_none() {
        context.complete_within(&mut tx).await?;
    }
    tx.commit().await?;
    match snooze {
        Some(delay) => Err(JobError::Snooze(delay)),
        None => Ok(()),
    }
}

/// A failed attempt: the next one is scheduled (its wait returned), unless the schedule is
/// spent or the endpoint has failed for the whole disable window — then the delivery fails,
/// and in the second case the endpoint is disabled.
async fn record_failure(
    tx: &mut PgConnection,
    delivery: Uuid,
    endpoint: Uuid,
    attempts: i32,
    error: &str,
    retry_after: Option<Duration>,
    scale: f64,
) -> Result<Option<Duration>, JobError> {
    let failing_since = webhook_endpoints::note_outcome(tx, endpoint, false).await?;
    let window = schedule::DISABLE_AFTER.mul_f64(scale);
    let failing_for = failing_since
        .and_then(|since| (Utc::now() - since).to_std().ok())
        .unwrap_or_default();
    let jitter = rand::rng().random_range(-1.0..=1.0);
    let next = u32::try_from(attempts)
        .ok()
        .and_then(|done| schedule::next_delay(done, jitter, scale, retry_after));
    if failing_for >= window {
        let reason = format!(
            "every attempt failed for {}s (last: {error})",
            failing_for.as_secs()
        );
        webhook_endpoints::disable(tx, endpoint, &reason).await?;
        notify::count_endpoint_disabled("failing");
    }
    match next {
        Some(delay) if failing_for < window => {
            webhook_deliveries::reschedule(tx, delivery, attempts, delay, error).await?;
            notify::count_attempt("retried");
            return Ok(Some(delay));
        }
        _ => {
            webhook_deliveries::finish(tx, delivery, DeliveryStatus::Failed, attempts, Some(error))
                .await?;
            notify::count_attempt("failed");
        }
    }
    Ok(None)
}
