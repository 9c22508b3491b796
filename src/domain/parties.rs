//! The parties of an intent: provider, buyer, payee and payout destination, parsed at the edge.

use std::fmt;

use serde::{Deserialize, Serialize};

pub use super::msisdn::Msisdn;

/// A payment provider malipo drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// Paystack (cards, bank, mobile money; NGN, GHS, ZAR, KES, USD).
    Paystack,
    /// Safaricom M-Pesa via Daraja (KES, whole shillings).
    Mpesa,
    /// Bitcoin Lightning via LNbits (SAT).
    Lightning,
    /// Fincra: NGN bank and KES M-Pesa payouts, and checkout collections (PROVIDERS.md §4).
    Fincra,
}

impl ProviderKind {
    /// Whether the provider moves money in `currency` (one table for deposits and payouts).
    pub fn carries(self, currency: crate::domain::Currency) -> bool {
        use crate::domain::Currency;
        match self {
            Self::Mpesa => currency == Currency::Kes,
            Self::Lightning => currency == Currency::Sat,
            Self::Paystack => currency != Currency::Sat,
            Self::Fincra => matches!(currency, Currency::Ngn | Currency::Kes),
        }
    }

    /// Whether a deposit is a hosted checkout the buyer opens by link (Paystack, Fincra): it
    /// is verified by the reference malipo opened it under, on a schedule besides its webhook.
    pub fn opens_checkouts(self) -> bool {
        matches!(self, Self::Paystack | Self::Fincra)
    }

    /// Whether starting a deposit prompts the buyer at once, under no key a second request
    /// could be recognised by (M-Pesa's STK push): asking twice prompts twice, and either
    /// prompt may be paid. Such a deposit is asked for at most once per intent.
    pub fn prompts_the_buyer(self) -> bool {
        matches!(self, Self::Mpesa)
    }

    /// Every provider.
    pub const ALL: [ProviderKind; 4] = [Self::Paystack, Self::Mpesa, Self::Lightning, Self::Fincra];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Paystack => "paystack",
            Self::Mpesa => "mpesa",
            Self::Lightning => "lightning",
            Self::Fincra => "fincra",
        }
    }

    /// Parses a stored or requested name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "paystack" => Some(Self::Paystack),
            "mpesa" => Some(Self::Mpesa),
            "lightning" => Some(Self::Lightning),
            "fincra" => Some(Self::Fincra),
            _ => None,
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who pays, in the form their provider needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Buyer {
    /// Paystack needs the buyer's email.
    Email {
        /// The email address.
        email: String,
    },
    /// M-Pesa pushes the STK prompt to this number.
    Msisdn {
        /// The phone number.
        msisdn: Msisdn,
    },
    /// Lightning buyers pay an invoice; nothing is known about them.
    Anonymous {},
}

/// Where a payee's (or the platform's) money goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "provider", rename_all = "lowercase")]
pub enum PayoutDestination {
    /// M-Pesa B2C to a phone number.
    Mpesa {
        /// The receiving number.
        msisdn: Msisdn,
    },
    /// Paystack transfer to a saved recipient.
    Paystack {
        /// Paystack's `RCP_…` code.
        recipient_code: String,
    },
    /// A Lightning invoice, possibly given only at release.
    Lightning {
        /// BOLT 11 invoice.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bolt11: Option<String>,
    },
    /// A Fincra payout to a Nigerian bank account or a Kenyan M-Pesa wallet.
    Fincra(FincraDestination),
}

/// Where a Fincra payout lands, as given under `"destination"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "destination", rename_all = "snake_case")]
pub enum FincraDestination {
    /// An NGN bank account (NUBAN) at a bank from malipo's list.
    BankAccount {
        /// The bank's code (`058` …).
        bank_code: String,
        /// The 10-digit NUBAN.
        account_number: String,
        /// The account holder's name, as the bank knows it.
        account_name: String,
    },
    /// A KES M-Pesa wallet.
    MobileMoney {
        /// The wallet's number.
        msisdn: Msisdn,
    },
}

