//! One buyer-and-marketplace per intent, over the real HTTP front: create (sometimes twice
//! under one key), pay, then release or refund (sometimes racing both, sometimes repeating the
//! key). Requests are retried like a careful client would: same key, through 5xx, 429 and the
//! PostgreSQL outage.

use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

use malipo_sandbox::{ChargeOutcome, FakeProviders, payee_invoice};
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde_json::{Value, json};

/// A client's view of one answer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Whether the `idempotent-replayed` header was set.
    pub replayed: bool,
    /// Raw body.
    pub body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    fn problem_type(&self) -> String {
        self.json()["type"].as_str().unwrap_or_default().to_owned()
    }

    fn in_flight(&self) -> bool {
        self.status == 409 && self.problem_type().contains("idempotency-in-flight")
    }
}

/// The HTTP front, with retries.
pub struct Api {
    base: String,
    key: String,
    http: reqwest::Client,
}

impl Api {
    /// A client of `base` with `key`.
    pub fn new(base: &str, key: &str) -> Self {
        Self {
            base: base.to_owned(),
            key: key.to_owned(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(15))
                .build()
                .expect("client"),
        }
    }

    /// One POST; `None` when no answer came.
    pub async fn post_once(&self, path: &str, body: &Value, key: &str) -> Option<Answer> {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .header("content-type", "application/json")
            .header("idempotency-key", key)
            .body(body.to_string())
            .send()
            .await
            .ok()?;
        let status = response.status().as_u16();
        let replayed = response.headers().contains_key("idempotent-replayed");
        let body = response.bytes().await.ok()?.to_vec();
        Some(Answer {
            status,
            replayed,
            body,
        })
    }

    /// POSTs until a conclusive answer (not 5xx, 429 or in-flight), for up to 100 s — longer
    /// than an abandoned idempotency key takes to free itself.
    pub async fn post(&self, path: &str, body: &Value, key: &str) -> Answer {
        let deadline = Instant::now() + Duration::from_secs(100);
        loop {
            let answer = self.post_once(path, body, key).await;
            let retry = match &answer {
                None => true,
                Some(a) => a.status >= 500 || a.status == 429 || a.in_flight(),
            };
            if !retry || Instant::now() > deadline {
                return answer.unwrap_or(Answer {
                    status: 0,
                    replayed: false,
                    body: Vec::new(),
                });
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// The intent, or `None` if it could not be read right now.
    pub async fn get(&self, id: &str) -> Option<Value> {
        let response = self
            .http
            .get(format!("{}/v1/intents/{id}", self.base))
            .bearer_auth(&self.key)
            .send()
            .await
            .ok()?;
        if !response.status().is_success() {
            return None;
        }
        response.json().await.ok()
    }
}

/// Tallies of what the drivers did, and any broken promise they saw.
#[derive(Debug, Default)]
pub struct Tally {
    /// Intents created.
    pub created: u32,
    /// Creates repeated under the same key (and replayed).
    pub create_replays: u32,
    /// Deposits paid by the test (Paystack checkout, Lightning invoice).
    pub paid: u32,
    /// Releases / refunds accepted (202).
    pub releases: u32,
    /// Refunds accepted.
    pub refunds: u32,
    /// Release-vs-refund races run (exactly one must win).
    pub races: u32,
    /// Repeated-key requests answered by a replay.
    pub action_replays: u32,
    /// Repeated-key requests answered "in flight".
    pub action_in_flight: u32,
    /// Intents whose driver ran out of time (finished after the storm).
    pub unfinished: u32,
    /// Their ids: the client acts on them when they become held after the storm.
    pub unfinished_ids: Vec<String>,
    /// Broken promises.
    pub violations: Vec<String>,
}

/// What drivers share.
pub struct Ctx<'a> {
    /// HTTP front.
    pub api: &'a Api,
    /// The fakes (buyers pay here).
    pub fakes: &'a FakeProviders,
    /// Paystack recipients.
    pub recipients: &'a [String],
    /// Results.
    pub tally: &'a Mutex<Tally>,
    /// Seed of the run.
    pub seed: u64,
    /// How long one driver may take.
    pub patience: Duration,
}

impl Ctx<'_> {
    fn note(&self, edit: impl FnOnce(&mut Tally)) {
        edit(&mut self.tally.lock().unwrap_or_else(|e| e.into_inner()));
    }

    fn violation(&self, text: String) {
        self.note(|t| t.violations.push(text));
    }
}

/// Which provider intent `n` uses: 40% M-Pesa, 35% Paystack, 20% Lightning, 5% Fincra
/// checkout (paid out to a Nigerian bank through Fincra). One M-Pesa intent in eight and one
/// Paystack intent in seven pay their payee out through Fincra (an M-Pesa wallet, a bank
/// account): see [`fincra_payee`].
pub fn provider_for(n: usize) -> &'static str {
    match n % 20 {
        0..8 => "mpesa",
        8..15 => "paystack",
        19 => "fincra",
        _ => "lightning",
    }
}

