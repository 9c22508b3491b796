//! The provider webhook inbox (`webhook_inbox`): each verified delivery stored once (deduplicated
//! on the provider's event key), then applied by the `process_webhook` job.

use chrono::{DateTime, SubsecRound, Utc};
use malipo_jobs::{ProcessWebhook, WebhookDelivery};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use crate::{
    providers::InboxEndpoint,
    queue::{JobRow, Lease},
};

/// Where an inbox row stands (`webhook_inbox.status`, CHECKed in `migrations/0003_escrow.sql`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, sqlx::Type,
)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum InboxStatus {
    /// Stored with its `process_webhook` job, not applied yet.
    Received,
    /// Applied: the provider's answer changed something.
    Processed,
    /// Authenticated but unreadable; kept for the record.
    Rejected,
    /// Kept without effect, with the reason.
    Ignored,
}

impl InboxStatus {
    /// Every status.
    pub const ALL: [InboxStatus; 4] = [
        Self::Received,
        Self::Processed,
        Self::Rejected,
        Self::Ignored,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::Processed => "processed",
            Self::Rejected => "rejected",
            Self::Ignored => "ignored",
        }
    }
}

impl std::fmt::Display for InboxStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Stores a delivery to be processed (`received`) with its `process_webhook` job, and says
/// what happened. One statement instead of a transaction of three (the admission check, the
/// row, the job): a webhook's acknowledgement is the busiest write malipo does. It is
/// therefore one of the few statements outside `queue/` that write a job row (the row
/// `queue::JobRow` describes; `payouts::insert` and `intents::insert` are the others).
pub async fn insert_received(
    conn: impl PgExecutor<'_>,
    delivery: &Received<'_>,
) -> Result<Reception, sqlx::Error> {
    let id = Uuid::now_v7();
    let (payout_reference, deposit_handle) = match delivery.admit {
        Admission::Any => (None, None),
        Admission::PayoutReference(reference) => (Some(reference), None),
        Admission::DepositHandle(provider, handle) => (None, Some((provider, handle))),
    };
    // The row's arrival time is set here, not by the column's default, so the row and the
    // job's copy of the delivery carry the same instant (PostgreSQL keeps microseconds).
    let received_at = Utc::now().trunc_subsecs(6);
    let job = JobRow::of(&ProcessWebhook {
        inbox_id: id,
        delivery: std::str::from_utf8(delivery.body)
            .ok()
            .map(|body| WebhookDelivery {
                endpoint: delivery.endpoint.as_str().to_owned(),
                subject: delivery.subject.map(str::to_owned),
                body: body.to_owned(),
                received_at,
            }),
    })?;
    // The job is inserted only when the row is new (a duplicate delivery queues nothing). The
    // caller rings the job bell once this is committed (`Reception::Queued`), so the statement
    // keeps the notification trigger quiet (`queue::bell`).
    let row = sqlx::query!(
        r#"WITH admitted AS (
             SELECT set_config('malipo.rings_itself', $16, true) IS NOT NULL AS quiet,
                    CASE WHEN $12::text IS NOT NULL
                         THEN EXISTS (SELECT 1 FROM payouts WHERE provider = $2 AND reference = $12)
                         WHEN $14::text IS NOT NULL
                         THEN EXISTS (SELECT 1 FROM intents
                                       WHERE provider = $15 AND provider_reference = $14)
                         ELSE true END AS yes),
           stored AS (
             INSERT INTO webhook_inbox (id, provider, endpoint, event_key, subject, body, status, received_at)
             SELECT $1, $2, $3, $4, $5, $6, $13, $17 FROM admitted WHERE yes
             ON CONFLICT (provider, event_key) DO NOTHING
             RETURNING id),
           queued AS (
             INSERT INTO malipo_jobs (queue, kind, payload, max_attempts, dedupe_key)
             SELECT $7, $8, $9, $10, $11 FROM stored
             ON CONFLICT (queue, dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING
             RETURNING id)
           SELECT yes AS "admitted!", EXISTS (SELECT 1 FROM stored) AS "stored!" FROM admitted WHERE quiet"#,
        id,
        delivery.provider,
        delivery.endpoint.as_str(),
        delivery.event_key,
        delivery.subject,
        delivery.body,
        job.queue,
        job.kind,
        job.payload,
        job.max_attempts,
        job.dedupe_key.as_deref(),
        payout_reference,
        InboxStatus::Received as InboxStatus,
        deposit_handle.map(|(_, handle)| handle),
        deposit_handle.map(|(provider, _)| provider.as_str()),
        crate::queue::bell::Wake::CallerRings.quiet_about(job.queue),
        received_at,
    )
    .fetch_one(conn)
    .await?;
    Ok(match (row.admitted, row.stored) {
        (false, _) => Reception::NotOurs,
        (true, true) => Reception::Queued,
        (true, false) => Reception::Duplicate,
    })
}

