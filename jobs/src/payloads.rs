//! Job payloads: small structs of ids, each with its idempotency rule.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Job, RetryPolicy, queues};

const fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

const fn mins(n: u64) -> Duration {
    Duration::from_secs(n * 60)
}

/// Does nothing; used by the queue benchmark and tests.
///
/// Idempotency: trivially idempotent.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Noop {
    /// Free-form marker so tests can tell jobs apart.
    #[serde(default)]
    pub tag: String,
}

impl Job for Noop {
    const KIND: &'static str = "noop";
    const QUEUE: &'static str = queues::BENCH;
    const POLICY: RetryPolicy = RetryPolicy::new(3, secs(1), mins(1));
}

/// Starts the provider side of a new intent (Paystack initialize, STK push, LNbits invoice).
///
/// Idempotency: runs only while the intent is `initiating`; the provider reference is derived
/// from the intent id, so a re-run after an in-doubt call reuses it (Paystack answers
/// "Duplicate Transaction Reference", which the handler resolves by verifying).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct InitiateDeposit {
    /// The intent to start.
    pub intent_id: Uuid,
}

impl Job for InitiateDeposit {
    const KIND: &'static str = "initiate_deposit";
    const QUEUE: &'static str = queues::DEPOSITS;
    const POLICY: RetryPolicy = RetryPolicy::new(8, secs(1), mins(5));

    fn dedupe_key(&self) -> Option<String> {
        Some(format!("{}:{}", Self::KIND, self.intent_id))
    }
}

/// Confirms the buyer's payment with the provider and moves the funds into escrow.
///
/// Idempotency: the `awaiting_payment → held` transition is a guarded UPDATE; a second run finds
/// the intent already held and ends without posting to the ledger again.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ConfirmDeposit {
    /// The intent whose deposit to confirm.
    pub intent_id: Uuid,
}

impl Job for ConfirmDeposit {
    const KIND: &'static str = "confirm_deposit";
    const QUEUE: &'static str = queues::DEPOSITS;
    const POLICY: RetryPolicy = RetryPolicy::new(10, secs(2), mins(10));

    fn dedupe_key(&self) -> Option<String> {
        Some(format!("{}:{}", Self::KIND, self.intent_id))
    }
}

/// Splits a held intent into payee share and commission and creates its payouts.
///
/// Idempotency: posts every release of the intent not yet posted (a whole release, or parts
/// released one at a time), each once: its split, ledger posting and payout rows are written in
/// one transaction that stamps the release as posted (and, for the last part, moves the intent
/// `releasing → released`). Any job of the intent finding nothing left to post ends.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReleaseEscrow {
    /// The intent to release.
    pub intent_id: Uuid,
    /// The number of the release that enqueued it (absent and 0 for a first or whole release).
    #[serde(default, skip_serializing_if = "is_first_release")]
    pub release: u32,
}

fn is_first_release(release: &u32) -> bool {
    *release <= 1
}

impl Job for ReleaseEscrow {
    const KIND: &'static str = "release_escrow";
    const QUEUE: &'static str = queues::PAYOUTS;
    const POLICY: RetryPolicy = RetryPolicy::new(10, secs(2), mins(10));

    fn dedupe_key(&self) -> Option<String> {
        Some(if is_first_release(&self.release) {
            format!("{}:{}", Self::KIND, self.intent_id)
        } else {
            format!("{}:{}:{}", Self::KIND, self.intent_id, self.release)
        })
    }
}

/// Releases what a held intent still holds when its automatic release time comes.
///
/// Idempotency: scheduled for the time it names (`at_unix`, seconds); does anything only while
/// the intent is `held` with that same `auto_release_at` (a dispute clears it, a new time is a
/// new job), and the release it asks for is the guarded `held → releasing` move, so many workers
/// release it once.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AutoRelease {
    /// The intent to release.
    pub intent_id: Uuid,
    /// The release time this job was scheduled for, in Unix seconds.
    pub at_unix: i64,
}

