//! Releasing escrow, whole or in parts: asking for a release (the client, the automatic release
//! or a dispute's resolution), and posting it — the split into payee share and commission, the
//! ledger posting and the payouts.

use std::collections::HashMap;

use malipo_jobs::ReleaseEscrow;
use serde_json::json;
use sqlx::PgConnection;

use crate::{
    db::{
        balances, intent_notices,
        intents::{self, IntentRecord},
        ledger::{Account, Posting, TransactionKind},
        payouts::{self, NewPayout, PayoutTarget},
        releases::{self, PendingRelease, RecordError, ReleaseSource},
        transitions::transition,
    },
    domain::{
        Currency, IntentMove, IntentNote, IntentStatus, Money, Payee, PayeePayout,
        PayoutDestination, PayoutKind,
        commission::Split,
        format_amount,
        new_intent::invoice_pays,
        release_parts::{PartError, ReleaseTerms},
    },
    notify::event_type,
    queue::{EnqueueOptions, bell::Wake, enqueue},
};

/// Where each currency's commission is paid out (`MALIPO_COMMISSION_PAYOUT_<CURRENCY>`); a
/// currency without one keeps its commission in the platform account.
pub type CommissionDestinations = HashMap<Currency, PayoutDestination>;

/// What is asked to be released.
#[derive(Debug, Clone, Default)]
pub struct ReleaseAsk {
    /// An amount (none: the milestone's, or everything still held).
    pub amount: Option<Money>,
    /// A milestone named at creation.
    pub milestone: Option<String>,
    /// The invoice that pays this part's payee share (Lightning payees).
    pub bolt11: Option<String>,
}

/// Why a release cannot be asked for; each names what the caller must change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Only `held` intents release.
    #[error("cannot release an intent that is `{0}`; only `held` intents can be released")]
    NotHeld(IntentStatus),
    /// A dispute blocks every release until it is resolved.
    #[error(
        "the intent is disputed ({0}); it can be released only when the dispute is resolved or withdrawn"
    )]
    Disputed(String),
    /// Both an amount and a milestone.
    #[error("give either `amount` or `milestone`, not both")]
    AmountAndMilestone,
    /// No such milestone.
    #[error("the intent has no milestone `{0}`")]
    UnknownMilestone(String),
    /// Released before.
    #[error("milestone `{0}` was released already")]
    MilestoneReleased(String),
    /// Another currency, nothing, or more than held.
    #[error("{0}")]
    Part(String),
    /// M-Pesa pays whole shillings.
    #[error("the payee is paid by M-Pesa, which pays whole shillings only; release a whole amount")]
    NotWholeUnits,
    /// A Lightning payee needs an invoice for exactly this part's share.
    #[error("{0}")]
    Invoice(String),
    /// A collection went into the client's balance: there is nobody to release to.
    #[error("the intent was captured into your balance; it has no payee to release to")]
    NoPayee,
}

impl Refusal {
    /// Whether the refusal is about the intent's state (409) rather than the request (422).
    pub fn is_conflict(&self) -> bool {
        matches!(
            self,
            Self::NotHeld(_) | Self::Disputed(_) | Self::MilestoneReleased(_) | Self::NoPayee
        )
    }

    /// The request field a 422 names.
    pub fn field(&self) -> &'static str {
        match self {
            Self::UnknownMilestone(_) | Self::MilestoneReleased(_) => "milestone",
            Self::Invoice(_) => "bolt11",
            _ => "amount",
        }
    }
}

/// A release recorded by [`request`].
#[derive(Debug, Clone, Copy)]
pub struct Requested {
    /// Its number within the intent.
    pub seq: i32,
    /// What it releases.
    pub amount: Money,
    /// Whether it takes everything left (the intent is then `releasing`).
    pub last: bool,
}

