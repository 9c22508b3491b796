//! The normalized requests and outcomes every adapter speaks; no wire type leaks past them.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::domain::Money;

pub use crate::domain::ProviderKind;

/// How the provider reaches the buyer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Buyer {
    /// An email address (Paystack requires one).
    Email(String),
    /// A phone number (M-Pesa prompts it).
    Msisdn(String),
    /// Nobody in particular (a Lightning invoice is paid by whoever holds it).
    None,
}

/// A buyer's payment to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepositRequest {
    /// The intent this deposit funds.
    pub intent_id: Uuid,
    /// Our reference, derived from the intent so a re-run reuses it.
    pub reference: String,
    /// What the buyer pays.
    pub amount: Money,
    /// Who pays.
    pub buyer: Buyer,
    /// Shown to the buyer where the provider allows (shortened as each provider requires).
    pub description: String,
}

/// What the buyer must do next, as answered to the API client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum NextAction {
    /// Send the buyer to Paystack's checkout page.
    Redirect {
        /// The checkout page.
        authorization_url: String,
        /// Paystack's access code, for inline checkout.
        access_code: String,
        /// The transaction reference (ours).
        reference: String,
    },
    /// The buyer's phone shows an M-Pesa prompt.
    StkPush {
        /// Daraja's handle for the prompt; the callback and STK Query use it.
        checkout_request_id: String,
        /// Daraja's request id.
        merchant_request_id: String,
        /// Daraja's message for the buyer.
        customer_message: String,
    },
    /// Send the buyer to Fincra's hosted checkout.
    CheckoutLink {
        /// The checkout page.
        link: String,
        /// Our merchant reference; Fincra verifies the payment by it.
        reference: String,
        /// Fincra's own reference of the checkout (not the one to verify by).
        fincra_reference: String,
    },
    /// The buyer pays a Lightning invoice.
    LightningInvoice {
        /// The BOLT 11 payment request.
        bolt11: String,
        /// The invoice's payment hash (hex), our handle for checking it.
        payment_hash: String,
        /// When the invoice lapses.
        expires_at: DateTime<Utc>,
    },
}

impl NextAction {
    /// The handle to check this deposit with: Paystack or Fincra merchant reference,
    /// CheckoutRequestID or payment hash.
    pub fn provider_handle(&self) -> &str {
        match self {
            Self::Redirect { reference, .. } | Self::CheckoutLink { reference, .. } => reference,
            Self::StkPush {
                checkout_request_id,
                ..
            } => checkout_request_id,
            Self::LightningInvoice { payment_hash, .. } => payment_hash,
        }
    }

    /// When the buyer's chance to pay lapses, where the provider says.
    pub fn expires_at(&self) -> Option<DateTime<Utc>> {
        match self {
            Self::LightningInvoice { expires_at, .. } => Some(*expires_at),
            _ => None,
        }
    }
}

/// The answer to starting a deposit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum DepositInitiation {
    /// Started now: the buyer must act.
    Started {
        /// What the buyer must do.
        action: NextAction,
    },
    /// The provider already knew this reference (a re-run after a lost answer): this is where
    /// that earlier deposit stands. The original next action cannot be recovered from the provider.
    AlreadyInitiated {
        /// The earlier deposit's status.
        status: DepositStatus,
    },
}

/// Which deposit to check, with what the caller knows about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepositCheck {
    /// Our reference (Paystack verifies by it).
    pub reference: String,
    /// The handle from [`NextAction::provider_handle`]: CheckoutRequestID (M-Pesa) or payment
    /// hash (LNbits). Paystack does not need it.
    pub provider_handle: Option<String>,
    /// What the intent expects. M-Pesa's STK Query returns no amount, so a success it reports
    /// carries this one (Daraja charges exactly the amount pushed).
    pub expected: Money,
    /// When the buyer's chance to pay lapses, if known.
    pub expires_at: Option<DateTime<Utc>>,
}

/// Where a deposit stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum DepositStatus {
    /// Not conclusive yet.
    Pending,
    /// Paid.
    Succeeded {
        /// What the provider says was paid; compare with the intent.
        amount: Money,
        /// The provider's id: M-Pesa receipt (CheckoutRequestID when only STK Query confirmed
        /// it), Paystack transaction id, or the payment hash.
        provider_ref: String,
    },
    /// Conclusively not paid.
    Failed {
        /// The provider's code (`1032`, `failed`, `not_found`, …).
        code: String,
        /// The provider's words.
        reason: String,
    },
    /// The buyer's chance to pay lapsed.
    Expired,
}

/// Where a transfer goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// An M-Pesa wallet (B2C).
    Mpesa {
        /// The payee's phone number.
        msisdn: String,
    },
    /// A Paystack transfer recipient created beforehand.
    Paystack {
        /// `RCP_…`.
        recipient_code: String,
    },
    /// A Lightning invoice the payee issued.
    Lightning {
        /// The BOLT 11 payment request; its amount must equal the transfer's.
        bolt11: String,
    },
    /// A Nigerian bank account paid through Fincra.
    FincraBank {
        /// The bank's code, from malipo's list.
        bank_code: String,
        /// The NUBAN.
        account_number: String,
        /// The account holder's name.
        account_name: String,
    },
    /// A Kenyan M-Pesa wallet paid through Fincra.
    FincraMobileMoney {
        /// The wallet's number, `2547…`.
        msisdn: String,
    },
}

/// Money to send out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferRequest {
    /// Derived from the payout id by the caller; the provider's idempotency key where it has one
    /// (Paystack `reference`, Daraja `OriginatorConversationID`).
    pub reference: String,
    /// What to send.
    pub amount: Money,
    /// Where to.
    pub destination: Destination,
    /// Shown to the payee where the provider allows.
    pub reason: String,
}

/// Where a transfer stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum TransferStatus {
    /// Initiated (or already initiated before) and not conclusive yet: check again later.
    Pending,
    /// Delivered.
    Succeeded {
        /// Transfer code, M-Pesa receipt or payment hash.
        provider_ref: String,
    },
    /// Conclusively not delivered; a new transfer may be made.
    Failed {
        /// The provider's words.
        reason: String,
    },
    /// Delivered and then returned.
    Reversed {
        /// The provider's words.
        reason: String,
    },
    /// The provider has never seen this reference: nothing moved.
    NotFound,
}

/// Money to return to a buyer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRequest {
    /// Our refund id, for logs.
    pub reference: String,
    /// The deposit to refund, as the provider knows it (Paystack transaction reference or id).
    pub deposit_ref: String,
    /// How much; never more than the deposit.
    pub amount: Money,
    /// Why, kept with the provider's record.
    pub reason: String,
}

/// Where a refund stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RefundStatus {
    /// Accepted, not conclusive yet.
    Pending {
        /// The provider's refund id, to check it with.
        provider_ref: String,
    },
    /// Money returned.
    Succeeded {
        /// The provider's refund id.
        provider_ref: String,
    },
    /// Conclusively not refunded.
    Failed {
        /// The provider's words.
        reason: String,
    },
    /// The provider has no such refund.
    NotFound,
}
