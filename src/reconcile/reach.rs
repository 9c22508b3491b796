//! What a reconciliation run reaches in the process running it. `worker::WorkerState` is the
//! implementation: turning a payout into its provider's status request is the worker's
//! business, so reconciliation asks for it through this trait instead of reaching up into
//! `worker` (which runs reconciliation as jobs).

use std::future::Future;

use sqlx::PgPool;

use crate::{
    db::payouts::PayoutRecord,
    providers::{ProviderError, Providers, TransferStatus},
};

/// The database, the provider clients, and a payout's provider's answer.
pub trait Reach: Sync {
    /// The database.
    fn pool(&self) -> &PgPool;

    /// Enabled provider clients.
    fn providers(&self) -> &Providers;

    /// Where a transfer payout stands, by its provider's own query.
    fn check_transfer(
        &self,
        payout: &PayoutRecord,
    ) -> impl Future<Output = Result<TransferStatus, ProviderError>> + Send;
}
