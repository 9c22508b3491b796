//! Counters that tests read to check what a client did to the fakes and what the fakes did back.

use std::collections::HashMap;
use std::sync::Mutex;

use super::shared::lock;

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CountersSnapshot {
    /// API requests per endpoint, keyed `"METHOD /provider/route/template"`, e.g.
    /// `"POST /paystack/transfer"` or `"GET /lnbits/api/v1/payments/{payment_hash}"`. Counted
    /// before faults are applied, so rejected and timed-out calls are included.
    pub requests: HashMap<String, u64>,
    /// Transfer initiations per idempotency key: the Paystack `reference`, the B2C
    /// `OriginatorConversationID`, the LNbits `bolt11` paid. Every well-formed initiation
    /// counts, rejected duplicates and timed-out calls included, so `== 1` means "the client
    /// asked exactly once".
    pub transfers_per_reference: HashMap<String, u32>,
    /// STK pushes accepted per AccountReference: prompts sent to a buyer for one account
    /// number (malipo issues one per intent, so `> 1` means a buyer was prompted twice).
    pub stk_pushes_per_account: HashMap<String, u32>,
    /// Transfers actually created (a rejected duplicate is not one).
    pub transfers_created: u64,
    /// Webhook and callback HTTP deliveries attempted, retries and duplicates included.
    pub webhooks_sent: u64,
    /// Deliveries per kind, e.g. `"paystack charge.success"`, `"mpesa stk"`, `"lnbits payment"`.
    pub webhooks_by_kind: HashMap<String, u64>,
    /// Deliveries answered 2xx, per kind: a test waits on these to know a delivery (a
    /// duplicate, say) has been received and answered, not only sent.
    pub webhooks_answered_by_kind: HashMap<String, u64>,
    /// Extra deliveries made by the duplicate-webhook fault.
    pub webhooks_duplicated: u64,
    /// Deliveries that failed (connection error or non-2xx answer).
    pub webhook_failures: u64,
    /// M-Pesa callbacks never sent, by the drop fault or a scripted silent outcome.
    pub callbacks_dropped: u64,
    /// 429s injected by `rate_limit_probability`.
    pub injected_429: u64,
    /// 429s answered because `max_requests_per_second` was exceeded.
    pub rate_limited: u64,
    /// 5xx answers injected.
    pub injected_5xx: u64,
    /// Calls held past the client's timeout.
    pub injected_timeouts: u64,
    /// 5xx answers given after the action was performed.
    pub injected_5xx_after_action: u64,
    /// Payouts and refunds failed by `payout_failure_probability` /
    /// `refund_failure_probability`, per channel (`"mpesa b2c"`, `"paystack refund"`, …).
    pub injected_failures: HashMap<String, u64>,
    /// LNbits webhooks never sent, by `webhook_drop_probability`.
    pub webhooks_dropped: u64,
    /// Extra deliveries made concurrently with the first by `concurrent_duplicate_probability`.
    pub webhooks_duplicated_concurrently: u64,
    /// Lies delivered before the truth, per `"<channel> <kind>"`, kind one of `forged_failure`,
    /// `forged_success`, `wrong_amount` (e.g. `"mpesa stk forged_failure"`).
    pub lies: HashMap<String, u64>,
}

impl CountersSnapshot {
    /// Requests to one endpoint key (see [`CountersSnapshot::requests`]).
    pub fn requests_to(&self, key: &str) -> u64 {
        self.requests.get(key).copied().unwrap_or(0)
    }

    /// Initiations seen for one transfer idempotency key.
    pub fn transfers_for(&self, reference: &str) -> u32 {
        self.transfers_per_reference
            .get(reference)
            .copied()
            .unwrap_or(0)
    }

    /// Deliveries of one kind answered 2xx.
    pub fn answered_of(&self, kind: &str) -> u64 {
        self.webhooks_answered_by_kind
            .get(kind)
            .copied()
            .unwrap_or(0)
    }

    /// Lies of one `"<channel> <kind>"`.
    pub fn lies_of(&self, key: &str) -> u64 {
        self.lies.get(key).copied().unwrap_or(0)
    }

    /// Lies of every channel whose kind is `kind`.
    pub fn lies_of_kind(&self, kind: &str) -> u64 {
        self.lies
            .iter()
            .filter(|(key, _)| key.ends_with(kind))
            .map(|(_, n)| n)
            .sum()
    }

    /// Deliveries of one webhook kind.
    pub fn webhooks_of(&self, kind: &str) -> u64 {
        self.webhooks_by_kind.get(kind).copied().unwrap_or(0)
    }
}

/// The live counters, shared by the three fakes.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    inner: Mutex<CountersSnapshot>,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> CountersSnapshot {
        lock(&self.inner).clone()
    }

    /// Applies one change under the lock.
    pub(crate) fn bump(&self, edit: impl FnOnce(&mut CountersSnapshot)) {
        edit(&mut lock(&self.inner));
    }

    pub(crate) fn request(&self, key: String) {
        self.bump(|c| *c.requests.entry(key).or_default() += 1);
    }

    pub(crate) fn transfer_attempt(&self, reference: &str) {
        self.bump(|c| {
            *c.transfers_per_reference
                .entry(reference.to_owned())
                .or_default() += 1
        });
    }

    pub(crate) fn stk_push(&self, account_reference: &str) {
        self.bump(|c| {
            *c.stk_pushes_per_account
                .entry(account_reference.to_owned())
                .or_default() += 1
        });
    }

    pub(crate) fn lie(&self, channel: &str, kind: &str) {
        self.bump(|c| *c.lies.entry(format!("{channel} {kind}")).or_default() += 1);
    }

    pub(crate) fn injected_failure(&self, channel: &str) {
        self.bump(|c| *c.injected_failures.entry(channel.to_owned()).or_default() += 1);
    }

    pub(crate) fn webhook_attempt(&self, kind: &str) {
        self.bump(|c| {
            c.webhooks_sent += 1;
            *c.webhooks_by_kind.entry(kind.to_owned()).or_default() += 1;
        });
    }
}
