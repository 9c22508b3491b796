//! A payout's kind and status as types; the database's CHECKs (migrations 0003 and 0111) list the same
//! names, and `as_str` is the only place they are spelt.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What a payout pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum PayoutKind {
    /// The payee's share of a release.
    Payee,
    /// The platform's commission, paid out to its own destination.
    Commission,
    /// The buyer's money returned.
    Refund,
    /// Money out of a client's balance (no intent).
    Withdrawal,
    /// A payment that arrived for a closed intent, returned to its payer.
    LateRefund,
}

impl PayoutKind {
    /// Every kind.
    pub const ALL: [Self; 5] = [
        Self::Payee,
        Self::Commission,
        Self::Refund,
        Self::Withdrawal,
        Self::LateRefund,
    ];

    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Payee => "payee",
            Self::Commission => "commission",
            Self::Refund => "refund",
            Self::Withdrawal => "withdrawal",
            Self::LateRefund => "late_refund",
        }
    }

    /// The kind stored as `text`.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

impl fmt::Display for PayoutKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a payout stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum PayoutStatus {
    /// Created, not sent.
    Pending,
    /// Its initiation was recorded (and committed) before the provider call: never sent again.
    InFlight,
    /// The provider delivered it.
    Succeeded,
    /// The provider confirmed it failed (or refused it at initiation): nothing left.
    Failed,
    /// Delivered, then returned.
    Reversed,
}

impl PayoutStatus {
    /// Every status.
    pub const ALL: [Self; 5] = [
        Self::Pending,
        Self::InFlight,
        Self::Succeeded,
        Self::Failed,
        Self::Reversed,
    ];

    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::InFlight => "in_flight",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Reversed => "reversed",
        }
    }

    /// The status stored as `text`.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

impl fmt::Display for PayoutStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_the_database_check() {
        let kinds = crate::domain::checked_names("payouts_kind_check");
        let statuses = crate::domain::checked_names("payouts_status_check");
        for kind in PayoutKind::ALL {
            assert_eq!(PayoutKind::parse(kind.as_str()), Some(kind));
            assert!(kinds.contains(&kind.as_str()));
        }
        // And the other way: every kind the database allows is one the code can read.
        assert!(kinds.len() >= 5, "{kinds:?}");
        for name in kinds {
            assert!(PayoutKind::parse(name).is_some(), "{name} cannot be read");
        }
        for status in PayoutStatus::ALL {
            assert_eq!(PayoutStatus::parse(status.as_str()), Some(status));
            assert!(statuses.contains(&status.as_str()));
            assert_eq!(serde_json::to_value(status).expect("json"), status.as_str());
        }
    }
}
