//! How the fakes are configured at start: credentials they accept, realism knobs (how often
//! Daraja sends `expires_in` as a string, …), outcome weights and timings. Fault knobs live in
//! [`FaultSettings`] and can also change at runtime.

use std::time::Duration;

use super::faults::FaultSettings;
use super::lnbits::{ExpiredInvoiceStatus, LnbitsWebhookBody, OutgoingOutcome};
use super::mpesa::{B2cOutcome, B2cResult, StkOutcome, StkResult};
use super::paystack::{DuplicateTransferPolicy, RefundEventShape, TransferOutcome};

/// Everything [`FakeProviders::start`](super::FakeProviders::start) needs.
#[derive(Debug, Clone)]
pub struct SandboxSettings {
    /// Seed of the RNG behind every random choice (outcomes, faults, ids, shapes): a sequential
    /// test sees the same run every time.
    pub seed: u64,
    /// Fault knobs every provider starts with.
    pub faults: FaultSettings,
    /// Timeout of each webhook or callback delivery (LNbits' real one is 40 s; short here so a
    /// dead receiver does not hold tasks).
    pub delivery_timeout: Duration,
    /// Paystack's credentials and behaviour.
    pub paystack: PaystackSettings,
    /// Daraja's credentials and behaviour.
    pub mpesa: MpesaSettings,
    /// LNbits' credentials and behaviour.
    pub lnbits: LnbitsSettings,
    /// Fincra's keys, wallet and behaviour.
    pub fincra: super::fincra::FincraSettings,
}

impl Default for SandboxSettings {
    fn default() -> Self {
        Self {
            seed: 0x6d61_6c69_706f,
            faults: FaultSettings::default(),
            delivery_timeout: Duration::from_secs(5),
            paystack: PaystackSettings::default(),
            mpesa: MpesaSettings::default(),
            lnbits: LnbitsSettings::default(),
            fincra: super::fincra::FincraSettings::default(),
        }
    }
}

/// Paystack (PROVIDERS.md §1).
#[derive(Debug, Clone)]
pub struct PaystackSettings {
    /// The secret key accepted as `Authorization: Bearer …` and used to sign webhooks.
    pub secret_key: String,
    /// Where webhooks go; settable later with `FakeProviders::set_paystack_webhook_url`.
    /// Without one, events are not sent.
    pub webhook_url: Option<String>,
    /// The answer to re-posting an existing transfer reference (real behaviour unconfirmed).
    pub duplicate_transfer: DuplicateTransferPolicy,
    /// Weights of transfer outcomes when none is scripted.
    pub transfer_outcomes: Vec<(TransferOutcome, u32)>,
    /// From `POST /transfer` to the conclusive status (and between `transfer.success` and
    /// `transfer.reversed`).
    pub transfer_settle_delay: Duration,
    /// From `POST /refund` to `processed`/`failed`.
    pub refund_settle_delay: Duration,
    /// How refund events point at their transaction (real shape unconfirmed).
    pub refund_event_shape: RefundEventShape,
    /// Redeliveries of a webhook the receiver failed (live Paystack retries for 72 h).
    pub webhook_retries: u32,
    /// Wait between redeliveries.
    pub webhook_retry_delay: Duration,
}

impl Default for PaystackSettings {
    fn default() -> Self {
        Self {
            secret_key: "sk_test_fake".to_owned(),
            webhook_url: None,
            duplicate_transfer: DuplicateTransferPolicy::Reject,
            transfer_outcomes: vec![(TransferOutcome::Success, 1)],
            transfer_settle_delay: Duration::from_millis(200),
            refund_settle_delay: Duration::from_millis(200),
            refund_event_shape: RefundEventShape::TransactionReference,
            webhook_retries: 3,
            webhook_retry_delay: Duration::from_millis(200),
        }
    }
}

