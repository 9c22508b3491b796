//! Safaricom M-Pesa through Daraja: STK Push deposits confirmed by callback and STK Query, B2C
//! payouts keyed by `OriginatorConversationID`, Transaction Status for reconciliation, the
//! shared OAuth token, and parsers for the (unsigned) callbacks.

pub mod callbacks;
mod client;
mod fields;
pub mod password;
pub mod token;
mod wire;

#[cfg(test)]
mod tests;

pub use crate::domain::Msisdn;
pub use client::{MpesaClient, PulledPayment, StatusQueryAck};
pub use token::{CachedToken, MemoryTokenStore, TokenFetch, TokenStore};

use super::{
    DepositCheck, DepositInitiation, DepositRequest, DepositStatus, Provider, ProviderError,
    ProviderKind, RefundRequest, RefundStatus, TransferRequest, TransferStatus,
};

impl Provider for MpesaClient {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Mpesa
    }

    async fn initiate_deposit(
        &self,
        request: &DepositRequest,
    ) -> Result<DepositInitiation, ProviderError> {
        let action = self.stk_push(request).await?;
        Ok(DepositInitiation::Started { action })
    }

    async fn check_deposit(&self, check: &DepositCheck) -> Result<DepositStatus, ProviderError> {
        let checkout_request_id = check.provider_handle.as_deref().ok_or_else(|| {
            ProviderError::permanent("an STK deposit is checked by its CheckoutRequestID")
        })?;
        self.stk_query(checkout_request_id, check.expected).await
    }

    async fn initiate_transfer(
        &self,
        request: &TransferRequest,
    ) -> Result<TransferStatus, ProviderError> {
        self.b2c(request).await
    }

    /// Daraja answers status queries only by callback: this sends a Transaction Status query and
    /// answers [`TransferStatus::Pending`]; the outcome arrives at the status callback.
    async fn check_transfer(
        &self,
        request: &TransferRequest,
    ) -> Result<TransferStatus, ProviderError> {
        self.transaction_status(&request.reference, None).await?;
        Ok(TransferStatus::Pending)
    }

    async fn refund(&self, _request: &RefundRequest) -> Result<RefundStatus, ProviderError> {
        Err(ProviderError::permanent(
            "M-Pesa refunds (reversals) are not supported; pay the buyer back by B2C",
        ))
    }

    async fn check_refund(&self, _provider_ref: &str) -> Result<RefundStatus, ProviderError> {
        Err(ProviderError::permanent("M-Pesa refunds are not supported"))
    }
}
