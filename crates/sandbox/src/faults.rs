//! Fault knobs: latency, injected errors, rate limits, timeouts and webhook misbehaviour, per
//! provider, changeable while the fakes run.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

/// One of the faked providers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    /// Paystack (cards, bank transfers).
    Paystack,
    /// Safaricom M-Pesa Daraja.
    Mpesa,
    /// LNbits (Lightning).
    Lnbits,
    /// Fincra (bank and mobile-money payouts).
    Fincra,
}

impl Provider {
    /// All providers, in a fixed order.
    pub const ALL: [Provider; 4] = [
        Provider::Paystack,
        Provider::Mpesa,
        Provider::Lnbits,
        Provider::Fincra,
    ];

    /// Lowercase name, as used in URL prefixes and counter keys.
    pub fn name(self) -> &'static str {
        match self {
            Provider::Paystack => "paystack",
            Provider::Mpesa => "mpesa",
            Provider::Lnbits => "lnbits",
            Provider::Fincra => "fincra",
        }
    }

    fn index(self) -> usize {
        match self {
            Provider::Paystack => 0,
            Provider::Mpesa => 1,
            Provider::Lnbits => 2,
            Provider::Fincra => 3,
        }
    }
}

/// What can go wrong at one provider. Probabilities are in `0.0..=1.0` (values outside are
/// clamped); the default is a well-behaved provider.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultSettings {
    /// Added to every API response.
    pub latency: Duration,
    /// A uniformly random extra latency in `0..=latency_jitter`.
    pub latency_jitter: Duration,
    /// Chance that an API call answers a 5xx without doing anything.
    pub server_error_probability: f64,
    /// Chance that an API call answers 429 (Paystack body and `x-ratelimit-*` headers, Daraja
    /// spike arrest `500.003.02`, LNbits slowapi body).
    pub rate_limit_probability: f64,
    /// Chance that an API call is held for `timeout_hold` before it answers, longer than a
    /// client's timeout.
    pub timeout_probability: f64,
    /// How long a "timed out" call is held.
    pub timeout_hold: Duration,
    /// Whether a "timed out" call still performs its action (the in-doubt case: the transfer
    /// happened, the client saw a timeout). When false the call does nothing and answers 504.
    pub timeout_performs_action: bool,
    /// Chance that a webhook or callback is delivered twice.
    pub duplicate_webhook_probability: f64,
    /// Webhooks and callbacks wait a uniformly random delay in this range before delivery.
    pub webhook_delay: (Duration, Duration),
    /// Chance that an M-Pesa callback (STK, B2C, Transaction Status, C2B confirmation) is never
    /// sent. Daraja does not retry undelivered callbacks.
    pub callback_drop_probability: f64,
    /// Chance that a Paystack transfer's events arrive out of order: the final webhook is
    /// delivered before the `POST /transfer` answer, and `transfer.reversed` before
    /// `transfer.success`.
    pub out_of_order_probability: f64,
    /// Requests per second accepted before the fake answers 429; a token bucket of this size
    /// refilled at this rate, the semantics of governor's `Quota::per_second(n)`.
    pub max_requests_per_second: Option<u32>,
    /// Chance that an API call performs its action (a transfer is made, a push is sent) and
    /// then answers a 5xx anyway: the client must not read the 5xx as "nothing happened".
    pub server_error_after_action_probability: f64,
    /// Chance that a payout fails at the provider: a Paystack transfer ends `failed`, a B2C
    /// payment ends with a failure `ResultCode`, an LNbits outgoing payment fails. Outcomes a
    /// test scripted come first.
    pub payout_failure_probability: f64,
    /// Chance that a Paystack refund ends `failed` (scripted outcomes come first).
    pub refund_failure_probability: f64,
    /// Chance that an LNbits or Fincra webhook is never sent (both send once: LNbits never
    /// retries, Fincra's retries are off by default).
    /// M-Pesa callbacks have [`Self::callback_drop_probability`].
    pub webhook_drop_probability: f64,
    /// Chance that a webhook or callback is delivered twice at the same moment, by two
    /// concurrent requests (on top of [`Self::duplicate_webhook_probability`], whose second
    /// delivery follows the first).
    pub concurrent_duplicate_probability: f64,
    /// Chance that a deposit's callback is preceded by a lie with valid tokens and signatures:
    /// a forged failure when the buyer paid (STK `1032`), a forged success with a made-up
    /// receipt when the buyer did not, or the wrong amount (STK, Paystack `charge.success`,
    /// LNbits). The query APIs always answer the truth.
    pub deposit_lie_probability: f64,
    /// Chance that a payout's or refund's result is preceded by a lie: a forged failure when
    /// the money moved (B2C `2001`, `transfer.failed`, `refund.failed`), a forged success with
    /// a made-up receipt when it did not (B2C, `transfer.success`, `refund.processed`).
    pub payout_lie_probability: f64,
}

impl Default for FaultSettings {
    fn default() -> Self {
        Self {
            latency: Duration::ZERO,
            latency_jitter: Duration::ZERO,
            server_error_probability: 0.0,
            rate_limit_probability: 0.0,
            timeout_probability: 0.0,
            timeout_hold: Duration::from_secs(30),
            timeout_performs_action: true,
            duplicate_webhook_probability: 0.0,
            webhook_delay: (Duration::ZERO, Duration::ZERO),
            callback_drop_probability: 0.0,
            out_of_order_probability: 0.0,
            max_requests_per_second: None,
            server_error_after_action_probability: 0.0,
            payout_failure_probability: 0.0,
            refund_failure_probability: 0.0,
            webhook_drop_probability: 0.0,
            concurrent_duplicate_probability: 0.0,
            deposit_lie_probability: 0.0,
            payout_lie_probability: 0.0,
        }
    }
}

/// A shared handle on the fault knobs of the three providers; clones see the same knobs.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    inner: Arc<RwLock<[FaultSettings; 4]>>,
}

impl Faults {
    /// Knobs starting at `initial` for every provider.
    pub fn new(initial: FaultSettings) -> Self {
        Self {
            inner: Arc::new(RwLock::new([
                initial.clone(),
                initial.clone(),
                initial.clone(),
                initial,
            ])),
        }
    }

    /// The current knobs of one provider.
    pub fn get(&self, provider: Provider) -> FaultSettings {
        // A poisoned lock only means a panic elsewhere mid-update; the knobs are plain data.
        let guard = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        guard[provider.index()].clone()
    }

    /// Replaces one provider's knobs.
    pub fn set(&self, provider: Provider, settings: FaultSettings) {
        self.update(provider, |f| *f = settings);
    }

    /// Replaces every provider's knobs.
    pub fn set_all(&self, settings: FaultSettings) {
        for provider in Provider::ALL {
            self.set(provider, settings.clone());
        }
    }

    /// Edits one provider's knobs in place.
    pub fn update(&self, provider: Provider, edit: impl FnOnce(&mut FaultSettings)) {
        let mut guard = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        edit(&mut guard[provider.index()]);
    }

    /// Edits every provider's knobs in place.
    pub fn update_all(&self, mut edit: impl FnMut(&mut FaultSettings)) {
        let mut guard = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        guard.iter_mut().for_each(&mut edit);
    }
}
