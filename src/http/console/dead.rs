//! Dead letters: dead jobs by filter, and bulk retry or discard through a confirmation step
//! that first shows how many jobs (capped) the filter matches.

use axum::{
    extract::{Query, State, rejection::QueryRejection},
    response::{IntoResponse, Redirect, Response},
};
use maud::{Markup, html};
use serde::Deserialize;

use super::{
    jobs::{COUNT_CAP, bad_query, filter_form, table},
    layout::{self, Page, csrf, link},
    session::{Action, ConsoleSession},
};
use crate::{
    http::{AppState, problem::ApiError},
    ops::{JobFilter, JobFilterInput, JobState, OpsError, capped, discard, list, retry},
};

const FIELDS: [&str; 5] = ["queue", "kind", "intent_id", "from", "to"];

/// The dead-letter page's query.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadQuery {
    queue: Option<String>,
    kind: Option<String>,
    intent_id: Option<String>,
    from: Option<String>,
    to: Option<String>,
    cursor: Option<String>,
    done: Option<String>,
}

fn dead_filter(value: impl Fn(&str) -> Option<String>) -> Result<JobFilter, OpsError> {
    JobFilter::try_from(JobFilterInput {
        queue: value("queue"),
        kind: value("kind"),
        state: Some(JobState::Dead.as_str().to_owned()),
        intent_id: value("intent_id"),
        from: value("from"),
        to: value("to"),
    })
}

/// `GET /console/dead`.
pub async fn list(
    State(state): State<AppState>,
    session: ConsoleSession,
    query: Result<Query<DeadQuery>, QueryRejection>,
) -> Result<Markup, ApiError> {
    let Query(query) = query.map_err(bad_query)?;
    let pairs: Vec<(&'static str, String)> = vec![
        ("queue", query.queue.clone().unwrap_or_default()),
        ("kind", query.kind.clone().unwrap_or_default()),
        ("intent_id", query.intent_id.clone().unwrap_or_default()),
        ("from", query.from.clone().unwrap_or_default()),
        ("to", query.to.clone().unwrap_or_default()),
    ];
    let value = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.trim().is_empty())
    };
    let filter = dead_filter(value)?;
    let page = list::list_jobs(&state.pool, &filter, query.cursor.as_deref(), 50).await?;
    let count = capped::count_matching(&state.pool, &filter, COUNT_CAP).await?;
    let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let body = html! {
        (layout::notice(query.done.as_deref()))
        (filter_form("/console/dead", &pairs, false))
        p { strong { (capped::shown(count, COUNT_CAP)) } " dead jobs match" }
        @if session.can_act() && count > 0 {
            div.actions {
                @for (verb, label) in [("retry", "Retry all matching…"), ("discard", "Discard all matching…")] {
                    form.inline method="post" action="/console/dead/preview" {
                        (csrf(&session))
                        input type="hidden" name="action" value=(verb);
                        @for (name, value) in &pairs { input type="hidden" name=(name) value=(value); }
                        button type="submit" { (label) }
                    }
                }
            }
        }
        (table(&page.jobs))
        div.pager {
            @if let Some(next) = &page.next_cursor {
                a href=(layout::with_cursor("/console/dead", &borrowed, next)) rel="next" { "Older →" }
            }
        }
    };
    Ok(Page {
        session: &session,
        title: "Dead letters",
        section: "/console/dead",
        refresh_secs: query.cursor.is_none().then_some(10),
    }
    .render(body))
}

#[derive(Clone, Copy, PartialEq)]
enum Bulk {
    Retry,
    Discard,
}

fn bulk(action: &Action) -> Result<Bulk, ApiError> {
    match action.field("action") {
        Some("retry") => Ok(Bulk::Retry),
        Some("discard") => Ok(Bulk::Discard),
        other => Err(ApiError::BadRequest(format!(
            "action must be retry or discard, got {other:?}"
        ))),
    }
}

/// `POST /console/dead/preview`: how many dead jobs the filter matches, and a confirmation.
pub async fn preview(State(state): State<AppState>, action: Action) -> Result<Markup, ApiError> {
    let verb = bulk(&action)?;
    let filter = dead_filter(|name| action.field(name).map(str::to_owned))?;
    if verb == Bulk::Discard
        && filter.queue.is_none()
        && filter.kind.is_none()
        && filter.intent_id.is_none()
        && filter.from.is_none()
        && filter.to.is_none()
    {
        return Err(ApiError::BadRequest(
            "discarding every dead job is refused: choose a queue, kind, intent or time range"
                .to_owned(),
        ));
    }
    let count = capped::count_matching(&state.pool, &filter, COUNT_CAP).await?;
    let session = &action.0.session;
    let (word, button_class) = match verb {
        Bulk::Retry => ("retry", "primary"),
        Bulk::Discard => ("discard", "danger"),
    };
    let described: Vec<String> = FIELDS
        .iter()
        .filter_map(|name| action.field(name).map(|v| format!("{name} = {v}")))
        .collect();
    let body = html! {
        p.notice role="alert" {
            "This will " strong { (word) } " " strong { (capped::shown(count, COUNT_CAP)) } " dead jobs"
            @if described.is_empty() { " in every queue." } @else { " where " (described.join(", ")) "." }
            " Jobs that die before you confirm are included."
        }
        div.actions {
            form.inline method="post" action="/console/dead/apply" {
                (csrf(session))
                input type="hidden" name="action" value=(word);
                input type="hidden" name="confirm" value="yes";
                @for name in FIELDS {
                    @if let Some(value) = action.field(name) { input type="hidden" name=(name) value=(value); }
                }
                button class=(button_class) type="submit" { "Confirm: " (word) " " (capped::shown(count, COUNT_CAP)) " jobs" }
            }
            a href="/console/dead" { "Cancel" }
        }
    };
    Ok(Page {
        session,
        title: "Confirm bulk action",
        section: "/console/dead",
        refresh_secs: None,
    }
    .render(body))
}

/// `POST /console/dead/apply`: the confirmed bulk action, audited as `/ops` does.
pub async fn apply(State(state): State<AppState>, action: Action) -> Result<Response, ApiError> {
    let verb = bulk(&action)?;
    if action.field("confirm") != Some("yes") {
        return Err(ApiError::BadRequest(
            "a bulk action needs its confirmation step (confirm=yes)".to_owned(),
        ));
    }
    let filter = dead_filter(|name| action.field(name).map(str::to_owned))?;
    let actor = action.actor();
    let outcome = match verb {
        Bulk::Retry => retry::retry_dead(&state.pool, &actor, &filter, false).await?,
        Bulk::Discard => discard::discard_matching(&state.pool, &actor, &filter, false).await?,
    };
    let done = match verb {
        Bulk::Retry => format!("Retried {} dead jobs; they run now.", outcome.affected),
        Bulk::Discard => format!("Discarded {} dead jobs.", outcome.affected),
    };
    Ok(Redirect::to(&link("/console/dead", &[("done", &done)])).into_response())
}
