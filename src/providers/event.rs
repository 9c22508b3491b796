//! What a stored webhook means, in malipo's terms. Each adapter reads its own wire bodies and
//! statuses into a [`ProviderEvent`]; [`interpret_webhook`] picks the adapter by the inbox
//! endpoint the delivery arrived at. A new provider adds its endpoints to [`InboxEndpoint`] and
//! a line to [`interpret_webhook`]; the `process_webhook` job applies only these events.
//!
//! An event is a claim, never a fact: except for [`ProviderEvent::TransferAnswer`] (the
//! provider's answer to malipo's own query), the job asks the provider before anything moves.

use crate::{
    domain::{Money, ProviderKind},
    providers::{
        DepositStatus, TransferStatus, fincra, lnbits, mpesa, payload::PayloadError, paystack,
    },
};

/// What a stored webhook claims or answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderEvent {
    /// A deposit may have moved: the deposit `handle` names is verified with `provider`.
    DepositClaim {
        /// Whose deposit.
        provider: ProviderKind,
        /// The deposit's handle at the provider (reference, CheckoutRequestID, payment hash).
        handle: String,
        /// What the webhook says happened; `Pending` when it only says "look" (its body is not
        /// read for an outcome), so a provider that finds nothing paid contradicts nothing.
        claim: DepositStatus,
    },
    /// A payout may have moved: where the transfer stands is asked, as `next` says.
    TransferClaim {
        /// Whose transfer.
        provider: ProviderKind,
        /// malipo's payout reference.
        reference: String,
        /// What the webhook says happened, when its outcome is read at all.
        claim: Option<TransferStatus>,
        /// How the provider's answer is had.
        next: TransferCheck,
    },
    /// The provider's answer to malipo's own status query about payout `reference` (possibly
    /// [`TransferStatus::NotFound`]): this one decides.
    TransferAnswer {
        /// malipo's payout reference.
        reference: String,
        /// Where the transfer stands.
        status: TransferStatus,
    },
    /// A refund of the deposit `transaction_reference` may have moved: the refund is fetched.
    RefundClaim {
        /// Whose refund.
        provider: ProviderKind,
        /// The refunded deposit's reference.
        transaction_reference: String,
        /// The provider's refund id, when the webhook names one.
        refund_id: Option<String>,
    },
    /// A payment into malipo's paybill that no push of malipo's asked for (M-Pesa C2B): it is
    /// recorded, and credited only through an account number malipo issued.
    OffChannelPayment {
        /// Whose payment.
        provider: ProviderKind,
        /// The provider's receipt, unique per payment.
        receipt: String,
        /// What was paid.
        amount: Money,
        /// The account number the payer typed.
        account_reference: String,
    },
    /// Nothing to do, and why.
    NoAction(String),
}

/// How the answer to a [`ProviderEvent::TransferClaim`] is had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferCheck {
    /// Ask where the transfer stands now, and apply the answer (Paystack, Fincra).
    CheckNow,
    /// Ask, and wait: the answer arrives later as its own [`ProviderEvent::TransferAnswer`]
    /// (M-Pesa's Transaction Status posts its result to a URL naming the payout).
    AskAndAwait,
}

/// The inbox endpoints, as stored in `webhook_inbox.endpoint`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InboxEndpoint {
    /// Paystack's single webhook.
    Paystack,
    /// Daraja STK callback.
    MpesaStk,
    /// Daraja C2B confirmation.
    MpesaC2bConfirmation,
    /// Daraja B2C result.
    MpesaB2cResult,
    /// Daraja B2C queue timeout (stored for the record only).
    MpesaB2cTimeout,
    /// Daraja Transaction Status result.
    MpesaStatusResult,
    /// LNbits settlement webhook.
    Lnbits,
    /// Fincra's single webhook.
    Fincra,
}

impl InboxEndpoint {
    /// Every endpoint.
    pub const ALL: [InboxEndpoint; 8] = [
        Self::Paystack,
        Self::MpesaStk,
        Self::MpesaC2bConfirmation,
        Self::MpesaB2cResult,
        Self::MpesaB2cTimeout,
        Self::MpesaStatusResult,
        Self::Lnbits,
        Self::Fincra,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Paystack => "paystack",
            Self::MpesaStk => "mpesa/stk",
            Self::MpesaC2bConfirmation => "mpesa/c2b/confirmation",
            Self::MpesaB2cResult => "mpesa/b2c/result",
            Self::MpesaB2cTimeout => "mpesa/b2c/timeout",
            Self::MpesaStatusResult => "mpesa/status/result",
            Self::Lnbits => "lnbits",
            Self::Fincra => "fincra",
        }
    }

    /// Parses a stored name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|endpoint| endpoint.as_str() == name)
    }
}

impl std::fmt::Display for InboxEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored body its adapter cannot read: processing it again cannot help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UnreadableWebhook(String);

impl From<PayloadError> for UnreadableWebhook {
    fn from(error: PayloadError) -> Self {
        Self(error.to_string())
    }
}

impl From<fincra::FincraEventError> for UnreadableWebhook {
    fn from(error: fincra::FincraEventError) -> Self {
        Self(error.to_string())
    }
}

/// What the delivery stored at `endpoint` means. `subject` is what its callback URL named,
/// when anything (the payout an M-Pesa Transaction Status result is about).
pub fn interpret_webhook(
    endpoint: InboxEndpoint,
    body: &[u8],
    subject: Option<&str>,
) -> Result<ProviderEvent, UnreadableWebhook> {
    use mpesa::callbacks::{Callback, interpret};
    Ok(match endpoint {
        InboxEndpoint::Paystack => paystack::interpret_webhook(body)?,
        InboxEndpoint::MpesaStk => interpret(Callback::Stk, body, subject)?,
        InboxEndpoint::MpesaC2bConfirmation => interpret(Callback::C2bConfirmation, body, subject)?,
        InboxEndpoint::MpesaB2cResult => interpret(Callback::B2cResult, body, subject)?,
        InboxEndpoint::MpesaB2cTimeout => interpret(Callback::B2cTimeout, body, subject)?,
        InboxEndpoint::MpesaStatusResult => interpret(Callback::StatusResult, body, subject)?,
        InboxEndpoint::Lnbits => lnbits::interpret_webhook(body)?,
        InboxEndpoint::Fincra => fincra::interpret_webhook(body)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_names_round_trip() {
        for endpoint in InboxEndpoint::ALL {
            assert_eq!(InboxEndpoint::parse(endpoint.as_str()), Some(endpoint));
        }
        assert_eq!(InboxEndpoint::parse("mpesa/b2c"), None);
    }

    #[test]
    fn an_unreadable_body_is_a_typed_error_naming_the_fault() {
        let error =
            interpret_webhook(InboxEndpoint::Paystack, b"not json", None).expect_err("unreadable");
        assert!(error.to_string().starts_with("not JSON"), "{error}");
    }
}
