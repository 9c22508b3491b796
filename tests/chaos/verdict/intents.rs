//! The intent rules: nothing left behind, failures with a reason, the settled share, the count.

use std::collections::BTreeMap;

use sqlx::PgPool;

use super::{Violation, push};

/// Intents left where they should not be, failed ones without a reason, and the settled share.
pub async fn intent_violations(pool: &PgPool, created: usize) -> (Vec<Violation>, f64) {
    let mut out = Vec::new();
    // Each with its history and payouts, so a leftover in CI's output names how it got there.
    let left: Vec<(String, String, String, Option<String>, String, String)> = sqlx::query_as(
        "SELECT i.id::text, i.status, i.provider, i.flagged_reason,
                coalesce((SELECT string_agg(e.type, ' > ' ORDER BY e.id) FROM intent_events e
                           WHERE e.intent_id = i.id), ''),
                coalesce((SELECT string_agg(p.kind::text || ' ' || p.status::text, ', ' ORDER BY p.created_at)
                            FROM payouts p WHERE p.intent_id = i.id), '')
           FROM intents i
          WHERE NOT (i.status IN ('settled', 'refunded', 'failed', 'expired', 'cancelled')
                 OR (i.status = 'released' AND i.flagged_reason IS NOT NULL
                     AND EXISTS (SELECT 1 FROM payouts p WHERE p.intent_id = i.id
                                    AND p.status IN ('failed', 'reversed')))
                 OR (i.status = 'held' AND i.flagged_reason IS NOT NULL
                     AND EXISTS (SELECT 1 FROM payouts p WHERE p.intent_id = i.id
                                    AND p.kind = 'refund' AND p.status = 'failed')))
          ORDER BY i.created_at",
    )
    .fetch_all(pool)
    .await
    .expect("intents");
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for (_, status, provider, flag, _, _) in &left {
        *kinds
            .entry(format!(
                "{provider} {status}{}",
                if flag.is_some() { " (flagged)" } else { "" }
            ))
            .or_default() += 1;
    }
    if !kinds.is_empty() {
        push(
            &mut out,
            "leftover",
            format!("by provider and state: {kinds:?}"),
        );
    }
    for (id, status, provider, flag, events, payouts) in left {
        push(
            &mut out,
            "leftover",
            format!(
                "intent {id} ({provider}) left {status}, flagged {flag:?}; events: {events}; payouts: [{payouts}]"
            ),
        );
    }
    let reasonless: Vec<(String, String)> = sqlx::query_as(
        "SELECT id::text, provider FROM intents
          WHERE status = 'failed' AND coalesce(failure_reason, '') = ''",
    )
    .fetch_all(pool)
    .await
    .expect("failed intents");
    for (id, provider) in reasonless {
        push(
            &mut out,
            "failed-without-reason",
            format!("intent {id} ({provider}) failed without a reason"),
        );
    }
    let (total, done): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE status IN ('settled', 'refunded')) FROM intents",
    )
    .fetch_one(pool)
    .await
    .expect("count");
    if usize::try_from(total).ok() != Some(created) {
        push(
            &mut out,
            "intent-count",
            format!("{total} intents in the database for {created} created by the clients"),
        );
    }
    let share = if total == 0 {
        0.0
    } else {
        done as f64 / total as f64
    };
    if share < 0.85 {
        push(
            &mut out,
            "settled-share",
            format!(
                "{done} of {total} intents ({:.1}%) ended settled or refunded; at least 85% must",
                share * 100.0
            ),
        );
    }
    (out, share)
}

/// Dead jobs: `(id, kind, last_error)`.
pub async fn dead_jobs(pool: &PgPool) -> Vec<(i64, String, Option<String>)> {
    sqlx::query_as("SELECT id, kind, last_error FROM malipo_jobs WHERE state = 'dead' ORDER BY id")
        .fetch_all(pool)
        .await
        .expect("dead jobs")
}
