//! The fake Fincra as a test drives it: URLs, keys, the wallet, scripted outcomes.

use rust_decimal::Decimal;

use super::FincraPayoutOutcome;
use crate::FakeProviders;
use crate::shared::lock;

impl FakeProviders {
    /// Fincra's base URL, e.g. `http://127.0.0.1:P/fincra` (real: `https://sandboxapi.fincra.com`).
    pub fn fincra_base_url(&self) -> String {
        format!("{}/fincra", self.origin())
    }

    /// The secret key accepted as `api-key`.
    pub fn fincra_secret_key(&self) -> &str {
        &self.fincra.settings.secret_key
    }

    /// The public key checkout calls must carry as `x-pub-key`.
    pub fn fincra_public_key(&self) -> &str {
        &self.fincra.settings.public_key
    }

    /// The buyer pays the Fincra checkout opened under `merchant_reference` (malipo's deposit
    /// reference, the `reference` of the intent's `next_action`): `paid` overrides the amount
    /// paid (a wrong amount), `succeed: false` makes the payment fail. A payment sends
    /// `charge.successful` under the fault knobs.
    pub fn fincra_pay_checkout(
        &self,
        merchant_reference: &str,
        paid: Option<Decimal>,
        succeed: bool,
    ) -> anyhow::Result<()> {
        self.fincra.pay_checkout(merchant_reference, paid, succeed)
    }

    /// Where a checkout stands at Fincra (`pending`, `success`, `failed`), if it exists.
    pub fn fincra_checkout_status(&self, merchant_reference: &str) -> Option<&'static str> {
        self.fincra.checkout_status(merchant_reference)
    }

    /// Fincra lists (and resolves accounts at) one more bank from now on.
    pub fn fincra_list_bank(&self, code: &str, name: &str) {
        lock(&self.fincra.extra_banks).push((code.to_owned(), name.to_owned()));
    }

    /// The business id payouts must name.
    pub fn fincra_business_id(&self) -> &str {
        &self.fincra.settings.business_id
    }

    /// The key webhooks are signed with.
    pub fn fincra_webhook_secret(&self) -> &str {
        &self.fincra.settings.webhook_secret
    }

    /// Where Fincra webhooks go from now on (`None`: nowhere).
    pub fn set_fincra_webhook_url(&self, url: Option<String>) {
        *lock(&self.fincra.webhook_url) = url;
    }

    /// Sets the wallet's balance in `currency` (`None`: unlimited). A payout above the balance
    /// is refused with `NO_ENOUGH_MONEY_IN_WALLET`.
    pub fn fincra_set_balance(&self, currency: &str, balance: Option<Decimal>) {
        let mut store = self.fincra.store();
        match balance {
            Some(balance) => store.balances.insert(currency.to_owned(), balance),
            None => store.balances.remove(currency),
        };
    }

    /// Queues the outcome of the next payout.
    pub fn fincra_script_next_payout(&self, outcome: FincraPayoutOutcome) {
        self.fincra.store().script.push(outcome);
    }

    /// The next `n` queries by customer reference answer 404 even for payouts that exist, as a
    /// Fincra lagging behind its own initiation would.
    pub fn fincra_lag_next_queries(&self, n: u32) {
        self.fincra
            .query_lag
            .store(n, std::sync::atomic::Ordering::SeqCst);
    }

    /// Reverses a successful payout silently (no webhook: Fincra documents no reversal event);
    /// its query then answers `failed`. Whether there was a successful payout to reverse.
    pub fn fincra_reverse_payout(&self, customer_reference: &str) -> bool {
        self.fincra.reverse(customer_reference)
    }

    /// Where a payout stands at Fincra (`processing`, `successful`, `failed`), if it exists.
    pub fn fincra_payout_status(&self, customer_reference: &str) -> Option<&'static str> {
        self.fincra.status_of(customer_reference)
    }
}