/// Asks for a release of `intent` (locked by the caller): records it, moves the intent to
/// `releasing` when it takes everything left (otherwise it stays `held` with the rest), and
/// enqueues the job that posts it. `Ok(Err(_))` names why it cannot be asked.
pub async fn request(
    conn: &mut PgConnection,
    intent: &IntentRecord,
    ask: &ReleaseAsk,
    source: ReleaseSource,
) -> anyhow::Result<Result<Requested, Refusal>> {
    match intent.status {
        IntentStatus::Held => {}
        IntentStatus::Disputed => {
            return Ok(Err(Refusal::Disputed("see `dispute_reason`".to_owned())));
        }
        other => return Ok(Err(Refusal::NotHeld(other))),
    }
    let Some(payee) = &intent.payee else {
        return Ok(Err(Refusal::NoPayee));
    };
    let currency = intent.amount.currency();
    let remaining = intent.remaining();
    let amount = match asked_amount(conn, intent, ask, remaining).await? {
        Ok(amount) => amount,
        Err(refusal) => return Ok(Err(refusal)),
    };
    // The Lightning payee's share of this part is known here (no M-Pesa rounding applies to
    // it), so its invoice is checked before anything is recorded.
    let terms = terms(intent, currency.minor_units());
    let split = match terms.part(intent.released_amount, amount) {
        Ok(split) => split,
        Err(PartError::Money(e)) => return Ok(Err(Refusal::Part(e.to_string()))),
        Err(e) => return Ok(Err(Refusal::Part(e.to_string()))),
    };
    let whole_units = ReleaseTerms { places: 0, ..terms };
    if matches!(
        payee.payout.destination(),
        Some(PayoutDestination::Mpesa { .. })
    ) && !whole_units.fits_unit(amount)
    {
        return Ok(Err(Refusal::NotWholeUnits));
    }
    let last = amount == remaining;
    let whole_release = last && intent.released_amount.is_zero();
    let bolt11 = match part_invoice(payee, ask, split.payee, whole_release) {
        Ok(bolt11) => bolt11,
        Err(refusal) => return Ok(Err(refusal)),
    };
    let seq = match releases::record(
        conn,
        intent.id,
        amount,
        ask.milestone.as_deref(),
        bolt11.as_deref(),
        source,
    )
    .await
    {
        Ok(seq) => seq,
        Err(RecordError::MilestoneReleased(id)) => {
            return Ok(Err(Refusal::MilestoneReleased(id)));
        }
        Err(RecordError::Exceeds) => {
            return Ok(Err(Refusal::Part(format!(
                "only {remaining} is still held"
            ))));
        }
        Err(RecordError::Database(e)) => return Err(e.into()),
    };
    start_posting(conn, intent, ask, source, seq, amount, last).await?;
    Ok(Ok(Requested { seq, amount, last }))
}

/// What a release asks for: the amount given, a milestone's amount, or everything left.
async fn asked_amount(
    conn: &mut PgConnection,
    intent: &IntentRecord,
    ask: &ReleaseAsk,
    remaining: Money,
) -> anyhow::Result<Result<Money, Refusal>> {
    Ok(Ok(match (&ask.amount, &ask.milestone) {
        (Some(_), Some(_)) => return Ok(Err(Refusal::AmountAndMilestone)),
        (Some(amount), None) => *amount,
        (None, None) => remaining,
        (None, Some(id)) => match releases::milestone(conn, intent.id, id).await? {
            None => return Ok(Err(Refusal::UnknownMilestone(id.clone()))),
            Some((_, true)) => return Ok(Err(Refusal::MilestoneReleased(id.clone()))),
            Some((amount, false)) => Money::new(amount, intent.amount.currency())?,
        },
    }))
}

