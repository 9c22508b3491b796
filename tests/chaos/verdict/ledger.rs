//! The money rules on malipo's own records: each payout's ledger posting and initiations, the
//! clearing accounts against the fakes' totals, and no intent acted on twice; the money table.

use std::{
    collections::{BTreeMap, HashMap},
    fmt::Write,
};

use malipo_sandbox::{CountersSnapshot, MoneyDirection, MoneySnapshot};
use rust_decimal::Decimal;
use sqlx::PgPool;

use super::money::PayoutRow;
use super::{Violation, push};

/// Each payout's ledger agrees with its status; each initiation happened once.
pub(super) async fn payouts(
    pool: &PgPool,
    payouts: &[PayoutRow],
    counters: &CountersSnapshot,
    out: &mut Vec<Violation>,
) {
    let postings: HashMap<String, Decimal> = sqlx::query_as::<_, (String, Decimal)>(
        "SELECT t.idempotency_key, max(e.amount) FROM ledger_transactions t
           JOIN ledger_entries e ON e.transaction_id = t.id
          WHERE t.idempotency_key LIKE 'payout:%' GROUP BY 1",
    )
    .fetch_all(pool)
    .await
    .expect("postings")
    .into_iter()
    .collect();
    for p in payouts {
        let posted = postings.get(&format!("payout:{}:succeeded", p.id));
        let reversed = postings.contains_key(&format!("payout:{}:reversed", p.id));
        let fine = match p.status.as_str() {
            "succeeded" => posted == Some(&p.amount) && !reversed,
            "reversed" => posted == Some(&p.amount) && reversed,
            _ => posted.is_none(),
        };
        if !fine {
            push(
                out,
                "payout-ledger",
                format!(
                    "{} {} payout {} is {} {} but its ledger posting is {:?} (reversed posting: {reversed})",
                    p.provider, p.kind, p.reference, p.status, p.amount, posted
                ),
            );
        }
    }
    // Initiations per key the fake counts them under: one per payout that left `pending`
    // (Paystack counts refunds per transaction, and a refund asked again after a failed one
    // is a payout of its own), none more.
    let mut groups: BTreeMap<String, Vec<&PayoutRow>> = BTreeMap::new();
    for p in payouts {
        groups.entry(p.fake_key()).or_default().push(p);
    }
    for (key, group) in groups {
        let initiations = u64::from(counters.transfers_for(&key));
        let sent = group.iter().filter(|p| p.status != "pending").count() as u64;
        let moved = group
            .iter()
            .filter(|p| matches!(p.status.as_str(), "succeeded" | "reversed"))
            .count() as u64;
        if initiations > sent || initiations < moved {
            let payouts: Vec<String> = group
                .iter()
                .map(|p| format!("{} {} {} ({})", p.provider, p.kind, p.reference, p.status))
                .collect();
            push(
                out,
                "payout-initiations",
                format!(
                    "key {key} was initiated {initiations} times at the provider for {payouts:?}"
                ),
            );
        }
    }
}

/// Clearing accounts against the fakes' totals.
pub(super) async fn clearing(pool: &PgPool, money: &MoneySnapshot, out: &mut Vec<Violation>) {
    for ((provider, currency), (fake_net, ledger_balance)) in clearing_pairs(pool, money).await {
        if fake_net != ledger_balance {
            push(
                out,
                "clearing",
                format!(
                    "clearing:{provider}:{currency} holds {ledger_balance} in the ledger but the fake's in minus out is {fake_net}"
                ),
            );
        }
    }
}

/// An intent is released or refunded again only after a failed refund.
pub(super) async fn acted_twice(pool: &PgPool, out: &mut Vec<Violation>) {
    let twice: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT intent_id::text,
                count(*) FILTER (WHERE type IN ('release_requested', 'refund_requested')),
                count(*) FILTER (WHERE type = 'refund_failed')
           FROM intent_events GROUP BY intent_id",
    )
    .fetch_all(pool)
    .await
    .expect("events");
    for (id, requests, failures) in twice {
        if requests > failures + 1 {
            push(
                out,
                "acted-twice",
                format!(
                    "intent {id} was released/refunded {requests} times after {failures} failed refunds"
                ),
            );
        }
    }
}

