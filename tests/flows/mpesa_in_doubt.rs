//! M-Pesa deposits whose outcome malipo cannot see at once: an STK push Daraja did not answer,
//! one whose run died before recording the answer, and payments only Pull Transactions shows.
//! The buyer is prompted at most once, and every payment to an account number is placed.

use std::time::Duration;

use malipo_sandbox::{StkOutcome, StkResult};

use super::money_truth::{LIMIT, id_of, reconcile, scalar, wait_for_event};
use super::support::{Harness, mpesa_intent};

/// Funds a first M-Pesa intent, which caches Daraja's token: a fault set afterwards holds the
/// push itself, not the token request before it.
async fn cache_the_daraja_token(harness: &Harness) {
    let first = id_of(&harness.create(mpesa_intent("100")).await);
    harness.wait_for(&first, "held", LIMIT).await;
}

/// The next STK push is performed and the buyer pays it, but Daraja's answer is held for `hold`
/// (and so is every later M-Pesa call's, until the fault is lifted).
fn hold_the_next_paid_push(harness: &Harness, hold: Duration) {
    harness
        .fakes
        .mpesa_script_next_stk(StkOutcome::new(StkResult::Success));
    harness
        .fakes
        .faults()
        .update(malipo_sandbox::Provider::Mpesa, |faults| {
            faults.timeout_probability = 1.0;
            faults.timeout_hold = hold;
            faults.timeout_performs_action = true;
        });
}

/// An STK push Daraja did not answer (the prompt may still have reached the buyer, who pays) no
/// longer fails the intent: it waits with its account number, and a payment Pull finds under
/// that number funds it.
#[tokio::test]
async fn an_unanswered_stk_push_is_funded_by_the_payment_pull_finds() {
    let harness = Harness::start_with(super::support::Options {
        read_timeout: Duration::from_secs(2),
        ..Default::default()
    })
    .await;
    cache_the_daraja_token(&harness).await;
    hold_the_next_paid_push(&harness, Duration::from_secs(3));
    let id = id_of(&harness.create(mpesa_intent("640")).await);
    let waiting = wait_for_event(&harness, &id, "deposit_in_doubt").await;
    harness
        .fakes
        .faults()
        .update(malipo_sandbox::Provider::Mpesa, |faults| {
            faults.timeout_probability = 0.0;
        });
    assert_eq!(waiting["status"], "awaiting_payment", "{waiting}");
    assert_eq!(waiting["next_action"]["type"], "paybill");
    assert_eq!(
        waiting["next_action"]["account_number"],
        waiting["account_number"]
    );
    assert!(
        waiting["attention"].is_string(),
        "flagged while in doubt: {waiting}"
    );
    reconcile(&harness).await;
    harness.wait_for(&id, "held", LIMIT).await;
    harness.assert_ledger_sound().await;
}

/// A closed intent's account number paid twice (two Paybill payments; or the STK prompt late
/// and a Paybill payment): the first payment of its amount is taken as its own late payment,
/// under the key STK Query's sighting of that payment shares; every further one is money paid
/// twice, under a discrepancy of its own. Before, every payment of the intent's amount was taken
/// as "its own" and folded into that one discrepancy: the second vanished from the books.
#[tokio::test]
async fn a_closed_intent_paid_twice_by_paybill_keeps_both_payments_in_suspense() {
    let harness = Harness::start().await;
    harness
        .fakes
        .mpesa_script_next_stk(StkOutcome::new(StkResult::Cancelled));
    let id = id_of(&harness.create(mpesa_intent("450")).await);
    let failed = harness.wait_for(&id, "failed", LIMIT).await;
    let account = failed["account_number"].as_str().expect("account number");
    for payer in ["254711000444", "254711000555"] {
        harness
            .fakes
            .mpesa_simulate_c2b(malipo_sandbox::C2bPayment::new(
                "174379", 450, payer, account,
            ))
            .await
            .expect("c2b");
    }
    reconcile(&harness).await;
    reconcile(&harness).await;
    let held_for_an_operator = scalar(
        &harness,
        "SELECT count(*) FROM discrepancies WHERE intent_id = $1 AND kind = 'late_payment' AND amount = 450",
        &id,
    )
    .await;
    assert_eq!(held_for_an_operator, 2, "each payment waits in suspense");
    harness.assert_ledger_sound().await;
}

/// The other order: STK Query finds a cancelled intent's prompt paid first (its `late_payment`
/// holds that money), then Pull lists that payment's receipt and a Paybill payment of the same
/// amount. The receipt is the payment STK Query found; the Paybill payment is a second late
/// payment, not folded into the first.
#[tokio::test]
async fn a_late_stk_payment_and_a_paybill_payment_are_two_late_payments() {
    let mut sandbox = malipo_sandbox::SandboxSettings::default();
    // The prompt is paid (and its callback sent) well after the client has cancelled.
    sandbox.mpesa.callback_delay = Duration::from_secs(5);
    let harness = Harness::start_with(super::support::Options {
        sandbox,
        ..Default::default()
    })
    .await;
    let id = id_of(&harness.create(mpesa_intent("450")).await);
    let waiting = harness.wait_for(&id, "awaiting_payment", LIMIT).await;
    let path = format!("/v1/intents/{id}/cancel");
    let cancelled = harness.post(&path, &serde_json::json!({}), "cancel").await;
    assert_eq!(cancelled.status(), 200);
    let late = "SELECT count(*) FROM discrepancies WHERE intent_id = $1 AND kind = 'late_payment'";
    let found =
        malipo_testing::eventually(LIMIT, || async { scalar(&harness, late, &id).await == 1 })
            .await;
    assert!(found, "STK Query found the late payment");

    let account = waiting["account_number"].as_str().expect("account number");
    let paybill = malipo_sandbox::C2bPayment::new("174379", 450, "254711000666", account);
    harness
        .fakes
        .mpesa_simulate_c2b(paybill)
        .await
        .expect("c2b");
    reconcile(&harness).await;
    reconcile(&harness).await;
    assert_eq!(scalar(&harness, late, &id).await, 2, "each payment waits");
    harness.assert_ledger_sound().await;
}

