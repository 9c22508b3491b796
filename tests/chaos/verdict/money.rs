//! The money rules: charges, transfers, payouts, the ledger and the clearing accounts against
//! the fakes' own book, and the table of money in and out per provider.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    fmt::Write,
};

use malipo::{
    db::ledger,
    sandbox::{CountersSnapshot, MoneyDirection, MoneyMovement, MoneySnapshot},
};
use rust_decimal::Decimal;
use sqlx::PgPool;

use super::{Violation, discrepancies, push};

/// A fake's provider name as malipo's `provider` column spells it.
fn db_provider(movement: &MoneyMovement) -> &'static str {
    match movement.channel.provider().name() {
        "lnbits" => "lightning",
        "paystack" => "paystack",
        _ => "mpesa",
    }
}

/// An intent as the verdict reads it.
#[derive(Debug, Clone)]
struct IntentRow {
    id: String,
    status: String,
    provider: String,
    amount: Decimal,
    provider_reference: Option<String>,
}

/// A payout as the verdict reads it: the keys a fake may know it by are its reference, the
/// Lightning invoice it paid and the Paystack transaction it refunded.
#[derive(Debug, Clone)]
struct PayoutRow {
    id: String,
    intent_id: String,
    provider: String,
    kind: String,
    status: String,
    amount: Decimal,
    reference: String,
    bolt11: Option<String>,
    refund_of: Option<String>,
}

impl PayoutRow {
    fn keys(&self) -> impl Iterator<Item = &str> {
        [
            Some(self.reference.as_str()),
            self.bolt11.as_deref(),
            self.refund_of.as_deref(),
        ]
        .into_iter()
        .flatten()
    }

    /// The key the fake files this payout's initiation under.
    fn fake_key(&self) -> String {
        match (&self.bolt11, &self.refund_of) {
            (Some(bolt11), _) if self.provider == "lightning" => bolt11.clone(),
            (_, Some(transaction)) if self.provider == "paystack" && self.kind == "refund" => {
                malipo::sandbox::refund_key(transaction)
            }
            _ => self.reference.clone(),
        }
    }
}

