//! The marketplace part of the storm: milestones, releases in parts, disputes (withdrawn, or
//! resolved by an operator with a split), automatic-release timers due in seconds, payees paid
//! through the client's balance, and collections withdrawn from the balance — two withdrawals
//! at once that together may overdraw it. Every answer must be one the API promises; what
//! breaks a promise is a violation in the run's tally.

use std::{
    sync::{
        OnceLock,
        atomic::{AtomicU32, Ordering},
    },
    time::{Duration, Instant},
};

use malipo_sandbox::payee_invoice;
use rand::{Rng, SeedableRng, rngs::StdRng};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::driver::{self, Answer, Api, Ctx};

/// What a marketplace intent goes through once held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// Two milestones at creation: the first released (and refused a second time), then the
    /// second released or the rest refunded.
    Milestones,
    /// A part by amount, then the rest released or refunded.
    PartThenRest,
    /// Disputed (release refused), withdrawn, then released.
    DisputeWithdrawn,
    /// Disputed, then resolved by an operator: part released, the rest refunded.
    DisputeResolved,
    /// An automatic release a few seconds away; nobody else acts.
    AutoRelease,
    /// The payee's share settles into the client's balance, in one or two parts.
    BalancePayee,
    /// No payee: settles into the balance, then two concurrent withdrawals.
    Collection,
}

/// The scenario intent `n` follows, if any: half the intents, each scenario on every provider
/// (the provider is `n % 20`, the scenario `(n / 20) % 14`), except Fincra's.
pub fn scenario(n: usize) -> Option<Scenario> {
    // Fincra payees keep their own path; Fincra collections cannot be refunded (malipo has no
    // Fincra refund), and most scenarios refund a part.
    if driver::fincra_payee(n) || driver::provider_for(n) == "fincra" {
        return None;
    }
    let lightning = driver::provider_for(n) == "lightning";
    match (n / 20) % 14 {
        0 => Some(Scenario::Milestones),
        1 => Some(Scenario::PartThenRest),
        2 => Some(Scenario::DisputeWithdrawn),
        3 => Some(Scenario::DisputeResolved),
        4 => Some(Scenario::AutoRelease),
        // A late Lightning release after the storm (settle's `act`) sends an invoice, which a
        // balance payee refuses: the flow tests cover Lightning balance payees instead.
        5 if !lightning => Some(Scenario::BalancePayee),
        6 => Some(Scenario::Collection),
        _ => None,
    }
}

/// Counts of what the scenarios did, for the summary.
#[derive(Debug, Default)]
pub struct Counts {
    milestones: AtomicU32,
    milestone_twice_refused: AtomicU32,
    parts: AtomicU32,
    disputes: AtomicU32,
    disputes_withdrawn: AtomicU32,
    disputes_resolved: AtomicU32,
    blocked_while_disputed: AtomicU32,
    timers: AtomicU32,
    balance_payees: AtomicU32,
    collections: AtomicU32,
    withdrawals: AtomicU32,
    overdrafts_refused: AtomicU32,
}

struct Shared {
    operator: Api,
    client: reqwest::Client,
    base: String,
    key: String,
    counts: Counts,
}

static SHARED: OnceLock<Shared> = OnceLock::new();

/// Makes an operator key (for dispute resolutions) and remembers where the front is; called
/// once before the storm.
pub async fn install(pool: &sqlx::PgPool, base: &str, client_key: &str) {
    let operator = malipo::clients::create(pool, "chaos-operator", "operator", 0)
        .await
        .expect("operator key");
    let _ = SHARED.set(Shared {
        operator: Api::new(base, &operator.key),
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .build()
            .expect("client"),
        base: base.to_owned(),
        key: client_key.to_owned(),
        counts: Counts::default(),
    });
}

fn shared() -> &'static Shared {
    SHARED
        .get()
        .expect("marketplace::install runs before the storm")
}