/// The invoice a part's payee share is paid to: the one given with the release (a Lightning
/// payee's, for exactly that share), the one given at creation when the release is the whole
/// intent, or none for other payees.
fn part_invoice(
    payee: &Payee,
    ask: &ReleaseAsk,
    payee_share: Money,
    whole_release: bool,
) -> Result<Option<String>, Refusal> {
    match (payee.payout.destination(), &ask.bolt11) {
        (Some(PayoutDestination::Lightning { .. }), Some(invoice)) => {
            if let Err(why) = invoice_pays(invoice, payee_share) {
                return Err(Refusal::Invoice(format!("{why} (the payee's share)")));
            }
            Ok(Some(invoice.clone()))
        }
        (Some(PayoutDestination::Lightning { bolt11: Some(_) }), None) if whole_release => Ok(None),
        (Some(PayoutDestination::Lightning { .. }), None) if payee_share.is_positive() => {
            Err(Refusal::Invoice(
                "the payee is paid by Lightning: give an invoice (`bolt11`) for this release's payee share"
                    .to_owned(),
            ))
        }
        (_, Some(_)) => Err(Refusal::Invoice(
            "only a Lightning payee takes an invoice".to_owned(),
        )),
        _ => Ok(None),
    }
}

/// Records release `seq` on the intent (the last one moves it to `releasing`) and enqueues the
/// job that posts it.
async fn start_posting(
    conn: &mut PgConnection,
    intent: &IntentRecord,
    ask: &ReleaseAsk,
    source: ReleaseSource,
    seq: i32,
    amount: Money,
    last: bool,
) -> anyhow::Result<()> {
    let detail = json!({"release": seq, "amount": amount.amount().to_string(),
                        "milestone": ask.milestone, "source": source.as_str()});
    if last {
        transition(conn, intent.id, IntentMove::ReleaseRequested, detail).await?;
    } else {
        intents::record_event(
            &mut *conn,
            intent.id,
            IntentNote::PartReleaseRequested,
            detail,
        )
        .await?;
    }
    enqueue(
        conn,
        &ReleaseEscrow {
            intent_id: intent.id,
            release: u32::try_from(seq).unwrap_or(0),
        },
        EnqueueOptions {
            intent_id: Some(intent.id),
            // A client's request is answered by the front, which rings after its commit.
            wake: if source == ReleaseSource::Client {
                Wake::CallerRings
            } else {
                Wake::Trigger
            },
            ..Default::default()
        },
    )
    .await?;
    Ok(())
}

fn terms(intent: &IntentRecord, places: u32) -> ReleaseTerms {
    ReleaseTerms {
        held: intent.amount,
        commission_bps: intent.commission_bps,
        fixed_fee: Some(intent.commission_fixed_fee).filter(|fee| !fee.is_zero()),
        places,
    }
}

/// Posts every release of `intent` (locked by the caller) not yet posted, in order: escrow →
/// payable + commission, the payout rows and their jobs; after the last part, `releasing →
/// released` (and `settled` when nothing is left to pay out). Returns how many it posted.
pub async fn release(
    conn: &mut PgConnection,
    intent: &IntentRecord,
    destinations: &CommissionDestinations,
) -> anyhow::Result<usize> {
    let Some(payee) = &intent.payee else {
        anyhow::bail!("intent {} has no payee and cannot be released", intent.id);
    };
    let currency = intent.amount.currency();
    let pending = releases::pending(conn, intent.id, currency).await?;
    // M-Pesa B2C pays whole shillings only: round the split to whole units when a share leaves
    // that way (a part for an M-Pesa payee is a whole amount, checked when it was asked for).
    let via_mpesa = matches!(
        payee.payout.destination(),
        Some(PayoutDestination::Mpesa { .. })
    ) || matches!(
        destinations.get(&currency),
        Some(PayoutDestination::Mpesa { .. })
    );
    let places = if via_mpesa { 0 } else { currency.minor_units() };
    let terms = terms(intent, places);
    let mut detail = json!({});
    let mut new_payouts = 0;
    for part in &pending {
        let posted = post_part(conn, intent, &payee.payout, &terms, part, destinations).await?;
        detail = posted.detail;
        new_payouts += posted.new_payouts;
    }
    let fully_released = intent.released_amount == intent.amount;
    if intent.status == IntentStatus::Releasing && fully_released {
        transition(conn, intent.id, IntentMove::EscrowReleased, detail).await?;
        // Settled at once when no share has to travel. A payout created just now cannot have
        // been delivered, so the move is not even asked for then; otherwise it checks every
        // share (earlier parts' included).
        if new_payouts == 0 {
            transition(conn, intent.id, IntentMove::Settled, json!({"payouts": 0})).await?;
        }
    }
    Ok(pending.len())
}