/// `(provider, currency) -> (fake in - out, ledger clearing balance)`, malipo's names.
async fn clearing_pairs(
    pool: &PgPool,
    money: &MoneySnapshot,
) -> BTreeMap<(String, String), (Decimal, Decimal)> {
    let mut pairs: BTreeMap<(String, String), (Decimal, Decimal)> = BTreeMap::new();
    for ((provider, currency), (inn, outt)) in money.totals() {
        let provider = if provider == "lnbits" {
            "lightning".to_owned()
        } else {
            provider
        };
        pairs.entry((provider, currency)).or_default().0 = inn - outt;
    }
    let balances: Vec<(String, Decimal)> = sqlx::query_as(
        "SELECT a.code, coalesce(sum(e.amount), 0) FROM ledger_accounts a
           LEFT JOIN ledger_entries e ON e.account_id = a.id
          WHERE a.kind = 'provider_clearing' GROUP BY a.code",
    )
    .fetch_all(pool)
    .await
    .expect("clearing balances");
    for (code, balance) in balances {
        let mut parts = code.splitn(3, ':').skip(1);
        let (Some(provider), Some(currency)) = (parts.next(), parts.next()) else {
            continue;
        };
        pairs
            .entry((provider.to_owned(), currency.to_owned()))
            .or_default()
            .1 = balance;
    }
    pairs
}

/// The money table: per provider and currency, in and out at the fakes beside the ledger.
pub async fn money_table(pool: &PgPool, money: &MoneySnapshot) -> String {
    let ledger_flows: BTreeMap<String, (Decimal, Decimal)> =
        sqlx::query_as::<_, (String, Decimal, Decimal)>(
            "SELECT a.code,
                    coalesce(sum(e.amount) FILTER (WHERE e.amount > 0), 0),
                    coalesce(-sum(e.amount) FILTER (WHERE e.amount < 0), 0)
               FROM ledger_accounts a JOIN ledger_entries e ON e.account_id = a.id
              WHERE a.kind = 'provider_clearing' GROUP BY a.code",
        )
        .fetch_all(pool)
        .await
        .expect("ledger flows")
        .into_iter()
        .map(|(code, debits, credits)| (code, (debits, credits)))
        .collect();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "  {:<20}{:>16}{:>16}{:>16}{:>16}{:>16}",
        "money (major units)", "fake in", "fake out", "ledger in", "ledger out", "clearing bal"
    );
    let totals = money.totals();
    let mut codes: Vec<(String, String)> = totals.keys().cloned().collect();
    for code in ledger_flows.keys() {
        let mut parts = code.splitn(3, ':').skip(1);
        if let (Some(p), Some(c)) = (parts.next(), parts.next()) {
            let p = if p == "lightning" { "lnbits" } else { p };
            codes.push((p.to_owned(), c.to_owned()));
        }
    }
    codes.sort();
    codes.dedup();
    for (provider, currency) in codes {
        let (inn, outt) = totals
            .get(&(provider.clone(), currency.clone()))
            .copied()
            .unwrap_or_default();
        let db = if provider == "lnbits" {
            "lightning"
        } else {
            provider.as_str()
        };
        let (debits, credits) = ledger_flows
            .get(&format!("clearing:{db}:{currency}"))
            .copied()
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {:<20}{:>16}{:>16}{:>16}{:>16}{:>16}",
            format!("{provider} {currency}"),
            inn,
            outt,
            debits,
            credits,
            debits - credits
        );
    }
    let attempts = money.direction(MoneyDirection::Out).count();
    let moved = money.transfers().filter(|m| m.moved()).count();
    let _ = writeln!(
        out,
        "  (ledger in = deposits and reversals posted to clearing; out = payouts that succeeded; fakes: {} charges, {attempts} transfers/refunds of which {moved} moved money)",
        money.charges().count()
    );
    out
}
