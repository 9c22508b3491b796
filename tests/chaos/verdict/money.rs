//! The money rules on money in and out: charges against intents, transfers against payouts,
//! out ≤ in per intent — all counted at the fakes' own book.

use std::collections::{BTreeMap, HashMap, HashSet};

use malipo::db::ledger;
use malipo_sandbox::{CountersSnapshot, MoneyMovement, MoneySnapshot};
use rust_decimal::Decimal;
use sqlx::PgPool;

use super::{Violation, discrepancies, push};

/// A fake's provider name as malipo's `provider` column spells it.
fn db_provider(movement: &MoneyMovement) -> &'static str {
    match movement.channel.provider().name() {
        "lnbits" => "lightning",
        "paystack" => "paystack",
        "fincra" => "fincra",
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
pub(super) struct PayoutRow {
    pub(super) id: String,
    /// None for a withdrawal from a client's balance.
    pub(super) intent_id: Option<String>,
    pub(super) provider: String,
    pub(super) kind: String,
    pub(super) status: String,
    pub(super) amount: Decimal,
    pub(super) reference: String,
    pub(super) bolt11: Option<String>,
    pub(super) refund_of: Option<String>,
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
    pub(super) fn fake_key(&self) -> String {
        match (&self.bolt11, &self.refund_of) {
            (Some(bolt11), _) if self.provider == "lightning" => bolt11.clone(),
            (_, Some(transaction)) if self.provider == "paystack" && self.kind == "refund" => {
                malipo_sandbox::refund_key(transaction)
            }
            _ => self.reference.clone(),
        }
    }
}

/// What malipo recorded: intents, payouts and discrepancies.
pub(super) struct Books {
    intents: Vec<IntentRow>,
    pub(super) payouts: Vec<PayoutRow>,
    /// `(intent, evidence as text)` of every discrepancy.
    flagged: Vec<(Option<String>, String)>,
    /// Paybill receipts malipo placed with an intent (Pull matched them by the account number
    /// malipo issued: the STK push whose answer was lost, a payment by Paybill): receipt → intent.
    placed: HashMap<String, String>,
}

/// Intents by `(provider, deposit key)`.
type ByDeposit<'a> = HashMap<(&'a str, &'a str), &'a IntentRow>;
/// Payouts by `(provider, any key a fake may know them by)`.
type ByKey<'a> = HashMap<(&'a str, &'a str), Vec<&'a PayoutRow>>;

impl Books {
    async fn load(pool: &PgPool) -> Self {
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
            Option<String>,
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
            |(id, intent_id, provider, kind, status, amount, reference, bolt11, refund_of)| {
                PayoutRow {
                    id,
                    intent_id,
                    provider,
                    kind,
                    status,
                    amount,
                    reference,
                    bolt11,
                    refund_of,
                }
            },
        )
        .collect();
        let placed = sqlx::query_as::<_, (String, String)>(
            "SELECT receipt, intent_id::text FROM unmatched_payments
              WHERE intent_id IS NOT NULL AND resolution IN ('credited', 'own_payment')",
        )
        .fetch_all(pool)
        .await
        .expect("placed payments")
        .into_iter()
        .collect();
        Self {
            intents,
            payouts,
            flagged: discrepancies(pool).await,
            placed,
        }
    }

    /// Whether a discrepancy names `intent` or carries one of `keys` in its evidence.
    fn named(&self, intent: Option<&str>, keys: &[&str]) -> bool {
        self.flagged.iter().any(|(id, evidence)| {
            intent.is_some_and(|i| id.as_deref() == Some(i))
                || keys.iter().any(|k| !k.is_empty() && evidence.contains(k))
        })
    }

    /// The intent of a discrepancy whose evidence carries one of `keys`.
    fn intent_named_by(&self, keys: &[&str]) -> Option<&str> {
        self.flagged.iter().find_map(|(id, evidence)| {
            keys.iter()
                .any(|k| !k.is_empty() && evidence.contains(k))
                .then_some(id.as_deref())
                .flatten()
        })
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
    let books = Books::load(pool).await;
    let by_deposit: ByDeposit<'_> = books
        .intents
        .iter()
        .filter_map(|i| Some(((i.provider.as_str(), i.provider_reference.as_deref()?), i)))
        .collect();
    let by_key: ByKey<'_> = books.payouts.iter().fold(HashMap::new(), |mut map, p| {
        for key in p.keys() {
            map.entry((p.provider.as_str(), key)).or_default().push(p);
        }
        map
    });
    let money_in = charges(&books, &by_deposit, money, &mut out);
    let money_out = transfers(&books, &by_key, money, &mut out);
    out_exceeds_in(&books, &money_in, &money_out, &mut out);
    prompted_twice(counters, &mut out);
    super::ledger::payouts(pool, &books.payouts, counters, &mut out).await;
    super::ledger::clearing(pool, money, &mut out).await;
    super::ledger::acted_twice(pool, &mut out).await;
    out
}

