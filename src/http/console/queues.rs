//! The console's front page: every queue with its counts per state, oldest waiting age, the
//! last hour's throughput as a chart, and pause / resume / drain.

use std::time::Duration;

use axum::{
    extract::{Path, Query, State},
    response::{IntoResponse, Redirect, Response},
};
use chrono::Utc;
use maud::{Markup, html};
use serde::Deserialize;

use super::{
    chart,
    layout::{self, Page, badge, csrf, link},
    session::{Action, ConsoleSession},
};
use crate::{
    http::{AppState, problem::ApiError},
    ops::{
        capped,
        drain::{self, DrainOptions},
        known_queues, queues,
    },
    queue::{glance, throughput},
    worker,
};

/// Counts on the queues page stop here.
const COUNT_CAP: i64 = 10_000;
/// The throughput chart counts at most this many jobs per minute.
const MINUTE_CAP: i64 = 1_000;

/// `?done=` after an action.
#[derive(Debug, Default, Deserialize)]
pub struct Done {
    done: Option<String>,
}

impl Done {
    /// The notice to show.
    pub fn done(&self) -> Option<&str> {
        self.done.as_deref()
    }
}

/// `GET /console`.
pub async fn overview(
    State(state): State<AppState>,
    session: ConsoleSession,
    Query(done): Query<Done>,
) -> Result<Markup, ApiError> {
    let overview = glance::glance(&state.pool, &known_queues(), COUNT_CAP).await?;
    let per_minute = throughput::done_per_minute(&state.pool, MINUTE_CAP).await?;
    let shown = |n: i64| capped::shown(n, COUNT_CAP);
    let now = Utc::now();
    let body = html! {
        (layout::notice(done.done.as_deref()))
        div.scroll {
            table {
                caption.muted { "Jobs per queue and state (counts stop at " (COUNT_CAP) "); age of the oldest job due to run." }
                thead { tr {
                    th scope="col" { "Queue" } th scope="col" { "State" }
                    th.num scope="col" { "Pending" } th.num scope="col" { "Runnable" }
                    th.num scope="col" { "Running" }
                    th.num scope="col" { "Dead" } th.num scope="col" { "Discarded" }
                    th.num scope="col" { "Oldest waiting" } th scope="col" { "Actions" }
                } }
                tbody {
                    @for q in &overview {
                        tr id={ "queue-" (q.queue) } {
                            th scope="row" { a href=(link("/console/jobs", &[("queue", &q.queue)])) { (q.queue) } }
                            td { @if q.paused { (badge("paused")) } @else { span.muted { "running" } } }
                            td.num { (shown(q.pending)) } td.num { (shown(q.runnable)) } td.num { (shown(q.running)) }
                            td.num { @if q.dead > 0 {
                                a href=(link("/console/dead", &[("queue", &q.queue)])) { (shown(q.dead)) }
                            } @else { "0" } }
                            td.num { (shown(q.discarded)) }
                            td.num { (layout::age(q.oldest_runnable_secs)) }
                            td { @if session.can_act() { div.actions {
                                @if q.paused {
                                    (button(&session, &q.queue, "resume", "Resume"))
                                } @else {
                                    (button(&session, &q.queue, "pause", "Pause"))
                                }
                                (button(&session, &q.queue, "drain", "Drain now"))
                            } } @else { span.muted { "view only" } } }
                        }
                    }
                }
            }
        }
        h2 { "Throughput, last hour (all queues)" }
        (chart::per_minute(&per_minute, MINUTE_CAP, now))
    };
    Ok(Page {
        session: &session,
        title: "Queues",
        section: "/console",
        refresh_secs: Some(5),
    }
    .render(body))
}

fn button(session: &ConsoleSession, queue: &str, action: &str, label: &str) -> Markup {
    html! {
        form.inline method="post" action={ "/console/queues/" (queue) "/" (action) } {
            (csrf(session))
            button type="submit" aria-label={ (label) " queue " (queue) } { (label) }
        }
    }
}

/// `POST /console/queues/{queue}/pause`.
pub async fn pause(
    State(state): State<AppState>,
    Path(queue): Path<String>,
    action: Action,
) -> Result<Response, ApiError> {
    queues::set_paused(&state.pool, &action.actor(), &queue, true).await?;
    Ok(back(&format!("Paused {queue}.")))
}

/// `POST /console/queues/{queue}/resume`.
pub async fn resume(
    State(state): State<AppState>,
    Path(queue): Path<String>,
    action: Action,
) -> Result<Response, ApiError> {
    queues::set_paused(&state.pool, &action.actor(), &queue, false).await?;
    Ok(back(&format!("Resumed {queue}.")))
}

/// `POST /console/queues/{queue}/drain`: runs the queue's jobs in this process, as
/// `POST /ops/queues/{queue}/drain` does, within the request timeout.
pub async fn drain(
    State(state): State<AppState>,
    Path(queue): Path<String>,
    action: Action,
) -> Result<Response, ApiError> {
    let options = DrainOptions {
        limit: None,
        timeout: state
            .config
            .request_timeout
            .saturating_sub(Duration::from_secs(3))
            .max(Duration::from_secs(1)),
    };
    let actor = action.actor();
    let settings = state.config.queue_settings();
    let pool = state.pool.clone();
    let name = queue.clone();
    let app = state.workers_for_drain()?;
    // Its own task, as in /ops: a browser that gives up must not stop a drain halfway.
    let report = tokio::spawn(async move {
        drain::drain(
            &pool,
            &actor,
            &name,
            options,
            settings,
            worker::handlers(),
            app,
        )
        .await
    })
    .await
    .map_err(|error| anyhow::anyhow!("drain task failed: {error}"))??;
    Ok(back(&format!(
        "Drained {queue}: {} done, {} retried, {} snoozed, {} dead; {} still runnable.",
        report.done, report.retried, report.snoozed, report.dead, report.remaining_runnable
    )))
}

fn back(done: &str) -> Response {
    Redirect::to(&link("/console", &[("done", done)])).into_response()
}