/// Whether intent `n`'s payee is paid through Fincra (10% of all intents).
pub fn fincra_payee(n: usize) -> bool {
    matches!(n % 20, 7 | 14)
}

fn intent_body(n: usize, rng: &mut StdRng, recipients: &[String]) -> Value {
    let mut body = base_intent_body(n, rng, recipients);
    if fincra_payee(n) {
        body["payee"]["payout"] = match provider_for(n) {
            "mpesa" => {
                json!({"provider": "fincra", "destination": "mobile_money", "msisdn": "254700000002"})
            }
            _ => json!({"provider": "fincra", "destination": "bank_account", "bank_code": "058",
                "account_number": "0124775489", "account_name": "Chaos Seller"}),
        };
    }
    body
}

fn base_intent_body(n: usize, rng: &mut StdRng, recipients: &[String]) -> Value {
    let reference = format!("chaos-{n}");
    match provider_for(n) {
        "mpesa" => {
            json!({"amount": rng.random_range(100..5000).to_string(), "currency": "KES", "provider": "mpesa",
            "buyer": {"msisdn": "254708374149"}, "reference": reference,
            "payee": {"id": format!("seller-{}", n % 50), "payout": {"provider": "mpesa", "msisdn": "254700000001"}}, "commission_bps": 1000})
        }
        "fincra" => {
            json!({"amount": format!("{}.00", rng.random_range(1000..90000)), "currency": "NGN", "provider": "fincra",
            "buyer": {"email": format!("buyer{n}@example.com")}, "reference": reference,
            "payee": {"id": format!("seller-{}", n % 50), "payout": {"provider": "fincra", "destination": "bank_account",
                "bank_code": "058", "account_number": "0124775489", "account_name": "Chaos Seller"}}, "commission_bps": 250})
        }
        "paystack" => {
            json!({"amount": format!("{}.00", rng.random_range(1000..90000)), "currency": "NGN", "provider": "paystack",
            "buyer": {"email": format!("buyer{n}@example.com")}, "reference": reference,
            "payee": {"id": format!("seller-{}", n % 50), "payout": {"provider": "paystack", "recipient_code": recipients[n % recipients.len()]}}, "commission_bps": 250})
        }
        _ => {
            json!({"amount": rng.random_range(1000..50000).to_string(), "currency": "SAT", "provider": "lightning",
            "buyer": {}, "reference": reference,
            "payee": {"id": format!("seller-{}", n % 50), "payout": {"provider": "lightning"}}, "commission_bps": 0})
        }
    }
}

