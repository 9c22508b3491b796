//! Where commission is paid out, per currency: `MALIPO_COMMISSION_PAYOUT_<CURRENCY>`.

use crate::{
    domain::{Currency, Msisdn, PayoutDestination},
    escrow::release::CommissionDestinations,
};

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
        let destination = destination_from_text(&value)
            .and_then(|destination| match &destination {
                PayoutDestination::Fincra(fincra) => {
                    crate::domain::fincra_destination::pays_out(fincra, currency)
                        .map(|()| destination)
                        .map_err(|error| error.to_string())
                }
                _ => Ok(destination),
            })
            .map_err(|error| anyhow::anyhow!("{name}={value:?} is invalid: {error}"))?;
        destinations.insert(currency, destination);
    }
    Ok(destinations)
}

/// A destination written on one line, as the commission settings and `malipo payouts
/// resend-commission --to` take it: `mpesa:<msisdn>`, `paystack:<RCP_ recipient code>`,
/// `fincra:bank:<code>:<account>:<name>` or `fincra:mpesa:<msisdn>`. Whether it can pay a
/// currency is the caller's check.
pub fn destination_from_text(text: &str) -> Result<PayoutDestination, String> {
    match text.trim().split_once(':') {
        Some(("mpesa", msisdn)) => Ok(PayoutDestination::Mpesa {
            msisdn: Msisdn::try_from(msisdn.to_owned()).map_err(|error| error.to_string())?,
        }),
        Some(("paystack", code)) if code.starts_with("RCP_") => Ok(PayoutDestination::Paystack {
            recipient_code: code.to_owned(),
        }),
        Some(("fincra", rest)) => crate::domain::fincra_destination::from_setting(rest)
            .map(PayoutDestination::Fincra)
            .map_err(|error| error.to_string()),
        _ => Err("expected mpesa:<msisdn>, paystack:<RCP_ recipient code>, fincra:bank:<bank code>:<account number>:<account name> or fincra:mpesa:<msisdn>".to_owned()),
    }
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
