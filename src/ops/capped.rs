//! Counting jobs by filter without ever counting millions of rows: the count stops at a cap,
//! and pages say "1,000+" beyond it (the console's previews and listings).

use sqlx::PgPool;

use super::{JobFilter, OpsError};

/// How many jobs match `filter`, counting no further than `cap + 1`: a result above `cap`
/// means "more than `cap`".
pub async fn count_matching(pool: &PgPool, filter: &JobFilter, cap: i64) -> Result<i64, OpsError> {
    Ok(crate::queue::admin::count_capped(pool, filter, cap + 1).await?)
}

/// A capped count as text: `42`, or `1000+` beyond the cap.
pub fn shown(count: i64, cap: i64) -> String {
    if count > cap {
        format!("{cap}+")
    } else {
        count.to_string()
    }
}
