//! A callback row's finish and an idempotency key's stored response are the one update each
//! row gets, and it changes no column an index needs (migration 0132): PostgreSQL keeps the new
//! version on its page and enters it in no index (a HOT update) — when the page has room for
//! it, which is what the tables' fillfactor leaves. Each test fills a page the way traffic does
//! and reads what the update was from the transaction's own statistics
//! (`pg_stat_xact_user_tables`, exact and immediate).

use malipo::{
    db::{
        idempotency,
        inbox::{self, Admission, InboxStatus, Received, Reception},
    },
    providers::InboxEndpoint,
    queue::Lease,
};
use malipo_testing::test_database;
use sqlx::PgConnection;

use super::table_activity;

/// Updates of `table` in the current transaction so far: (all, HOT).
async fn updates(conn: &mut PgConnection, table: &str) -> (i64, i64) {
    let activity = table_activity::of(conn, table).await;
    (activity.updates, activity.hot_updates)
}

#[tokio::test]
async fn a_callbacks_finish_stays_on_its_page() {
    let db = test_database().await.expect("database");
    // More than a full page of callbacks, each with a body the size of a real one.
    let body = [b'x'; 1000];
    for n in 0..12 {
        let key = format!("in-place:{n}");
        let subject = format!("po_{n}");
        let delivery = Received {
            provider: "mpesa",
            endpoint: InboxEndpoint::MpesaStatusResult,
            event_key: &key,
            subject: Some(&subject),
            body: &body,
            admit: Admission::Any,
        };
        let reception = inbox::insert_received(&db.pool, &delivery)
            .await
            .expect("stored");
        assert_eq!(reception, Reception::Queued);
    }
    // The first row, on the first page, and its job as a claim leaves it.
    let (row, job): (uuid::Uuid, i64) = sqlx::query_as(
        "UPDATE malipo_jobs SET state = 'running', locked_by = 'test', lease_token = 7,
                locked_until = now() + interval '1 minute'
          WHERE payload->>'inbox_id' = (SELECT id::text FROM webhook_inbox ORDER BY id LIMIT 1)
          RETURNING (payload->>'inbox_id')::uuid, id",
    )
    .fetch_one(&db.pool)
    .await
    .expect("claimed");
    let on_first_page: bool =
        sqlx::query_scalar("SELECT (ctid::text::point)[0] = 0 FROM webhook_inbox WHERE id = $1")
            .bind(row)
            .fetch_one(&db.pool)
            .await
            .expect("ctid");
    assert!(on_first_page);

    let mut tx = db.pool.begin().await.expect("begin");
    let finished = inbox::finish_completing(
        &mut *tx,
        row,
        InboxStatus::Processed,
        None,
        Lease {
            job_id: job,
            token: 7,
        },
    )
    .await
    .expect("finish");
    assert!(finished);
    assert_eq!(
        updates(&mut tx, "webhook_inbox").await,
        (1, 1),
        "the finish is a HOT update"
    );
    tx.commit().await.expect("commit");
}

#[tokio::test]
async fn a_keys_stored_response_stays_on_its_page() {
    let db = test_database().await.expect("database");
    let client = malipo::clients::create(&db.pool, "in-place", "client", 0)
        .await
        .expect("client")
        .id;
    // More than a full page of keys in flight.
    for n in 0..120 {
        let key = format!("in-place-{n:03}");
        let request = ("POST", "/v1/intents", "0123456789abcdef0123456789abcdef");
        assert!(
            idempotency::claim(&db.pool, client, &key, request, 60.0)
                .await
                .expect("claim")
        );
    }
    let mut tx = db.pool.begin().await.expect("begin");
    // A response the size of an intent's.
    let response = [b'{'; 1500];
    idempotency::complete(&mut tx, client, "in-place-000", 201, &response)
        .await
        .expect("complete");
    assert_eq!(
        updates(&mut tx, "idempotency_keys").await,
        (1, 1),
        "the stored response is a HOT update"
    );
    tx.commit().await.expect("commit");
}
