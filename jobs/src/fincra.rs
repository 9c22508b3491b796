//! The Fincra reconciliation job (issue #19).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{Job, RetryPolicy, queues};

/// Re-queries Fincra payouts: those in flight past the cutoff, and those concluded inside the
/// re-check window (Fincra documents no reversal event, so a success is asked about again).
///
/// Idempotency: one run per window (the dedupe key is the window start); each correction is a
/// guarded payout transition or a discrepancy deduped on its key, so a second run over the same
/// window changes nothing.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReconcileFincra {
    /// Start of the window, RFC 3339: the periodic run's slot (its dedupe key).
    pub window_start: String,
    /// Re-check payouts concluded since this time (RFC 3339) instead of the configured window.
    #[serde(default)]
    pub since: Option<String>,
    /// Treat payouts in flight for longer than this many seconds as needing a query.
    #[serde(default)]
    pub pending_after_secs: Option<u64>,
}

impl Job for ReconcileFincra {
    const KIND: &'static str = "reconcile_fincra";
    const QUEUE: &'static str = queues::RECONCILE;
    const POLICY: RetryPolicy =
        RetryPolicy::new(5, Duration::from_secs(30), Duration::from_secs(600));

    fn dedupe_key(&self) -> Option<String> {
        Some(format!("{}:{}", Self::KIND, self.window_start))
    }
}

#[cfg(test)]
mod snapshots {
    use super::*;

    #[test]
    fn the_wire_shape_is_stable() {
        let job = ReconcileFincra {
            window_start: "2026-01-01T00:00:00+00:00".to_owned(),
            since: None,
            pending_after_secs: Some(300),
        };
        assert_eq!(
            serde_json::to_string(&job).expect("serializes"),
            r#"{"window_start":"2026-01-01T00:00:00+00:00","since":null,"pending_after_secs":300}"#
        );
        let old: ReconcileFincra =
            serde_json::from_str(r#"{"window_start":"w"}"#).expect("decodes");
        assert_eq!(old.pending_after_secs, None);
    }
}
