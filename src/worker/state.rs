//! `WorkerState`: what every handler reaches — the database, the providers, and where
//! commission is paid out.

use std::sync::Arc;

use anyhow::Context;
use sqlx::PgPool;

use crate::{
    config::ReconcileSettings,
    domain::{Currency, Msisdn, PayoutDestination},
    escrow::release::CommissionDestinations,
    providers::{Providers, mpesa::PgTokenStore},
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
}

impl WorkerState {
    /// From explicit parts (tests, the sandbox).
    pub fn new(pool: PgPool, providers: Providers, commission: CommissionDestinations) -> Self {
        Self {
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

/// Reads `MALIPO_COMMISSION_PAYOUT_<CURRENCY>` = `mpesa:<msisdn>`, `paystack:<recipient_code>`
/// or a Fincra destination (`fincra:bank:<code>:<account>:<name>`, `fincra:mpesa:<msisdn>`).
pub fn commission_from(
    lookup: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<CommissionDestinations> {
    let mut destinations = CommissionDestinations::new();
    for currency in Currency::ALL {
        let name = format!("MALIPO_COMMISSION_PAYOUT_{currency}");
        let Some(value) = lookup(&name).filter(|v| !v.trim().is_empty()) else {
            continue;
        };
        let destination = match value.trim().split_once(':') {
            Some(("mpesa", msisdn)) => PayoutDestination::Mpesa {
                msisdn: Msisdn::try_from(msisdn.to_owned())
                    .map_err(|error| anyhow::anyhow!("{name}: {error}"))?,
            },
            Some(("paystack", code)) if code.starts_with("RCP_") => PayoutDestination::Paystack {
                recipient_code: code.to_owned(),
            },
            Some(("fincra", rest)) => {
                let destination = crate::domain::fincra_destination::from_setting(rest)
                    .and_then(|d| {
                        crate::domain::fincra_destination::pays_out(&d, currency).map(|()| d)
                    })
                    .map_err(|error| anyhow::anyhow!("{name}: {error}"))?;
                PayoutDestination::Fincra(destination)
            }
            _ => anyhow::bail!(
                "{name}={value:?} is invalid; expected mpesa:<msisdn>, paystack:<RCP_ recipient code>, fincra:bank:<bank code>:<account number>:<account name> or fincra:mpesa:<msisdn>"
            ),
        };
        destinations.insert(currency, destination);
    }
    Ok(destinations)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commission_destinations_parse_and_name_bad_variables() {
        let parsed = commission_from(|name| {
            (name == "MALIPO_COMMISSION_PAYOUT_KES").then(|| "mpesa:254700000000".to_owned())
        })
        .expect("valid");
        assert!(matches!(
            parsed.get(&Currency::Kes),
            Some(PayoutDestination::Mpesa { .. })
        ));
        let error = commission_from(|name| {
            (name == "MALIPO_COMMISSION_PAYOUT_NGN").then(|| "bank:123".to_owned())
        })
        .expect_err("invalid");
        assert!(error.to_string().contains("MALIPO_COMMISSION_PAYOUT_NGN"));
        let fincra = commission_from(|name| {
            (name == "MALIPO_COMMISSION_PAYOUT_NGN")
                .then(|| "fincra:bank:058:0124775489:Platform Ltd".to_owned())
        })
        .expect("valid");
        assert!(matches!(
            fincra.get(&Currency::Ngn),
            Some(PayoutDestination::Fincra(_))
        ));
        // A bank account receives NGN only.
        assert!(
            commission_from(|name| {
                (name == "MALIPO_COMMISSION_PAYOUT_KES")
                    .then(|| "fincra:bank:058:0124775489:Platform Ltd".to_owned())
            })
            .is_err()
        );
    }
}