impl PayoutDestination {
    /// The provider the payout goes through.
    pub fn provider(&self) -> ProviderKind {
        match self {
            Self::Mpesa { .. } => ProviderKind::Mpesa,
            Self::Paystack { .. } => ProviderKind::Paystack,
            Self::Lightning { .. } => ProviderKind::Lightning,
            Self::Fincra(_) => ProviderKind::Fincra,
        }
    }
}

/// The seller being paid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payee {
    /// The marketplace's own id for the payee.
    pub id: String,
    /// Where their share goes.
    pub payout: PayeePayout,
}

/// Where a payee's share goes: out through a provider, or into the client's own balance (for
/// platforms that pay their sellers in batches through `POST /v1/payouts`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PayeePayout {
    /// A payout through a provider.
    Provider(PayoutDestination),
    /// `{"provider": "balance"}`: the client's balance in the intent's currency.
    Balance(ClientBalance),
}

/// The marker of a payee share settled into the client's balance: `{"provider": "balance"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "provider", rename_all = "lowercase")]
pub enum ClientBalance {
    /// The only form.
    Balance,
}

impl PayeePayout {
    /// The provider destination, unless the share settles into the client's balance.
    pub fn destination(&self) -> Option<&PayoutDestination> {
        match self {
            Self::Provider(destination) => Some(destination),
            Self::Balance(_) => None,
        }
    }

    /// Whether the share settles into the client's balance.
    pub fn is_balance(&self) -> bool {
        matches!(self, Self::Balance(_))
    }
}

/// Whether `text` looks like an email address (one `@`, something on each side, a dot after).
pub fn plausible_email(text: &str) -> bool {
    let mut parts = text.split('@');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(local), Some(domain), None) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && text.len() <= 254
                && !text.chars().any(char::is_whitespace)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msisdns_are_kenyan_and_masked_in_logs() {
        let msisdn = Msisdn::try_from("254708374149".to_owned()).expect("valid");
        assert_eq!(msisdn.masked(), "2547****149");
        assert!(Msisdn::try_from("0708374149".to_owned()).is_err());
        assert!(Msisdn::try_from("25470837414x".to_owned()).is_err());
    }

    #[test]
    fn fincra_destinations_keep_their_wire_shape() {
        let bank = serde_json::json!({"provider": "fincra", "destination": "bank_account",
            "bank_code": "058", "account_number": "0124775489", "account_name": "Hassan Sarz"});
        let parsed: PayoutDestination = serde_json::from_value(bank.clone()).expect("bank");
        assert_eq!(parsed.provider(), ProviderKind::Fincra);
        assert_eq!(serde_json::to_value(&parsed).expect("json"), bank);
        let wallet = serde_json::json!({"provider": "fincra", "destination": "mobile_money",
            "msisdn": "254700000001"});
        let parsed: PayoutDestination = serde_json::from_value(wallet.clone()).expect("wallet");
        assert_eq!(serde_json::to_value(&parsed).expect("json"), wallet);
    }

    #[test]
    fn a_balance_payee_keeps_its_wire_shape_beside_provider_destinations() {
        let balance = serde_json::json!({"provider": "balance"});
        let parsed: PayeePayout = serde_json::from_value(balance.clone()).expect("balance");
        assert!(parsed.is_balance());
        assert_eq!(serde_json::to_value(&parsed).expect("json"), balance);
        let mpesa = serde_json::json!({"provider": "mpesa", "msisdn": "254700000001"});
        let parsed: PayeePayout = serde_json::from_value(mpesa.clone()).expect("mpesa");
        assert_eq!(
            parsed.destination().map(PayoutDestination::provider),
            Some(ProviderKind::Mpesa)
        );
        assert_eq!(serde_json::to_value(&parsed).expect("json"), mpesa);
    }

    #[test]
    fn emails_are_plausible() {
        assert!(plausible_email("demo@test.com"));
        assert!(!plausible_email("demo@test"));
        assert!(!plausible_email("a@b@c.com"));
        assert!(!plausible_email("a b@c.com"));
    }
}