fn count(pick: impl Fn(&Counts) -> &AtomicU32) {
    pick(&shared().counts).fetch_add(1, Ordering::Relaxed);
}

/// One summary line.
pub fn summary() -> String {
    let Some(shared) = SHARED.get() else {
        return String::new();
    };
    let c = &shared.counts;
    let n = |a: &AtomicU32| a.load(Ordering::Relaxed);
    format!(
        "  marketplace: {} milestone intents ({} repeats refused), {} parts by amount, {} disputes ({} withdrawn, {} resolved, {} release/refund refused while disputed), {} auto-release timers, {} balance payees, {} collections, {} withdrawals accepted, {} refused as overdrafts\n",
        n(&c.milestones),
        n(&c.milestone_twice_refused),
        n(&c.parts),
        n(&c.disputes),
        n(&c.disputes_withdrawn),
        n(&c.disputes_resolved),
        n(&c.blocked_while_disputed),
        n(&c.timers),
        n(&c.balance_payees),
        n(&c.collections),
        n(&c.withdrawals),
        n(&c.overdrafts_refused)
    )
}

fn violation(ctx: &Ctx<'_>, text: String) {
    ctx.tally
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .violations
        .push(text);
}

fn json_of(answer: &Answer) -> Value {
    serde_json::from_slice(&answer.body).unwrap_or(Value::Null)
}

fn decimal(value: &Value) -> Decimal {
    value
        .as_str()
        .and_then(|text| text.parse().ok())
        .unwrap_or_default()
}

/// A part of `amount` in the intent's unit: whole shillings and satoshis, kobo for NGN.
fn part_of(amount: Decimal, currency: &str, rng: &mut StdRng) -> Decimal {
    let share = Decimal::new(rng.random_range(20..80), 2);
    let places = if currency == "NGN" { 2 } else { 0 };
    let part =
        (amount * share).round_dp_with_strategy(places, rust_decimal::RoundingStrategy::ToZero);
    let unit = Decimal::new(1, places);
    part.max(unit).min(amount - unit)
}

fn text(amount: Decimal, currency: &str) -> String {
    if currency == "NGN" {
        format!("{:.2}", amount)
    } else {
        amount.trunc().to_string()
    }
}

/// Drives intent `n` through `scenario`. Returns its id once created.
pub async fn drive(ctx: &Ctx<'_>, n: usize, scenario: Scenario) -> Option<String> {
    let mut rng = StdRng::seed_from_u64(ctx.seed ^ (n as u64).wrapping_mul(0x2545_f491_4f6c_dd1d));
    let mut body = driver::body_for(n, &mut rng, ctx.recipients);
    let amount = decimal(&body["amount"]);
    let currency = body["currency"].as_str().unwrap_or_default().to_owned();
    let lightning = body["provider"] == "lightning";
    match scenario {
        Scenario::Milestones => {
            let first = part_of(amount, &currency, &mut rng);
            body["milestones"] = json!([
                {"id": "m1", "amount": text(first, &currency)},
                {"id": "m2", "amount": text(amount - first, &currency)}
            ]);
        }
        // An automatic release pays the invoice on file (no commission on SAT intents).
        Scenario::AutoRelease if lightning => {
            body["payee"]["payout"]["bolt11"] = json!(payee_invoice(amount_sats(amount)));
        }
        Scenario::BalancePayee => body["payee"]["payout"] = json!({"provider": "balance"}),
        Scenario::Collection => {
            body.as_object_mut().map(|o| o.remove("payee"));
        }
        _ => {}
    }
    let key = format!("create-{}-{n}", ctx.seed);
    let created = ctx.api.post("/v1/intents", &body, &key).await;
    if created.status != 201 {
        violation(
            ctx,
            format!(
                "marketplace intent {n} ({scenario:?}): create answered {} {}",
                created.status,
                String::from_utf8_lossy(&created.body)
            ),
        );
        return None;
    }
    let id = json_of(&created)["id"].as_str()?.to_owned();
    ctx.tally.lock().unwrap_or_else(|e| e.into_inner()).created += 1;

    let deadline = Instant::now() + ctx.patience;
    let mut paid = false;
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let Some(intent) = ctx.api.get(&id).await else {
            continue;
        };
        match intent["status"].as_str().unwrap_or_default() {
            "awaiting_payment" if !paid => paid = driver::pay(ctx, &intent),
            "held" => {
                act(ctx, &id, &intent, scenario, &mut rng).await;
                return Some(id);
            }
            "settled" if scenario == Scenario::Collection => {
                count(|c| &c.collections);
                withdraw_twice(ctx, &id, &intent, &mut rng).await;
                return Some(id);
            }
            "failed" | "expired" | "cancelled" | "settled" => return Some(id),
            _ => {}
        }
    }
    // Still unpaid (a callback that never came): the client acts after the storm, plainly.
    let mut tally = ctx.tally.lock().unwrap_or_else(|e| e.into_inner());
    tally.unfinished += 1;
    tally.unfinished_ids.push(id.clone());
    Some(id)
}