/// Drives intent `n` until it is released or refunded (or its driver's patience runs out).
/// Returns its id once created.
pub async fn drive(ctx: &Ctx<'_>, n: usize) -> Option<String> {
    if let Some(scenario) = crate::marketplace::scenario(n) {
        return crate::marketplace::drive(ctx, n, scenario).await;
    }
    let mut rng = StdRng::seed_from_u64(ctx.seed ^ (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let body = intent_body(n, &mut rng, ctx.recipients);
    let key = format!("create-{}-{n}", ctx.seed);
    let created = ctx.api.post("/v1/intents", &body, &key).await;
    if created.status != 201 {
        ctx.violation(format!(
            "intent {n}: create answered {} {}",
            created.status,
            String::from_utf8_lossy(&created.body)
        ));
        return None;
    }
    let id = created.json()["id"].as_str()?.to_owned();
    ctx.note(|t| t.created += 1);
    if rng.random_bool(0.1) {
        let again = ctx.api.post("/v1/intents", &body, &key).await;
        if again.status == 201 && again.replayed && again.json()["id"] == id.as_str() {
            ctx.note(|t| t.create_replays += 1);
        } else {
            ctx.violation(format!(
                "intent {n}: a repeated create key did not replay: {} replayed={} {}",
                again.status,
                again.replayed,
                String::from_utf8_lossy(&again.body)
            ));
        }
    }

    let deadline = Instant::now() + ctx.patience;
    let mut paid = false;
    let mut awaiting_since = None;
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let Some(intent) = ctx.api.get(&id).await else {
            continue;
        };
        match intent["status"].as_str().unwrap_or_default() {
            "awaiting_payment" if !paid => paid = pay(ctx, &intent),
            // An STK callback that never came: the workers' reconciliation finds the payment
            // (every 20 s in this stack); past 30 s, the client comes back after the storm.
            "awaiting_payment"
                if awaiting_since.get_or_insert_with(Instant::now).elapsed()
                    > Duration::from_secs(30) =>
            {
                break;
            }
            "held" => {
                act(ctx, &id, &intent, &mut rng).await;
                return Some(id);
            }
            "failed" | "expired" | "cancelled" => return Some(id),
            _ => {}
        }
    }
    ctx.note(|t| {
        t.unfinished += 1;
        t.unfinished_ids.push(id.clone());
    });
    Some(id)
}

/// The buyer pays (M-Pesa buyers pay by themselves: the STK push is answered by the fake).
/// Returns whether the payment was made (or is not ours to make).
pub fn pay(ctx: &Ctx<'_>, intent: &Value) -> bool {
    let action = &intent["next_action"];
    let done = match intent["provider"].as_str() {
        Some("paystack") => action["reference"].as_str().is_some_and(|r| {
            ctx.fakes
                .paystack_complete_charge(r, ChargeOutcome::Success)
                .is_ok()
        }),
        Some("lightning") => action["payment_hash"]
            .as_str()
            .is_some_and(|h| ctx.fakes.lnbits_pay_invoice(h).is_ok()),
        Some("fincra") => action["reference"]
            .as_str()
            .is_some_and(|r| ctx.fakes.fincra_pay_checkout(r, None, true).is_ok()),
        _ => return true,
    };
    if done {
        ctx.note(|t| t.paid += 1);
    }
    done
}

/// The release (or refund) request body for a held intent.
pub fn action_body(intent: &Value) -> Value {
    if intent["provider"] == "lightning" {
        let sats = intent["amount"]
            .as_str()
            .and_then(|a| a.split('.').next()?.parse::<u64>().ok())
            .unwrap_or(1);
        // No commission on SAT intents: payee or buyer gets the whole amount.
        json!({"bolt11": payee_invoice(sats)})
    } else {
        json!({})
    }
}

/// Releases or refunds a held intent (sometimes racing both, sometimes repeating the key).
pub async fn act(ctx: &Ctx<'_>, id: &str, intent: &Value, rng: &mut StdRng) {
    let mut roll: f64 = rng.random();
    // Fincra collections cannot be refunded through malipo (409): they are only released.
    if intent["provider"] == "fincra" {
        roll *= 0.6;
    }
    if roll >= 0.9 {
        race(ctx, id, intent).await;
        return;
    }
    let action = if roll < 0.6 { "release" } else { "refund" };
    let path = format!("/v1/intents/{id}/{action}");
    let body = action_body(intent);
    let key = format!("{action}-{id}");
    let first = ctx.api.post(&path, &body, &key).await;
    if first.status != 202 {
        ctx.violation(format!(
            "{action} of held intent {id} answered {} {}",
            first.status,
            String::from_utf8_lossy(&first.body)
        ));
        return;
    }
    ctx.note(|t| match action {
        "release" => t.releases += 1,
        _ => t.refunds += 1,
    });
    if rng.random_bool(0.25) {
        // Two concurrent repeats, then one after: each replays the first answer (or, while
        // the first is still being answered, says so); none acts again.
        let (a, b) = tokio::join!(
            ctx.api.post_once(&path, &body, &key),
            ctx.api.post_once(&path, &body, &key)
        );
        let c = ctx.api.post_once(&path, &body, &key).await;
        for repeat in [a, b, c].into_iter().flatten() {
            check_repeat(ctx, id, &first, &repeat);
        }
    }
}

fn check_repeat(ctx: &Ctx<'_>, id: &str, first: &Answer, repeat: &Answer) {
    if repeat.replayed && repeat.status == first.status && repeat.body == first.body {
        ctx.note(|t| t.action_replays += 1);
    } else if repeat.in_flight() {
        ctx.note(|t| t.action_in_flight += 1);
    } else if repeat.status >= 500 {
        // The outage answered; the key was not consumed by it.
    } else {
        ctx.violation(format!(
            "intent {id}: a repeated key answered {} replayed={} {} instead of replaying {}",
            repeat.status,
            repeat.replayed,
            String::from_utf8_lossy(&repeat.body),
            first.status
        ));
    }
}

/// Release and refund at once, under different keys: exactly one may win.
async fn race(ctx: &Ctx<'_>, id: &str, intent: &Value) {
    ctx.note(|t| t.races += 1);
    let release_body = action_body(intent);
    let refund_body = action_body(intent);
    let release_path = format!("/v1/intents/{id}/release");
    let refund_path = format!("/v1/intents/{id}/refund");
    let release_key = format!("race-release-{id}");
    let refund_key = format!("race-refund-{id}");
    let (release, refund) = tokio::join!(
        ctx.api.post(&release_path, &release_body, &release_key),
        ctx.api.post(&refund_path, &refund_body, &refund_key),
    );
    let won = [&release, &refund]
        .iter()
        .filter(|a| a.status == 202)
        .count();
    let lost = [&release, &refund]
        .iter()
        .filter(|a| a.status == 409)
        .count();
    if won == 2 && refund_failed_between(ctx, id).await {
        // The refund won, its failure was confirmed (the money is held again), and the
        // release, still retrying through faults, then found the intent held: both were right.
        ctx.note(|t| {
            t.releases += 1;
            t.refunds += 1;
        });
    } else if won != 1 || lost != 1 {
        ctx.violation(format!(
            "intent {id}: release/refund race answered {} and {} (exactly one 202 expected)",
            release.status, refund.status
        ));
    } else if release.status == 202 {
        ctx.note(|t| t.releases += 1);
    } else {
        ctx.note(|t| t.refunds += 1);
    }
}

/// Whether the intent's history shows a refund that failed (confirmed) before a release was
/// asked: the one way a release may follow an accepted refund.
async fn refund_failed_between(ctx: &Ctx<'_>, id: &str) -> bool {
    let Some(intent) = ctx.api.get(id).await else {
        return false;
    };
    let types: Vec<&str> = intent["events"]
        .as_array()
        .map(|events| events.iter().filter_map(|e| e["type"].as_str()).collect())
        .unwrap_or_default();
    let position = |name: &str| types.iter().position(|t| *t == name);
    matches!(
        (position("refund_failed"), types.iter().rposition(|t| *t == "release_requested")),
        (Some(failed), Some(release)) if failed < release
    )
}

/// Intent `n`'s create body, for the marketplace scenarios (`marketplace.rs`) to shape.
pub fn body_for(n: usize, rng: &mut StdRng, recipients: &[String]) -> Value {
    intent_body(n, rng, recipients)
}