/// Safaricom Daraja (PROVIDERS.md §2).
#[derive(Debug, Clone)]
pub struct MpesaSettings {
    /// OAuth consumer key (Basic auth user).
    pub consumer_key: String,
    /// OAuth consumer secret (Basic auth password).
    pub consumer_secret: String,
    /// The Lipa na M-Pesa shortcode STK requests must use.
    pub shortcode: String,
    /// The passkey behind the STK `Password`.
    pub passkey: String,
    /// Lifetime of an access token (a newer token ends it sooner).
    pub token_ttl: Duration,
    /// Chance that `expires_in` is sent as a string (`"3599"`) rather than a number.
    pub expires_in_string_probability: f64,
    /// From the acknowledgement to the STK / B2C / Transaction Status result.
    pub callback_delay: Duration,
    /// Weights of STK outcomes when none is scripted.
    pub stk_outcomes: Vec<(StkOutcome, u32)>,
    /// Weights of B2C outcomes when none is scripted.
    pub b2c_outcomes: Vec<(B2cOutcome, u32)>,
    /// Chance that a successful STK callback writes `Amount` as `1.00` rather than `1`.
    pub amount_with_decimals_probability: f64,
    /// Chance that a successful STK callback carries a valueless `{"Name":"Balance"}` item.
    pub balance_item_probability: f64,
    /// HTTP status of a spike-arrest answer (`500.003.02`): Daraja's error codes put the
    /// status first, so 500 is the default; Apigee's newer default is 429.
    pub spike_arrest_status: u16,
    /// The B2C utility account's opening balance, in KES; a payout above it fails with
    /// result code 1.
    pub b2c_utility_balance: u64,
}

impl Default for MpesaSettings {
    fn default() -> Self {
        Self {
            consumer_key: "fake_consumer_key".to_owned(),
            consumer_secret: "fake_consumer_secret".to_owned(),
            shortcode: "174379".to_owned(),
            passkey: "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919".to_owned(),
            token_ttl: Duration::from_secs(3600),
            expires_in_string_probability: 0.5,
            callback_delay: Duration::from_millis(200),
            stk_outcomes: vec![(StkOutcome::new(StkResult::Success), 1)],
            b2c_outcomes: vec![(B2cOutcome::new(B2cResult::Success), 1)],
            amount_with_decimals_probability: 0.5,
            balance_item_probability: 0.3,
            spike_arrest_status: 500,
            b2c_utility_balance: 10_000_000,
        }
    }
}

/// LNbits v1 (PROVIDERS.md §3).
#[derive(Debug, Clone)]
pub struct LnbitsSettings {
    /// The one wallet's id.
    pub wallet_id: String,
    /// Its invoice key (receive, read).
    pub invoice_key: String,
    /// Its admin key (also pays).
    pub admin_key: String,
    /// Webhook body: a JSON string literal (v1.1+) or an object (before).
    pub webhook_body: LnbitsWebhookBody,
    /// What `GET /api/v1/payments/{hash}` calls an expired unpaid invoice.
    pub expired_status: ExpiredInvoiceStatus,
    /// Weights of outgoing-payment outcomes when none is scripted.
    pub outgoing_outcomes: Vec<(OutgoingOutcome, u32)>,
    /// From a `pending` outgoing payment to its conclusion.
    pub outgoing_settle_delay: Duration,
}

impl Default for LnbitsSettings {
    fn default() -> Self {
        Self {
            wallet_id: "5f7e2a3b9c1d4e8fa0b6c2d4e6f8a1b3".to_owned(),
            invoice_key: "a7c6f36c4e7d4b0b9f1d2e3c4b5a6978".to_owned(),
            admin_key: "d3b07384d113edec49eaa6238ad5ff00".to_owned(),
            webhook_body: LnbitsWebhookBody::StringLiteral,
            expired_status: ExpiredInvoiceStatus::Pending,
            outgoing_outcomes: vec![(OutgoingOutcome::Success, 1)],
            outgoing_settle_delay: Duration::from_millis(200),
        }
    }
}
