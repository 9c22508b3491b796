//! Releasing a held intent in parts (milestones): each part's commission is the difference of
//! the cumulative commission before and after it, so whatever the parts, their commissions and
//! payee shares sum exactly to what one whole release gives ([`commission::split_to`]) — no
//! rounding drift, and the fixed fee is charged once in total (spread over the parts in
//! proportion, so no part's commission exceeds the part).
//!
//! Cumulative commission after releasing `r` of `held`: the whole release's commission when
//! `r = held`, otherwise `commission × r / held` rounded toward zero to the payout's unit.

use rust_decimal::{Decimal, RoundingStrategy};

use super::{Money, MoneyError, commission};

/// Why a part cannot be released.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PartError {
    /// Nothing, or less than nothing.
    #[error("a release must be more than zero")]
    NotPositive,
    /// More than what is still held.
    #[error("only {remaining} is still held")]
    MoreThanHeld {
        /// What is still held.
        remaining: Money,
    },
    /// Money arithmetic failed (another currency).
    #[error(transparent)]
    Money(#[from] MoneyError),
}

/// The terms of the whole release a part belongs to.
#[derive(Debug, Clone, Copy)]
pub struct ReleaseTerms {
    /// What was paid into escrow.
    pub held: Money,
    /// Commission in basis points.
    pub commission_bps: i32,
    /// The fixed fee, charged once over all parts.
    pub fixed_fee: Option<Money>,
    /// Decimal places of the payout's unit (0 when a share leaves through M-Pesa).
    pub places: u32,
}

impl ReleaseTerms {
    /// The split of the whole release.
    pub fn whole(&self) -> Result<commission::Split, MoneyError> {
        commission::split_to(self.held, self.commission_bps, self.fixed_fee, self.places)
    }

    /// The split of `part`, released after `released_before` was.
    pub fn part(
        &self,
        released_before: Money,
        part: Money,
    ) -> Result<commission::Split, PartError> {
        if !part.is_positive() {
            return Err(PartError::NotPositive);
        }
        let remaining = self.held.checked_sub(released_before)?;
        if part.amount() > remaining.amount() {
            return Err(PartError::MoreThanHeld { remaining });
        }
        let whole = self.whole()?;
        let after = released_before.checked_add(part)?;
        let commission = self
            .cumulative(whole.commission, after)?
            .checked_sub(self.cumulative(whole.commission, released_before)?)?;
        let payee = part.checked_sub(commission)?;
        Ok(commission::Split { payee, commission })
    }

    /// Whether `part` is a whole number of the payout's unit (whole shillings for M-Pesa).
    pub fn fits_unit(&self, part: Money) -> bool {
        part.amount().round_dp(self.places) == part.amount()
    }

    fn cumulative(&self, whole: Money, released: Money) -> Result<Money, MoneyError> {
        if released == self.held {
            return Ok(whole);
        }
        let share = (whole.amount() * released.amount() / self.held.amount())
            .round_dp_with_strategy(self.places, RoundingStrategy::ToZero);
        Money::new(share.max(Decimal::ZERO), whole.currency())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::domain::Currency;

    fn terms(held: i64, bps: i32, fee: Option<i64>, currency: Currency) -> ReleaseTerms {
        ReleaseTerms {
            held: Money::from_minor(held, currency),
            commission_bps: bps,
            fixed_fee: fee.map(|fee| Money::from_minor(fee, currency)),
            places: currency.minor_units(),
        }
    }

    #[test]
    fn two_halves_of_1000_ngn_at_2_5_percent_plus_a_fee() {
        let terms = terms(100_000, 250, Some(1_000), Currency::Ngn);
        let zero = Money::zero(Currency::Ngn);
        let first = terms
            .part(zero, Money::from_minor(40_000, Currency::Ngn))
            .expect("first");
        let second = terms
            .part(
                Money::from_minor(40_000, Currency::Ngn),
                Money::from_minor(60_000, Currency::Ngn),
            )
            .expect("second");
        // Whole: 2.5% of 1 000.00 = 25.00 + fee 10.00 = 35.00; 40% of it = 14.00, the rest 21.00.
        assert_eq!(first.commission, Money::from_minor(1_400, Currency::Ngn));
        assert_eq!(second.commission, Money::from_minor(2_100, Currency::Ngn));
        assert_eq!(first.payee, Money::from_minor(38_600, Currency::Ngn));
    }

    #[test]
    fn a_part_beyond_what_is_held_or_finer_than_the_unit_is_refused() {
        let kes = terms(100_000, 1_000, None, Currency::Kes);
        let before = Money::from_minor(60_000, Currency::Kes);
        assert_eq!(
            kes.part(before, Money::from_minor(40_001, Currency::Kes)),
            Err(PartError::MoreThanHeld {
                remaining: Money::from_minor(40_000, Currency::Kes)
            })
        );
        assert_eq!(
            kes.part(before, Money::zero(Currency::Kes)),
            Err(PartError::NotPositive)
        );
    }

    fn currency() -> impl Strategy<Value = Currency> {
        prop_oneof![
            Just(Currency::Kes),
            Just(Currency::Ngn),
            Just(Currency::Usd),
            Just(Currency::Sat)
        ]
    }

    proptest! {
        /// Any split of any held amount into parts: shares sum exactly to the whole release's,
        /// no share is negative, and each part's shares sum to the part.
        #[test]
        fn parts_sum_exactly_to_the_whole_release(
            held_units in 1i64..5_000_000,
            bps in 0i32..=10_000,
            fee_units in proptest::option::of(0i64..50_000),
            cuts in proptest::collection::vec(1u32..1_000, 1..8),
            currency in currency(),
            whole_units in any::<bool>(),
        ) {
            let places = if whole_units { 0 } else { currency.minor_units() };
            let unit = 10i64.pow(currency.minor_units() - places);
            let held = Money::from_minor(held_units * unit, currency);
            let terms = ReleaseTerms {
                held,
                commission_bps: bps,
                fixed_fee: fee_units.map(|fee| Money::from_minor(fee * unit, currency)),
                places,
            };
            // Cut the held amount (in payout units) at proportional points; the last part
            // takes what is left.
            let total: u64 = cuts.iter().map(|c| u64::from(*c)).sum();
            let mut parts = Vec::new();
            let mut given = 0i64;
            let mut running = 0u64;
            for (i, cut) in cuts.iter().enumerate() {
                running += u64::from(*cut);
                let upto = if i + 1 == cuts.len() {
                    held_units
                } else {
                    i64::try_from(u128::from(running) * u128::try_from(held_units).unwrap_or(0) / u128::from(total)).unwrap_or(0)
                };
                if upto > given {
                    parts.push(upto - given);
                    given = upto;
                }
            }
            let whole = terms.whole().expect("whole");
            let mut before = Money::zero(currency);
            let (mut payee, mut commission) = (Money::zero(currency), Money::zero(currency));
            for units in parts {
                let part = Money::from_minor(units * unit, currency);
                let split = terms.part(before, part).expect("part");
                prop_assert!(!split.payee.amount().is_sign_negative());
                prop_assert!(!split.commission.amount().is_sign_negative());
                prop_assert_eq!(split.payee.checked_add(split.commission).expect("sum"), part);
                payee = payee.checked_add(split.payee).expect("sum");
                commission = commission.checked_add(split.commission).expect("sum");
                before = before.checked_add(part).expect("sum");
            }
            prop_assert_eq!(before, held);
            prop_assert_eq!(payee, whole.payee);
            prop_assert_eq!(commission, whole.commission);
        }
    }
}