/// An STK push has no key a second one could be recognised by: a buyer prompted twice for one
/// intent may pay twice, and the prompt malipo did not record is money it cannot place.
fn prompted_twice(counters: &CountersSnapshot, out: &mut Vec<Violation>) {
    for (account, pushes) in &counters.stk_pushes_per_account {
        if *pushes > 1 {
            push(
                out,
                "prompted-twice",
                format!("account number {account} was sent {pushes} STK pushes"),
            );
        }
    }
}

/// Money in: every charge belongs to an intent that holds (or held) it, for its amount.
/// Returns the money in per intent.
fn charges<'a>(
    books: &'a Books,
    by_deposit: &ByDeposit<'a>,
    money: &'a MoneySnapshot,
    out: &mut Vec<Violation>,
) -> HashMap<&'a str, Decimal> {
    let mut money_in: HashMap<&str, Decimal> = HashMap::new();
    for charge in money.charges() {
        let provider = db_provider(charge);
        let intent = by_deposit
            .get(&(provider, charge.key.as_str()))
            .copied()
            .or_else(|| {
                // Found by its receipt through the account number instead of its deposit key.
                let placed = books.placed.get(&charge.id)?;
                books.intents.iter().find(|i| &i.id == placed)
            });
        let keys = [charge.key.as_str(), charge.id.as_str()];
        if let Some(intent) = intent {
            *money_in.entry(intent.id.as_str()).or_default() += charge.amount;
        } else if let Some(id) = books.intent_named_by(&keys) {
            // A payment malipo matched to an intent through a discrepancy (a second push, a
            // superseded checkout) counts as that intent's money in.
            *money_in.entry(id).or_default() += charge.amount;
        }
        match intent {
            None if !books.named(None, &keys) => push(
                out,
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
                ) && !books.named(Some(&intent.id), &keys) =>
            {
                push(
                    out,
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
            Some(intent)
                if intent.amount != charge.amount && !books.named(Some(&intent.id), &keys) =>
            {
                push(
                    out,
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

    money_in
}

/// Money out: every transfer is a payout's, and per key the money moved equals the payouts
/// that succeeded. Returns the money out per intent.
fn transfers<'a>(
    books: &'a Books,
    by_key: &ByKey<'a>,
    money: &'a MoneySnapshot,
    out: &mut Vec<Violation>,
) -> HashMap<&'a str, Decimal> {
    let mut moved_per_key: BTreeMap<(&str, &str), Decimal> = BTreeMap::new();
    let mut money_out: HashMap<&str, Decimal> = HashMap::new();
    for transfer in money.transfers() {
        let provider = db_provider(transfer);
        let rows = by_key.get(&(provider, transfer.key.as_str()));
        if rows.is_none() && !books.named(None, &[transfer.key.as_str(), transfer.id.as_str()]) {
            push(
                out,
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
            if let Some(intent) = rows.and_then(|r| r.first()?.intent_id.as_deref()) {
                *money_out.entry(intent).or_default() += transfer.amount;
            }
        }
    }
    let mut keys: HashSet<(&str, &str)> = moved_per_key.keys().copied().collect();
    for p in &books.payouts {
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
        if moved != recorded
            && !books.named(rows.first().and_then(|p| p.intent_id.as_deref()), &[key])
        {
            let statuses: Vec<String> = rows
                .iter()
                .map(|p| format!("{} {} {}", p.kind, p.status, p.amount))
                .collect();
            push(
                out,
                "payout-vs-fake",
                format!(
                    "{provider} key {key}: the fake moved {moved} but malipo records {recorded} succeeded (payouts: {statuses:?}, intent {})",
                    rows.first().map_or("?", |p| p
                        .intent_id
                        .as_deref()
                        .unwrap_or("none: a withdrawal"))
                ),
            );
        }
    }
    money_out
}

/// Per intent, money out at the fakes is at most money in.
fn out_exceeds_in(
    books: &Books,
    money_in: &HashMap<&str, Decimal>,
    money_out: &HashMap<&str, Decimal>,
    out: &mut Vec<Violation>,
) {
    for intent in &books.intents {
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
                out,
                "out-exceeds-in",
                format!(
                    "intent {} ({}, {}): {outt} paid out at the fakes for {inn} paid in",
                    intent.id, intent.provider, intent.status
                ),
            );
        }
    }
}

/// The key this payout's money is filed under at the fake.
fn fake_side_key(p: &PayoutRow) -> &str {
    match (&p.bolt11, &p.refund_of) {
        (Some(bolt11), _) if p.provider == "lightning" => bolt11,
        (_, Some(transaction)) if p.provider == "paystack" && p.kind == "refund" => transaction,
        _ => &p.reference,
    }
}
