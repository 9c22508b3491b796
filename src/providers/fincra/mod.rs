//! Fincra (PROVIDERS.md §4): NGN bank-account and KES M-Pesa payouts keyed by
//! `customerReference`, the query by customer reference, account resolution, and the signed
//! webhook. Deposits (Fincra checkout) are not built: the deposit operations answer
//! `Permanent`, and `NewIntent::parse` refuses `fincra` as a deposit provider.

pub mod banks;
mod client;
pub mod webhook;
mod wire;

#[cfg(test)]
mod tests;

pub use client::{AccountCheck, FincraClient};
pub use webhook::{
    FincraEvent, FincraEventKind, fincra_signature, parse_webhook, verify_signature,
};

use super::{
    DepositCheck, DepositInitiation, DepositRequest, DepositStatus, Provider, ProviderError,
    ProviderKind, RefundRequest, RefundStatus, TransferRequest, TransferStatus,
};

/// How a retryable error from an underfunded Fincra wallet begins, so the payout job can raise
/// the operator alert (`NO_ENOUGH_MONEY_IN_WALLET`, §4.1).
pub const UNDERFUNDED: &str = "Fincra wallet underfunded (NO_ENOUGH_MONEY_IN_WALLET)";

fn no_collections() -> ProviderError {
    ProviderError::permanent("Fincra collections are not available; Fincra only pays out")
}

impl Provider for FincraClient {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Fincra
    }

    async fn initiate_deposit(
        &self,
        _request: &DepositRequest,
    ) -> Result<DepositInitiation, ProviderError> {
        Err(no_collections())
    }

    async fn check_deposit(&self, _check: &DepositCheck) -> Result<DepositStatus, ProviderError> {
        Err(no_collections())
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

    /// Refunds go back to the buyer through the deposit's provider, never through Fincra.
    async fn refund(&self, _request: &RefundRequest) -> Result<RefundStatus, ProviderError> {
        Err(no_collections())
    }

    async fn check_refund(&self, _provider_ref: &str) -> Result<RefundStatus, ProviderError> {
        Err(no_collections())
    }
}
