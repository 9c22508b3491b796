//! The page shell every console view shares (head, navigation, who is logged in, logout), and
//! small pieces views repeat: times, ages, state badges, CSRF fields, pagers.

use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, html};

use super::session::ConsoleSession;

/// The console's sections, in navigation order: (path, label).
const SECTIONS: [(&str, &str); 8] = [
    ("/console", "Queues"),
    ("/console/jobs", "Jobs"),
    ("/console/dead", "Dead letters"),
    ("/console/intents", "Intents"),
    ("/console/discrepancies", "Discrepancies"),
    ("/console/reconciliations", "Reconciliation"),
    ("/console/deliveries", "Deliveries"),
    ("/console/audit", "Audit log"),
];

/// One console page.
pub struct Page<'a> {
    /// Who is looking.
    pub session: &'a ConsoleSession,
    /// The `<title>` and `<h1>`.
    pub title: &'a str,
    /// Which section is current (a path from the navigation).
    pub section: &'a str,
    /// Re-read the page every this many seconds while the tab is visible.
    pub refresh_secs: Option<u32>,
}

impl Page<'_> {
    /// The whole document around `body`.
    pub fn render(&self, body: Markup) -> Markup {
        document(
            self.title,
            html! {
                header.top {
                    a.brand href="/console" { "malipo" }
                    nav.sections aria-label="Sections" {
                        @for (path, label) in SECTIONS {
                            @if path == self.section {
                                a href=(path) aria-current="page" { (label) }
                            } @else {
                                a href=(path) { (label) }
                            }
                        }
                    }
                    div.who {
                        span { (self.session.name) " · " (self.session.role.as_str()) }
                        form.inline method="post" action="/console/logout" {
                            (csrf(self.session))
                            button type="submit" { "Log out" }
                        }
                    }
                }
                @match self.refresh_secs {
                    Some(secs) => main id="main" data-refresh=(secs) { h1 { (self.title) } (body) },
                    None => main id="main" { h1 { (self.title) } (body) },
                }
            },
        )
    }
}

/// A bare document (the login page uses it directly).
pub fn document(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · malipo console" }
                // No favicon request (a 404 would be a console error in the browser).
                link rel="icon" href="data:,";
                link rel="stylesheet" href="/console/assets/console.css";
                script src="/console/assets/console.js" defer {}
            }
            body { (body) }
        }
    }
}

/// The hidden CSRF field every form carries.
pub fn csrf(session: &ConsoleSession) -> Markup {
    html! { input type="hidden" name="csrf" value=(session.csrf_token); }
}

/// A UTC time, machine-readable too.
pub fn time(at: DateTime<Utc>) -> Markup {
    html! { time datetime=(at.to_rfc3339()) { (at.format("%Y-%m-%d %H:%M:%S")) } }
}

/// An optional time, or a dash.
pub fn maybe_time(at: Option<DateTime<Utc>>) -> Markup {
    match at {
        Some(at) => time(at),
        None => html! { span.muted { "—" } },
    }
}

/// Seconds as a short age (`45 s`, `12 min`, `3.5 h`, `2.1 d`).
pub fn age(secs: f64) -> String {
    match secs {
        s if s < 90.0 => format!("{s:.0} s"),
        s if s < 90.0 * 60.0 => format!("{:.0} min", s / 60.0),
        s if s < 36.0 * 3600.0 => format!("{:.1} h", s / 3600.0),
        s => format!("{:.1} d", s / 86400.0),
    }
}

/// A state or status as a badge (its class colours it).
pub fn badge(text: &str) -> Markup {
    html! { span class={ "badge " (text) } { (text) } }
}

/// A notice for the outcome of the last action (`?done=…` after a redirect).
pub fn notice(text: Option<&str>) -> Markup {
    html! {
        @if let Some(text) = text {
            p.notice role="status" { (text) }
        }
    }
}

/// `path?query` with `key=value` pairs, empty values left out.
pub fn link(path: &str, pairs: &[(&str, &str)]) -> String {
    let query: Vec<String> = pairs
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(key, value)| format!("{key}={}", encode(value)))
        .collect();
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

/// [`link`] with `cursor` added: the next keyset page.
pub fn with_cursor(path: &str, pairs: &[(&str, &str)], cursor: &str) -> String {
    let mut pairs = pairs.to_vec();
    pairs.push(("cursor", cursor));
    link(path, &pairs)
}

/// Percent-encodes a query value.
pub fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_encode_values_and_skip_empty_ones() {
        assert_eq!(
            link(
                "/console/jobs",
                &[
                    ("queue", "payouts"),
                    ("kind", ""),
                    ("from", "2026-01-01T00:00:00+03:00")
                ]
            ),
            "/console/jobs?queue=payouts&from=2026-01-01T00%3A00%3A00%2B03%3A00"
        );
        assert_eq!(link("/console/jobs", &[("kind", "")]), "/console/jobs");
    }

    #[test]
    fn ages_read_naturally() {
        assert_eq!(age(5.0), "5 s");
        assert_eq!(age(600.0), "10 min");
        assert_eq!(age(7200.0), "2.0 h");
        assert_eq!(age(3.0 * 86400.0), "3.0 d");
    }
}
