//! `WorkerState`: what every handler reaches — the database, the providers, and where
//! commission is paid out.

use std::sync::Arc;

use anyhow::Context;
use sqlx::PgPool;

use crate::{
    config::ReconcileSettings,
    db::{mpesa_token_store::PgTokenStore, payouts::PayoutRecord},
    escrow::release::CommissionDestinations,
    providers::{ProviderError, Providers, TransferStatus},
    reconcile::Reach,
    settings::Settings,
};

/// Shared by every handler of a process.
#[derive(Clone)]
pub struct WorkerState {
    /// The database.
    pub pool: PgPool,
    /// Enabled provider clients.
    pub providers: Arc<Providers>,
    /// Per-currency commission payout destinations.
    pub commission: Arc<CommissionDestinations>,
    /// Sends client notifications (`deliver_event`); `None` when its HTTP client could not be
    /// built, and deliveries then wait.
    pub notifier: Option<Arc<crate::notify::Notifier>>,
    /// Reconciliation periods and thresholds.
    pub reconcile: ReconcileSettings,
    /// Wakes the workers (of every process) for jobs a handler committed without notifying
    /// from inside its transaction (`queue::bell`).
    pub bell: crate::queue::bell::JobBell,
}

impl WorkerState {
    /// From explicit parts (tests, the sandbox).
    pub fn new(pool: PgPool, providers: Providers, commission: CommissionDestinations) -> Self {
        Self {
            bell: crate::queue::bell::JobBell::new(pool.clone()),
            pool,
            providers: Arc::new(providers),
            commission: Arc::new(commission),
            notifier: crate::notify::Notifier::new(crate::notify::NotifySettings::default())
                .ok()
                .map(Arc::new),
            reconcile: ReconcileSettings::default(),
        }
    }

    /// Sends notifications with `notifier` (its settings: key, address policy, schedule).
    #[must_use]
    pub fn with_notifier(mut self, notifier: crate::notify::Notifier) -> Self {
        self.notifier = Some(Arc::new(notifier));
        self
    }

    /// From the process's [`Settings`]: provider clients (Daraja tokens shared through the
    /// database), commission destinations, the notifier and the reconciliation settings.
    pub fn build(pool: PgPool, settings: &Settings) -> anyhow::Result<Self> {
        let providers = Providers::from_config(
            &settings.providers,
            Arc::new(PgTokenStore::new(pool.clone())),
        )
        .context("failed to build provider clients")?;
        let notifier = crate::notify::Notifier::new(settings.notify.clone())?;
        let mut state =
            Self::new(pool, providers, settings.commission.clone()).with_notifier(notifier);
        state.reconcile = settings.app.reconcile.clone();
        Ok(state)
    }
}

impl Reach for WorkerState {
    fn pool(&self) -> &PgPool {
        &self.pool
    }

    fn providers(&self) -> &Providers {
        &self.providers
    }

    async fn check_transfer(&self, payout: &PayoutRecord) -> Result<TransferStatus, ProviderError> {
        super::payout::check_transfer(self, payout).await
    }
}