fn amount_sats(amount: Decimal) -> u64 {
    amount.trunc().to_string().parse().unwrap_or(1)
}

/// A release or refund body: Lightning parts carry an invoice for exactly the part (SAT
/// intents take no commission here, so the payee's share is the part).
fn with_invoice(lightning: bool, mut body: Value, sats: Decimal) -> Value {
    if lightning {
        body["bolt11"] = json!(payee_invoice(amount_sats(sats)));
    }
    body
}

async fn post(ctx: &Ctx<'_>, id: &str, what: &str, body: &Value, key: &str) -> Answer {
    ctx.api
        .post(&format!("/v1/intents/{id}/{what}"), body, key)
        .await
}

fn expect(ctx: &Ctx<'_>, id: &str, step: &str, answer: &Answer, statuses: &[u16]) -> bool {
    if statuses.contains(&answer.status) {
        return true;
    }
    violation(
        ctx,
        format!(
            "intent {id}: {step} answered {} {} (expected {statuses:?})",
            answer.status,
            String::from_utf8_lossy(&answer.body)
        ),
    );
    false
}

async fn act(ctx: &Ctx<'_>, id: &str, intent: &Value, scenario: Scenario, rng: &mut StdRng) {
    let amount = decimal(&intent["amount"]);
    let currency = intent["currency"].as_str().unwrap_or_default().to_owned();
    let lightning = intent["provider"] == "lightning";
    // Lightning parts carry invoices only when the payee is paid by Lightning.
    let invoices = lightning && intent["payee"]["payout"]["provider"] == "lightning";
    match scenario {
        Scenario::Milestones => {
            count(|c| &c.milestones);
            let first = milestone_amount(intent, "m1");
            let body = with_invoice(invoices, json!({"milestone": "m1"}), first);
            let answer = post(ctx, id, "release", &body, &format!("m1-{id}")).await;
            if !expect(ctx, id, "release of milestone m1", &answer, &[202]) {
                return;
            }
            let again = post(ctx, id, "release", &body, &format!("m1-again-{id}")).await;
            if expect(ctx, id, "a second release of milestone m1", &again, &[409]) {
                count(|c| &c.milestone_twice_refused);
            }
            finish(
                ctx,
                id,
                invoices,
                lightning,
                amount - first,
                "milestone m2",
                rng,
            )
            .await;
        }
        Scenario::PartThenRest | Scenario::BalancePayee => {
            if scenario == Scenario::BalancePayee {
                count(|c| &c.balance_payees);
                if rng.random_bool(0.5) {
                    let whole = post(ctx, id, "release", &json!({}), &format!("whole-{id}")).await;
                    expect(ctx, id, "release to the balance", &whole, &[202]);
                    return;
                }
            }
            count(|c| &c.parts);
            let part = part_of(amount, &currency, rng);
            let body = with_invoice(invoices, json!({"amount": text(part, &currency)}), part);
            let answer = post(ctx, id, "release", &body, &format!("part-{id}")).await;
            if expect(ctx, id, "release of a part", &answer, &[202]) {
                finish(ctx, id, invoices, lightning, amount - part, "rest", rng).await;
            }
        }
        Scenario::DisputeWithdrawn | Scenario::DisputeResolved => {
            count(|c| &c.disputes);
            let opened = post(
                ctx,
                id,
                "dispute",
                &json!({"reason": "chaos buyer complains"}),
                &format!("dispute-{id}"),
            )
            .await;
            if !expect(ctx, id, "dispute", &opened, &[200]) {
                return;
            }
            let blocked = post(
                ctx,
                id,
                "release",
                &with_invoice(invoices, json!({}), amount),
                &format!("blocked-{id}"),
            )
            .await;
            if expect(ctx, id, "release while disputed", &blocked, &[409]) {
                count(|c| &c.blocked_while_disputed);
            }
            if scenario == Scenario::DisputeWithdrawn {
                let withdrawn = post(
                    ctx,
                    id,
                    "dispute",
                    &json!({"withdraw": true}),
                    &format!("withdraw-{id}"),
                )
                .await;
                if !expect(ctx, id, "dispute withdrawal", &withdrawn, &[200]) {
                    return;
                }
                count(|c| &c.disputes_withdrawn);
                let release = post(
                    ctx,
                    id,
                    "release",
                    &with_invoice(invoices, json!({}), amount),
                    &format!("after-dispute-{id}"),
                )
                .await;
                expect(ctx, id, "release after the dispute", &release, &[202]);
            } else {
                resolve(ctx, id, amount, &currency, invoices, lightning, rng).await;
            }
        }
        Scenario::AutoRelease => {
            // A few seconds ahead; a request retried through the storm for longer than that
            // finds its time past (422 naming `at`) and asks again with a fresh one.
            for attempt in 0..5 {
                let at = chrono::Utc::now()
                    + chrono::Duration::milliseconds(rng.random_range(3_000..8_000));
                let set = post(
                    ctx,
                    id,
                    "auto_release",
                    &json!({"at": at.to_rfc3339()}),
                    &format!("timer-{attempt}-{id}"),
                )
                .await;
                let past = set.status == 422
                    && String::from_utf8_lossy(&set.body).contains("must be in the future");
                if !past {
                    if expect(ctx, id, "auto_release", &set, &[200]) {
                        count(|c| &c.timers);
                    }
                    return;
                }
            }
            violation(
                ctx,
                format!("intent {id}: auto_release refused five fresh times as past"),
            );
        }
        Scenario::Collection => {}
    }
}

