//! The fakes' own book of money: every charge a buyer really paid and every transfer or refund
//! the fakes really performed, with amount, currency, destination, key and outcome. It is the
//! providers' truth, read through the sandbox's API and never through malipo's database, so a
//! test can count the money at the fakes and compare it with what malipo believes.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use rust_decimal::Decimal;

use super::faults::Provider;
use super::shared::lock;

/// Which way the money went, from the merchant's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MoneyDirection {
    /// A buyer paid the merchant.
    In,
    /// The merchant paid someone (a payout or a refund).
    Out,
}

/// What kind of movement, by provider API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MoneyChannel {
    /// A Paystack transaction paid at checkout; key: the transaction reference.
    PaystackCharge,
    /// A paid STK push; key: the `CheckoutRequestID`.
    MpesaStk,
    /// A C2B (Paybill) payment; key: the account number the customer typed (`BillRefNumber`),
    /// id: the `TransID`.
    MpesaC2b,
    /// A paid LNbits invoice; key: the payment hash.
    LnbitsInvoice,
    /// A Paystack transfer; key: the transfer `reference`.
    PaystackTransfer,
    /// A B2C payment; key: the `OriginatorConversationID`.
    MpesaB2c,
    /// An outgoing LNbits payment; key: the bolt11 paid.
    LnbitsPayment,
    /// A Paystack refund; key: the refunded transaction's reference.
    PaystackRefund,
    /// A Fincra payout; key: the `customerReference`.
    FincraPayout,
    /// A paid Fincra checkout; key: the merchant reference (malipo's deposit reference).
    FincraCharge,
}

impl MoneyChannel {
    /// In or out.
    pub fn direction(self) -> MoneyDirection {
        match self {
            MoneyChannel::PaystackCharge
            | MoneyChannel::MpesaStk
            | MoneyChannel::MpesaC2b
            | MoneyChannel::LnbitsInvoice
            | MoneyChannel::FincraCharge => MoneyDirection::In,
            MoneyChannel::PaystackTransfer
            | MoneyChannel::MpesaB2c
            | MoneyChannel::LnbitsPayment
            | MoneyChannel::PaystackRefund
            | MoneyChannel::FincraPayout => MoneyDirection::Out,
        }
    }

    /// The provider behind it.
    pub fn provider(self) -> Provider {
        match self {
            MoneyChannel::PaystackCharge
            | MoneyChannel::PaystackTransfer
            | MoneyChannel::PaystackRefund => Provider::Paystack,
            MoneyChannel::MpesaStk | MoneyChannel::MpesaC2b | MoneyChannel::MpesaB2c => {
                Provider::Mpesa
            }
            MoneyChannel::LnbitsInvoice | MoneyChannel::LnbitsPayment => Provider::Lnbits,
            MoneyChannel::FincraPayout | MoneyChannel::FincraCharge => Provider::Fincra,
        }
    }

    /// A short name for tables, e.g. `"mpesa b2c"`.
    pub fn name(self) -> &'static str {
        match self {
            MoneyChannel::PaystackCharge => "paystack charge",
            MoneyChannel::MpesaStk => "mpesa stk",
            MoneyChannel::MpesaC2b => "mpesa c2b",
            MoneyChannel::LnbitsInvoice => "lnbits invoice",
            MoneyChannel::PaystackTransfer => "paystack transfer",
            MoneyChannel::MpesaB2c => "mpesa b2c",
            MoneyChannel::LnbitsPayment => "lnbits payment",
            MoneyChannel::PaystackRefund => "paystack refund",
            MoneyChannel::FincraPayout => "fincra payout",
            MoneyChannel::FincraCharge => "fincra charge",
        }
    }
}

/// Where a movement stands at the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MoneyOutcome {
    /// Accepted, not concluded yet (a transfer queued, a payment in flight).
    Pending,
    /// The money moved.
    Succeeded,
    /// Nothing moved.
    Failed,
    /// It moved and came back (a reversed transfer).
    Reversed,
}

/// One movement of money at a fake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoneyMovement {
    /// The API it went through.
    pub channel: MoneyChannel,
    /// How malipo finds it: the deposit reference / `CheckoutRequestID` / payment hash / C2B
    /// account number for money in; the payout reference / `OriginatorConversationID` / bolt11 /
    /// refunded transaction's reference for money out.
    pub key: String,
    /// The provider's own id of this movement (transfer code, receipt, refund id), unique.
    pub id: String,
    /// Major units (KES, NGN naira, sats).
    pub amount: Decimal,
    /// `KES`, `NGN`, …, or `SAT`.
    pub currency: String,
    /// Who paid (in) or who was paid (out): MSISDN, recipient code, email, bolt11.
    pub destination: String,
    /// Where it stands.
    pub outcome: MoneyOutcome,
}

impl MoneyMovement {
    /// Whether the money is (still) moved: succeeded and not reversed.
    pub fn moved(&self) -> bool {
        self.outcome == MoneyOutcome::Succeeded
    }
}

/// Totals per provider and currency: `(in, out)` of moved money.
pub type MoneyTotals = BTreeMap<(String, String), (Decimal, Decimal)>;

