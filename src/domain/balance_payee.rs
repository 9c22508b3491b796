//! A payee whose share settles into the client's own balance (`payee.payout: {"provider":
//! "balance"}`): the platform pays its sellers later, in batches, through `POST /v1/payouts`.

use serde_json::{Map, Value};

use super::{Currency, ProviderKind};

/// Checks the shape of `payee.payout` naming the balance: nothing but `provider` (a destination
/// field here means the client meant a provider payout, and guessing would strand the money).
pub fn parse(payout: &Map<String, Value>) -> Result<(), (&'static str, String)> {
    match payout.keys().find(|key| key.as_str() != "provider") {
        None => Ok(()),
        Some(extra) => Err((
            "payee.payout",
            format!(
                "a `balance` payout takes no destination fields (got `{extra}`): the share \
                 settles into your balance, paid out later through POST /v1/payouts"
            ),
        )),
    }
}

/// Whether a balance in `currency` can hold a payee's share: only when some provider can later
/// pay it out of the balance (a balance nobody can withdraw would trap the money).
pub fn settles(currency: Currency) -> Result<(), String> {
    let withdrawable = ProviderKind::ALL
        .into_iter()
        .any(|provider| provider.carries(currency));
    if withdrawable {
        Ok(())
    } else {
        Err(format!(
            "no provider pays {currency} out of a balance; a `balance` payee cannot be used"
        ))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn only_the_provider_field_is_taken() {
        let ok = json!({"provider": "balance"});
        assert_eq!(parse(ok.as_object().expect("object")), Ok(()));
        let extra = json!({"provider": "balance", "msisdn": "254700000001"});
        let (field, message) = parse(extra.as_object().expect("object")).expect_err("refused");
        assert_eq!(field, "payee.payout");
        assert!(message.contains("`msisdn`"), "{message}");
    }

    #[test]
    fn every_currency_malipo_takes_can_be_paid_out_of_a_balance() {
        for currency in Currency::ALL {
            assert_eq!(settles(currency), Ok(()), "{currency}");
        }
    }
}
