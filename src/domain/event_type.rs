//! Event types, derived mechanically from the status enums: `intent.<status>` and
//! `payout.<status>`. A status added to either enum produces its events with no change here.

use crate::domain::{IntentStatus, PayoutStatus};

/// The type of the event an intent's move into `status` produces.
pub fn of_intent(status: IntentStatus) -> String {
    format!("intent.{}", status.as_str())
}

/// The type of the event a payout's move into `status` produces.
pub fn of_payout(status: PayoutStatus) -> String {
    format!("payout.{}", status.as_str())
}

/// The test event `POST /v1/webhook_endpoints/{id}/test` sends.
pub const WEBHOOK_TEST: &str = "webhook.test";

/// A part of a held intent was released (posted): not a status change, the rest stays held.
pub const INTENT_PART_RELEASED: &str = "intent.part_released";
/// An operator resolved a dispute with a release/refund split.
pub const INTENT_DISPUTE_RESOLVED: &str = "intent.dispute_resolved";
/// A release's payee share settled into the client's balance (`payee.payout.provider: balance`).
pub const INTENT_RELEASED_TO_BALANCE: &str = "intent.released_to_balance";

/// The intent events that report a move of money rather than a status.
pub const INTENT_NOTICES: [&str; 3] = [
    INTENT_PART_RELEASED,
    INTENT_DISPUTE_RESOLVED,
    INTENT_RELEASED_TO_BALANCE,
];

/// Every type a client may subscribe to.
pub fn all() -> Vec<String> {
    IntentStatus::ALL
        .into_iter()
        .map(of_intent)
        .chain(PayoutStatus::ALL.into_iter().map(of_payout))
        .chain(std::iter::once(WEBHOOK_TEST.to_owned()))
        .chain(INTENT_NOTICES.into_iter().map(str::to_owned))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_follow_the_enums_and_fit_the_database_check() {
        assert_eq!(of_intent(IntentStatus::Held), "intent.held");
        assert_eq!(of_payout(PayoutStatus::InFlight), "payout.in_flight");
        let all = all();
        assert_eq!(
            all.len(),
            IntentStatus::ALL.len() + PayoutStatus::ALL.len() + 1 + INTENT_NOTICES.len()
        );
        let mut unique = all.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), all.len(), "no notice shadows a status event");
        for name in all {
            let (object, status) = name.split_once('.').expect("dotted");
            assert!(
                [object, status].iter().all(|part| !part.is_empty()
                    && part.chars().all(|c| c.is_ascii_lowercase() || c == '_')),
                "{name} fits events.type's CHECK"
            );
        }
    }
}
