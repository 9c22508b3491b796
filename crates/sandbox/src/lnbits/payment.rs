//! The LNbits v1 `Payment` record and its JSON (PROVIDERS.md §3.1), for invoices and
//! outgoing payments alike.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::ExpiredInvoiceStatus;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PaymentStatus {
    Pending,
    Success,
    Failed,
}

impl PaymentStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Pending => "pending",
            PaymentStatus::Success => "success",
            PaymentStatus::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Payment {
    pub(crate) payment_hash: String,
    pub(crate) bolt11: String,
    /// Negative for outgoing payments.
    pub(crate) amount_msat: i64,
    pub(crate) fee_msat: i64,
    pub(crate) memo: String,
    pub(crate) status: PaymentStatus,
    /// Shown once the payment succeeded.
    pub(crate) preimage: String,
    pub(crate) expiry: DateTime<Utc>,
    pub(crate) webhook: Option<String>,
    pub(crate) webhook_status: Option<u16>,
    pub(crate) extra: Value,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
}

impl Payment {
    pub(crate) fn is_outgoing(&self) -> bool {
        self.amount_msat < 0
    }

    /// The status as `GET` reports it now: an unpaid invoice past its expiry reads as the
    /// configured expired status.
    pub(crate) fn status_now(&self, expired: ExpiredInvoiceStatus) -> PaymentStatus {
        let lapsed = !self.is_outgoing() && Utc::now() >= self.expiry;
        match (self.status, lapsed, expired) {
            (PaymentStatus::Pending, true, ExpiredInvoiceStatus::Failed) => PaymentStatus::Failed,
            (status, _, _) => status,
        }
    }

    pub(crate) fn preimage_json(&self, status: PaymentStatus) -> Value {
        match status {
            PaymentStatus::Success => Value::from(self.preimage.clone()),
            PaymentStatus::Pending | PaymentStatus::Failed => Value::Null,
        }
    }

    /// The `Payment` object.
    pub(crate) fn to_json(&self, wallet_id: &str, status: PaymentStatus) -> Value {
        let time = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S%.6f%:z").to_string();
        json!({
            "checking_id": self.payment_hash,
            "payment_hash": self.payment_hash,
            "wallet_id": wallet_id,
            "amount": self.amount_msat,
            "fee": self.fee_msat,
            "bolt11": self.bolt11,
            "payment_request": self.bolt11,
            "status": status.as_str(),
            "memo": self.memo,
            "expiry": self.expiry.format("%Y-%m-%dT%H:%M:%S%:z").to_string(),
            "webhook": self.webhook,
            "webhook_status": self.webhook_status,
            "preimage": self.preimage_json(status),
            "time": time(self.created_at),
            "created_at": time(self.created_at),
            "updated_at": time(self.updated_at),
            "labels": [],
            "extra": self.extra,
        })
    }
}
