//! What the round trips cut for issue #21 must keep: a payout locked to apply a provider's
//! answer still holds back every other share of its intent (the intent's lock now comes with
//! the payout's, in one statement), and a posting written in the statement of its move (which
//! may commit on its own) is never written in part.

use std::time::Duration;

use malipo::{
    db::payouts::{self, PayoutRecord},
    domain::PayoutKind,
    escrow::payout as effects,
};
use rust_decimal::Decimal;
use serde_json::json;
use uuid::Uuid;

use super::support::{Harness, mpesa_intent};

const LIMIT: Duration = Duration::from_secs(20);

/// A settled M-Pesa escrow's two shares (payee and commission).
async fn two_shares(harness: &Harness) -> (Uuid, Uuid) {
    let created = harness.create(mpesa_intent("1500")).await;
    let id = created["id"].as_str().expect("id");
    harness.wait_for(id, "held", LIMIT).await;
    assert_eq!(harness.release(id, json!({})).await.status(), 202);
    harness.wait_for(id, "settled", LIMIT).await;
    let ids: Vec<Uuid> =
        sqlx::query_scalar("SELECT id FROM payouts WHERE intent_id = $1::uuid ORDER BY kind")
            .bind(id)
            .fetch_all(&harness.pool)
            .await
            .expect("payouts");
    assert_eq!(ids.len(), 2, "payee and commission");
    (ids[0], ids[1])
}

#[tokio::test]
async fn a_locked_payout_holds_back_the_other_share_of_its_intent() {
    let harness = Harness::start().await;
    let (first, second) = two_shares(&harness).await;

    let mut holder = harness.pool.begin().await.expect("begin");
    payouts::lock(&mut holder, first)
        .await
        .expect("lock")
        .expect("the first share");

    // Another transaction locking the other share must wait for the intent: asked to give
    // up after a short wait instead of blocking, it gives up.
    let mut other = harness.pool.begin().await.expect("begin");
    sqlx::query("SET LOCAL lock_timeout = '300ms'")
        .execute(&mut *other)
        .await
        .expect("lock timeout");
    let error = payouts::lock(&mut other, second)
        .await
        .expect_err("the intent is locked with the first share");
    let code = error
        .downcast_ref::<sqlx::Error>()
        .and_then(|error| error.as_database_error())
        .and_then(|error| error.code())
        .map(|code| code.into_owned());
    assert_eq!(
        code.as_deref(),
        Some("55P03"),
        "lock_not_available: {error:#}"
    );
    other.rollback().await.expect("rollback");

    // Once the first is released, the second is locked at once.
    holder.commit().await.expect("commit");
    let mut other = harness.pool.begin().await.expect("begin");
    sqlx::query("SET LOCAL lock_timeout = '5s'")
        .execute(&mut *other)
        .await
        .expect("lock timeout");
    let locked = payouts::lock(&mut other, second)
        .await
        .expect("lock")
        .expect("the second share");
    assert_eq!(locked.id, second);
}

