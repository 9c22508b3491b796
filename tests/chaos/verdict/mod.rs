//! What must hold after the storm. The money is counted at the fakes (their own book, not
//! malipo's database) and compared with the intents, the payouts and the ledger; every rule
//! names itself so a failing run reads as a list of broken promises grouped by rule.

mod intents;
mod ledger;
mod marketplace;
mod money;
mod notifications;
mod tables;

use std::{collections::BTreeMap, fmt::Write};

use sqlx::PgPool;

pub use intents::{dead_jobs, intent_violations};
pub use ledger::money_table;
pub use marketplace::marketplace_violations;
pub use money::money_violations;
pub use notifications::notification_violations;
pub use tables::{discrepancy_counts, tables};

/// One broken promise: the rule and what broke it.
#[derive(Debug, Clone)]
pub struct Violation {
    /// The rule's short name, e.g. `charge-unaccounted`.
    pub rule: &'static str,
    /// What happened, naming the intent, key and amounts.
    pub text: String,
}

/// Adds a violation.
pub fn push(out: &mut Vec<Violation>, rule: &'static str, text: String) {
    out.push(Violation { rule, text });
}

/// The rules, in the order the report lists them, with what each promises.
pub const RULES: [(&str, &str); 25] = [
    (
        "event-missing",
        "every committed intent transition and payout status change has its event",
    ),
    (
        "event-undelivered",
        "every event reached the flaky endpoint or is failed with its attempts logged",
    ),
    (
        "delivered-twice",
        "no event was accepted under two webhook-ids, and every delivery verified",
    ),
    (
        "charge-unaccounted",
        "every charge a fake took belongs to an intent that is held, settled or refunded (or on its way there), or to an open/resolved discrepancy naming it",
    ),
    (
        "prompted-twice",
        "no buyer was prompted twice for one intent: at most one STK push per account number",
    ),
    (
        "charge-amount",
        "a charge's amount equals its intent's, unless a discrepancy names it",
    ),
    (
        "out-exceeds-in",
        "per intent, money out at the fakes is at most money in at the fakes",
    ),
    (
        "transfer-unknown-key",
        "every transfer or refund a fake performed has the key of a payout malipo made",
    ),
    (
        "payout-vs-fake",
        "per key, money a fake moved equals the succeeded payouts malipo recorded",
    ),
    (
        "payout-ledger",
        "a succeeded payout has its ledger posting of its amount; a failed one has none",
    ),
    (
        "payout-initiations",
        "per key the provider counts initiations under, at most one per payout sent and at least one per payout that moved money (a second transfer is never initiated)",
    ),
    (
        "clearing",
        "each provider clearing account's balance equals the money in minus out at that fake",
    ),
    ("ledger-check", "`malipo ledger check` finds nothing"),
    (
        "balance-negative",
        "no client balance is below zero, in `client_balances` or in its ledger account",
    ),
    (
        "balance-ledger",
        "each client balance equals the sum of its ledger movements",
    ),
    (
        "withdrawals",
        "per currency, what the fakes paid to withdrawals = the withdrawals malipo records as succeeded = their ledger postings",
    ),
    (
        "released-parts",
        "per intent the releases sum to released_amount ≤ amount and the ledger took exactly the posted parts out of escrow; a balance payee has no payee payout; an automatic release happens at most once",
    ),
    (
        "acted-twice",
        "an intent is released or refunded again only after a failed refund",
    ),
    (
        "leftover",
        "after the settle phase every intent is settled, refunded, failed, expired or cancelled; or, because the storm fails and reverses payouts on purpose, released with a failed/reversed payout or held after a failed refund the client asked again twice, flagged for an operator",
    ),
    (
        "failed-without-reason",
        "a failed intent carries the provider's reason",
    ),
    (
        "settled-share",
        "at least 85% of intents end settled or refunded",
    ),
    (
        "intent-count",
        "every intent the clients created exists, exactly once",
    ),
    (
        "reconciliation",
        "the last reconciliation run finds nothing but matches, or only what a discrepancy names (no unexplained mismatch, nothing missing on either side)",
    ),
    (
        "run",
        "reconciliation ran without error; the jobs finished; the dead letters drained; no process exited by itself",
    ),
    (
        "minimums",
        "each fault class fired, the workers were killed, PostgreSQL crashed and the front was killed, as many times as the run requires",
    ),
];

/// Discrepancies malipo recorded: `(intent, evidence as text)`. No table yet: none.
pub(super) async fn discrepancies(pool: &PgPool) -> Vec<(Option<String>, String)> {
    let exists: Option<String> = sqlx::query_scalar("SELECT to_regclass('discrepancies')::text")
        .fetch_one(pool)
        .await
        .unwrap_or(None);
    if exists.is_none() {
        return Vec::new();
    }
    sqlx::query_as(
        "SELECT intent_id::text, coalesce(evidence::text, '') || ' ' || coalesce(kind, '') FROM discrepancies",
    )
    .fetch_all(pool)
    .await
    .expect("discrepancies")
}

/// Findings of the last reconciliation (not matches) that no discrepancy explains.
pub async fn reconciliation_violations(
    pool: &PgPool,
    findings: &[(String, String, String)],
) -> Vec<Violation> {
    let flagged = discrepancies(pool).await;
    let mut out = Vec::new();
    for (class, subject, detail) in findings {
        let explained = flagged.iter().any(|(id, evidence)| {
            id.as_deref() == Some(subject.as_str()) || evidence.contains(subject.as_str())
        });
        if !explained {
            push(
                &mut out,
                "reconciliation",
                format!("the last M-Pesa reconciliation reports {class} for {subject}: {detail}"),
            );
        }
    }
    out
}

/// The failure report: violations grouped by rule, with counts, at most `per_rule` each.
pub fn report(violations: &[Violation], per_rule: usize) -> String {
    let mut by_rule: BTreeMap<&str, Vec<&Violation>> = BTreeMap::new();
    for v in violations {
        by_rule.entry(v.rule).or_default().push(v);
    }
    let mut out = String::new();
    let _ = writeln!(out, "{} broken promises:", violations.len());
    for (rule, promise) in RULES {
        let Some(list) = by_rule.get(rule) else {
            continue;
        };
        let _ = writeln!(out, "[{rule}] x{}: {promise}", list.len());
        for v in list.iter().take(per_rule) {
            let _ = writeln!(out, "    {}", v.text);
        }
        if list.len() > per_rule {
            let _ = writeln!(out, "    … and {} more", list.len() - per_rule);
        }
    }
    out
}

/// The report's last lines: each broken rule with its count and its first violation, shortened.
pub fn headline(violations: &[Violation]) -> String {
    let mut out = format!("chaos verdict: {} broken promises", violations.len());
    for (rule, _) in RULES {
        let mut of_rule = violations.iter().filter(|v| v.rule == rule);
        let Some(first) = of_rule.next() else {
            continue;
        };
        let text: String = first.text.chars().take(160).collect();
        let _ = write!(out, "\n  [{rule}] x{}: {text}", 1 + of_rule.count());
    }
    out
}
