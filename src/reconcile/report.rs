//! Reconciliation reports: items by class, stored, readable as JSON or CSV.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

pub use crate::db::reconciliation::Item;

/// A stored run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The report id.
    pub id: Uuid,
    /// The provider reconciled.
    pub provider: String,
    /// Reconciled from.
    pub window_start: DateTime<Utc>,
    /// Reconciled until.
    pub window_end: DateTime<Utc>,
    /// Items per class.
    pub summary: BTreeMap<String, usize>,
    /// Every finding.
    pub items: Vec<Item>,
}

impl Report {
    /// Counts items by class (every class present, zero included).
    pub fn new(
        provider: &str,
        window_start: DateTime<Utc>,
        window_end: DateTime<Utc>,
        items: Vec<Item>,
    ) -> Self {
        let mut summary: BTreeMap<String, usize> = [
            "matched",
            "missing_internal",
            "missing_at_provider",
            "amount_mismatch",
            "status_mismatch",
            "resolved",
        ]
        .into_iter()
        .map(|c| (c.to_owned(), 0))
        .collect();
        for item in &items {
            *summary.entry(item.class.clone()).or_default() += 1;
        }
        Self {
            id: Uuid::now_v7(),
            provider: provider.to_owned(),
            window_start,
            window_end,
            summary,
            items,
        }
    }

    /// Stores the report and its items.
    pub async fn store(&self, pool: &PgPool) -> Result<(), sqlx::Error> {
        crate::db::reconciliation::store_report(
            pool,
            self.id,
            &self.provider,
            (self.window_start, self.window_end),
            serde_json::to_value(&self.summary).unwrap_or(Value::Null),
            &self.items,
        )
        .await
    }
}

/// Loads report `id`.
pub async fn load(pool: &PgPool, id: Uuid) -> Result<Option<Report>, sqlx::Error> {
    let Some(head) = crate::db::reconciliation::report_head(pool, id).await? else {
        return Ok(None);
    };
    let items = crate::db::reconciliation::report_items(pool, id).await?;
    Ok(Some(Report {
        id,
        provider: head.provider,
        window_start: head.window_start,
        window_end: head.window_end,
        summary: serde_json::from_value(head.summary).unwrap_or_default(),
        items,
    }))
}

/// The items as CSV: `class,kind,subject,detail` (detail as JSON), RFC 4180 quoting.
pub fn to_csv(report: &Report) -> String {
    let quote = |field: &str| format!("\"{}\"", field.replace('"', "\"\""));
    let mut out = String::from("class,kind,subject,detail\n");
    for item in &report.items {
        out.push_str(&format!(
            "{},{},{},{}\n",
            quote(&item.class),
            quote(&item.kind),
            quote(&item.subject),
            quote(&item.detail.to_string())
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn csv_quotes_every_field() {
        let report = Report::new(
            "mpesa",
            Utc::now(),
            Utc::now(),
            vec![Item::new(
                "resolved",
                "stk",
                "a,b",
                json!({"say": "\"hi\""}),
            )],
        );
        assert_eq!(report.summary["resolved"], 1);
        assert_eq!(report.summary["matched"], 0);
        let csv = to_csv(&report);
        assert!(csv.starts_with("class,kind,subject,detail\n\"resolved\",\"stk\",\"a,b\","));
        assert!(csv.contains("\"\"say\"\""), "{csv}");
    }
}
