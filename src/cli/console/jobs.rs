//! `malipo jobs list|show|retry|discard`.

use sqlx::PgPool;

use super::{print_json, print_next};
use crate::{
    cli::{FilterArgs, JobsCommand},
    ops::{
        Actor, JobFilter, JobFilterInput, discard, inspect, list, page_size, retry,
        table::{self, cell},
    },
};

pub(super) async fn run(command: JobsCommand, pool: &PgPool, actor: &Actor) -> anyhow::Result<()> {
    match command {
        JobsCommand::List {
            filter,
            cursor,
            limit,
            json,
        } => {
            let page = list::list_jobs(
                pool,
                &parse(filter)?,
                cursor.as_deref(),
                page_size(Some(limit))?,
            )
            .await?;
            if json {
                return print_json(&page);
            }
            print_list(&page);
            Ok(())
        }
        JobsCommand::Show { id, json } => {
            let job = inspect::show_job(pool, id).await?;
            if json {
                return print_json(&job);
            }
            print_job(&job);
            Ok(())
        }
        JobsCommand::Retry {
            id: Some(id), json, ..
        } => {
            retry::retry_job(pool, actor, id).await?;
            single(json, id, "retried")
        }
        JobsCommand::Retry {
            id: None,
            filter,
            dry_run,
            json,
        } => {
            let outcome = retry::retry_dead(pool, actor, &parse(filter)?, dry_run).await?;
            bulk(json, &outcome, "dead jobs", "retried")
        }
        JobsCommand::Discard {
            id: Some(id), json, ..
        } => {
            discard::discard_job(pool, actor, id).await?;
            single(json, id, "discarded")
        }
        JobsCommand::Discard {
            id: None,
            filter,
            dry_run,
            json,
        } => {
            let outcome = discard::discard_matching(pool, actor, &parse(filter)?, dry_run).await?;
            bulk(json, &outcome, "jobs", "discarded")
        }
    }
}

/// A page of jobs as a table, with the next page's cursor.
fn print_list(page: &list::JobPage) {
    let rows: Vec<Vec<String>> = page
        .jobs
        .iter()
        .map(|j| {
            vec![
                j.id.to_string(),
                j.queue.clone(),
                j.kind.clone(),
                j.state.clone(),
                format!("{}/{}", j.attempts, j.max_attempts),
                j.run_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                j.intent_id.map(|id| id.to_string()).unwrap_or_default(),
                cell(j.last_error.as_deref().unwrap_or_default(), 60),
            ]
        })
        .collect();
    print!(
        "{}",
        table::render(
            &[
                "ID",
                "QUEUE",
                "KIND",
                "STATE",
                "ATTEMPTS",
                "RUN AT (UTC)",
                "INTENT",
                "LAST ERROR"
            ],
            &rows
        )
    );
    print_next(page.next_cursor.as_deref());
}

/// One job: its facts, payload, attempts and the operators' actions on it.
fn print_job(job: &inspect::JobDetail) {
    let j = &job.job;
    let time = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M:%S%.3f").to_string();
    println!("job {}  {} / {}  state {}", j.id, j.queue, j.kind, j.state);
    println!("attempts     {}/{}", j.attempts, j.max_attempts);
    println!(
        "intent       {}",
        j.intent_id
            .map(|i| i.to_string())
            .unwrap_or_else(|| "-".into())
    );
    println!("created      {}", time(j.created_at));
    println!("run at       {}", time(j.run_at));
    println!("updated      {}", time(j.updated_at));
    println!(
        "finished     {}",
        j.finished_at.map(time).unwrap_or_else(|| "-".into())
    );
    println!("locked by    {}", j.locked_by.as_deref().unwrap_or("-"));
    println!("dedupe key   {}", job.dedupe_key.as_deref().unwrap_or("-"));
    println!("last error   {}", j.last_error.as_deref().unwrap_or("-"));
    println!("payload      {}", job.payload);
    let attempts: Vec<Vec<String>> = job
        .attempt_log
        .iter()
        .map(|a| {
            vec![
                a.attempt.to_string(),
                time(a.at),
                a.outcome.clone(),
                a.worker.clone().unwrap_or_default(),
                cell(&a.error, 100),
            ]
        })
        .collect();
    println!("\nattempts:");
    print!(
        "{}",
        table::render(&["#", "AT (UTC)", "OUTCOME", "WORKER", "ERROR"], &attempts)
    );
    if !job.operator_actions.is_empty() {
        let actions: Vec<Vec<String>> = job
            .operator_actions
            .iter()
            .map(|a| vec![time(a.at), a.actor.clone(), a.action.clone()])
            .collect();
        println!("\noperator actions:");
        print!(
            "{}",
            table::render(&["AT (UTC)", "ACTOR", "ACTION"], &actions)
        );
    }
}

fn parse(filter: FilterArgs) -> anyhow::Result<JobFilter> {
    Ok(JobFilter::try_from(JobFilterInput {
        queue: filter.queue,
        kind: filter.kind,
        state: filter.state,
        intent_id: filter.intent_id,
        from: filter.from,
        to: filter.to,
    })?)
}

fn single(json: bool, id: i64, verb: &str) -> anyhow::Result<()> {
    if json {
        return print_json(&serde_json::json!({ "id": id, "affected": 1 }));
    }
    println!("job {id} {verb}");
    Ok(())
}

fn bulk(json: bool, outcome: &retry::BulkOutcome, what: &str, verb: &str) -> anyhow::Result<()> {
    if json {
        return print_json(outcome);
    }
    if outcome.dry_run {
        println!(
            "{} {what} would be {verb} (dry run; nothing changed)",
            outcome.affected
        );
    } else {
        println!("{} {what} {verb}", outcome.affected);
    }
    Ok(())
}
