//! Paystack: card and bank deposits (initialize → checkout → verify), transfers to registered
//! recipients, refunds, and the signed webhook.

mod client;
pub mod webhook;
mod wire;

#[cfg(test)]
mod tests;

pub use client::{NewRecipient, PaystackClient, RecipientCheck};
pub use webhook::{
    PaystackEvent, PaystackEventKind, TransferOutcome, interpret_webhook, parse_webhook,
};

use super::{
    DepositCheck, DepositInitiation, DepositRequest, DepositStatus, Provider, ProviderError,
    ProviderKind, RefundRequest, RefundStatus, TransferRequest, TransferStatus,
};

impl Provider for PaystackClient {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Paystack
    }

    async fn initiate_deposit(
        &self,
        request: &DepositRequest,
    ) -> Result<DepositInitiation, ProviderError> {
        self.initialize(request).await
    }

    async fn check_deposit(&self, check: &DepositCheck) -> Result<DepositStatus, ProviderError> {
        self.verify(&check.reference).await
    }

    async fn initiate_transfer(
        &self,
        request: &TransferRequest,
    ) -> Result<TransferStatus, ProviderError> {
        self.transfer(request).await
    }

    async fn check_transfer(
        &self,
        request: &TransferRequest,
    ) -> Result<TransferStatus, ProviderError> {
        self.verify_transfer(&request.reference).await
    }

    async fn refund(&self, request: &RefundRequest) -> Result<RefundStatus, ProviderError> {
        PaystackClient::refund(self, request).await
    }

    async fn check_refund(&self, provider_ref: &str) -> Result<RefundStatus, ProviderError> {
        self.fetch_refund(provider_ref).await
    }
}