/// Workers on every queue with a 2 s lease, on the harness's state: a run they hold dies with
/// them when they are shut down without grace.
async fn short_lease_workers(harness: &Harness) -> malipo::queue::Runner {
    let lease = Duration::from_secs(2);
    let settings = malipo::queue::QueueSettings {
        lease,
        heartbeat: lease / 6,
        poll_interval: Duration::from_millis(100),
        ..malipo::queue::QueueSettings::default()
    };
    malipo::queue::Runner::start(
        harness.pool.clone(),
        settings,
        malipo::worker::handlers(),
        harness.worker_state.clone(),
    )
    .await
    .expect("workers start")
}

/// A run that dies after its STK push reached M-Pesa but before it recorded the answer (its
/// worker SIGKILLed, its database crashed) leaves a prompt on the buyer's phone. The run after
/// it must not prompt again: both prompts can be paid, and the one malipo never recorded was
/// money nobody accounted for (a chaos run in CI ended with exactly that). It treats the deposit
/// as in doubt instead, and the payment Pull finds under the account number funds the intent.
#[tokio::test]
async fn a_run_that_died_after_its_stk_push_is_followed_by_no_second_push() {
    let mut harness = Harness::start_with(super::support::Options {
        read_timeout: Duration::from_secs(60),
        ..Default::default()
    })
    .await;
    cache_the_daraja_token(&harness).await;
    harness.stop_workers().await;
    let pushes = || {
        harness
            .fakes
            .counters()
            .requests_to("POST /mpesa/mpesa/stkpush/v1/processrequest")
    };
    assert_eq!(pushes(), 1);

    // The answer is held past the run's life.
    hold_the_next_paid_push(&harness, Duration::from_secs(20));
    let doomed = short_lease_workers(&harness).await;
    let id = id_of(&harness.create(mpesa_intent("640")).await);
    let paid = malipo_testing::eventually(LIMIT, || async {
        harness.fakes.money().charges().count() == 2
    })
    .await;
    assert!(paid, "the held push was paid at the fake");
    // The run dies with M-Pesa's answer in flight; its lease runs out and another worker
    // takes the job over.
    doomed.shutdown(Duration::ZERO).await;
    harness
        .fakes
        .faults()
        .update(malipo_sandbox::Provider::Mpesa, |faults| {
            faults.timeout_probability = 0.0;
        });
    // Pull already lists the payment while the intent is still initiating: it waits to be
    // placed instead of becoming a duplicate payment the intent can never be funded by.
    reconcile(&harness).await;
    let parked = "SELECT count(*) FROM discrepancies WHERE intent_id = $1";
    assert_eq!(scalar(&harness, parked, &id).await, 0, "nothing parked");

    let rescuer = short_lease_workers(&harness).await;
    let moved = malipo_testing::eventually(LIMIT, || async {
        harness.get(&id).await["status"] != "initiating"
    })
    .await;
    assert!(moved, "the rescuing run moved the intent on");
    let moved_on = harness.get(&id).await;
    assert_eq!(pushes(), 2, "the buyer was prompted once: {moved_on}");
    let waiting = wait_for_event(&harness, &id, "deposit_in_doubt").await;
    assert_eq!(waiting["status"], "awaiting_payment", "{waiting}");
    assert_eq!(waiting["next_action"]["type"], "paybill", "{waiting}");
    reconcile(&harness).await;
    harness.wait_for(&id, "held", LIMIT).await;
    assert_eq!(pushes(), 2, "no later run prompted the buyer either");
    assert_eq!(scalar(&harness, parked, &id).await, 0, "nothing parked");
    harness.assert_ledger_sound().await;
    rescuer.shutdown(Duration::from_secs(5)).await;
}

/// A push M-Pesa refused before processing it (spike arrest) takes its mark back: the next run
/// prompts the buyer, rather than treating the refusal as a prompt that may have gone out.
#[tokio::test]
async fn a_push_refused_before_processing_is_sent_again() {
    let harness = Harness::start().await;
    cache_the_daraja_token(&harness).await;
    let faults = harness.fakes.faults();
    faults.update(malipo_sandbox::Provider::Mpesa, |faults| {
        faults.rate_limit_probability = 1.0;
    });
    let id = id_of(&harness.create(mpesa_intent("640")).await);
    let refused = malipo_testing::eventually(LIMIT, || async {
        harness.fakes.counters().injected_429 >= 1
    })
    .await;
    assert!(refused, "the push was refused");
    faults.update(malipo_sandbox::Provider::Mpesa, |faults| {
        faults.rate_limit_probability = 0.0;
    });
    let held = harness.wait_for(&id, "held", LIMIT).await;
    assert_eq!(held["next_action"]["type"], "stk_push", "{held}");
    let in_doubt =
        "SELECT count(*) FROM intent_events WHERE intent_id = $1 AND type = 'deposit_in_doubt'";
    assert_eq!(scalar(&harness, in_doubt, &id).await, 0, "{held}");
}
