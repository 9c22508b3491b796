//! Calling whichever provider a record names. `Provider` uses native async methods (not object
//! safe), so this dispatches by kind instead of through a trait object.

use crate::{
    domain::ProviderKind,
    providers::{
        DepositCheck, DepositInitiation, DepositRequest, DepositStatus, Provider, ProviderError,
        Providers, RefundRequest, RefundStatus, TransferRequest, TransferStatus,
    },
};

fn disabled(kind: ProviderKind) -> ProviderError {
    ProviderError::permanent(format!("provider {kind} is not configured on this worker"))
}

macro_rules! dispatch {
    ($providers:expr, $kind:expr, |$client:ident| $call:expr) => {
        match $kind {
            ProviderKind::Paystack => match $providers.paystack() {
                Some($client) => $call.await,
                None => Err(disabled($kind)),
            },
            ProviderKind::Mpesa => match $providers.mpesa() {
                Some($client) => $call.await,
                None => Err(disabled($kind)),
            },
            ProviderKind::Lightning => match $providers.lnbits() {
                Some($client) => $call.await,
                None => Err(disabled($kind)),
            },
            ProviderKind::Fincra => match $providers.fincra() {
                Some($client) => $call.await,
                None => Err(disabled($kind)),
            },
        }
    };
}

/// Starts a deposit.
pub async fn initiate_deposit(
    providers: &Providers,
    kind: ProviderKind,
    request: &DepositRequest,
) -> Result<DepositInitiation, ProviderError> {
    dispatch!(providers, kind, |client| client.initiate_deposit(request))
}

/// Checks a deposit.
pub async fn check_deposit(
    providers: &Providers,
    kind: ProviderKind,
    check: &DepositCheck,
) -> Result<DepositStatus, ProviderError> {
    dispatch!(providers, kind, |client| client.check_deposit(check))
}

/// Initiates a transfer.
pub async fn initiate_transfer(
    providers: &Providers,
    kind: ProviderKind,
    request: &TransferRequest,
) -> Result<TransferStatus, ProviderError> {
    dispatch!(providers, kind, |client| client.initiate_transfer(request))
}

/// Checks a transfer.
pub async fn check_transfer(
    providers: &Providers,
    kind: ProviderKind,
    request: &TransferRequest,
) -> Result<TransferStatus, ProviderError> {
    dispatch!(providers, kind, |client| client.check_transfer(request))
}

/// Starts a refund.
pub async fn refund(
    providers: &Providers,
    kind: ProviderKind,
    request: &RefundRequest,
) -> Result<RefundStatus, ProviderError> {
    dispatch!(providers, kind, |client| client.refund(request))
}

/// Checks a refund.
pub async fn check_refund(
    providers: &Providers,
    kind: ProviderKind,
    provider_ref: &str,
) -> Result<RefundStatus, ProviderError> {
    dispatch!(providers, kind, |client| client.check_refund(provider_ref))
}

/// A provider that could not answer a question (where a deposit, transfer or refund stands)
/// as the job's outcome: ask again later, honouring the provider's Retry-After. Every error
/// class is retried, `Permanent` and `InDoubt` included, on purpose: a failed question says
/// nothing about the money, so no money decision may follow from it; the job's attempts run
/// out into the dead letters, where an operator sees it. Initiating calls handle `Permanent`
/// (a refusal to act) themselves before this.
pub fn ask_again_later(error: ProviderError) -> crate::queue::JobError {
    match error {
        ProviderError::Retryable { retry_after, .. } => {
            crate::queue::JobError::Retry(anyhow::anyhow!("{error}"), retry_after)
        }
        other => crate::queue::JobError::Retry(anyhow::anyhow!("{other}"), None),
    }
}

/// Finds malipo's Paystack refund `our_reference` whose initiation answer (and so its id) was
/// lost, by its transaction.
pub async fn find_paystack_refund(
    providers: &Providers,
    deposit_ref: &str,
    our_reference: &str,
) -> Result<RefundStatus, ProviderError> {
    let Some(client) = providers.paystack() else {
        return Err(disabled(ProviderKind::Paystack));
    };
    client.find_refund(deposit_ref, our_reference).await
}