/// A posting that needs an account another transaction is creating waits for it (its
/// `ON CONFLICT` does) and then cannot see it in the statement that waited. Since a move and
/// its posting commit on their own (a payout's `begin`), a short posting must never commit:
/// migration 0124 refused it (a serialization failure, so the job ran again after its
/// backoff: the first payouts of a fresh database, payee's and commission's side by side,
/// hit it — a CI failure of `job_bell`). Migration 0127 writes the missing entries in a
/// second statement instead, which sees the committed account; the entry of the account the
/// first statement did see is not written twice.
#[tokio::test]
async fn a_posting_whose_account_appears_meanwhile_is_written_whole() {
    let db = malipo_testing::test_database().await.expect("database");
    sqlx::query(
        "INSERT INTO ledger_accounts (code, kind, currency)
         VALUES ('commission:TST', 'platform_commission', 'KES')",
    )
    .execute(&db.pool)
    .await
    .expect("an account the posting sees");
    let mut creator = db.pool.begin().await.expect("begin");
    sqlx::query(
        "INSERT INTO ledger_accounts (code, kind, currency)
         VALUES ('payouts_in_flight:TST', 'payouts_in_flight', 'KES')",
    )
    .execute(&mut *creator)
    .await
    .expect("an account, not committed yet");

    // The posting's insert of the same account waits for the creator's transaction.
    let pool = db.pool.clone();
    let posting = tokio::spawn(async move {
        sqlx::query_as::<_, (i64, i64)>(
            "SELECT inserted, written FROM malipo_post_ledger(
               'payout:test:sent', 'payout_sent', NULL, 'test',
               ARRAY['commission:TST', 'payouts_in_flight:TST'],
               ARRAY['platform_commission', 'payouts_in_flight'], ARRAY['KES', 'KES'],
               ARRAY[NULL, NULL]::uuid[], ARRAY[5, -5]::numeric[])",
        )
        .fetch_one(&pool)
        .await
    });
    let blocked = malipo_testing::eventually(LIMIT, || async {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
              WHERE datname = current_database() AND wait_event_type = 'Lock'
                AND query LIKE '%malipo_post_ledger(%'",
        )
        .fetch_one(&db.pool)
        .await
        .expect("activity");
        waiting == 1
    })
    .await;
    assert!(blocked, "the posting never waited for the account");
    creator.commit().await.expect("commit the account");

    let answer = posting.await.expect("join").expect("written, not refused");
    assert_eq!(answer, (1, 2), "posted, both entries written");
    let entries: Vec<(String, String)> = sqlx::query_as(
        "SELECT a.code, e.amount::text FROM ledger_entries e
           JOIN ledger_transactions t ON t.id = e.transaction_id
           JOIN ledger_accounts a ON a.id = e.account_id
          WHERE t.idempotency_key = 'payout:test:sent' ORDER BY a.code",
    )
    .fetch_all(&db.pool)
    .await
    .expect("entries");
    assert_eq!(
        entries,
        vec![
            ("commission:TST".to_owned(), "5.00".to_owned()),
            ("payouts_in_flight:TST".to_owned(), "-5.00".to_owned()),
        ]
    );
}

/// A provider's answer that settles a payout commits with its callback's outcome and its job's
/// completion (issue #21's transactional completion, for callbacks): each payout row was last
/// written by the transaction that finished a processed callback, so no crash can leave an
/// applied answer with its callback still to process.
#[tokio::test]
async fn a_payouts_answer_commits_with_its_callbacks_completion() {
    let harness = Harness::start().await;
    let (first, second) = two_shares(&harness).await;
    for payout in [first, second] {
        let together: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM webhook_inbox w JOIN payouts p ON w.xmin = p.xmin
              WHERE p.id = $1 AND p.status = 'succeeded' AND w.status = 'processed'",
        )
        .bind(payout)
        .fetch_one(&harness.pool)
        .await
        .expect("count");
        assert_eq!(
            together, 1,
            "payout {payout} and its answer's callback, one transaction"
        );
    }
}

/// A lone hold (`deposit::hold_alone`, one statement without a transaction) decides on a record
/// read before the provider was asked: an intent that has moved on since is not held again and
/// nothing is posted twice; the locked path decides instead.
#[tokio::test]
async fn a_lone_hold_on_a_record_the_intent_has_left_writes_nothing() {
    use malipo::{db::intents, domain::IntentStatus, escrow::deposit, providers::DepositStatus};
    let harness = Harness::start().await;
    let created = harness.create(mpesa_intent("1500")).await;
    let id = created["id"].as_str().expect("id");
    harness.wait_for(id, "held", LIMIT).await;
    let id: Uuid = id.parse().expect("uuid");
    let mut conn = harness.pool.acquire().await.expect("connection");
    let mut stale = intents::load(&mut conn, id, false)
        .await
        .expect("load")
        .expect("the intent");
    stale.status = IntentStatus::AwaitingPayment;
    let paid = DepositStatus::Succeeded {
        amount: stale.amount,
        provider_ref: "PAID-AGAIN".into(),
    };
    let written = || async {
        sqlx::query_as::<_, (i64, i64)>(
            "SELECT (SELECT count(*) FROM ledger_transactions WHERE intent_id = $1),
                    (SELECT count(*) FROM intent_events WHERE intent_id = $1)",
        )
        .bind(id)
        .fetch_one(&harness.pool)
        .await
        .expect("counts")
    };
    let before = written().await;
    let effect = deposit::hold_alone(&mut conn, &stale, &paid)
        .await
        .expect("a refused move is no error");
    assert_eq!(effect, None, "the intent is no longer awaiting payment");
    assert_eq!(written().await, before, "nothing posted or recorded");
}