/// A copy of the fakes' book at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MoneySnapshot {
    /// Every movement, in the order the fakes recorded them.
    pub movements: Vec<MoneyMovement>,
}

impl MoneySnapshot {
    /// Movements one way.
    pub fn direction(&self, direction: MoneyDirection) -> impl Iterator<Item = &MoneyMovement> {
        self.movements
            .iter()
            .filter(move |m| m.channel.direction() == direction)
    }

    /// Money that came in and stayed in: succeeded charges.
    pub fn charges(&self) -> impl Iterator<Item = &MoneyMovement> {
        self.direction(MoneyDirection::In).filter(|m| m.moved())
    }

    /// Every transfer or refund the fakes performed or attempted.
    pub fn transfers(&self) -> impl Iterator<Item = &MoneyMovement> {
        self.direction(MoneyDirection::Out)
    }

    /// Movements under one key, any channel.
    pub fn by_key(&self, key: &str) -> impl Iterator<Item = &MoneyMovement> {
        self.movements.iter().filter(move |m| m.key == key)
    }

    /// Moved money in and out per `(provider, currency)`.
    pub fn totals(&self) -> MoneyTotals {
        let mut totals = MoneyTotals::new();
        for movement in self.movements.iter().filter(|m| m.moved()) {
            let entry = totals
                .entry((
                    movement.channel.provider().name().to_owned(),
                    movement.currency.clone(),
                ))
                .or_default();
            match movement.channel.direction() {
                MoneyDirection::In => entry.0 += movement.amount,
                MoneyDirection::Out => entry.1 += movement.amount,
            }
        }
        totals
    }
}

/// The live book, shared by the three fakes.
#[derive(Debug, Default)]
pub(crate) struct MoneyBook {
    inner: Mutex<Book>,
}

#[derive(Debug, Default)]
struct Book {
    movements: Vec<MoneyMovement>,
    /// `(channel, id)` to the index in `movements`.
    index: HashMap<(MoneyChannel, String), usize>,
}

impl MoneyBook {
    pub(crate) fn snapshot(&self) -> MoneySnapshot {
        MoneySnapshot {
            movements: lock(&self.inner).movements.clone(),
        }
    }

    /// Records a movement, or replaces the one with the same channel and id.
    pub(crate) fn record(&self, movement: MoneyMovement) {
        let mut book = lock(&self.inner);
        let slot = (movement.channel, movement.id.clone());
        match book.index.get(&slot) {
            Some(&at) => book.movements[at] = movement,
            None => {
                let at = book.movements.len();
                book.movements.push(movement);
                book.index.insert(slot, at);
            }
        }
    }

    /// Moves a recorded movement to `outcome`; unknown ones are ignored.
    pub(crate) fn conclude(&self, channel: MoneyChannel, id: &str, outcome: MoneyOutcome) {
        let mut book = lock(&self.inner);
        if let Some(&at) = book.index.get(&(channel, id.to_owned())) {
            book.movements[at].outcome = outcome;
        }
    }
}

/// Minor units (kobo, cents) to major units.
pub(crate) fn from_minor(amount: i64) -> Decimal {
    Decimal::new(amount, 2)
}

/// Millisatoshis (of either sign) to whole sats.
pub(crate) fn sats_from_msat(amount_msat: i64) -> Decimal {
    Decimal::new(amount_msat.abs(), 3)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn movement(
        channel: MoneyChannel,
        id: &str,
        amount: i64,
        outcome: MoneyOutcome,
    ) -> MoneyMovement {
        MoneyMovement {
            channel,
            key: format!("k-{id}"),
            id: id.to_owned(),
            amount: Decimal::from(amount),
            currency: "KES".to_owned(),
            destination: "254700000001".to_owned(),
            outcome,
        }
    }

    #[test]
    fn totals_count_only_money_that_moved_and_stayed() {
        let book = MoneyBook::default();
        book.record(movement(
            MoneyChannel::MpesaStk,
            "a",
            100,
            MoneyOutcome::Succeeded,
        ));
        book.record(movement(
            MoneyChannel::MpesaB2c,
            "b",
            60,
            MoneyOutcome::Pending,
        ));
        book.record(movement(
            MoneyChannel::MpesaB2c,
            "c",
            30,
            MoneyOutcome::Pending,
        ));
        book.conclude(MoneyChannel::MpesaB2c, "b", MoneyOutcome::Succeeded);
        book.conclude(MoneyChannel::MpesaB2c, "c", MoneyOutcome::Failed);
        let snapshot = book.snapshot();
        assert_eq!(snapshot.movements.len(), 3);
        assert_eq!(
            snapshot.totals()[&("mpesa".to_owned(), "KES".to_owned())],
            (Decimal::from(100), Decimal::from(60))
        );
        assert_eq!(snapshot.charges().count(), 1);
        assert_eq!(snapshot.transfers().count(), 2);
        assert_eq!(from_minor(12_345), Decimal::new(12_345, 2));
        assert_eq!(sats_from_msat(-21_000), Decimal::from(21));
    }
}
