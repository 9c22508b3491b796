//! Splitting a held amount into the payee's share and the platform's commission.
//!
//! Rule: commission = `amount × bps / 10 000`, rounded half away from zero to the payout's
//! smallest unit (the currency's minor unit, or whole shillings when a share leaves through
//! M-Pesa B2C, which pays whole KES only), plus the optional fixed fee (exact: intents take
//! only whole-shilling KES fees), capped at the amount;
//! the payee gets exactly the rest. So payee share + commission = held amount, always, with no
//! rounding residue anywhere.

use rust_decimal::{Decimal, RoundingStrategy};

use super::{Money, MoneyError};

/// The two shares of a released intent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split {
    /// What the payee receives.
    pub payee: Money,
    /// What the platform keeps.
    pub commission: Money,
}

/// Splits `held` by `commission_bps` (0–10 000) plus `fixed_fee` (same currency), rounding the
/// commission to the currency's minor unit.
pub fn split(
    held: Money,
    commission_bps: i32,
    fixed_fee: Option<Money>,
) -> Result<Split, MoneyError> {
    split_to(
        held,
        commission_bps,
        fixed_fee,
        held.currency().minor_units(),
    )
}

/// Like [`split`], rounding the commission to `decimal_places` (0 when the shares are paid in
/// whole units). With a whole `held` amount both shares are then whole too.
pub fn split_to(
    held: Money,
    commission_bps: i32,
    fixed_fee: Option<Money>,
    decimal_places: u32,
) -> Result<Split, MoneyError> {
    let currency = held.currency();
    let bps = Decimal::from(commission_bps.clamp(0, 10_000));
    let places = decimal_places.min(currency.minor_units());
    let proportional = (held.amount() * bps / Decimal::from(10_000))
        .round_dp_with_strategy(places, RoundingStrategy::MidpointAwayFromZero);
    let mut commission = Money::new(proportional, currency)?;
    if let Some(fee) = fixed_fee {
        commission = commission.checked_add(fee)?;
    }
    if commission.amount() > held.amount() {
        commission = held;
    }
    let payee = held.checked_sub(commission)?;
    Ok(Split { payee, commission })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::domain::Currency;

    #[test]
    fn ten_percent_of_1500_kes() {
        let split = split(Money::from_minor(150_000, Currency::Kes), 1_000, None).expect("split");
        assert_eq!(split.commission, Money::from_minor(15_000, Currency::Kes));
        assert_eq!(split.payee, Money::from_minor(135_000, Currency::Kes));
    }

    #[test]
    fn rounding_is_half_away_from_zero_and_the_fee_is_capped() {
        // 2.5% of 0.10 = 0.0025 → 0.00; 2.5% of 0.20 = 0.005 → 0.01.
        assert_eq!(
            split(Money::from_minor(20, Currency::Ngn), 250, None)
                .expect("split")
                .commission,
            Money::from_minor(1, Currency::Ngn)
        );
        let capped = split(
            Money::from_minor(50, Currency::Ngn),
            100,
            Some(Money::from_minor(100, Currency::Ngn)),
        )
        .expect("split");
        assert_eq!(
            (capped.commission, capped.payee),
            (
                Money::from_minor(50, Currency::Ngn),
                Money::zero(Currency::Ngn)
            )
        );
    }

    #[test]
    fn a_fixed_fee_is_added_exactly_and_must_share_the_currency() {
        let fee = Some(Money::from_minor(1_050, Currency::Ngn));
        let split_ngn = split(Money::from_minor(100_000, Currency::Ngn), 100, fee).expect("split");
        // 1% of 1 000.00 = 10.00, plus 10.50.
        assert_eq!(
            (split_ngn.commission, split_ngn.payee),
            (
                Money::from_minor(2_050, Currency::Ngn),
                Money::from_minor(97_950, Currency::Ngn)
            )
        );
        assert!(split(Money::from_minor(100_000, Currency::Kes), 100, fee).is_err());
    }

    #[test]
    fn whole_unit_splits_stay_whole() {
        let split =
            split_to(Money::from_minor(10_100, Currency::Kes), 1_000, None, 0).expect("split");
        assert_eq!(
            (split.commission, split.payee),
            (
                Money::from_minor(1_000, Currency::Kes),
                Money::from_minor(9_100, Currency::Kes)
            )
        );
    }

    proptest! {
        #[test]
        fn whole_amounts_split_into_whole_shares(whole in 1i64..1_000_000_000, bps in 0i32..=10_000, fee in proptest::option::of(0i64..100_000)) {
            let held = Money::from_minor(whole * 100, Currency::Kes);
            let fee = fee.map(|shillings| Money::from_minor(shillings * 100, Currency::Kes));
            let split = split_to(held, bps, fee, 0).expect("split");
            prop_assert!(split.payee.is_whole() && split.commission.is_whole());
            prop_assert_eq!(split.payee.checked_add(split.commission).expect("same currency"), held);
        }

        #[test]
        fn shares_always_sum_to_the_held_amount(minor in 1i64..10_000_000_000_000, bps in 0i32..=10_000, fee in proptest::option::of(0i64..100_000), sat in any::<bool>()) {
            let currency = if sat { Currency::Sat } else { Currency::Kes };
            let held = Money::from_minor(minor, currency);
            let split = split(held, bps, fee.map(|f| Money::from_minor(f, currency))).expect("split");
            prop_assert_eq!(split.payee.checked_add(split.commission).expect("same currency"), held);
            prop_assert!(split.payee.amount() >= Decimal::ZERO && split.commission.amount() >= Decimal::ZERO);
            prop_assert!(split.commission.minor_units().is_some());
        }
    }
}