/// A callback's outcome and its `process_webhook` job's completion are one statement fenced by
/// the run's lease: a run whose lease another worker took over finishes nothing.
#[tokio::test]
async fn a_webhook_row_is_finished_only_with_its_jobs_completion_under_the_runs_lease() {
    use malipo::{
        db::inbox::{self, Admission, InboxStatus, Received, Reception},
        providers::InboxEndpoint,
        queue::Lease,
    };
    let db = malipo_testing::test_database().await.expect("database");
    let delivery = Received {
        provider: "paystack",
        endpoint: InboxEndpoint::Paystack,
        event_key: "charge.success:1",
        subject: None,
        body: b"{}",
        admit: Admission::Any,
    };
    let reception = inbox::insert_received(&db.pool, &delivery)
        .await
        .expect("stored");
    assert_eq!(reception, Reception::Queued);
    // Claimed by a run holding token 7.
    let (row, job): (Uuid, i64) = sqlx::query_as(
        "UPDATE malipo_jobs SET state = 'running', locked_by = 'test', lease_token = 7,
                locked_until = now() + interval '1 minute'
          WHERE kind = 'process_webhook'
          RETURNING (payload->>'inbox_id')::uuid, id",
    )
    .fetch_one(&db.pool)
    .await
    .expect("claimed");
    let states = || async {
        sqlx::query_as::<_, (String, String)>(
            "SELECT (SELECT status FROM webhook_inbox WHERE id = $1),
                    (SELECT state FROM malipo_jobs WHERE id = $2)",
        )
        .bind(row)
        .bind(job)
        .fetch_one(&db.pool)
        .await
        .expect("states")
    };
    let stale = Lease {
        job_id: job,
        token: 6,
    };
    let finished = inbox::finish_completing(&db.pool, row, InboxStatus::Processed, None, stale)
        .await
        .expect("statement");
    assert!(!finished, "a stale lease completes nothing");
    assert_eq!(states().await, ("received".into(), "running".into()));
    let held = Lease {
        job_id: job,
        token: 7,
    };
    let finished = inbox::finish_completing(&db.pool, row, InboxStatus::Processed, None, held)
        .await
        .expect("statement");
    assert!(finished);
    assert_eq!(states().await, ("processed".into(), "done".into()));
}

/// A callback row and its claimed `process_webhook` job (lease token 7), for settling a share
/// by hand with the workers stopped.
async fn claimed_callback(pool: &sqlx::PgPool, event_key: &str) -> (Uuid, i64) {
    use malipo::{
        db::inbox::{self, Admission, Received, Reception},
        providers::InboxEndpoint,
    };
    let delivery = Received {
        provider: "mpesa",
        endpoint: InboxEndpoint::MpesaStatusResult,
        event_key,
        subject: None,
        body: b"{}",
        admit: Admission::Any,
    };
    let reception = inbox::insert_received(pool, &delivery)
        .await
        .expect("stored");
    assert_eq!(reception, Reception::Queued);
    sqlx::query_as(
        "UPDATE malipo_jobs SET state = 'running', locked_by = 'test', lease_token = 7,
                locked_until = now() + interval '1 minute'
          WHERE kind = 'process_webhook' AND state = 'pending'
            AND payload->>'inbox_id' = (SELECT id::text FROM webhook_inbox
                                         WHERE provider = 'mpesa' AND event_key = $1)
          RETURNING (payload->>'inbox_id')::uuid, id",
    )
    .bind(event_key)
    .fetch_one(pool)
    .await
    .expect("claimed")
}

