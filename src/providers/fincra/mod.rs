//! Fincra (PROVIDERS.md §4): NGN bank-account and KES M-Pesa payouts keyed by
//! `customerReference`, the query by customer reference, account resolution, the signed
//! webhook, and checkout collections (a hosted checkout opened under our deposit reference and
//! verified by it; `client/checkout.rs`). Refunds are not Fincra's: they answer `Permanent`.

mod checkout_wire;
mod client;
pub mod webhook;
mod wire;

#[cfg(test)]
mod checkout_tests;
#[cfg(test)]
mod tests;

pub use crate::domain::fincra_banks as banks;
pub use client::{AccountCheck, FincraClient};
pub use webhook::{
    FincraEvent, FincraEventError, FincraEventKind, fincra_signature, interpret_webhook,
    parse_webhook, verify_signature,
};

use super::{
    DepositCheck, DepositInitiation, DepositRequest, DepositStatus, Provider, ProviderError,
    ProviderKind, RefundRequest, RefundStatus, TransferRequest, TransferStatus,
};

/// How a retryable error from an underfunded Fincra wallet begins, so the payout job can raise
/// the operator alert (`NO_ENOUGH_MONEY_IN_WALLET`, §4.1).
pub const UNDERFUNDED: &str = "Fincra wallet underfunded (NO_ENOUGH_MONEY_IN_WALLET)";

fn no_refunds() -> ProviderError {
    ProviderError::permanent("Fincra refunds are not available through malipo")
}

impl Provider for FincraClient {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Fincra
    }

    async fn initiate_deposit(
        &self,
        request: &DepositRequest,
    ) -> Result<DepositInitiation, ProviderError> {
        self.open_checkout(request).await
    }

    async fn check_deposit(&self, check: &DepositCheck) -> Result<DepositStatus, ProviderError> {
        self.verify_checkout(check).await
    }

    async fn initiate_transfer(
        &self,
        request: &TransferRequest,
    ) -> Result<TransferStatus, ProviderError> {
        self.payout(request).await
    }

    async fn check_transfer(
        &self,
        request: &TransferRequest,
    ) -> Result<TransferStatus, ProviderError> {
        self.query(&request.reference).await
    }

    /// Fincra's refund API is not built: a late payment through Fincra waits for an operator.
    async fn refund(&self, _request: &RefundRequest) -> Result<RefundStatus, ProviderError> {
        Err(no_refunds())
    }

    async fn check_refund(&self, _provider_ref: &str) -> Result<RefundStatus, ProviderError> {
        Err(no_refunds())
    }
}