/// The money rules: charges, transfers, payouts, ledger and clearing against the fakes' book.
pub async fn money_violations(
    pool: &PgPool,
    money: &MoneySnapshot,
    counters: &CountersSnapshot,
) -> Vec<Violation> {
    let mut out = Vec::new();
    for v in ledger::check(pool).await.expect("ledger check") {
        push(&mut out, "ledger-check", format!("{v:?}"));
    }
    let intents: Vec<IntentRow> =
        sqlx::query_as::<_, (String, String, String, Decimal, Option<String>)>(
            "SELECT id::text, status, provider, amount, provider_reference FROM intents",
        )
        .fetch_all(pool)
        .await
        .expect("intents")
        .into_iter()
        .map(
            |(id, status, provider, amount, provider_reference)| IntentRow {
                id,
                status,
                provider,
                amount,
                provider_reference,
            },
        )
        .collect();
    type Row = (
        String,
        String,
        String,
        String,
        String,
        Decimal,
        String,
        Option<String>,
        Option<String>,
    );
    let payouts: Vec<PayoutRow> = sqlx::query_as::<_, Row>(
        "SELECT id::text, intent_id::text, provider, kind, status, amount, reference,
                destination->>'bolt11', destination->>'refund_of'
           FROM payouts",
    )
    .fetch_all(pool)
    .await
    .expect("payouts")
    .into_iter()
    .map(
        |(id, intent_id, provider, kind, status, amount, reference, bolt11, refund_of)| PayoutRow {
            id,
            intent_id,
            provider,
            kind,
            status,
            amount,
            reference,
            bolt11,
            refund_of,
        },
    )
    .collect();
    let flagged = discrepancies(pool).await;
    let named = |intent: Option<&str>, keys: &[&str]| {
        flagged.iter().any(|(id, evidence)| {
            intent.is_some_and(|i| id.as_deref() == Some(i))
                || keys.iter().any(|k| !k.is_empty() && evidence.contains(k))
        })
    };

    let by_deposit: HashMap<(&str, &str), &IntentRow> = intents
        .iter()
        .filter_map(|i| Some(((i.provider.as_str(), i.provider_reference.as_deref()?), i)))
        .collect();
    let by_key: HashMap<(&str, &str), Vec<&PayoutRow>> =
        payouts.iter().fold(HashMap::new(), |mut map, p| {
            for key in p.keys() {
                map.entry((p.provider.as_str(), key)).or_default().push(p);
            }
            map
        });

    // Money in: every charge belongs to an intent that holds (or held) it.
    let mut money_in: HashMap<&str, Decimal> = HashMap::new();
    for charge in money.charges() {
        let provider = db_provider(charge);
        let intent = by_deposit.get(&(provider, charge.key.as_str()));
        let keys = [charge.key.as_str(), charge.id.as_str()];
        if let Some(intent) = intent {
            *money_in.entry(intent.id.as_str()).or_default() += charge.amount;
        } else if let Some(id) = flagged.iter().find_map(|(id, evidence)| {
            keys.iter()
                .any(|k| !k.is_empty() && evidence.contains(k))
                .then_some(id.as_deref())
                .flatten()
        }) {
            // A payment malipo matched to an intent through a discrepancy (a second push, a
            // superseded checkout) counts as that intent's money in.
            *money_in.entry(id).or_default() += charge.amount;
        }
        match intent {
            None if !named(None, &keys) => push(
                &mut out,
                "charge-unaccounted",
                format!(
                    "{} {} {} ({}) was charged at the fake but no intent has that deposit key and no discrepancy names it",
                    charge.channel.name(),
                    charge.amount,
                    charge.currency,
                    charge.key
                ),
            ),
            Some(intent)
                if !matches!(
                    intent.status.as_str(),
                    "held" | "releasing" | "released" | "settled" | "refunding" | "refunded"
                ) && !named(Some(&intent.id), &keys) =>
            {
                push(
                    &mut out,
                    "charge-unaccounted",
                    format!(
                        "intent {} ({}) is {} but the buyer was charged {} {} ({} {}); no discrepancy names it",
                        intent.id,
                        intent.provider,
                        intent.status,
                        charge.amount,
                        charge.currency,
                        charge.channel.name(),
                        charge.id
                    ),
                );
            }
            Some(intent) if intent.amount != charge.amount && !named(Some(&intent.id), &keys) => {
                push(
                    &mut out,
                    "charge-amount",
                    format!(
                        "intent {} is for {} but the fake charged {} {}",
                        intent.id, intent.amount, charge.amount, charge.currency
                    ),
                );
            }
            _ => {}
        }
    }

    // Money out: every transfer is a payout's; amounts agree with the payouts that succeeded.
    let mut moved_per_key: BTreeMap<(&str, &str), Decimal> = BTreeMap::new();
    let mut money_out: HashMap<&str, Decimal> = HashMap::new();
    for transfer in money.transfers() {
        let provider = db_provider(transfer);
        let rows = by_key.get(&(provider, transfer.key.as_str()));
        if rows.is_none() && !named(None, &[transfer.key.as_str(), transfer.id.as_str()]) {
            push(
                &mut out,
                "transfer-unknown-key",
                format!(
                    "{} {} {} to {} under key {} ({:?}) matches no payout",
                    transfer.channel.name(),
                    transfer.amount,
                    transfer.currency,
                    transfer.destination,
                    transfer.key,
                    transfer.outcome
                ),
            );
        }
        if transfer.moved() {
            *moved_per_key
                .entry((provider, transfer.key.as_str()))
                .or_default() += transfer.amount;
            if let Some(first) = rows.and_then(|r| r.first()) {
                *money_out.entry(first.intent_id.as_str()).or_default() += transfer.amount;
            }
        }
    }
    let mut keys: HashSet<(&str, &str)> = moved_per_key.keys().copied().collect();
    for p in &payouts {
        if p.status == "succeeded" {
            keys.insert((p.provider.as_str(), fake_side_key(p)));
        }
    }
    let mut keys: Vec<_> = keys.into_iter().collect();
    keys.sort();
    for (provider, key) in keys {
        let moved = moved_per_key
            .get(&(provider, key))
            .copied()
            .unwrap_or_default();
        let rows = by_key.get(&(provider, key)).cloned().unwrap_or_default();
        let recorded: Decimal = rows
            .iter()
            .filter(|p| p.status == "succeeded")
            .map(|p| p.amount)
            .sum();
        if moved != recorded && !named(rows.first().map(|p| p.intent_id.as_str()), &[key]) {
            let statuses: Vec<String> = rows
                .iter()
                .map(|p| format!("{} {} {}", p.kind, p.status, p.amount))
                .collect();
            push(
                &mut out,
                "payout-vs-fake",
                format!(
                    "{provider} key {key}: the fake moved {moved} but malipo records {recorded} succeeded (payouts: {statuses:?}, intent {})",
                    rows.first().map_or("?", |p| p.intent_id.as_str())
                ),
            );
        }
    }
    for intent in &intents {
        let (inn, outt) = (
            money_in
                .get(intent.id.as_str())
                .copied()
                .unwrap_or_default(),
            money_out
                .get(intent.id.as_str())
                .copied()
                .unwrap_or_default(),
        );
        if outt > inn {
            push(
                &mut out,
                "out-exceeds-in",
                format!(
                    "intent {} ({}, {}): {outt} paid out at the fakes for {inn} paid in",
                    intent.id, intent.provider, intent.status
                ),
            );
        }
    }

    // Each payout's ledger agrees with its status; each initiation happened once.
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
    for p in &payouts {
        let posted = postings.get(&format!("payout:{}:succeeded", p.id));
        let reversed = postings.contains_key(&format!("payout:{}:reversed", p.id));
        let fine = match p.status.as_str() {
            "succeeded" => posted == Some(&p.amount) && !reversed,
            "reversed" => posted == Some(&p.amount) && reversed,
            _ => posted.is_none(),
        };
        if !fine {
            push(
                &mut out,
                "payout-ledger",
                format!(
                    "{} {} payout {} is {} {} but its ledger posting is {:?} (reversed posting: {reversed})",
                    p.provider, p.kind, p.reference, p.status, p.amount, posted
                ),
            );
        }
        let initiations = counters.transfers_for(&p.fake_key());
        let moved = matches!(p.status.as_str(), "succeeded" | "reversed");
        if initiations > 1 || (moved && initiations != 1) {
            push(
                &mut out,
                "payout-initiations",
                format!(
                    "{} {} payout {} ({}) was initiated {initiations} times at the provider",
                    p.provider, p.kind, p.reference, p.status
                ),
            );
        }
    }

    // Clearing accounts against the fakes' totals.
    for ((provider, currency), (fake_net, ledger_balance)) in clearing_pairs(pool, money).await {
        if fake_net != ledger_balance {
            push(
                &mut out,
                "clearing",
                format!(
                    "clearing:{provider}:{currency} holds {ledger_balance} in the ledger but the fake's in minus out is {fake_net}"
                ),
            );
        }
    }

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
                &mut out,
                "acted-twice",
                format!(
                    "intent {id} was released/refunded {requests} times after {failures} failed refunds"
                ),
            );
        }
    }
    out
}

/// The key this payout's money is filed under at the fake.
fn fake_side_key(p: &PayoutRow) -> &str {
    match (&p.bolt11, &p.refund_of) {
        (Some(bolt11), _) if p.provider == "lightning" => bolt11,
        (_, Some(transaction)) if p.provider == "paystack" && p.kind == "refund" => transaction,
        _ => &p.reference,
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
