//! The handler map and the job list agree: every listed kind reaches its own handler, and no
//! handler is bound for a kind the list lacks.

use super::{BOUND_KINDS, WorkerState, handlers};
use crate::queue::{claim::ClaimedJob, outcome::JobOutcome};

fn listed_kinds() -> Vec<&'static str> {
    let mut kinds: Vec<_> = malipo_jobs::registry()
        .into_iter()
        .map(|(kind, _, _)| kind)
        .collect();
    kinds.sort_unstable();
    kinds
}

#[test]
fn every_bound_kind_is_a_listed_kind() {
    let mut bound = BOUND_KINDS.to_vec();
    bound.sort_unstable();
    assert_eq!(bound, listed_kinds());
}

/// Runs a job of `kind` whose payload decodes as no job, and says how it ended.
async fn outcome_for(kind: &str) -> JobOutcome {
    // Dispatch stops at decoding the payload, so the database is never reached: a lazy pool
    // is never connected.
    let pool =
        sqlx::PgPool::connect_lazy("postgres://unused@127.0.0.1:9/unused").expect("lazy pool");
    let settings = crate::settings::Settings::from_lookup(|_| None).expect("settings");
    let state = WorkerState::build(pool, &settings).expect("worker state");
    let job = ClaimedJob {
        id: 1,
        queue: "bench".to_owned(),
        kind: kind.to_owned(),
        payload: serde_json::Value::Null,
        attempts: 1,
        max_attempts: 1,
        lease_token: 0,
    };
    handlers().run(job, state).await
}

#[tokio::test]
async fn every_listed_kind_reaches_its_own_handler() {
    for kind in listed_kinds() {
        let outcome = outcome_for(kind).await;
        let JobOutcome::Permanent { error } = &outcome else {
            panic!("a null `{kind}` payload ended {outcome:?}");
        };
        // The handler registered under `kind` decodes the payload as `kind`'s own type.
        assert!(
            error.starts_with(&format!("payload does not decode as {kind}:")),
            "`{kind}` dispatched to: {error}"
        );
    }
    // And a kind nobody lists finds no handler, which is what the loop above rules out.
    let unknown = outcome_for("no_such_job").await;
    assert!(
        matches!(&unknown, JobOutcome::Permanent { error } if error.contains("no handler")),
        "{unknown:?}"
    );
}
