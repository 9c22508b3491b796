//! How the fake Fincra starts: its keys, the wallet, outcome weights and timings.

use std::collections::HashMap;
use std::time::Duration;

use rust_decimal::Decimal;

use super::payout::FincraPayoutOutcome;

/// Fincra (PROVIDERS.md §4).
#[derive(Debug, Clone)]
pub struct FincraSettings {
    /// The secret key accepted as `api-key`.
    pub secret_key: String,
    /// The public key checkout calls must carry as `x-pub-key`.
    pub public_key: String,
    /// The business id (24 hex characters) payouts must name.
    pub business_id: String,
    /// The key webhooks are signed with.
    pub webhook_secret: String,
    /// Where webhooks go; settable later with `FakeProviders::set_fincra_webhook_url`.
    pub webhook_url: Option<String>,
    /// Opening wallet balance per currency code (major units); a currency without an entry
    /// is unlimited.
    pub balances: HashMap<String, Decimal>,
    /// Weights of payout outcomes when none is scripted.
    pub outcomes: Vec<(FincraPayoutOutcome, u32)>,
    /// From `processing` to the conclusive status.
    pub settle_delay: Duration,
}

impl Default for FincraSettings {
    fn default() -> Self {
        Self {
            secret_key: "sk_test_fincra_fake".to_owned(),
            public_key: "pk_test_fincra_fake".to_owned(),
            business_id: "5f0e1a2b3c4d5e6f7a8b9c0d".to_owned(),
            webhook_secret: "fincra_webhook_fake".to_owned(),
            webhook_url: None,
            balances: HashMap::new(),
            outcomes: vec![(FincraPayoutOutcome::Successful, 1)],
            settle_delay: Duration::from_millis(200),
        }
    }
}
