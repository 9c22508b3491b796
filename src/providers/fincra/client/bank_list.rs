//! `GET /core/banks?country=NG&currency=NGN&paymentDestination=bank_account`: the Nigerian
//! banks Fincra pays to, for refreshing malipo's list (`ops::fincra_banks`).

use reqwest::Method;

use super::{Answer, FincraClient, describe};
use crate::providers::{
    ProviderError,
    fincra::wire::BankEntry,
    http::{Effect, status_error},
};

impl FincraClient {
    /// The banks Fincra lists for NGN `bank_account` payouts, as `(code, name)`; entries it
    /// cannot read are skipped, and an empty list is an error (never a reason to forget banks).
    #[tracing::instrument(skip_all, fields(provider = "fincra"))]
    pub async fn list_banks(&self) -> Result<Vec<(String, String)>, ProviderError> {
        let effect = Effect::Repeatable;
        let call = self.request(Method::GET, "/core/banks").query(&[
            ("country", "NG"),
            ("currency", "NGN"),
            ("paymentDestination", "bank_account"),
        ]);
        match self.call::<Vec<BankEntry>>(call, effect).await? {
            Answer::Data(entries) => {
                let banks: Vec<_> = entries.into_iter().filter_map(BankEntry::usable).collect();
                if banks.is_empty() {
                    return Err(ProviderError::retryable(
                        "Fincra listed no usable bank; the list is kept as it was",
                    ));
                }
                Ok(banks)
            }
            Answer::Refused(refusal) => Err(status_error(
                refusal.status,
                &refusal.headers,
                effect,
                &describe(&refusal),
            )),
        }
    }
}