/// A released M-Pesa escrow's two shares, sent (in flight) by hand with the workers stopped, so
/// that nothing but the test settles them: (intent, payee share, commission share).
async fn two_shares_in_flight(harness: &mut Harness) -> (Uuid, PayoutRecord, PayoutRecord) {
    use malipo::{db::intents, escrow::release};
    let created = harness.create(mpesa_intent("1500")).await;
    let id = created["id"].as_str().expect("id");
    harness.wait_for(id, "held", LIMIT).await;
    harness.stop_workers().await;
    assert_eq!(harness.release(id, json!({})).await.status(), 202);
    let intent: Uuid = id.parse().expect("uuid");
    // What `release_escrow` would do.
    let mut tx = harness.pool.begin().await.expect("begin");
    let record = intents::load(&mut tx, intent, true)
        .await
        .expect("load")
        .expect("the intent");
    release::release(&mut tx, &record, &harness.worker_state.commission)
        .await
        .expect("released");
    tx.commit().await.expect("commit");
    let ids: Vec<Uuid> =
        sqlx::query_scalar("SELECT id FROM payouts WHERE intent_id = $1 ORDER BY kind DESC")
            .bind(intent)
            .fetch_all(&harness.pool)
            .await
            .expect("payouts");
    assert_eq!(ids.len(), 2, "payee and commission");
    let mut conn = harness.pool.acquire().await.expect("connection");
    let mut shares = Vec::new();
    for id in ids {
        let pending = payouts::load(&mut conn, id)
            .await
            .expect("load")
            .expect("the share");
        // What the `payout` job does before it calls the provider.
        assert!(effects::begin(&mut conn, &pending).await.expect("begin"));
        shares.push(
            payouts::load(&mut conn, id)
                .await
                .expect("load")
                .expect("the share"),
        );
    }
    let commission = shares.pop().expect("commission");
    let payee = shares.pop().expect("payee");
    assert_eq!(
        (payee.kind, commission.kind),
        (PayoutKind::Payee, PayoutKind::Commission)
    );
    (intent, payee, commission)
}

/// What a settlement may have written for `payout` of `intent`, with the callback row and job.
#[derive(Debug, PartialEq, Eq)]
struct Written {
    payout: String,
    intent: String,
    callback: String,
    job: String,
    /// The `succeeded` posting's entries: (account, amount).
    posting: Vec<(String, Decimal)>,
    /// The payout's notifications.
    notified: i64,
    /// The intent's `settled` history rows, with their detail.
    settled: Vec<serde_json::Value>,
    /// The payout job's state.
    payout_job: String,
}

async fn written(pool: &sqlx::PgPool, payout: Uuid, intent: Uuid, row: Uuid, job: i64) -> Written {
    let (payout_status, intent_status, callback, job_state, notified, payout_job): (
        String,
        String,
        String,
        String,
        i64,
        String,
    ) = sqlx::query_as(
        "SELECT (SELECT status FROM payouts WHERE id = $1),
                (SELECT status FROM intents WHERE id = $2),
                (SELECT status FROM webhook_inbox WHERE id = $3),
                (SELECT state FROM malipo_jobs WHERE id = $4),
                (SELECT count(*) FROM events WHERE object_id = $1),
                (SELECT state FROM malipo_jobs WHERE kind = 'payout' AND payload->>'payout_id' = $1::text)",
    )
    .bind(payout)
    .bind(intent)
    .bind(row)
    .bind(job)
    .fetch_one(pool)
    .await
    .expect("state");
    let posting = sqlx::query_as(
        "SELECT a.code, e.amount FROM ledger_entries e
           JOIN ledger_transactions t ON t.id = e.transaction_id
           JOIN ledger_accounts a ON a.id = e.account_id
          WHERE t.idempotency_key = 'payout:' || $1::text || ':succeeded' ORDER BY a.code",
    )
    .bind(payout)
    .fetch_all(pool)
    .await
    .expect("entries");
    let settled = sqlx::query_scalar(
        "SELECT detail FROM intent_events WHERE intent_id = $1 AND to_status = 'settled'",
    )
    .bind(intent)
    .fetch_all(pool)
    .await
    .expect("history");
    Written {
        payout: payout_status,
        intent: intent_status,
        callback,
        job: job_state,
        posting,
        notified,
        settled,
        payout_job,
    }
}