async fn post_part(
    conn: &mut PgConnection,
    intent: &IntentRecord,
    payee: &PayeePayout,
    terms: &ReleaseTerms,
    part: &PendingRelease,
    destinations: &CommissionDestinations,
) -> anyhow::Result<PostedPart> {
    let split = terms.part(part.released_before, part.amount)?;
    let posting = split_posting(conn, intent, payee, part, &split).await?;
    let shares = create_payouts(conn, intent, payee, part, &split, destinations).await?;
    releases::mark_posted(
        conn,
        intent.id,
        part.seq,
        split.payee,
        split.commission,
        &posting,
    )
    .await?;
    let detail = json!({"release": part.seq, "payee": split.payee.amount().to_string(),
                        "commission": split.commission.amount().to_string(),
                        "commission_kept_in_platform_account": shares.commission_kept,
                        "payee_to_balance": payee.is_balance()});
    notify_part(conn, intent, part, &split, payee.is_balance()).await?;
    // The last part is told by the `releasing → released` move itself.
    let last = part.released_before.checked_add(part.amount)? == intent.amount;
    if !last {
        intents::record_event(
            &mut *conn,
            intent.id,
            IntentNote::PartReleased,
            detail.clone(),
        )
        .await?;
    }
    Ok(PostedPart {
        detail,
        new_payouts: shares.new_payouts,
    })
}

/// A posted part: its detail for the intent's history, and how many payouts it created.
struct PostedPart {
    detail: serde_json::Value,
    new_payouts: usize,
}

/// The posting of part `part` of the escrow: the payee's share to the intent's payable account
/// (or the client's balance), the commission to the platform's account. Written with the
/// part's own mark (`releases::mark_posted`), in one statement.
async fn split_posting(
    conn: &mut PgConnection,
    intent: &IntentRecord,
    payee: &PayeePayout,
    part: &PendingRelease,
    split: &Split,
) -> anyhow::Result<Posting> {
    let currency = intent.amount.currency();
    // The first release keeps the key a whole release always had.
    let key = if part.seq == 1 {
        format!("release:{}", intent.id)
    } else {
        format!("release:{}:{}", intent.id, part.seq)
    };
    // The payee's share waits in the intent's payable account for its payout, or settles at
    // once into the client's balance (the platform pays its sellers from there, later).
    let (payee_account, memo) = match payee {
        PayeePayout::Provider(_) => (
            Account::payable(intent.id, currency),
            format!(
                "release {}: payee {} commission {}",
                part.seq, split.payee, split.commission
            ),
        ),
        PayeePayout::Balance(_) => {
            balances::ensure(conn, intent.client_id, currency).await?;
            (
                Account::client_balance(intent.client_id, currency),
                format!(
                    "release {}: payee {} to the balance, commission {}",
                    part.seq, split.payee, split.commission
                ),
            )
        }
    };
    Ok(Posting::new(
        &key,
        TransactionKind::Release,
        Some(intent.id),
        &memo,
        &[
            (Account::escrow(intent.id, currency), part.amount.amount()),
            (payee_account, -split.payee.amount()),
            (Account::commission(currency), -split.commission.amount()),
        ],
    )?)
}

