//! An intent's lifecycle as types: its statuses, and every move between them as data — each
//! [`IntentMove`] knows the statuses it may start from, the one it ends in and the event it
//! writes, so a transition cannot pair the wrong states or event name. The database's CHECKs
//! (migrations 0071, 0110 and 0111) list the same names.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where an intent stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum IntentStatus {
    /// Created; the provider side is being started.
    Initiating,
    /// The buyer must pay.
    AwaitingPayment,
    /// Paid into escrow (part of it may have been released already: `released_amount`).
    Held,
    /// Held, and disputed: no release or refund until the dispute is resolved or withdrawn.
    Disputed,
    /// A release was requested; the split and payouts are being made.
    Releasing,
    /// Released into payouts that are on their way.
    Released,
    /// Every payout delivered.
    Settled,
    /// A refund was requested and is on its way.
    Refunding,
    /// The buyer's money is back with them.
    Refunded,
    /// Not paid (declined, or paid another amount: see its discrepancy).
    Failed,
    /// Not paid in time.
    Expired,
    /// Cancelled before anyone paid.
    Cancelled,
}

impl IntentStatus {
    /// Every status.
    pub const ALL: [Self; 12] = [
        Self::Initiating,
        Self::AwaitingPayment,
        Self::Held,
        Self::Disputed,
        Self::Releasing,
        Self::Released,
        Self::Settled,
        Self::Refunding,
        Self::Refunded,
        Self::Failed,
        Self::Expired,
        Self::Cancelled,
    ];

    /// Closed without money: a payment for such an intent is a late payment.
    pub const CLOSED_UNPAID: [Self; 3] = [Self::Failed, Self::Expired, Self::Cancelled];

    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Initiating => "initiating",
            Self::AwaitingPayment => "awaiting_payment",
            Self::Held => "held",
            Self::Disputed => "disputed",
            Self::Releasing => "releasing",
            Self::Released => "released",
            Self::Settled => "settled",
            Self::Refunding => "refunding",
            Self::Refunded => "refunded",
            Self::Failed => "failed",
            Self::Expired => "expired",
            Self::Cancelled => "cancelled",
        }
    }

    /// The status stored as `text`.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Whether the intent was closed without its money.
    pub fn is_closed_unpaid(self) -> bool {
        Self::CLOSED_UNPAID.contains(&self)
    }
}

impl fmt::Display for IntentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every move an intent can make, with its event name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IntentMove {
    /// The provider side started: the buyer can pay.
    DepositInitiated,
    /// The STK push went unanswered: wait for a Paybill payment to the account number.
    DepositInDoubt,
    /// The provider refused to start the deposit.
    DepositRejected,
    /// The provider confirmed the payment.
    DepositConfirmed,
    /// The provider confirmed the payment failed.
    DepositFailed,
    /// The provider reported another amount; the money waits in suspense.
    DepositMismatch,
    /// The deadline passed unpaid.
    DepositExpired,
    /// The client asked for a release.
    ReleaseRequested,
    /// The client asked for a refund.
    RefundRequested,
    /// The split was posted and the payouts made.
    EscrowReleased,
    /// Every payout delivered.
    Settled,
    /// The refund was delivered.
    Refunded,
    /// The provider confirmed the refund failed: the money is in escrow again.
    RefundFailed,
    /// A delivered payout came back.
    PayoutReversed,
    /// The client cancelled an unpaid intent.
    Cancelled,
    /// The client disputed a held intent.
    DisputeOpened,
    /// The client withdrew its dispute: held again, nothing moved.
    DisputeWithdrawn,
    /// An operator resolved the dispute: held again for the moment, then released and/or
    /// refunded in the same transaction as the resolution says.
    DisputeResolved,
    /// An immediate capture's money went into the client's balance (in the transaction that
    /// confirmed it).
    Collected,
}

