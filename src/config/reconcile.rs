//! How often reconciliation runs and when an unanswered payment counts as overdue — read with
//! the rest of [`super::Config`] at startup, so a typo stops the process instead of being
//! noticed (and replaced by a default) by the first reconciliation job.

use std::time::Duration;

use super::{parsed_duration, positive_duration};

/// Reconciliation periods and thresholds.
#[derive(Debug, Clone)]
pub struct ReconcileSettings {
    /// `MALIPO_MPESA_RECONCILE_EVERY` (10m): one M-Pesa reconciliation per period.
    pub mpesa_every: Duration,
    /// `MALIPO_MPESA_PENDING_AFTER` (3m): an M-Pesa payment still unanswered after this is
    /// asked about.
    pub mpesa_pending_after: Duration,
    /// `MALIPO_FINCRA_RECONCILE_EVERY` (10m): one Fincra reconciliation per period.
    pub fincra_every: Duration,
    /// `MALIPO_FINCRA_PENDING_AFTER` (5m): a Fincra payout still processing after this is
    /// asked about.
    pub fincra_pending_after: Duration,
    /// `MALIPO_FINCRA_RECHECK_WINDOW` (3d): how long a concluded Fincra payout keeps being
    /// asked about (reversals are undocumented, so the window is a guess to tune).
    pub fincra_recheck_window: Duration,
}

impl Default for ReconcileSettings {
    fn default() -> Self {
        Self {
            mpesa_every: Duration::from_secs(600),
            mpesa_pending_after: Duration::from_secs(180),
            fincra_every: Duration::from_secs(600),
            fincra_pending_after: Duration::from_secs(300),
            fincra_recheck_window: Duration::from_secs(3 * 24 * 3600),
        }
    }
}

impl ReconcileSettings {
    /// Through `get` (blank values already count as unset).
    pub(super) fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let defaults = Self::default();
        // A period of zero would spin the schedule; thresholds of zero are allowed.
        let period = |name: &str, default: Duration| match get(name) {
            Some(text) => positive_duration(name, &text),
            None => Ok(default),
        };
        let threshold =
            |name: &str, default: Duration| parsed_duration(name, get(name).as_deref(), default);
        Ok(Self {
            mpesa_every: period("MALIPO_MPESA_RECONCILE_EVERY", defaults.mpesa_every)?,
            mpesa_pending_after: threshold(
                "MALIPO_MPESA_PENDING_AFTER",
                defaults.mpesa_pending_after,
            )?,
            fincra_every: period("MALIPO_FINCRA_RECONCILE_EVERY", defaults.fincra_every)?,
            fincra_pending_after: threshold(
                "MALIPO_FINCRA_PENDING_AFTER",
                defaults.fincra_pending_after,
            )?,
            fincra_recheck_window: threshold(
                "MALIPO_FINCRA_RECHECK_WINDOW",
                defaults.fincra_recheck_window,
            )?,
        })
    }
}
