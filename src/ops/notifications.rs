//! Operator actions on client notifications, across clients, each audited in its own
//! transaction: send one delivery again, or recover an endpoint's deliveries of a window.
//! `/ops` (`http/ops/notifications.rs`) and the CLI (`malipo webhooks retry|recover`) share them.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use super::{
    Actor, OpsError,
    audit::{self, Action},
};
use crate::db::{events, webhook_deliveries, webhook_endpoints};

fn action<'a>(
    actor: &'a Actor,
    name: &'static str,
    affected: i64,
    detail: serde_json::Value,
) -> Action<'a> {
    Action {
        actor,
        action: name,
        job_id: None,
        queue: Some(malipo_jobs::queues::NOTIFICATIONS),
        filter: serde_json::Value::Null,
        dry_run: false,
        affected,
        detail,
    }
}

/// Sends delivery `id` again now (a new round, the same `webhook-id`); returns the round.
pub async fn retry_delivery(pool: &PgPool, actor: &Actor, id: Uuid) -> Result<i32, OpsError> {
    let mut tx = pool.begin().await?;
    let delivery = webhook_deliveries::load(&mut tx, id)
        .await?
        .ok_or_else(|| OpsError::NotFound(format!("no webhook delivery `{id}`")))?;
    let round = webhook_deliveries::start_round(&mut tx, delivery.endpoint_id, id)
        .await?
        .ok_or_else(|| OpsError::NotFound(format!("no webhook delivery `{id}`")))?;
    events::enqueue_rounds(&mut tx, &[(id, round)]).await?;
    audit::record(
        &mut *tx,
        &action(
            actor,
            "delivery.retry",
            1,
            json!({ "delivery_id": id, "round": round }),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(round)
}

/// Sends again every delivery of `endpoint` whose event is in `[since, until)`, oldest first;
/// returns how many.
pub async fn recover_endpoint(
    pool: &PgPool,
    actor: &Actor,
    endpoint: Uuid,
    since: DateTime<Utc>,
    until: Option<DateTime<Utc>>,
) -> Result<usize, OpsError> {
    let mut tx = pool.begin().await?;
    if !webhook_endpoints::exists(&mut tx, endpoint).await? {
        return Err(OpsError::NotFound(format!(
            "no webhook endpoint `{endpoint}`"
        )));
    }
    let rounds = webhook_deliveries::start_rounds_since(&mut tx, endpoint, since, until).await?;
    events::enqueue_rounds(&mut tx, &rounds).await?;
    audit::record(
        &mut *tx,
        &action(
            actor,
            "endpoint.recover",
            rounds.len() as i64,
            json!({ "endpoint_id": endpoint, "since": since, "until": until }),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(rounds.len())
}
