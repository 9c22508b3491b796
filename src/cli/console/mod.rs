//! The operator commands (`malipo jobs|queues|audit …`): the same `ops` functions as `/ops`,
//! printed as tables or, with `--json`, as the JSON the HTTP API answers.

mod jobs;
mod queues;

use anyhow::Context;
use serde::Serialize;
use sqlx::PgPool;

use crate::{
    cli::{AuditCommand, Command},
    ops::{Actor, audit, page_size, table},
    settings::Settings,
};

/// Runs one operator command; other commands are not ours and are refused.
pub async fn run(command: Command, pool: &PgPool, settings: &Settings) -> anyhow::Result<()> {
    let actor = Actor::cli();
    match command {
        Command::Jobs { action } => jobs::run(action, pool, &actor).await,
        Command::Queues { action } => queues::run(action, pool, settings, &actor).await,
        Command::Audit {
            action:
                AuditCommand::List {
                    cursor,
                    limit,
                    json,
                },
        } => {
            let page = audit::list(pool, cursor.as_deref(), page_size(Some(limit))?).await?;
            if json {
                return print_json(&page);
            }
            let rows: Vec<Vec<String>> = page
                .entries
                .iter()
                .map(|e| {
                    let target = match (e.job_id, &e.queue) {
                        (Some(id), _) => format!("job {id}"),
                        (None, Some(queue)) => format!("queue {queue}"),
                        (None, None) => String::new(),
                    };
                    vec![
                        e.id.to_string(),
                        e.at.format("%Y-%m-%d %H:%M:%S").to_string(),
                        e.actor.clone(),
                        e.action.clone(),
                        target,
                        e.affected.to_string(),
                        if e.dry_run {
                            "yes".into()
                        } else {
                            String::new()
                        },
                        table::cell(&filter_text(&e.filter), 60),
                    ]
                })
                .collect();
            print!(
                "{}",
                table::render(
                    &[
                        "ID", "AT (UTC)", "ACTOR", "ACTION", "TARGET", "AFFECTED", "DRY RUN",
                        "FILTER"
                    ],
                    &rows
                )
            );
            print_next(page.next_cursor.as_deref());
            Ok(())
        }
        other => anyhow::bail!("not an operator command: {other:?}"),
    }
}

fn print_json(value: &impl Serialize) -> anyhow::Result<()> {
    println!(
        "{}",
        serde_json::to_string_pretty(value).context("failed to print JSON")?
    );
    Ok(())
}

fn print_next(cursor: Option<&str>) {
    if let Some(cursor) = cursor {
        println!("more: --cursor {cursor}");
    }
}

fn filter_text(filter: &serde_json::Value) -> String {
    match filter {
        serde_json::Value::Null => String::new(),
        serde_json::Value::Object(map) if map.is_empty() => "(all)".to_owned(),
        other => other.to_string(),
    }
}