/// What a part's shares became.
struct Shares {
    /// The commission stays in the platform's account (no destination for its currency).
    commission_kept: bool,
    /// Payouts created now (each with its job), none delivered yet.
    new_payouts: usize,
}

/// The payouts part `part` pays out — the payee's share (to a provider), the commission (when
/// the platform has a destination for its currency) — each with its job.
async fn create_payouts(
    conn: &mut PgConnection,
    intent: &IntentRecord,
    payee: &PayeePayout,
    part: &PendingRelease,
    split: &Split,
    destinations: &CommissionDestinations,
) -> anyhow::Result<Shares> {
    let currency = intent.amount.currency();
    let payee_share = match (payee, split.payee.is_positive()) {
        (PayeePayout::Provider(payee), true) => {
            let mut destination = payee.clone();
            if let PayoutDestination::Lightning { bolt11 } = &mut destination {
                // This part's own invoice; else the one on file (a whole release); else one
                // given at release before parts existed.
                if let Some(invoice) = &part.bolt11 {
                    *bolt11 = Some(invoice.clone());
                } else if bolt11.is_none() {
                    bolt11.clone_from(&intent.release_bolt11);
                }
            }
            Some((
                destination.provider(),
                PayoutTarget::Destination(destination),
            ))
        }
        _ => None,
    };
    let commission_share = match destinations.get(&currency) {
        Some(destination) if split.commission.is_positive() => Some((
            destination.provider(),
            PayoutTarget::Destination(destination.clone()),
        )),
        _ => None,
    };
    let wanted: Vec<NewPayout> = [
        (PayoutKind::Payee, split.payee, &payee_share),
        (PayoutKind::Commission, split.commission, &commission_share),
    ]
    .into_iter()
    .filter_map(|(kind, amount, share)| {
        share.as_ref().map(|(provider, target)| NewPayout {
            intent: intent.id,
            release_seq: part.seq,
            kind,
            amount,
            provider: *provider,
            target,
        })
    })
    .collect();
    // Both shares in one statement; the `release_escrow` job rings once its transaction
    // committed.
    let created = payouts::insert_all(conn, &wanted, Wake::CallerRings).await?;
    Ok(Shares {
        commission_kept: commission_share.is_none() && split.commission.is_positive(),
        new_payouts: created.iter().filter(|payout| payout.new).count(),
    })
}

/// Tells the client about a posted part that moved money without a status change: a part of
/// the intent (`intent.part_released`; a whole release is told by `intent.released` alone), and
/// a payee share settled into its balance (`intent.released_to_balance`).
async fn notify_part(
    conn: &mut PgConnection,
    intent: &IntentRecord,
    part: &PendingRelease,
    split: &Split,
    to_balance: bool,
) -> anyhow::Result<()> {
    let released = part.released_before.checked_add(part.amount)?;
    let whole = part.released_before.is_zero() && released == intent.amount;
    if !whole {
        let milestone = intent_notices::milestone_of(conn, intent.id, part.seq).await?;
        let remaining = intent.amount.checked_sub(released)?;
        intent_notices::notify(
            conn,
            intent.id,
            event_type::INTENT_PART_RELEASED,
            json!({"release": part.seq, "part_amount": text(part.amount),
                   "released_amount": text(released),
                   "remaining": text(remaining), "milestone": milestone,
                   "payee_amount": text(split.payee),
                   "commission_amount": text(split.commission),
                   "payee_to_balance": to_balance}),
        )
        .await?;
    }
    if to_balance && split.payee.is_positive() {
        intent_notices::notify(
            conn,
            intent.id,
            event_type::INTENT_RELEASED_TO_BALANCE,
            json!({"release": part.seq, "balance_amount": text(split.payee),
                   "commission_amount": text(split.commission)}),
        )
        .await?;
    }
    Ok(())
}

/// An amount at its currency's scale, as the API writes amounts ("400.00" KES, "900" SAT).
fn text(money: Money) -> String {
    format_amount(money.amount(), money.currency())
}
