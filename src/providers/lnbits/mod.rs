//! LNbits: Lightning invoices to receive, payments out, and the (unsigned, string-wrapped)
//! settlement webhook.

mod client;
pub mod webhook;
mod wire;

#[cfg(test)]
mod tests;

pub use crate::domain::bolt11;
pub use client::LnbitsClient;
pub use webhook::{LnbitsWebhook, interpret_webhook, parse_webhook};

use super::{
    DepositCheck, DepositInitiation, DepositRequest, DepositStatus, Provider, ProviderError,
    ProviderKind, RefundRequest, RefundStatus, TransferRequest, TransferStatus,
};

impl Provider for LnbitsClient {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Lightning
    }

    async fn initiate_deposit(
        &self,
        request: &DepositRequest,
    ) -> Result<DepositInitiation, ProviderError> {
        let action = self.create_invoice(request).await?;
        Ok(DepositInitiation::Started { action })
    }

    async fn check_deposit(&self, check: &DepositCheck) -> Result<DepositStatus, ProviderError> {
        let payment_hash = check.provider_handle.as_deref().ok_or_else(|| {
            ProviderError::permanent("a Lightning deposit is checked by its payment hash")
        })?;
        self.check_invoice(payment_hash, check.expires_at).await
    }

    async fn initiate_transfer(
        &self,
        request: &TransferRequest,
    ) -> Result<TransferStatus, ProviderError> {
        self.pay(request).await
    }

    async fn check_transfer(
        &self,
        request: &TransferRequest,
    ) -> Result<TransferStatus, ProviderError> {
        self.check_payment(request).await
    }

    async fn refund(&self, _request: &RefundRequest) -> Result<RefundStatus, ProviderError> {
        Err(ProviderError::permanent(
            "Lightning payments cannot be refunded; pay an invoice from the buyer instead",
        ))
    }

    async fn check_refund(&self, _provider_ref: &str) -> Result<RefundStatus, ProviderError> {
        Err(ProviderError::permanent(
            "Lightning refunds are not supported",
        ))
    }
}