fn milestone_amount(intent: &Value, name: &str) -> Decimal {
    intent["milestones"]
        .as_array()
        .and_then(|all| all.iter().find(|m| m["id"] == name))
        .map(|m| decimal(&m["amount"]))
        .unwrap_or_default()
}

/// Releases what is left (`rest`, by milestone `m2` for milestone intents) or refunds it.
async fn finish(
    ctx: &Ctx<'_>,
    id: &str,
    invoices: bool,
    lightning: bool,
    rest: Decimal,
    what: &str,
    rng: &mut StdRng,
) {
    let release = rng.random_bool(0.5);
    let (action, body) = if release {
        let body = if what == "milestone m2" {
            json!({"milestone": "m2"})
        } else {
            json!({})
        };
        ("release", with_invoice(invoices, body, rest))
    } else {
        // A Lightning buyer is refunded to an invoice of their own for what is left.
        ("refund", with_invoice(lightning, json!({}), rest))
    };
    let answer = post(ctx, id, action, &body, &format!("{action}-rest-{id}")).await;
    expect(ctx, id, &format!("{action} of the {what}"), &answer, &[202]);
}

/// The operator splits the dispute: part to the payee, the rest back to the buyer.
async fn resolve(
    ctx: &Ctx<'_>,
    id: &str,
    amount: Decimal,
    currency: &str,
    invoices: bool,
    lightning: bool,
    rng: &mut StdRng,
) {
    let release = part_of(amount, currency, rng);
    let refund = amount - release;
    let mut body = json!({"release": text(release, currency), "refund": text(refund, currency),
                          "note": "chaos split"});
    if invoices {
        body["release_bolt11"] = json!(payee_invoice(amount_sats(release)));
    }
    if lightning {
        body["refund_bolt11"] = json!(payee_invoice(amount_sats(refund)));
    }
    let path = format!("/ops/intents/{id}/resolve");
    let answer = shared()
        .operator
        .post(&path, &body, &format!("resolve-{id}"))
        .await;
    // A resolution whose answer was lost (the front killed) and was asked again finds the
    // intent no longer disputed: 409, with the dispute resolved once.
    let resolved_before = answer.status == 409
        && ctx
            .api
            .get(id)
            .await
            .is_some_and(|intent| intent["status"] != "disputed");
    if answer.status == 200 || resolved_before {
        count(|c| &c.disputes_resolved);
    } else {
        expect(ctx, id, "operator resolution", &answer, &[200]);
    }
}

