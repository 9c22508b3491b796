//! "A callback is a claim, not a fact": each finding of the Money truth issue, reproduced. Every
//! test here failed on the code before the fix (a forged or unconfirmed callback moved money, or
//! a failed path had no way out).

use std::time::Duration;

use malipo_sandbox::{
    B2cOutcome, B2cResult, ChargeOutcome, OutgoingOutcome, RefundOutcome, StkMatch, StkOutcome,
    StkResult, payee_invoice,
};
use serde_json::{Value, json};

use super::support::{Harness, lightning_intent, mpesa_intent, paystack_intent};

pub(super) const LIMIT: Duration = Duration::from_secs(30);

pub(super) fn id_of(intent: &Value) -> String {
    intent["id"].as_str().expect("id").to_owned()
}

pub(super) async fn refund(harness: &Harness, id: &str, body: Value) -> reqwest::Response {
    harness
        .post(
            &format!("/v1/intents/{id}/refund"),
            &body,
            &uuid::Uuid::new_v4().to_string(),
        )
        .await
}

pub(super) async fn scalar(harness: &Harness, sql: &str, id: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .bind(uuid::Uuid::parse_str(id).expect("uuid"))
        .fetch_one(&harness.pool)
        .await
        .expect("count")
}

/// Waits until the intent has an event of `kind`.
pub(super) async fn wait_for_event(harness: &Harness, id: &str, kind: &str) -> Value {
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let intent = harness.get(id).await;
        if intent["events"]
            .as_array()
            .is_some_and(|events| events.iter().any(|e| e["type"] == kind))
        {
            return intent;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "intent {id} never had a {kind} event: {intent}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until `sql` (bound to the intent id) counts at least one row.
async fn wait_until_counted(harness: &Harness, sql: &str, id: &str) {
    let deadline = tokio::time::Instant::now() + LIMIT;
    while scalar(harness, sql, id).await == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never counted: {sql}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One M-Pesa reconciliation run (Pull Transactions places Paybill payments).
pub(super) async fn reconcile(harness: &Harness) {
    let now = chrono::Utc::now();
    let options = malipo::reconcile::mpesa::Options {
        since: now - chrono::Duration::hours(1),
        until: now + chrono::Duration::minutes(1),
        pending_after: Duration::from_secs(3600),
    };
    malipo::reconcile::mpesa::run(&harness.worker_state, options)
        .await
        .expect("reconcile");
}

async fn held_paystack(harness: &Harness) -> String {
    let mut intent = paystack_intent("3000.00");
    intent["payee"]["payout"]["recipient_code"] = harness.paystack_recipient().await.into();
    let id = id_of(&harness.create(intent).await);
    let waiting = harness.wait_for(&id, "awaiting_payment", LIMIT).await;
    let reference = waiting["next_action"]["reference"]
        .as_str()
        .expect("reference");
    harness
        .fakes
        .paystack_complete_charge(reference, ChargeOutcome::Success)
        .expect("buyer pays");
    harness.wait_for(&id, "held", LIMIT).await;
    id
}

async fn held_lightning(harness: &Harness, sats: &str) -> String {
    let id = id_of(&harness.create(lightning_intent(sats)).await);
    let waiting = harness.wait_for(&id, "awaiting_payment", LIMIT).await;
    let hash = waiting["next_action"]["payment_hash"]
        .as_str()
        .expect("hash");
    harness.fakes.lnbits_pay_invoice(hash).expect("buyer pays");
    harness.wait_for(&id, "held", LIMIT).await;
    id
}

/// A held Paystack intent whose first refund the provider confirmed failed, held again.
pub(super) async fn held_after_a_failed_refund(harness: &Harness) -> String {
    let id = held_paystack(harness).await;
    harness
        .fakes
        .paystack_script_next_refund(RefundOutcome::Failed);
    assert_eq!(refund(harness, &id, json!({})).await.status(), 202);
    wait_for_event(harness, &id, "refund_failed").await;
    harness.wait_for(&id, "held", LIMIT).await;
    id
}

/// `refunded` has two refunds: the failed first one, linked to the second.
pub(super) fn assert_second_refund_follows_the_failed_one(refunded: &Value) {
    let refunds: Vec<&Value> = refunded["payouts"]
        .as_array()
        .expect("payouts")
        .iter()
        .filter(|p| p["kind"] == "refund")
        .collect();
    assert_eq!(refunds.len(), 2, "{refunded}");
    assert_eq!(refunds[0]["status"], "failed", "{refunded}");
    assert_eq!(refunds[0]["superseded_by"], refunds[1]["id"], "{refunded}");
}

/// Finding 1: a refund asked again after its first attempt failed runs (the job's dedupe key
/// named only the intent, so the second enqueue matched the finished first job).
#[tokio::test]
async fn a_refund_asked_again_after_a_confirmed_failure_is_sent() {
    let harness = Harness::start().await;
    let id = held_after_a_failed_refund(&harness).await;

    assert_eq!(refund(&harness, &id, json!({})).await.status(), 202);
    let refunded = harness.wait_for(&id, "refunded", LIMIT).await;
    assert_second_refund_follows_the_failed_one(&refunded);
    harness.assert_ledger_sound().await;

    // Lightning: an invoice that is not one is refused at once instead of stranding the money.
    let ln = held_lightning(&harness, "1500").await;
    let garbage = refund(&harness, &ln, json!({"bolt11": "lnbc1garbage"})).await;
    assert_eq!(garbage.status(), 422);
    harness
        .fakes
        .lnbits_script_next_payment(OutgoingOutcome::Failed);
    let first = refund(&harness, &ln, json!({"bolt11": payee_invoice(1500)})).await;
    assert_eq!(first.status(), 202);
    wait_for_event(&harness, &ln, "refund_failed").await;
    harness.wait_for(&ln, "held", LIMIT).await;
    let again = refund(&harness, &ln, json!({"bolt11": payee_invoice(1500)})).await;
    assert_eq!(again.status(), 202);
    harness.wait_for(&ln, "refunded", LIMIT).await;
    harness.assert_ledger_sound().await;
}

/// Finding 2: a Paybill payment is matched only by the account number malipo issued, never by a
/// client's reference (which two tenants may share).
#[tokio::test]
async fn paybill_payments_match_only_the_account_number_malipo_issued() {
    let harness = Harness::start().await;
    let other = malipo::clients::create(&harness.pool, "other tenant", "client", 0)
        .await
        .expect("client")
        .key;
    // Both prompts go unanswered (and unreported), so both intents keep awaiting payment.
    harness.fakes.mpesa_script_stk_when(
        StkMatch::Msisdn("254708374149".into()),
        StkOutcome::silent(StkResult::Cancelled),
    );
    let mut mine = mpesa_intent("700");
    mine["reference"] = "order-X".into();
    let mine = id_of(&harness.create(mine).await);
    let mut theirs = mpesa_intent("700");
    theirs["reference"] = "order-X".into();
    let response = harness
        .http
        .post(format!("{}/v1/intents", harness.base))
        .bearer_auth(&other)
        .header("idempotency-key", "theirs")
        .json(&theirs)
        .send()
        .await
        .expect("create");
    assert_eq!(response.status(), 201);
    let theirs = id_of(&response.json().await.expect("json"));
    harness.wait_for(&mine, "awaiting_payment", LIMIT).await;

    // A reference names one intent per client.
    let mut again = mpesa_intent("800");
    again["reference"] = "order-X".into();
    let reused = harness.post("/v1/intents", &again, "reuse").await;
    assert_eq!(reused.status(), 409);

    // The shared reference funds nobody.
    harness
        .fakes
        .mpesa_simulate_c2b(malipo_sandbox::C2bPayment::new(
            "174379",
            700,
            "254711000333",
            "order-X",
        ))
        .await
        .expect("c2b");
    reconcile(&harness).await;
    let unmatched = scalar(
        &harness,
        "SELECT count(*) FROM discrepancies WHERE kind = 'unmatched_payment' AND $1::uuid IS NOT NULL",
        &mine,
    )
    .await;
    assert_eq!(unmatched, 1, "the payment waits in suspense");
    assert_eq!(harness.get(&mine).await["status"], "awaiting_payment");

    // The account number funds exactly its intent.
    let account: String = sqlx::query_scalar("SELECT account_number FROM intents WHERE id = $1")
        .bind(uuid::Uuid::parse_str(&theirs).expect("uuid"))
        .fetch_one(&harness.pool)
        .await
        .expect("account number");
    harness
        .fakes
        .mpesa_simulate_c2b(malipo_sandbox::C2bPayment::new(
            "174379",
            700,
            "254711000333",
            &account,
        ))
        .await
        .expect("c2b");
    reconcile(&harness).await;
    let funded = scalar(
        &harness,
        "SELECT count(*) FROM intents WHERE id = $1 AND status = 'held'",
        &theirs,
    )
    .await;
    assert_eq!(funded, 1, "the account number funds its own intent");
    assert_eq!(harness.get(&mine).await["status"], "awaiting_payment");
    harness.assert_ledger_sound().await;
}

/// Finding 3: a forged B2C failure for a refund that really succeeded does not put the money
/// back in escrow (from where a release would pay it out a second time).
#[tokio::test]
async fn a_forged_payout_failure_is_checked_with_the_provider_before_money_is_spendable() {
    let harness = Harness::start().await;
    let id = id_of(&harness.create(mpesa_intent("1000")).await);
    harness.wait_for(&id, "held", LIMIT).await;
    // The refund really succeeds, but its own result is lost on the way.
    harness
        .fakes
        .mpesa_script_next_b2c(B2cOutcome::silent(B2cResult::Success));
    assert_eq!(refund(&harness, &id, json!({})).await.status(), 202);
    wait_until_counted(
        &harness,
        "SELECT count(*) FROM payouts WHERE intent_id = $1 AND kind = 'refund' AND status = 'in_flight'",
        &id,
    )
    .await;
    let reference: String = sqlx::query_scalar(
        "SELECT reference FROM payouts WHERE intent_id = $1 AND kind = 'refund'",
    )
    .bind(uuid::Uuid::parse_str(&id).expect("uuid"))
    .fetch_one(&harness.pool)
    .await
    .expect("reference");
    let forged = json!({"Result": {"ResultType": 0, "ResultCode": 2001, "ResultDesc": "The initiator information is invalid.",
        "OriginatorConversationID": reference, "ConversationID": "AG_forged", "TransactionID": "FORGED000",
        "ReferenceData": {}}});
    let posted = harness
        .http
        .post(&harness.mpesa_b2c_result_url)
        .json(&forged)
        .send()
        .await
        .expect("post");
    assert_eq!(posted.status(), 200);
    harness.wait_for(&id, "refunded", LIMIT).await;
    let events = harness.get(&id).await["events"].to_string();
    assert!(!events.contains("refund_failed"), "{events}");
    assert_eq!(harness.release(&id, json!({})).await.status(), 409);
    harness.assert_ledger_sound().await;
}

/// Finding 4: the STK callback alone decides nothing — a forged success with a made-up receipt
/// does not hold an unpaid intent, and a forged cancellation does not fail a paid one.
#[tokio::test]
async fn stk_callbacks_are_verified_with_stk_push_query() {
    let harness = Harness::start().await;
    // Unpaid: the buyer cancels and Daraja reports nothing.
    harness
        .fakes
        .mpesa_script_next_stk(StkOutcome::silent(StkResult::Cancelled));
    let unpaid = harness.create(mpesa_intent("900")).await;
    let unpaid = id_of(&unpaid);
    let waiting = harness.wait_for(&unpaid, "awaiting_payment", LIMIT).await;
    let checkout = waiting["next_action"]["checkout_request_id"]
        .as_str()
        .expect("checkout")
        .to_owned();
    let forged_success = json!({"Body": {"stkCallback": {"MerchantRequestID": "1", "CheckoutRequestID": checkout,
        "ResultCode": 0, "ResultDesc": "The service request is processed successfully.",
        "CallbackMetadata": {"Item": [{"Name": "Amount", "Value": 900}, {"Name": "MpesaReceiptNumber", "Value": "FAKE123456"},
            {"Name": "TransactionDate", "Value": 20250101120000_u64}, {"Name": "PhoneNumber", "Value": 254708374149_u64}]}}}});
    let posted = harness
        .http
        .post(&harness.mpesa_stk_url)
        .json(&forged_success)
        .send()
        .await
        .expect("post");
    assert_eq!(posted.status(), 200);
    // STK Query says cancelled: the intent fails with Daraja's reason, never held.
    let failed = harness.wait_for(&unpaid, "failed", LIMIT).await;
    assert!(
        failed["failure_reason"]
            .as_str()
            .is_some_and(|r| r.contains("1032")),
        "{failed}"
    );
    assert_eq!(
        scalar(
            &harness,
            "SELECT count(*) FROM ledger_transactions WHERE intent_id = $1",
            &unpaid
        )
        .await,
        0
    );

    // Paid: the buyer pays, but a forged cancellation arrives first.
    harness
        .fakes
        .mpesa_script_next_stk(StkOutcome::silent(StkResult::Success));
    let paid = id_of(&harness.create(mpesa_intent("950")).await);
    let waiting = harness.wait_for(&paid, "awaiting_payment", LIMIT).await;
    let checkout = waiting["next_action"]["checkout_request_id"]
        .as_str()
        .expect("checkout")
        .to_owned();
    let forged_cancel = json!({"Body": {"stkCallback": {"MerchantRequestID": "2", "CheckoutRequestID": checkout,
        "ResultCode": 1032, "ResultDesc": "Request cancelled by user"}}});
    let posted = harness
        .http
        .post(&harness.mpesa_stk_url)
        .json(&forged_cancel)
        .send()
        .await
        .expect("post");
    assert_eq!(posted.status(), 200);
    harness.wait_for(&paid, "held", LIMIT).await;
    harness.assert_ledger_sound().await;
    // Both lies are on record for an operator (nothing moved for them).
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let lies: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM discrepancies WHERE kind = 'lying_callback' AND amount IS NULL",
        )
        .fetch_one(&harness.pool)
        .await
        .expect("count");
        if lies == 2 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{lies} lying callbacks recorded"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Finding 5: a payee payout the provider confirmed failed is sent again to a new destination
/// (the money was stranded in `released`); a release invoice for the wrong amount is refused.
#[tokio::test]
async fn a_failed_payee_payout_is_sent_again_to_a_new_destination() {
    let harness = Harness::start().await;
    let id = held_lightning(&harness, "2100").await;
    let wrong = harness
        .release(&id, json!({"bolt11": payee_invoice(999)}))
        .await;
    assert_eq!(
        wrong.status(),
        422,
        "an invoice for another amount than the share"
    );
    harness
        .fakes
        .lnbits_script_next_payment(OutgoingOutcome::Failed);
    assert_eq!(
        harness
            .release(&id, json!({"bolt11": payee_invoice(2100)}))
            .await
            .status(),
        202
    );
    let released = wait_for_event(&harness, &id, "payout_failed").await;
    assert_eq!(released["status"], "released");
    let failed = released["payouts"]
        .as_array()
        .expect("payouts")
        .iter()
        .find(|p| p["kind"] == "payee")
        .expect("payee payout")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let path = format!("/v1/intents/{id}/payouts/{failed}/retry");
    let body = json!({"payout": {"provider": "lightning", "bolt11": payee_invoice(2100)}});
    let retried = harness.post(&path, &body, "retry-1").await;
    assert_eq!(retried.status(), 202);
    let replay = harness.post(&path, &body, "retry-1").await;
    assert_eq!(replay.status(), 202, "idempotent");
    assert_eq!(
        harness.post(&path, &body, "retry-2").await.status(),
        409,
        "sent again once"
    );
    let settled = harness.wait_for(&id, "settled", LIMIT).await;
    let payees = settled["payouts"]
        .as_array()
        .expect("payouts")
        .iter()
        .filter(|p| p["kind"] == "payee")
        .count();
    assert_eq!(payees, 2);
    harness.assert_ledger_sound().await;
}

/// Finding 6: an LNbits webhook for an invoice nobody paid changes nothing, leaves no dead job,
/// and its inbox row says so (`ignored`, not `processed`).
#[tokio::test]
async fn a_webhook_for_an_unpaid_invoice_is_ignored_after_asking() {
    let harness = Harness::start().await;
    let id = id_of(&harness.create(lightning_intent("1200")).await);
    let waiting = harness.wait_for(&id, "awaiting_payment", LIMIT).await;
    let hash = waiting["next_action"]["payment_hash"]
        .as_str()
        .expect("hash")
        .to_owned();
    let body = serde_json::to_string(
        &json!({"payment_hash": hash, "amount": 1_200_000, "status": "success"}),
    )
    .expect("body");
    let posted = harness
        .http
        .post(&harness.lnbits_webhook_url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("post");
    assert!(posted.status().is_success());
    let deadline = tokio::time::Instant::now() + LIMIT;
    let (status, reason) = loop {
        let row: Option<(String, Option<String>)> = sqlx::query_as(
            "SELECT status, reason FROM webhook_inbox WHERE provider = 'lnbits' AND status <> 'received'",
        )
        .fetch_optional(&harness.pool)
        .await
        .expect("inbox");
        if let Some(row) = row {
            break row;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the webhook was never processed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(status, "ignored", "{reason:?}");
    assert_eq!(harness.get(&id).await["status"], "awaiting_payment");
    let dead: i64 = sqlx::query_scalar("SELECT count(*) FROM malipo_jobs WHERE state = 'dead'")
        .fetch_one(&harness.pool)
        .await
        .expect("dead");
    assert_eq!(dead, 0);
}

/// A double payout made by hand (a delivered payout marked failed, as a bug or a careless SQL
/// fix would) and a deleted ledger posting are caught: `ledger check` reports both, and
/// reconciliation asks the provider about the failure and records the contradiction, which
/// operators see in `/ops/discrepancies` and `/metrics` and resolve with an audited note.
#[tokio::test]
async fn a_hand_made_double_payout_and_a_deleted_posting_are_detected() {
    let harness = Harness::start().await;
    let id = id_of(&harness.create(mpesa_intent("1000")).await);
    harness.wait_for(&id, "held", LIMIT).await;
    assert_eq!(harness.release(&id, json!({})).await.status(), 202);
    harness.wait_for(&id, "settled", LIMIT).await;
    harness.assert_ledger_sound().await;

    let payee: uuid::Uuid =
        sqlx::query_scalar("SELECT id FROM payouts WHERE intent_id = $1 AND kind = 'payee'")
            .bind(uuid::Uuid::parse_str(&id).expect("uuid"))
            .fetch_one(&harness.pool)
            .await
            .expect("payee payout");
    sqlx::query("UPDATE payouts SET status = 'failed', updated_at = now() WHERE id = $1")
        .bind(payee)
        .execute(&harness.pool)
        .await
        .expect("mark failed");
    let violations = malipo::db::ledger::check(&harness.pool)
        .await
        .expect("check");
    assert!(
        violations.iter().any(|v| v.subject == payee.to_string()),
        "ledger check sees the payout whose status contradicts its postings: {violations:?}"
    );

    reconcile(&harness).await;
    let deadline = tokio::time::Instant::now() + LIMIT;
    let discrepancy: uuid::Uuid = loop {
        let found: Option<uuid::Uuid> = sqlx::query_scalar(
            "SELECT id FROM discrepancies WHERE kind = 'payout_contradiction' AND payout_id = $1",
        )
        .bind(payee)
        .fetch_optional(&harness.pool)
        .await
        .expect("discrepancy");
        if let Some(found) = found {
            break found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "reconciliation never caught the delivered payout"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    let operator = malipo::clients::create(&harness.pool, "ops", "operator", 0)
        .await
        .expect("operator")
        .key;
    let listed: Value = harness
        .http
        .get(format!("{}/ops/discrepancies", harness.base))
        .bearer_auth(&operator)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(listed[0]["id"], discrepancy.to_string(), "{listed}");
    assert_eq!(
        listed[0]["amount"], "900.00",
        "the payee share that really left"
    );
    let metrics = harness
        .http
        .get(format!("{}/metrics", harness.base))
        .bearer_auth(&operator)
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("malipo_discrepancies_open{kind=\"payout_contradiction\"} 1"),
        "{}",
        metrics
            .lines()
            .filter(|l| l.contains("discrepanc"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let resolve = format!("{}/ops/discrepancies/{discrepancy}/resolve", harness.base);
    let refused = harness
        .http
        .post(&resolve)
        .bearer_auth(&operator)
        .json(&json!({"resolution": "acknowledged", "note": "seen"}))
        .send()
        .await
        .expect("resolve");
    assert_eq!(
        refused.status(),
        409,
        "money in suspense needs a money resolution"
    );
    let no_note = harness
        .http
        .post(&resolve)
        .bearer_auth(&operator)
        .json(&json!({"resolution": "written_off"}))
        .send()
        .await
        .expect("resolve");
    assert_eq!(no_note.status(), 422);
    let resolved = harness
        .http
        .post(&resolve)
        .bearer_auth(&operator)
        .json(&json!({"resolution": "written_off", "note": "payee confirmed receipt; booked as a loss"}))
        .send()
        .await
        .expect("resolve");
    assert_eq!(resolved.status(), 200);
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM malipo_ops_audit WHERE action = 'discrepancy.resolve'",
    )
    .fetch_one(&harness.pool)
    .await
    .expect("audit");
    assert_eq!(audited, 1);
    let suspense = malipo::db::ledger::check(&harness.pool)
        .await
        .expect("check")
        .into_iter()
        .filter(|v| v.rule.contains("suspense"))
        .count();
    assert_eq!(
        suspense, 0,
        "suspense equals the open discrepancies after resolving"
    );

    // A deleted posting (immutability switched off by hand) is reported too.
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "ALTER TABLE ledger_entries DISABLE TRIGGER USER;
         ALTER TABLE ledger_transactions DISABLE TRIGGER USER;
         DELETE FROM ledger_entries WHERE transaction_id IN
            (SELECT t.id FROM ledger_transactions t JOIN payouts p ON t.idempotency_key = 'payout:' || p.id || ':succeeded'
              WHERE p.intent_id = '{id}' AND p.kind = 'commission');
         DELETE FROM ledger_transactions WHERE idempotency_key IN
            (SELECT 'payout:' || p.id || ':succeeded' FROM payouts p WHERE p.intent_id = '{id}' AND p.kind = 'commission');
         ALTER TABLE ledger_entries ENABLE TRIGGER USER;
         ALTER TABLE ledger_transactions ENABLE TRIGGER USER;"
    )))
    .execute(&harness.pool)
    .await
    .expect("delete a posting");
    let violations = malipo::db::ledger::check(&harness.pool)
        .await
        .expect("check");
    assert!(
        violations
            .iter()
            .any(|v| v.rule == "succeeded payout is posted"),
        "{violations:?}"
    );
}

/// A Paystack recipient is checked when it is given: one Paystack does not know is a 422 at
/// creation, not a payout that fails after release.
#[tokio::test]
async fn an_unknown_paystack_recipient_is_refused_at_creation() {
    let harness = Harness::start().await;
    let mut intent = paystack_intent("1000.00");
    intent["payee"]["payout"]["recipient_code"] = "RCP_nobodyknowsme".into();
    let refused = harness
        .post("/v1/intents", &intent, "unknown-recipient")
        .await;
    assert_eq!(refused.status(), 422);
    let problem: Value = refused.json().await.expect("json");
    assert_eq!(
        problem["errors"][0]["field"], "payee.payout.recipient_code",
        "{problem}"
    );
    let intents: i64 = sqlx::query_scalar("SELECT count(*) FROM intents")
        .fetch_one(&harness.pool)
        .await
        .expect("count");
    assert_eq!(intents, 0, "nothing written");
    intent["payee"]["payout"]["recipient_code"] = harness.paystack_recipient().await.into();
    assert_eq!(
        harness
            .post("/v1/intents", &intent, "known-recipient")
            .await
            .status(),
        201
    );
}

/// An unpaid intent can be cancelled (a way out of `awaiting_payment`), and a payment that still
/// arrives for it is never lost: it waits in suspense as a `late_payment` discrepancy.
#[tokio::test]
async fn a_cancelled_intent_paid_anyway_becomes_a_late_payment() {
    let harness = Harness::start().await;
    let id = id_of(&harness.create(lightning_intent("1800")).await);
    let waiting = harness.wait_for(&id, "awaiting_payment", LIMIT).await;
    let hash = waiting["next_action"]["payment_hash"]
        .as_str()
        .expect("hash")
        .to_owned();
    let path = format!("/v1/intents/{id}/cancel");
    let cancelled = harness.post(&path, &json!({}), "cancel-1").await;
    assert_eq!(cancelled.status(), 200);
    let cancelled: Value = cancelled.json().await.expect("json");
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(
        harness.post(&path, &json!({}), "cancel-1").await.status(),
        200,
        "replayed"
    );
    assert_eq!(
        harness.post(&path, &json!({}), "cancel-2").await.status(),
        409
    );

    harness
        .fakes
        .lnbits_pay_invoice(&hash)
        .expect("the buyer pays anyway");
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let row: Option<(String, String)> =
            sqlx::query_as("SELECT kind, amount::text FROM discrepancies WHERE intent_id = $1")
                .bind(uuid::Uuid::parse_str(&id).expect("uuid"))
                .fetch_optional(&harness.pool)
                .await
                .expect("discrepancy");
        if let Some((kind, amount)) = row {
            assert_eq!(kind, "late_payment");
            assert_eq!(amount, "1800.00");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the late payment was never recorded"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(harness.get(&id).await["status"], "cancelled");
    harness.assert_ledger_sound().await;
}

/// Finding 3 on Paystack: a signed `refund.failed` that Paystack's own refund record does not
/// bear out changes nothing; the refund completes and the money stays out of escrow.
#[tokio::test]
async fn a_forged_paystack_refund_failure_is_checked_with_the_refund_api() {
    let mut sandbox = malipo_sandbox::SandboxSettings::default();
    sandbox.paystack.refund_settle_delay = Duration::from_secs(3);
    let harness = Harness::start_with(super::support::Options {
        sandbox,
        ..Default::default()
    })
    .await;
    let id = held_paystack(&harness).await;
    let transaction = harness.get(&id).await["next_action"]["reference"]
        .as_str()
        .expect("reference")
        .to_owned();
    assert_eq!(refund(&harness, &id, json!({})).await.status(), 202);
    wait_until_counted(
        &harness,
        "SELECT count(*) FROM payouts WHERE intent_id = $1 AND kind = 'refund' AND provider_ref IS NOT NULL",
        &id,
    )
    .await;
    let refund_id: String = sqlx::query_scalar(
        "SELECT provider_ref FROM payouts WHERE intent_id = $1 AND kind = 'refund'",
    )
    .bind(uuid::Uuid::parse_str(&id).expect("uuid"))
    .fetch_one(&harness.pool)
    .await
    .expect("refund id");
    let forged = json!({"event": "refund.failed", "data": {"id": refund_id.parse::<u64>().unwrap_or(0),
        "transaction_reference": transaction, "status": "failed", "amount": 300_000, "currency": "NGN"}})
    .to_string();
    let signature =
        malipo_sandbox::paystack_signature(harness.fakes.paystack_secret_key(), forged.as_bytes());
    let posted = harness
        .http
        .post(format!("{}/webhooks/paystack", harness.base))
        .header("x-paystack-signature", signature)
        .header("content-type", "application/json")
        .body(forged)
        .send()
        .await
        .expect("post");
    assert_eq!(posted.status(), 200);
    harness.wait_for(&id, "refunded", LIMIT).await;
    let events = harness.get(&id).await["events"].to_string();
    assert!(!events.contains("refund_failed"), "{events}");
    assert_eq!(harness.release(&id, json!({})).await.status(), 409);
    harness.assert_ledger_sound().await;
}

/// A Paystack payment whose `charge.success` never arrives is still found: the checkout is
/// verified on a schedule (a way out of `awaiting_payment` without the webhook).
#[tokio::test]
async fn a_paystack_payment_whose_webhook_is_lost_is_found_by_verification() {
    let harness = Harness::start().await;
    harness.fakes.set_paystack_webhook_url(None);
    let mut intent = paystack_intent("2000.00");
    intent["payee"]["payout"]["recipient_code"] = harness.paystack_recipient().await.into();
    let id = id_of(&harness.create(intent).await);
    let waiting = harness.wait_for(&id, "awaiting_payment", LIMIT).await;
    let reference = waiting["next_action"]["reference"]
        .as_str()
        .expect("reference");
    harness
        .fakes
        .paystack_complete_charge(reference, ChargeOutcome::Success)
        .expect("buyer pays");
    // The first scheduled verification runs 30 s after the checkout opened.
    harness.wait_for(&id, "held", Duration::from_secs(90)).await;
    let inbox: i64 =
        sqlx::query_scalar("SELECT count(*) FROM webhook_inbox WHERE provider = 'paystack'")
            .fetch_one(&harness.pool)
            .await
            .expect("count");
    assert_eq!(inbox, 0, "held without any webhook");
    harness.assert_ledger_sound().await;
}