/// What [`insert_received`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reception {
    /// Stored and queued, with the notification left to the caller: ring the job bell for
    /// `ProcessWebhook`'s queue once the statement's transaction committed.
    Queued,
    /// Stored before under the same event key; nothing done.
    Duplicate,
    /// Names a payout reference or deposit handle malipo never issued; nothing stored.
    NotOurs,
}

/// Which deliveries [`insert_received`] stores: decided in its own statement.
#[derive(Debug, Clone, Copy)]
pub enum Admission<'a> {
    /// Every one.
    Any,
    /// Only a result about this provider's payout with this reference (a payout result that
    /// names a reference malipo never issued is not ours).
    PayoutReference(&'a str),
    /// Only a claim about a deposit whose handle (a CheckoutRequestID, an invoice's payment
    /// hash) malipo recorded for this provider.
    DepositHandle(crate::domain::ProviderKind, &'a str),
}

/// A verified delivery to store for processing.
#[derive(Debug, Clone, Copy)]
pub struct Received<'a> {
    /// The provider.
    pub provider: &'a str,
    /// Which endpoint received it.
    pub endpoint: InboxEndpoint,
    /// Its key: a second delivery with the same key is a duplicate.
    pub event_key: &'a str,
    /// What it is about, when its URL said so.
    pub subject: Option<&'a str>,
    /// The raw body.
    pub body: &'a [u8],
    /// Which deliveries are stored.
    pub admit: Admission<'a>,
}

/// A delivery stored without effect.
#[derive(Debug, Clone, Copy)]
pub struct InertDelivery<'a> {
    /// The provider.
    pub provider: &'a str,
    /// Which endpoint received it.
    pub endpoint: InboxEndpoint,
    /// Its key (identical deliveries are stored once).
    pub event_key: &'a str,
    /// `Rejected` or `Ignored`.
    pub status: InboxStatus,
    /// Why.
    pub reason: &'a str,
    /// What it is about, when its handle is known (an early STK callback's CheckoutRequestID).
    pub subject: Option<&'a str>,
}