/// A delivered share settles in one call (`malipo_settle_share`): the payout's move and its
/// posting, the end of its job's waiting status check, the intent's `settled` move once it is
/// the last share, and the callback's finish with its job's completion, all in one
/// transaction and only under the run's lease. A run that lost its lease writes nothing; a
/// payout that left `in_flight` after it was read writes nothing and leaves the callback to the
/// locked way.
#[tokio::test]
async fn a_delivered_share_settles_in_one_call_under_its_runs_lease() {
    use malipo::{
        db::share_settlement::{self, ShareSettled},
        queue::Lease,
    };
    let mut harness = Harness::start().await;
    let (intent, payee, commission) = two_shares_in_flight(&mut harness).await;
    let pool = &harness.pool;
    let share = effects::delivered_share(&payee, "B2C-PAYEE")
        .expect("posting")
        .expect("an in-flight payee share settles in one call");

    // A run that lost its lease: nothing is written.
    let (row, job) = claimed_callback(pool, "one-call:payee").await;
    let before = written(pool, payee.id, intent, row, job).await;
    assert_eq!(
        (
            before.payout.as_str(),
            before.intent.as_str(),
            before.callback.as_str()
        ),
        ("in_flight", "released", "received")
    );
    let stale = Lease {
        job_id: job,
        token: 6,
    };
    let settled = share_settlement::settle_finishing(pool, &share, row, stale)
        .await
        .expect("call");
    assert_eq!(settled, ShareSettled::LeaseLost);
    assert_eq!(written(pool, payee.id, intent, row, job).await, before);

    // Under the held lease: the share, its posting and its notification, its job's check
    // ended, the callback finished; the intent waits for the commission, still in flight.
    let held = Lease {
        job_id: job,
        token: 7,
    };
    let settled = share_settlement::settle_finishing(pool, &share, row, held)
        .await
        .expect("call");
    assert_eq!(settled, ShareSettled::Settled);
    let amount = payee.amount.amount();
    let after = written(pool, payee.id, intent, row, job).await;
    assert_eq!(
        after,
        Written {
            payout: "succeeded".into(),
            intent: "released".into(),
            callback: "processed".into(),
            job: "done".into(),
            posting: vec![
                ("clearing:mpesa:KES".into(), -amount),
                ("payouts_in_flight:KES".into(), amount),
            ],
            notified: before.notified + 1,
            settled: vec![],
            payout_job: "done".into(),
        }
    );
    let together: bool = sqlx::query_scalar(
        "SELECT (SELECT xmin FROM payouts WHERE id = $1) = (SELECT xmin FROM webhook_inbox WHERE id = $2)",
    )
    .bind(payee.id)
    .bind(row)
    .fetch_one(pool)
    .await
    .expect("xmin");
    assert!(together, "the share and its callback, one transaction");

    // The same answer again, on the record read before the move: nothing moves, and the
    // callback is left for the locked way.
    let (again, again_job) = claimed_callback(pool, "one-call:payee-again").await;
    let before = written(pool, payee.id, intent, again, again_job).await;
    let settled = share_settlement::settle_finishing(
        pool,
        &share,
        again,
        Lease {
            job_id: again_job,
            token: 7,
        },
    )
    .await
    .expect("call");
    assert_eq!(settled, ShareSettled::NotMoved);
    assert_eq!(
        written(pool, payee.id, intent, again, again_job).await,
        before
    );
    assert_eq!(
        (before.callback.as_str(), before.job.as_str()),
        ("received", "running")
    );

    // The last share: the intent settles with it, recording which payout settled it.
    let last = effects::delivered_share(&commission, "B2C-COMMISSION")
        .expect("posting")
        .expect("an in-flight commission share settles in one call");
    let (row, job) = claimed_callback(pool, "one-call:commission").await;
    let settled = share_settlement::settle_finishing(
        pool,
        &last,
        row,
        Lease {
            job_id: job,
            token: 7,
        },
    )
    .await
    .expect("call");
    assert_eq!(settled, ShareSettled::Settled);
    let after = written(pool, commission.id, intent, row, job).await;
    assert_eq!(
        (
            after.payout.as_str(),
            after.intent.as_str(),
            after.callback.as_str()
        ),
        ("succeeded", "settled", "processed")
    );
    assert_eq!(after.settled, vec![json!({"payout": commission.id})]);
    let together: bool = sqlx::query_scalar(
        "SELECT (SELECT xmin FROM intents WHERE id = $1) = (SELECT xmin FROM webhook_inbox WHERE id = $2)",
    )
    .bind(intent)
    .bind(row)
    .fetch_one(pool)
    .await
    .expect("xmin");
    assert!(
        together,
        "the intent's move and the last share's callback, one transaction"
    );
    harness.assert_ledger_sound().await;
}
