//! The ledger's kinds: what an account is for, as `ledger_accounts.kind` stores it (the CHECK
//! of migration 0111; each [`super::ledger::Account`] constructor names its kind), and which
//! business event a transaction posts (`ledger_transactions.kind`, which has no CHECK).

use serde::{Deserialize, Serialize};

/// A ledger account's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum AccountKind {
    /// Money held at a provider on the platform's behalf.
    ProviderClearing,
    /// One intent's escrow.
    Escrow,
    /// What the platform owes one intent's payee after release.
    PayeePayable,
    /// The platform's earned commission.
    PlatformCommission,
    /// Payouts initiated and not yet conclusive.
    PayoutsInFlight,
    /// Refunds initiated and not yet conclusive.
    RefundsInFlight,
    /// Money that moved at a provider without a place in the escrow model.
    Suspense,
    /// Resolved discrepancies' money, settled by the business outside malipo.
    SettledOutside,
    /// What a client may withdraw.
    ClientBalance,
    /// Withdrawals taken from balances and not yet sent.
    WithdrawalsReserved,
}

impl AccountKind {
    /// Every kind.
    pub const ALL: [Self; 10] = [
        Self::ProviderClearing,
        Self::Escrow,
        Self::PayeePayable,
        Self::PlatformCommission,
        Self::PayoutsInFlight,
        Self::RefundsInFlight,
        Self::Suspense,
        Self::SettledOutside,
        Self::ClientBalance,
        Self::WithdrawalsReserved,
    ];

    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ProviderClearing => "provider_clearing",
            Self::Escrow => "escrow",
            Self::PayeePayable => "payee_payable",
            Self::PlatformCommission => "platform_commission",
            Self::PayoutsInFlight => "payouts_in_flight",
            Self::RefundsInFlight => "refunds_in_flight",
            Self::Suspense => "suspense",
            Self::SettledOutside => "settled_outside",
            Self::ClientBalance => "client_balance",
            Self::WithdrawalsReserved => "withdrawals_reserved",
        }
    }
}

/// The business event a ledger transaction posts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum TransactionKind {
    /// A deposit confirmed into escrow.
    Deposit,
    /// A release (or one part of it) split into payee share and commission.
    Release,
    /// An immediate capture into the client's balance.
    Collection,
    /// A withdrawal taken from a balance into the reserve.
    WithdrawalReserved,
    /// A failed withdrawal's money returned to the balance.
    WithdrawalReturned,
    /// A discrepancy's money into (or out of) suspense.
    Discrepancy,
    /// A resolved discrepancy's money out of suspense.
    DiscrepancyResolved,
    /// A payout's money in flight.
    PayoutSent,
    /// A payout delivered.
    PayoutSucceeded,
    /// A payout failed; its money is back where it came from.
    PayoutFailed,
    /// A delivered payout reversed by the provider.
    PayoutReversed,
}

impl TransactionKind {
    /// Every kind.
    pub const ALL: [Self; 11] = [
        Self::Deposit,
        Self::Release,
        Self::Collection,
        Self::WithdrawalReserved,
        Self::WithdrawalReturned,
        Self::Discrepancy,
        Self::DiscrepancyResolved,
        Self::PayoutSent,
        Self::PayoutSucceeded,
        Self::PayoutFailed,
        Self::PayoutReversed,
    ];

    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Deposit => "deposit",
            Self::Release => "release",
            Self::Collection => "collection",
            Self::WithdrawalReserved => "withdrawal_reserved",
            Self::WithdrawalReturned => "withdrawal_returned",
            Self::Discrepancy => "discrepancy",
            Self::DiscrepancyResolved => "discrepancy_resolved",
            Self::PayoutSent => "payout_sent",
            Self::PayoutSucceeded => "payout_succeeded",
            Self::PayoutFailed => "payout_failed",
            Self::PayoutReversed => "payout_reversed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_kinds_are_the_schemas_check() {
        let listed = crate::domain::checked_names("ledger_accounts_kind_check");
        let ours: Vec<&str> = AccountKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(listed, ours);
        for kind in AccountKind::ALL {
            assert_eq!(
                serde_json::to_value(kind).expect("serializes"),
                serde_json::json!(kind.as_str())
            );
        }
    }

    #[test]
    fn transaction_kinds_serialize_as_stored_and_match_the_ledger_check() {
        for kind in TransactionKind::ALL {
            assert_eq!(
                serde_json::to_value(kind).expect("serializes"),
                serde_json::json!(kind.as_str())
            );
        }
        // `ledger::check` compares payouts with their postings by these names in SQL.
        let check = include_str!("ledger.rs");
        for kind in [
            TransactionKind::PayoutSucceeded,
            TransactionKind::PayoutFailed,
            TransactionKind::PayoutReversed,
        ] {
            assert!(check.contains(&format!("t.kind = '{}'", kind.as_str())));
        }
    }
}