impl IntentMove {
    /// The statuses the move may start from.
    pub const fn from(self) -> &'static [IntentStatus] {
        use IntentStatus as S;
        match self {
            Self::DepositInitiated | Self::DepositInDoubt | Self::DepositRejected => {
                &[S::Initiating]
            }
            Self::DepositConfirmed
            | Self::DepositFailed
            | Self::DepositMismatch
            | Self::DepositExpired => &[S::AwaitingPayment],
            Self::ReleaseRequested | Self::RefundRequested => &[S::Held],
            Self::EscrowReleased => &[S::Releasing],
            Self::Settled => &[S::Released],
            Self::Refunded | Self::RefundFailed => &[S::Refunding],
            Self::PayoutReversed => &[S::Settled],
            Self::Cancelled => &[S::Initiating, S::AwaitingPayment],
            Self::DisputeOpened => &[S::Held],
            Self::DisputeWithdrawn | Self::DisputeResolved => &[S::Disputed],
            Self::Collected => &[S::Held],
        }
    }

    /// Whether the move is made only once every payee and commission share of the intent is
    /// delivered (a failed share sent again counts through its successor): `transition` checks
    /// it in the statement that moves the intent. Its callers lock the intent in an earlier
    /// statement, so that check sees every share committed before them: two shares succeeding
    /// at once cannot each miss the other and both leave the intent `released`.
    pub const fn needs_every_share_delivered(self) -> bool {
        matches!(self, Self::Settled)
    }

    /// The status the move ends in.
    pub const fn to(self) -> IntentStatus {
        use IntentStatus as S;
        match self {
            Self::DepositInitiated | Self::DepositInDoubt => S::AwaitingPayment,
            Self::DepositRejected | Self::DepositFailed | Self::DepositMismatch => S::Failed,
            Self::DepositConfirmed
            | Self::RefundFailed
            | Self::DisputeWithdrawn
            | Self::DisputeResolved => S::Held,
            Self::DisputeOpened => S::Disputed,
            Self::DepositExpired => S::Expired,
            Self::ReleaseRequested => S::Releasing,
            Self::RefundRequested => S::Refunding,
            Self::EscrowReleased | Self::PayoutReversed => S::Released,
            Self::Settled | Self::Collected => S::Settled,
            Self::Refunded => S::Refunded,
            Self::Cancelled => S::Cancelled,
        }
    }

    /// The event it writes (`intent_events.type`).
    pub const fn event(self) -> &'static str {
        match self {
            Self::DepositInitiated => "deposit_initiated",
            Self::DepositInDoubt => "deposit_in_doubt",
            Self::DepositRejected => "deposit_rejected",
            Self::DepositConfirmed => "deposit_confirmed",
            Self::DepositFailed => "deposit_failed",
            Self::DepositMismatch => "deposit_mismatch",
            Self::DepositExpired => "deposit_expired",
            Self::ReleaseRequested => "release_requested",
            Self::RefundRequested => "refund_requested",
            Self::EscrowReleased => "escrow_released",
            Self::Settled => "settled",
            Self::Refunded => "refunded",
            Self::RefundFailed => "refund_failed",
            Self::PayoutReversed => "payout_reversed",
            Self::Cancelled => "cancelled",
            Self::DisputeOpened => "disputed",
            Self::DisputeWithdrawn => "dispute_withdrawn",
            Self::DisputeResolved => "dispute_resolved",
            Self::Collected => "collected",
        }
    }
}

/// Events that record something about an intent without moving it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IntentNote {
    /// The intent was created (`initiating`).
    Created,
    /// A payout failed for good (confirmed by its provider).
    PayoutFailed,
    /// A failed payee payout was sent again to a new destination.
    PayoutRetried,
    /// Something needs an operator.
    NeedsAttention,
    /// Part of a held intent was asked to be released; the rest stays held.
    PartReleaseRequested,
    /// A part was posted and its payouts made.
    PartReleased,
    /// The automatic release time was set or cleared.
    AutoReleaseSet,
}

impl IntentNote {
    /// The event it writes (`intent_events.type`).
    pub const fn event(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::PayoutFailed => "payout_failed",
            Self::PayoutRetried => "payout_retried",
            Self::NeedsAttention => "needs_attention",
            Self::PartReleaseRequested => "part_release_requested",
            Self::PartReleased => "part_released",
            Self::AutoReleaseSet => "auto_release_set",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOVES: [IntentMove; 19] = [
        IntentMove::DepositInitiated,
        IntentMove::DepositInDoubt,
        IntentMove::DepositRejected,
        IntentMove::DepositConfirmed,
        IntentMove::DepositFailed,
        IntentMove::DepositMismatch,
        IntentMove::DepositExpired,
        IntentMove::ReleaseRequested,
        IntentMove::RefundRequested,
        IntentMove::EscrowReleased,
        IntentMove::Settled,
        IntentMove::Refunded,
        IntentMove::RefundFailed,
        IntentMove::PayoutReversed,
        IntentMove::Cancelled,
        IntentMove::DisputeOpened,
        IntentMove::DisputeWithdrawn,
        IntentMove::DisputeResolved,
        IntentMove::Collected,
    ];

    #[test]
    fn statuses_round_trip_through_their_stored_names() {
        for status in IntentStatus::ALL {
            assert_eq!(IntentStatus::parse(status.as_str()), Some(status));
            assert_eq!(
                serde_json::to_value(status).expect("json"),
                status.as_str(),
                "serde and the database agree"
            );
        }
        assert_eq!(IntentStatus::parse("refundd"), None);
    }

    #[test]
    fn no_move_starts_from_a_terminal_status_except_reversal() {
        for movement in MOVES {
            for from in movement.from() {
                assert!(
                    !matches!(
                        from,
                        IntentStatus::Refunded
                            | IntentStatus::Failed
                            | IntentStatus::Expired
                            | IntentStatus::Cancelled
                    ),
                    "{movement:?} leaves the terminal {from}"
                );
                assert_ne!(*from, movement.to(), "{movement:?} goes nowhere");
            }
        }
        // Money can leave escrow only from `held`.
        for movement in [IntentMove::ReleaseRequested, IntentMove::RefundRequested] {
            assert_eq!(movement.from(), &[IntentStatus::Held]);
        }
    }

    #[test]
    fn event_names_are_distinct_and_in_the_database_check() {
        let check = crate::domain::checked_names("intent_events_type_check");
        let mut names: Vec<&str> = MOVES.iter().map(|m| m.event()).collect();
        names.extend(
            [
                IntentNote::Created,
                IntentNote::PayoutFailed,
                IntentNote::PayoutRetried,
                IntentNote::NeedsAttention,
                IntentNote::PartReleaseRequested,
                IntentNote::PartReleased,
                IntentNote::AutoReleaseSet,
            ]
            .map(IntentNote::event),
        );
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "{names:?}");
        for name in names {
            assert!(check.contains(&name), "{name} missing from the CHECK");
        }
    }
}