impl Job for AutoRelease {
    const KIND: &'static str = "auto_release";
    const QUEUE: &'static str = queues::PAYOUTS;
    const POLICY: RetryPolicy = RetryPolicy::new(10, secs(5), mins(10));

    fn dedupe_key(&self) -> Option<String> {
        Some(format!(
            "{}:{}:{}",
            Self::KIND,
            self.intent_id,
            self.at_unix
        ))
    }
}

/// Sends one payout row (payee share, commission or refund) through its provider.
///
/// Idempotency: the provider reference is derived from the payout id; initiation is recorded
/// before the call, and once recorded the job only ever queries the provider's status.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Payout {
    /// The payout row to send.
    pub payout_id: Uuid,
    /// What the row held when it was written with this job, so the first run sends it without
    /// reading it back; absent for jobs queued apart from their row (and by older builds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy: Option<PayoutCopy>,
}

/// The parts of a new payout row that never change once written, as the row holds them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PayoutCopy {
    /// The intent it pays out of.
    pub intent_id: Uuid,
    /// `payee`, `commission`, `refund`, ….
    pub kind: String,
    /// The amount, as decimal text.
    pub amount: String,
    /// ISO 4217 code.
    pub currency: String,
    /// The provider it is sent through.
    pub provider: String,
    /// Where to, as the row's `destination`. (Its provider reference is not copied: it is
    /// derived from the payout id.)
    pub destination: serde_json::Value,
    /// The release it pays a share of.
    pub release_seq: i32,
}

impl Job for Payout {
    const KIND: &'static str = "payout";
    const QUEUE: &'static str = queues::PAYOUTS;
    const POLICY: RetryPolicy = RetryPolicy::new(12, secs(5), mins(30));

    fn dedupe_key(&self) -> Option<String> {
        Some(format!("{}:{}", Self::KIND, self.payout_id))
    }
}

/// Returns a held intent's funds to the buyer.
///
/// Idempotency: runs only while the intent is `refunding`; the refund is a payout row of kind
/// `refund`, so it inherits the payout's at-most-once initiation. A refund asked again after a
/// confirmed failure is a new attempt with its own job (the dedupe key names the attempt) and
/// its own payout row.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Refund {
    /// The intent to refund.
    pub intent_id: Uuid,
    /// Which refund of the intent this is: 0 for the first, then one more per failed refund.
    #[serde(default)]
    pub attempt: u32,
}

impl Job for Refund {
    const KIND: &'static str = "refund";
    const QUEUE: &'static str = queues::PAYOUTS;
    const POLICY: RetryPolicy = RetryPolicy::new(10, secs(2), mins(10));

    fn dedupe_key(&self) -> Option<String> {
        // The first attempt keeps the key jobs queued before attempts existed carry.
        Some(match self.attempt {
            0 => format!("{}:{}", Self::KIND, self.intent_id),
            n => format!("{}:{}:{n}", Self::KIND, self.intent_id),
        })
    }
}

/// Applies the effect of one verified webhook stored in the inbox.
///
/// Idempotency: the inbox row is unique per provider event key and carries a processed mark;
/// every effect it triggers is itself a guarded transition.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProcessWebhook {
    /// The inbox row.
    pub inbox_id: Uuid,
    /// The delivery as its row stores it, written by the statement that wrote the row, so the
    /// job need not read the row back (issue #21). Absent when the row was queued again later
    /// (an STK callback that overtook its job), when its body is not UTF-8 text, and in jobs
    /// queued before it existed: the job then reads the row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<WebhookDelivery>,
}

/// What a webhook's inbox row holds for processing.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct WebhookDelivery {
    /// Which endpoint received it.
    pub endpoint: String,
    /// What its callback URL named, when anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The raw body, as text.
    pub body: String,
    /// When it arrived: the row's `received_at`, to the microsecond.
    pub received_at: chrono::DateTime<chrono::Utc>,
}