/// Stores a delivery that will have no effect, already processed.
pub async fn insert_inert(
    executor: impl PgExecutor<'_>,
    delivery: InertDelivery<'_>,
    body: &[u8],
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO webhook_inbox (id, provider, endpoint, event_key, body, status, reason, processed_at, subject)
         VALUES ($1, $2, $3, $4, $5, $6, $7, now(), $8) ON CONFLICT (provider, event_key) DO NOTHING",
        Uuid::now_v7(),
        delivery.provider,
        delivery.endpoint.as_str(),
        delivery.event_key,
        body,
        delivery.status as InboxStatus,
        delivery.reason,
        delivery.subject,
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// An inbox row as processing reads it.
#[derive(Debug, Clone)]
pub struct InboxRow {
    /// Which endpoint received it (an [`InboxEndpoint`]'s name, unless an older version stored
    /// another).
    pub endpoint: String,
    /// Where it stands.
    pub status: InboxStatus,
    /// What its callback URL named, when anything.
    pub subject: Option<String>,
    /// The raw body.
    pub body: Vec<u8>,
    /// When it arrived.
    pub received_at: DateTime<Utc>,
}

/// Inbox row `id`.
pub async fn load(
    executor: impl PgExecutor<'_>,
    id: Uuid,
) -> Result<Option<InboxRow>, sqlx::Error> {
    sqlx::query_as!(
        InboxRow,
        r#"SELECT endpoint, status AS "status: InboxStatus", subject, body, received_at
             FROM webhook_inbox WHERE id = $1"#,
        id,
    )
    .fetch_optional(executor)
    .await
}

/// Records what processing row `id` came to (`Processed` or `Ignored`, unless another run did
/// first) and completes its `process_webhook` job, as one statement fenced by the run's lease:
/// the row is finished only when the job is marked done, so a run whose lease was taken over
/// changes nothing (its successor finishes the row). Returns whether it completed.
/// Like `queue::complete::done_within`, it completes through `malipo_complete_done`.
pub async fn finish_completing(
    executor: impl PgExecutor<'_>,
    id: Uuid,
    status: InboxStatus,
    reason: Option<&str>,
    job: Lease,
) -> Result<bool, sqlx::Error> {
    // `malipo_finish_callback` (migration 0131), which `malipo_settle_share` calls too.
    sqlx::query_scalar!(
        r#"SELECT malipo_finish_callback($1, $2, $3, $4, $5, $6) AS "completed!""#,
        id,
        status as InboxStatus,
        reason,
        InboxStatus::Received as InboxStatus,
        job.job_id,
        job.token,
    )
    .fetch_one(executor)
    .await
}

/// STK callbacks for `checkout_request_id` that arrived in the last 15 minutes before malipo
/// had recorded the id (kept as `ignored`, with the id as their subject), put back to
/// `received`; returns their ids for processing.
pub async fn requeue_early_stk(
    conn: &mut PgConnection,
    checkout_request_id: &str,
) -> Result<Vec<Uuid>, sqlx::Error> {
    // Found by their subject (`webhook_inbox_subject`): a handful of rows per id at most. No
    // index names `status` (migration 0132), so a row's finish can stay on its page.
    sqlx::query_scalar!(
        "UPDATE webhook_inbox SET status = $3, reason = NULL, processed_at = NULL
          WHERE provider = 'mpesa' AND endpoint = $2 AND status = 'ignored'
            AND received_at > now() - interval '15 minutes'
            AND subject = $1
          RETURNING id",
        checkout_request_id,
        InboxEndpoint::MpesaStk.as_str(),
        InboxStatus::Received as InboxStatus,
    )
    .fetch_all(conn)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn early_stk<'a>(subject: Option<&'a str>, key: &'a str) -> InertDelivery<'a> {
        InertDelivery {
            provider: "mpesa",
            endpoint: InboxEndpoint::MpesaStk,
            event_key: key,
            status: InboxStatus::Ignored,
            reason: "unknown CheckoutRequestID",
            subject,
        }
    }

    #[test]
    fn statuses_are_the_ones_the_table_allows() {
        let allowed = crate::domain::checked_names("webhook_inbox_status_check");
        let ours: Vec<&str> = InboxStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(allowed, ours);
    }

    /// The job that records a CheckoutRequestID finds the callbacks that overtook it by their
    /// subject: exactly those, and not a callback that merely mentions the id in its body.
    #[tokio::test]
    async fn early_stk_callbacks_are_found_by_their_subject_only() {
        let db = malipo_testing::test_database()
            .await
            .expect("test database");
        let mut conn = db.pool.acquire().await.expect("connection");
        let checkout = "ws_CO_early_1";
        let body = format!(r#"{{"CheckoutRequestID":"{checkout}"}}"#);
        insert_inert(&mut *conn, early_stk(Some(checkout), "a"), body.as_bytes())
            .await
            .expect("early callback");
        // Names the id in its body but was kept about another one.
        insert_inert(
            &mut *conn,
            early_stk(Some("ws_CO_other"), "b"),
            body.as_bytes(),
        )
        .await
        .expect("other callback");
        insert_inert(&mut *conn, early_stk(None, "c"), body.as_bytes())
            .await
            .expect("callback without subject");

        let requeued = requeue_early_stk(&mut conn, checkout)
            .await
            .expect("requeue");
        assert_eq!(requeued.len(), 1, "only the callback about {checkout}");
        let row = load(&mut *conn, requeued[0])
            .await
            .expect("load")
            .expect("row");
        assert_eq!(row.status, InboxStatus::Received);
        assert_eq!(row.subject.as_deref(), Some(checkout));
        let again = requeue_early_stk(&mut conn, checkout)
            .await
            .expect("requeue again");
        assert!(
            again.is_empty(),
            "a requeued callback is not requeued twice"
        );
    }

    /// An inbox row's endpoint, subject, body and arrival, with its job's payload.
    type StoredWithJob = (
        String,
        Option<String>,
        Vec<u8>,
        DateTime<Utc>,
        serde_json::Value,
    );

    /// A stored delivery's job carries the delivery as its row holds it (so processing need
    /// not read the row back), to the microsecond; a body that is not UTF-8 text is left to
    /// the row.
    #[tokio::test]
    async fn a_queued_deliverys_job_carries_what_its_row_holds() {
        let db = malipo_testing::test_database()
            .await
            .expect("test database");
        let stored = |event_key: &'static str, body: &'static [u8]| Received {
            provider: "mpesa",
            endpoint: InboxEndpoint::MpesaB2cResult,
            event_key,
            subject: Some("payout-ref-1"),
            body,
            admit: Admission::Any,
        };
        let text = br#"{"Result":{"ConversationID":"AG_1"}}"#;
        for (key, body) in [("text", &text[..]), ("bytes", &b"\xff\xfe"[..])] {
            let reception = insert_received(&db.pool, &stored(key, body))
                .await
                .expect("stored");
            assert_eq!(reception, Reception::Queued);
        }
        let rows: Vec<StoredWithJob> = sqlx::query_as(
            "SELECT i.endpoint, i.subject, i.body, i.received_at, j.payload
                   FROM webhook_inbox i JOIN malipo_jobs j ON j.payload->>'inbox_id' = i.id::text
                  ORDER BY i.event_key",
        )
        .fetch_all(&db.pool)
        .await
        .expect("rows and jobs");
        assert_eq!(rows.len(), 2, "one job per stored delivery");
        let (_, _, _, _, payload) = &rows[0];
        let job: ProcessWebhook = serde_json::from_value(payload.clone()).expect("payload");
        assert_eq!(
            job.delivery, None,
            "a body that is not text is read from its row"
        );
        let (endpoint, subject, body, received_at, payload) = &rows[1];
        let job: ProcessWebhook = serde_json::from_value(payload.clone()).expect("payload");
        let carried = job.delivery.expect("a text body travels with its job");
        assert_eq!(&carried.endpoint, endpoint);
        assert_eq!(&carried.subject, subject);
        assert_eq!(carried.body.as_bytes(), body.as_slice());
        assert_eq!(&carried.received_at, received_at);
    }

    /// The race between the STK endpoint and the job that records the CheckoutRequestID: a
    /// callback that found the id unknown keeps itself as ignored under the id's lock, and the
    /// job's recording of the id takes the same lock, so the job's look for such callbacks
    /// (after the recording, in its transaction) waits for that callback's commit and finds it.
    #[tokio::test]
    async fn recording_a_handle_waits_for_a_callback_deciding_under_its_lock() {
        let db = malipo_testing::test_database()
            .await
            .expect("test database");
        let checkout = "ws_CO_race_1";
        let body = format!(r#"{{"CheckoutRequestID":"{checkout}"}}"#);
        let mut endpoint = db.pool.begin().await.expect("begin");
        crate::db::intents::lock_provider_handle(
            &mut endpoint,
            crate::domain::ProviderKind::Mpesa,
            checkout,
        )
        .await
        .expect("the handle's lock");
        insert_inert(
            &mut *endpoint,
            early_stk(Some(checkout), "race"),
            body.as_bytes(),
        )
        .await
        .expect("kept as ignored, not committed yet");

        let pool = db.pool.clone();
        let job = tokio::spawn(async move {
            let mut tx = pool.begin().await?;
            // No such intent is needed: the lock is taken whether or not a row is recorded.
            crate::db::intents::record_deposit_handle(
                &mut tx,
                Uuid::now_v7(),
                crate::domain::ProviderKind::Mpesa,
                serde_json::json!({}),
                checkout,
                None,
            )
            .await?;
            let found = requeue_early_stk(&mut tx, checkout).await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(found)
        });
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let waiting: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
                    AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))",
            )
            .fetch_one(&db.pool)
            .await
            .expect("locks");
            if waiting {
                break;
            }
            assert!(
                !job.is_finished(),
                "the job recorded the id without waiting for the callback's lock"
            );
            assert!(
                std::time::Instant::now() < deadline,
                "the job never reached the handle's lock"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        endpoint.commit().await.expect("the callback commits");
        let found = job.await.expect("joined").expect("the job's transaction");
        assert_eq!(found.len(), 1, "the early callback is queued by the job");
    }
}
