//! `malipo queues list|pause|resume|drain`.

use sqlx::PgPool;

use super::print_json;
use crate::{
    cli::QueuesCommand,
    config,
    ops::{
        Actor,
        drain::{self, DrainOptions},
        queues, table,
    },
    settings::Settings,
    worker,
};

pub(super) async fn run(
    command: QueuesCommand,
    pool: &PgPool,
    settings: &Settings,
    actor: &Actor,
) -> anyhow::Result<()> {
    match command {
        QueuesCommand::List { json } => {
            let overview = queues::overview(pool).await?;
            if json {
                return print_json(&overview);
            }
            print_overview(&overview);
            Ok(())
        }
        QueuesCommand::Pause { queue } => {
            queues::set_paused(pool, actor, &queue, true).await?;
            println!("queue {queue} paused: workers stop claiming from it on their next claim");
            Ok(())
        }
        QueuesCommand::Resume { queue } => {
            queues::set_paused(pool, actor, &queue, false).await?;
            println!("queue {queue} resumed");
            Ok(())
        }
        QueuesCommand::Drain {
            queue,
            limit,
            timeout,
            json,
        } => {
            let timeout =
                config::duration(&timeout).map_err(|e| anyhow::anyhow!("--timeout: {e:#}"))?;
            let app = worker::WorkerState::build(pool.clone(), settings)?;
            let report = drain::drain(
                pool,
                actor,
                &queue,
                DrainOptions { limit, timeout },
                settings.app.queue_settings(),
                worker::handlers(),
                app,
            )
            .await?;
            if json {
                return print_json(&report);
            }
            println!(
                "drained {}: {} done, {} retried, {} snoozed, {} dead in {:.1}s (stopped: {:?})",
                report.queue,
                report.done,
                report.retried,
                report.snoozed,
                report.dead,
                report.elapsed_secs,
                report.stopped
            );
            println!(
                "left: {} runnable, {} pending in all (backoff or delayed)",
                report.remaining_runnable, report.remaining_pending
            );
            Ok(())
        }
    }
}

/// Every queue's counts as a table.
fn print_overview(overview: &[queues::QueueOverview]) {
    let rows: Vec<Vec<String>> = overview
        .iter()
        .map(|q| {
            vec![
                q.queue.clone(),
                if q.paused {
                    "paused".into()
                } else {
                    String::new()
                },
                q.pending.to_string(),
                q.runnable.to_string(),
                q.running.to_string(),
                q.done.to_string(),
                q.dead.to_string(),
                q.discarded.to_string(),
                format!("{:.1}s", q.oldest_pending_age_secs),
            ]
        })
        .collect();
    print!(
        "{}",
        table::render(
            &[
                "QUEUE",
                "PAUSED",
                "PENDING",
                "RUNNABLE",
                "RUNNING",
                "DONE",
                "DEAD",
                "DISCARDED",
                "OLDEST WAIT"
            ],
            &rows
        )
    );
}