impl Job for ProcessWebhook {
    const KIND: &'static str = "process_webhook";
    const QUEUE: &'static str = queues::WEBHOOKS;
    const POLICY: RetryPolicy = RetryPolicy::new(10, secs(1), mins(10));

    fn dedupe_key(&self) -> Option<String> {
        Some(format!("{}:{}", Self::KIND, self.inbox_id))
    }
}

/// Polls an LNbits invoice until it is paid or expired, snoozing between polls.
///
/// Idempotency: ends as soon as the intent is no longer `awaiting_payment`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PollLightningInvoice {
    /// The Lightning intent.
    pub intent_id: Uuid,
    /// How many polls came before this one; drives the slowing schedule.
    #[serde(default)]
    pub polls: u32,
}

impl Job for PollLightningInvoice {
    const KIND: &'static str = "poll_lightning_invoice";
    const QUEUE: &'static str = queues::RECONCILE;
    const POLICY: RetryPolicy = RetryPolicy::new(20, secs(2), mins(5));

    fn dedupe_key(&self) -> Option<String> {
        Some(format!("{}:{}", Self::KIND, self.intent_id))
    }
}

/// Reconciles M-Pesa STK pushes, C2B payments and B2C payouts with Daraja.
///
/// Idempotency: one run per window (the dedupe key is the window start); each correction is a
/// guarded transition, so a second run over the same window changes nothing.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReconcileMpesa {
    /// Start of the window, RFC 3339: the periodic run's slot (its dedupe key), and the
    /// earliest time reconciled unless `since` says otherwise.
    pub window_start: String,
    /// Reconcile from this time (RFC 3339) instead of one period before `window_start`.
    #[serde(default)]
    pub since: Option<String>,
    /// Treat STK pushes and B2C payouts as missing their callback after this many seconds.
    #[serde(default)]
    pub pending_after_secs: Option<u64>,
}

impl Job for ReconcileMpesa {
    const KIND: &'static str = "reconcile_mpesa";
    const QUEUE: &'static str = queues::RECONCILE;
    const POLICY: RetryPolicy = RetryPolicy::new(5, secs(30), mins(10));

    fn dedupe_key(&self) -> Option<String> {
        Some(format!("{}:{}", Self::KIND, self.window_start))
    }
}

#[cfg(test)]
mod snapshots {
    //! Persisted payloads must stay readable: these pin today's wire shape.
    use super::*;

    fn id() -> Uuid {
        Uuid::parse_str("0193a6f2-7c1e-7a00-8000-000000000001").expect("literal uuid")
    }

