//! `WorkerState`: what every handler reaches — the database, the providers, and where
//! commission is paid out.

use std::sync::Arc;

use anyhow::Context;
use sqlx::PgPool;

use crate::{
    domain::{Currency, Msisdn, PayoutDestination},
    escrow::release::CommissionDestinations,
    providers::{Providers, ProvidersConfig, mpesa::PgTokenStore},
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
}

impl WorkerState {
    /// From explicit parts (tests, the sandbox).
    pub fn new(pool: PgPool, providers: Providers, commission: CommissionDestinations) -> Self {
        Self {
            pool,
            providers: Arc::new(providers),
            commission: Arc::new(commission),
        }
    }

    /// From the environment: provider settings (see `providers::config`) and
    /// `MALIPO_COMMISSION_PAYOUT_<CURRENCY>`. Daraja tokens are shared through the database.
    pub async fn from_env(pool: PgPool) -> anyhow::Result<Self> {
        let config = ProvidersConfig::from_env().context("invalid provider configuration")?;
        let providers = Providers::from_config(&config, Arc::new(PgTokenStore::new(pool.clone())))
            .context("failed to build provider clients")?;
        let commission = commission_from(|name| std::env::var(name).ok())?;
        Ok(Self::new(pool, providers, commission))
    }
}

/// Reads `MALIPO_COMMISSION_PAYOUT_<CURRENCY>` = `mpesa:<msisdn>` or `paystack:<recipient_code>`.
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
            _ => anyhow::bail!(
                "{name}={value:?} is invalid; expected mpesa:<msisdn> or paystack:<RCP_ recipient code>"
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
    }
}
