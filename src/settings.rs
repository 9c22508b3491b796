//! `Settings`: everything a malipo process is told, read from the environment once at startup
//! and validated there — every error names its variable, and `Debug` never prints a secret.
//! Nothing else reads the environment: jobs, handlers and commands get their part of this.

mod commission;

use anyhow::Context;

pub use commission::{commission_from, destination_from_text};

use crate::{
    config::Config, escrow::release::CommissionDestinations, notify::NotifySettings,
    providers::ProvidersConfig,
};

/// The whole settings tree of one process.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The process: database, HTTP front, queue, limits, reconciliation.
    pub app: Config,
    /// Every provider's credentials and endpoints (a missing one disables that provider).
    pub providers: ProvidersConfig,
    /// Where commission is paid out, per currency (`MALIPO_COMMISSION_PAYOUT_<CURRENCY>`).
    pub commission: CommissionDestinations,
    /// Client notifications: the key sealing endpoint secrets, address policy, schedule.
    pub notify: NotifySettings,
}

impl Settings {
    /// From the process environment: the only place malipo reads it.
    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Through `lookup` (tests and benchmarks pass a closure over a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        Ok(Self {
            app: Config::from_lookup(&lookup)?,
            providers: ProvidersConfig::from_lookup(&lookup)
                .context("invalid provider configuration")?,
            commission: commission_from(&lookup)?,
            notify: NotifySettings::from_lookup(&lookup)
                .context("invalid notification settings")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn debug_output_never_prints_a_secret() {
        let env = HashMap::from([
            ("DATABASE_URL", "postgres://malipo:hunter2-db@db/malipo"),
            ("PAYSTACK_SECRET_KEY", "sk_test_hunter2-paystack"),
            (
                "MALIPO_SECRETS_KEY",
                "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
            ),
        ]);
        let settings = Settings::from_lookup(|name| env.get(name).map(|v| (*v).to_owned()))
            .expect("valid settings");
        let printed = format!("{settings:?}");
        for secret in [
            "hunter2-db",
            "hunter2-paystack",
            "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        ] {
            assert!(!printed.contains(secret), "{secret} printed in {printed}");
        }
        assert!(
            printed.contains("reconcile"),
            "the tree is printed: {printed}"
        );
    }

    #[test]
    fn errors_name_the_variable_wherever_it_belongs() {
        for (name, value) in [
            ("MALIPO_MPESA_RECONCILE_EVERY", "0s"),
            ("MALIPO_FINCRA_RECHECK_WINDOW", "three days"),
            ("MALIPO_COMMISSION_PAYOUT_KES", "bank:1"),
            ("MALIPO_WEBHOOK_ALLOW_PRIVATE", "maybe"),
            ("MALIPO_PROVIDER_TIMEOUT_SECS", "0"),
        ] {
            let error = Settings::from_lookup(|asked| (asked == name).then(|| value.to_owned()))
                .expect_err(name);
            assert!(format!("{error:#}").contains(name), "{name}: {error:#}");
        }
    }
}