    /// Dedupe keys are stored with queued jobs: a deployed queue still holds today's, so the
    /// strings built from `KIND` must stay exactly these.
    #[test]
    fn dedupe_keys_keep_their_stored_form() {
        let i = "0193a6f2-7c1e-7a00-8000-000000000001";
        let cases: Vec<(Option<String>, String)> = vec![
            (
                InitiateDeposit { intent_id: id() }.dedupe_key(),
                format!("initiate_deposit:{i}"),
            ),
            (
                ConfirmDeposit { intent_id: id() }.dedupe_key(),
                format!("confirm_deposit:{i}"),
            ),
            (
                ReleaseEscrow {
                    intent_id: id(),
                    release: 1,
                }
                .dedupe_key(),
                format!("release_escrow:{i}"),
            ),
            (
                ReleaseEscrow {
                    intent_id: id(),
                    release: 3,
                }
                .dedupe_key(),
                format!("release_escrow:{i}:3"),
            ),
            (
                AutoRelease {
                    intent_id: id(),
                    at_unix: 1_700_000_000,
                }
                .dedupe_key(),
                format!("auto_release:{i}:1700000000"),
            ),
            (
                Payout {
                    payout_id: id(),
                    copy: None,
                }
                .dedupe_key(),
                format!("payout:{i}"),
            ),
            (
                Refund {
                    intent_id: id(),
                    attempt: 0,
                }
                .dedupe_key(),
                format!("refund:{i}"),
            ),
            (
                Refund {
                    intent_id: id(),
                    attempt: 2,
                }
                .dedupe_key(),
                format!("refund:{i}:2"),
            ),
            (
                ProcessWebhook {
                    inbox_id: id(),
                    delivery: None,
                }
                .dedupe_key(),
                format!("process_webhook:{i}"),
            ),
            (
                PollLightningInvoice {
                    intent_id: id(),
                    polls: 4,
                }
                .dedupe_key(),
                format!("poll_lightning_invoice:{i}"),
            ),
            (
                ReconcileMpesa {
                    window_start: "2026-12-04T10:00:00+00:00".into(),
                    since: None,
                    pending_after_secs: None,
                }
                .dedupe_key(),
                "reconcile_mpesa:2026-12-04T10:00:00+00:00".to_owned(),
            ),
            (
                crate::ReconcileFincra {
                    window_start: "2026-12-04T10:00:00+00:00".into(),
                    since: None,
                    pending_after_secs: None,
                }
                .dedupe_key(),
                "reconcile_fincra:2026-12-04T10:00:00+00:00".to_owned(),
            ),
            (
                crate::DeliverEvent {
                    delivery_id: id(),
                    round: 2,
                }
                .dedupe_key(),
                format!("deliver_event:{i}:2"),
            ),
        ];
        for (built, stored) in cases {
            assert_eq!(built.as_deref(), Some(stored.as_str()));
        }
    }

    #[test]
    fn payload_wire_shapes_are_stable() {
        let cases = [
            (
                serde_json::to_string(&ConfirmDeposit { intent_id: id() }),
                r#"{"intent_id":"0193a6f2-7c1e-7a00-8000-000000000001"}"#,
            ),
            (
                serde_json::to_string(&ReleaseEscrow {
                    intent_id: id(),
                    release: 1,
                }),
                r#"{"intent_id":"0193a6f2-7c1e-7a00-8000-000000000001"}"#,
            ),
            (
                serde_json::to_string(&ReleaseEscrow {
                    intent_id: id(),
                    release: 2,
                }),
                r#"{"intent_id":"0193a6f2-7c1e-7a00-8000-000000000001","release":2}"#,
            ),
            (
                serde_json::to_string(&AutoRelease {
                    intent_id: id(),
                    at_unix: 1_800_000_000,
                }),
                r#"{"intent_id":"0193a6f2-7c1e-7a00-8000-000000000001","at_unix":1800000000}"#,
            ),
            (
                serde_json::to_string(&Payout {
                    payout_id: id(),
                    copy: None,
                }),
                r#"{"payout_id":"0193a6f2-7c1e-7a00-8000-000000000001"}"#,
            ),
            (
                serde_json::to_string(&ProcessWebhook {
                    inbox_id: id(),
                    delivery: None,
                }),
                r#"{"inbox_id":"0193a6f2-7c1e-7a00-8000-000000000001"}"#,
            ),
            (
                serde_json::to_string(&PollLightningInvoice {
                    intent_id: id(),
                    polls: 2,
                }),
                r#"{"intent_id":"0193a6f2-7c1e-7a00-8000-000000000001","polls":2}"#,
            ),
        ];
        for (encoded, expected) in cases {
            assert_eq!(encoded.expect("serializes"), expected);
        }
    }

    #[test]
    fn old_payloads_without_new_fields_still_decode() {
        let old: PollLightningInvoice =
            serde_json::from_str(r#"{"intent_id":"0193a6f2-7c1e-7a00-8000-000000000001"}"#)
                .expect("decodes");
        assert_eq!(old.polls, 0);
    }

    #[test]
    fn kinds_are_unique() {
        let mut kinds: Vec<_> = crate::registry()
            .into_iter()
            .map(|(kind, _, _)| kind)
            .collect();
        let before = kinds.len();
        kinds.sort_unstable();
        kinds.dedup();
        assert_eq!(kinds.len(), before);
    }
}
