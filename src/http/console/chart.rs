//! A small throughput chart drawn on the server as SVG: one bar per minute of the last hour.
//! Presentation attributes only (no `style`), so the page needs no `unsafe-inline`.

use chrono::{DateTime, Duration, DurationRound, Utc};
use maud::{Markup, html};

const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 90.0;
const MINUTES: i64 = 60;

/// Bars for `points` (minute, count) over the hour ending at `now`. Counts above `cap` were
/// not counted further: their bars are drawn full and say "at least".
pub fn per_minute(points: &[(DateTime<Utc>, i64)], cap: i64, now: DateTime<Utc>) -> Markup {
    let end = now.duration_trunc(Duration::minutes(1)).unwrap_or(now);
    let start = end - Duration::minutes(MINUTES - 1);
    let mut counts = [0i64; MINUTES as usize];
    for (minute, count) in points {
        let slot = (*minute - start).num_minutes();
        if (0..MINUTES).contains(&slot) {
            counts[slot as usize] += count;
        }
    }
    let capped = counts.iter().any(|&n| n > cap);
    let counts = counts.map(|n| n.min(cap + 1));
    let peak = counts.iter().copied().max().unwrap_or(0).max(1);
    let total: i64 = counts.iter().sum();
    let bar = WIDTH / MINUTES as f64;
    let amount = |n: i64| {
        if n > cap {
            format!("{cap}+")
        } else {
            n.to_string()
        }
    };
    let summary = format!(
        "{}{total} jobs done in the last hour, at most {} in a minute",
        if capped { "at least " } else { "" },
        amount(peak)
    );
    html! {
        svg.chart viewBox={ "0 0 " (WIDTH) " " (HEIGHT + 14.0) } role="img" aria-label=(summary)
            xmlns="http://www.w3.org/2000/svg" {
            title { (summary) }
            line x1="0" y1=(HEIGHT) x2=(WIDTH) y2=(HEIGHT) stroke="#9aa5b1" stroke-width="1" {}
            @for (i, count) in counts.iter().enumerate() {
                @if *count > 0 {
                    @let h = (*count as f64 / peak as f64) * (HEIGHT - 4.0);
                    rect x=(format!("{:.1}", i as f64 * bar + 0.5)) y=(format!("{:.1}", HEIGHT - h))
                        width=(format!("{:.1}", bar - 1.0)) height=(format!("{h:.1}"))
                        fill=(if *count > cap { "#8a5a00" } else { "#0b5cad" }) {
                        title { (amount(*count)) " at " ((start + Duration::minutes(i as i64)).format("%H:%M")) " UTC" }
                    }
                }
            }
            text x="0" y=(HEIGHT + 12.0) font-size="10" fill="#5a6472" { "−60 min" }
            text x=(WIDTH) y=(HEIGHT + 12.0) font-size="10" fill="#5a6472" text-anchor="end" {
                "now · peak " (amount(peak)) "/min"
            }
        }
        p.muted { (summary) "." }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_bar_per_busy_minute_scaled_to_the_peak() {
        let now = Utc::now();
        let minute = now.duration_trunc(Duration::minutes(1)).expect("minute");
        let points = [
            (minute, 10),
            (minute - Duration::minutes(5), 5),
            (minute - Duration::hours(3), 99),
        ];
        let svg = per_minute(&points, 1000, now).into_string();
        assert_eq!(svg.matches("<rect").count(), 2, "{svg}");
        assert!(
            svg.contains("15 jobs done in the last hour, at most 10 in a minute"),
            "{svg}"
        );
        assert!(!svg.contains("style"), "no style attributes under the CSP");
    }

    #[test]
    fn a_capped_minute_says_at_least() {
        let now = Utc::now();
        let minute = now.duration_trunc(Duration::minutes(1)).expect("minute");
        let svg = per_minute(
            &[(minute, 1001), (minute - Duration::minutes(1), 3)],
            1000,
            now,
        )
        .into_string();
        assert!(svg.contains("at least 1004 jobs"), "{svg}");
        assert!(svg.contains("1000+ at"), "{svg}");
    }
}