async fn balances(currency: &str) -> Option<Decimal> {
    let shared = shared();
    let rows: Value = shared
        .client
        .get(format!("{}/v1/balances", shared.base))
        .bearer_auth(&shared.key)
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    rows.as_array()?
        .iter()
        .find(|row| row["currency"] == currency)
        .map(|row| decimal(&row["available"]))
}

/// Two withdrawals at once, each of 60% of what the balance shows: together they may overdraw
/// it (every chaos intent shares one client's balance, so others move it too). Each must be
/// accepted, or refused as an overdraft naming what is available — never both taken past zero
/// (the database's check; the verdict counts the balance).
async fn withdraw_twice(ctx: &Ctx<'_>, id: &str, intent: &Value, rng: &mut StdRng) {
    let currency = intent["currency"].as_str().unwrap_or_default().to_owned();
    let Some(available) = balances(&currency).await else {
        return;
    };
    let places = if currency == "NGN" { 2 } else { 0 };
    let each = (available * Decimal::new(6, 1))
        .round_dp_with_strategy(places, rust_decimal::RoundingStrategy::ToZero);
    if each < Decimal::from(20) {
        return;
    }
    let recipient = ctx.recipients[rng.random_range(0..ctx.recipients.len())].clone();
    let destination = |amount: Decimal| match currency.as_str() {
        "KES" => json!({"provider": "mpesa", "msisdn": "254700000002"}),
        "SAT" => json!({"provider": "lightning", "bolt11": payee_invoice(amount_sats(amount))}),
        _ => json!({"provider": "paystack", "recipient_code": recipient}),
    };
    let body = |n: u32| {
        json!({"amount": text(each, &currency), "currency": currency, "destination": destination(each),
               "reference": format!("w-{id}-{n}"), "metadata": {"intent": id}})
    };
    let (first, second) = (body(1), body(2));
    let (first_key, second_key) = (format!("w1-{id}"), format!("w2-{id}"));
    let (a, b) = tokio::join!(
        ctx.api.post("/v1/payouts", &first, &first_key),
        ctx.api.post("/v1/payouts", &second, &second_key)
    );
    for answer in [a, b] {
        match answer.status {
            201 => count(|c| &c.withdrawals),
            422 if String::from_utf8_lossy(&answer.body).contains("available") => {
                count(|c| &c.overdrafts_refused);
            }
            _ => violation(
                ctx,
                format!(
                    "withdrawal after collection {id} answered {} {}",
                    answer.status,
                    String::from_utf8_lossy(&answer.body)
                ),
            ),
        }
    }
}
