//! Provider adapters: one contract over Paystack, M-Pesa Daraja, LNbits and Fincra.
//!
//! Each adapter owns its wire types and its unit conversions (kobo, whole shillings, sats and
//! msat); only the normalized types in [`types`] leave it. Every failure is classified as
//! [`ProviderError::Retryable`], [`ProviderError::Permanent`] or [`ProviderError::InDoubt`] so
//! the job that called never has to guess whether money moved.

use std::{future::Future, time::Duration};

pub mod cidr;
pub mod config;
pub mod event;
pub mod fincra;
mod http;
pub mod lnbits;
pub mod mpesa;
pub mod payload;
pub mod paystack;
mod registry;
pub mod secret;
pub mod signature;
pub mod types;

#[cfg(test)]
mod testing;

pub use cidr::{Cidr, ip_allowed};
pub use config::{ConfigError, MissingSetting, ProvidersConfig};
pub use event::{
    InboxEndpoint, ProviderEvent, TransferCheck, UnreadableWebhook, interpret_webhook,
};
pub use fincra::{AccountCheck, FincraClient};
pub use http::HttpSettings;
pub use lnbits::LnbitsClient;
pub use mpesa::MpesaClient;
pub use payload::PayloadError;
pub use paystack::PaystackClient;
pub use registry::Providers;
pub use secret::Secret;
pub use signature::callback_token_matches;
pub use types::*;

/// How a provider call failed, decided by the adapter so the job never guesses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// Nothing took effect, or repeating the call is harmless: run it again later.
    #[error("retryable provider error: {reason}")]
    Retryable {
        /// What went wrong, without secrets.
        reason: String,
        /// How long the provider asked us to wait, when it said.
        retry_after: Option<Duration>,
    },
    /// The provider refused for good (validation, declined, bad key): retrying cannot help.
    #[error("permanent provider error: {reason}")]
    Permanent {
        /// What went wrong, without secrets.
        reason: String,
    },
    /// A money-moving request was sent and no answer came back: it may or may not have taken
    /// effect. Query the provider's status before anything else; never initiate it again blindly.
    #[error("provider outcome in doubt: {reason}")]
    InDoubt {
        /// What went wrong, without secrets.
        reason: String,
    },
}

impl ProviderError {
    /// A retryable error with no hint of when.
    pub fn retryable(reason: impl Into<String>) -> Self {
        Self::Retryable {
            reason: reason.into(),
            retry_after: None,
        }
    }

    /// A retryable error the provider asked us to delay.
    pub fn retry_after(reason: impl Into<String>, retry_after: Option<Duration>) -> Self {
        Self::Retryable {
            reason: reason.into(),
            retry_after,
        }
    }

    /// A permanent error.
    pub fn permanent(reason: impl Into<String>) -> Self {
        Self::Permanent {
            reason: reason.into(),
        }
    }

    /// An in-doubt error.
    pub fn in_doubt(reason: impl Into<String>) -> Self {
        Self::InDoubt {
            reason: reason.into(),
        }
    }

    /// The reason, whatever the class.
    pub fn reason(&self) -> &str {
        match self {
            Self::Retryable { reason, .. }
            | Self::Permanent { reason }
            | Self::InDoubt { reason } => reason,
        }
    }
}

/// The operations every provider offers; an operation a provider lacks answers `Permanent`.
///
/// Methods return `impl Future + Send` (native async in traits) so jobs can hold a provider
/// across `.await` on a multi-threaded runtime without the `async_trait` crate.
pub trait Provider: Send + Sync {
    /// Which provider this is.
    fn kind(&self) -> ProviderKind;

    /// Starts a buyer's payment and says what the buyer must do next.
    fn initiate_deposit(
        &self,
        request: &DepositRequest,
    ) -> impl Future<Output = Result<DepositInitiation, ProviderError>> + Send;

    /// Asks the provider where a deposit stands. Callers compare the returned amount with the
    /// intent's before confirming.
    fn check_deposit(
        &self,
        check: &DepositCheck,
    ) -> impl Future<Output = Result<DepositStatus, ProviderError>> + Send;

    /// Sends money out. The request's `reference` is the provider-side idempotency key where the
    /// provider has one; an `InDoubt` answer must be followed by [`Provider::check_transfer`].
    fn initiate_transfer(
        &self,
        request: &TransferRequest,
    ) -> impl Future<Output = Result<TransferStatus, ProviderError>> + Send;

    /// Asks where a transfer stands, identified by the same request that initiated it.
    fn check_transfer(
        &self,
        request: &TransferRequest,
    ) -> impl Future<Output = Result<TransferStatus, ProviderError>> + Send;

    /// Refunds (part of) a deposit.
    fn refund(
        &self,
        request: &RefundRequest,
    ) -> impl Future<Output = Result<RefundStatus, ProviderError>> + Send;

    /// Asks where a refund stands, by the provider's refund id from [`RefundStatus`].
    fn check_refund(
        &self,
        provider_ref: &str,
    ) -> impl Future<Output = Result<RefundStatus, ProviderError>> + Send;
}
